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

What a caller gets is what was checked, never a path that might change after the check:
:meth:`SharedCache.get_or_create_bytes` hands over the bytes it hashed, and
:meth:`SharedCache.get_or_create_copy` a snapshot in this process's own directory that was
hashed after it was made (a reflink or a copy; past :data:`COPY_LIMIT` without reflinks, a
hard link, which a re-publish or removal of the entry cannot reach). Obstructions are
cleared rather than fatal: a directory where an entry, its digest or its failure record
belongs is removed under the entry's lock, as are temporary files of killed producers
(theirs is the only process that writes them, and only while holding that lock; so one
whose lock can be taken has no producer left) and snapshot directories of processes gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from xtdf.atomicfile import atomic_path, atomic_write

_CHUNK = 1 << 20
#: snapshots larger than this are hard links where the filesystem cannot reflink (a 5 GiB
#: plaintext copied per worker would cost more disk than the whole rest of the cache)
COPY_LIMIT = 256 << 20
#: the subdirectory holding each process's snapshots (entries live in two-hex-digit ones)
PRIVATE = "private"
#: ``.<key><suffix>.<random>.part``: what :func:`atomic_path` and :func:`atomic_write` leave
#: behind when their process dies
_TEMP = re.compile(r"^\.([0-9a-f]{64})[^/]*\.part$")
_HEX2 = re.compile(r"[0-9a-f]{2}")
#: Linux's FICLONE ioctl: a copy-on-write clone (btrfs, XFS, bcachefs)
_FICLONE = 0x40049409
T = TypeVar("T")
#: ``take(file, digest, entry name)``: what a caller gets from a file whose recorded digest is
#: ``digest``, made from bytes that hash to it, or None if the file's do not
Take = Callable[[Path, str, str], T | None]


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
    #: temporary files of killed producers and snapshot directories of exited processes
    stale_removed: int = 0
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


def _copy_hashing(src: Any, dst: Any) -> str:
    """Copy ``src`` to ``dst`` (open binary files), hashing exactly the bytes written."""
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while n := src.readinto(buf):
        h.update(view[:n])
        dst.write(view[:n])
    return h.hexdigest()


def _reflink(src: Any, dst: Any) -> bool:
    try:
        import fcntl

        fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
    except (ImportError, OSError):
        return False
    return True


def _remove(path: Path) -> None:
    """Remove whatever is at ``path`` (file, link or directory tree), if anything."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """Hold the file lock at ``path`` if nobody does (yields True), else yield False."""
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


class SharedCache:
    """The cache at ``root``; ``run_id`` scopes replayed failures to one test run.

    :meth:`close` removes this process's snapshots (a later cache removes them anyway once
    the process has exited).
    """

    def __init__(self, root: str | os.PathLike[str], run_id: str = "", enabled: bool = True):
        self.root = Path(root)
        self.run_id = run_id
        self.enabled = enabled
        self.stats = CacheStats()
        self.root.mkdir(parents=True, exist_ok=True)
        self._private: Path | None = None
        self._private_lock: FileLock | None = None
        #: entry name -> this process's snapshot of it
        self._snapshots: dict[str, Path] = {}
        if enabled:
            self.sweep()

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

        The entry was whole when checked, but it is shared: another process may replace or
        damage it after that. To read it, use :meth:`get_or_create_bytes` or
        :meth:`get_or_create_copy`, which hand over what they checked.

        With the cache disabled, every call produces into ``private_dir`` (as upstream does).
        ``counted=False`` keeps an entry that is not a ciphertext out of the encryption counts.
        """
        return self._counting(counted, key, produce, suffix, private_dir, None)

    def get_or_create_bytes(
        self, key: str, produce: Callable[[Path], None], *, suffix: str = "", counted: bool = True
    ) -> bytes:
        """The entry's content, exactly the bytes whose digest was checked."""
        return self._counting(counted, key, produce, suffix, None, self._take_bytes)

    def get_or_create_copy(
        self,
        key: str,
        produce: Callable[[Path], None],
        *,
        suffix: str = "",
        private_dir: str | os.PathLike[str] | None = None,
        counted: bool = True,
    ) -> Path:
        """A snapshot of the entry that belongs to this process, checked after it was made:
        what is at the returned path is what was checked, whatever happens to the entry.

        The same path again on later calls while it still matches (each call checks it).
        With the cache disabled, the private product itself, as :meth:`get_or_create`.
        """
        return self._counting(counted, key, produce, suffix, private_dir, self._take_copy)

    def _counting(
        self,
        counted: bool,
        key: str,
        produce: Callable[[Path], None],
        suffix: str,
        private_dir: str | os.PathLike[str] | None,
        take: Take[Any] | None,
    ) -> Any:
        before = (self.stats.hits, self.stats.misses, self.stats.produced, self.stats.waits)
        try:
            return self._get_or_create(key, produce, suffix, private_dir, counted, take)
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
        take: Take[Any] | None,
    ) -> Any:
        """The entry's path (``take`` None), or what ``take`` makes of checked bytes: on a hit
        from the entry, on a miss from the product before it is published."""
        if counted:
            self.stats.keys.add(key)
        if not self.enabled:  # the product is private: only bytes need taking from it
            target = Path(private_dir or self.root) / f"{key}{suffix}"
            wanted = take if take == self._take_bytes else None
            product = self._produce_to(target, produce, wanted)[1]
            self.stats.misses += 1
            return target if wanted is None else product
        entry = self.entry_path(key, suffix)
        found = self._lookup(entry, take or self._take_path)
        if found is not None:
            self.stats.hits += 1
            return found
        self._replay_failure(key)
        with self._locked(key):
            found = self._lookup(entry, take or self._take_path)
            if found is not None:
                self.stats.hits += 1
                return found
            self._replay_failure(key)
            self._clear_for(key, entry)
            self.stats.misses += 1
            product = self._publish(key, entry, produce, take)
        return entry if take is None else product

    def get_or_create_json(self, key: str, produce: Callable[[], Any]) -> Any:
        """Hand a small JSON value from the one process that makes it to all others."""

        def write(tmp: Path) -> None:
            tmp.write_text(json.dumps(produce(), sort_keys=True))

        return json.loads(self.get_or_create_bytes(key, write, suffix=".json", counted=False))

    def close(self) -> None:
        """Remove this process's snapshots; later calls make a new snapshot directory."""
        private, lock = self._private, self._private_lock
        self._private, self._private_lock, self._snapshots = None, None, {}
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(private) + ".lock")
        if lock is not None:
            lock.release()

    def __enter__(self) -> SharedCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sweep(self) -> int:
        """Remove what dead processes left: producers' temporary files (each only once its
        entry's lock can be taken) and snapshot directories whose owner's lock is free.
        Returns how many were removed."""
        removed = 0
        for sub in self._subdirs():
            for name in os.listdir(sub):
                m = _TEMP.match(name)
                if m is not None:
                    removed += self._remove_stale_temps(m.group(1), only=name)
        private = self.root / PRIVATE
        if private.is_dir():
            owners = {name.removesuffix(".lock") for name in os.listdir(private)}
            for name in sorted(owners):  # one order on every run
                if private / name == self._private:
                    continue
                with _try_lock(private / f"{name}.lock") as free:
                    if free:  # its owner is gone; the name is unique, so nobody waits on it
                        _remove(private / name)
                        _remove(private / f"{name}.lock")
                        removed += 1
        self.stats.stale_removed += removed
        return removed

    def clear(self) -> None:
        """Remove every entry (locks, and snapshots of running processes, are left alone)."""
        for sub in self._subdirs():
            for p in sub.iterdir():
                if not p.name.endswith(".lock"):
                    _remove(p)
        self.sweep()

    def _subdirs(self) -> list[Path]:
        """The directories entries live in (two hex digits each)."""
        return [p for p in self.root.glob("??") if _HEX2.fullmatch(p.name) and p.is_dir()]

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

    def _lookup(self, entry: Path, take: Take[T]) -> T | None:
        """``take(entry, recorded digest, name)`` if a digest is recorded and ``take`` finds that
        its bytes match it; else None, and a recorded digest that did not match is removed."""
        digest_file = entry.with_name(entry.name + ".sha256")
        try:
            recorded = digest_file.read_text().strip()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, UnicodeDecodeError):
            return None
        try:
            found = take(entry, recorded, entry.name)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            found = None
        if found is None:
            self.stats.corrupt += 1
            with contextlib.suppress(FileNotFoundError):
                digest_file.unlink()
        return found

    @staticmethod
    def _take_path(path: Path, digest: str, name: str) -> Path | None:
        return path if file_digest(path) == digest else None

    @staticmethod
    def _take_bytes(path: Path, digest: str, name: str) -> bytes | None:
        data = path.read_bytes()
        return data if hashlib.sha256(data).hexdigest() == digest else None

    def _take_copy(self, path: Path, digest: str, name: str) -> Path | None:
        """A snapshot of ``path`` (the entry ``name``, or its product) in this process's
        directory, whose bytes hash to ``digest``; the previous one while it still does."""
        known = self._snapshots.pop(name, None)
        if known is not None:
            with contextlib.suppress(OSError):
                if file_digest(known) == digest:
                    self._snapshots[name] = known
                    return known
        private = self._private_dir()
        snapshot = private / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=private)
        try:
            copied: str | None = None  # the digest of the bytes written, for a plain copy
            with os.fdopen(fd, "wb") as dst, open(path, "rb") as src:
                cloned = _reflink(src, dst)
                if not cloned and os.fstat(src.fileno()).st_size <= COPY_LIMIT:
                    copied = _copy_hashing(src, dst)
            if not cloned and copied is None:
                os.unlink(tmp)
                os.link(path, tmp)
            os.replace(tmp, snapshot)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # a copy is checked by the bytes it was written from; a clone or a link by reading it
        if (copied or file_digest(snapshot)) != digest:
            snapshot.unlink()
            return None
        self._snapshots[name] = snapshot
        return snapshot

    def _private_dir(self) -> Path:
        """This process's snapshot directory, made on first use and held by a file lock for
        as long as the process lives (so that :meth:`sweep` leaves it alone)."""
        if self._private is None:
            base = self.root / PRIVATE
            base.mkdir(exist_ok=True)
            name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            lock = FileLock(str(base / f"{name}.lock"))
            lock.acquire()
            (base / name).mkdir()
            self._private, self._private_lock = base / name, lock
        return self._private

    def _remove_stale_temps(self, key: str, only: str | None = None) -> int:
        """Remove ``key``'s temporary files (just ``only``, if given) if its lock is free."""
        sub = self.root / key[:2]
        with _try_lock(sub / f"{key}.lock") as free:
            return self._remove_temps_of(key, only) if free else 0

    def _remove_temps_of(self, key: str, only: str | None = None) -> int:
        """With ``key``'s lock held: every temporary file of it is a dead producer's."""
        sub = self.root / key[:2]
        names = [only] if only is not None else os.listdir(sub)
        removed = 0
        for name in names:
            m = _TEMP.match(name)
            if m is not None and m.group(1) == key and (sub / name).exists():
                _remove(sub / name)
                removed += 1
        return removed

    def _clear_for(self, key: str, entry: Path) -> None:
        """With ``key``'s lock held, before producing: dead producers' temporary files go,
        and so does anything that is not a file where the entry, its digest or its failure
        record belongs (a directory there would make publishing fail)."""
        self.stats.stale_removed += self._remove_temps_of(key)
        for path in (entry, entry.with_name(entry.name + ".sha256"), self._failure_file(key)):
            if path.is_dir() and not path.is_symlink():
                _remove(path)

    def _failure_file(self, key: str) -> Path:
        return self._base(key).with_name(key + ".failed")

    def _replay_failure(self, key: str) -> None:
        try:
            record = json.loads(self._failure_file(key).read_text())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, ValueError):
            return
        if not isinstance(record, dict):
            return
        if record.get("run_id") == self.run_id:
            self.stats.failures_replayed += 1
            raise CachedFailure(record.get("message", "earlier encryption failed"))

    def _produce_to(
        self, target: Path, produce: Callable[[Path], None], take: Take[T] | None = None
    ) -> tuple[str, T | None]:
        """Produce into a temporary beside ``target`` and publish it. Returns the digest of
        what was published and what ``take`` made of it, both from the temporary before it
        was published, while nobody else could change it."""
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            with atomic_path(target) as tmp:
                produce(tmp)
                digest = file_digest(tmp)
                product = None if take is None else take(tmp, digest, target.name)
                if take is not None and product is None:
                    raise RuntimeError(f"{tmp} changed while it was being checked")
            return digest, product
        finally:
            self.stats.produced += 1
            self.stats.produce_seconds += time.perf_counter() - start

    def _publish(
        self, key: str, entry: Path, produce: Callable[[Path], None], take: Take[T] | None
    ) -> T | None:
        failure = self._failure_file(key)
        try:
            digest, product = self._produce_to(entry, produce, take)
        except BaseException as exc:
            self.stats.failures += 1
            if isinstance(exc, Exception):
                message = f"{type(exc).__name__}: {exc}"
                with atomic_write(failure) as fh:
                    fh.write(json.dumps({"run_id": self.run_id, "message": message}).encode())
            raise
        with contextlib.suppress(FileNotFoundError):
            failure.unlink()
        with atomic_write(entry.with_name(entry.name + ".sha256")) as fh:
            fh.write(digest.encode())
        return product
