"""Role policy: who may call which RPC, checked on the real platform over loopback.

A client that can get a token must not be able to entitle itself (subject mappings),
install its own key or base key, or register a KAS: every policy write needs the
``opentdf-admin`` role. Standard clients read policy, rewrap and ask for decisions; a
caller with no role may only rewrap (the KAS then judges entitlements).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.platform.conftest import LocalPlatform, start_platform
from xtdf.platform import roles
from xtdf.platform.roles import RolePolicy

CONNECT = {"Connect-Protocol-Version": "1"}
ADMIN, STANDARD, NO_ROLE = "opentdf", "opentdf-sdk", "xtdf-alice"

#: lists that show what a refused write would have changed
SNAPSHOT = (
    "policy.namespaces.NamespaceService/ListNamespaces",
    "policy.attributes.AttributesService/ListAttributes",
    "policy.subjectmapping.SubjectMappingService/ListSubjectMappings",
    "policy.subjectmapping.SubjectMappingService/ListSubjectConditionSets",
    "policy.kasregistry.KeyAccessServerRegistryService/ListKeyAccessServers",
    "policy.kasregistry.KeyAccessServerRegistryService/ListKeys",
    "policy.kasregistry.KeyAccessServerRegistryService/GetBaseKey",
)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(local_platform: LocalPlatform) -> dict[str, str]:
    return {c: local_platform.token(c) for c in (ADMIN, STANDARD, NO_ROLE)}


def post(http: httpx.Client, lp: LocalPlatform, token: str, path: str, body: dict | None = None):
    return http.post(f"{lp.url}/{path}", json=body or {}, headers={**CONNECT, **lp.headers(token)})


def snapshot(http: httpx.Client, lp: LocalPlatform, admin: str) -> dict[str, object]:
    out = {}
    for path in SNAPSHOT:
        r = post(http, lp, admin, path)
        assert r.status_code == 200, (path, r.text)
        out[path] = r.json()
    return out


def write_methods(lp: LocalPlatform) -> list[str]:
    """Every authenticated procedure whose action is not ``read``, Rewrap aside."""
    return sorted(
        m.path.lstrip("/")
        for m in lp.platform.methods.values()
        if m.auth_required
        and roles.rpc_action(m.name) != "read"
        and m.path != "/kas.AccessService/Rewrap"
        # a read under another name, which standard clients may call (upstream's v2 policy)
        and m.path != "/policy.subjectmapping.SubjectMappingService/MatchSubjectMappings"
    )


# -- the policy alone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("ListNamespaces", "read"),
        ("GetBaseKey", "read"),
        ("CreateSubjectMapping", "write"),
        ("UpdateAttribute", "write"),
        ("AssignPublicKeyToValue", "write"),
        ("DeleteNamespace", "delete"),
        ("RemovePublicKeyFromNamespace", "delete"),
        ("DeactivateAttribute", "delete"),
        ("UnsafeDeleteAttribute", "unsafe"),
        ("SetBaseKey", "other"),
        ("Rewrap", "other"),
    ],
)
def test_action_from_procedure_name(name: str, action: str) -> None:
    assert roles.rpc_action(name) == action


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"realm_access": {"roles": ["opentdf-admin", 7, None]}}, ["opentdf-admin"]),
        ({"realm_access": {"roles": "opentdf-standard"}}, ["opentdf-standard"]),
        ({"realm_access": {"roles": {"opentdf-admin": True}}}, []),
        ({"realm_access": "opentdf-admin"}, []),
        ({"roles": ["opentdf-admin"]}, []),
        ({}, []),
    ],
)
def test_token_roles_only_from_the_claim(claims: dict, expected: list[str]) -> None:
    assert roles.token_roles(claims) == expected


def test_policy_matrix() -> None:
    policy = RolePolicy()
    admin = {"realm_access": {"roles": ["opentdf-admin"]}}
    standard = {"realm_access": {"roles": ["opentdf-standard"]}}
    nobody: dict = {"realm_access": {"roles": ["some-other-role"]}}
    create = "policy.subjectmapping.SubjectMappingService/CreateSubjectMapping"
    listing = "policy.namespaces.NamespaceService/ListNamespaces"
    base = "policy.kasregistry.KeyAccessServerRegistryService/SetBaseKey"
    rewrap = "kas.AccessService/Rewrap"
    decide = "authorization.v2.AuthorizationService/GetDecision"
    entitlements = "authorization.AuthorizationService/GetEntitlements"
    cases = [
        (create, "write", (True, False, False)),
        (base, "other", (True, False, False)),
        (listing, "read", (True, True, False)),
        (rewrap, "other", (True, True, True)),
        (decide, "read", (True, True, False)),
        (entitlements, "read", (True, False, False)),
        ("/kas/v2/rewrap", "write", (True, True, True)),
        ("/namespaces", "read", (True, True, False)),
        ("/namespaces", "write", (True, False, False)),
    ]
    for resource, action, want in cases:
        got = tuple(policy.allows(c, resource, action) for c in (admin, standard, nobody))
        assert got == want, (resource, action)


def test_extension_can_deny_and_map_roles() -> None:
    policy = RolePolicy("p, role:standard, policy.*, read, deny\ng, ops-team, role:admin")
    ops = {"realm_access": {"roles": ["ops-team"]}}
    standard = {"realm_access": {"roles": ["opentdf-standard"]}}
    listing = "policy.namespaces.NamespaceService/ListNamespaces"
    assert policy.allows(ops, "policy.namespaces.NamespaceService/CreateNamespace", "write")
    assert policy.allows(ops, listing, "read")
    # within one role a deny wins over its allow; each role is judged on its own
    assert not policy.allows(standard, listing, "read")


def test_custom_roles_claim() -> None:
    policy = RolePolicy(claim_path="groups")
    assert policy.allows({"groups": ["opentdf-admin"]}, "policy.x.Y/CreateZ", "write")
    assert not policy.allows(
        {"realm_access": {"roles": ["opentdf-admin"]}}, "policy.x.Y/CreateZ", "write"
    )


# -- the running platform ------------------------------------------------------------------


def test_issued_tokens_carry_roles(local_platform: LocalPlatform) -> None:
    admin = local_platform.platform.auth.verify_token(local_platform.token(ADMIN))
    assert "opentdf-admin" in roles.token_roles(admin)
    alice = local_platform.platform.auth.verify_token(local_platform.token(NO_ROLE))
    assert roles.token_roles(alice) == []


@pytest.mark.parametrize("client", [STANDARD, NO_ROLE])
def test_every_write_refused_for_non_admin(
    local_platform: LocalPlatform, http: httpx.Client, tokens: dict[str, str], client: str
) -> None:
    lp = local_platform
    paths = write_methods(lp)
    # the attack paths the role policy exists for are among them
    for needed in (
        "policy.subjectmapping.SubjectMappingService/CreateSubjectMapping",
        "policy.kasregistry.KeyAccessServerRegistryService/CreateKey",
        "policy.kasregistry.KeyAccessServerRegistryService/SetBaseKey",
        "policy.kasregistry.KeyAccessServerRegistryService/CreateKeyAccessServer",
    ):
        assert needed in paths
    before = snapshot(http, lp, tokens[ADMIN])
    for path in paths:
        r = post(http, lp, tokens[client], path, {"name": "evil.example"})
        assert r.status_code == 403, (path, r.status_code, r.text)
        body = r.json()
        assert body["code"] == "permission_denied", (path, body)
        assert body["message"].startswith(f"permission denied: {path} "), body
        assert "role:admin" not in body["message"]
    assert snapshot(http, lp, tokens[ADMIN]) == before


def test_every_write_reaches_its_handler_for_admin(
    local_platform: LocalPlatform, http: httpx.Client, tokens: dict[str, str]
) -> None:
    for path in write_methods(local_platform):
        r = post(http, local_platform, tokens[ADMIN], path)
        # an empty request is the handler's to judge; the role policy let it through
        assert not (r.status_code == 403 and "permission denied:" in r.text), (path, r.text)
        assert r.status_code != 401, (path, r.text)


def test_admin_write_happens_and_non_admin_one_does_not(
    local_platform: LocalPlatform, http: httpx.Client, tokens: dict[str, str]
) -> None:
    create = "policy.namespaces.NamespaceService/CreateNamespace"
    listing = "policy.namespaces.NamespaceService/ListNamespaces"

    def names() -> set[str]:
        r = post(http, local_platform, tokens[ADMIN], listing)
        return {n["name"] for n in r.json().get("namespaces", [])}

    r = post(http, local_platform, tokens[STANDARD], create, {"name": "roles-std.example"})
    assert r.status_code == 403
    assert "roles-std.example" not in names()
    r = post(http, local_platform, tokens[ADMIN], create, {"name": "roles-admin.example"})
    assert r.status_code == 200, r.text
    assert "roles-admin.example" in names()


def test_binary_connect_write_refused(
    local_platform: LocalPlatform, http: httpx.Client, tokens: dict[str, str]
) -> None:
    from xtdf._proto.policy.namespaces import namespaces_pb2

    body = namespaces_pb2.CreateNamespaceRequest(name="roles-proto.example").SerializeToString()
    r = http.post(
        f"{local_platform.url}/policy.namespaces.NamespaceService/CreateNamespace",
        content=body,
        headers={
            **CONNECT,
            **local_platform.headers(tokens[STANDARD]),
            "Content-Type": "application/proto",
        },
    )
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"


def test_standard_reads_and_no_role_does_not(
    local_platform: LocalPlatform, http: httpx.Client, tokens: dict[str, str]
) -> None:
    listing = "policy.attributes.AttributesService/ListAttributes"
    assert post(http, local_platform, tokens[STANDARD], listing).status_code == 200
    r = post(http, local_platform, tokens[NO_ROLE], listing)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


def test_rewrap_open_to_any_authenticated_caller(
    local_platform: LocalPlatform, http: httpx.Client, tokens: dict[str, str]
) -> None:
    """The role lets the call through; the KAS then refuses the request that has no signed
    request token itself."""
    for client in (STANDARD, NO_ROLE):
        for url, kwargs in (
            (f"{local_platform.url}/kas.AccessService/Rewrap", {"headers": CONNECT}),
            (f"{local_platform.url}/kas/v2/rewrap", {}),
        ):
            headers = {**kwargs.get("headers", {}), **local_platform.headers(tokens[client])}
            r = http.post(url, json={}, headers=headers)
            assert r.status_code == 401, (client, url, r.text)
            assert "could not parse token" in r.json()["message"], (client, url, r.text)


def test_rest_route_is_judged_by_route_and_method(tmp_path) -> None:
    """The REST gateway's rewrap is its own resource (``/kas/v2/rewrap``, write)."""
    server = start_platform(
        tmp_path,
        kas_ports={},
        role_policy_extension="p, role:unknown, /kas/v2/rewrap, write, deny",
    )
    lp = LocalPlatform(server)
    try:
        token = lp.token(NO_ROLE)
        with httpx.Client(timeout=30.0) as http:
            rest = http.post(f"{lp.url}/kas/v2/rewrap", json={}, headers=lp.headers(token))
            assert rest.status_code == 403, rest.text
            assert "permission denied: /kas/v2/rewrap (write)" in rest.text
            connect = http.post(
                f"{lp.url}/kas.AccessService/Rewrap",
                json={},
                headers={**CONNECT, **lp.headers(token)},
            )
            assert connect.status_code == 401, connect.text
            assert "could not parse token" in connect.json()["message"]
    finally:
        lp._http.close()
        server.stop()
