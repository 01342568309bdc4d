"""The shared cache under the conditions the matrix's workers meet: one worker waiting for
another's product, counters that add up over many events, snapshots reused or remade,
what dead processes leave behind, and the directory it must not touch."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from xtdf.harness import cache as cache_mod
from xtdf.harness.cache import CachedFailure, SharedCache, cache_key


def _writer(data: bytes, calls: list[int] | None = None, pause: float = 0.0):
    def produce(tmp: Path) -> None:
        if calls is not None:
            calls.append(1)
        time.sleep(pause)
        tmp.write_bytes(data)

    return produce


def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("form", ["path", "bytes"])
def test_an_entry_made_while_waiting_for_its_lock_is_taken_not_made_again(
    tmp_path: Path, form: str
) -> None:
    maker, waiter = SharedCache(tmp_path / "c"), SharedCache(tmp_path / "c")
    key = cache_key(n=1)
    for _ in range(2):  # a miss and a hit before: the counts below add to them
        waiter.get_or_create(cache_key(n=0), _writer(b"earlier"))
    started, go = threading.Event(), threading.Event()

    def slow(tmp: Path) -> None:
        started.set()
        assert go.wait(10)
        tmp.write_bytes(b"made once")

    made = threading.Thread(target=maker.get_or_create, args=(key, slow))
    made.start()
    assert started.wait(10)
    got: list[object] = []
    again: list[int] = []

    def wait() -> None:
        call = waiter.get_or_create if form == "path" else waiter.get_or_create_bytes
        got.append(call(key, _writer(b"made twice", again)))

    waiting = threading.Thread(target=wait)
    waiting.start()
    _until(lambda: waiter.stats.waits == 1)  # blocked on the maker's lock
    go.set()
    made.join(10)
    waiting.join(10)
    expected = maker.entry_path(key) if form == "path" else b"made once"
    assert got == [expected] and again == []
    assert (waiter.stats.hits, waiter.stats.misses, waiter.stats.produced) == (2, 1, 1)
    assert waiter.stats.wait_seconds > 0


def test_a_hit_never_waits_for_a_producers_lock(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    key = cache_key(n=2)
    path = cache.get_or_create(key, _writer(b"there"))
    held = FileLock(str(cache._base(key)) + ".lock")
    held.acquire()
    try:
        got: list[Path] = []
        hit = threading.Thread(target=lambda: got.append(cache.get_or_create(key, _writer(b"x"))))
        hit.start()
        hit.join(5)
        assert got == [path] and cache.stats.waits == 0
    finally:
        held.release()
        hit.join(10)


def test_counters_add_up_over_many_events(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c", run_id="r")
    for n in range(2):  # two entries whose digests no longer match: two corrupt
        key = cache_key(corrupt=n)
        cache.get_or_create(key, _writer(b"good"))
        cache.entry_path(key).write_bytes(b"evil")
        cache.get_or_create(key, _writer(b"good"))
    assert cache.stats.corrupt == 2

    def fail(tmp: Path) -> None:
        raise ValueError("no such kas")

    for n in range(2):  # two failures, each replayed twice
        key = cache_key(failing=n)
        with pytest.raises(ValueError):
            cache.get_or_create(key, fail)
        for _ in range(2):
            with pytest.raises(CachedFailure, match="ValueError: no such kas"):
                cache.get_or_create(key, fail)
    assert (cache.stats.failures, cache.stats.failures_replayed) == (2, 4)
    cache.close()


def test_production_time_is_summed(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    for n in range(2):
        cache.get_or_create(cache_key(slow=n), _writer(b"x", pause=0.05))
    assert 0.1 <= cache.stats.produce_seconds < 10


def test_an_uncounted_reuse_after_counted_hits_counts_one(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    cache.get_or_create("k", _writer(b"ct"))
    cache.get_or_create("k", _writer(b"ct"))  # a counted hit first
    cache.get_or_create("pt", _writer(b"pt"), counted=False)
    cache.get_or_create("pt", _writer(b"pt"), counted=False)
    assert (cache.stats.hits, cache.stats.other_made, cache.stats.other_reused) == (1, 1, 1)


def test_a_disabled_cache_makes_the_private_directory_it_is_given(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c", enabled=False)
    deep = tmp_path / "not" / "yet" / "there"
    assert cache.get_or_create("k", _writer(b"a"), private_dir=deep) == deep / "k"


def _dead_temp(cache: SharedCache, key: str, tag: str) -> Path:
    """What a producer killed mid-write leaves: ``.<key>.<random>.part`` beside the entry."""
    temp = cache.entry_path(key).with_name(f".{key}.{tag}.part")
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(b"half")
    return temp


def test_dead_producers_temporaries_go_before_producing_and_are_counted(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    swept = _dead_temp(cache, cache_key(n=1), "a")
    assert cache.sweep() == 1 and not swept.exists()
    key = cache_key(n=2)
    temps = [_dead_temp(cache, key, tag) for tag in ("b", "c")]
    cache.get_or_create(key, _writer(b"x"))
    assert not any(t.exists() for t in temps)
    assert cache.stats.stale_removed == 3  # one by the sweep, two before producing


def test_sweep_counts_every_dead_owner_and_skips_only_its_own(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    cache.get_or_create_copy("k", _writer(b"x"))  # this process's snapshot directory
    mine = cache._private
    private = tmp_path / "c" / cache_mod.PRIVATE
    for name in ("~dead-1", "~dead-2"):  # sort after this process's "<pid>-<hex>"
        (private / name).mkdir()
        (private / name / "snap").write_bytes(b"old")
    (private / "~dead-3.lock").write_bytes(b"")  # died between its lock and its directory
    assert cache.sweep() == 3
    assert sorted(os.listdir(private)) == sorted([mine.name, mine.name + ".lock"])
    assert cache.stats.stale_removed == 3


def test_only_two_hex_digit_directories_hold_entries(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    key = cache_key(n=3)
    cache.get_or_create(key, _writer(b"x"))
    root = tmp_path / "c"
    (root / "zz").mkdir()
    stranger = root / "zz" / f".{key}.x.part"
    stranger.write_bytes(b"not ours")
    (root / "ab").write_bytes(b"a file with an entry directory's name")
    assert cache.sweep() == 0
    cache.clear()
    assert stranger.exists() and (root / "ab").is_file()
    assert not cache.entry_path(key).exists()
    lock = Path(str(cache._base(key)) + ".lock")
    assert lock.exists()  # another process may hold it: clear leaves locks alone


def test_close_is_safe_when_nothing_or_everything_is_gone(tmp_path: Path) -> None:
    SharedCache(tmp_path / "fresh").close()  # never used
    cache = SharedCache(tmp_path / "c")
    cache.get_or_create_copy("k", _writer(b"x"))
    private = cache._private
    for name in os.listdir(private):
        os.unlink(private / name)
    os.rmdir(private)
    os.unlink(str(private) + ".lock")
    cache.close()
    assert cache._private is None


def test_a_snapshot_is_reused_while_it_holds_the_entrys_bytes(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    first = cache.get_or_create_copy("k", _writer(b"x"))
    inode = first.stat().st_ino
    for _ in range(2):
        assert cache.get_or_create_copy("k", _writer(b"x")) == first
    assert first.stat().st_ino == inode  # not rewritten
    first.unlink()  # gone (a test removed it): a new one, no error
    again = cache.get_or_create_copy("k", _writer(b"x"))
    assert again.read_bytes() == b"x"


def test_an_entry_missing_behind_its_digest_is_made_again(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    key = cache_key(n=4)
    cache.get_or_create(key, _writer(b"x"))
    cache.entry_path(key).unlink()  # the digest is still recorded
    calls: list[int] = []
    copy = cache.get_or_create_copy(key, _writer(b"y", calls))
    assert copy.read_bytes() == b"y" and calls == [1]
    assert not [n for n in os.listdir(cache._private) if n.endswith(".part")]


@pytest.mark.parametrize(("size", "linked"), [(16, False), (17, True)])
def test_entries_up_to_the_copy_limit_are_copied_and_larger_ones_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, linked: bool
) -> None:
    monkeypatch.setattr(cache_mod, "COPY_LIMIT", 16)
    monkeypatch.setattr(cache_mod, "_reflink", lambda src, dst: False)
    cache = SharedCache(tmp_path / "c")
    entry = cache.get_or_create("k", _writer(b"x" * size))
    copy = cache.get_or_create_copy("k", _writer(b"x" * size))
    assert copy.read_bytes() == b"x" * size
    assert (copy.stat().st_ino == entry.stat().st_ino) is linked


def test_a_failure_record_of_another_run_is_not_replayed(tmp_path: Path) -> None:
    key = cache_key(n=5)
    old = SharedCache(tmp_path / "c", run_id="old")
    record = old._failure_file(key)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"run_id": "old", "message": "then"}))
    new = SharedCache(tmp_path / "c", run_id="new")
    assert new.get_or_create_bytes(key, _writer(b"now")) == b"now"
    assert not record.exists()  # a success removes the record
