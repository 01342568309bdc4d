"""The registered resources part of the policy store.

A registered resource is something other than a TDF that policy decides about (a
system, a dataset); each of its values (``https://reg_res/<name>/value/<value>``, the
form upstream's protocol of otdfctl 0.21.0 uses) lists the actions on attribute values
it stands for. Names and values are stored lower-cased, as upstream does; actions are
named by id or name and attribute values by id or FQN, and must exist.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.base import (
    StoreBase,
    labels_json,
    metadata_of,
    new_id,
    required,
)
from xtdf.platform.policy.fqn import check_name
from xtdf.platform.rpc import RpcError

VALUE_FQN_RE = re.compile(r"^https://reg_res/([^/]+)/value/([^/]+)$")
#: action/attribute value pairs one resource value may hold
MAX_ACTION_VALUES = 1000


class RegisteredResources(StoreBase):
    """Registered resources, their values and the action/attribute value pairs."""

    # --- resources ------------------------------------------------------------

    def _resource_row(self, ident: str, *, by_name: bool = False) -> sqlite3.Row:
        column = "name" if by_name else "id"
        value = required("identifier", ident)
        return self._row(
            f"SELECT * FROM policy_registered_resources WHERE {column} = ?",
            [value.strip().lower() if by_name else value],
            f"registered resource {ident!r}",
        )

    def _resource(self, row: sqlite3.Row, *, with_values: bool = True) -> po.RegisteredResource:
        rr = po.RegisteredResource(id=row["id"], name=row["name"], metadata=metadata_of(row))
        if with_values:
            rr.values.extend(self.list_resource_values(row["id"]))
        return rr

    def get_resource(self, ident: str, *, by_name: bool = False) -> po.RegisteredResource:
        return self._resource(self._resource_row(ident, by_name=by_name))

    def list_resources(self) -> list[po.RegisteredResource]:
        rows = self.db.query("SELECT * FROM policy_registered_resources ORDER BY name")
        return [self._resource(r) for r in rows]

    def create_resource(
        self,
        name: str,
        values: Iterable[str] = (),
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.RegisteredResource:
        norm = check_name("name", name)
        vals = [check_name("values", v) for v in values]
        if len(set(vals)) != len(vals):
            raise RpcError("invalid_argument", "values: must be unique")
        rr_id = new_id()
        self._insert(
            "policy_registered_resources",
            {"id": rr_id, "name": norm, "labels": labels_json(metadata)},
            f"registered resource {norm!r}",
        )
        for v in vals:
            self._insert_value(rr_id, v, None)
        return self.get_resource(rr_id)

    def update_resource(
        self,
        ident: str,
        name: str,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.RegisteredResource:
        row = self._resource_row(ident)
        values: dict[str, Any] = {}
        if name:
            values["name"] = check_name("name", name)
        self._apply(
            "policy_registered_resources",
            row,
            values,
            metadata,
            behavior,
            taken=f"registered resource {name!r} already exists",
        )
        return self.get_resource(row["id"])

    def delete_resource(self, ident: str) -> po.RegisteredResource:
        """Delete a resource with its values and their action/attribute value pairs."""
        rr = self.get_resource(ident)
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM policy_registered_resource_action_values WHERE resource_value_id IN"
                " (SELECT id FROM policy_registered_resource_values WHERE resource_id = ?)",
                [rr.id],
            )
            conn.execute(
                "DELETE FROM policy_registered_resource_values WHERE resource_id = ?", [rr.id]
            )
            conn.execute("DELETE FROM policy_registered_resources WHERE id = ?", [rr.id])
        return rr

    # --- values ---------------------------------------------------------------

    def _resource_value_row(self, ident: str) -> sqlite3.Row:
        base = (
            "SELECT v.*, r.name AS resource_name FROM policy_registered_resource_values v"
            " JOIN policy_registered_resources r ON r.id = v.resource_id"
        )
        ident = required("identifier", ident)
        if ident.strip().lower().startswith("https://"):
            m = VALUE_FQN_RE.match(ident.strip().lower())
            if not m:
                raise RpcError(
                    "invalid_argument",
                    f"fqn: {ident!r} is not https://reg_res/<name>/value/<value>",
                )
            return self._row(
                base + " WHERE r.name = ? AND v.value = ?",
                list(m.groups()),
                f"registered resource value {ident.lower()}",
            )
        return self._row(base + " WHERE v.id = ?", [ident], f"registered resource value {ident!r}")

    def _resource_value(self, row: sqlite3.Row) -> po.RegisteredResourceValue:
        rv = po.RegisteredResourceValue(
            id=row["id"],
            value=row["value"],
            metadata=metadata_of(row),
        )
        rv.resource.CopyFrom(
            self._resource(self._resource_row(row["resource_id"]), with_values=False)
        )
        for a in self.db.query(
            "SELECT * FROM policy_registered_resource_action_values WHERE resource_value_id = ?"
            " ORDER BY created_at, id",
            [row["id"]],
        ):
            arow = self._row(
                "SELECT * FROM policy_actions WHERE id = ?", [a["action_id"]], "action"
            )
            vrow = self._value_row(a["attribute_value_id"])
            rv.action_attribute_values.add(
                id=a["id"],
                action=po.Action(id=arow["id"], name=arow["name"], metadata=metadata_of(arow)),
                attribute_value=self._value(vrow, vrow["ns_name"], vrow["attr_name"]),
                metadata=metadata_of(a),
            )
        return rv

    def get_resource_value(self, ident: str) -> po.RegisteredResourceValue:
        return self._resource_value(self._resource_value_row(ident))

    def resource_values_by_fqns(self, fqns: Iterable[str]) -> dict[str, po.RegisteredResourceValue]:
        """Every FQN must name a value (upstream answers not_found otherwise)."""
        return {fqn.lower(): self.get_resource_value(fqn) for fqn in fqns}

    def list_resource_values(self, resource: str = "") -> list[po.RegisteredResourceValue]:
        sql = (
            "SELECT v.*, r.name AS resource_name FROM policy_registered_resource_values v"
            " JOIN policy_registered_resources r ON r.id = v.resource_id"
        )
        params: list[str] = []
        if resource:
            sql += " WHERE v.resource_id = ?"
            params.append(self._resource_row(resource)["id"])
        rows = self.db.query(sql + " ORDER BY r.name, v.created_at, v.value", params)
        return [self._resource_value(r) for r in rows]

    def _insert_value(
        self, resource_id: str, value: str, metadata: common_pb2.MetadataMutable | None
    ) -> str:
        rv_id = new_id()
        self._insert(
            "policy_registered_resource_values",
            {
                "id": rv_id,
                "resource_id": resource_id,
                "value": value,
                "labels": labels_json(metadata),
            },
            f"registered resource value {value!r}",
        )
        return rv_id

    def _action_value_pairs(self, pairs: Sequence[Any]) -> list[tuple[str, str]]:
        """Resolve each pair's action (id or name) and attribute value (id or FQN)."""
        if len(pairs) > MAX_ACTION_VALUES:
            raise RpcError(
                "invalid_argument", f"action_attribute_values: at most {MAX_ACTION_VALUES}"
            )
        out = []
        for p in pairs:
            which = p.WhichOneof("action_identifier")
            if which is None:
                raise RpcError(
                    "invalid_argument", "action_attribute_values: action_id or action_name required"
                )
            column = "id" if which == "action_id" else "name"
            ident = getattr(p, which)
            action = self._row(
                f"SELECT id FROM policy_actions WHERE {column} = ?",
                [ident if column == "id" else ident.strip().lower()],
                f"action {ident!r}",
            )
            which_value = p.WhichOneof("attribute_value_identifier")
            if which_value is None:
                raise RpcError(
                    "invalid_argument",
                    "action_attribute_values: attribute_value_id or attribute_value_fqn required",
                )
            value = self._value_row(getattr(p, which_value))
            out.append((action["id"], value["id"]))
        return list(dict.fromkeys(out))

    def _replace_action_values(self, rv_id: str, pairs: list[tuple[str, str]]) -> None:
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM policy_registered_resource_action_values WHERE resource_value_id = ?",
                [rv_id],
            )
            conn.executemany(
                "INSERT INTO policy_registered_resource_action_values (id, resource_value_id,"
                " action_id, attribute_value_id, labels, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, '{}', ?, ?)",
                [(new_id(), rv_id, a, v, now, now) for a, v in pairs],
            )

    def create_resource_value(
        self,
        resource: str,
        value: str,
        pairs: Sequence[Any] = (),
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.RegisteredResourceValue:
        rr = self._resource_row(required("resource_id", resource))
        norm = check_name("value", value)
        resolved = self._action_value_pairs(pairs)
        rv_id = self._insert_value(rr["id"], norm, metadata)
        if resolved:
            self._replace_action_values(rv_id, resolved)
        return self.get_resource_value(rv_id)

    def update_resource_value(
        self,
        ident: str,
        value: str,
        pairs: Sequence[Any],
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.RegisteredResourceValue:
        """Rename and/or replace the action/attribute value pairs (when any are given)."""
        row = self._resource_value_row(ident)
        resolved = self._action_value_pairs(pairs) if pairs else None
        values: dict[str, Any] = {}
        if value:
            values["value"] = check_name("value", value)
        self._apply(
            "policy_registered_resource_values",
            row,
            values,
            metadata,
            behavior,
            taken=f"registered resource value {value!r} already exists",
        )
        if resolved is not None:
            self._replace_action_values(row["id"], resolved)
        return self.get_resource_value(row["id"])

    def delete_resource_value(self, ident: str) -> po.RegisteredResourceValue:
        rv = self.get_resource_value(ident)
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM policy_registered_resource_action_values WHERE resource_value_id = ?",
                [rv.id],
            )
            conn.execute("DELETE FROM policy_registered_resource_values WHERE id = ?", [rv.id])
        return rv
