"""Split planning from a ``GetAttributeValuesByFqns``-shaped answer."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xtdf.client.autoconfigure import (
    ALL_OF,
    ANY_OF,
    HIERARCHY,
    AttributeValueFqn,
    KeyRef,
    SplitStep,
    parse_fqns,
    plan,
    simple_key,
)
from xtdf.errors import KeyAccessError, UsageError

NS = "https://example.com"
K1, K2, K3, DEFAULT = "http://k1/kas", "http://k2/kas", "http://k3/kas", "http://default/kas"


def _grants(*urls: str) -> list[dict]:
    return [{"uri": u} for u in urls]


def _answer(entries: dict[str, tuple[str, list[str], list[str], list[str]]]) -> dict:
    """fqn -> (rule, value grants, attribute grants, namespace grants)."""
    table = {}
    for fqn, (rule, vg, ag, ng) in entries.items():
        table[fqn] = {
            "attribute": {
                "fqn": fqn.rsplit("/value/", 1)[0],
                "rule": rule,
                "grants": _grants(*ag),
                "namespace": {"fqn": NS, "grants": _grants(*ng)},
            },
            "value": {"fqn": fqn, "grants": _grants(*vg)},
        }
    return {"fqnAttributeValues": table}


def _ids() -> itertools.count:
    return itertools.count()


def _plan(fqns: list[str], answer: dict) -> list[tuple[str, str]]:
    counter = itertools.count()
    steps = plan(parse_fqns(",".join(fqns)), answer, DEFAULT, lambda: f"s{next(counter)}")
    return [(s.key.kas_url, s.split_id) for s in steps]


def v(attr: str, value: str) -> str:
    return f"{NS}/attr/{attr}/value/{value}"


def test_no_grants_anywhere_uses_the_default_kas_unsplit() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [], [], [])})
    assert _plan([v("a", "x")], answer) == [(DEFAULT, "")]


def test_one_grant_is_one_unsplit_kao() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [K1], [], [])})
    assert _plan([v("a", "x")], answer) == [(K1, "")]


def test_value_grants_beat_attribute_and_namespace_grants() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [K1], [K2], [K3])})
    assert _plan([v("a", "x")], answer) == [(K1, "")]
    answer = _answer({v("a", "x"): (ALL_OF, [], [K2], [K3])})
    assert _plan([v("a", "x")], answer) == [(K2, "")]
    answer = _answer({v("a", "x"): (ALL_OF, [], [], [K3])})
    assert _plan([v("a", "x")], answer) == [(K3, "")]


def test_all_of_splits_the_key_between_kases() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [K1], [], []), v("a", "y"): (ALL_OF, [K2], [], [])})
    assert _plan([v("a", "x"), v("a", "y")], answer) == [(K1, "s0"), (K2, "s1")]


def test_hierarchy_splits_like_all_of() -> None:
    answer = _answer(
        {v("h", "x"): (HIERARCHY, [K1], [], []), v("h", "y"): (HIERARCHY, [K2], [], [])}
    )
    assert _plan([v("h", "x"), v("h", "y")], answer) == [(K1, "s0"), (K2, "s1")]


def test_any_of_shares_one_split() -> None:
    answer = _answer({v("a", "x"): (ANY_OF, [K2], [], []), v("a", "y"): (ANY_OF, [K1], [], [])})
    assert _plan([v("a", "x"), v("a", "y")], answer) == [(K1, "s0"), (K2, "s0")]


def test_clauses_are_anded_and_duplicates_collapse() -> None:
    answer = _answer(
        {
            v("a", "x"): (ANY_OF, [K1], [], []),
            v("a", "y"): (ANY_OF, [K2], [], []),
            v("b", "z"): (ALL_OF, [K3], [], []),
            v("c", "w"): (ALL_OF, [K3], [], []),
        }
    )
    got = _plan([v("a", "x"), v("a", "y"), v("b", "z"), v("c", "w")], answer)
    assert got == [(K1, "s0"), (K2, "s0"), (K3, "s1")]


def test_same_kas_twice_in_all_of_is_one_split() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [K1], [], []), v("a", "y"): (ALL_OF, [K1], [], [])})
    assert _plan([v("a", "x"), v("a", "y")], answer) == [(K1, "")]


def test_mapped_keys_win_and_keep_their_kid() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [K2], [], [])})
    answer["fqnAttributeValues"][v("a", "x")]["value"]["kasKeys"] = [
        {"kasUri": K1, "publicKey": {"algorithm": "ALGORITHM_EC_P256", "kid": "e1", "pem": "P1"}},
        {"kasUri": K1, "publicKey": {"algorithm": 1, "kid": "r1", "pem": "P2"}},
    ]
    counter = itertools.count()
    steps = plan(parse_fqns(v("a", "x")), answer, DEFAULT, lambda: f"s{next(counter)}")
    assert [s.key for s in steps] == [
        KeyRef(K1, "e1", "P1", "ec:secp256r1"),
        KeyRef(K1, "r1", "P2", "rsa:2048"),
    ]
    assert [s.split_id for s in steps] == ["s0", "s1"]


def test_grants_name_only_the_kas_even_with_cached_keys() -> None:
    answer = _answer({v("a", "x"): (ALL_OF, [], [], [])})
    cached = {
        "cached": {"keys": [{"kid": "r9", "pem": "PEM", "alg": 1}, {"kid": "e9", "pem": "P"}]}
    }
    answer["fqnAttributeValues"][v("a", "x")]["value"]["grants"] = [
        {"uri": K1, "publicKey": cached},
        {"uri": K1},
    ]
    (step,) = plan(parse_fqns(v("a", "x")), answer, DEFAULT)
    assert step.key == KeyRef(K1)


def test_default_may_be_a_full_key() -> None:
    base = KeyRef("http://km/kas", "b1", "PEM", "ec:secp256r1")
    (step,) = plan(parse_fqns(v("a", "x")), _answer({v("a", "x"): (ANY_OF, [], [], [])}), base)
    assert step == SplitStep(base, "")


def test_simple_key_accepts_algorithm_spellings() -> None:
    for alg in ("rsa:2048", "ALGORITHM_RSA_2048", 1):
        sk = {"kasUri": K1, "publicKey": {"algorithm": alg, "kid": "k", "pem": "P"}}
        assert simple_key(sk) == KeyRef(K1, "k", "P", "rsa:2048")
    assert simple_key({"publicKey": {}}) is None


def test_fqn_lookup_is_case_insensitive() -> None:
    answer = _answer({v("a", "x").lower(): (ALL_OF, [K1], [], [])})
    assert _plan([f"{NS}/attr/A/value/X"], answer) == [(K1, "")]


def test_unknown_value_is_refused_by_name() -> None:
    with pytest.raises(KeyAccessError, match=r"not found.*value/nope"):
        _plan([v("a", "nope")], _answer({}))


@pytest.mark.parametrize("bad", ["a,b", "https://x/attr/a", "ftp://x/attr/a/value/b"])
def test_malformed_fqn_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_fqns(bad)


def test_parse_fqns_splits_on_commas() -> None:
    assert parse_fqns(f" {v('a', 'x')} ,, {v('b', 'y')}") == [
        AttributeValueFqn(v("a", "x")),
        AttributeValueFqn(v("b", "y")),
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["x", "y"]),
            st.sampled_from([K1, K2, K3]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([ALL_OF, ANY_OF, HIERARCHY]),
)
def test_plan_invariants(values: list[tuple[str, str, str]], rule: str) -> None:
    entries = {v(a, x): (rule, [k], [], []) for a, x, k in values}
    fqns = list(entries)
    steps = plan(parse_fqns(",".join(fqns)), _answer(entries), DEFAULT)
    kases = {s.key.kas_url for s in steps}
    assert kases == {e[1][0] for e in entries.values()}  # every granted KAS appears
    assert (len(steps) == 1) == (steps[0].split_id == "")  # ids only when split
    pairs = [(s.key.kas_url, s.split_id) for s in steps]
    assert len(pairs) == len(set(pairs))  # no duplicate KAO
