"""The shared cache's counters, which the suite's headline figure (encryptions per
distinct key) is made of: each kind of call counted exactly once and in the right column,
uncounted entries kept apart, and the snapshot directory and stats export."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xtdf.harness.cache import CachedFailure, CacheStats, SharedCache, cache_key


def _writer(data: bytes, calls: list[int]):
    def produce(tmp: Path) -> None:
        calls.append(1)
        tmp.write_bytes(data)

    return produce


def test_a_miss_then_hits_in_every_form(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c", run_id="r")
    calls: list[int] = []
    key = cache_key(sdk="py", n=1)
    path = cache.get_or_create(key, _writer(b"one", calls), suffix=".tdf")
    assert path.read_bytes() == b"one" and path.name == key + ".tdf"
    assert (cache.stats.misses, cache.stats.hits, cache.stats.produced) == (1, 0, 1)
    assert cache.get_or_create_bytes(key, _writer(b"x", calls), suffix=".tdf") == b"one"
    copy = cache.get_or_create_copy(key, _writer(b"x", calls), suffix=".tdf")
    assert copy.read_bytes() == b"one" and copy != path
    assert cache.get_or_create(key, _writer(b"x", calls), suffix=".tdf") == path
    assert (cache.stats.misses, cache.stats.hits, cache.stats.produced) == (1, 3, 1)
    assert calls == [1] and cache.stats.keys == {key}
    assert (cache.stats.other_made, cache.stats.other_reused, cache.stats.waits) == (0, 0, 0)
    cache.close()


def test_uncounted_entries_are_counted_apart(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    calls: list[int] = []
    cache.get_or_create("k1", _writer(b"ct", calls))  # a ciphertext: counted
    for _ in range(3):
        cache.get_or_create("pt", _writer(b"pt", calls), counted=False)
    cache.get_or_create_bytes("pt2", _writer(b"p2", calls), counted=False)
    assert (cache.stats.misses, cache.stats.hits, cache.stats.produced) == (1, 0, 1)
    assert (cache.stats.other_made, cache.stats.other_reused) == (2, 2)
    assert cache.stats.keys == {"k1"}
    cache.get_or_create("k1", _writer(b"ct", calls))
    assert (cache.stats.hits, cache.stats.other_reused) == (1, 2)


def test_json_handoffs_are_not_encryptions(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    made: list[int] = []

    def value() -> dict:
        made.append(1)
        return {"b": 2, "a": [1]}

    assert cache.get_or_create_json("j", value) == {"a": [1], "b": 2}
    assert cache.get_or_create_json("j", value) == {"a": [1], "b": 2}
    assert made == [1]
    entry = cache.entry_path("j", ".json")
    assert entry.read_text() == '{"a": [1], "b": 2}'  # sorted keys: one spelling per value
    assert (cache.stats.produced, cache.stats.hits, cache.stats.misses) == (0, 0, 0)
    assert (cache.stats.other_made, cache.stats.other_reused) == (1, 1)
    assert cache.stats.keys == set()


def test_a_disabled_cache_produces_every_time_into_the_private_dir(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c", enabled=False)
    calls: list[int] = []
    private = tmp_path / "mine"
    first = cache.get_or_create("k", _writer(b"a", calls), suffix=".tdf", private_dir=private)
    assert first == private / "k.tdf" and first.read_bytes() == b"a"
    assert cache.get_or_create_bytes("k", _writer(b"b", calls)) == b"b"
    assert (tmp_path / "c" / "k").read_bytes() == b"b"  # no private dir given: the root
    assert cache.get_or_create_copy("k", _writer(b"c", calls), private_dir=private) == private / "k"
    assert len(calls) == 3 and cache.stats.misses == 3 and cache.stats.hits == 0
    assert cache.stats.produced == 3 and cache.stats.keys == {"k"}


def test_a_failure_is_counted_recorded_and_replayed_in_its_run_only(tmp_path: Path) -> None:
    root = tmp_path / "c"
    cache = SharedCache(root, run_id="run-1")

    def boom(tmp: Path) -> None:
        raise ValueError("sdk refused the option")

    with pytest.raises(ValueError, match="sdk refused"):
        cache.get_or_create("k", boom)
    assert (cache.stats.failures, cache.stats.produced, cache.stats.misses) == (1, 1, 1)
    record = json.loads(cache._failure_file("k").read_text())
    assert record == {"run_id": "run-1", "message": "ValueError: sdk refused the option"}
    with pytest.raises(CachedFailure, match=r"^ValueError: sdk refused the option$"):
        cache.get_or_create("k", boom)
    assert cache.stats.failures_replayed == 1 and cache.stats.misses == 1
    later = SharedCache(root, run_id="run-2")  # another run tries again, and succeeds
    calls: list[int] = []
    assert later.get_or_create_bytes("k", _writer(b"ok", calls)) == b"ok"
    assert not cache._failure_file("k").exists() and later.stats.failures_replayed == 0
    odd = SharedCache(root, run_id="run-3")
    odd._failure_file("z").write_text("[1]")  # not a record: ignored
    assert odd.get_or_create_bytes("z", _writer(b"z", calls)) == b"z"
    odd._failure_file("y").write_text(json.dumps({"run_id": "run-3"}))
    with pytest.raises(CachedFailure, match=r"^earlier encryption failed$"):
        odd.get_or_create("y", _writer(b"y", calls))


def test_a_damaged_entry_is_counted_and_made_again(tmp_path: Path) -> None:
    cache = SharedCache(tmp_path / "c")
    calls: list[int] = []
    path = cache.get_or_create("k", _writer(b"good", calls))
    path.write_bytes(b"evil")
    assert cache.get_or_create_bytes("k", _writer(b"good", calls)) == b"good"
    assert cache.stats.corrupt == 1 and len(calls) == 2 and cache.stats.misses == 2


def test_stats_export_and_key_canonical_form() -> None:
    stats = CacheStats(hits=2, keys={"b", "a"})
    d = stats.as_dict()
    assert d["keys"] == ["a", "b"] and d["hits"] == 2 and d["other_made"] == 0
    assert set(d) >= {"misses", "waits", "produced", "failures", "corrupt", "stale_removed"}
    assert json.loads(json.dumps(d))["keys"] == ["a", "b"]
    assert cache_key(a=1, b={"y": 2, "x": 1}) == cache_key(b={"x": 1, "y": 2}, a=1)
    import hashlib

    want = hashlib.sha256(b'{"a":1,"b":{"x":1,"y":2},"p":"/t"}').hexdigest()
    assert cache_key(a=1, b={"x": 1, "y": 2}, p=Path("/t")) == want  # compact, str() for others


def test_the_cache_root_and_snapshot_dir(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "er" / "cache"
    cache = SharedCache(root)
    assert root.is_dir() and cache.run_id == ""
    calls: list[int] = []
    copy = cache.get_or_create_copy("k", _writer(b"a", calls))
    private = copy.parent
    assert private.parent == root / "private"
    assert private.name.startswith(f"{os.getpid()}-") and Path(str(private) + ".lock").exists()
    cache.close()
    assert not private.exists() and not Path(str(private) + ".lock").exists()
    cache.close()  # twice is fine
    with SharedCache(root) as again:
        assert again.get_or_create_copy("k", _writer(b"a", calls)).read_bytes() == b"a"
    assert calls == [1]


def test_sweep_counts_what_it_removes(tmp_path: Path) -> None:
    root = tmp_path / "c"
    cache = SharedCache(root)
    calls: list[int] = []
    key = "ab" + "0" * 62
    cache.get_or_create(key, _writer(b"a", calls))
    sub = root / key[:2]
    names = sorted(os.listdir(sub))
    temps = [n for n in names if n.startswith(".")]
    assert temps == []
    stale = sub / f".{key}.dead1.part"  # what a killed producer leaves
    stale.write_bytes(b"x")
    other = sub / f".{key}.tdf.dead2.part"
    other.write_bytes(b"y")
    assert cache.sweep() == 2 and cache.stats.stale_removed == 2
    assert not stale.exists() and not other.exists()
    assert cache.sweep() == 0 and cache.stats.stale_removed == 2
    assert (sub / key).read_bytes() == b"a"  # the entry itself stays
    cache.clear()
    assert not (sub / key).exists()
