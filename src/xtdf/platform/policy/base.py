"""Shared plumbing of the policy store: inserts with Connect error codes, metadata rows.

Split out so that the store's parts (:mod:`.store`, :mod:`.registry`, :mod:`.subjects`)
can each stay about one kind of policy object.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy import schema
from xtdf.platform.rpc import RpcError
from xtdf.platform.store import Database


def new_id() -> str:
    return str(uuid.uuid4())


def metadata_of(row: sqlite3.Row) -> common_pb2.Metadata:
    md = common_pb2.Metadata(labels=json.loads(row["labels"]))
    created, updated = Timestamp(), Timestamp()
    created.FromNanoseconds(int(row["created_at"] * 1e9))
    updated.FromNanoseconds(int(row["updated_at"] * 1e9))
    md.created_at.CopyFrom(created)
    md.updated_at.CopyFrom(updated)
    return md


def labels_json(metadata: common_pb2.MetadataMutable | None) -> str:
    return json.dumps(dict(metadata.labels) if metadata is not None else {}, sort_keys=True)


def required(field: str, value: str) -> str:
    """``value``, or invalid_argument naming ``field`` when it is empty."""
    if not value or not value.strip():
        raise RpcError("invalid_argument", f"{field}: required")
    return value


def updated_labels(
    current: str,
    metadata: common_pb2.MetadataMutable | None,
    behavior: int,
) -> str | None:
    """The labels an update leaves (JSON), or None if it changes none.

    As upstream: no metadata changes nothing; ``EXTEND`` merges the given labels over the
    stored ones; ``REPLACE`` stores exactly the given ones; metadata with neither
    behaviour is refused (upstream's "unknown metadata update type")."""
    if metadata is None:
        return None
    if behavior == common_pb2.METADATA_UPDATE_ENUM_REPLACE:
        return labels_json(metadata)
    if behavior == common_pb2.METADATA_UPDATE_ENUM_EXTEND:
        merged = {**json.loads(current), **dict(metadata.labels)}
        return json.dumps(merged, sort_keys=True)
    raise RpcError(
        "invalid_argument",
        "metadata_update_behavior: METADATA_UPDATE_ENUM_EXTEND or _REPLACE is required"
        " with metadata",
    )


def active_clause(state: int, column: str = "active") -> str:
    if state == common_pb2.ACTIVE_STATE_ENUM_INACTIVE:
        return f"{column} = 0"
    if state == common_pb2.ACTIVE_STATE_ENUM_ANY:
        return "1 = 1"
    return f"{column} = 1"


class StoreBase:
    """The database handle and helpers every part of :class:`PolicyStore` uses."""

    def __init__(self, db: Database) -> None:
        self.db = db
        schema.migrate(db)

    def _insert(self, table: str, values: dict[str, Any], what: str) -> None:
        now = time.time()
        values = {"created_at": now, "updated_at": now, **values}
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values())
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
                raise RpcError("already_exists", f"{what} already exists") from exc
            raise RpcError("invalid_argument", f"{what}: {exc}") from exc

    def _update(self, table: str, row_id: str, values: dict[str, Any]) -> None:
        """Set columns of one row and bump its ``updated_at`` (upstream's update trigger)."""
        values = {**values, "updated_at": time.time()}
        sets = ", ".join(f"{col} = ?" for col in values)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), row_id])

    def _relabel(
        self,
        table: str,
        row: sqlite3.Row,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> None:
        """Apply a metadata update to a row read before (no update: nothing written)."""
        self._apply(table, row, {}, metadata, behavior)

    def _apply(
        self,
        table: str,
        row: sqlite3.Row,
        values: dict[str, Any],
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
        *,
        taken: str | None = None,
    ) -> None:
        """An Update RPC's write to a row read before: its changed columns and its metadata
        update together, nothing written when neither changes anything. With ``taken``, a
        unique column another row holds is ``already_exists`` with that message."""
        labels = updated_labels(row["labels"], metadata, behavior)
        if labels is not None:
            values = {**values, "labels": labels}
        if not values:
            return
        try:
            self._update(table, row["id"], values)
        except sqlite3.IntegrityError as exc:
            if taken is None:
                raise
            raise RpcError("already_exists", taken) from exc

    def _row(self, sql: str, params: Iterable[Any], what: str) -> sqlite3.Row:
        row = self.db.one(sql, list(params))
        if row is None:
            raise RpcError("not_found", f"{what} not found")
        return row

    # lookups the other parts rely on; :class:`~.store.PolicyStore` implements them

    def _namespace_row(self, ident: str) -> sqlite3.Row:
        raise NotImplementedError

    def _namespace(self, row: sqlite3.Row, *, detail: bool = True) -> po.Namespace:
        raise NotImplementedError

    def _attribute_row(self, ident: str) -> sqlite3.Row:
        raise NotImplementedError

    def _value_row(self, ident: str) -> sqlite3.Row:
        raise NotImplementedError

    def _value(
        self, row: sqlite3.Row, ns_name: str, attr_name: str, *, subject_mappings: bool = False
    ) -> po.Value:
        raise NotImplementedError
