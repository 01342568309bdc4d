"""authorization.v2: action-aware decisions and entitlements (in-process and over the wire)."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from google.protobuf import json_format

from tests.platform.conftest import client_id_sets
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform import authz
from xtdf.platform.admin import PolicyAdmin, condition_set
from xtdf.platform.authz.engine import action_name
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import CallContext, RpcError
from xtdf.platform.store import Database

V2 = "authorization.v2.AuthorizationService"
HIERARCHY = po.ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY
DECRYPT = po.Action(standard=po.Action.STANDARD_ACTION_DECRYPT)
TRANSMIT = po.Action(standard=po.Action.STANDARD_ACTION_TRANSMIT)


@pytest.mark.parametrize(
    ("action", "name"),
    [
        (DECRYPT, "read"),
        (TRANSMIT, "create"),
        (po.Action(standard=po.Action.STANDARD_ACTION_UNSPECIFIED), ""),  # no name for it
        (po.Action(name="Read"), "read"),
        (po.Action(custom="audit"), "audit"),
        (po.Action(), ""),
    ],
)
def test_action_names_follow_upstreams_migration(action: po.Action, name: str) -> None:
    assert action_name(action) == name


@pytest.fixture
def platform(tmp_path: Path) -> SimpleNamespace:
    db = Database(tmp_path / "xtdf.db")
    store = PolicyStore(db)
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "level", HIERARCHY, ["hi", "mid", "lo"])
    base = "https://example.com/attr/level/value/"
    # alice may decrypt at mid (and so below); bob may only create (transmit) at hi
    store.create_subject_mapping(base + "mid", [DECRYPT], new_condition_set=client_id_sets("alice"))
    store.create_subject_mapping(base + "hi", [TRANSMIT], new_condition_set=client_id_sets("bob"))
    return SimpleNamespace(db=db)


def fqn(v: str) -> str:
    return f"https://example.com/attr/level/value/{v}"


def test_engine_filters_by_action(platform: SimpleNamespace) -> None:
    engine = authz.Authorizer.for_platform(platform)
    bob = {"client_id": "bob"}
    assert engine.decide(bob, [fqn("lo")]).permit  # any action
    assert not engine.decide(bob, [fqn("lo")], action="read").permit
    assert engine.decide(bob, [fqn("lo")], action="create").permit
    assert engine.entitled_actions({"client_id": "alice"}, comprehensive_hierarchy=True) == {
        fqn("mid"): {"read"},
        fqn("lo"): {"read"},
    }


def call(platform: Any, name: str, body: dict, claims: dict | None = None) -> dict:
    m = {m.path: m for m in authz.methods(platform)}[f"/{V2}/{name}"]
    req = json_format.ParseDict(body, m.request_type())
    resp = m.handler(req, CallContext(headers={}, claims=claims))
    return json_format.MessageToDict(resp)


def chain(*clients: str, env: str | None = None) -> dict:
    entities: list[dict] = [{"ephemeralId": c, "clientId": c} for c in clients]
    if env:
        entities.append({"clientId": env, "category": "CATEGORY_ENVIRONMENT"})
    return {"entityChain": {"entities": entities}}


def test_decisions_per_action(platform: SimpleNamespace) -> None:
    read = {"name": "read"}
    res = lambda *v: {"ephemeralId": "r", "attributeValues": {"fqns": [fqn(x) for x in v]}}  # noqa: E731
    one = call(
        platform,
        "GetDecision",
        {"entityIdentifier": chain("alice"), "action": read, "resource": res("lo")},
    )
    assert one["decision"] == {"ephemeralResourceId": "r", "decision": "DECISION_PERMIT"}
    denied = call(
        platform,
        "GetDecision",
        {"entityIdentifier": chain("alice"), "action": read, "resource": res("hi")},
    )
    assert denied["decision"]["decision"] == "DECISION_DENY"
    # environment entities never decide; every subject must be entitled
    env = call(
        platform,
        "GetDecision",
        {"entityIdentifier": chain("alice", env="eve"), "action": read, "resource": res("lo")},
    )
    assert env["decision"]["decision"] == "DECISION_PERMIT"
    both = call(
        platform,
        "GetDecision",
        {"entityIdentifier": chain("alice", "bob"), "action": read, "resource": res("lo")},
    )
    assert both["decision"]["decision"] == "DECISION_DENY"
    multi = call(
        platform,
        "GetDecisionMultiResource",
        {
            "entityIdentifier": chain("bob"),
            "action": {"standard": "STANDARD_ACTION_TRANSMIT"},
            "resources": [res("hi"), res("nope")],
        },
    )
    assert [d["decision"] for d in multi["resourceDecisions"]] == [
        "DECISION_PERMIT",
        "DECISION_DENY",
    ]
    assert multi["allPermitted"] is False
    bulk = call(
        platform,
        "GetDecisionBulk",
        {
            "decisionRequests": [
                {"entityIdentifier": chain("alice"), "action": read, "resources": [res("mid")]}
            ]
        },
    )
    assert bulk["decisionResponses"][0]["allPermitted"] is True
    mine = call(
        platform,
        "GetDecision",
        {"entityIdentifier": {"withRequestToken": True}, "action": read, "resource": res("lo")},
        claims={"azp": "alice"},
    )
    assert mine["decision"]["decision"] == "DECISION_PERMIT"
    # the caller's own token and the action reach every resource of a multi and a bulk request
    as_me = {"entityIdentifier": {"withRequestToken": True}, "resources": [res("lo")]}
    for action, verdict in ((read, True), ({"name": "create"}, False)):
        multi = call(
            platform, "GetDecisionMultiResource", {**as_me, "action": action}, {"azp": "alice"}
        )
        assert multi["allPermitted"] is verdict
        bulk = call(
            platform,
            "GetDecisionBulk",
            {"decisionRequests": [{**as_me, "action": action}]},
            claims={"azp": "alice"},
        )
        assert bulk["decisionResponses"][0]["allPermitted"] is verdict


def test_entitlements(platform: SimpleNamespace) -> None:
    out = call(
        platform,
        "GetEntitlements",
        {"entityIdentifier": chain("alice"), "withComprehensiveHierarchy": True},
    )
    ents = out["entitlements"][0]
    assert ents["ephemeralId"] == "alice"
    assert ents["actionsPerAttributeValueFqn"] == {
        fqn("lo"): {"actions": [{"name": "read"}]},
        fqn("mid"): {"actions": [{"name": "read"}]},
    }


READ = {"name": "read"}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"entityIdentifier": {}, "action": READ},
            "invalid_argument",
            "entity_identifier: required",
        ),
        (
            {"entityIdentifier": {"withRequestToken": False}, "action": READ},
            "invalid_argument",
            "entity_identifier: required",
        ),
        (
            {"entityIdentifier": chain("alice"), "action": {}},
            "invalid_argument",
            "action: a name (e.g. read) is required",
        ),
        (
            {
                "entityIdentifier": chain("alice"),
                "action": READ,
                "resource": {"registeredResourceValueFqn": "https://x/y"},
            },
            "invalid_argument",
            "resource: only attribute_values resources are supported",
        ),
        (
            {
                "entityIdentifier": chain("alice"),
                "action": READ,
                "resource": {"attributeValues": {"fqns": []}},
            },
            "invalid_argument",
            "resource.attribute_values.fqns: required",
        ),
        (
            {"entityIdentifier": {"registeredResourceValueFqn": "https://x"}, "action": READ},
            "invalid_argument",
            "entity_identifier: registered resources are not supported",
        ),
        (
            {"entityIdentifier": {"token": {"jwt": "x"}}, "action": READ},
            "unimplemented",
            "token entities need the platform's authenticator",
        ),
        (
            {"entityIdentifier": {"entityChain": {"entities": [{}]}}, "action": READ},
            "invalid_argument",
            "entity.entity_type: none is not supported",
        ),
    ],
)
def test_refusals_name_the_field(
    platform: SimpleNamespace, body: dict, code: str, message: str
) -> None:
    with pytest.raises(RpcError) as exc:
        call(platform, "GetDecision", body)
    assert (exc.value.code, exc.value.message) == (code, message)


def test_entity_ids_and_the_request_token(platform: SimpleNamespace) -> None:
    """Each entity answers under its ephemeral id, or its place; a token entity under
    its id or "token"; the caller's own token as "request-token"."""
    body = {"entityIdentifier": {"entityChain": {"entities": [{"clientId": "alice"}]}}}
    out = call(platform, "GetEntitlements", body)
    assert out["entitlements"][0]["ephemeralId"] == "entity-0"
    mine = {"entityIdentifier": {"withRequestToken": True}}
    out = call(platform, "GetEntitlements", mine, claims={"client_id": "alice"})
    assert out["entitlements"][0]["ephemeralId"] == "request-token"
    assert fqn("mid") in out["entitlements"][0]["actionsPerAttributeValueFqn"]
    with pytest.raises(RpcError) as exc:
        call(platform, "GetEntitlements", mine)  # no token on the call
    assert exc.value.code == "unauthenticated"


def test_token_entities_over_the_wire(local_platform: Any) -> None:
    url = local_platform.url
    tag = uuid.uuid4().hex[:8]
    with PolicyAdmin(url) as admin:
        ns = admin.create_namespace(f"v2-{tag}.example.com")
        admin.create_attribute(ns["fqn"], "a", "any_of", ["x"])
        value = f"{ns['fqn']}/attr/a/value/x"
        admin.create_subject_mapping(value, subject_sets=condition_set(".clientId", ["xtdf-alice"]))
    caller = local_platform.headers(local_platform.token())

    def decide(identifier: dict) -> str:
        body = {
            "entityIdentifier": identifier,
            "action": {"name": "read"},
            "resource": {"attributeValues": {"fqns": [value]}},
        }
        resp = httpx.post(f"{url}/{V2}/GetDecision", json=body, headers=caller)
        assert resp.status_code == 200, resp.text
        return resp.json()["decision"]["decision"]

    assert decide({"token": {"jwt": local_platform.token("xtdf-alice")}}) == "DECISION_PERMIT"
    assert decide({"token": {"jwt": local_platform.token("xtdf-bob")}}) == "DECISION_DENY"
    assert decide({"withRequestToken": True}) == "DECISION_DENY"  # the caller is opentdf
    alice = local_platform.token("xtdf-alice")
    for token, answers_as in (({"jwt": alice}, "token"), ({"jwt": alice, "ephemeralId": "a"}, "a")):
        resp = httpx.post(
            f"{url}/{V2}/GetEntitlements",
            json={"entityIdentifier": {"token": token}},
            headers=caller,
        )
        assert resp.status_code == 200, resp.text
        assert [e["ephemeralId"] for e in resp.json()["entitlements"]] == [answers_as]
    bad = httpx.post(
        f"{url}/{V2}/GetDecision",
        json={"entityIdentifier": {"token": {"jwt": "forged"}}, "action": {"name": "read"}},
        headers=caller,
    )
    assert bad.status_code == 400 and "token" in bad.json()["message"]
