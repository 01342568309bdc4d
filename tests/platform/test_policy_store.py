"""The policy store: uniqueness, not-found, FQN normalisation, grants and key mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.store import PolicyStore, parse_value_fqn
from xtdf.platform.rpc import RpcError
from xtdf.platform.store import Database

ANY_OF = po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF
HIERARCHY = po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY


@pytest.fixture
def store(tmp_path: Path) -> PolicyStore:
    return PolicyStore(Database(tmp_path / "policy.db"))


def code_of(excinfo: pytest.ExceptionInfo[RpcError]) -> str:
    return excinfo.value.code


def test_namespace_lifecycle(store: PolicyStore) -> None:
    ns = store.create_namespace("Example.COM")
    assert (ns.name, ns.fqn, ns.active.value) == ("example.com", "https://example.com", True)
    assert store.get_namespace(ns.id) == store.get_namespace("https://EXAMPLE.com")
    assert [n.name for n in store.list_namespaces()] == ["example.com"]
    with pytest.raises(RpcError) as exc:
        store.create_namespace("example.com")
    assert code_of(exc) == "already_exists"
    assert "example.com" in str(exc.value)


@pytest.mark.parametrize("name", ["", "nodot", "-bad.com", "spa ce.com", "a" * 300 + ".com"])
def test_invalid_namespace_names(store: PolicyStore, name: str) -> None:
    with pytest.raises(RpcError) as exc:
        store.create_namespace(name)
    assert code_of(exc) == "invalid_argument"
    assert "name" in str(exc.value)


def test_missing_objects_are_not_found(store: PolicyStore) -> None:
    for lookup in (
        lambda: store.get_namespace("https://nowhere.org"),
        lambda: store.get_attribute("https://nowhere.org/attr/a"),
        lambda: store.get_value("https://nowhere.org/attr/a/value/b"),
        lambda: store.get_kas("http://kas.invalid"),
        lambda: store.get_subject_mapping("00000000-0000-0000-0000-000000000000"),
        lambda: store.get_condition_set("00000000-0000-0000-0000-000000000000"),
        lambda: store.create_attribute("https://nowhere.org", "a", ANY_OF, ["b"]),
    ):
        with pytest.raises(RpcError) as exc:
            lookup()
        assert code_of(exc) == "not_found"


def test_attribute_values_keep_order_and_fqns(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    attr = store.create_attribute(ns.id, "Classification", HIERARCHY, ["TOP", "secret"])
    assert attr.fqn == "https://example.com/attr/classification"
    assert attr.rule == HIERARCHY
    assert [v.value for v in attr.values] == ["top", "secret"]
    added = store.create_value(attr.id, "Public")
    assert added.fqn == "https://example.com/attr/classification/value/public"
    assert added.attribute.fqn == attr.fqn
    got = store.get_attribute(attr.fqn)
    assert [v.value for v in got.values] == ["top", "secret", "public"]
    assert store.list_attributes("example.com")[0].id == attr.id
    assert store.list_attributes() == store.list_attributes(ns.id)


def test_attribute_duplicates_and_invalid_input(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    attr = store.create_attribute(ns.id, "a", ANY_OF, ["x"])
    cases = [
        (lambda: store.create_attribute(ns.id, "A", ANY_OF, []), "already_exists", "attr/a"),
        (lambda: store.create_value(attr.id, "X"), "already_exists", "value/x"),
        (lambda: store.create_attribute(ns.id, "b", 0, ["x"]), "invalid_argument", "rule"),
        (
            lambda: store.create_attribute(ns.id, "c", ANY_OF, ["x", "X"]),
            "invalid_argument",
            "values",
        ),
        (lambda: store.create_attribute(ns.id, "bad name", ANY_OF, []), "invalid_argument", "name"),
        (lambda: store.create_attribute("", "d", ANY_OF, []), "invalid_argument", "namespace_id"),
        (lambda: store.create_value(attr.id, "-x"), "invalid_argument", "value"),
    ]
    for fn, code, mention in cases:
        with pytest.raises(RpcError) as exc:
            fn()
        assert code_of(exc) == code
        assert mention in str(exc.value)
    # a failed create leaves nothing behind
    assert [a.name for a in store.list_attributes()] == ["a"]


def test_values_by_fqns(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "level", HIERARCHY, ["hi", "lo"])
    kas = store.create_kas("http://kas.example.com/", name="kas1")
    assert kas.uri == "http://kas.example.com"
    store.assign_grant("value", "https://example.com/attr/level/value/lo", kas.id)
    asked = "https://example.com/attr/LEVEL/value/lo"
    found = store.values_by_fqns([asked])
    assert list(found) == [asked.lower()]  # upstream keys its answer by the lower-cased FQN
    attr, value = found[asked.lower()]
    assert value is not None
    assert attr.fqn == "https://example.com/attr/level"
    assert [v.value for v in attr.values] == ["hi", "lo"]
    assert value.fqn == "https://example.com/attr/level/value/lo"
    assert [g.uri for g in value.grants] == ["http://kas.example.com"]
    with pytest.raises(RpcError) as exc:
        store.values_by_fqns(["https://example.com/attr/level/value/mid"])
    assert code_of(exc) == "not_found"
    assert "value/mid" in str(exc.value)
    with pytest.raises(RpcError) as exc:
        store.values_by_fqns(["https://example.com/attr/level"])
    assert code_of(exc) == "invalid_argument"


def test_parse_value_fqn_lowercases() -> None:
    parts = parse_value_fqn("HTTPS://Ex.com/attr/A/value/B")
    assert parts.fqn == "https://ex.com/attr/a/value/b"
    assert parts.attribute_fqn == "https://ex.com/attr/a"


def test_kas_registry(store: PolicyStore) -> None:
    kas = store.create_kas("https://kas.example.com", name="Main")
    assert store.get_kas("main").id == kas.id
    assert store.get_kas("https://kas.example.com/").id == kas.id
    for fn, code in (
        (lambda: store.create_kas("https://kas.example.com"), "already_exists"),
        (lambda: store.create_kas("https://other.example.com", name="main"), "already_exists"),
        (lambda: store.create_kas("ftp://kas"), "invalid_argument"),
    ):
        with pytest.raises(RpcError) as exc:
            fn()
        assert code_of(exc) == code
    assert [k.uri for k in store.list_kas()] == ["https://kas.example.com"]


def test_key_mappings_grants_and_base_key(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    attr = store.create_attribute(ns.id, "a", ANY_OF, ["x"])
    kas = store.create_kas("http://kas.example.com")
    pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    key = store.insert_key(kas.id, "k1", "rsa:2048", po.KEY_MODE_PUBLIC_KEY_ONLY, pem, None)
    with pytest.raises(RpcError) as exc:
        store.insert_key(kas.id, "k1", "rsa:2048", po.KEY_MODE_PUBLIC_KEY_ONLY, pem, None)
    assert code_of(exc) == "already_exists"
    store.assign_key("attribute", attr.fqn, key.key.id)
    store.assign_key("attribute", attr.id, key.key.id)  # idempotent
    got = store.get_attribute(attr.id)
    assert [(k.kas_uri, k.public_key.kid) for k in got.kas_keys] == [
        ("http://kas.example.com", "k1")
    ]
    # GetAttributeValuesByFqns also lists mapped keys as grants with cached public keys
    found_attr, _ = store.values_by_fqns(["https://example.com/attr/a/value/x"])[
        "https://example.com/attr/a/value/x"
    ]
    assert found_attr.grants[0].public_key.cached.keys[0].kid == "k1"
    store.remove_key("attribute", attr.id, key.key.id)
    assert not store.get_attribute(attr.id).kas_keys
    with pytest.raises(RpcError) as exc:
        store.remove_key("attribute", attr.id, key.key.id)
    assert code_of(exc) == "not_found"

    assert store.base_key() is None
    previous, new = store.set_base_key(key.key.id)
    assert previous is None
    assert (new.kas_uri, new.public_key.kid, new.public_key.pem) == (kas.uri, "k1", pem)
    assert store.base_key() == new
    with pytest.raises(RpcError) as exc:
        store.set_base_key("no-such-key")
    assert code_of(exc) == "not_found"


def _group(op: int = po.CONDITION_BOOLEAN_TYPE_ENUM_OR, **cond: object) -> po.ConditionGroup:
    base = {
        "subject_external_selector_value": ".clientId",
        "operator": po.SUBJECT_MAPPING_OPERATOR_ENUM_IN,
        "subject_external_values": ["opentdf"],
    }
    return po.ConditionGroup(conditions=[po.Condition(**{**base, **cond})], boolean_operator=op)


def test_condition_sets_and_mappings(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    attr = store.create_attribute(ns.id, "a", ANY_OF, ["x"])
    scs = store.create_condition_set([po.SubjectSet(condition_groups=[_group()])])
    assert scs.subject_sets[0].condition_groups[0].conditions[0].subject_external_values == [
        "opentdf"
    ]
    mapping = store.create_subject_mapping(
        attr.values[0].id, [po.Action(name="read")], condition_set_id=scs.id
    )
    assert mapping.attribute_value.fqn == "https://example.com/attr/a/value/x"
    assert mapping.subject_condition_set.id == scs.id
    assert [m.id for m in store.list_subject_mappings()] == [mapping.id]
    value = store.get_value(attr.values[0].fqn)
    assert [m.id for m in value.subject_mappings] == [mapping.id]


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        ([], "subject_sets"),
        ([po.SubjectSet()], "condition_groups"),
        ([po.SubjectSet(condition_groups=[_group(op=0)])], "boolean_operator"),
        ([po.SubjectSet(condition_groups=[_group(operator=0)])], "operator"),
        ([po.SubjectSet(condition_groups=[_group(subject_external_values=[])])], "values"),
        (
            [po.SubjectSet(condition_groups=[_group(subject_external_selector_value="")])],
            "selector",
        ),
    ],
)
def test_invalid_condition_sets(store: PolicyStore, sets: list, field: str) -> None:
    with pytest.raises(RpcError) as exc:
        store.create_condition_set(sets)
    assert code_of(exc) == "invalid_argument"
    assert field in str(exc.value)


def test_subject_mapping_needs_value_actions_and_condition_set(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    attr = store.create_attribute(ns.id, "a", ANY_OF, ["x"])
    sets = [po.SubjectSet(condition_groups=[_group()])]
    vid = attr.values[0].id
    read = [po.Action(name="read")]
    for fn, code in (
        (
            lambda: store.create_subject_mapping("", read, new_condition_set=sets),
            "invalid_argument",
        ),
        (lambda: store.create_subject_mapping(vid, [], new_condition_set=sets), "invalid_argument"),
        (
            lambda: store.create_subject_mapping(vid, [po.Action()], new_condition_set=sets),
            "invalid_argument",
        ),
        (lambda: store.create_subject_mapping(vid, read), "invalid_argument"),
        (lambda: store.create_subject_mapping(vid, read, "missing"), "not_found"),
        (
            lambda: store.create_subject_mapping(
                "https://example.com/attr/a/value/zz", read, new_condition_set=sets
            ),
            "not_found",
        ),
    ):
        with pytest.raises(RpcError) as exc:
            fn()
        assert code_of(exc) == code


def test_data_survives_reopening(tmp_path: Path) -> None:
    PolicyStore(Database(tmp_path / "p.db")).create_namespace("example.com")
    again = PolicyStore(Database(tmp_path / "p.db"))
    assert [n.name for n in again.list_namespaces()] == ["example.com"]


def test_traversal_yields_the_definition_alone(store: PolicyStore) -> None:
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "open", ANY_OF, ["a"], allow_traversal=True)
    store.create_attribute(ns.id, "closed", ANY_OF, ["a"])
    fqn = "https://example.com/attr/open/value/unlisted"
    attr, value = store.values_by_fqns([fqn])[fqn]
    assert (attr.fqn, attr.allow_traversal.value, value) == (
        "https://example.com/attr/open",
        True,
        None,
    )
    with pytest.raises(RpcError) as exc:
        store.values_by_fqns(["https://example.com/attr/closed/value/unlisted"])
    assert code_of(exc) == "not_found"


def test_policy_answers_are_remembered_until_the_next_write(tmp_path: Path) -> None:
    """The KAS asks for the entitlement rules on every rewrap; the database hands back the
    same answer until a write, then computes it again."""
    db = Database(tmp_path / "memo.db")
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert db.memo("k", compute) == 1
    assert db.memo("k", compute) == 1 and len(calls) == 1
    db.migrate("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    assert db.memo("k", compute) == 2
    store = PolicyStore(db)
    store.create_namespace("memo.example")
    assert db.memo("k", compute) == 3, "a policy write must invalidate remembered answers"
