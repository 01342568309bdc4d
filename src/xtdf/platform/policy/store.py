"""Policy objects in SQLite, read and written as OpenTDF protobuf messages.

The RPC handlers, the authorization engine and the KAS key store all go through
:class:`PolicyStore`, so that FQN normalisation, uniqueness and "not found" behave the
same everywhere. Errors are :class:`RpcError` with the Connect code upstream uses
(``already_exists``, ``not_found``, ``invalid_argument`` naming the field).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from google.protobuf.wrappers_pb2 import BoolValue

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.actions import Actions
from xtdf.platform.policy.base import active_clause, labels_json, metadata_of, new_id, required
from xtdf.platform.policy.fqn import (
    ATTR_FQN_RE,
    NAMESPACE_RE,
    NS_FQN_RE,
    ValueFqn,
    attribute_fqn,
    check_name,
    namespace_fqn,
    parse_value_fqn,
    value_fqn,
)
from xtdf.platform.policy.providers import ProviderConfigs
from xtdf.platform.policy.registered import RegisteredResources
from xtdf.platform.policy.registry import KasRegistry, merge_keys_into_grants
from xtdf.platform.policy.resources import ResourceMappings
from xtdf.platform.policy.subjects import SubjectMappings, validate_subject_sets
from xtdf.platform.policy.unsafe import UnsafeEdits
from xtdf.platform.rpc import RpcError
from xtdf.platform.store import Database

__all__ = ["PolicyStore", "ValueFqn", "parse_value_fqn", "validate_subject_sets"]


class PolicyStore(
    KasRegistry,
    SubjectMappings,
    ResourceMappings,
    RegisteredResources,
    Actions,
    ProviderConfigs,
    UnsafeEdits,
):
    """All reads and writes of policy objects: namespaces, definitions and values here,
    the KAS registry, subject and resource mappings, registered resources, actions, key
    provider configurations and unsafe edits in the parts it inherits."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._seed_standard_actions()  # subject mappings and resources name them

    # --- namespaces -----------------------------------------------------------

    def create_namespace(
        self, name: str, metadata: common_pb2.MetadataMutable | None = None
    ) -> po.Namespace:
        norm = check_name("name", name, NAMESPACE_RE)
        ns_id = new_id()
        self._insert(
            "policy_namespaces",
            {"id": ns_id, "name": norm, "labels": labels_json(metadata)},
            f"namespace {norm!r}",
        )
        return self.get_namespace(ns_id)

    def _namespace_row(self, ident: str) -> sqlite3.Row:
        ident = ident.strip()
        m = NS_FQN_RE.match(ident.lower())
        if m:
            return self._row(
                "SELECT * FROM policy_namespaces WHERE name = ?",
                [m.group(1)],
                f"namespace {ident!r}",
            )
        return self._row(
            "SELECT * FROM policy_namespaces WHERE id = ? OR name = ?",
            [ident, ident.lower()],
            f"namespace {ident!r}",
        )

    def _namespace(self, row: sqlite3.Row, *, detail: bool = True) -> po.Namespace:
        ns = po.Namespace(
            id=row["id"],
            name=row["name"],
            fqn=namespace_fqn(row["name"]),
            active=BoolValue(value=bool(row["active"])),
            metadata=metadata_of(row),
        )
        if detail:
            ns.grants.extend(self.grants("namespace", row["id"]))
            ns.kas_keys.extend(self.mapped_keys("namespace", row["id"]))
        return ns

    def get_namespace(self, ident: str) -> po.Namespace:
        """By id, name or FQN (``https://example.com``)."""
        return self._namespace(self._namespace_row(ident))

    def list_namespaces(self, state: int = 0) -> list[po.Namespace]:
        rows = self.db.query(
            f"SELECT * FROM policy_namespaces WHERE {active_clause(state)} ORDER BY name"
        )
        return [self._namespace(r) for r in rows]

    def update_namespace(
        self, ident: str, metadata: common_pb2.MetadataMutable | None, behavior: int
    ) -> po.Namespace:
        """Only the labels change (a namespace's name is its identity: upstream renames
        only through the unsafe service)."""
        row = self._namespace_row(required("id", ident))
        self._relabel("policy_namespaces", row, metadata, behavior)
        return self.get_namespace(row["id"])

    def deactivate_namespace(self, ident: str) -> po.Namespace:
        """Deactivate the namespace and, as upstream's cascade trigger does, every
        definition in it and every value of those; nothing is deleted, and inactive
        values stop entitling (the KAS and decisions read active policy only)."""
        row = self._namespace_row(required("id", ident))
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE policy_namespaces SET active = 0, updated_at = ? WHERE id = ?",
                [now, row["id"]],
            )
            conn.execute(
                "UPDATE policy_values SET active = 0, updated_at = ? WHERE attribute_id IN"
                " (SELECT id FROM policy_attributes WHERE namespace_id = ?) AND active = 1",
                [now, row["id"]],
            )
            conn.execute(
                "UPDATE policy_attributes SET active = 0, updated_at = ?"
                " WHERE namespace_id = ? AND active = 1",
                [now, row["id"]],
            )
        return self.get_namespace(row["id"])

    # --- attributes and values ------------------------------------------------

    def create_attribute(
        self,
        namespace_id: str,
        name: str,
        rule: int,
        values: Iterable[str] = (),
        metadata: common_pb2.MetadataMutable | None = None,
        allow_traversal: bool = False,
    ) -> po.Attribute:
        if not namespace_id:
            raise RpcError("invalid_argument", "namespace_id: required")
        ns = self._namespace_row(namespace_id)
        norm = check_name("name", name)
        if rule not in (
            po.ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF,
            po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF,
            po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY,
        ):
            raise RpcError(
                "invalid_argument", f"rule: must be ALL_OF, ANY_OF or HIERARCHY ({rule})"
            )
        vals = [check_name("values", v) for v in values]
        if len(set(vals)) != len(vals):
            raise RpcError("invalid_argument", "values: must be unique")
        attr_id = new_id()
        now = time.time()
        labels = labels_json(metadata)
        row = [attr_id, ns["id"], norm, rule, int(allow_traversal), labels, now, now]
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO policy_attributes (id, namespace_id, name, rule, allow_traversal,"
                    " labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                for pos, v in enumerate(vals):
                    conn.execute(
                        "INSERT INTO policy_values (id, attribute_id, value, position, labels,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?)",
                        [new_id(), attr_id, v, pos, now, now],
                    )
        except sqlite3.IntegrityError as exc:
            fqn = attribute_fqn(ns["name"], norm)
            raise RpcError("already_exists", f"attribute {fqn} already exists") from exc
        return self.get_attribute(attr_id)

    def _attribute_row(self, ident: str) -> sqlite3.Row:
        m = ATTR_FQN_RE.match(ident.strip().lower())
        if m:
            return self._row(
                "SELECT a.*, n.name AS ns_name FROM policy_attributes a"
                " JOIN policy_namespaces n ON n.id = a.namespace_id"
                " WHERE n.name = ? AND a.name = ?",
                m.groups(),
                f"attribute {ident!r}",
            )
        return self._row(
            "SELECT a.*, n.name AS ns_name FROM policy_attributes a"
            " JOIN policy_namespaces n ON n.id = a.namespace_id WHERE a.id = ?",
            [ident],
            f"attribute {ident!r}",
        )

    def _attribute(self, row: sqlite3.Row, *, with_values: bool = True) -> po.Attribute:
        ns_row = self._namespace_row(row["namespace_id"])
        attr = po.Attribute(
            id=row["id"],
            namespace=self._namespace(ns_row),
            name=row["name"],
            rule=row["rule"],
            fqn=attribute_fqn(row["ns_name"], row["name"]),
            active=BoolValue(value=bool(row["active"])),
            allow_traversal=BoolValue(value=bool(row["allow_traversal"])),
            metadata=metadata_of(row),
        )
        attr.grants.extend(self.grants("attribute", row["id"]))
        attr.kas_keys.extend(self.mapped_keys("attribute", row["id"]))
        if with_values:
            for vrow in self.db.query(
                "SELECT * FROM policy_values WHERE attribute_id = ? ORDER BY position",
                [row["id"]],
            ):
                attr.values.append(self._value(vrow, row["ns_name"], row["name"]))
        return attr

    def get_attribute(self, ident: str) -> po.Attribute:
        """By id or FQN (``https://<ns>/attr/<name>``)."""
        return self._attribute(self._attribute_row(ident))

    def list_attributes(self, namespace: str = "", state: int = 0) -> list[po.Attribute]:
        sql = (
            "SELECT a.*, n.name AS ns_name FROM policy_attributes a"
            " JOIN policy_namespaces n ON n.id = a.namespace_id"
            f" WHERE {active_clause(state, 'a.active')}"
        )
        params: list[Any] = []
        if namespace:
            ns = self._namespace_row(namespace)
            sql += " AND a.namespace_id = ?"
            params.append(ns["id"])
        rows = self.db.query(sql + " ORDER BY n.name, a.name", params)
        return [self._attribute(r) for r in rows]

    def update_attribute(
        self, ident: str, metadata: common_pb2.MetadataMutable | None, behavior: int
    ) -> po.Attribute:
        """Only the labels change; name, rule and value order are the unsafe service's."""
        row = self._attribute_row(required("id", ident))
        self._relabel("policy_attributes", row, metadata, behavior)
        return self.get_attribute(row["id"])

    def deactivate_attribute(self, ident: str) -> po.Attribute:
        """Deactivate the definition and, cascading as upstream does, all its values."""
        row = self._attribute_row(required("id", ident))
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE policy_attributes SET active = 0, updated_at = ? WHERE id = ?",
                [now, row["id"]],
            )
            conn.execute(
                "UPDATE policy_values SET active = 0, updated_at = ?"
                " WHERE attribute_id = ? AND active = 1",
                [now, row["id"]],
            )
        return self.get_attribute(row["id"])

    def list_values(self, attribute_id: str, state: int = 0) -> list[po.Value]:
        """The values of one definition in their stored order (``HIERARCHY`` rank)."""
        attr = self._attribute_row(required("attribute_id", attribute_id))
        rows = self.db.query(
            f"SELECT * FROM policy_values WHERE attribute_id = ? AND {active_clause(state)}"
            " ORDER BY position",
            [attr["id"]],
        )
        return [self._value(r, attr["ns_name"], attr["name"]) for r in rows]

    def create_value(
        self, attribute_id: str, value: str, metadata: common_pb2.MetadataMutable | None = None
    ) -> po.Value:
        if not attribute_id:
            raise RpcError("invalid_argument", "attribute_id: required")
        attr = self._attribute_row(attribute_id)
        norm = check_name("value", value)
        nxt = self.db.one(
            "SELECT COALESCE(MAX(position) + 1, 0) AS p FROM policy_values WHERE attribute_id = ?",
            [attr["id"]],
        )
        value_id = new_id()
        self._insert(
            "policy_values",
            {
                "id": value_id,
                "attribute_id": attr["id"],
                "value": norm,
                "position": nxt["p"] if nxt else 0,
                "labels": labels_json(metadata),
            },
            f"value {value_fqn(attr['ns_name'], attr['name'], norm)}",
        )
        return self.get_value(value_id)

    def _value_row(self, ident: str) -> sqlite3.Row:
        base = (
            "SELECT v.*, a.name AS attr_name, n.name AS ns_name FROM policy_values v"
            " JOIN policy_attributes a ON a.id = v.attribute_id"
            " JOIN policy_namespaces n ON n.id = a.namespace_id"
        )
        if ident.strip().lower().startswith(("https://", "http://")):
            parts = parse_value_fqn(ident)
            return self._row(
                base + " WHERE n.name = ? AND a.name = ? AND v.value = ?",
                [parts.namespace, parts.attribute, parts.value],
                f"attribute value {parts.fqn}",
            )
        return self._row(base + " WHERE v.id = ?", [ident], f"attribute value {ident!r}")

    def _value(
        self, row: sqlite3.Row, ns_name: str, attr_name: str, *, subject_mappings: bool = False
    ) -> po.Value:
        val = po.Value(
            id=row["id"],
            value=row["value"],
            fqn=value_fqn(ns_name, attr_name, row["value"]),
            active=BoolValue(value=bool(row["active"])),
            metadata=metadata_of(row),
        )
        val.grants.extend(self.grants("value", row["id"]))
        val.kas_keys.extend(self.mapped_keys("value", row["id"]))
        if subject_mappings:
            val.subject_mappings.extend(self.subject_mappings_for_value(row["id"]))
        return val

    def get_value(self, ident: str) -> po.Value:
        """By id or FQN; includes the subject mappings that entitle it."""
        row = self._value_row(ident)
        val = self._value(row, row["ns_name"], row["attr_name"], subject_mappings=True)
        attr = self._attribute(self._attribute_row(row["attribute_id"]), with_values=False)
        val.attribute.CopyFrom(attr)
        return val

    def update_value(
        self, ident: str, metadata: common_pb2.MetadataMutable | None, behavior: int
    ) -> po.Value:
        row = self._value_row(required("id", ident))
        self._relabel("policy_values", row, metadata, behavior)
        return self.get_value(row["id"])

    def deactivate_value(self, ident: str) -> po.Value:
        row = self._value_row(required("id", ident))
        self._update("policy_values", row["id"], {"active": 0})
        return self.get_value(row["id"])

    def values_by_fqns(
        self, fqns: Iterable[str]
    ) -> dict[str, tuple[po.Attribute, po.Value | None]]:
        """Per requested FQN (lower-cased, as upstream keys its answer): the definition with
        its active values, and the value.

        A missing value of a definition that allows traversal yields the definition alone
        (value ``None``); otherwise missing or inactive values raise ``not_found`` naming
        the FQN, as upstream does.
        """
        out: dict[str, tuple[po.Attribute, po.Value | None]] = {}
        attrs: dict[str, po.Attribute] = {}

        def definition(attr_id: str) -> po.Attribute:
            attr = attrs.get(attr_id)
            if attr is None:
                attr = attrs[attr_id] = self._attribute(self._attribute_row(attr_id))
                active = [v for v in attr.values if v.active.value]
                del attr.values[:]
                attr.values.extend(active)
            return attr

        for fqn in fqns:
            parts = parse_value_fqn(fqn)
            try:
                row = self._value_row(parts.fqn)
            except RpcError as exc:
                if exc.code != "not_found":
                    raise
                try:
                    attr_row = self._attribute_row(parts.attribute_fqn)
                except RpcError:
                    raise exc from None
                if not attr_row["allow_traversal"]:
                    raise
                out[fqn.lower()] = (definition(attr_row["id"]), None)
                continue
            if not row["active"]:
                raise RpcError("not_found", f"attribute value {fqn} is inactive")
            value = self._value(row, row["ns_name"], row["attr_name"], subject_mappings=True)
            merge_keys_into_grants(value)
            out[fqn.lower()] = (definition(row["attribute_id"]), value)
        for attr in attrs.values():
            merge_keys_into_grants(attr)
            merge_keys_into_grants(attr.namespace)
        return out

    def definition_of(self, fqn: str) -> tuple[str, int, list[str]]:
        """(definition FQN, rule, its active value FQNs in order) of an active value FQN."""
        return self.db.memo(("definition_of", fqn), lambda: self._definition_of(fqn))

    def _definition_of(self, fqn: str) -> tuple[str, int, list[str]]:
        parts = parse_value_fqn(fqn)
        rows = self.db.query(
            "SELECT a.rule, v.value, v.active FROM policy_attributes a"
            " JOIN policy_namespaces n ON n.id = a.namespace_id"
            " JOIN policy_values v ON v.attribute_id = a.id"
            " WHERE n.name = ? AND a.name = ? AND a.active = 1 AND n.active = 1"
            " ORDER BY v.position",
            [parts.namespace, parts.attribute],
        )
        values = [
            value_fqn(parts.namespace, parts.attribute, r["value"]) for r in rows if r["active"]
        ]
        if parts.fqn not in values:
            raise RpcError("not_found", f"attribute value {parts.fqn} not found")
        return parts.attribute_fqn, rows[0]["rule"], values
