"""Decision semantics and subject condition evaluation (upstream's rules, table-driven)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.authz import Authorizer, decide
from xtdf.platform.authz.conditions import (
    ConditionError,
    condition_set_holds,
    entity_representation,
    flatten,
    group_holds,
)
from xtdf.platform.authz.engine import decide_definition
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.store import Database

ALL_OF = po.ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF
ANY_OF = po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF
HIERARCHY = po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY
IN = po.SUBJECT_MAPPING_OPERATOR_ENUM_IN
NOT_IN = po.SUBJECT_MAPPING_OPERATOR_ENUM_NOT_IN
IN_CONTAINS = po.SUBJECT_MAPPING_OPERATOR_ENUM_IN_CONTAINS
AND = po.CONDITION_BOOLEAN_TYPE_ENUM_AND
OR = po.CONDITION_BOOLEAN_TYPE_ENUM_OR

LEVELS = ["top", "mid", "low"]


@pytest.mark.parametrize(
    ("rule", "data", "entitled", "permit"),
    [
        (ALL_OF, ["a"], {"a"}, True),
        (ALL_OF, ["a", "b"], {"a", "b"}, True),
        (ALL_OF, ["a", "b"], {"a"}, False),
        (ALL_OF, ["a"], set(), False),
        (ANY_OF, ["a", "b"], {"b"}, True),
        (ANY_OF, ["a", "b"], {"c"}, False),
        (ANY_OF, ["a"], set(), False),
        (HIERARCHY, ["low"], {"top"}, True),
        (HIERARCHY, ["low"], {"low"}, True),
        (HIERARCHY, ["mid"], {"low"}, False),
        (HIERARCHY, ["top"], {"mid"}, False),
        (HIERARCHY, ["top"], {"top"}, True),
        # the highest value on the data decides
        (HIERARCHY, ["low", "top"], {"mid"}, False),
        (HIERARCHY, ["low", "mid"], {"mid"}, True),
        (HIERARCHY, ["mid"], {"mid", "low"}, True),
        (po.ATTRIBUTE_RULE_TYPE_ENUM_UNSPECIFIED, ["a"], {"a"}, False),
    ],
)
def test_rule_semantics(rule: int, data: list[str], entitled: set[str], permit: bool) -> None:
    ok, reason = decide_definition(rule, LEVELS, data, entitled)
    assert ok is permit, reason
    assert reason


VALUES = [f"v{i}" for i in range(6)]
subsets = st.sets(st.sampled_from(VALUES))


@settings(max_examples=150, deadline=None)
@given(data=subsets.filter(bool), entitled=subsets)
def test_rules_match_their_definitions(data: set[str], entitled: set[str]) -> None:
    """Each rule against its plain set definition, for arbitrary data and entitlements."""
    ordered = sorted(data)
    assert decide_definition(ALL_OF, VALUES, ordered, entitled)[0] is (data <= entitled)
    assert decide_definition(ANY_OF, VALUES, ordered, entitled)[0] is bool(data & entitled)
    highest = min(VALUES.index(v) for v in data)
    at_or_above = any(VALUES.index(v) <= highest for v in entitled)
    assert decide_definition(HIERARCHY, VALUES, ordered, entitled)[0] is at_or_above


CLAIMS = {
    "client_id": "opentdf-sdk",
    "sub": "u-1",
    "email": "alice@example.com",
    "realm_access": {"roles": ["admin", "reader"]},
    "groups": ["/eng/platform"],
    "level": 3,
    "enabled": True,
}


def cond(selector: str, op: int, *values: str) -> po.Condition:
    return po.Condition(
        subject_external_selector_value=selector, operator=op, subject_external_values=values
    )


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (cond(".client_id", IN, "opentdf-sdk"), True),
        (cond(".clientId", IN, "opentdf-sdk", "other"), True),  # derived from client_id
        (cond(".client_id", IN, "opentdf"), False),
        (cond(".missing", IN, "x"), False),
        (cond(".client_id", NOT_IN, "opentdf"), True),
        (cond(".client_id", NOT_IN, "opentdf-sdk"), False),
        (cond(".missing", NOT_IN, "x"), True),  # nothing selected: vacuously not in
        (cond(".email", IN_CONTAINS, "@example.com"), True),
        (cond(".email", IN_CONTAINS, "@example.org"), False),
        (cond(".realm_access.roles[]", IN, "admin"), True),
        (cond(".realm_access.roles[1]", IN, "reader"), True),
        (cond(".realm_access.roles[0]", IN, "reader"), False),
        (cond(".realm_access.roles", IN, "admin"), False),  # a list is not a leaf
        (cond(".groups[]", IN_CONTAINS, "/eng"), True),
        (cond(".level", IN_CONTAINS, "3"), True),  # non-strings compare as text
        (cond(".level", IN, "3"), False),  # but IN needs equal strings, as upstream
        (cond(".enabled", IN_CONTAINS, "true"), True),
    ],
)
def test_condition_operators(condition: po.Condition, holds: bool) -> None:
    flat = flatten(entity_representation(CLAIMS))
    group = po.ConditionGroup(conditions=[condition], boolean_operator=AND)
    assert group_holds(group, flat) is holds


def test_flatten_matches_upstream_keys() -> None:
    flat = flatten({"a": {"b": [{"c": "x"}, "y"]}})
    assert sorted(flat) == sorted(
        [(".a.b[0].c", "x"), (".a.b[].c", "x"), (".a.b[1]", "y"), (".a.b[]", "y")]
    )


@pytest.mark.parametrize(
    ("op", "results", "holds"),
    [
        (AND, [True, True], True),
        (AND, [True, False], False),
        (OR, [False, True], True),
        (OR, [False, False], False),
    ],
)
def test_condition_groups(op: int, results: list[bool], holds: bool) -> None:
    flat = flatten(CLAIMS)
    conds = [cond(".sub", IN, "u-1" if r else "nobody") for r in results]
    assert group_holds(po.ConditionGroup(conditions=conds, boolean_operator=op), flat) is holds


def test_subject_sets_and_groups_are_anded() -> None:
    flat = flatten(CLAIMS)
    yes = po.ConditionGroup(conditions=[cond(".sub", IN, "u-1")], boolean_operator=OR)
    no = po.ConditionGroup(conditions=[cond(".sub", IN, "x")], boolean_operator=OR)
    both = po.SubjectConditionSet(subject_sets=[po.SubjectSet(condition_groups=[yes, yes])])
    assert condition_set_holds(both, flat)
    one_group_fails = po.SubjectConditionSet(
        subject_sets=[po.SubjectSet(condition_groups=[yes, no])]
    )
    assert not condition_set_holds(one_group_fails, flat)
    one_set_fails = po.SubjectConditionSet(
        subject_sets=[po.SubjectSet(condition_groups=[yes]), po.SubjectSet(condition_groups=[no])]
    )
    assert not condition_set_holds(one_set_fails, flat)


def test_unknown_operator_is_an_error() -> None:
    group = po.ConditionGroup(conditions=[cond(".sub", 0, "u-1")], boolean_operator=AND)
    with pytest.raises(ConditionError, match="operator"):
        group_holds(group, flatten(CLAIMS))


# --- the engine over a real store --------------------------------------------------------


@pytest.fixture
def platform(tmp_path: Path) -> SimpleNamespace:
    db = Database(tmp_path / "policy.db")
    store = PolicyStore(db)
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "level", HIERARCHY, LEVELS)
    store.create_attribute(ns.id, "country", ANY_OF, ["us", "uk", "fr"])
    store.create_attribute(ns.id, "project", ALL_OF, ["alpha", "beta"])

    def entitle(value: str, selector: str, *values: str) -> None:
        group = po.ConditionGroup(conditions=[cond(selector, IN, *values)], boolean_operator=OR)
        store.create_subject_mapping(
            f"https://example.com/attr/{value}",
            [po.Action(name="read")],
            new_condition_set=[po.SubjectSet(condition_groups=[group])],
        )

    entitle("level/value/mid", ".clientId", "alice")
    entitle("country/value/us", ".clientId", "alice", "bob")
    entitle("project/value/alpha", ".realm_access.roles[]", "alpha")
    entitle("project/value/beta", ".realm_access.roles[]", "beta")
    return SimpleNamespace(db=db)


def fqn(path: str) -> str:
    return f"https://example.com/attr/{path}"


ALICE = {"azp": "alice", "realm_access": {"roles": ["alpha"]}}
BOB = {"client_id": "bob", "realm_access": {"roles": ["alpha", "beta"]}}


def test_entitlements_follow_subject_mappings(platform: SimpleNamespace) -> None:
    authz = Authorizer.for_platform(platform)
    assert authz.entitlements(ALICE) == {
        fqn("level/value/mid"),
        fqn("country/value/us"),
        fqn("project/value/alpha"),
    }
    assert authz.entitlements({"client_id": "eve"}) == set()
    assert authz.entitlements(ALICE, comprehensive_hierarchy=True) >= {fqn("level/value/low")}
    assert fqn("level/value/top") not in authz.entitlements(ALICE, comprehensive_hierarchy=True)


@pytest.mark.parametrize(
    ("claims", "data", "permit"),
    [
        (ALICE, [], True),
        (ALICE, [fqn("level/value/low")], True),
        (ALICE, [fqn("level/value/mid")], True),
        (ALICE, [fqn("level/value/top")], False),
        (ALICE, [fqn("country/value/us"), fqn("country/value/fr")], True),
        (ALICE, [fqn("country/value/fr")], False),
        (ALICE, [fqn("project/value/alpha")], True),
        (ALICE, [fqn("project/value/alpha"), fqn("project/value/beta")], False),
        (BOB, [fqn("project/value/alpha"), fqn("project/value/beta")], True),
        # definitions are ANDed
        (ALICE, [fqn("level/value/low"), fqn("country/value/us")], True),
        (ALICE, [fqn("level/value/low"), fqn("country/value/uk")], False),
        (BOB, [fqn("level/value/low"), fqn("country/value/us")], False),
        # FQNs compare case-insensitively, as upstream lower-cases them
        (ALICE, ["HTTPS://Example.COM/attr/Level/value/LOW"], True),
    ],
)
def test_decisions(platform: SimpleNamespace, claims: dict, data: list[str], permit: bool) -> None:
    decision = decide(platform, claims, data)
    assert decision.permit is permit, decision.reason


@pytest.mark.parametrize(
    "unknown",
    [
        fqn("level/value/secret"),
        "https://other.org/attr/level/value/low",
        "https://example.com/attr/nope/value/x",
        "not-a-fqn",
    ],
)
def test_unknown_value_denies_naming_it(platform: SimpleNamespace, unknown: str) -> None:
    decision = decide(platform, ALICE, [fqn("level/value/low"), unknown])
    assert decision.permit is False
    assert decision.reason.startswith(f"unknown attribute value {unknown}: ")


def test_reasons_name_each_definition_and_the_first_that_denies(platform: SimpleNamespace) -> None:
    both = decide(platform, ALICE, [fqn("level/value/low"), fqn("country/value/us")])
    assert both.reason == (
        f"{fqn('level')}: HIERARCHY: entitled at or above {fqn('level/value/low')}; "
        f"{fqn('country')}: ANY_OF: entitled to a value"
    )
    assert decide(platform, ALICE, []).reason == "no attributes on the data"
    denied = decide(platform, ALICE, [fqn("project/value/alpha"), fqn("project/value/beta")])
    assert denied.reason == f"{fqn('project')}: ALL_OF: not entitled to {fqn('project/value/beta')}"


def test_the_action_decides_too(platform: SimpleNamespace) -> None:
    """The mappings above grant only ``read``: another action gets nothing released."""
    data = [fqn("country/value/us")]
    assert decide(platform, ALICE, data).permit is True
    assert decide(platform, ALICE, data, "read").permit is True
    assert decide(platform, ALICE, data, "update").permit is False


@pytest.mark.parametrize(
    ("rule", "data", "entitled", "verdict"),
    [
        (ALL_OF, ["a"], {"a"}, (True, "ALL_OF: entitled to every value")),
        (ALL_OF, ["a", "b", "c"], {"b"}, (False, "ALL_OF: not entitled to a, c")),
        (ANY_OF, ["a", "b"], {"b"}, (True, "ANY_OF: entitled to a value")),
        (ANY_OF, ["a", "b"], set(), (False, "ANY_OF: not entitled to any of a, b")),
        (HIERARCHY, ["mid"], {"top"}, (True, "HIERARCHY: entitled at or above mid")),
        (HIERARCHY, ["mid"], {"low"}, (False, "HIERARCHY: not entitled at or above mid")),
        # a value outside the definition ranks below all of it, and alone it admits nobody
        (HIERARCHY, ["mid", "other"], {"mid"}, (True, "HIERARCHY: entitled at or above mid")),
        (
            HIERARCHY,
            ["other"],
            {"top", "low"},
            (False, "HIERARCHY: not entitled at or above other"),
        ),
        (99, ["a"], {"a"}, (False, "rule 99: unsupported attribute rule")),
    ],
)
def test_each_rule_gives_its_reason(rule: int, data, entitled, verdict) -> None:
    assert decide_definition(rule, ["top", "mid", "low"], data, entitled) == verdict


def test_entitled_actions_stop_at_the_mapped_value_unless_asked(platform: SimpleNamespace) -> None:
    authz = Authorizer.for_platform(platform)
    assert authz is Authorizer.for_platform(platform)  # one per database, not one per call
    assert authz.entitled_actions(ALICE)[fqn("level/value/mid")] == {"read"}
    assert fqn("level/value/low") not in authz.entitled_actions(ALICE)
    assert fqn("level/value/low") in authz.entitled_actions(ALICE, comprehensive_hierarchy=True)
