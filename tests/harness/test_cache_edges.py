"""The shared cache's edge cases: obstructions, leftovers of killed processes, and what a
caller reads being exactly what was checked."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xtdf.harness import cache as cache_mod
from xtdf.harness.cache import SharedCache, cache_key

WORKER = Path(__file__).with_name("race_worker.py")
GOOD = b"ciphertext" * 100


def _producer(calls: list[int], data: bytes = GOOD):
    def produce(p: Path) -> None:
        calls.append(1)
        p.write_bytes(data)

    return produce


@pytest.mark.parametrize("where", ["entry", "entry+digest", "digest", "failure"])
def test_directory_in_the_way_is_cleared_and_the_entry_regenerated(tmp_path: Path, where: str):
    cache = SharedCache(tmp_path, run_id="r")
    key = "ab" * 32
    entry = cache.entry_path(key, ".tdf")
    digest = entry.with_name(entry.name + ".sha256")
    failure = entry.with_name(key + ".failed")
    if where.startswith("entry"):
        (entry / "inner").mkdir(parents=True)
    if where == "entry+digest":
        digest.write_text(hashlib.sha256(GOOD).hexdigest())
    if where == "digest":
        (digest / "inner").mkdir(parents=True)
    if where == "failure":
        (failure / "inner").mkdir(parents=True)
    calls: list[int] = []
    assert cache.get_or_create(key, _producer(calls), suffix=".tdf").read_bytes() == GOOD
    assert entry.is_file() and digest.is_file() and not failure.exists()
    assert len(calls) == 1
    assert cache.get_or_create_bytes(key, _producer(calls), suffix=".tdf") == GOOD
    assert len(calls) == 1, "the regenerated entry is a hit from then on"


def _spawn_stalled(root: Path, key: str, log: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(root), key, str(log), "stall"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = Path(str(log) + ".ready")
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "producer never started writing"
        time.sleep(0.01)
    ready.unlink()
    return proc


def _temps(root: Path, key: str) -> list[Path]:
    return sorted((root / key[:2]).glob(f".{key}*.part"))


def test_temporary_files_of_killed_producers_are_removed(tmp_path: Path) -> None:
    root, log = tmp_path / "cache", tmp_path / "productions.log"
    key = cache_key(sdk="py", pt="killed-temp")
    victim = _spawn_stalled(root, key, log)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert len(_temps(root, key)) == 1, "the killed producer left its half-written file"
    cache = SharedCache(root, run_id="later")  # a new cache sweeps what the dead left
    assert _temps(root, key) == [] and cache.stats.stale_removed == 1


def test_temporary_file_of_a_live_producer_is_left_alone(tmp_path: Path) -> None:
    root, log = tmp_path / "cache", tmp_path / "productions.log"
    key = cache_key(sdk="py", pt="live-temp")
    live = _spawn_stalled(root, key, log)
    try:
        before = _temps(root, key)
        assert len(before) == 1
        cache = SharedCache(root, run_id="other")
        assert cache.sweep() == 0 and _temps(root, key) == before
    finally:
        os.kill(live.pid, signal.SIGKILL)
        live.wait(timeout=10)
    assert SharedCache(root).stats.stale_removed == 1


def test_snapshots_of_exited_processes_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from xtdf.harness.cache import SharedCache\n"
        "c = SharedCache(sys.argv[1])\n"
        "p = c.get_or_create_copy('cd' * 32, lambda t: t.write_bytes(b'x'), suffix='.tdf')\n"
        "print(p)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    gone = Path(out.stdout.strip())
    assert gone.exists(), "the process exited without close(): its snapshot stayed"
    mine = SharedCache(tmp_path)  # sweeps on start
    assert not gone.parent.exists() and mine.stats.stale_removed == 1
    live = mine.get_or_create_copy("cd" * 32, _never, suffix=".tdf")
    assert SharedCache(tmp_path).sweep() == 0 and live.read_bytes() == b"x"
    mine.close()
    assert not live.exists() and not live.parent.exists()


def _never(_: Path) -> None:
    raise AssertionError("a valid entry must not be produced again")


@pytest.mark.parametrize("size", [1000, 3 * 1024 * 1024])
def test_copy_is_what_was_checked_whatever_happens_to_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """Replaced or written in place after the check, the entry cannot reach the caller."""
    monkeypatch.setattr(cache_mod, "COPY_LIMIT", 1024 * 1024)  # the larger one is linked
    data = os.urandom(size)
    cache = SharedCache(tmp_path / "c", run_id="r")
    calls: list[int] = []
    key = "ef" * 32
    first = cache.get_or_create_copy(key, _producer(calls, data), suffix=".tdf")
    entry = cache.entry_path(key, ".tdf")
    assert first != entry and first.read_bytes() == data
    other = SharedCache(tmp_path / "c", run_id="r")
    mine = other.get_or_create_copy(key, _never, suffix=".tdf")  # a hit: a snapshot of its own
    assert mine != first and mine.read_bytes() == data
    # another process re-publishes garbage over the entry
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"garbage" * 10)
    os.replace(garbage, entry)
    assert first.read_bytes() == data and mine.read_bytes() == data
    # this process keeps its snapshot (checked again on every call) ...
    assert cache.get_or_create_copy(key, _never, suffix=".tdf") == first
    # ... and a process without one finds the damage and makes the entry anew
    third = SharedCache(tmp_path / "c", run_id="r")
    again = third.get_or_create_copy(key, _producer(calls, data), suffix=".tdf")
    assert again.read_bytes() == data and len(calls) == 2 and third.stats.corrupt == 1
    # a snapshot damaged by its own process is noticed too, and made again from the entry
    first.write_bytes(b"scribbled")
    assert cache.get_or_create_copy(key, _never, suffix=".tdf").read_bytes() == data
    if size <= 1024 * 1024:  # a real copy: not even writes into the entry's file reach it
        with open(entry, "r+b") as fh:
            fh.write(b"XXXX")
        assert again.read_bytes() == data


def test_bytes_are_the_ones_hashed_while_the_entry_keeps_changing(tmp_path: Path) -> None:
    """A thread keeps swapping damaged and good content into the entry; every value handed
    over is the good one (checking a path and then reading it would hand over damage)."""
    cache = SharedCache(tmp_path, run_id="r")
    key = "12" * 32
    calls: list[int] = []
    assert cache.get_or_create_bytes(key, _producer(calls)) == GOOD
    entry = cache.entry_path(key)
    stop = threading.Event()

    def flip() -> None:
        for i in itertools.count():
            if stop.is_set():
                return
            tmp = tmp_path / f"flip{i % 2}"
            tmp.write_bytes(b"damaged" if i % 2 else GOOD)
            os.replace(tmp, entry)

    flipper = threading.Thread(target=flip)
    flipper.start()
    got: list[bytes] = []
    # at least 300 reads, and on until one of them met the damage: on a loaded machine the
    # flipping thread may not be scheduled at all during a short burst of reads
    deadline = time.monotonic() + 30
    try:
        while len(got) < 300 or (cache.stats.corrupt == 0 and time.monotonic() < deadline):
            got.append(cache.get_or_create_bytes(key, _producer(calls)))
    finally:
        stop.set()
        flipper.join()
    assert set(got) == {GOOD}
    assert cache.stats.corrupt > 0, "the damage was seen (and regenerated), never handed over"


def test_disabled_cache_hands_over_its_private_product(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c", enabled=False)
    calls: list[int] = []
    path = cache.get_or_create_copy("56" * 32, _producer(calls), private_dir=tmp_path / "w")
    assert path == tmp_path / "w" / ("56" * 32) and path.read_bytes() == GOOD
    assert cache.get_or_create_bytes("56" * 32, _producer(calls)) == GOOD
    assert len(calls) == 2 and not (tmp_path / "c" / cache_mod.PRIVATE).exists()
