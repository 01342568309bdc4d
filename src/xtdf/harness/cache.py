"""A ciphertext cache on the filesystem, shared by every pytest-xdist worker.

Upstream's suite kept a per-process dict of ciphertexts, so N workers encrypted the same
thing up to N times. Here each distinct encryption is one entry named by a digest of every
input that changes the result; workers coordinate through a per-entry file lock:

1. look: a published entry whose content matches its recorded digest is a hit;
2. lock the entry (``filelock``);
3. look again, since another worker may have published while we waited;
4. produce into a temporary file in the cache directory;
5. publish: fsync, rename onto the entry, then write the digest beside it.

A reader trusts an entry only when the digest file exists and matches, so a producer killed
anywhere in steps 4-5 leaves nothing that is ever served; the next caller regenerates. A
failed production publishes a failure record instead; waiters of the same run re-raise it at
once rather than each repeating a doomed encryption, and a later run tries again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from xtdf.atomicfile import atomic_path, atomic_write

_CHUNK = 1 << 20


class CachedFailure(Exception):
    """An earlier attempt at this entry failed during this run; its message is replayed."""


@dataclass
class CacheStats:
    """Counters one process keeps; the controller adds them up across workers."""

    hits: int = 0
    misses: int = 0
    waits: int = 0
    produced: int = 0
    produce_seconds: float = 0.0
    wait_seconds: float = 0.0
    failures: int = 0
    failures_replayed: int = 0
    corrupt: int = 0
    keys: set[str] = field(default_factory=set)
    #: entries that are not ciphertexts (plaintexts, fixture handoffs): made / reused
    other_made: int = 0
    other_reused: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keys"] = sorted(self.keys)
        return d


def cache_key(**inputs: Any) -> str:
    """Digest of the inputs, canonical JSON so that dict order and spacing never matter."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


class SharedCache:
    """The cache at ``root``; ``run_id`` scopes replayed failures to one test run."""

    def __init__(self, root: str | os.PathLike[str], run_id: str = "", enabled: bool = True):
        self.root = Path(root)
        self.run_id = run_id
        self.enabled = enabled
        self.stats = CacheStats()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths -------------------------------------------------------------------
    def _base(self, key: str) -> Path:
        d = self.root / key[:2]
        d.mkdir(exist_ok=True)
        return d / key

    def entry_path(self, key: str, suffix: str = "") -> Path:
        return self._base(key).with_name(key + suffix)

    # -- public API ----------------------------------------------------------------
    def get_or_create(
        self,
        key: str,
        produce: Callable[[Path], None],
        *,
        suffix: str = "",
        private_dir: str | os.PathLike[str] | None = None,
        counted: bool = True,
    ) -> Path:
        """Return the path of the entry for ``key``, calling ``produce(tmp_path)`` at most once
        across all processes sharing this cache. ``produce`` must write its output to the
        path it is given (the file may be absent or empty beforehand).

        With the cache disabled, every call produces into ``private_dir`` (as upstream does).
        ``counted=False`` keeps an entry that is not a ciphertext out of the encryption counts.
        """
        before = (self.stats.hits, self.stats.misses, self.stats.produced, self.stats.waits)
        try:
            return self._get_or_create(key, produce, suffix, private_dir, counted)
        finally:
            if not counted:
                hits, misses, produced, waits = before
                self.stats.other_made += self.stats.produced - produced
                self.stats.other_reused += self.stats.hits - hits
                self.stats.hits, self.stats.misses = hits, misses
                self.stats.produced, self.stats.waits = produced, waits

    def _get_or_create(
        self,
        key: str,
        produce: Callable[[Path], None],
        suffix: str,
        private_dir: str | os.PathLike[str] | None,
        counted: bool,
    ) -> Path:
        if counted:
            self.stats.keys.add(key)
        if not self.enabled:
            target = Path(private_dir or self.root) / f"{key}{suffix}"
            self._produce_to(target, produce)
            self.stats.misses += 1
            return target
        entry = self.entry_path(key, suffix)
        if self._valid(entry):
            self.stats.hits += 1
            return entry
        self._replay_failure(key)
        with self._locked(key):
            if self._valid(entry):
                self.stats.hits += 1
                return entry
            self._replay_failure(key)
            self.stats.misses += 1
            self._publish(key, entry, produce)
        return entry

    def get_or_create_json(self, key: str, produce: Callable[[], Any]) -> Any:
        """Hand a small JSON value from the one process that makes it to all others."""

        def write(tmp: Path) -> None:
            tmp.write_text(json.dumps(produce(), sort_keys=True))

        entry = self.get_or_create(key, write, suffix=".json", counted=False)
        return json.loads(entry.read_text())

    def clear(self) -> None:
        """Remove every entry (locks of running processes are left alone)."""
        for p in self.root.rglob("*"):
            if p.is_file() and not p.name.endswith(".lock"):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    # -- internals -------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock = FileLock(str(self._base(key)) + ".lock")
        start = time.perf_counter()
        try:
            lock.acquire(blocking=False)
        except TimeoutError:
            self.stats.waits += 1
            lock.acquire()
            self.stats.wait_seconds += time.perf_counter() - start
        try:
            yield
        finally:
            lock.release()

    def _valid(self, entry: Path) -> bool:
        digest_file = entry.with_name(entry.name + ".sha256")
        try:
            recorded = digest_file.read_text().strip()
        except FileNotFoundError:
            return False
        if not entry.exists() or file_digest(entry) != recorded:
            self.stats.corrupt += 1
            with contextlib.suppress(FileNotFoundError):
                digest_file.unlink()
            return False
        return True

    def _failure_file(self, key: str) -> Path:
        return self._base(key).with_name(key + ".failed")

    def _replay_failure(self, key: str) -> None:
        try:
            record = json.loads(self._failure_file(key).read_text())
        except (FileNotFoundError, ValueError):
            return
        if record.get("run_id") == self.run_id:
            self.stats.failures_replayed += 1
            raise CachedFailure(record.get("message", "earlier encryption failed"))

    def _produce_to(self, target: Path, produce: Callable[[Path], None]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            with atomic_path(target) as tmp:
                produce(tmp)
        finally:
            self.stats.produced += 1
            self.stats.produce_seconds += time.perf_counter() - start

    def _publish(self, key: str, entry: Path, produce: Callable[[Path], None]) -> None:
        failure = self._failure_file(key)
        try:
            self._produce_to(entry, produce)
        except BaseException as exc:
            self.stats.failures += 1
            if isinstance(exc, Exception):
                message = f"{type(exc).__name__}: {exc}"
                with atomic_write(failure) as fh:
                    fh.write(json.dumps({"run_id": self.run_id, "message": message}).encode())
            raise
        with contextlib.suppress(FileNotFoundError):
            failure.unlink()
        digest = file_digest(entry)
        with atomic_write(entry.with_name(entry.name + ".sha256")) as fh:
            fh.write(digest.encode())
