"""The unsafe part of the policy store: renames, reordering, reactivation and deletion.

Upstream keeps these apart (``policy.unsafe.UnsafeService``, admin only) because each can
change what attributes in existing TDFs mean: a renamed value's FQN no longer matches the
files bound to the old one, a reordered ``HIERARCHY`` changes who outranks whom, a deleted
value's files can no longer be entitled. The rules are upstream's: a reactivation touches
only the object named (no cascade, unlike deactivation); a delete must name the object's
current FQN and takes everything under it (definitions, values, their subject and
resource mappings, resource mapping groups, registered resource values' pairs naming
them, KAS grants and key mappings);
``values_order`` must list exactly the definition's values. FQNs are derived from names
when read, so a rename moves every FQN under it at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.base import StoreBase, required
from xtdf.platform.policy.fqn import NAMESPACE_RE, check_name
from xtdf.platform.rpc import RpcError

_RULES = (
    po.ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF,
    po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF,
    po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY,
)


class UnsafeEdits(StoreBase):
    """Each method takes the object's id (or FQN) and returns its row id."""

    def _rename(self, table: str, column: str, row_id: str, name: str, what: str) -> None:
        try:
            self._update(table, row_id, {column: name})
        except sqlite3.IntegrityError as exc:
            raise RpcError("already_exists", f"{what} {name!r} already exists") from exc

    # --- namespaces -----------------------------------------------------------

    def unsafe_rename_namespace(self, ident: str, name: str) -> str:
        row = self._namespace_row(required("id", ident))
        if name:
            norm = check_name("name", name, NAMESPACE_RE)
            self._rename("policy_namespaces", "name", row["id"], norm, "namespace")
        return row["id"]

    def unsafe_reactivate_namespace(self, ident: str) -> str:
        row = self._namespace_row(required("id", ident))
        self._update("policy_namespaces", row["id"], {"active": 1})
        return row["id"]

    def unsafe_delete_namespace(self, ident: str, fqn: str, current_fqn: str) -> None:
        row = self._namespace_row(required("id", ident))
        _same_fqn(fqn, current_fqn, "namespace")
        attrs = [
            r["id"]
            for r in self.db.query(
                "SELECT id FROM policy_attributes WHERE namespace_id = ?", [row["id"]]
            )
        ]
        with self.db.transaction() as conn:
            for attr_id in attrs:
                _delete_attribute(conn, attr_id)
            # mappings and condition sets scoped to the namespace go with it
            conn.execute(
                "DELETE FROM policy_subject_mappings WHERE namespace_id = ? OR condition_set_id"
                " IN (SELECT id FROM policy_condition_sets WHERE namespace_id = ?)",
                [row["id"], row["id"]],
            )
            conn.execute("DELETE FROM policy_condition_sets WHERE namespace_id = ?", [row["id"]])
            # its resource mapping groups too; mappings elsewhere in them stay, groupless
            groups = "SELECT id FROM policy_resource_mapping_groups WHERE namespace_id = ?"
            conn.execute(
                f"UPDATE policy_resource_mappings SET group_id = NULL WHERE group_id IN ({groups})",
                [row["id"]],
            )
            conn.execute(
                "DELETE FROM policy_resource_mapping_groups WHERE namespace_id = ?", [row["id"]]
            )
            _delete_links(conn, "namespace", [row["id"]])
            conn.execute("DELETE FROM policy_namespaces WHERE id = ?", [row["id"]])

    # --- definitions ----------------------------------------------------------

    def unsafe_update_attribute(
        self, ident: str, name: str, rule: int, values_order: Sequence[str]
    ) -> str:
        row = self._attribute_row(required("id", ident))
        if rule and rule not in _RULES:
            raise RpcError(
                "invalid_argument", f"rule: must be ALL_OF, ANY_OF or HIERARCHY ({rule})"
            )
        current = [
            r["id"]
            for r in self.db.query(
                "SELECT id FROM policy_values WHERE attribute_id = ? ORDER BY position",
                [row["id"]],
            )
        ]
        if values_order and (
            len(values_order) != len(current) or set(values_order) != set(current)
        ):
            raise RpcError(
                "invalid_argument",
                f"values_order: must list each of the definition's {len(current)} value ids"
                " exactly once",
            )
        if name:
            norm = check_name("name", name)
            self._rename("policy_attributes", "name", row["id"], norm, "attribute")
        if rule:
            self._update("policy_attributes", row["id"], {"rule": rule})
        if values_order:
            with self.db.transaction() as conn:
                for pos, value_id in enumerate(values_order):
                    conn.execute(
                        "UPDATE policy_values SET position = ? WHERE id = ?", [pos, value_id]
                    )
        return row["id"]

    def unsafe_reactivate_attribute(self, ident: str) -> str:
        row = self._attribute_row(required("id", ident))
        self._update("policy_attributes", row["id"], {"active": 1})
        return row["id"]

    def unsafe_delete_attribute(self, ident: str, fqn: str, current_fqn: str) -> None:
        row = self._attribute_row(required("id", ident))
        _same_fqn(fqn, current_fqn, "attribute")
        with self.db.transaction() as conn:
            _delete_attribute(conn, row["id"])

    # --- values ---------------------------------------------------------------

    def unsafe_rename_value(self, ident: str, value: str) -> str:
        row = self._value_row(required("id", ident))
        if value:
            norm = check_name("value", value)
            self._rename("policy_values", "value", row["id"], norm, "value")
        return row["id"]

    def unsafe_reactivate_value(self, ident: str) -> str:
        row = self._value_row(required("id", ident))
        self._update("policy_values", row["id"], {"active": 1})
        return row["id"]

    def unsafe_delete_value(self, ident: str, fqn: str, current_fqn: str) -> None:
        row = self._value_row(required("id", ident))
        _same_fqn(fqn, current_fqn, "value")
        with self.db.transaction() as conn:
            _delete_values(conn, [row["id"]])


def _same_fqn(given: str, current: str, what: str) -> None:
    """Upstream answers a delete naming another FQN as not found."""
    if not given:
        raise RpcError("invalid_argument", f"fqn: the {what}'s current FQN is required")
    if given.strip().lower() != current:
        raise RpcError("not_found", f"{what} {current}: fqn mismatch ({given!r} given)")


def _delete_links(conn: sqlite3.Connection, kind: str, ids: list[str]) -> None:
    for table in ("policy_kas_grants", "policy_key_mappings"):
        conn.executemany(
            f"DELETE FROM {table} WHERE object_type = ? AND object_id = ?",
            [(kind, i) for i in ids],
        )


def _delete_values(conn: sqlite3.Connection, ids: list[str]) -> None:
    for table, column in (
        ("policy_subject_mappings", "value_id"),
        ("policy_resource_mappings", "value_id"),
        ("policy_registered_resource_action_values", "attribute_value_id"),
    ):
        conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])
    _delete_links(conn, "value", ids)
    conn.executemany("DELETE FROM policy_values WHERE id = ?", [(i,) for i in ids])


def _delete_attribute(conn: sqlite3.Connection, attr_id: str) -> None:
    values = conn.execute("SELECT id FROM policy_values WHERE attribute_id = ?", [attr_id])
    _delete_values(conn, [r["id"] for r in values.fetchall()])
    _delete_links(conn, "attribute", [attr_id])
    conn.execute("DELETE FROM policy_attributes WHERE id = ?", [attr_id])
