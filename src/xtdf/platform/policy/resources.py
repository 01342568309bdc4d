"""The resource mapping part of the policy store: mappings and their groups.

A resource mapping says which terms (words a labelling tool finds in a resource) stand
for an attribute value; a group (``https://<namespace>/resm/<name>``) collects mappings
under a namespace so that a tool can ask for one set by FQN. Terms are stored as a JSON
list: they are only ever read whole.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.base import (
    StoreBase,
    labels_json,
    metadata_of,
    new_id,
    required,
)
from xtdf.platform.policy.fqn import check_name, namespace_fqn
from xtdf.platform.rpc import RpcError

GROUP_FQN_RE = re.compile(r"^https://([^/]+)/resm/([^/]+)$")
#: bounds a request cannot pass (a mapping's terms are read on every lookup)
MAX_TERMS, MAX_TERM_LENGTH = 1000, 1024


def group_fqn(namespace: str, name: str) -> str:
    return f"{namespace_fqn(namespace)}/resm/{name}"


def _terms(terms: Iterable[str]) -> str:
    out = [t.strip() for t in terms]
    if not out or not all(out):
        raise RpcError("invalid_argument", "terms: at least one non-empty term is required")
    if len(out) > MAX_TERMS or max(map(len, out)) > MAX_TERM_LENGTH:
        raise RpcError(
            "invalid_argument",
            f"terms: at most {MAX_TERMS} terms of at most {MAX_TERM_LENGTH} characters",
        )
    return json.dumps(out)


class ResourceMappings(StoreBase):
    """Resource mappings and resource mapping groups."""

    # --- groups ---------------------------------------------------------------

    def _group_row(self, ident: str) -> sqlite3.Row:
        return self._row(
            "SELECT g.*, n.name AS ns_name FROM policy_resource_mapping_groups g"
            " JOIN policy_namespaces n ON n.id = g.namespace_id WHERE g.id = ?",
            [required("id", ident)],
            f"resource mapping group {ident!r}",
        )

    @staticmethod
    def _group(row: sqlite3.Row) -> po.ResourceMappingGroup:
        return po.ResourceMappingGroup(
            id=row["id"],
            namespace_id=row["namespace_id"],
            name=row["name"],
            fqn=group_fqn(row["ns_name"], row["name"]),
            metadata=metadata_of(row),
        )

    def get_group(self, ident: str) -> po.ResourceMappingGroup:
        return self._group(self._group_row(ident))

    def list_groups(self, namespace: str = "") -> list[po.ResourceMappingGroup]:
        sql = (
            "SELECT g.*, n.name AS ns_name FROM policy_resource_mapping_groups g"
            " JOIN policy_namespaces n ON n.id = g.namespace_id"
        )
        params: list[str] = []
        if namespace:
            sql += " WHERE g.namespace_id = ?"
            params.append(self._namespace_row(namespace)["id"])
        rows = self.db.query(sql + " ORDER BY n.name, g.name", params)
        return [self._group(r) for r in rows]

    def create_group(
        self, namespace: str, name: str, metadata: common_pb2.MetadataMutable | None = None
    ) -> po.ResourceMappingGroup:
        ns = self._namespace_row(required("namespace_id", namespace))
        norm = check_name("name", name)
        group_id = new_id()
        self._insert(
            "policy_resource_mapping_groups",
            {
                "id": group_id,
                "namespace_id": ns["id"],
                "name": norm,
                "labels": labels_json(metadata),
            },
            f"resource mapping group {group_fqn(ns['name'], norm)}",
        )
        return self.get_group(group_id)

    def update_group(
        self,
        ident: str,
        namespace: str,
        name: str,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.ResourceMappingGroup:
        row = self._group_row(ident)
        values: dict[str, object] = {}
        if namespace:
            values["namespace_id"] = self._namespace_row(namespace)["id"]
        if name:
            values["name"] = check_name("name", name)
        self._apply(
            "policy_resource_mapping_groups",
            row,
            values,
            metadata,
            behavior,
            taken=f"resource mapping group {name or row['name']!r} exists",
        )
        return self.get_group(row["id"])

    def delete_group(self, ident: str) -> po.ResourceMappingGroup:
        """Delete a group; its mappings stay, in no group (upstream's ON DELETE SET NULL)."""
        group = self._group(self._group_row(ident))
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE policy_resource_mappings SET group_id = NULL WHERE group_id = ?",
                [group.id],
            )
            conn.execute("DELETE FROM policy_resource_mapping_groups WHERE id = ?", [group.id])
        return group

    # --- mappings -------------------------------------------------------------

    def _resource_mapping(self, row: sqlite3.Row) -> po.ResourceMapping:
        vrow = self._value_row(row["value_id"])
        rm = po.ResourceMapping(
            id=row["id"],
            metadata=metadata_of(row),
            attribute_value=self._value(vrow, vrow["ns_name"], vrow["attr_name"]),
            terms=json.loads(row["terms"]),
        )
        if row["group_id"]:
            rm.group.CopyFrom(self.get_group(row["group_id"]))
        return rm

    def _mapping_row(self, ident: str) -> sqlite3.Row:
        return self._row(
            "SELECT * FROM policy_resource_mappings WHERE id = ?",
            [required("id", ident)],
            f"resource mapping {ident!r}",
        )

    def get_resource_mapping(self, ident: str) -> po.ResourceMapping:
        return self._resource_mapping(self._mapping_row(ident))

    def list_resource_mappings(self, group: str = "") -> list[po.ResourceMapping]:
        sql, params = "SELECT * FROM policy_resource_mappings", []
        if group:
            sql += " WHERE group_id = ?"
            params.append(self._group_row(group)["id"])
        rows = self.db.query(sql + " ORDER BY created_at", params)
        return [self._resource_mapping(r) for r in rows]

    def resource_mappings_by_group_fqns(
        self, fqns: Iterable[str]
    ) -> dict[str, tuple[po.ResourceMappingGroup, list[po.ResourceMapping]]]:
        """Per group FQN that names a group with mappings, the group and its mappings.

        As upstream: malformed FQNs and empty or unknown groups are left out of the
        answer, and an answer with none of them is ``not_found``."""
        out = {}
        for fqn in fqns:
            m = GROUP_FQN_RE.match(fqn.strip().lower())
            if not m:
                continue
            row = self.db.one(
                "SELECT g.*, n.name AS ns_name FROM policy_resource_mapping_groups g"
                " JOIN policy_namespaces n ON n.id = g.namespace_id"
                " WHERE n.name = ? AND g.name = ?",
                list(m.groups()),
            )
            if row is None:
                continue
            mappings = self.list_resource_mappings(row["id"])
            if mappings:
                out[fqn] = (self._group(row), mappings)
        if not out:
            raise RpcError("not_found", "fqns: no resource mapping group with mappings found")
        return out

    def create_resource_mapping(
        self,
        value_id: str,
        terms: Iterable[str],
        group_id: str = "",
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.ResourceMapping:
        value = self._value_row(required("attribute_value_id", value_id))
        group = self._group_row(group_id)["id"] if group_id else None
        rm_id = new_id()
        self._insert(
            "policy_resource_mappings",
            {
                "id": rm_id,
                "value_id": value["id"],
                "terms": _terms(terms),
                "group_id": group,
                "labels": labels_json(metadata),
            },
            "resource mapping",
        )
        return self.get_resource_mapping(rm_id)

    def update_resource_mapping(
        self,
        ident: str,
        value_id: str,
        terms: list[str],
        group_id: str,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.ResourceMapping:
        """Change what the request sets; empty fields stay as they are."""
        row = self._mapping_row(ident)
        values: dict[str, object] = {}
        if value_id:
            values["value_id"] = self._value_row(value_id)["id"]
        if terms:
            values["terms"] = _terms(terms)
        if group_id:
            values["group_id"] = self._group_row(group_id)["id"]
        self._apply("policy_resource_mappings", row, values, metadata, behavior)
        return self.get_resource_mapping(row["id"])

    def delete_resource_mapping(self, ident: str) -> po.ResourceMapping:
        rm = self._resource_mapping(self._mapping_row(ident))
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM policy_resource_mappings WHERE id = ?", [rm.id])
        return rm
