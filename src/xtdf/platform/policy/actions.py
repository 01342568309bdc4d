"""The actions part of the policy store: the standard actions and custom ones.

As upstream, ``create``, ``read``, ``update`` and ``delete`` are standard actions that
exist from the start and cannot be created, renamed to, changed or deleted; custom actions
are any other name (1-253 characters, alphanumerics, ``_`` and ``-``, not first or last),
stored lower-cased. Subject mappings name the actions they grant.
"""

from __future__ import annotations

import sqlite3
import time

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.base import StoreBase, labels_json, metadata_of, new_id
from xtdf.platform.policy.fqn import NAME_RE
from xtdf.platform.rpc import RpcError

STANDARD_ACTIONS = ("create", "read", "update", "delete")


def check_action_name(name: str) -> str:
    norm = name.strip().lower()
    if not norm or len(norm) > 253 or not NAME_RE.match(norm):
        raise RpcError("invalid_argument", f"name: invalid action name {name!r}")
    if norm in STANDARD_ACTIONS:
        raise RpcError("invalid_argument", f"name: {norm!r} is a standard action")
    return norm


class Actions(StoreBase):
    """Standard and custom actions (``policy.actions.ActionService``)."""

    def _seed_standard_actions(self) -> None:
        """Insert the standard actions once, when the store is made (they cannot be deleted);
        reads first: a write on every store made would invalidate every remembered policy
        answer."""
        have = self.db.one("SELECT COUNT(*) AS n FROM policy_actions WHERE is_standard = 1")
        if have is not None and have["n"] == len(STANDARD_ACTIONS):
            return
        now = time.time()
        with self.db.transaction() as conn:
            for name in STANDARD_ACTIONS:
                conn.execute(
                    "INSERT OR IGNORE INTO policy_actions"
                    " (id, name, is_standard, labels, created_at, updated_at)"
                    " VALUES (?, ?, 1, '{}', ?, ?)",
                    [new_id(), name, now, now],
                )

    def _action_row(self, ident: str, *, by_name: bool = False) -> sqlite3.Row:
        if not ident.strip():
            raise RpcError("invalid_argument", "identifier: an action id or name is required")
        column = "name" if by_name else "id"
        value = ident.strip().lower() if by_name else ident.strip()
        return self._row(
            f"SELECT * FROM policy_actions WHERE {column} = ?", [value], f"action {ident!r}"
        )

    @staticmethod
    def _action(row: sqlite3.Row) -> po.Action:
        return po.Action(id=row["id"], name=row["name"], metadata=metadata_of(row))

    def get_action(self, ident: str, *, by_name: bool = False) -> po.Action:
        return self._action(self._action_row(ident, by_name=by_name))

    def list_actions(self) -> list[tuple[po.Action, bool]]:
        """Every action with whether it is standard: standard ones first, then by name."""
        rows = self.db.query("SELECT * FROM policy_actions ORDER BY is_standard DESC, name")
        return [(self._action(r), bool(r["is_standard"])) for r in rows]

    def create_action(
        self, name: str, metadata: common_pb2.MetadataMutable | None = None
    ) -> po.Action:
        norm = check_action_name(name)
        row_id = new_id()
        self._insert(
            "policy_actions",
            {"id": row_id, "name": norm, "is_standard": 0, "labels": labels_json(metadata)},
            f"action {norm!r}",
        )
        return self.get_action(row_id)

    def update_action(
        self,
        ident: str,
        name: str,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.Action:
        row = self._action_row(ident)
        if row["is_standard"]:
            raise RpcError(
                "invalid_argument", f"action {row['name']!r} is standard: it cannot change"
            )
        if name:
            norm = check_action_name(name)
            try:
                self._update("policy_actions", row["id"], {"name": norm})
            except sqlite3.IntegrityError as exc:
                raise RpcError("already_exists", f"action {norm!r} already exists") from exc
        self._relabel("policy_actions", row, metadata, behavior)
        return self.get_action(row["id"])

    def delete_action(self, ident: str) -> po.Action:
        row = self._action_row(ident)
        if row["is_standard"]:
            raise RpcError(
                "invalid_argument", f"action {row['name']!r} is standard: it cannot change"
            )
        action = self._action(row)
        with self.db.transaction() as conn:
            # registered resource values that named it lose that pair
            conn.execute(
                "DELETE FROM policy_registered_resource_action_values WHERE action_id = ?",
                [row["id"]],
            )
            conn.execute("DELETE FROM policy_actions WHERE id = ?", [row["id"]])
        return action
