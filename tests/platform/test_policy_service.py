"""The policy and authorization RPC handlers, called as the transports call them."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from xtdf._proto.policy import objects_pb2 as po
from xtdf.crypto import ec as ec_crypto
from xtdf.crypto.keys import private_pem, public_pem
from xtdf.platform import authz, policy
from xtdf.platform.policy.keys import KeyStore
from xtdf.platform.rpc import CallContext, Method, RpcError
from xtdf.platform.store import Database


class Services:
    """Looks methods up by ``Service/Method`` and calls them with JSON, like a Connect client."""

    def __init__(self, platform: Any) -> None:
        self.methods: dict[str, Method] = {
            m.path: m for m in policy.methods(platform) + authz.methods(platform)
        }

    def __call__(self, path: str, body: dict | None = None) -> dict:
        m = self.methods["/" + path]
        req = json_format.ParseDict(body or {}, m.request_type())
        resp = m.handler(req, CallContext(headers={}, claims={"client_id": "opentdf"}))
        assert isinstance(resp, m.response_type)
        return json_format.MessageToDict(resp)

    def raw(self, path: str, req: Message) -> Message:
        return self.methods["/" + path].handler(req, CallContext(headers={}))


@pytest.fixture
def platform(tmp_path: Path) -> SimpleNamespace:
    wellknown: dict[str, Any] = {}
    return SimpleNamespace(
        db=Database(tmp_path / "xtdf.db"),
        state_dir=tmp_path,
        wellknown=wellknown,
        register_wellknown=wellknown.__setitem__,
    )


@pytest.fixture
def call(platform: SimpleNamespace) -> Services:
    return Services(platform)


NS = "policy.namespaces.NamespaceService"
ATTR = "policy.attributes.AttributesService"
KAS = "policy.kasregistry.KeyAccessServerRegistryService"
SM = "policy.subjectmapping.SubjectMappingService"
AUTHZ = "authorization.AuthorizationService"


def test_method_names_are_upstreams(call: Services) -> None:
    expected = {
        f"/{NS}/CreateNamespace",
        f"/{NS}/ListNamespaces",
        f"/{NS}/GetNamespace",
        f"/{ATTR}/GetAttributeValuesByFqns",
        f"/{ATTR}/CreateAttribute",
        f"/{ATTR}/CreateAttributeValue",
        f"/{ATTR}/AssignPublicKeyToValue",
        f"/{KAS}/ListKeyAccessServers",
        f"/{KAS}/CreateKey",
        f"/{KAS}/ListKeys",
        f"/{KAS}/SetBaseKey",
        f"/{KAS}/GetBaseKey",
        f"/{SM}/CreateSubjectConditionSet",
        f"/{SM}/CreateSubjectMapping",
        f"/{AUTHZ}/GetEntitlements",
        f"/{AUTHZ}/GetDecisions",
    }
    assert expected <= set(call.methods)
    assert call.methods[f"/{ATTR}/GetAttributeValuesByFqns"].idempotent
    assert not call.methods[f"/{NS}/CreateNamespace"].idempotent


def _setup(call: Services) -> dict[str, Any]:
    ns = call(f"{NS}/CreateNamespace", {"name": "example.com"})["namespace"]
    attr = call(
        f"{ATTR}/CreateAttribute",
        {
            "namespaceId": ns["id"],
            "name": "level",
            "rule": "ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY",
            "values": ["high", "low"],
        },
    )["attribute"]
    kas = call(f"{KAS}/CreateKeyAccessServer", {"uri": "http://kas.example.com", "name": "k1"})[
        "keyAccessServer"
    ]
    key = call(
        f"{KAS}/CreateKey",
        {
            "kasId": kas["id"],
            "keyId": "r9",
            "keyAlgorithm": "ALGORITHM_RSA_2048",
            "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
        },
    )["kasKey"]
    return {"ns": ns, "attr": attr, "kas": kas, "key": key}


def test_values_by_fqns_carries_rule_values_and_keys(call: Services) -> None:
    objs = _setup(call)
    low = objs["attr"]["values"][1]
    call(
        f"{ATTR}/AssignPublicKeyToValue",
        {"valueKey": {"valueId": low["id"], "keyId": objs["key"]["key"]["id"]}},
    )
    fqn = "https://example.com/attr/level/value/low"
    got = call(f"{ATTR}/GetAttributeValuesByFqns", {"fqns": [fqn]})["fqnAttributeValues"][fqn]
    assert got["attribute"]["rule"] == "ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY"
    assert [v["value"] for v in got["attribute"]["values"]] == ["high", "low"]
    kas_key = got["value"]["kasKeys"][0]
    assert kas_key["kasUri"] == "http://kas.example.com"
    assert kas_key["publicKey"]["kid"] == "r9"
    assert kas_key["publicKey"]["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    grant = got["value"]["grants"][0]
    assert grant["uri"] == "http://kas.example.com"
    assert grant["publicKey"]["cached"]["keys"][0]["alg"] == "KAS_PUBLIC_KEY_ALG_ENUM_RSA_2048"
    mappings = call(f"{ATTR}/GetKeyMappingsByFqns", {"fqns": [fqn]})["fqnKeyMappings"][fqn]
    assert mappings["keys"][0]["publicKey"]["kid"] == "r9"
    with pytest.raises(RpcError) as exc:
        call(
            f"{ATTR}/GetAttributeValuesByFqns", {"fqns": ["https://example.com/attr/level/value/x"]}
        )
    assert exc.value.code == "not_found"
    with pytest.raises(RpcError) as exc:
        call(f"{ATTR}/GetAttributeValuesByFqns", {})
    assert exc.value.code == "invalid_argument" and "fqns" in exc.value.message


def test_get_and_list(call: Services) -> None:
    objs = _setup(call)
    assert (
        call(f"{NS}/GetNamespace", {"fqn": "https://example.com"})["namespace"]["id"]
        == objs["ns"]["id"]
    )
    assert (
        call(f"{NS}/GetNamespace", {"id": objs["ns"]["id"]})["namespace"]["name"] == "example.com"
    )
    assert len(call(f"{NS}/ListNamespaces")["namespaces"]) == 1
    assert (
        call(f"{ATTR}/GetAttribute", {"fqn": objs["attr"]["fqn"]})["attribute"]["id"]
        == objs["attr"]["id"]
    )
    listed = call(f"{ATTR}/ListAttributes", {"namespace": "example.com"})
    assert listed["pagination"]["total"] == 1
    value = call(
        f"{ATTR}/CreateAttributeValue", {"attributeId": objs["attr"]["id"], "value": "lowest"}
    )
    assert value["value"]["fqn"] == "https://example.com/attr/level/value/lowest"
    assert (
        call(f"{KAS}/GetKeyAccessServer", {"name": "k1"})["keyAccessServer"]["uri"]
        == "http://kas.example.com"
    )
    listed_kas = call(f"{KAS}/ListKeyAccessServers")["keyAccessServers"]
    assert listed_kas[0]["publicKey"]["cached"]["keys"][0]["kid"] == "r9"
    with pytest.raises(RpcError) as exc:
        call(f"{NS}/GetNamespace", {})
    assert exc.value.code == "invalid_argument"


def test_create_key_forms(call: Services, platform: SimpleNamespace) -> None:
    objs = _setup(call)
    kas_id = objs["kas"]["id"]
    generated = objs["key"]["key"]
    assert generated["keyMode"] == "KEY_MODE_CONFIG_ROOT_KEY"
    assert generated["privateKeyCtx"]["wrappedKey"]
    assert "PRIVATE" not in base64.b64decode(generated["privateKeyCtx"]["wrappedKey"]).decode(
        "latin-1"
    )

    key = ec_crypto.generate()
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    imported = call(
        f"{KAS}/CreateKey",
        {
            "kasId": kas_id,
            "keyId": "imp",
            "keyAlgorithm": "ALGORITHM_EC_P256",
            "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
            "privateKeyCtx": {"wrappedKey": b64(private_pem(key))},
            "publicKeyCtx": {"pem": b64(public_pem(key))},
            "legacy": True,
        },
    )["kasKey"]["key"]
    assert imported["legacy"] is True
    keystore = KeyStore.for_platform(platform)
    assert public_pem(keystore.private_key_for(kas_id, "imp")) == public_pem(key)

    # upstream's form: wrapped with the platform's root key by the caller
    other = ec_crypto.generate()
    wrapped = keystore.root.wrap(private_pem(other).encode())
    call(
        f"{KAS}/CreateKey",
        {
            "kasId": kas_id,
            "keyId": "wrapped",
            "keyAlgorithm": "ALGORITHM_EC_P256",
            "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
            "privateKeyCtx": {"keyId": "root", "wrappedKey": wrapped},
        },
    )
    assert public_pem(keystore.private_key_for(kas_id, "wrapped")) == public_pem(other)

    public_only = call(
        f"{KAS}/CreateKey",
        {
            "kasId": kas_id,
            "keyId": "pub",
            "keyAlgorithm": "ALGORITHM_EC_P256",
            "keyMode": "KEY_MODE_PUBLIC_KEY_ONLY",
            "publicKeyCtx": {"pem": b64(public_pem(ec_crypto.generate()))},
        },
    )["kasKey"]["key"]
    assert "privateKeyCtx" not in public_only

    bad = [
        ({"keyId": "x"}, "kas_id"),
        ({"kasId": kas_id}, "key_id"),
        (
            {
                "kasId": kas_id,
                "keyId": "x",
                "keyAlgorithm": "ALGORITHM_RSA_2048",
                "keyMode": "KEY_MODE_REMOTE",
            },
            "key_mode",
        ),
        ({"kasId": kas_id, "keyId": "x", "keyMode": "KEY_MODE_CONFIG_ROOT_KEY"}, "key_algorithm"),
        (
            {
                "kasId": kas_id,
                "keyId": "x",
                "keyAlgorithm": "ALGORITHM_EC_P256",
                "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
                "privateKeyCtx": {"wrappedKey": base64.b64encode(b"\0" * 40).decode()},
            },
            "wrapped_key",
        ),
    ]
    for body, field in bad:
        with pytest.raises(RpcError) as exc:
            call(f"{KAS}/CreateKey", body)
        assert exc.value.code == "invalid_argument", body
        assert field in exc.value.message
    with pytest.raises(RpcError) as exc:
        call(
            f"{KAS}/CreateKey",
            {
                "kasId": kas_id,
                "keyId": "r9",
                "keyAlgorithm": "ALGORITHM_RSA_2048",
                "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
            },
        )
    assert exc.value.code == "already_exists"

    listed = call(f"{KAS}/ListKeys", {"kasUri": "http://kas.example.com"})["kasKeys"]
    assert [k["key"]["keyId"] for k in listed] == ["r9", "imp", "wrapped", "pub"]
    legacy = call(f"{KAS}/ListKeys", {"legacy": True})["kasKeys"]
    assert [k["key"]["keyId"] for k in legacy] == ["imp"]
    # SDKs may encrypt to the registry's cached keys: legacy keys are not among them
    kas = call(f"{KAS}/GetKeyAccessServer", {"kasId": kas_id})["keyAccessServer"]
    assert [k["kid"] for k in kas["publicKey"]["cached"]["keys"]] == ["r9", "wrapped", "pub"]
    assert len(kas["kasKeys"]) == 4


def test_base_key(call: Services, platform: SimpleNamespace) -> None:
    objs = _setup(call)
    assert call(f"{KAS}/GetBaseKey") == {}
    assert "base_key" not in platform.wellknown
    first = call(f"{KAS}/SetBaseKey", {"key": {"kasId": objs["kas"]["id"], "kid": "r9"}})
    assert first["newBaseKey"]["publicKey"]["kid"] == "r9"
    assert "previousBaseKey" not in first
    second = call(f"{KAS}/SetBaseKey", {"id": objs["key"]["key"]["id"]})
    assert second["previousBaseKey"]["publicKey"]["kid"] == "r9"
    published = platform.wellknown["base_key"]
    assert published["kas_uri"] == "http://kas.example.com"
    assert published["public_key"]["algorithm"] == "rsa:2048"
    assert published["public_key"]["kid"] == "r9"
    # a restarted platform publishes the stored base key again
    restarted = SimpleNamespace(db=platform.db, register_wellknown=platform.wellknown.__setitem__)
    platform.wellknown.clear()
    policy.methods(restarted)
    assert platform.wellknown["base_key"] == published
    got = call(f"{KAS}/GetBaseKey")["baseKey"]
    assert (got["kasUri"], got["publicKey"]["algorithm"]) == (
        "http://kas.example.com",
        "ALGORITHM_RSA_2048",
    )
    with pytest.raises(RpcError) as exc:
        call(f"{KAS}/SetBaseKey", {"key": {"uri": "http://kas.example.com", "kid": "nope"}})
    assert exc.value.code == "not_found"
    with pytest.raises(RpcError) as exc:
        call(f"{KAS}/SetBaseKey", {})
    assert exc.value.code == "invalid_argument"


def _client_set(*clients: str) -> list[dict]:
    return [
        {
            "conditionGroups": [
                {
                    "booleanOperator": "CONDITION_BOOLEAN_TYPE_ENUM_OR",
                    "conditions": [
                        {
                            "subjectExternalSelectorValue": ".clientId",
                            "operator": "SUBJECT_MAPPING_OPERATOR_ENUM_IN",
                            "subjectExternalValues": list(clients),
                        }
                    ],
                }
            ]
        }
    ]


def test_subject_mappings_drive_authorization(call: Services) -> None:
    objs = _setup(call)
    high, low = objs["attr"]["values"]
    scs = call(
        f"{SM}/CreateSubjectConditionSet",
        {"subjectConditionSet": {"subjectSets": _client_set("alice")}},
    )
    scs_id = scs["subjectConditionSet"]["id"]
    call(
        f"{SM}/CreateSubjectMapping",
        {
            "attributeValueId": low["id"],
            "actions": [{"standard": "STANDARD_ACTION_DECRYPT"}],
            "existingSubjectConditionSetId": scs_id,
        },
    )
    call(
        f"{SM}/CreateSubjectMapping",
        {
            "attributeValueId": high["id"],
            "actions": [{"name": "read"}],
            "newSubjectConditionSet": {"subjectSets": _client_set("boss")},
        },
    )
    assert len(call(f"{SM}/ListSubjectMappings")["subjectMappings"]) == 2
    assert len(call(f"{SM}/ListSubjectConditionSets")["subjectConditionSets"]) == 2
    got = call(f"{SM}/GetSubjectConditionSet", {"id": scs_id})
    assert len(got["associatedSubjectMappings"]) == 1

    ents = call(
        f"{AUTHZ}/GetEntitlements",
        {
            "entities": [{"id": "a", "clientId": "alice"}, {"id": "b", "clientId": "boss"}],
            "withComprehensiveHierarchy": True,
        },
    )["entitlements"]
    assert ents[0] == {"entityId": "a", "attributeValueFqns": [low["fqn"]]}
    assert sorted(ents[1]["attributeValueFqns"]) == sorted([high["fqn"], low["fqn"]])

    decisions = call(
        f"{AUTHZ}/GetDecisions",
        {
            "decisionRequests": [
                {
                    "actions": [{"standard": "STANDARD_ACTION_DECRYPT"}],
                    "entityChains": [
                        {"id": "alice", "entities": [{"clientId": "alice"}]},
                        {"id": "boss", "entities": [{"clientId": "boss"}]},
                    ],
                    "resourceAttributes": [
                        {"resourceAttributesId": "r-low", "attributeValueFqns": [low["fqn"]]},
                        {"resourceAttributesId": "r-high", "attributeValueFqns": [high["fqn"]]},
                        {
                            "resourceAttributesId": "r-unknown",
                            "attributeValueFqns": ["https://example.com/attr/level/value/zzz"],
                        },
                    ],
                }
            ]
        },
    )["decisionResponses"]
    verdicts = {(d["entityChainId"], d["resourceAttributesId"]): d["decision"] for d in decisions}
    assert verdicts == {
        ("alice", "r-low"): "DECISION_PERMIT",
        ("alice", "r-high"): "DECISION_DENY",
        ("alice", "r-unknown"): "DECISION_DENY",
        ("boss", "r-low"): "DECISION_PERMIT",
        ("boss", "r-high"): "DECISION_PERMIT",
        ("boss", "r-unknown"): "DECISION_DENY",
    }
    with pytest.raises(RpcError) as exc:
        call(f"{AUTHZ}/GetEntitlements", {"entities": [{"remoteClaimsUrl": "http://x"}]})
    assert exc.value.code == "invalid_argument"


def test_grants_at_every_level(call: Services) -> None:
    objs = _setup(call)
    kas_id = objs["kas"]["id"]
    low = objs["attr"]["values"][1]
    call(
        f"{NS}/AssignKeyAccessServerToNamespace",
        {
            "namespaceKeyAccessServer": {
                "namespaceId": objs["ns"]["id"],
                "keyAccessServerId": kas_id,
            }
        },
    )
    call(
        f"{ATTR}/AssignKeyAccessServerToAttribute",
        {
            "attributeKeyAccessServer": {
                "attributeId": objs["attr"]["id"],
                "keyAccessServerId": kas_id,
            }
        },
    )
    call(
        f"{ATTR}/AssignKeyAccessServerToValue",
        {"valueKeyAccessServer": {"valueId": low["id"], "keyAccessServerId": kas_id}},
    )
    call(
        f"{NS}/AssignPublicKeyToNamespace",
        {"namespaceKey": {"namespaceId": objs["ns"]["id"], "keyId": objs["key"]["key"]["id"]}},
    )
    call(
        f"{ATTR}/AssignPublicKeyToAttribute",
        {"attributeKey": {"attributeId": objs["attr"]["id"], "keyId": objs["key"]["key"]["id"]}},
    )
    fqn = low["fqn"]
    got = call(f"{ATTR}/GetAttributeValuesByFqns", {"fqns": [fqn]})["fqnAttributeValues"][fqn]
    assert [g["uri"] for g in got["value"]["grants"]] == ["http://kas.example.com"]
    assert [g["uri"] for g in got["attribute"]["grants"]] == ["http://kas.example.com"]
    assert [g["uri"] for g in got["attribute"]["namespace"]["grants"]] == ["http://kas.example.com"]
    assert got["attribute"]["kasKeys"][0]["publicKey"]["kid"] == "r9"
    assert got["attribute"]["namespace"]["kasKeys"][0]["publicKey"]["kid"] == "r9"
    removed = call(
        f"{NS}/RemovePublicKeyFromNamespace",
        {"namespaceKey": {"namespaceId": objs["ns"]["id"], "keyId": objs["key"]["key"]["id"]}},
    )
    assert removed["namespaceKey"]["namespaceId"] == objs["ns"]["id"]
    with pytest.raises(RpcError) as exc:
        call(
            f"{ATTR}/AssignKeyAccessServerToValue",
            {"valueKeyAccessServer": {"valueId": low["id"], "keyAccessServerId": "nope"}},
        )
    assert exc.value.code == "not_found"


def test_binary_and_json_agree(call: Services) -> None:
    """Messages parse from upstream's field numbers: a hand-encoded request works."""
    from xtdf._proto.policy.namespaces import namespaces_pb2 as ns

    # field 1 (name), length-delimited: upstream's CreateNamespaceRequest wire form
    raw = b"\x0a\x0bexample.org"
    req = ns.CreateNamespaceRequest.FromString(raw)
    resp = call.raw(f"{NS}/CreateNamespace", req)
    assert resp.namespace.fqn == "https://example.org"
    # Namespace.fqn is field 3 on the wire
    assert b"\x1a\x13https://example.org" in resp.namespace.SerializeToString()
    assert po.Attribute.DESCRIPTOR.fields_by_name["kas_keys"].number == 9


def test_pagination(call: Services) -> None:
    for i in range(5):
        call(f"{NS}/CreateNamespace", {"name": f"ns{i}.example.com"})
    page = call(f"{NS}/ListNamespaces", {"pagination": {"limit": 2, "offset": 1}})
    assert [n["name"] for n in page["namespaces"]] == ["ns1.example.com", "ns2.example.com"]
    assert page["pagination"] == {"currentOffset": 1, "nextOffset": 3, "total": 5}
    last = call(f"{NS}/ListNamespaces", {"pagination": {"limit": 2, "offset": 4}})
    assert [n["name"] for n in last["namespaces"]] == ["ns4.example.com"]
    assert "nextOffset" not in last["pagination"]


def test_decision_chains_follow_upstream_v1(call: Services) -> None:
    objs = _setup(call)
    _high, low = objs["attr"]["values"]
    call(
        f"{SM}/CreateSubjectMapping",
        {
            "attributeValueId": low["id"],
            "actions": [{"name": "read"}],
            "newSubjectConditionSet": {"subjectSets": _client_set("alice")},
        },
    )
    env = {"clientId": "alice", "category": "CATEGORY_ENVIRONMENT"}
    subject = {"clientId": "eve", "category": "CATEGORY_SUBJECT"}
    chains = [
        {"id": "env-only", "entities": [env]},  # environment entities never decide
        {"id": "env-and-eve", "entities": [env, subject]},  # the subject must be entitled
        {"id": "alice", "entities": [{"clientId": "alice"}]},  # unspecified counts as subject
        {"id": "empty", "entities": []},
    ]
    out = call(
        f"{AUTHZ}/GetDecisions",
        {
            "decisionRequests": [
                {
                    "entityChains": chains,
                    "resourceAttributes": [
                        {"attributeValueFqns": [low["fqn"]]},
                        {"resourceAttributesId": "none", "attributeValueFqns": []},
                    ],
                }
            ]
        },
    )["decisionResponses"]
    got = [(d["resourceAttributesId"], d["entityChainId"], d["decision"]) for d in out]
    assert got == [
        (low["fqn"], "env-only", "DECISION_PERMIT"),
        (low["fqn"], "env-and-eve", "DECISION_DENY"),
        (low["fqn"], "alice", "DECISION_PERMIT"),
        (low["fqn"], "empty", "DECISION_DENY"),
        ("none", "env-only", "DECISION_PERMIT"),
        ("none", "env-and-eve", "DECISION_PERMIT"),
        ("none", "alice", "DECISION_PERMIT"),
        ("none", "empty", "DECISION_DENY"),
    ]
    assert all(d["action"] == {"standard": "STANDARD_ACTION_TRANSMIT"} for d in out)
