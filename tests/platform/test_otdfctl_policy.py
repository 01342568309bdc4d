"""Our policy services driven by OpenTDF's Go CLI, otdfctl (``make sdks-go`` builds it).

otdfctl is the reference admin client: each ``otdfctl policy ...`` command here goes through
the Go SDK's Connect clients (binary protobuf, DPoP-bound token from the IdP named in the
well-known configuration) to the real platform on free loopback ports (``local_platform``),
and its JSON output is checked against what was asked for. The last tests use the policy
made through otdfctl for real: a subject mapping it created entitles the client to decrypt,
through the KAS, a file otdfctl encrypted with that attribute; one it did not create does
not. Updates, deactivations (and their cascade), lists, matches, KAS grant listings and
actions are checked by reading the result back through otdfctl or our own Connect client.

Without an installed otdfctl the module skips, and says how to build it; under ``CI=true``
it fails instead.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import lane_missing
from tests.platform.conftest import LocalPlatform
from xtdf.harness import refusals
from xtdf.harness.sdks import SDK
from xtdf.harness.wordings import Refusal

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = sorted(ROOT.glob("sdk/go/dist/*/otdfctl"))

if not INSTALLED:
    _why = "otdfctl is not installed (sdk/go/dist/<version>/otdfctl): run `make sdks-go`"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

#: proto enum numbers as otdfctl prints them (policy.AttributeRuleTypeEnum, ...)
RULES = {"ALL_OF": 1, "ANY_OF": 2, "HIERARCHY": 3}
EC_P256 = 3  # policy.Algorithm ALGORITHM_EC_P256
KEY_MODE_PUBLIC_KEY_ONLY = 4

Run = Callable[..., Any]


class OtdfctlError(Exception):
    def __init__(self, args: list[str], result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        # otdfctl prints its errors on stdout
        said = " | ".join(f"{result.stdout.strip()} {result.stderr.strip()}".split("\n"))
        super().__init__(f"otdfctl {' '.join(args)} exited {result.returncode}: {said.strip()}")


@dataclass(frozen=True)
class Otdfctl:
    binary: Path
    platform: LocalPlatform
    home: Path

    def __call__(self, *args: str) -> Any:
        """``otdfctl policy ARGS --json`` against the platform; its parsed JSON output."""
        return self.command("policy", *args)

    @property
    def version(self) -> str:
        return self.binary.parent.name

    def takes(self, *command_and_flag: str) -> bool:
        """Whether ``otdfctl COMMAND... --help`` lists FLAG (the last argument)."""
        *command, flag = command_and_flag
        return f" {flag} " in _help(self.binary, tuple(command))

    def force(self, *command: str) -> list[str]:
        """``--force`` where this build's COMMAND takes it (newer ones ask on a terminal)."""
        return ["--force"] if self.takes(*command, "--force") else []

    def rows(self, *args: str) -> list[Any]:
        """The rows of ``otdfctl policy ... list`` (or ``match``), see :func:`rows_of`."""
        return rows_of(self(*args))

    def command(self, *argv: str) -> Any:
        """``otdfctl ARGV --json``; its parsed JSON output."""
        result = self.raw(*argv, "--json")
        if result.returncode != 0:
            raise OtdfctlError(list(argv), result)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def raw(self, *args: str) -> subprocess.CompletedProcess[str]:
        creds = json.dumps({"clientId": "opentdf", "clientSecret": "secret"})
        return subprocess.run(
            [str(self.binary), *args, "--host", self.platform.url, "--with-client-creds", creds],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            # a private home: otdfctl keeps profiles there when it keeps any
            env={**os.environ, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home)},
        )


def rows_of(out: Any) -> list[Any]:
    """A list command's rows. otdfctl 0.21.0 prints the repeated field alone (``null`` when
    empty); 0.30.0 prints the whole response message, its repeated fields beside
    ``pagination`` (proto JSON leaves an empty one out). Both come back as one list, in the
    order printed."""
    if out is None or isinstance(out, list):
        return out or []
    return [row for k, v in out.items() if k != "pagination" and isinstance(v, list) for row in v]


@functools.cache
def _help(binary: Path, command: tuple[str, ...]) -> str:
    out = subprocess.run(
        [str(binary), *command, "--help"], capture_output=True, text=True, timeout=60
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)


#: otdfctl releases whose `kas-registry create|update` take --public-keys and
#: --public-key-remote but send neither (0.30.0's handler sends uri, name and metadata only,
#: after a deprecation warning; keys go through `kas-registry key create`)
KAS_PUBLIC_KEY_DROPPED = frozenset({"0.30.0"})

#: what otdfctl 0.30.0's `kas-grants assign` prints instead of assigning
#: (cmd/policy/kasGrants.go: grants became key mappings; it calls no RPC)
GRANTS_ARE_KEY_MAPPINGS = "Grants are now Key Mappings"

#: our Connect call that makes each kind of grant, for builds whose assign makes none
GRANT_RPCS = {
    "--value-id": ("policy.attributes.AttributesService/AssignKeyAccessServerToValue",
                   "valueKeyAccessServer", "valueId"),
    "--attribute-id": ("policy.attributes.AttributesService/AssignKeyAccessServerToAttribute",
                       "attributeKeyAccessServer", "attributeId"),
    "--namespace-id": ("policy.namespaces.NamespaceService/AssignKeyAccessServerToNamespace",
                       "namespaceKeyAccessServer", "namespaceId"),
}  # fmt: skip


@pytest.fixture(scope="module", params=INSTALLED, ids=lambda p: f"go@{p.parent.name}")
def otdfctl(
    request: pytest.FixtureRequest,
    local_platform: LocalPlatform,
    tmp_path_factory: pytest.TempPathFactory,
) -> Otdfctl:
    return Otdfctl(request.param, local_platform, tmp_path_factory.mktemp("otdfctl-home"))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def client_condition(client_id: str, operator: str = "OR") -> str:
    """A subject set: the token's clientId is ``client_id`` (otdfctl's JSON, proto names)."""
    return json.dumps(
        [
            {
                "condition_groups": [
                    {
                        "boolean_operator": f"CONDITION_BOOLEAN_TYPE_ENUM_{operator}",
                        "conditions": [
                            {
                                "subject_external_selector_value": ".clientId",
                                "operator": "SUBJECT_MAPPING_OPERATOR_ENUM_IN",
                                "subject_external_values": [client_id],
                            }
                        ],
                    }
                ]
            }
        ]
    )


def ec_public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(frozen=True)
class Made:
    """A namespace with one attribute (values red, blue), made by otdfctl."""

    ns: dict[str, Any]
    attr: dict[str, Any]

    def value(self, name: str) -> dict[str, Any]:
        return next(v for v in self.attr["values"] if v["value"] == name)


def make(otdfctl: Otdfctl, prefix: str) -> Made:
    ns = otdfctl("attributes", "namespaces", "create", "--name", unique(prefix) + ".example")
    attr = otdfctl(
        "attributes", "create", "--namespace", ns["id"], "--name", "color",
        "--rule", "ANY_OF", "--value", "red", "--value", "blue",
    )  # fmt: skip
    return Made(ns, attr)


@pytest.fixture(scope="module")
def made(otdfctl: Otdfctl) -> Made:
    return make(otdfctl, "go")


@pytest.fixture(scope="module")
def scratch(otdfctl: Otdfctl) -> Made:
    """For commands that may change or deactivate what they are given."""
    return make(otdfctl, "scratch")


# -- namespaces ------------------------------------------------------------------------


def test_namespace_create_get_list(otdfctl: Otdfctl) -> None:
    name = unique("ns") + ".example"
    created = otdfctl("attributes", "namespaces", "create", "--name", name, "--label", "team=go")
    assert created["name"] == name
    assert created["fqn"] == f"https://{name}"
    assert created["active"]["value"] is True
    assert created["metadata"]["labels"] == {"team": "go"}
    got = otdfctl("attributes", "namespaces", "get", "--id", created["id"])
    assert (got["id"], got["name"], got["fqn"]) == (created["id"], name, f"https://{name}")
    listed = otdfctl.rows("attributes", "namespaces", "list")
    assert created["id"] in {n["id"] for n in listed}


def test_duplicate_namespace_is_refused_as_already_exists(otdfctl: Otdfctl, made: Made) -> None:
    with pytest.raises(OtdfctlError, match="already_exists"):
        otdfctl("attributes", "namespaces", "create", "--name", made.ns["name"])


# -- attributes and values -------------------------------------------------------------


def test_attribute_create_with_values_for_each_rule(otdfctl: Otdfctl, made: Made) -> None:
    for rule in sorted(RULES):
        name = unique("a")
        attr = otdfctl(
            "attributes", "create", "--namespace", made.ns["id"], "--name", name,
            "--rule", rule, "--value", "low", "--value", "high", "--label", "k=v",
        )  # fmt: skip
        base = f"{made.ns['fqn']}/attr/{name}"
        assert attr["fqn"] == base
        assert attr["rule"] == RULES[rule]
        assert attr["namespace"]["id"] == made.ns["id"]
        assert [v["value"] for v in attr["values"]] == ["low", "high"]  # order kept (HIERARCHY)
        assert [v["fqn"] for v in attr["values"]] == [f"{base}/value/low", f"{base}/value/high"]
        assert attr["metadata"]["labels"] == {"k": "v"}
    got = otdfctl("attributes", "get", "--id", attr["id"])
    assert (got["fqn"], got["rule"]) == (base, RULES[rule])
    assert [v["id"] for v in got["values"]] == [v["id"] for v in attr["values"]]


def test_attribute_list_and_value_create_get(otdfctl: Otdfctl, made: Made) -> None:
    assert made.attr["id"] in {a["id"] for a in otdfctl.rows("attributes", "list")}
    value = otdfctl("attributes", "values", "create", "--attribute-id", made.attr["id"],
                    "--value", unique("v"))  # fmt: skip
    assert value["fqn"] == f"{made.attr['fqn']}/value/{value['value']}"
    got = otdfctl("attributes", "values", "get", "--id", value["id"])
    assert (got["id"], got["fqn"]) == (value["id"], value["fqn"])
    refreshed = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert value["id"] in {v["id"] for v in refreshed["values"]}


def test_value_of_unknown_attribute_is_not_found(otdfctl: Otdfctl) -> None:
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("attributes", "values", "create", "--attribute-id", str(uuid.uuid4()),
                "--value", "x")  # fmt: skip


# -- subject condition sets and subject mappings --------------------------------------


def test_subject_condition_set_create_get_list(otdfctl: Otdfctl) -> None:
    who = unique("client-")
    scs = otdfctl("subject-condition-sets", "create", "--subject-sets",
                  client_condition(who, "AND"))  # fmt: skip
    (group,) = scs["subject_sets"][0]["condition_groups"]
    assert group["boolean_operator"] == 1  # AND
    (cond,) = group["conditions"]
    assert cond["subject_external_selector_value"] == ".clientId"
    assert cond["operator"] == 1  # IN
    assert cond["subject_external_values"] == [who]
    got = otdfctl("subject-condition-sets", "get", "--id", scs["id"])
    assert got["subject_sets"] == scs["subject_sets"]
    assert scs["id"] in {s["id"] for s in otdfctl.rows("subject-condition-sets", "list")}


def test_subject_mapping_with_existing_and_new_condition_sets(otdfctl: Otdfctl, made: Made) -> None:
    value = made.value("blue")
    scs = otdfctl("subject-condition-sets", "create", "--subject-sets",
                  client_condition(unique("c-")))  # fmt: skip
    sm = otdfctl("subject-mappings", "create", "--attribute-value-id", value["id"],
                 "--subject-condition-set-id", scs["id"], "--action", "read")  # fmt: skip
    assert sm["attribute_value"]["id"] == value["id"]
    assert sm["subject_condition_set"]["id"] == scs["id"]
    assert [a["name"] for a in sm["actions"]] == ["read"]
    got = otdfctl("subject-mappings", "get", "--id", sm["id"])
    assert (got["attribute_value"]["fqn"], got["subject_condition_set"]["id"]) == (
        value["fqn"],
        scs["id"],
    )
    # a condition set made inline, with the mapping
    inline = otdfctl("subject-mappings", "create", "--attribute-value-id", value["id"],
                     "--subject-condition-set-new", client_condition(unique("c-")),
                     "--action", "read")  # fmt: skip
    assert inline["subject_condition_set"]["id"] not in ("", scs["id"])
    ids = {m["id"] for m in otdfctl.rows("subject-mappings", "list")}
    assert {sm["id"], inline["id"]} <= ids


# -- KAS registry, grants and keys -----------------------------------------------------


def test_kas_registry_create_get_list(otdfctl: Otdfctl) -> None:
    name = unique("kas")
    pem = ec_public_pem()
    cached = json.dumps({"cached": {"keys": [{"pem": pem, "kid": "g1", "alg": 1}]}})
    kas = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
                  "--name", name, "--public-keys", cached)  # fmt: skip
    assert (kas["uri"], kas["name"]) == (f"http://localhost:1/{name}/kas", name)
    remote = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/r{name}/kas",
                     "--public-key-remote", f"http://localhost:1/r{name}/pk")  # fmt: skip
    if otdfctl.version in KAS_PUBLIC_KEY_DROPPED:
        for made in (kas, remote):
            assert "public_key" not in made
            assert "publicKey" not in get_kas(otdfctl.platform, made["id"])  # none was sent
    else:
        (key,) = kas["public_key"]["PublicKey"]["Cached"]["keys"]
        assert (key["kid"], key["pem"]) == ("g1", pem)
        assert remote["public_key"]["PublicKey"]["Remote"] == f"http://localhost:1/r{name}/pk"
    got = otdfctl("kas-registry", "get", "--id", kas["id"])
    assert (got["id"], got["uri"]) == (kas["id"], kas["uri"])
    listed = {k["id"]: k["uri"] for k in otdfctl.rows("kas-registry", "list")}
    assert {kas["id"], remote["id"]} <= set(listed)
    # the platform's own KAS is registered, at the URL the SDK derives from --host
    assert f"{otdfctl.platform.url}/kas" in listed.values()


def test_kas_grants_on_value_attribute_and_namespace(otdfctl: Otdfctl) -> None:
    # a namespace and attribute of their own: a grant to a KAS that does not exist would make
    # every encrypt with these attributes fail
    made = make(otdfctl, "grants")
    name = unique("grant")
    kas = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
                  "--public-key-remote", f"http://localhost:1/{name}/pk")  # fmt: skip
    red = made.value("red")
    for flag, target in (
        ("--value-id", red["id"]),
        ("--attribute-id", made.attr["id"]),
        ("--namespace-id", made.ns["id"]),
    ):
        grant = assign_grant(otdfctl, flag, target, kas["id"])
        if grant is None:
            pytest.skip(f"otdfctl {otdfctl.version}'s kas-grants assign only says "
                        f"'{GRANTS_ARE_KEY_MAPPINGS}' and calls nothing")  # fmt: skip
        assert grant["key_access_server_id"] == kas["id"]
        assert target in grant.values()
    attr = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert kas["id"] in {g["id"] for g in attr.get("grants", [])}
    value = next(v for v in attr["values"] if v["id"] == red["id"])
    assert kas["id"] in {g["id"] for g in value.get("grants", [])}


def test_kas_key_create_get_list(otdfctl: Otdfctl) -> None:
    name = unique("keys")
    kas = otdfctl(
        "kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
        "--name", name, "--public-key-remote", f"http://localhost:1/{name}/pk",
    )  # fmt: skip
    pem = ec_public_pem()
    created = otdfctl(
        "kas-registry", "key", "create", "--kas", kas["id"], "--key-id", "gk1",
        "--algorithm", "ec:secp256r1", "--mode", "public_key",
        "--public-key-pem", base64.b64encode(pem.encode()).decode(),
    )  # fmt: skip
    key = created["key"]
    assert (created["kas_id"], created["kas_uri"]) == (kas["id"], kas["uri"])
    assert (key["key_id"], key["key_algorithm"], key["key_mode"]) == (
        "gk1",
        EC_P256,
        KEY_MODE_PUBLIC_KEY_ONLY,
    )
    assert base64.b64decode(key["public_key_ctx"]["pem"]).decode() == pem
    # the KAS may be named by id, URI or name
    for ref in (kas["id"], kas["uri"], name):
        got = otdfctl("kas-registry", "key", "get", "--kas", ref, "--key", "gk1")
        assert got["key"]["id"] == key["id"]
    listed = otdfctl.rows("kas-registry", "key", "list", "--kas", kas["id"])
    assert [k["key"]["key_id"] for k in listed] == ["gk1"]


def test_kas_key_update_and_rotate(otdfctl: Otdfctl) -> None:
    """A rotation on a KAS registration of its own: the old key is marked rotated, the
    new one takes its mappings, and both stay readable."""
    name = unique("rot")
    kas = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
                  "--public-key-remote", f"http://localhost:1/{name}/pk")  # fmt: skip

    def pem_arg() -> str:
        return base64.b64encode(ec_public_pem().encode()).decode()

    old = otdfctl("kas-registry", "key", "create", "--kas", kas["id"], "--key-id", "k1",
                  "--algorithm", "ec:secp256r1", "--mode", "public_key",
                  "--public-key-pem", pem_arg())  # fmt: skip
    otdfctl("kas-registry", "key", "update", "--id", old["key"]["id"], "--label", "gen=1")
    got = otdfctl("kas-registry", "key", "get", "--kas", kas["id"], "--key", "k1")
    assert got["key"]["metadata"]["labels"] == {"gen": "1"}
    made = seed(otdfctl.platform, "rot")
    red = made.value("red")
    otdfctl("attributes", "values", "key", "assign", "--value", red["id"],
            "--key-id", old["key"]["id"])  # fmt: skip
    rotated = otdfctl("kas-registry", "key", "rotate", "--kas", kas["id"], "--key", "k1",
                      "--key-id", "k2", "--algorithm", "ec:secp256r1", "--mode", "public_key",
                      "--public-key-pem", pem_arg())  # fmt: skip
    new_id = rotated["kas_key"]["key"]["id"]
    assert rotated["kas_key"]["key"]["key_id"] == "k2"
    moved = rotated["rotated_resources"]["attribute_value_mappings"]
    assert [(m["id"], m["fqn"]) for m in moved] == [(red["id"], red["fqn"])]
    statuses = {
        k["key"]["key_id"]: k["key"]["key_status"]
        for k in otdfctl.rows("kas-registry", "key", "list", "--kas", kas["id"])
    }
    assert statuses == {"k1": 2, "k2": 1}  # KEY_STATUS_ROTATED, KEY_STATUS_ACTIVE
    r = connect(otdfctl.platform, "policy.attributes.AttributesService/GetAttributeValue",
                {"id": red["id"]})  # fmt: skip
    assert [k["publicKey"]["kid"] for k in r.json()["value"]["kasKeys"]] == ["k2"]
    assert new_id != old["key"]["id"]
    # a rotated key does not rotate again
    with pytest.raises(OtdfctlError, match="invalid_argument"):
        otdfctl("kas-registry", "key", "rotate", "--kas", kas["id"], "--key", "k1",
                "--key-id", "k3", "--algorithm", "ec:secp256r1", "--mode", "public_key",
                "--public-key-pem", pem_arg())  # fmt: skip


def test_kas_key_with_bad_pem_is_invalid_argument(otdfctl: Otdfctl) -> None:
    name = unique("bad")
    kas = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
                  "--public-key-remote", f"http://localhost:1/{name}/pk")  # fmt: skip
    # otdfctl 0.30.0 parses the PEM itself first and calls nothing; 0.21.0 leaves it to the
    # platform, which answers invalid_argument. Either way no key is made.
    said = "invalid public key pem" if otdfctl.version == "0.30.0" else "invalid_argument"
    with pytest.raises(OtdfctlError, match=said):
        otdfctl("kas-registry", "key", "create", "--kas", kas["id"], "--key-id", "k",
                "--algorithm", "ec:secp256r1", "--mode", "public_key",
                "--public-key-pem", base64.b64encode(b"not a pem").decode())  # fmt: skip
    assert not otdfctl.rows("kas-registry", "key", "list", "--kas", kas["id"])


# -- the policy made through otdfctl, used ---------------------------------------------


def _adapter_env(platform: LocalPlatform) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XT_WITH_")}
    env.update(PLATFORMURL=platform.url, KASURL=f"{platform.url}/kas")
    env.update(CLIENTID="opentdf", CLIENTSECRET="secret")
    return env


@pytest.mark.parametrize("fmt", ["ztdf", "nano"])
def test_mapping_made_by_otdfctl_entitles_decrypt(
    otdfctl: Otdfctl, made: Made, tmp_path: Path, fmt: str
) -> None:
    """red is mapped to the caller's client id through otdfctl, blue is not: the KAS lets
    the caller open a file bound to red and refuses one bound to blue."""
    cli = otdfctl.binary.parent / "cli.sh"
    if not os.access(cli, os.X_OK):
        lane_missing(f"{cli} missing: run `make sdks-go`")
    if subprocess.run([str(cli), "supports", fmt], capture_output=True).returncode == 1:
        pytest.skip(f"otdfctl {otdfctl.version} does not write {fmt} (cli.sh supports {fmt})")
    otdfctl("subject-mappings", "create", "--attribute-value-id", made.value("red")["id"],
            "--subject-condition-set-new", client_condition("opentdf"),
            "--action", "read")  # fmt: skip
    env = _adapter_env(otdfctl.platform)
    pt = tmp_path / "pt.bin"
    pt.write_bytes(os.urandom(1000))
    outcomes = {}
    for colour in ("red", "blue"):
        ct, rt = tmp_path / f"{colour}.{fmt}", tmp_path / f"{colour}.out"
        enc = subprocess.run(
            [str(cli), "encrypt", str(pt), str(ct), fmt],
            env={**env, "XT_WITH_ATTRIBUTES": made.value(colour)["fqn"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert enc.returncode == 0, enc.stderr
        dec = subprocess.run(
            [str(cli), "decrypt", str(ct), str(rt), fmt], env=env, capture_output=True, timeout=60
        )
        if colour == "blue":
            # refused because blue is not mapped (not a crash, usage error or lost KAS), and
            # nothing of the plaintext written
            sdk = SDK(name="go", version=cli.parent.name, path=cli)
            refusals.check(sdk, "decrypt", Refusal.NOT_ENTITLED, dec, rt)
            outcomes[colour] = False
        else:
            outcomes[colour] = dec.returncode == 0 and rt.read_bytes() == pt.read_bytes()
    assert outcomes == {"red": True, "blue": False}


# -- updates, deactivation, lists and matches ------------------------------------------


DEACTIVATE_VALUE = "policy.attributes.AttributesService/DeactivateAttributeValue"


def connect(platform: LocalPlatform, path: str, body: dict[str, Any]) -> httpx.Response:
    """Our own Connect JSON call as the admin client, to read back what otdfctl changed."""
    return httpx.post(
        f"{platform.url}/{path}",
        json=body,
        headers={"Connect-Protocol-Version": "1", **platform.headers(platform.token("opentdf"))},
        timeout=30.0,
    )


def get_kas(platform: LocalPlatform, kas_id: str) -> dict[str, Any]:
    """The KAS registration as the platform holds it."""
    r = connect(platform, "policy.kasregistry.KeyAccessServerRegistryService/GetKeyAccessServer",
                {"id": kas_id})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["keyAccessServer"]


def assign_grant(otdfctl: Otdfctl, flag: str, target: str, kas_id: str) -> dict[str, Any] | None:
    """``kas-grants assign``'s grant, or None where the build only warns and assigns nothing."""
    result = otdfctl.raw("policy", "kas-grants", "assign", flag, target, "--kas-id", kas_id,
                         "--json")  # fmt: skip
    if result.returncode != 0:
        raise OtdfctlError(["kas-grants", "assign", flag, target], result)
    if GRANTS_ARE_KEY_MAPPINGS in result.stdout + result.stderr:
        return None
    return json.loads(result.stdout)


def seed(platform: LocalPlatform, prefix: str) -> Made:
    """What :func:`make` makes, through our own client: set-up for a test of another
    command, without two more otdfctl start-ups (most of each call's second)."""
    name = unique(prefix) + ".example"
    r = connect(platform, "policy.namespaces.NamespaceService/CreateNamespace", {"name": name})
    assert r.status_code == 200, r.text
    ns = r.json()["namespace"]
    body = {"namespaceId": ns["id"], "name": "color", "values": ["red", "blue"]}
    body["rule"] = "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF"
    r = connect(platform, "policy.attributes.AttributesService/CreateAttribute", body)
    assert r.status_code == 200, r.text
    return Made(ns, r.json()["attribute"])


def test_namespace_update_extends_then_replaces_labels(otdfctl: Otdfctl) -> None:
    ns = otdfctl("attributes", "namespaces", "create", "--name", unique("up") + ".example",
                 "--label", "a=1")  # fmt: skip
    extended = otdfctl("attributes", "namespaces", "update", "--id", ns["id"],
                       "--label", "b=2", "--label", "a=9")  # fmt: skip
    assert extended["metadata"]["labels"] == {"a": "9", "b": "2"}
    assert extended["name"] == ns["name"]
    replaced = otdfctl("attributes", "namespaces", "update", "--id", ns["id"],
                       "--label", "c=3", "--force-replace-labels")  # fmt: skip
    assert replaced["metadata"]["labels"] == {"c": "3"}
    got = otdfctl("attributes", "namespaces", "get", "--id", ns["id"])
    assert got["metadata"]["labels"] == {"c": "3"}
    assert got["metadata"]["created_at"] == ns["metadata"]["created_at"]


def test_attribute_and_value_update_labels(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "upattr")
    otdfctl("attributes", "update", "--id", made.attr["id"], "--label", "team=go")
    got = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert got["metadata"]["labels"] == {"team": "go"}
    assert (got["rule"], [v["value"] for v in got["values"]]) == (RULES["ANY_OF"], ["red", "blue"])
    red = made.value("red")
    otdfctl("attributes", "values", "update", "--id", red["id"], "--label", "shade=dark")
    otdfctl("attributes", "values", "update", "--id", red["id"], "--label", "tone=warm")
    value = otdfctl("attributes", "values", "get", "--id", red["id"])
    assert value["metadata"]["labels"] == {"shade": "dark", "tone": "warm"}


def test_values_list_in_order_and_by_state(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "vals")
    listed = otdfctl.rows("attributes", "values", "list", "--attribute-id", made.attr["id"])
    assert [v["id"] for v in listed] == [v["id"] for v in made.attr["values"]]
    assert [v["fqn"] for v in listed] == [f"{made.attr['fqn']}/value/{c}" for c in ("red", "blue")]
    blue = made.value("blue")
    # otdfctl 0.21.0's `values deactivate` has no --force: it always asks on a terminal
    gone = connect(otdfctl.platform, DEACTIVATE_VALUE, {"id": blue["id"]})
    assert gone.status_code == 200, gone.text
    assert gone.json()["value"]["id"] == blue["id"]
    assert not otdfctl("attributes", "values", "get", "--id", blue["id"])["active"].get("value")

    def ids(state: str) -> list[str]:
        out = otdfctl.rows("attributes", "values", "list", "--attribute-id", made.attr["id"],
                      "--state", state)  # fmt: skip
        return [v["id"] for v in out]

    assert ids("active") == [made.value("red")["id"]]
    assert ids("inactive") == [blue["id"]]
    assert ids("any") == [made.value("red")["id"], blue["id"]]


def test_values_list_of_unknown_attribute_is_not_found(otdfctl: Otdfctl) -> None:
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl.rows("attributes", "values", "list", "--attribute-id", str(uuid.uuid4()))


def test_match_finds_mappings_by_selector(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "match")
    selector = f".xtdf_{uuid.uuid4().hex[:8]}"
    condition = client_condition("someone").replace(".clientId", selector)
    mapping = otdfctl("subject-mappings", "create", "--attribute-value-id",
                      made.value("red")["id"], "--subject-condition-set-new", condition,
                      "--action", "read")  # fmt: skip
    (matched,) = otdfctl.rows("subject-mappings", "match", "--selector", selector)
    assert matched["id"] == mapping["id"]
    assert matched["attribute_value"]["fqn"] == made.value("red")["fqn"]
    assert [a["name"] for a in matched["actions"]] == ["read"]
    conds = matched["subject_condition_set"]["subject_sets"][0]["condition_groups"][0]
    assert conds["conditions"][0]["subject_external_selector_value"] == selector
    # any one of several selectors is enough; a selector no set tests matches nothing
    both = otdfctl.rows("subject-mappings", "match", "--selector", ".nobody_tests_this",
                   "--selector", selector)  # fmt: skip
    assert [m["id"] for m in both] == [mapping["id"]]
    assert not otdfctl.rows("subject-mappings", "match", "--selector", ".nobody_tests_this")
    # a deactivated value's mapping no longer entitles, so it no longer matches
    r = connect(otdfctl.platform, DEACTIVATE_VALUE, {"id": made.value("red")["id"]})
    assert r.status_code == 200, r.text
    assert not otdfctl.rows("subject-mappings", "match", "--selector", selector)


def test_kas_grants_list_and_unassign(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "glist")
    name = unique("gl")
    kas = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
                  "--public-key-remote", f"http://localhost:1/{name}/pk")  # fmt: skip
    red = made.value("red")
    for flag, target in (
        ("--value-id", red["id"]),
        ("--attribute-id", made.attr["id"]),
        ("--namespace-id", made.ns["id"]),
    ):
        if assign_grant(otdfctl, flag, target, kas["id"]) is None:
            rpc, field, id_field = GRANT_RPCS[flag]  # made by our client instead
            r = connect(
                otdfctl.platform, rpc, {field: {id_field: target, "keyAccessServerId": kas["id"]}}
            )
            assert r.status_code == 200, r.text
    for ref in (kas["id"], kas["uri"]):
        (entry,) = otdfctl.rows("kas-grants", "list", "--kas", ref)
        assert entry["key_access_server"]["id"] == kas["id"]
        assert [(g["id"], g["fqn"]) for g in entry["namespace_grants"]] == [
            (made.ns["id"], made.ns["fqn"])
        ]
        assert [(g["id"], g["fqn"]) for g in entry["attribute_grants"]] == [
            (made.attr["id"], made.attr["fqn"])
        ]
        assert [(g["id"], g["fqn"]) for g in entry["value_grants"]] == [(red["id"], red["fqn"])]
    everyone = {e["key_access_server"]["id"] for e in otdfctl.rows("kas-grants", "list")}
    assert {kas["id"], made.ns["id"]} & everyone == {kas["id"]}
    otdfctl("kas-grants", "unassign", "--value-id", red["id"], "--kas-id", kas["id"], "--force")
    otdfctl("kas-grants", "unassign", "--namespace-id", made.ns["id"], "--kas-id", kas["id"],
            "--force")  # fmt: skip
    (entry,) = otdfctl.rows("kas-grants", "list", "--kas", kas["id"])
    assert not entry.get("value_grants") and not entry.get("namespace_grants")
    assert [g["id"] for g in entry["attribute_grants"]] == [made.attr["id"]]
    value = otdfctl("attributes", "values", "get", "--id", red["id"])
    assert kas["id"] not in {g["id"] for g in value.get("grants", [])}


def test_actions_standard_and_custom(otdfctl: Otdfctl) -> None:
    def listed() -> dict[str, str]:
        return {a["name"]: a["id"] for a in otdfctl.rows("actions", "list")}

    before = listed()
    assert {"create", "read", "update", "delete"} <= set(before)
    name = unique("share-")
    created = otdfctl("actions", "create", "--name", name, "--label", "k=v")
    assert (created["name"], created["metadata"]["labels"]) == (name, {"k": "v"})
    assert listed()[name] == created["id"]
    by_name = otdfctl("actions", "get", "--name", name)
    assert by_name["id"] == created["id"]
    renamed = otdfctl("actions", "update", "--id", created["id"], "--name", name + "-x")
    assert renamed["name"] == name + "-x"
    assert otdfctl("actions", "get", "--id", created["id"])["name"] == name + "-x"
    otdfctl("actions", "delete", "--id", created["id"], "--force")
    assert created["id"] not in listed().values()
    with pytest.raises(OtdfctlError, match="invalid_argument"):
        otdfctl("actions", "delete", "--id", before["read"], "--force")
    assert listed()["read"] == before["read"]


def scs_via_connect(platform: LocalPlatform) -> dict[str, Any]:
    sets = json.loads(client_condition(unique("c-")))
    body = {"subjectConditionSet": {"subjectSets": sets}}
    r = connect(platform, "policy.subjectmapping.SubjectMappingService/CreateSubjectConditionSet",
                body)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["subjectConditionSet"]


def test_subject_mapping_update_and_delete(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "smup")
    first, second = (scs_via_connect(otdfctl.platform) for _ in range(2))
    sm = otdfctl("subject-mappings", "create", "--attribute-value-id", made.value("red")["id"],
                 "--subject-condition-set-id", first["id"], "--action", "read")  # fmt: skip
    actions = {a["name"]: a["id"] for a in otdfctl.rows("actions", "list")}
    otdfctl("subject-mappings", "update", "--id", sm["id"], "--subject-condition-set-id",
            second["id"], "--action", "read", "--action", actions["update"])  # fmt: skip
    got = otdfctl("subject-mappings", "get", "--id", sm["id"])
    assert got["subject_condition_set"]["id"] == second["id"]
    assert sorted(a["name"] for a in got["actions"]) == ["read", "update"]
    # a condition set in use cannot be deleted; an unused one can, and prune takes the rest
    with pytest.raises(OtdfctlError, match="invalid_argument"):
        otdfctl("subject-condition-sets", "delete", "--id", second["id"], "--force")
    otdfctl("subject-condition-sets", "delete", "--id", first["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("subject-condition-sets", "get", "--id", first["id"])
    otdfctl("subject-mappings", "delete", "--id", sm["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("subject-mappings", "get", "--id", sm["id"])
    otdfctl("subject-condition-sets", "prune", "--force")
    remaining = {s["id"] for s in otdfctl.rows("subject-condition-sets", "list")}
    assert second["id"] not in remaining


def test_subject_condition_set_update(otdfctl: Otdfctl) -> None:
    scs = scs_via_connect(otdfctl.platform)
    who = unique("now-")
    otdfctl("subject-condition-sets", "update", "--id", scs["id"], "--subject-sets",
            client_condition(who, "AND"), "--label", "v=2")  # fmt: skip
    got = otdfctl("subject-condition-sets", "get", "--id", scs["id"])
    (group,) = got["subject_sets"][0]["condition_groups"]
    assert (group["boolean_operator"], group["conditions"][0]["subject_external_values"]) == (
        1,
        [who],
    )
    assert got["metadata"]["labels"] == {"v": "2"}


def test_kas_registry_update_and_delete(otdfctl: Otdfctl) -> None:
    name = unique("kup")
    kas = otdfctl("kas-registry", "create", "--uri", f"http://localhost:1/{name}/kas",
                  "--public-key-remote", f"http://localhost:1/{name}/pk")  # fmt: skip
    otdfctl("kas-registry", "update", "--id", kas["id"], "--uri", f"http://localhost:2/{name}",
            "--name", name, "--label", "k=v")  # fmt: skip
    got = otdfctl("kas-registry", "get", "--id", kas["id"])
    assert (got["uri"], got["name"]) == (f"http://localhost:2/{name}", name)
    assert got["metadata"]["labels"] == {"k": "v"}
    if otdfctl.version not in KAS_PUBLIC_KEY_DROPPED:
        assert got["public_key"]["PublicKey"]["Remote"] == f"http://localhost:1/{name}/pk"
    otdfctl("kas-registry", "delete", "--id", kas["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("kas-registry", "get", "--id", kas["id"])
    # the platform's own KAS has keys: deleting it is refused and it stays
    own = next(
        k for k in otdfctl.rows("kas-registry", "list") if k["uri"] == f"{otdfctl.platform.url}/kas"
    )
    with pytest.raises(OtdfctlError, match="invalid_argument"):
        otdfctl("kas-registry", "delete", "--id", own["id"], "--force")
    assert otdfctl("kas-registry", "get", "--id", own["id"])["uri"] == own["uri"]


def test_attribute_deactivate_cascades_to_values(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "deact")
    fqn = made.value("red")["fqn"]
    by_fqns = "policy.attributes.AttributesService/GetAttributeValuesByFqns"
    assert connect(otdfctl.platform, by_fqns, {"fqns": [fqn]}).status_code == 200
    otdfctl("attributes", "deactivate", "--id", made.attr["id"], "--force")
    got = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert not got["active"].get("value")
    assert [bool(v["active"].get("value")) for v in got["values"]] == [False, False]
    assert otdfctl("attributes", "namespaces", "get", "--id", made.ns["id"])["active"]["value"]
    assert made.attr["id"] not in {a["id"] for a in otdfctl.rows("attributes", "list")}
    # an SDK can no longer encrypt to it: the lookup every SDK makes says not found
    r = connect(otdfctl.platform, by_fqns, {"fqns": [fqn]})
    assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text


def test_namespace_deactivate_cascades(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "nsdeact")
    otdfctl("attributes", "namespaces", "deactivate", "--id", made.ns["id"], "--force")
    assert not otdfctl("attributes", "namespaces", "get", "--id", made.ns["id"])["active"].get(
        "value"
    )
    attr = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert not attr["active"].get("value")
    assert not any(v["active"].get("value") for v in attr["values"])

    def listed(state: str) -> set[str]:
        out = otdfctl.rows("attributes", "namespaces", "list", "--state", state)
        return {n["id"] for n in out}

    assert made.ns["id"] not in listed("active")
    assert made.ns["id"] in listed("inactive")


def test_deactivate_unknown_namespace_is_not_found(otdfctl: Otdfctl) -> None:
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("attributes", "namespaces", "deactivate", "--id", str(uuid.uuid4()), "--force")


# -- the unsafe service ------------------------------------------------------------------


def test_unsafe_renames_move_fqns(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "unsafe")
    new_ns = unique("renamed") + ".example"
    ns = otdfctl("attributes", "namespaces", "unsafe", "update", "--id", made.ns["id"],
                 "--name", new_ns, "--force")  # fmt: skip
    assert (ns["id"], ns["fqn"]) == (made.ns["id"], f"https://{new_ns}")
    otdfctl("attributes", "unsafe", "update", "--id", made.attr["id"], "--name", "hue",
            "--force")  # fmt: skip
    red = made.value("red")
    otdfctl("attributes", "values", "unsafe", "update", "--id", red["id"], "--value", "crimson",
            "--force")  # fmt: skip
    value = otdfctl("attributes", "values", "get", "--id", red["id"])
    assert value["fqn"] == f"https://{new_ns}/attr/hue/value/crimson"
    by_fqns = "policy.attributes.AttributesService/GetAttributeValuesByFqns"
    assert connect(otdfctl.platform, by_fqns, {"fqns": [value["fqn"]]}).status_code == 200
    r = connect(otdfctl.platform, by_fqns, {"fqns": [red["fqn"]]})
    assert r.json()["code"] == "not_found", r.text


def test_unsafe_rule_and_value_order(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "order")
    ids = [v["id"] for v in made.attr["values"]]
    otdfctl("attributes", "unsafe", "update", "--id", made.attr["id"], "--rule", "HIERARCHY",
            "--values-order", ids[1], "--values-order", ids[0], "--force")  # fmt: skip
    got = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert got["rule"] == RULES["HIERARCHY"]
    assert [v["value"] for v in got["values"]] == ["blue", "red"]
    # an order that leaves a value out is refused and changes nothing
    with pytest.raises(OtdfctlError, match="invalid_argument"):
        otdfctl("attributes", "unsafe", "update", "--id", made.attr["id"],
                "--values-order", ids[0], "--force")  # fmt: skip
    again = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert [v["value"] for v in again["values"]] == ["blue", "red"]


def test_unsafe_reactivate_does_not_cascade(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "react")
    otdfctl("attributes", "namespaces", "deactivate", "--id", made.ns["id"], "--force")
    ns = otdfctl("attributes", "namespaces", "unsafe", "reactivate", "--id", made.ns["id"],
                 "--force")  # fmt: skip
    assert otdfctl("attributes", "namespaces", "get", "--id", ns["id"])["active"]["value"]
    attr = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert not attr["active"].get("value")
    otdfctl("attributes", "unsafe", "reactivate", "--id", made.attr["id"], "--force")
    otdfctl("attributes", "values", "unsafe", "reactivate", "--id", made.value("red")["id"],
            "--force")  # fmt: skip
    attr = otdfctl("attributes", "get", "--id", made.attr["id"])
    assert attr["active"]["value"]
    assert [bool(v["active"].get("value")) for v in attr["values"]] == [True, False]


def test_unsafe_deletes_take_what_is_under_them(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "del")
    red, blue = made.value("red"), made.value("blue")
    sm = otdfctl("subject-mappings", "create", "--attribute-value-id", red["id"],
                 "--subject-condition-set-new", client_condition(unique("c-")),
                 "--action", "read")  # fmt: skip
    otdfctl("attributes", "values", "unsafe", "delete", "--id", blue["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("attributes", "values", "get", "--id", blue["id"])
    assert [v["id"] for v in otdfctl("attributes", "get", "--id", made.attr["id"])["values"]] == [
        red["id"]
    ]
    otdfctl("attributes", "unsafe", "delete", "--id", made.attr["id"], "--force")
    for args in (("attributes", "get", "--id", made.attr["id"]),
                 ("attributes", "values", "get", "--id", red["id"]),
                 ("subject-mappings", "get", "--id", sm["id"])):  # fmt: skip
        with pytest.raises(OtdfctlError, match="not_found"):
            otdfctl(*args)
    otdfctl("attributes", "namespaces", "unsafe", "delete", "--id", made.ns["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("attributes", "namespaces", "get", "--id", made.ns["id"])


# -- resource mappings and their groups --------------------------------------------------


def test_resource_mapping_groups_and_mappings(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "resm")
    group = otdfctl("resource-mapping-groups", "create", "--namespace-id", made.ns["id"],
                    "--name", "docs", "--label", "k=v")  # fmt: skip
    assert (group["namespace_id"], group["name"]) == (made.ns["id"], "docs")
    assert group["metadata"]["labels"] == {"k": "v"}
    red, blue = made.value("red"), made.value("blue")
    mapping = otdfctl("resource-mappings", "create", "--attribute-value-id", red["id"],
                      "--terms", "crimson", "--terms", "scarlet",
                      "--group-id", group["id"])  # fmt: skip
    assert mapping["terms"] == ["crimson", "scarlet"]
    assert (mapping["attribute_value"]["fqn"], mapping["group"]["id"]) == (red["fqn"], group["id"])
    got = otdfctl("resource-mappings", "get", "--id", mapping["id"])
    assert (got["terms"], got["group"]["id"]) == (["crimson", "scarlet"], group["id"])
    assert mapping["id"] in {m["id"] for m in otdfctl.rows("resource-mappings", "list")}
    assert group["id"] in {g["id"] for g in otdfctl.rows("resource-mapping-groups", "list")}
    otdfctl("resource-mappings", "update", "--id", mapping["id"], "--attribute-value-id",
            blue["id"], "--terms", "navy")  # fmt: skip
    got = otdfctl("resource-mappings", "get", "--id", mapping["id"])
    assert (got["attribute_value"]["id"], got["terms"]) == (blue["id"], ["navy"])
    assert got["group"]["id"] == group["id"]
    otdfctl("resource-mapping-groups", "update", "--id", group["id"], "--name", "papers")
    assert otdfctl("resource-mapping-groups", "get", "--id", group["id"])["name"] == "papers"
    # a deleted group leaves its mappings, in no group; a deleted mapping is gone
    otdfctl("resource-mapping-groups", "delete", "--id", group["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("resource-mapping-groups", "get", "--id", group["id"])
    assert not otdfctl("resource-mappings", "get", "--id", mapping["id"]).get("group")
    otdfctl("resource-mappings", "delete", "--id", mapping["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("resource-mappings", "get", "--id", mapping["id"])


# -- registered resources ----------------------------------------------------------------


def test_registered_resources_and_values(otdfctl: Otdfctl) -> None:
    made = seed(otdfctl.platform, "regres")
    name = unique("sys")
    rr = otdfctl("registered-resources", "create", "--name", name, "--value", "prod",
                 "--label", "k=v")  # fmt: skip
    assert (rr["name"], [v["value"] for v in rr["values"]]) == (name, ["prod"])
    assert otdfctl("registered-resources", "get", "--name", name)["id"] == rr["id"]
    red = made.value("red")
    value = otdfctl("registered-resources", "values", "create", "--resource", rr["id"],
                    "--value", "dev", "--action-attribute-value", f"read;{red['fqn']}",
                    "--action-attribute-value", f"create;{red['id']}")  # fmt: skip
    pairs = {(p["action"]["name"], p["attribute_value"]["fqn"])
             for p in value["action_attribute_values"]}  # fmt: skip
    assert pairs == {("read", red["fqn"]), ("create", red["fqn"])}
    by_fqn = otdfctl("registered-resources", "values", "get", "--fqn",
                     f"https://reg_res/{name}/value/dev")  # fmt: skip
    assert by_fqn["id"] == value["id"]
    listed = otdfctl.rows("registered-resources", "values", "list", "--resource", rr["id"])
    assert sorted(v["value"] for v in listed) == ["dev", "prod"]
    blue = made.value("blue")
    otdfctl("registered-resources", "values", "update", "--id", value["id"], "--value", "test",
            *otdfctl.force("policy", "registered-resources", "values", "update"),
            "--action-attribute-value", f"read;{blue['id']}")  # fmt: skip
    got = otdfctl("registered-resources", "values", "get", "--id", value["id"])
    assert got["value"] == "test"
    assert [(p["action"]["name"], p["attribute_value"]["id"])
            for p in got["action_attribute_values"]] == [("read", blue["id"])]  # fmt: skip
    otdfctl("registered-resources", "update", "--id", rr["id"], "--name", name + "-x")
    assert otdfctl("registered-resources", "get", "--id", rr["id"])["name"] == name + "-x"
    otdfctl("registered-resources", "values", "delete", "--id", value["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("registered-resources", "values", "get", "--id", value["id"])
    otdfctl("registered-resources", "delete", "--id", rr["id"], "--force")
    with pytest.raises(OtdfctlError, match="not_found"):
        otdfctl("registered-resources", "get", "--id", rr["id"])


# -- key provider configurations -----------------------------------------------------------


KM = "policy.keymanagement.KeyManagementService"


def test_key_provider_configs(otdfctl: Otdfctl) -> None:
    # a top-level command in otdfctl 0.21.0, under `policy` in 0.30.0
    where = ["policy"] if " keymanagement " in _help(otdfctl.binary, ("policy",)) else []

    def km(*args: str) -> Any:
        return otdfctl.command(*where, "keymanagement", "provider", *args)

    name = unique("kms")
    config = {"region": "local", "endpoint": "http://localhost:1"}
    # 0.30.0 requires the kind of key manager; 0.21.0 has no such flag (the platform
    # records upstream's default for it)
    takes_manager = otdfctl.takes(*where, "keymanagement", "provider", "create", "--manager")
    manager = ["--manager", "opentdf.io/basic"] if takes_manager else []
    made = km("create", "--name", name, "--config", json.dumps(config), "--label", "k=v", *manager)
    assert made["name"] == name
    kept = connect(otdfctl.platform, f"{KM}/GetProviderConfig", {"id": made["id"]})
    want = "opentdf.io/basic" if takes_manager else "opentdf.io/unspecified"
    assert kept.json()["providerConfig"]["manager"] == want, kept.text
    assert json.loads(base64.b64decode(made["config_json"])) == config
    assert km("get", "--name", name)["id"] == made["id"]
    assert made["id"] in {p["id"] for p in rows_of(km("list"))}
    km("update", "--id", made["id"], "--config", json.dumps({"region": "other"}))
    got = km("get", "--id", made["id"])
    assert json.loads(base64.b64decode(got["config_json"])) == {"region": "other"}
    assert got["metadata"]["labels"] == {"k": "v"}
    with pytest.raises(OtdfctlError, match="already_exists"):
        km("create", "--name", name, "--config", "{}", *manager)
    km("delete", "--id", made["id"], *otdfctl.force(*where, "keymanagement", "provider", "delete"))
    with pytest.raises(OtdfctlError, match="not_found"):
        km("get", "--id", made["id"])
