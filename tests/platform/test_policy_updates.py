"""Policy updates, deactivation, value lists, subject mapping matches, KAS grant listings
and actions over Connect JSON, on the real platform over loopback.

The otdfctl tests (``test_otdfctl_policy.py``) drive the same RPCs with the reference
client; these check what otdfctl cannot show: who is refused (and that a refused call
changed nothing), the exact error code and message of bad requests, pagination, and the
metadata and match rules taken from upstream.
"""

from __future__ import annotations

import base64
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.platform.conftest import LocalPlatform, start_platform
from xtdf.platform import roles
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.roles import RolePolicy
from xtdf.platform.store import Database

ADMIN, STANDARD, NO_ROLE = "opentdf", "opentdf-sdk", "xtdf-alice"
NS = "policy.namespaces.NamespaceService"
ATTR = "policy.attributes.AttributesService"
KAS = "policy.kasregistry.KeyAccessServerRegistryService"
SM = "policy.subjectmapping.SubjectMappingService"
ACT = "policy.actions.ActionService"
EXTEND, REPLACE = "METADATA_UPDATE_ENUM_EXTEND", "METADATA_UPDATE_ENUM_REPLACE"


class Client:
    """Connect JSON calls as one client; ``ok`` expects 200, ``fails`` a given error code."""

    def __init__(self, lp: LocalPlatform, http: httpx.Client, client_id: str) -> None:
        self.lp, self.http = lp, http
        self.headers = {"Connect-Protocol-Version": "1", **lp.headers(lp.token(client_id))}

    def call(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{self.lp.url}/{path}", json=body or {}, headers=self.headers)

    def ok(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.call(path, body)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    def fails(self, code: str, path: str, body: dict[str, Any] | None = None) -> str:
        r = self.call(path, body)
        assert r.status_code != 200, (path, r.text)
        assert r.json()["code"] == code, (path, r.text)
        return r.json()["message"]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def admin(local_platform: LocalPlatform, http: httpx.Client) -> Client:
    return Client(local_platform, http, ADMIN)


@pytest.fixture(scope="module")
def standard(local_platform: LocalPlatform, http: httpx.Client) -> Client:
    return Client(local_platform, http, STANDARD)


@pytest.fixture(scope="module")
def no_role(local_platform: LocalPlatform, http: httpx.Client) -> Client:
    return Client(local_platform, http, NO_ROLE)


def make(admin: Client, values: tuple[str, ...] = ("red", "blue")) -> dict[str, Any]:
    """A namespace of its own with one ANY_OF attribute; returns the attribute."""
    ns = admin.ok(f"{NS}/CreateNamespace", {"name": f"u{uuid.uuid4().hex[:10]}.example"})
    return admin.ok(
        f"{ATTR}/CreateAttribute",
        {
            "namespaceId": ns["namespace"]["id"],
            "name": "color",
            "rule": "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF",
            "values": list(values),
            "metadata": {"labels": {"a": "1"}},
        },
    )["attribute"]


def condition(selector: str, value: str) -> list[dict[str, Any]]:
    return [
        {
            "conditionGroups": [
                {
                    "booleanOperator": "CONDITION_BOOLEAN_TYPE_ENUM_OR",
                    "conditions": [
                        {
                            "subjectExternalSelectorValue": selector,
                            "operator": "SUBJECT_MAPPING_OPERATOR_ENUM_IN",
                            "subjectExternalValues": [value],
                        }
                    ],
                }
            ]
        }
    ]


def mapping(admin: Client, value_id: str, selector: str, value: str = "x") -> dict[str, Any]:
    return admin.ok(
        f"{SM}/CreateSubjectMapping",
        {
            "attributeValueId": value_id,
            "actions": [{"name": "read"}],
            "newSubjectConditionSet": {"subjectSets": condition(selector, value)},
        },
    )["subjectMapping"]


# -- what otdfctl 0.21.0 calls --------------------------------------------------------------

#: every policy RPC otdfctl 0.21.0's handlers call (its pkg/handlers), by service
OTDFCTL_0_21_RPCS = {
    ACT: "CreateAction DeleteAction GetAction ListActions UpdateAction",
    ATTR: "AssignKeyAccessServerToAttribute AssignKeyAccessServerToValue"
    " AssignPublicKeyToAttribute AssignPublicKeyToValue CreateAttribute CreateAttributeValue"
    " DeactivateAttribute DeactivateAttributeValue GetAttribute GetAttributeValue"
    " ListAttributeValues ListAttributes RemoveKeyAccessServerFromAttribute"
    " RemoveKeyAccessServerFromValue RemovePublicKeyFromAttribute RemovePublicKeyFromValue"
    " UpdateAttribute UpdateAttributeValue",
    KAS: "CreateKey CreateKeyAccessServer DeleteKeyAccessServer GetBaseKey GetKey"
    " GetKeyAccessServer ListKeyAccessServerGrants ListKeyAccessServers ListKeys RotateKey"
    " SetBaseKey UpdateKey UpdateKeyAccessServer",
    "policy.keymanagement.KeyManagementService": "CreateProviderConfig DeleteProviderConfig"
    " GetProviderConfig ListProviderConfigs UpdateProviderConfig",
    NS: "AssignKeyAccessServerToNamespace AssignPublicKeyToNamespace CreateNamespace"
    " DeactivateNamespace GetNamespace ListNamespaces RemoveKeyAccessServerFromNamespace"
    " RemovePublicKeyFromNamespace UpdateNamespace",
    "policy.resourcemapping.ResourceMappingService": "CreateResourceMapping"
    " CreateResourceMappingGroup DeleteResourceMapping DeleteResourceMappingGroup"
    " GetResourceMapping GetResourceMappingGroup ListResourceMappingGroups ListResourceMappings"
    " UpdateResourceMapping UpdateResourceMappingGroup",
    "policy.registeredresources.RegisteredResourcesService": "CreateRegisteredResource"
    " CreateRegisteredResourceValue DeleteRegisteredResource DeleteRegisteredResourceValue"
    " GetRegisteredResource GetRegisteredResourceValue ListRegisteredResourceValues"
    " ListRegisteredResources UpdateRegisteredResource UpdateRegisteredResourceValue",
    SM: "CreateSubjectConditionSet CreateSubjectMapping DeleteAllUnmappedSubjectConditionSets"
    " DeleteSubjectConditionSet DeleteSubjectMapping GetSubjectConditionSet GetSubjectMapping"
    " ListSubjectConditionSets ListSubjectMappings MatchSubjectMappings"
    " UpdateSubjectConditionSet UpdateSubjectMapping",
    "policy.unsafe.UnsafeService": "UnsafeDeleteAttribute UnsafeDeleteAttributeValue"
    " UnsafeDeleteNamespace UnsafeReactivateAttribute UnsafeReactivateAttributeValue"
    " UnsafeReactivateNamespace UnsafeUpdateAttribute UnsafeUpdateAttributeValue"
    " UnsafeUpdateNamespace",
}
READS = ("Get", "List", "Match")


def test_every_rpc_otdfctl_calls_is_served_and_judged_by_role(
    local_platform: LocalPlatform,
) -> None:
    """Served, marked idempotent exactly when it reads, and, by the role policy, open to
    standard clients exactly when it reads (Match* included) while admin may call all."""
    served = local_platform.platform.methods
    policy = RolePolicy()
    admin_claims = {"realm_access": {"roles": ["opentdf-admin"]}}
    standard_claims = {"realm_access": {"roles": ["opentdf-standard"]}}
    paths = [f"/{svc}/{name}" for svc, names in OTDFCTL_0_21_RPCS.items() for name in names.split()]
    assert len(paths) == 91
    for path in paths:
        assert path in served, path
        method = served[path]
        name = path.rsplit("/", 1)[1]
        reads = name.startswith(READS)
        assert method.idempotent == reads, path
        resource, action = path.lstrip("/"), roles.rpc_action(name)
        assert policy.allows(admin_claims, resource, action), path
        assert policy.allows(standard_claims, resource, action) == reads, path


# -- who may call them -------------------------------------------------------------------


def test_standard_client_cannot_write_and_nothing_changes(admin: Client, standard: Client) -> None:
    attr = make(admin)
    ns_id, value_id = attr["namespace"]["id"], attr["values"][0]["id"]
    sm = mapping(admin, value_id, ".refused")
    scs_id = sm["subjectConditionSet"]["id"]
    kas = admin.ok(
        f"{KAS}/CreateKeyAccessServer",
        {"uri": f"http://localhost:1/{uuid.uuid4().hex}", "publicKey": {"remote": "http://x/pk"}},
    )["keyAccessServer"]
    action = admin.ok(f"{ACT}/CreateAction", {"name": f"a{uuid.uuid4().hex[:8]}"})["action"]
    labels = {"metadata": {"labels": {"evil": "1"}}, "metadataUpdateBehavior": REPLACE}
    writes = [
        (f"{NS}/UpdateNamespace", {"id": ns_id, **labels}),
        (f"{NS}/DeactivateNamespace", {"id": ns_id}),
        (f"{ATTR}/UpdateAttribute", {"id": attr["id"], **labels}),
        (f"{ATTR}/DeactivateAttribute", {"id": attr["id"]}),
        (f"{ATTR}/UpdateAttributeValue", {"id": value_id, **labels}),
        (f"{ATTR}/DeactivateAttributeValue", {"id": value_id}),
        (f"{SM}/UpdateSubjectMapping", {"id": sm["id"], "actions": [{"name": "delete"}]}),
        (f"{SM}/DeleteSubjectMapping", {"id": sm["id"]}),
        (f"{SM}/UpdateSubjectConditionSet", {"id": scs_id, **labels}),
        (f"{SM}/DeleteSubjectConditionSet", {"id": scs_id}),
        (f"{SM}/DeleteAllUnmappedSubjectConditionSets", {}),
        (f"{KAS}/UpdateKeyAccessServer", {"id": kas["id"], "uri": "http://evil.example"}),
        (f"{KAS}/DeleteKeyAccessServer", {"id": kas["id"]}),
        (f"{ACT}/UpdateAction", {"id": action["id"], "name": "evil"}),
        (f"{ACT}/DeleteAction", {"id": action["id"]}),
    ]
    reads = [
        (f"{ATTR}/GetAttribute", {"id": attr["id"]}),
        (f"{SM}/GetSubjectMapping", {"id": sm["id"]}),
        (f"{KAS}/GetKeyAccessServer", {"id": kas["id"]}),
        (f"{ACT}/GetAction", {"id": action["id"]}),
    ]
    before = [admin.ok(p, b) for p, b in reads]
    for path, body in writes:
        message = standard.fails("permission_denied", path, body)
        assert message.startswith(f"permission denied: {path} "), message
    assert [admin.ok(p, b) for p, b in reads] == before


def test_standard_client_reads_lists_and_matches(standard: Client, no_role: Client) -> None:
    calls = [
        (f"{KAS}/ListKeyAccessServerGrants", {}),
        (f"{ACT}/ListActions", {}),
        (f"{ACT}/GetAction", {"name": "read"}),
        (f"{SM}/MatchSubjectMappings", {"subjectProperties": [{"externalSelectorValue": ".x"}]}),
    ]
    for path, body in calls:
        standard.ok(path, body)
        assert no_role.fails("permission_denied", path, body).startswith(
            f"permission denied: {path} "
        )


def test_standard_client_lists_values(admin: Client, standard: Client) -> None:
    attr = make(admin)
    got = standard.ok(f"{ATTR}/ListAttributeValues", {"attributeId": attr["id"]})
    assert [v["id"] for v in got["values"]] == [v["id"] for v in attr["values"]]


# -- metadata updates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field", "target"),
    [
        (f"{NS}/UpdateNamespace", "namespace", "namespace"),
        (f"{ATTR}/UpdateAttribute", "attribute", "attribute"),
        (f"{ATTR}/UpdateAttributeValue", "value", "value"),
    ],
)
def test_metadata_extend_replace_and_none(
    admin: Client, path: str, field: str, target: str
) -> None:
    attr = make(admin)
    ident = {"namespace": attr["namespace"]["id"], "attribute": attr["id"]}.get(
        target, attr["values"][0]["id"]
    )
    admin.ok(
        path, {"id": ident, "metadata": {"labels": {"a": "1"}}, "metadataUpdateBehavior": REPLACE}
    )
    out = admin.ok(
        path,
        {
            "id": ident,
            "metadata": {"labels": {"b": "2", "a": "3"}},
            "metadataUpdateBehavior": EXTEND,
        },
    )
    assert out[field]["metadata"]["labels"] == {"a": "3", "b": "2"}
    # no metadata: the labels stay, whatever the behaviour says
    out = admin.ok(path, {"id": ident, "metadataUpdateBehavior": REPLACE})
    assert out[field]["metadata"]["labels"] == {"a": "3", "b": "2"}
    out = admin.ok(
        path, {"id": ident, "metadata": {"labels": {"c": "4"}}, "metadataUpdateBehavior": REPLACE}
    )
    assert out[field]["metadata"]["labels"] == {"c": "4"}
    # metadata without a behaviour is refused, as upstream refuses it, and changes nothing
    message = admin.fails(
        "invalid_argument", path, {"id": ident, "metadata": {"labels": {"d": "5"}}}
    )
    assert "metadata_update_behavior" in message
    assert admin.ok(path, {"id": ident})[field]["metadata"]["labels"] == {"c": "4"}


# -- deactivation ----------------------------------------------------------------------------


def test_deactivate_namespace_cascades_and_stops_entitling(admin: Client) -> None:
    attr = make(admin)
    red = attr["values"][0]
    mapping(admin, red["id"], ".clientId", "opentdf")
    fqns = {"fqns": [red["fqn"]]}
    admin.ok(f"{ATTR}/GetAttributeValuesByFqns", fqns)
    assert admin.ok(f"{NS}/DeactivateNamespace", {"id": attr["namespace"]["id"]}) == {}
    got = admin.ok(f"{ATTR}/GetAttribute", {"id": attr["id"]})["attribute"]
    # a BoolValue in Connect JSON is the bare boolean
    assert got["active"] is False and got["namespace"]["active"] is False
    assert [v["active"] for v in got["values"]] == [False, False]
    assert "is inactive" in admin.fails("not_found", f"{ATTR}/GetAttributeValuesByFqns", fqns)
    listed = admin.ok(f"{NS}/ListNamespaces", {"state": "ACTIVE_STATE_ENUM_ANY"})["namespaces"]
    assert attr["namespace"]["id"] in {n["id"] for n in listed}
    active = admin.ok(f"{NS}/ListNamespaces").get("namespaces", [])
    assert attr["namespace"]["id"] not in {n["id"] for n in active}
    # and the mapping that entitled red no longer matches
    matched = admin.ok(
        f"{SM}/MatchSubjectMappings",
        {"subjectProperties": [{"externalSelectorValue": ".clientId"}]},
    )
    assert red["id"] not in {m["attributeValue"]["id"] for m in matched.get("subjectMappings", [])}


def test_deactivate_one_value_leaves_the_others(admin: Client) -> None:
    attr = make(admin)
    blue = attr["values"][1]
    out = admin.ok(f"{ATTR}/DeactivateAttributeValue", {"id": blue["id"]})
    assert out["value"]["id"] == blue["id"] and out["value"]["active"] is False
    got = admin.ok(f"{ATTR}/GetAttribute", {"id": attr["id"]})["attribute"]
    assert got["active"] is True
    assert [v["active"] for v in got["values"]] == [True, False]


@pytest.mark.parametrize(
    ("path", "body", "code", "names"),
    [
        (f"{NS}/UpdateNamespace", {"id": str(uuid.UUID(int=1))}, "not_found", "namespace"),
        (f"{NS}/DeactivateNamespace", {"id": str(uuid.UUID(int=1))}, "not_found", "namespace"),
        (f"{NS}/DeactivateNamespace", {}, "invalid_argument", "id"),
        (f"{ATTR}/DeactivateAttribute", {"id": str(uuid.UUID(int=1))}, "not_found", "attribute"),
        (f"{ATTR}/UpdateAttribute", {}, "invalid_argument", "id"),
        (
            f"{ATTR}/ListAttributeValues",
            {"attributeId": str(uuid.UUID(int=1))},
            "not_found",
            "attribute",
        ),
        (f"{ATTR}/ListAttributeValues", {}, "invalid_argument", "attribute_id"),
        (f"{ATTR}/DeactivateAttributeValue", {"id": str(uuid.UUID(int=1))}, "not_found", "value"),
        (
            f"{SM}/UpdateSubjectMapping",
            {"id": str(uuid.UUID(int=1))},
            "not_found",
            "subject mapping",
        ),
        (f"{SM}/DeleteSubjectMapping", {}, "invalid_argument", "id"),
        (
            f"{SM}/DeleteSubjectConditionSet",
            {"id": str(uuid.UUID(int=1))},
            "not_found",
            "condition set",
        ),
        (f"{SM}/MatchSubjectMappings", {}, "invalid_argument", "subject_properties"),
        (
            f"{KAS}/UpdateKeyAccessServer",
            {"id": str(uuid.UUID(int=1))},
            "not_found",
            "key access server",
        ),
        (f"{KAS}/DeleteKeyAccessServer", {}, "invalid_argument", "id"),
        (f"{ACT}/GetAction", {}, "invalid_argument", "identifier"),
        (f"{ACT}/GetAction", {"name": "no-such-action"}, "not_found", "action"),
        (f"{ACT}/CreateAction", {"name": "read"}, "invalid_argument", "standard action"),
        (f"{ACT}/CreateAction", {"name": "-bad name-"}, "invalid_argument", "invalid action name"),
        (f"{ACT}/DeleteAction", {"id": str(uuid.UUID(int=1))}, "not_found", "action"),
    ],
)
def test_bad_requests_name_what_failed(
    admin: Client, path: str, body: dict[str, Any], code: str, names: str
) -> None:
    assert names in admin.fails(code, path, body)


# -- lists and matches -------------------------------------------------------------------


def test_list_values_pages_and_filters(admin: Client) -> None:
    attr = make(admin, ("v0", "v1", "v2", "v3", "v4"))
    ids = [v["id"] for v in attr["values"]]
    path = f"{ATTR}/ListAttributeValues"
    page = admin.ok(path, {"attributeId": attr["id"], "pagination": {"limit": 2, "offset": 1}})
    assert [v["id"] for v in page["values"]] == ids[1:3]
    assert page["pagination"] == {"currentOffset": 1, "nextOffset": 3, "total": 5}
    admin.ok(f"{ATTR}/DeactivateAttributeValue", {"id": ids[0]})
    active = admin.ok(path, {"attributeId": attr["id"]})["values"]
    assert [v["id"] for v in active] == ids[1:]
    inactive = admin.ok(path, {"attributeId": attr["id"], "state": "ACTIVE_STATE_ENUM_INACTIVE"})
    assert [v["id"] for v in inactive["values"]] == ids[:1]


def test_match_compares_selectors_not_values(admin: Client) -> None:
    attr = make(admin)
    selector = f".sel_{uuid.uuid4().hex[:8]}"
    sm = mapping(admin, attr["values"][0]["id"], selector, "alice")
    path = f"{SM}/MatchSubjectMappings"
    # upstream matches on the selector alone: another value still matches
    for value in ("alice", "bob", ""):
        body = {"subjectProperties": [{"externalSelectorValue": selector, "externalValue": value}]}
        got = admin.ok(path, body).get("subjectMappings", [])
        assert [m["id"] for m in got] == [sm["id"]]
        assert got[0]["subjectConditionSet"]["id"] == sm["subjectConditionSet"]["id"]
    other = {"subjectProperties": [{"externalSelectorValue": selector + "_other"}]}
    assert admin.ok(path, other).get("subjectMappings", []) == []


def test_kas_grants_list_filters_by_id_uri_and_name(admin: Client) -> None:
    attr = make(admin)
    name = f"g{uuid.uuid4().hex[:10]}"
    kas = admin.ok(
        f"{KAS}/CreateKeyAccessServer",
        {"uri": f"http://localhost:1/{name}", "name": name, "publicKey": {"remote": "http://x/k"}},
    )["keyAccessServer"]
    admin.ok(
        f"{ATTR}/AssignKeyAccessServerToAttribute",
        {"attributeKeyAccessServer": {"attributeId": attr["id"], "keyAccessServerId": kas["id"]}},
    )
    path = f"{KAS}/ListKeyAccessServerGrants"
    for body in ({"kasId": kas["id"]}, {"kasUri": kas["uri"]}, {"kasName": name}):
        (entry,) = admin.ok(path, body)["grants"]
        assert entry["keyAccessServer"]["id"] == kas["id"]
        assert entry["attributeGrants"] == [{"id": attr["id"], "fqn": attr["fqn"]}]
        assert "valueGrants" not in entry and "namespaceGrants" not in entry
    assert admin.ok(path, {"kasId": kas["id"], "kasName": "another"}).get("grants", []) == []
    # taking the grant off empties the entry; taking it off twice is not found
    body = {"attributeKeyAccessServer": {"attributeId": attr["id"], "keyAccessServerId": kas["id"]}}
    admin.ok(f"{ATTR}/RemoveKeyAccessServerFromAttribute", body)
    (entry,) = admin.ok(path, {"kasId": kas["id"]})["grants"]
    assert "attributeGrants" not in entry
    assert "not granted" in admin.fails(
        "not_found", f"{ATTR}/RemoveKeyAccessServerFromAttribute", body
    )


def test_kas_with_keys_cannot_be_deleted(admin: Client, local_platform: LocalPlatform) -> None:
    own = f"{local_platform.url}/kas"
    listed = admin.ok(f"{KAS}/ListKeyAccessServers")["keyAccessServers"]
    kas = next(k for k in listed if k["uri"] == own)
    message = admin.fails("invalid_argument", f"{KAS}/DeleteKeyAccessServer", {"id": kas["id"]})
    assert "has" in message and "key" in message
    assert admin.ok(f"{KAS}/GetKeyAccessServer", {"id": kas["id"]})["keyAccessServer"]["uri"] == own


# -- actions -----------------------------------------------------------------------------


def test_actions_standard_first_and_immutable(admin: Client) -> None:
    custom = admin.ok(f"{ACT}/CreateAction", {"name": f"Share{uuid.uuid4().hex[:6]}"})["action"]
    assert custom["name"] == custom["name"].lower()
    got = admin.ok(f"{ACT}/ListActions")
    assert sorted(a["name"] for a in got["actionsStandard"]) == [
        "create",
        "delete",
        "read",
        "update",
    ]
    assert custom["id"] in {a["id"] for a in got.get("actionsCustom", [])}
    read = next(a for a in got["actionsStandard"] if a["name"] == "read")
    for path, body in (
        (f"{ACT}/UpdateAction", {"id": read["id"], "name": "reading"}),
        (f"{ACT}/DeleteAction", {"id": read["id"]}),
        (f"{ACT}/UpdateAction", {"id": custom["id"], "name": "update"}),
    ):
        assert "standard" in admin.fails("invalid_argument", path, body)
    assert admin.ok(f"{ACT}/GetAction", {"id": read["id"]})["action"]["name"] == "read"
    page = admin.ok(f"{ACT}/ListActions", {"pagination": {"limit": 3}})
    assert len(page["actionsStandard"]) == 3 and "actionsCustom" not in page
    assert page["pagination"]["nextOffset"] == 3


def test_get_action_lists_the_mappings_that_grant_it(admin: Client) -> None:
    name = f"audit{uuid.uuid4().hex[:6]}"
    admin.ok(f"{ACT}/CreateAction", {"name": name})
    attr = make(admin)
    sm = admin.ok(
        f"{SM}/CreateSubjectMapping",
        {
            "attributeValueId": attr["values"][0]["id"],
            "actions": [{"name": name}],
            "newSubjectConditionSet": {"subjectSets": condition(".clientId", "someone")},
        },
    )["subjectMapping"]
    got = admin.ok(f"{ACT}/GetAction", {"name": name})
    assert [m["id"] for m in got["subjectMappings"]] == [sm["id"]]


def test_subject_mapping_actions_by_id(admin: Client) -> None:
    """otdfctl sends an action given as a UUID by id alone: the name comes from the table."""
    attr = make(admin)
    sm = mapping(admin, attr["values"][0]["id"], ".clientId", "nobody")
    listed = admin.ok(f"{ACT}/ListActions")["actionsStandard"]
    update = next(a for a in listed if a["name"] == "update")
    out = admin.ok(
        f"{SM}/UpdateSubjectMapping", {"id": sm["id"], "actions": [{"id": update["id"]}]}
    )
    assert [(a["id"], a["name"]) for a in out["subjectMapping"]["actions"]] == [
        (update["id"], "update")
    ]
    missing = {"id": sm["id"], "actions": [{"id": str(uuid.UUID(int=7))}]}
    assert "action" in admin.fails("not_found", f"{SM}/UpdateSubjectMapping", missing)


# -- the unsafe service --------------------------------------------------------------------

UNSAFE = "policy.unsafe.UnsafeService"


def test_unsafe_is_admin_only(admin: Client, standard: Client) -> None:
    attr = make(admin)
    value = attr["values"][0]
    before = admin.ok(f"{ATTR}/GetAttribute", {"id": attr["id"]})
    for path, body in (
        (f"{UNSAFE}/UnsafeUpdateNamespace", {"id": attr["namespace"]["id"], "name": "e.example"}),
        (f"{UNSAFE}/UnsafeUpdateAttributeValue", {"id": value["id"], "value": "evil"}),
        (f"{UNSAFE}/UnsafeReactivateAttribute", {"id": attr["id"]}),
        (f"{UNSAFE}/UnsafeDeleteAttribute", {"id": attr["id"], "fqn": attr["fqn"]}),
    ):
        message = standard.fails("permission_denied", path, body)
        assert message.startswith(f"permission denied: {path} "), message
    assert admin.ok(f"{ATTR}/GetAttribute", {"id": attr["id"]}) == before


def test_unsafe_delete_needs_the_current_fqn(admin: Client) -> None:
    attr = make(admin)
    path = f"{UNSAFE}/UnsafeDeleteAttribute"
    assert "fqn mismatch" in admin.fails(
        "not_found", path, {"id": attr["id"], "fqn": attr["fqn"] + "x"}
    )
    assert "fqn" in admin.fails("invalid_argument", path, {"id": attr["id"]})
    assert admin.ok(f"{ATTR}/GetAttribute", {"id": attr["id"]})["attribute"]["fqn"] == attr["fqn"]


def test_unsafe_rename_onto_an_existing_name_is_refused(admin: Client) -> None:
    one, two = make(admin), make(admin)
    message = admin.fails(
        "already_exists",
        f"{UNSAFE}/UnsafeUpdateNamespace",
        {"id": one["namespace"]["id"], "name": two["namespace"]["name"]},
    )
    assert two["namespace"]["name"] in message
    red = one["values"][0]
    assert "blue" in admin.fails(
        "already_exists", f"{UNSAFE}/UnsafeUpdateAttributeValue", {"id": red["id"], "value": "blue"}
    )


def test_unsafe_namespace_delete_removes_grants_and_mappings(admin: Client) -> None:
    attr = make(admin)
    ns = attr["namespace"]
    selector = f".del_{uuid.uuid4().hex[:8]}"
    mapping(admin, attr["values"][0]["id"], selector)
    kas = admin.ok(
        f"{KAS}/CreateKeyAccessServer",
        {"uri": f"http://localhost:1/{uuid.uuid4().hex}", "publicKey": {"remote": "http://x/k"}},
    )["keyAccessServer"]
    admin.ok(
        f"{NS}/AssignKeyAccessServerToNamespace",
        {"namespaceKeyAccessServer": {"namespaceId": ns["id"], "keyAccessServerId": kas["id"]}},
    )
    out = admin.ok(f"{UNSAFE}/UnsafeDeleteNamespace", {"id": ns["id"], "fqn": ns["fqn"]})
    assert out["namespace"]["id"] == ns["id"]
    assert "namespace" in admin.fails("not_found", f"{NS}/GetNamespace", {"id": ns["id"]})
    assert "attribute" in admin.fails("not_found", f"{ATTR}/GetAttribute", {"id": attr["id"]})
    match = {"subjectProperties": [{"externalSelectorValue": selector}]}
    assert admin.ok(f"{SM}/MatchSubjectMappings", match).get("subjectMappings", []) == []
    (entry,) = admin.ok(f"{KAS}/ListKeyAccessServerGrants", {"kasId": kas["id"]})["grants"]
    assert "namespaceGrants" not in entry


# -- resource mappings -----------------------------------------------------------------------

RM = "policy.resourcemapping.ResourceMappingService"


def test_resource_mappings_by_group_fqn(admin: Client, standard: Client) -> None:
    attr = make(admin)
    ns = attr["namespace"]
    group = admin.ok(f"{RM}/CreateResourceMappingGroup", {"namespaceId": ns["id"], "name": "Docs"})[
        "resourceMappingGroup"
    ]
    assert (group["name"], group["fqn"]) == ("docs", f"{ns['fqn']}/resm/docs")
    empty = admin.ok(
        f"{RM}/CreateResourceMappingGroup", {"namespaceId": ns["id"], "name": "empty"}
    )["resourceMappingGroup"]
    rm = admin.ok(
        f"{RM}/CreateResourceMapping",
        {"attributeValueId": attr["values"][0]["id"], "terms": ["x"], "groupId": group["id"]},
    )["resourceMapping"]
    path = f"{RM}/ListResourceMappingsByGroupFqns"
    fqns = [group["fqn"], empty["fqn"], f"{ns['fqn']}/resm/nope", "not an fqn"]
    got = standard.ok(path, {"fqns": fqns})["fqnResourceMappingGroups"]
    assert list(got) == [group["fqn"]]
    assert got[group["fqn"]]["group"]["id"] == group["id"]
    assert [m["id"] for m in got[group["fqn"]]["mappings"]] == [rm["id"]]
    assert "no resource mapping group" in admin.fails("not_found", path, {"fqns": fqns[1:]})
    assert "fqns" in admin.fails("invalid_argument", path, {})
    # a second group of that name in the namespace is refused
    assert "already exists" in admin.fails(
        "already_exists",
        f"{RM}/CreateResourceMappingGroup",
        {"namespaceId": ns["id"], "name": "docs"},
    )


def test_resource_mapping_writes_are_admin_only(admin: Client, standard: Client) -> None:
    attr = make(admin)
    rm = admin.ok(
        f"{RM}/CreateResourceMapping", {"attributeValueId": attr["values"][0]["id"], "terms": ["a"]}
    )["resourceMapping"]
    for path, body in (
        (
            f"{RM}/CreateResourceMapping",
            {"attributeValueId": attr["values"][0]["id"], "terms": ["b"]},
        ),
        (f"{RM}/UpdateResourceMapping", {"id": rm["id"], "terms": ["evil"]}),
        (f"{RM}/DeleteResourceMapping", {"id": rm["id"]}),
        (f"{RM}/CreateResourceMappingGroup", {"namespaceId": attr["namespace"]["id"], "name": "g"}),
    ):
        message = standard.fails("permission_denied", path, body)
        assert message.startswith(f"permission denied: {path} "), message
    assert standard.ok(f"{RM}/GetResourceMapping", {"id": rm["id"]})["resourceMapping"] == rm


@pytest.mark.parametrize(
    ("terms", "names"),
    [
        ([], "at least one"),
        ([""], "non-empty"),
        (["t"] * 1001, "at most"),
        (["t" * 1025], "at most"),
    ],
)
def test_resource_mapping_terms_are_bounded(admin: Client, terms: list[str], names: str) -> None:
    attr = make(admin)
    body = {"attributeValueId": attr["values"][0]["id"], "terms": terms}
    assert names in admin.fails("invalid_argument", f"{RM}/CreateResourceMapping", body)


def test_unsafe_value_delete_takes_its_resource_mappings(admin: Client) -> None:
    attr = make(admin)
    value = attr["values"][0]
    rm = admin.ok(f"{RM}/CreateResourceMapping", {"attributeValueId": value["id"], "terms": ["a"]})[
        "resourceMapping"
    ]
    admin.ok(f"{UNSAFE}/UnsafeDeleteAttributeValue", {"id": value["id"], "fqn": value["fqn"]})
    assert "resource mapping" in admin.fails(
        "not_found", f"{RM}/GetResourceMapping", {"id": rm["id"]}
    )


# -- key update and rotation -----------------------------------------------------------------


def _public_key_ctx() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return {"pem": base64.b64encode(pem).decode()}


def _scratch_key(admin: Client, kid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kas = admin.ok(
        f"{KAS}/CreateKeyAccessServer",
        {"uri": f"http://localhost:1/{uuid.uuid4().hex}", "publicKey": {"remote": "http://x/k"}},
    )["keyAccessServer"]
    key = admin.ok(
        f"{KAS}/CreateKey",
        {
            "kasId": kas["id"],
            "keyId": kid,
            "keyAlgorithm": "ALGORITHM_EC_P256",
            "keyMode": "KEY_MODE_PUBLIC_KEY_ONLY",
            "publicKeyCtx": _public_key_ctx(),
        },
    )["kasKey"]
    return kas, key


def test_key_update_and_rotate_are_admin_only(admin: Client, standard: Client) -> None:
    _, key = _scratch_key(admin, "s1")
    new_key = {"keyId": "s2", "algorithm": "ALGORITHM_EC_P256"}
    new_key |= {"keyMode": "KEY_MODE_PUBLIC_KEY_ONLY", "publicKeyCtx": _public_key_ctx()}
    for path, body in (
        (f"{KAS}/UpdateKey", {"id": key["key"]["id"], "metadata": {"labels": {"x": "1"}}}),
        (f"{KAS}/RotateKey", {"id": key["key"]["id"], "newKey": new_key}),
    ):
        message = standard.fails("permission_denied", path, body)
        assert message.startswith(f"permission denied: {path} "), message
    after = admin.ok(f"{KAS}/GetKey", {"id": key["key"]["id"]})["kasKey"]
    assert after["key"]["keyStatus"] == "KEY_STATUS_ACTIVE"
    assert "labels" not in after["key"].get("metadata", {})


def test_rotating_the_base_key_moves_it(tmp_path: Path) -> None:
    """On a platform of its own: the shared one's base key reroutes every other test."""
    server = start_platform(tmp_path)
    lp = LocalPlatform(server)
    try:
        with httpx.Client(timeout=30.0) as http:
            admin = Client(lp, http, ADMIN)
            kas, key = _scratch_key(admin, "b1")
            admin.ok(f"{KAS}/SetBaseKey", {"id": key["key"]["id"]})
            new_key = {"keyId": "b2", "algorithm": "ALGORITHM_EC_P256"}
            new_key |= {"keyMode": "KEY_MODE_PUBLIC_KEY_ONLY", "publicKeyCtx": _public_key_ctx()}
            new_key["metadata"] = {"labels": {"gen": "2"}}
            out = admin.ok(f"{KAS}/RotateKey", {"id": key["key"]["id"], "newKey": new_key})
            assert out["kasKey"]["key"]["keyId"] == "b2"
            assert out["kasKey"]["key"]["metadata"]["labels"] == {"gen": "2"}
            assert out["rotatedResources"]["rotatedOutKey"]["key"]["keyStatus"] == (
                "KEY_STATUS_ROTATED"
            )
            base = admin.ok(f"{KAS}/GetBaseKey")["baseKey"]
            assert (base["kasId"], base["publicKey"]["kid"]) == (kas["id"], "b2")
            wellknown = http.get(f"{lp.url}/.well-known/opentdf-configuration").json()
            conf = wellknown.get("configuration", wellknown)
            assert conf["base_key"]["public_key"]["kid"] == "b2"
            # UpdateKey changes labels only
            labelled = admin.ok(
                f"{KAS}/UpdateKey",
                {
                    "id": key["key"]["id"],
                    "metadata": {"labels": {"old": "yes"}},
                    "metadataUpdateBehavior": EXTEND,
                },
            )["kasKey"]
            assert labelled["key"]["metadata"]["labels"] == {"old": "yes"}
            assert labelled["key"]["keyStatus"] == "KEY_STATUS_ROTATED"
    finally:
        lp._http.close()
        server.stop()


# -- registered resources ----------------------------------------------------------------------

RR = "policy.registeredresources.RegisteredResourcesService"


def _resource_value(admin: Client, pairs: list[dict[str, str]]) -> tuple[dict, dict]:
    rr = admin.ok(f"{RR}/CreateRegisteredResource", {"name": f"r{uuid.uuid4().hex[:10]}"})
    rr = rr["resource"]
    value = admin.ok(
        f"{RR}/CreateRegisteredResourceValue",
        {"resourceId": rr["id"], "value": "v1", "actionAttributeValues": pairs},
    )["value"]
    return rr, value


def test_registered_resource_values_by_fqn(admin: Client, standard: Client) -> None:
    attr = make(admin)
    red = attr["values"][0]
    rr, _ = _resource_value(admin, [{"actionName": "READ", "attributeValueFqn": red["fqn"]}])
    fqn = f"https://reg_res/{rr['name']}/value/v1"
    got = standard.ok(f"{RR}/GetRegisteredResourceValuesByFQNs", {"fqns": [fqn.upper()]})
    assert list(got["fqnValueMap"]) == [fqn]
    (pair,) = got["fqnValueMap"][fqn]["actionAttributeValues"]
    assert (pair["action"]["name"], pair["attributeValue"]["id"]) == ("read", red["id"])
    missing = {"fqns": [fqn, f"https://reg_res/{rr['name']}/value/nope"]}
    assert "nope" in admin.fails("not_found", f"{RR}/GetRegisteredResourceValuesByFQNs", missing)
    bad = {"fqn": "https://example.com/not/a/resource"}
    assert "reg_res" in admin.fails("invalid_argument", f"{RR}/GetRegisteredResourceValue", bad)


def test_registered_resource_writes_are_admin_only(admin: Client, standard: Client) -> None:
    rr, value = _resource_value(admin, [])
    for path, body in (
        (f"{RR}/CreateRegisteredResource", {"name": "evil"}),
        (f"{RR}/UpdateRegisteredResource", {"id": rr["id"], "name": "evil"}),
        (f"{RR}/DeleteRegisteredResource", {"id": rr["id"]}),
        (f"{RR}/CreateRegisteredResourceValue", {"resourceId": rr["id"], "value": "evil"}),
        (f"{RR}/UpdateRegisteredResourceValue", {"id": value["id"], "value": "evil"}),
        (f"{RR}/DeleteRegisteredResourceValue", {"id": value["id"]}),
    ):
        message = standard.fails("permission_denied", path, body)
        assert message.startswith(f"permission denied: {path} "), message
    got = standard.ok(f"{RR}/GetRegisteredResource", {"id": rr["id"]})["resource"]
    assert (got["name"], [v["value"] for v in got["values"]]) == (rr["name"], ["v1"])


def test_registered_resource_pairs_must_exist(admin: Client) -> None:
    attr = make(admin)
    red = attr["values"][0]
    rr = admin.ok(f"{RR}/CreateRegisteredResource", {"name": f"r{uuid.uuid4().hex[:10]}"})
    path, base = f"{RR}/CreateRegisteredResourceValue", {"resourceId": rr["resource"]["id"]}
    cases = [
        ([{"actionName": "no-such", "attributeValueId": red["id"]}], "not_found", "action"),
        ([{"actionName": "read", "attributeValueId": str(uuid.UUID(int=3))}], "not_found", "value"),
        ([{"attributeValueId": red["id"]}], "invalid_argument", "action_id or action_name"),
        ([{"actionName": "read"}], "invalid_argument", "attribute_value_id"),
    ]
    for i, (pairs, code, names) in enumerate(cases):
        body = {**base, "value": f"v{i}", "actionAttributeValues": pairs}
        assert names in admin.fails(code, path, body)
    listed = admin.ok(f"{RR}/ListRegisteredResourceValues", {"resourceId": base["resourceId"]})
    assert listed.get("values", []) == []


def test_deleting_an_action_or_value_drops_the_pairs_naming_it(admin: Client) -> None:
    attr = make(admin)
    red, blue = attr["values"]
    action = admin.ok(f"{ACT}/CreateAction", {"name": f"x{uuid.uuid4().hex[:8]}"})["action"]
    _, value = _resource_value(
        admin,
        [
            {"actionId": action["id"], "attributeValueId": red["id"]},
            {"actionName": "read", "attributeValueId": blue["id"]},
            {"actionName": "read", "attributeValueId": red["id"]},
        ],
    )
    admin.ok(f"{ACT}/DeleteAction", {"id": action["id"]})
    admin.ok(f"{UNSAFE}/UnsafeDeleteAttributeValue", {"id": blue["id"], "fqn": blue["fqn"]})
    got = admin.ok(f"{RR}/GetRegisteredResourceValue", {"id": value["id"]})["value"]
    assert [
        (p["action"]["name"], p["attributeValue"]["id"]) for p in got["actionAttributeValues"]
    ] == [("read", red["id"])]


# -- key provider configurations ---------------------------------------------------------------

KM = "policy.keymanagement.KeyManagementService"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("config", "names"),
    [(b"", "required"), (b"{not json", "not JSON"), (b"[" * 100_000, "larger than")],
)
def test_provider_config_must_be_small_json(admin: Client, config: bytes, names: str) -> None:
    body = {"name": f"p{uuid.uuid4().hex[:8]}", "configJson": _b64(config)}
    assert names in admin.fails("invalid_argument", f"{KM}/CreateProviderConfig", body)
    listed = admin.ok(f"{KM}/ListProviderConfigs").get("providerConfigs", [])
    assert body["name"] not in {p["name"] for p in listed}


def test_provider_config_writes_are_admin_only(admin: Client, standard: Client) -> None:
    made = admin.ok(
        f"{KM}/CreateProviderConfig",
        {"name": f"p{uuid.uuid4().hex[:8]}", "configJson": _b64(b'{"a": 1}')},
    )["providerConfig"]
    for path, body in (
        (f"{KM}/CreateProviderConfig", {"name": "evil", "configJson": _b64(b"{}")}),
        (f"{KM}/UpdateProviderConfig", {"id": made["id"], "configJson": _b64(b'{"evil": 1}')}),
        (f"{KM}/DeleteProviderConfig", {"id": made["id"]}),
    ):
        message = standard.fails("permission_denied", path, body)
        assert message.startswith(f"permission denied: {path} "), message
    got = standard.ok(f"{KM}/GetProviderConfig", {"id": made["id"]})["providerConfig"]
    assert base64.b64decode(got["configJson"]) == b'{"a": 1}'


def test_provider_names_are_unique_per_manager(admin: Client) -> None:
    """Upstream's provider_config is unique on (name, manager); otdfctl 0.30.0 requires a
    manager on create, 0.21.0 sends none (recorded as upstream's 'opentdf.io/unspecified')."""
    name, config = f"p{uuid.uuid4().hex[:8]}", _b64(b"{}")
    create = f"{KM}/CreateProviderConfig"
    aws = admin.ok(create, {"name": name, "configJson": config, "manager": "aws"})
    aws = aws["providerConfig"]
    assert (aws["name"], aws["manager"]) == (name, "aws")
    basic = admin.ok(create, {"name": name, "configJson": config, "manager": "opentdf.io/basic"})
    assert basic["providerConfig"]["id"] != aws["id"]
    said = admin.fails(
        "already_exists", create, {"name": name, "configJson": config, "manager": "aws"}
    )
    assert f"{name!r} of manager 'aws'" in said
    bare = admin.ok(create, {"name": f"q{name}", "configJson": config})["providerConfig"]
    assert bare["manager"] == "opentdf.io/unspecified"
    get = f"{KM}/GetProviderConfig"
    pair = {"nameManager": {"name": name, "manager": "opentdf.io/basic"}}
    assert admin.ok(get, pair)["providerConfig"]["id"] == basic["providerConfig"]["id"]
    assert admin.ok(get, {"name": name, "manager": "aws"})["providerConfig"]["id"] == aws["id"]
    assert "name the manager too" in admin.fails("invalid_argument", get, {"name": name})
    assert admin.ok(get, {"name": f"q{name}"})["providerConfig"]["id"] == bare["id"]
    missing = {"nameManager": {"name": name, "manager": "gcp"}}
    assert "of manager 'gcp'" in admin.fails("not_found", get, missing)
    blank = {"nameManager": {"name": name, "manager": " "}}
    assert "name_manager.manager: required" in admin.fails("invalid_argument", get, blank)
    bad = {"name": f"r{name}", "configJson": config, "manager": "a b"}
    assert "manager: at most" in admin.fails("invalid_argument", create, bad)
    moved = admin.ok(f"{KM}/UpdateProviderConfig", {"id": bare["id"], "manager": "aws"})
    assert moved["providerConfig"]["manager"] == "aws"
    clash = {"id": bare["id"], "name": name}
    assert "already exists" in admin.fails("already_exists", f"{KM}/UpdateProviderConfig", clash)


def test_a_state_made_before_managers_is_upgraded(tmp_path: Path) -> None:
    """A provider table of the shape before managers keeps its rows, each with the default."""

    path = tmp_path / "policy.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE policy_provider_configs (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " config_json BLOB NOT NULL, labels TEXT NOT NULL DEFAULT '{}',"
        " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
        "INSERT INTO policy_provider_configs VALUES ('id-1', 'kms', X'7b7d', '{}', 1.0, 2.0);"
    )
    old.close()
    store = PolicyStore(Database(path))
    (kept,) = store.list_providers()
    assert (kept.id, kept.name, kept.manager, kept.config_json) == (
        "id-1", "kms", "opentdf.io/unspecified", b"{}",
    )  # fmt: skip
    store.create_provider("kms", b"{}", manager="aws")  # unique per manager now
    assert sorted(p.manager for p in store.list_providers()) == ["aws", "opentdf.io/unspecified"]
    assert len(PolicyStore(Database(path)).list_providers()) == 2  # a second start: no-op
