"""The admin client, ``xtdf policy`` and raw Connect calls against the real server on loopback
(the session's ``local_platform``; names carry a random suffix since the platform is shared)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.platform.conftest import LocalPlatform, start_platform
from xtdf._proto.policy.attributes import attributes_pb2 as at
from xtdf.cli.main import main
from xtdf.crypto import ec as ec_crypto
from xtdf.crypto.keys import private_pem, public_pem
from xtdf.errors import AuthError, PlatformError
from xtdf.platform.admin import PolicyAdmin, condition_set
from xtdf.platform.policy.keys import KeyStore

ATTR = "policy.attributes.AttributesService"


@pytest.fixture(scope="module")
def url(local_platform: Any) -> str:
    return local_platform.url


@pytest.fixture(scope="module")
def admin(url: str) -> Iterator[PolicyAdmin]:
    with PolicyAdmin(url) as client:
        yield client


@pytest.fixture(scope="module")
def policy(admin: PolicyAdmin) -> dict:
    """<ns>/attr/level (HIERARCHY hi > lo): client opentdf entitled at ``lo``, emails at
    example.com at ``hi``; a KAS ``remote-<tag>`` with key r9."""
    tag = uuid.uuid4().hex[:8]
    ns_name = f"admin-{tag}.example.com"
    ns = admin.create_namespace(ns_name)
    attr = admin.create_attribute(f"https://{ns_name}", "level", "hierarchy", ["hi", "lo"])
    admin.create_subject_mapping(
        f"https://{ns_name}/attr/level/value/lo",
        subject_sets=condition_set(".clientId", ["opentdf"]),
    )
    scs = admin.create_condition_set(condition_set(".email", ["@example.com"], "in_contains"))
    admin.create_subject_mapping(f"https://{ns_name}/attr/level/value/hi", scs["id"])
    kas_uri = f"http://kas-{tag}.example.com/kas"
    kas = admin.register_kas(kas_uri, f"remote-{tag}")
    key = admin.create_key(kas_uri, "r9", "rsa:2048")
    return {"ns": ns, "attr": attr, "kas": kas, "key": key, "tag": tag, "fqn": ns["fqn"]}


def test_namespaces_and_attributes(admin: PolicyAdmin, policy: dict) -> None:
    ns_fqn = policy["fqn"]
    assert ns_fqn in [n["fqn"] for n in admin.list_namespaces()]
    attrs = admin.list_attributes(ns_fqn)
    assert [a["fqn"] for a in attrs] == [f"{ns_fqn}/attr/level"]
    assert attrs[0]["rule"] == "ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY"
    value = admin.create_value(f"{ns_fqn}/attr/level", "lowest")
    assert value["fqn"] == f"{ns_fqn}/attr/level/value/lowest"
    with pytest.raises(PlatformError, match="already_exists"):
        admin.create_namespace(policy["ns"]["name"].upper())
    with pytest.raises(PlatformError, match="not_found"):
        admin.get_attribute(f"{ns_fqn}/attr/nope")
    with pytest.raises(PlatformError, match=r"invalid_argument.*rule"):
        admin.call(ATTR, "CreateAttribute", {"namespaceId": policy["ns"]["id"], "name": "x"})


def test_entitlements_from_subject_mappings(admin: PolicyAdmin, policy: dict) -> None:
    mine = f"{policy['fqn']}/attr/level/value/lo"
    assert mine in admin.entitlements("opentdf")
    assert mine not in admin.entitlements("nobody")
    assert len(admin.list_subject_mappings()) >= 2
    assert len(admin.list_condition_sets()) >= 2


def test_keys_and_grants(admin: PolicyAdmin, policy: dict) -> None:
    fqn = f"{policy['fqn']}/attr/level/value/hi"
    kas_uri = policy["kas"]["uri"]
    admin.assign_key("value", fqn, kas_uri, "r9")
    admin.grant_kas("namespace", policy["fqn"], kas_uri)
    got = admin.values_by_fqns([fqn])[fqn]
    assert got["value"]["kasKeys"][0]["publicKey"]["kid"] == "r9"
    assert got["attribute"]["namespace"]["grants"][0]["uri"] == kas_uri
    assert [k["key"]["keyId"] for k in admin.list_keys(kas_uri)] == ["r9"]


def test_base_key(tmp_path: Path) -> None:
    """On a platform of its own: a base key cannot be unset once set, and the Go SDK (and
    otdfctl 0.30.0 on it) encrypts to it wherever no key mapping says otherwise, so on the
    shared platform it would send every later such encrypt to this unreachable KAS."""
    server = start_platform(tmp_path / "state")
    try:
        url = LocalPlatform(server).url
        with PolicyAdmin(url) as admin:
            kas_uri = f"http://kas-{uuid.uuid4().hex[:8]}.example.com/kas"
            admin.register_kas(kas_uri, "remote")
            admin.create_key(kas_uri, "r9", "rsa:2048")
            admin.set_base_key(kas_uri, "r9")
            assert admin.get_base_key()["publicKey"]["kid"] == "r9"
        wellknown = httpx.get(url + "/.well-known/opentdf-configuration").json()
        conf = wellknown.get("configuration", wellknown)
        assert conf["base_key"]["public_key"]["algorithm"] == "rsa:2048"
        assert conf["base_key"]["kas_uri"] == kas_uri
    finally:
        server.stop()


def test_otdfctl_style_wrapped_keys(admin: PolicyAdmin, policy: dict, local_platform: Any) -> None:
    """Keys wrapped client-side with the root key (upstream's form) unwrap on the server."""
    keys = KeyStore.for_platform(local_platform.platform)
    root = keys.root.hex()
    kas_uri = policy["kas"]["uri"]
    made = admin.create_key(kas_uri, "e9", "ec:secp256r1", wrapping_key=root)
    assert made["key"]["keyAlgorithm"] == "ALGORITHM_EC_P256"
    pem = keys.record(kas_uri, "e9").public_pem
    assert public_pem(keys.private_key_for(kas_uri, "e9")) == pem
    old = ec_crypto.generate("secp384r1")
    imported = admin.import_key(
        kas_uri, "old", "ec:secp384r1", private_pem(old), legacy=True, wrapping_key=root
    )
    assert imported["key"]["legacy"] is True
    assert public_pem(keys.private_key_for(kas_uri, "old")) == public_pem(old)
    with pytest.raises(PlatformError, match="wrapped_key"):
        admin.create_key(kas_uri, "e10", "ec:secp256r1", wrapping_key="00" * 32)


def test_raw_connect_binary_and_errors(policy: dict, url: str, local_platform: Any) -> None:
    bearer = local_platform.token()  # not DPoP-bound
    fqn = f"{policy['fqn']}/attr/level/value/lo"
    req = at.GetAttributeValuesByFqnsRequest(fqns=[fqn]).SerializeToString()
    resp = httpx.post(
        f"{url}/{ATTR}/GetAttributeValuesByFqns",
        content=req,
        headers={"Content-Type": "application/proto", "Authorization": f"Bearer {bearer}"},
    )
    assert resp.status_code == 200, resp.text
    answer = at.GetAttributeValuesByFqnsResponse.FromString(resp.content)
    assert [v.value for v in answer.fqn_attribute_values[fqn].attribute.values][:2] == ["hi", "lo"]

    missing = httpx.post(
        f"{url}/{ATTR}/GetAttributeValuesByFqns",
        json={"fqns": [f"{policy['fqn']}/attr/level/value/none"]},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"

    anonymous = httpx.post(f"{url}/{ATTR}/ListAttributes", json={})
    assert anonymous.status_code == 401
    with pytest.raises(AuthError):
        PolicyAdmin(url, token="not-a-token").list_namespaces()


def test_admin_with_and_without_dpop(admin: PolicyAdmin, url: str, policy: dict) -> None:
    admin.token()
    assert admin.token_type == "DPoP"  # the IdP bound our token to the proof key
    with PolicyAdmin(url, dpop=False) as plain:
        assert policy["fqn"] in [n["fqn"] for n in plain.list_namespaces()]
        assert plain.token_type == "Bearer"


def test_cli_round_trip(url: str, capsys: pytest.CaptureFixture[str], reference_dir: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    ns_name = f"cli-{tag}.example.org"
    base = ["policy", "--platform-url", url]
    assert main([*base, "namespaces", "create", ns_name]) == 0
    assert json.loads(capsys.readouterr().out)["fqn"] == f"https://{ns_name}"
    assert main([*base, "attributes", "create", "--namespace", ns_name, "--name", "c",
                 "--rule", "any_of", "--value", "a", "--value", "b"]) == 0  # fmt: skip
    assert [v["value"] for v in json.loads(capsys.readouterr().out)["values"]] == ["a", "b"]
    kas_uri = f"http://{ns_name}/kas"
    assert main([*base, "kas", "register", "--uri", kas_uri]) == 0
    capsys.readouterr()
    extra = reference_dir / "extra-keys.json"
    assert (
        main([*base, "keys", "import", "--kas", kas_uri, "--extra-keys", str(extra), "--legacy"])
        == 0
    )
    imported = json.loads(capsys.readouterr().out)
    assert imported and all(k["key"]["legacy"] for k in imported)
    assert main([*base, "keys", "list", "--kas", kas_uri, "--legacy"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(imported)
    assert main([*base, "scs", "create", "--selector", ".clientId", "--value", "opentdf"]) == 0
    scs = json.loads(capsys.readouterr().out)
    value = f"https://{ns_name}/attr/c/value/a"
    assert main([*base, "subject-mappings", "create", "--value", value, "--scs", scs["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["attributeValue"]["fqn"] == value
    assert main([*base, "namespaces", "create", ns_name]) == 1
    err = capsys.readouterr().err
    assert "already_exists" in err and err.count("\n") == 1
