"""The subject mapping part of the policy store: condition sets and subject mappings."""

from __future__ import annotations

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
from xtdf.platform.policy.fqn import value_fqn
from xtdf.platform.rpc import RpcError


class SubjectMappings(StoreBase):
    """Subject condition sets and the mappings that entitle them to attribute values."""

    def create_condition_set(
        self,
        subject_sets: Iterable[po.SubjectSet],
        namespace: str = "",
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.SubjectConditionSet:
        sets = list(subject_sets)
        validate_subject_sets(sets)
        ns_id = self._namespace_row(namespace)["id"] if namespace else None
        scs_id = new_id()
        blob = po.SubjectConditionSet(subject_sets=sets).SerializeToString()
        self._insert(
            "policy_condition_sets",
            {
                "id": scs_id,
                "namespace_id": ns_id,
                "subject_sets": blob,
                "labels": labels_json(metadata),
            },
            "subject condition set",
        )
        return self.get_condition_set(scs_id)

    def _condition_set(self, row: sqlite3.Row) -> po.SubjectConditionSet:
        scs = po.SubjectConditionSet()
        scs.ParseFromString(row["subject_sets"])
        scs.id = row["id"]
        scs.metadata.CopyFrom(metadata_of(row))
        if row["namespace_id"]:
            scs.namespace.CopyFrom(
                self._namespace(self._namespace_row(row["namespace_id"]), detail=False)
            )
        return scs

    def get_condition_set(self, scs_id: str) -> po.SubjectConditionSet:
        return self._condition_set(
            self._row(
                "SELECT * FROM policy_condition_sets WHERE id = ?",
                [scs_id],
                f"subject condition set {scs_id!r}",
            )
        )

    def list_condition_sets(self, namespace: str = "") -> list[po.SubjectConditionSet]:
        sql, params = "SELECT * FROM policy_condition_sets", []
        if namespace:
            sql += " WHERE namespace_id = ?"
            params.append(self._namespace_row(namespace)["id"])
        return [self._condition_set(r) for r in self.db.query(sql + " ORDER BY created_at", params)]

    def update_condition_set(
        self,
        scs_id: str,
        subject_sets: list[po.SubjectSet],
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.SubjectConditionSet:
        """Replace the subject sets if any are given; apply the metadata update."""
        row = self._condition_set_row(scs_id)
        values: dict[str, object] = {}
        if subject_sets:
            validate_subject_sets(subject_sets)
            values["subject_sets"] = po.SubjectConditionSet(
                subject_sets=subject_sets
            ).SerializeToString()
        self._apply("policy_condition_sets", row, values, metadata, behavior)
        return self.get_condition_set(row["id"])

    def delete_condition_set(self, scs_id: str) -> po.SubjectConditionSet:
        """Delete a condition set no subject mapping uses (one in use is refused: deleting
        it would leave mappings that entitle nobody, or everybody)."""
        scs = self._condition_set(self._condition_set_row(scs_id))
        used = self.db.query(
            "SELECT id FROM policy_subject_mappings WHERE condition_set_id = ?", [scs.id]
        )
        if used:
            raise RpcError(
                "invalid_argument",
                f"subject condition set {scs.id} is used by {len(used)} subject mapping(s):"
                " delete or repoint them first",
            )
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM policy_condition_sets WHERE id = ?", [scs.id])
        return scs

    def delete_unmapped_condition_sets(self) -> list[po.SubjectConditionSet]:
        """Delete every condition set no subject mapping uses (``otdfctl ... prune``)."""
        unused = (
            " FROM policy_condition_sets WHERE id NOT IN"
            " (SELECT condition_set_id FROM policy_subject_mappings)"
        )
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT *" + unused + " ORDER BY created_at").fetchall()
            conn.execute("DELETE" + unused)
        return [self._condition_set(r) for r in rows]

    def _condition_set_row(self, scs_id: str) -> sqlite3.Row:
        return self._row(
            "SELECT * FROM policy_condition_sets WHERE id = ?",
            [required("id", scs_id)],
            f"subject condition set {scs_id!r}",
        )

    def create_subject_mapping(
        self,
        value_id: str,
        actions: Iterable[po.Action],
        condition_set_id: str = "",
        new_condition_set: Iterable[po.SubjectSet] | None = None,
        namespace: str = "",
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.SubjectMapping:
        if not value_id:
            raise RpcError("invalid_argument", "attribute_value_id: required")
        value = self._value_row(value_id)
        acts = self._resolve_actions(list(actions))
        if condition_set_id and new_condition_set is not None:
            raise RpcError(
                "invalid_argument",
                "existing_subject_condition_set_id: give it or new_subject_condition_set, not both",
            )
        if condition_set_id:
            scs_id = self.get_condition_set(condition_set_id).id
        elif new_condition_set is not None:
            scs_id = self.create_condition_set(new_condition_set, namespace).id
        else:
            raise RpcError(
                "invalid_argument",
                "existing_subject_condition_set_id: or new_subject_condition_set is required",
            )
        ns_id = self._namespace_row(namespace)["id"] if namespace else None
        sm_id = new_id()
        blob = po.SubjectMapping(actions=acts).SerializeToString()
        self._insert(
            "policy_subject_mappings",
            {
                "id": sm_id,
                "value_id": value["id"],
                "condition_set_id": scs_id,
                "namespace_id": ns_id,
                "actions": blob,
                "labels": labels_json(metadata),
            },
            "subject mapping",
        )
        return self.get_subject_mapping(sm_id)

    def _subject_mapping(self, row: sqlite3.Row, *, with_value: bool = True) -> po.SubjectMapping:
        sm = po.SubjectMapping()
        sm.ParseFromString(row["actions"])
        sm.id = row["id"]
        sm.metadata.CopyFrom(metadata_of(row))
        sm.subject_condition_set.CopyFrom(self.get_condition_set(row["condition_set_id"]))
        if with_value:
            vrow = self._value_row(row["value_id"])
            sm.attribute_value.CopyFrom(self._value(vrow, vrow["ns_name"], vrow["attr_name"]))
        else:
            sm.attribute_value.id = row["value_id"]
        if row["namespace_id"]:
            sm.namespace.CopyFrom(
                self._namespace(self._namespace_row(row["namespace_id"]), detail=False)
            )
        return sm

    def get_subject_mapping(self, sm_id: str) -> po.SubjectMapping:
        return self._subject_mapping(
            self._row(
                "SELECT * FROM policy_subject_mappings WHERE id = ?",
                [sm_id],
                f"subject mapping {sm_id!r}",
            )
        )

    def list_subject_mappings(self, namespace: str = "") -> list[po.SubjectMapping]:
        sql, params = "SELECT * FROM policy_subject_mappings", []
        if namespace:
            sql += " WHERE namespace_id = ?"
            params.append(self._namespace_row(namespace)["id"])
        rows = self.db.query(sql + " ORDER BY created_at", params)
        return [self._subject_mapping(r) for r in rows]

    def update_subject_mapping(
        self,
        sm_id: str,
        condition_set_id: str,
        actions: list[po.Action],
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.SubjectMapping:
        """Repoint the condition set and/or replace the actions (what is given)."""
        row = self._subject_mapping_row(sm_id)
        values: dict[str, object] = {}
        if condition_set_id:
            values["condition_set_id"] = self.get_condition_set(condition_set_id).id
        if actions:
            actions = self._resolve_actions(actions)
            values["actions"] = po.SubjectMapping(actions=actions).SerializeToString()
        self._apply("policy_subject_mappings", row, values, metadata, behavior)
        return self.get_subject_mapping(row["id"])

    def delete_subject_mapping(self, sm_id: str) -> po.SubjectMapping:
        """Delete a mapping (its condition set stays: others may use it)."""
        mapping = self._subject_mapping(self._subject_mapping_row(sm_id))
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM policy_subject_mappings WHERE id = ?", [mapping.id])
        return mapping

    def _subject_mapping_row(self, sm_id: str) -> sqlite3.Row:
        return self._row(
            "SELECT * FROM policy_subject_mappings WHERE id = ?",
            [required("id", sm_id)],
            f"subject mapping {sm_id!r}",
        )

    def _resolve_actions(self, acts: list[po.Action]) -> list[po.Action]:
        """Check the actions a mapping grants; one named only by id (as otdfctl sends a
        UUID given to ``--action``) gets its name from the action table."""
        out = []
        for given in acts:
            a = po.Action()
            a.CopyFrom(given)
            if a.id and not (a.name or a.WhichOneof("value")):
                row = self._row(
                    "SELECT name FROM policy_actions WHERE id = ?", [a.id], f"action {a.id!r}"
                )
                a.name = row["name"]
            out.append(a)
        _check_actions(out)
        return out

    def match_subject_mappings(self, selectors: Iterable[str]) -> list[po.SubjectMapping]:
        """The mappings of active values whose condition set tests any of ``selectors``.

        As upstream: only the selectors are compared (a property's value is not), since a
        match only says which mappings could apply; entitlement still needs the condition
        set evaluated against the entity."""
        wanted = {s for s in selectors if s}
        if not wanted:
            raise RpcError(
                "invalid_argument",
                "subject_properties: at least one external_selector_value is required",
            )
        rows = self.db.query(
            "SELECT m.*, c.subject_sets FROM policy_subject_mappings m"
            " JOIN policy_values v ON v.id = m.value_id"
            " JOIN policy_attributes a ON a.id = v.attribute_id"
            " JOIN policy_namespaces n ON n.id = a.namespace_id"
            " JOIN policy_condition_sets c ON c.id = m.condition_set_id"
            " WHERE v.active = 1 AND a.active = 1 AND n.active = 1 ORDER BY m.created_at"
        )
        out = []
        for r in rows:
            scs = po.SubjectConditionSet.FromString(r["subject_sets"])
            tested = {
                c.subject_external_selector_value
                for s in scs.subject_sets
                for g in s.condition_groups
                for c in g.conditions
            }
            if tested & wanted:
                out.append(self._subject_mapping(r))
        return out

    def subject_mappings_for_value(self, value_id: str) -> list[po.SubjectMapping]:
        rows = self.db.query(
            "SELECT * FROM policy_subject_mappings WHERE value_id = ? ORDER BY created_at",
            [value_id],
        )
        return [self._subject_mapping(r, with_value=False) for r in rows]

    def mappings_with_values(
        self,
    ) -> list[tuple[str, po.SubjectConditionSet, list[po.Action]]]:
        """Every (value FQN, condition set, actions) of active values: the entitlement rules.

        One query, and remembered until policy changes: the KAS asks on every rewrap."""
        return self.db.memo("mappings_with_values", self._mappings_with_values)

    def _mappings_with_values(
        self,
    ) -> list[tuple[str, po.SubjectConditionSet, list[po.Action]]]:
        rows = self.db.query(
            "SELECT c.subject_sets, m.actions, v.value, a.name AS attr_name, n.name AS ns_name"
            " FROM policy_subject_mappings m JOIN policy_values v ON v.id = m.value_id"
            " JOIN policy_attributes a ON a.id = v.attribute_id"
            " JOIN policy_namespaces n ON n.id = a.namespace_id"
            " JOIN policy_condition_sets c ON c.id = m.condition_set_id"
            " WHERE v.active = 1 AND a.active = 1 AND n.active = 1"
        )
        return [
            (
                value_fqn(r["ns_name"], r["attr_name"], r["value"]),
                po.SubjectConditionSet.FromString(r["subject_sets"]),
                list(po.SubjectMapping.FromString(r["actions"]).actions),
            )
            for r in rows
        ]


def _check_actions(acts: list[po.Action]) -> None:
    if not acts:
        raise RpcError("invalid_argument", "actions: at least one action is required")
    if any(not (a.name or a.WhichOneof("value")) for a in acts):
        raise RpcError("invalid_argument", "actions: each action needs a name (e.g. read)")


def validate_subject_sets(sets: list[po.SubjectSet]) -> None:
    """Reject what the evaluator could not interpret, naming the field."""
    if not sets:
        raise RpcError("invalid_argument", "subject_sets: at least one subject set is required")
    for s in sets:
        if not s.condition_groups:
            raise RpcError("invalid_argument", "subject_sets.condition_groups: must not be empty")
        for g in s.condition_groups:
            if g.boolean_operator not in (
                po.CONDITION_BOOLEAN_TYPE_ENUM_AND,
                po.CONDITION_BOOLEAN_TYPE_ENUM_OR,
            ):
                raise RpcError(
                    "invalid_argument", "condition_groups.boolean_operator: must be AND or OR"
                )
            if not g.conditions:
                raise RpcError("invalid_argument", "condition_groups.conditions: must not be empty")
            for c in g.conditions:
                if not c.subject_external_selector_value:
                    raise RpcError(
                        "invalid_argument", "conditions.subject_external_selector_value: required"
                    )
                if c.operator not in (
                    po.SUBJECT_MAPPING_OPERATOR_ENUM_IN,
                    po.SUBJECT_MAPPING_OPERATOR_ENUM_NOT_IN,
                    po.SUBJECT_MAPPING_OPERATOR_ENUM_IN_CONTAINS,
                ):
                    raise RpcError(
                        "invalid_argument", "conditions.operator: must be IN, NOT_IN or IN_CONTAINS"
                    )
                if not c.subject_external_values:
                    raise RpcError(
                        "invalid_argument", "conditions.subject_external_values: must not be empty"
                    )
