"""authorization.AuthorizationService v1 in-process: GetEntitlements (scope, hierarchy,
entity ids) and GetDecisions (one answer per resource and chain, in order, TRANSMIT, and
upstream's rules: an empty chain is denied, data without attributes permitted, environment
entities never decide). The policy is real, in a store of its own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.platform.conftest import client_id_sets
from xtdf._proto.authorization import authorization_pb2 as az
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.authz import service
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import CallContext, RpcError
from xtdf.platform.store import Database

HIERARCHY = po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY
DECRYPT = po.Action(standard=po.Action.STANDARD_ACTION_DECRYPT)
PERMIT, DENY = az.DecisionResponse.DECISION_PERMIT, az.DecisionResponse.DECISION_DENY


def fqn(v: str) -> str:
    return f"https://example.com/attr/level/value/{v}"


def _policy(tmp_path: Path) -> Database:
    """A hierarchy hi > mid > lo; alice may decrypt at mid."""
    db = Database(tmp_path / "xtdf.db")
    store = PolicyStore(db)
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "level", HIERARCHY, ["hi", "mid", "lo"])
    store.create_subject_mapping(fqn("mid"), [DECRYPT], new_condition_set=client_id_sets("alice"))
    return db


@pytest.fixture
def call(tmp_path: Path):
    db = _policy(tmp_path)
    methods = {m.name: m for m in service.methods(SimpleNamespace(db=db))}
    assert all(m.service == "authorization.AuthorizationService" for m in methods.values())

    def _call(name: str, req):
        return methods[name].handler(req, CallContext(headers={}, claims={"sub": "caller"}))

    return _call


def alice(**kw) -> az.Entity:
    return az.Entity(client_id="alice", **kw)


def bob(**kw) -> az.Entity:
    return az.Entity(client_id="bob", **kw)


def test_entitlements_per_entity_with_and_without_the_hierarchy(call) -> None:
    req = az.GetEntitlementsRequest(entities=[alice(id="a"), bob()])
    resp = call("GetEntitlements", req)
    assert [(e.entity_id, list(e.attribute_value_fqns)) for e in resp.entitlements] == [
        ("a", [fqn("mid")]),
        ("entity-1", []),
    ]
    req.with_comprehensive_hierarchy = True
    resp = call("GetEntitlements", req)
    assert list(resp.entitlements[0].attribute_value_fqns) == [fqn("lo"), fqn("mid")]


def test_entitlements_in_a_scope(call) -> None:
    scope = az.ResourceAttribute(attribute_value_fqns=[fqn("LO")])
    req = az.GetEntitlementsRequest(
        entities=[alice()], with_comprehensive_hierarchy=True, scope=scope
    )
    assert list(call("GetEntitlements", req).entitlements[0].attribute_value_fqns) == [fqn("lo")]
    req.scope.attribute_value_fqns.append(fqn("hi"))  # in scope, not entitled: not granted
    assert list(call("GetEntitlements", req).entitlements[0].attribute_value_fqns) == [fqn("lo")]
    req.scope.CopyFrom(az.ResourceAttribute())  # an empty scope, present: nothing in it
    assert list(call("GetEntitlements", req).entitlements[0].attribute_value_fqns) == []


def test_entities_other_than_client_ids(call) -> None:
    from google.protobuf import any_pb2, struct_pb2

    claims = struct_pb2.Struct()
    claims.update({"clientId": "alice"})
    packed = any_pb2.Any()
    packed.Pack(claims)
    req = az.GetEntitlementsRequest(entities=[az.Entity(claims=packed)])
    assert list(call("GetEntitlements", req).entitlements[0].attribute_value_fqns) == [fqn("mid")]
    with pytest.raises(RpcError, match=r"^entities\.entity_type: none is not supported$"):
        call("GetEntitlements", az.GetEntitlementsRequest(entities=[az.Entity()]))


def _decide(call, chains: list[az.EntityChain], resources: list[az.ResourceAttribute]):
    req = az.GetDecisionsRequest(
        decision_requests=[az.DecisionRequest(entity_chains=chains, resource_attributes=resources)]
    )
    return [
        (d.entity_chain_id, d.resource_attributes_id, d.decision, d.action.standard)
        for d in call("GetDecisions", req).decision_responses
    ]


TRANSMIT = po.Action.STANDARD_ACTION_TRANSMIT


def test_one_answer_per_resource_and_chain_in_order(call) -> None:
    chains = [
        az.EntityChain(id="c-alice", entities=[alice()]),
        az.EntityChain(id="c-bob", entities=[bob()]),
    ]
    resources = [
        az.ResourceAttribute(resource_attributes_id="r-mid", attribute_value_fqns=[fqn("mid")]),
        az.ResourceAttribute(attribute_value_fqns=[fqn("hi"), fqn("mid")]),
    ]
    assert _decide(call, chains, resources) == [
        ("c-alice", "r-mid", PERMIT, TRANSMIT),
        ("c-bob", "r-mid", DENY, TRANSMIT),
        ("c-alice", fqn("hi"), DENY, TRANSMIT),  # no id: the first FQN names it
        ("c-bob", fqn("hi"), DENY, TRANSMIT),
    ]


def test_upstreams_chain_rules(call) -> None:
    data = [az.ResourceAttribute(resource_attributes_id="r", attribute_value_fqns=[fqn("mid")])]
    nothing = [az.ResourceAttribute()]
    env = az.Entity.CATEGORY_ENVIRONMENT
    subject = az.Entity.CATEGORY_SUBJECT
    assert _decide(call, [az.EntityChain(id="empty")], data) == [("empty", "r", DENY, TRANSMIT)]
    assert _decide(call, [az.EntityChain(id="empty")], nothing) == [("empty", "", DENY, TRANSMIT)]
    assert _decide(call, [az.EntityChain(id="b", entities=[bob()])], nothing) == [
        ("b", "", PERMIT, TRANSMIT)
    ]
    env_bob = az.EntityChain(id="e", entities=[alice(category=subject), bob(category=env)])
    assert _decide(call, [env_bob], data) == [("e", "r", PERMIT, TRANSMIT)]
    both = az.EntityChain(id="s", entities=[alice(category=subject), bob()])  # unspecified decides
    assert _decide(call, [both], data) == [("s", "r", DENY, TRANSMIT)]
    only_env = az.EntityChain(id="o", entities=[bob(category=env)])
    assert _decide(call, [only_env], data) == [("o", "r", PERMIT, TRANSMIT)]


def test_the_platform_serves_both_versions_on_its_own_policy(tmp_path: Path) -> None:
    from xtdf.platform import authz

    methods = {m.path: m for m in authz.methods(SimpleNamespace(db=_policy(tmp_path)))}
    v1 = methods["/authorization.AuthorizationService/GetEntitlements"]
    assert "/authorization.v2.AuthorizationService/GetDecision" in methods
    resp = v1.handler(az.GetEntitlementsRequest(entities=[alice()]), CallContext(headers={}))
    assert list(resp.entitlements[0].attribute_value_fqns) == [fqn("mid")]


def test_a_decision_for_an_entity_of_no_kind_names_the_field(call) -> None:
    data = [az.ResourceAttribute(attribute_value_fqns=[fqn("mid")])]
    with pytest.raises(RpcError, match=r"^entities\.entity_type: none is not supported$"):
        _decide(call, [az.EntityChain(id="x", entities=[az.Entity()])], data)
