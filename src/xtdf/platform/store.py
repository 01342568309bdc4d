"""Embedded storage: one SQLite file under the platform's state directory.

Each service owns its tables and creates them with ``CREATE TABLE IF NOT EXISTS`` via
:meth:`Database.migrate`; there is no ORM. SQLite in WAL mode lets the server's
threads read while one writes, and the file survives restarts.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._memory: sqlite3.Connection | None = None
        #: bumped by every committed write; every write goes through :meth:`transaction`
        self.generation = 0
        self._memo: dict[Hashable, tuple[int, Any]] = {}
        if str(path) == ":memory:":
            self._memory = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        if str(self.path) != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def migrate(self, ddl: str) -> None:
        """Run idempotent DDL (``CREATE TABLE IF NOT EXISTS ...``)."""
        with self._write_lock:
            self.conn.executescript(ddl)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        if self._memory is not None:
            with self._write_lock:
                return self.conn.execute(sql, params).fetchall()
        return self.conn.execute(sql, params).fetchall()

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, reused until the next write: the KAS asks the same policy questions
        on every rewrap, and the answers only change when policy does. Callers must not
        mutate what they get back."""
        generation = self.generation  # read first: a write during compute makes it stale
        hit = self._memo.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]  # type: ignore[no-any-return]
        value = compute()
        self._memo[key] = (generation, value)
        return value

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Serialise writers in-process and make the block atomic."""
        with self._write_lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self.generation += 1
