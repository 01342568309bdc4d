"""The shared cache under real concurrency: separate processes, real locks, real kills."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xtdf.harness.cache import CachedFailure, SharedCache, cache_key

WORKER = Path(__file__).with_name("race_worker.py")


def _spawn(root: Path, key: str, log: Path, mode: str = "normal", gate: Path | None = None):
    args = [sys.executable, str(WORKER), str(root), key, str(log), mode]
    if gate is not None:
        args.append(str(gate))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_eight_processes_racing_on_one_key_encrypt_once(tmp_path: Path) -> None:
    root, log, gate = tmp_path / "cache", tmp_path / "productions.log", tmp_path / "go"
    key = cache_key(sdk="py", pt="x")
    procs = [_spawn(root, key, log, gate=gate) for _ in range(8)]
    time.sleep(0.5)  # let all eight start and block on the gate
    gate.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert len(log.read_text().splitlines()) == 1, "exactly one process must produce"
    entries = {out.splitlines()[0] for out, _ in outputs}
    assert len(entries) == 1
    digest = hashlib.sha256(Path(entries.pop()).read_bytes()).hexdigest()
    assert digest == (root / key[:2] / f"{key}.bin.sha256").read_text()
    counts = [tuple(map(int, out.splitlines()[1].split())) for out, _ in outputs]
    assert sum(m for _, m, _ in counts) == 1
    assert sum(h for h, _, _ in counts) == 7
    assert sum(w for _, _, w in counts) >= 1, "somebody must have waited on the lock"


def test_sigkill_mid_write_never_serves_partial_entry(tmp_path: Path) -> None:
    root, log = tmp_path / "cache", tmp_path / "productions.log"
    key = cache_key(sdk="py", pt="killed")
    victim = _spawn(root, key, log, mode="stall")
    ready = Path(str(log) + ".ready")
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline, "producer never started writing"
        time.sleep(0.01)
    entry = root / key[:2] / f"{key}.bin"
    assert not entry.exists(), "nothing may be visible while the producer writes"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    cache = SharedCache(root, run_id="later")
    assert not entry.exists() and not entry.with_name(entry.name + ".sha256").exists()
    follower = _spawn(root, key, log)
    _out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert len(log.read_text().splitlines()) == 2, "the next caller regenerates"
    assert entry.stat().st_size == 1 << 20
    assert cache.get_or_create(key, _never, suffix=".bin") == entry


def _never(_: Path) -> None:
    raise AssertionError("a valid entry must not be produced again")


def test_corrupted_entry_is_detected_and_regenerated(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path, run_id="r")
    calls: list[int] = []

    def produce(p: Path) -> None:
        calls.append(1)
        p.write_bytes(b"ciphertext" * 100)

    entry = cache.get_or_create("ab" * 32, produce)
    raw = bytearray(entry.read_bytes())
    raw[5] ^= 0xFF
    entry.write_bytes(bytes(raw))
    again = cache.get_or_create("ab" * 32, produce)
    assert again == entry and again.read_bytes() == b"ciphertext" * 100
    assert len(calls) == 2 and cache.stats.corrupt == 1


def test_failure_is_replayed_within_a_run_and_retried_in_the_next(tmp_path: Path) -> None:
    calls: list[int] = []

    def failing(p: Path) -> None:
        calls.append(1)
        p.write_bytes(b"half")
        raise RuntimeError("sdk exploded")

    first = SharedCache(tmp_path, run_id="run-1")
    key = "cd" * 32
    with pytest.raises(RuntimeError, match="sdk exploded"):
        first.get_or_create(key, failing)
    assert not first.entry_path(key).exists(), "a failure publishes nothing"
    other_worker = SharedCache(tmp_path, run_id="run-1")
    with pytest.raises(CachedFailure, match="sdk exploded"):
        other_worker.get_or_create(key, failing)
    assert len(calls) == 1
    next_run = SharedCache(tmp_path, run_id="run-2")
    assert next_run.get_or_create(key, lambda p: p.write_bytes(b"ok")).read_bytes() == b"ok"


def test_disabled_cache_produces_every_time_in_private_dir(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c", enabled=False)
    calls: list[int] = []

    def produce(p: Path) -> None:
        calls.append(1)
        p.write_bytes(b"x")

    a = cache.get_or_create("ef" * 32, produce, private_dir=tmp_path / "w1")
    b = cache.get_or_create("ef" * 32, produce, private_dir=tmp_path / "w1")
    assert a.read_bytes() == b.read_bytes() == b"x"
    assert len(calls) == 2 and cache.stats.produced == 2


def test_json_handoff_and_key_is_order_independent(tmp_path: Path) -> None:
    assert cache_key(a=1, b=[1, 2]) == cache_key(b=[1, 2], a=1)
    assert cache_key(a=1) != cache_key(a=2)
    cache = SharedCache(tmp_path)
    made = cache.get_or_create_json("01" * 32, lambda: {"ns": "example.com", "ids": [1]})
    again = SharedCache(tmp_path).get_or_create_json("01" * 32, _boom)
    assert made == again == {"ns": "example.com", "ids": [1]}


def _boom() -> dict:
    raise AssertionError("handoff must not recompute")
