"""Entitlements and access decisions with OpenTDF's attribute rule semantics.

An entity is entitled to a value when one of the value's subject mappings' condition sets
holds over its claims. Data carrying attribute values is granted when, for every attribute
definition among them (definitions are ANDed):

- ``ALL_OF``: the entity is entitled to every value on the data;
- ``ANY_OF``: to at least one of them;
- ``HIERARCHY``: to a value at or above the highest one on the data (values are ordered
  highest first, as created).

A value FQN the platform does not know (or that is inactive) denies, naming it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.authz.conditions import condition_set_holds, entity_representation, flatten
from xtdf.platform.policy.store import PolicyStore, parse_value_fqn
from xtdf.platform.rpc import RpcError
from xtdf.platform.store import Database


def action_name(action: po.Action) -> str:
    """An action's name; the old standard actions map as upstream migrated them
    (DECRYPT -> ``read``, TRANSMIT -> ``create``)."""
    if action.name:
        return action.name.lower()
    which = action.WhichOneof("value")
    if which == "custom":
        return action.custom.lower()
    if which == "standard":
        return {
            po.Action.STANDARD_ACTION_DECRYPT: "read",
            po.Action.STANDARD_ACTION_TRANSMIT: "create",
        }.get(action.standard, "")
    return ""


@dataclass(frozen=True)
class Decision:
    permit: bool
    reason: str


def decide_definition(
    rule: int, ordered_values: list[str], data_values: list[str], entitled: set[str]
) -> tuple[bool, str]:
    """One definition's verdict; all arguments are value FQNs (lower case)."""
    if rule == po.ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF:
        missing = [v for v in data_values if v not in entitled]
        if missing:
            return False, f"ALL_OF: not entitled to {', '.join(missing)}"
        return True, "ALL_OF: entitled to every value"
    if rule == po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF:
        if any(v in entitled for v in data_values):
            return True, "ANY_OF: entitled to a value"
        return False, f"ANY_OF: not entitled to any of {', '.join(data_values)}"
    if rule == po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY:
        rank = {v: i for i, v in enumerate(ordered_values)}
        highest = min(data_values, key=lambda v: rank.get(v, len(rank)))
        limit = rank.get(highest, -1)
        if any(rank[v] <= limit for v in entitled if v in rank):
            return True, f"HIERARCHY: entitled at or above {highest}"
        return False, f"HIERARCHY: not entitled at or above {highest}"
    return False, f"rule {rule}: unsupported attribute rule"


class Authorizer:
    """Entitlements and decisions over the policy store."""

    _by_platform: ClassVar[weakref.WeakKeyDictionary[Any, Authorizer]] = weakref.WeakKeyDictionary()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, db: Database) -> None:
        self.policy = PolicyStore(db)

    @classmethod
    def for_platform(cls, platform: Any) -> Authorizer:
        with cls._lock:
            authz = cls._by_platform.get(platform.db)
            if authz is None:
                authz = cls._by_platform[platform.db] = cls(platform.db)
            return authz

    def entitled_actions(
        self, claims: Mapping[str, Any], *, comprehensive_hierarchy: bool = False
    ) -> dict[str, set[str]]:
        """Value FQN -> names of the actions the entity with these claims may take on it."""
        flat = flatten(entity_representation(claims))
        out: dict[str, set[str]] = {}
        for fqn, scs, actions in self.policy.mappings_with_values():
            if condition_set_holds(scs, flat):
                out.setdefault(fqn, set()).update(action_name(a) for a in actions)
        if comprehensive_hierarchy:
            for fqn, names in list(out.items()):
                for lower in self._lower_in_hierarchy(fqn):
                    out.setdefault(lower, set()).update(names)
        return out

    def entitlements(
        self,
        claims: Mapping[str, Any],
        *,
        comprehensive_hierarchy: bool = False,
        action: str | None = None,
    ) -> set[str]:
        """Value FQNs the entity with these token claims is entitled to (for ``action``,
        e.g. ``read``, when given; for any action otherwise)."""
        acts = self.entitled_actions(claims, comprehensive_hierarchy=comprehensive_hierarchy)
        want = action.lower() if action else None
        return {fqn for fqn, names in acts.items() if want is None or want in names}

    def _lower_in_hierarchy(self, fqn: str) -> list[str]:
        """``fqn`` and the values below it, when its definition is a hierarchy."""
        _, rule, order = self.policy.definition_of(fqn)
        if rule != po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY:
            return []
        return order[order.index(fqn) :]

    def decide(
        self, claims: Mapping[str, Any], data_fqns: Iterable[str], action: str | None = None
    ) -> Decision:
        """Whether the entity may take ``action`` (any mapped action when None; the KAS
        passes ``read``, upstream's name for decrypt) on data with these values."""
        return self.decide_entitled(self.entitlements(claims, action=action), data_fqns)

    def decide_entitled(self, entitled: set[str], data_fqns: Iterable[str]) -> Decision:
        """Decide for an already computed entitlement set."""
        groups: dict[str, tuple[int, list[str], list[str]]] = {}
        for fqn in data_fqns:
            try:
                norm = parse_value_fqn(fqn).fqn
                attr_fqn, rule, ordered = self.policy.definition_of(norm)
            except RpcError as exc:
                return Decision(False, f"unknown attribute value {fqn}: {exc.message}")
            entry = groups.setdefault(attr_fqn, (rule, ordered, []))
            if norm not in entry[2]:
                entry[2].append(norm)
        reasons = []
        for attr_fqn, (rule, ordered, values) in groups.items():
            ok, why = decide_definition(rule, ordered, values, entitled)
            if not ok:
                return Decision(False, f"{attr_fqn}: {why}")
            reasons.append(f"{attr_fqn}: {why}")
        return Decision(True, "; ".join(reasons) or "no attributes on the data")


def decide(
    platform: Any,
    claims: Mapping[str, Any],
    data_fqns: Iterable[str],
    action: str | None = None,
) -> Decision:
    """Whether the entity behind ``claims`` may access data with these attribute values."""
    return Authorizer.for_platform(platform).decide(claims, data_fqns, action)
