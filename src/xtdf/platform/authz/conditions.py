"""Subject condition sets evaluated over an entity's token claims.

Selectors address the claims flattened the way upstream's ``lib/flattening`` does: a map key
``k`` adds ``.k``, a list element adds both ``[i]`` and ``[]``; so ``.clientId``,
``.realm_access.roles[]`` and ``.groups[0]`` all select scalar leaves. A selector matches
every leaf with exactly that key. Semantics follow the Go platform:

- ``IN``: some selected value equals some listed value;
- ``NOT_IN``: no selected value equals a listed one (true when nothing is selected);
- ``IN_CONTAINS``: some selected value, as text, contains a listed value;
- a condition group ANDs or ORs its conditions, a subject set ANDs its groups, a condition
  set ANDs its subject sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xtdf._proto.policy import objects_pb2 as po
from xtdf.errors import XtdfError

Flat = list[tuple[str, Any]]


class ConditionError(XtdfError):
    """A condition set uses an operator the evaluator does not know."""


def flatten(value: Any, prefix: str = "") -> Flat:
    """(selector, scalar) pairs of a JSON value."""
    out: Flat = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            out.extend(flatten(v, f"{prefix}.{k}"))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            out.extend(flatten(v, f"{prefix}[{i}]"))
            out.extend(flatten(v, f"{prefix}[]"))
    elif value is not None:
        out.append((prefix, value))
    return out


def select(flat: Flat, selector: str) -> list[Any]:
    return [v for k, v in flat if k == selector]


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def condition_holds(cond: po.Condition, flat: Flat) -> bool:
    selected = select(flat, cond.subject_external_selector_value)
    wanted = list(cond.subject_external_values)
    if cond.operator == po.SUBJECT_MAPPING_OPERATOR_ENUM_IN:
        return any(isinstance(s, str) and s in wanted for s in selected)
    if cond.operator == po.SUBJECT_MAPPING_OPERATOR_ENUM_NOT_IN:
        return not any(isinstance(s, str) and s in wanted for s in selected)
    if cond.operator == po.SUBJECT_MAPPING_OPERATOR_ENUM_IN_CONTAINS:
        return any(w in _text(s) for s in selected for w in wanted)
    raise ConditionError(f"unsupported subject mapping operator {cond.operator}")


def group_holds(group: po.ConditionGroup, flat: Flat) -> bool:
    results = (condition_holds(c, flat) for c in group.conditions)
    if group.boolean_operator == po.CONDITION_BOOLEAN_TYPE_ENUM_AND:
        return all(results)
    if group.boolean_operator == po.CONDITION_BOOLEAN_TYPE_ENUM_OR:
        return any(results)
    raise ConditionError(f"unsupported condition group operator {group.boolean_operator}")


def condition_set_holds(scs: po.SubjectConditionSet, flat: Flat) -> bool:
    return all(
        all(group_holds(g, flat) for g in subject_set.condition_groups)
        for subject_set in scs.subject_sets
    )


def entity_representation(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims plus the camelCase names IdP-backed resolvers expose (``clientId``,
    ``username``), so mappings written for upstream's Keycloak resolver still match."""
    rep = dict(claims)
    client = claims.get("client_id") or claims.get("azp")
    if client and "clientId" not in rep:
        rep["clientId"] = client
    user = claims.get("preferred_username")
    if user and "username" not in rep:
        rep["username"] = user
    return rep
