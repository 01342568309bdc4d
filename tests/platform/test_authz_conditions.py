"""Subject condition sets over token claims (``xtdf.platform.authz.conditions``): how
claims flatten into selectors, each operator's meaning (as the Go platform evaluates it),
AND/OR groups, and the claims' camelCase aliases."""

from __future__ import annotations

import pytest

from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.authz.conditions import (
    ConditionError,
    condition_holds,
    condition_set_holds,
    entity_representation,
    flatten,
    group_holds,
    select,
)

IN = po.SUBJECT_MAPPING_OPERATOR_ENUM_IN
NOT_IN = po.SUBJECT_MAPPING_OPERATOR_ENUM_NOT_IN
CONTAINS = po.SUBJECT_MAPPING_OPERATOR_ENUM_IN_CONTAINS
AND, OR = po.CONDITION_BOOLEAN_TYPE_ENUM_AND, po.CONDITION_BOOLEAN_TYPE_ENUM_OR

CLAIMS = {
    "clientId": "opentdf",
    "realm_access": {"roles": ["admin", "reader"]},
    "groups": [{"name": "g1"}, {"name": "g2"}],
    "verified": True,
    "level": 3,
    "nothing": None,
}


def cond(selector: str, op: int, *values: str) -> po.Condition:
    return po.Condition(
        subject_external_selector_value=selector, operator=op, subject_external_values=values
    )


def test_flatten_keys_and_list_elements_both_ways() -> None:
    flat = flatten(CLAIMS)
    assert (".clientId", "opentdf") in flat
    assert (".realm_access.roles[0]", "admin") in flat
    assert (".realm_access.roles[1]", "reader") in flat
    assert [v for k, v in flat if k == ".realm_access.roles[]"] == ["admin", "reader"]
    assert select(flat, ".groups[].name") == ["g1", "g2"]
    assert select(flat, ".groups[1].name") == ["g2"]
    assert select(flat, ".nothing") == []  # null is no value
    assert select(flat, ".verified") == [True] and select(flat, ".level") == [3]
    assert flatten([["x"]], "") == [("[0][0]", "x"), ("[0][]", "x"), ("[][0]", "x"), ("[][]", "x")]
    assert flatten(("t",), ".tuple") == [(".tuple[0]", "t"), (".tuple[]", "t")]
    assert flatten("scalar") == [("", "scalar")]
    assert select(flat, ".realm_access") == []  # only leaves


def test_in() -> None:
    flat = flatten(CLAIMS)
    assert condition_holds(cond(".realm_access.roles[]", IN, "reader", "x"), flat)
    assert not condition_holds(cond(".realm_access.roles[]", IN, "read"), flat)
    assert not condition_holds(cond(".missing", IN, "reader"), flat)
    assert not condition_holds(cond(".level", IN, "3"), flat)  # a number is not the text "3"
    assert not condition_holds(cond(".clientId", IN), flat)


def test_not_in() -> None:
    flat = flatten(CLAIMS)
    assert condition_holds(cond(".realm_access.roles[]", NOT_IN, "writer"), flat)
    assert not condition_holds(cond(".realm_access.roles[]", NOT_IN, "admin", "x"), flat)
    assert condition_holds(cond(".missing", NOT_IN, "admin"), flat)  # nothing selected
    assert condition_holds(cond(".level", NOT_IN, "3"), flat)


def test_in_contains_compares_text() -> None:
    flat = flatten(CLAIMS)
    assert condition_holds(cond(".clientId", CONTAINS, "tdf"), flat)
    assert not condition_holds(cond(".clientId", CONTAINS, "TDF"), flat)
    assert condition_holds(cond(".level", CONTAINS, "3"), flat)
    assert condition_holds(cond(".verified", CONTAINS, "true"), flat)
    assert not condition_holds(cond(".verified", CONTAINS, "True"), flat)
    assert condition_holds(cond(".verified", CONTAINS, "ru"), flat)
    assert not condition_holds(cond(".missing", CONTAINS, ""), flat)
    assert not condition_holds(cond(".verified", CONTAINS, "Xtrue"), flat)  # exactly "true"
    assert not condition_holds(cond(".verified", CONTAINS, "trueX"), flat)
    false_flat = flatten({"v": False})
    assert condition_holds(cond(".v", CONTAINS, "false"), false_flat)
    assert not condition_holds(cond(".v", CONTAINS, "Xfalse"), false_flat)
    assert not condition_holds(cond(".v", CONTAINS, "falseX"), false_flat)


def test_an_unknown_operator_is_an_error_not_a_decision() -> None:
    with pytest.raises(ConditionError, match=r"^unsupported subject mapping operator 0$"):
        condition_holds(cond(".clientId", po.SUBJECT_MAPPING_OPERATOR_ENUM_UNSPECIFIED), [])
    group = po.ConditionGroup(conditions=[cond(".clientId", IN, "opentdf")])
    with pytest.raises(ConditionError, match=r"^unsupported condition group operator 0$"):
        group_holds(group, flatten(CLAIMS))


def test_groups_and_sets() -> None:
    flat = flatten(CLAIMS)
    yes, no = cond(".clientId", IN, "opentdf"), cond(".clientId", IN, "other")
    assert group_holds(po.ConditionGroup(conditions=[yes, yes], boolean_operator=AND), flat)
    assert not group_holds(po.ConditionGroup(conditions=[yes, no], boolean_operator=AND), flat)
    assert group_holds(po.ConditionGroup(conditions=[no, yes], boolean_operator=OR), flat)
    assert not group_holds(po.ConditionGroup(conditions=[no, no], boolean_operator=OR), flat)

    def sset(*groups: po.ConditionGroup) -> po.SubjectSet:
        return po.SubjectSet(condition_groups=groups)

    g_yes = po.ConditionGroup(conditions=[yes], boolean_operator=OR)
    g_no = po.ConditionGroup(conditions=[no], boolean_operator=OR)
    assert condition_set_holds(po.SubjectConditionSet(subject_sets=[sset(g_yes, g_yes)]), flat)
    assert not condition_set_holds(po.SubjectConditionSet(subject_sets=[sset(g_yes, g_no)]), flat)
    assert not condition_set_holds(
        po.SubjectConditionSet(subject_sets=[sset(g_yes), sset(g_no)]), flat
    )
    assert condition_set_holds(
        po.SubjectConditionSet(subject_sets=[sset(g_yes), sset(g_yes)]), flat
    )


def test_entity_representation_adds_the_camelcase_aliases() -> None:
    assert entity_representation({"client_id": "c"}) == {"client_id": "c", "clientId": "c"}
    assert entity_representation({"azp": "a"})["clientId"] == "a"
    assert entity_representation({"client_id": "", "azp": "a"})["clientId"] == "a"
    assert entity_representation({"client_id": "c", "clientId": "keep"})["clientId"] == "keep"
    assert entity_representation({"preferred_username": "u"}) == {
        "preferred_username": "u",
        "username": "u",
    }
    assert entity_representation({"preferred_username": "u", "username": "v"})["username"] == "v"
    assert entity_representation({"preferred_username": ""}) == {"preferred_username": ""}
    original = {"azp": "a"}
    entity_representation(original)
    assert original == {"azp": "a"}  # a copy
