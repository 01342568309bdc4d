"""``cli.sh`` end to end over loopback: encrypt, decrypt, and the refusals upstream tests.

Runs the installed ``cli.sh`` (as upstream's suite does) against the real platform with
its real KAS; each case checks the plaintext round-trips, or that a refusal names its
cause and leaves no output file.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.platform.conftest import LocalPlatform
from xtdf.client import install_cli
from xtdf.platform.admin import PolicyAdmin, condition_set

Runner = Callable[..., subprocess.CompletedProcess[str]]

PLAINTEXT = b"hello, cross-SDK world\n" * 50
CONTAINERS = ["ztdf", "ztdf-ecwrap", "nano", "nano-with-ecdsa"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_cli.install(tmp_path_factory.mktemp("sdk") / "py" / "dist" / "main")


@pytest.fixture
def run(cli: Path, full_platform: LocalPlatform) -> Runner:
    base_env = {
        **os.environ,
        "PLATFORMURL": full_platform.url,
        "KASURL": full_platform.kas_urls["default"],
        "CLIENTID": "opentdf",
        "CLIENTSECRET": "secret",
    }
    for name in list(base_env):
        if name.startswith("XT_WITH_"):
            del base_env[name]

    def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cli), *args], env={**base_env, **env}, capture_output=True, text=True
        )

    return _run


def _fmt(container: str) -> str:
    return "nano" if container.startswith("nano") else "ztdf"


def _encrypt(run: Runner, tmp_path: Path, container: str, **env: str) -> Path:
    pt, ct = tmp_path / "pt.txt", tmp_path / f"ct.{container}"
    pt.write_bytes(PLAINTEXT)
    extra = {"XT_WITH_ECWRAP": "true"} if container == "ztdf-ecwrap" else {}
    if container == "nano-with-ecdsa":
        extra["XT_WITH_ECDSA_BINDING"] = "true"
    result = run("encrypt", str(pt), str(ct), _fmt(container), **extra, **env)
    assert result.returncode == 0, result.stderr
    return ct


@pytest.mark.parametrize("container", CONTAINERS)
def test_roundtrip(run: Runner, tmp_path: Path, container: str) -> None:
    ct = _encrypt(run, tmp_path, container)
    rt = tmp_path / "rt.txt"
    extra = {"XT_WITH_ECWRAP": "true"} if container == "ztdf-ecwrap" else {}
    result = run("decrypt", str(ct), str(rt), _fmt(container), **extra)
    assert result.returncode == 0, result.stderr
    assert rt.read_bytes() == PLAINTEXT


@pytest.mark.parametrize("mode", ["4.2.2", "4.3.0"])
def test_target_mode_and_mime_type(run: Runner, tmp_path: Path, mode: str) -> None:
    ct = _encrypt(run, tmp_path, "ztdf", XT_WITH_TARGET_MODE=mode, XT_WITH_MIME_TYPE="text/plain")
    manifest = json.loads(zipfile.ZipFile(ct).read("0.manifest.json"))
    assert manifest.get("schemaVersion") == ("4.3.0" if mode == "4.3.0" else None)
    assert manifest["payload"]["mimeType"] == "text/plain"
    rt = tmp_path / "rt"
    assert run("decrypt", str(ct), str(rt), "ztdf").returncode == 0
    assert rt.read_bytes() == PLAINTEXT


def _tamper_payload(ct: Path) -> None:
    with zipfile.ZipFile(ct) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    payload = bytearray(entries["0.payload"])
    payload[len(payload) // 2] ^= 0x01
    entries["0.payload"] = bytes(payload)
    with zipfile.ZipFile(ct, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def test_tampered_ztdf_fails_and_leaves_no_output(run: Runner, tmp_path: Path) -> None:
    ct = _encrypt(run, tmp_path, "ztdf")
    _tamper_payload(ct)
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "ztdf")
    assert result.returncode != 0
    assert not rt.exists() and not list(tmp_path.glob(".rt.*"))
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("xtdf: tamper detected: ") and "IntegrityError" in line
    assert "segment" in line


def test_tampered_policy_is_refused_by_the_kas(run: Runner, tmp_path: Path) -> None:
    ct = _encrypt(run, tmp_path, "ztdf")
    with zipfile.ZipFile(ct) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(entries["0.manifest.json"])
    policy = json.loads(base64.b64decode(manifest["encryptionInformation"]["policy"]))
    policy["body"]["dissem"] = ["mallory@example.com"]
    manifest["encryptionInformation"]["policy"] = base64.b64encode(
        json.dumps(policy).encode()
    ).decode()
    entries["0.manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(ct, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "ztdf")
    assert result.returncode != 0 and not rt.exists()
    assert "KAS request error" in result.stderr or "tamper" in result.stderr


@pytest.mark.parametrize("container", CONTAINERS)
def test_kas_outside_allowlist_is_refused(run: Runner, tmp_path: Path, container: str) -> None:
    ct = _encrypt(run, tmp_path, container)
    rt = tmp_path / "rt"
    extra = {"XT_WITH_ECWRAP": "true"} if container == "ztdf-ecwrap" else {}
    refused = run(
        "decrypt",
        str(ct),
        str(rt),
        _fmt(container),
        XT_WITH_KAS_ALLOW_LIST="http://kas.invalid:1/kas",
        **extra,
    )
    assert refused.returncode != 0 and not rt.exists()
    assert "allowlist" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    ignored = run(
        "decrypt",
        str(ct),
        str(rt),
        _fmt(container),
        XT_WITH_KAS_ALLOWLIST="http://kas.invalid:1/kas",
        XT_WITH_IGNORE_KAS_ALLOWLIST="true",
        **extra,
    )
    assert ignored.returncode == 0, ignored.stderr
    assert rt.read_bytes() == PLAINTEXT


def _entitled_attribute(admin: PolicyAdmin, lp: LocalPlatform, rule: str) -> list[str]:
    """Two values of a fresh attribute, granted to KASes value1 and value2, and an
    entitlement for client ``opentdf`` to both."""
    ns = f"rt-{uuid.uuid4().hex[:8]}.example.com"
    admin.create_namespace(ns)
    admin.create_attribute(ns, "a", rule, ["x", "y"])
    fqns = [f"https://{ns}/attr/a/value/x", f"https://{ns}/attr/a/value/y"]
    for fqn, instance in zip(fqns, ("value1", "value2"), strict=True):
        kas = lp.kas_urls[instance]
        if not any(k.get("uri") == kas for k in admin.list_kas()):
            admin.register_kas(kas)
        admin.grant_kas("value", fqn, kas)
        admin.create_subject_mapping(fqn, subject_sets=condition_set(".clientId", ["opentdf"]))
    return fqns


@pytest.mark.parametrize("rule", ["ALL_OF", "ANY_OF"])
def test_autoconfigured_split_roundtrips(
    run: Runner,
    tmp_path: Path,
    admin: PolicyAdmin,
    full_platform: LocalPlatform,
    rule: str,
) -> None:
    fqns = _entitled_attribute(admin, full_platform, rule)
    ct = _encrypt(run, tmp_path, "ztdf", XT_WITH_ATTRIBUTES=",".join(fqns))
    kaos = json.loads(zipfile.ZipFile(ct).read("0.manifest.json"))["encryptionInformation"][
        "keyAccess"
    ]
    urls = {k["url"] for k in kaos}
    assert urls == {full_platform.kas_urls["value1"], full_platform.kas_urls["value2"]}
    sids = {k["sid"] for k in kaos}
    assert len(sids) == (2 if rule == "ALL_OF" else 1)
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "ztdf")
    assert result.returncode == 0, result.stderr
    assert rt.read_bytes() == PLAINTEXT


def test_assertions_signed_and_verified(run: Runner, tmp_path: Path) -> None:
    key = "a" * 32
    assertions = [
        {
            "id": "a1",
            "type": "handling",
            "scope": "tdo",
            "appliesToState": "encrypted",
            "statement": {
                "format": "json+stanag5636",
                "schema": "urn:nato:stanag:5636:A:1:elements:json",
                "value": '{"ocl":"2024"}',
            },
            "signingKey": {"alg": "HS256", "key": key},
        }
    ]
    ct = _encrypt(run, tmp_path, "ztdf", XT_WITH_ASSERTIONS=json.dumps(assertions))
    keys = json.dumps({"keys": {"a1": {"alg": "HS256", "key": key}}})
    rt = tmp_path / "rt"
    ok = run("decrypt", str(ct), str(rt), "ztdf", XT_WITH_ASSERTION_VERIFICATION_KEYS=keys)
    assert ok.returncode == 0, ok.stderr
    wrong = json.dumps({"keys": {"a1": {"alg": "HS256", "key": "b" * 32}}})
    rt.unlink()
    bad = run("decrypt", str(ct), str(rt), "ztdf", XT_WITH_ASSERTION_VERIFICATION_KEYS=wrong)
    assert bad.returncode != 0 and not rt.exists()
    assert "assertion" in bad.stderr and "tamper" in bad.stderr
    skipped = run(
        "decrypt",
        str(ct),
        str(rt),
        "ztdf",
        XT_WITH_ASSERTION_VERIFICATION_KEYS=wrong,
        XT_WITH_VERIFY_ASSERTIONS="false",
    )
    assert skipped.returncode == 0, skipped.stderr


@pytest.mark.parametrize("container", ["nano", "nano-with-ecdsa"])
def test_tampered_nano_fails_and_leaves_no_output(
    run: Runner, tmp_path: Path, container: str
) -> None:
    ct = _encrypt(run, tmp_path, container)
    data = bytearray(ct.read_bytes())
    data[-20] ^= 0x01  # inside the payload ciphertext
    ct.write_bytes(bytes(data))
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "nano")
    assert result.returncode != 0 and not rt.exists()
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("xtdf: tamper detected: ") and "IntegrityError" in line


def test_base_key_is_the_default_when_set(
    cli: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """With a base key in the well-known configuration, encrypting without attributes
    wraps for it (KAS URL and kid), as the Go SDK does; decrypt then works by default."""
    from tests.platform.conftest import start_platform

    server = start_platform(tmp_path_factory.mktemp("client-basekey"))
    try:
        km2 = server.config.kas_url("km2")
        with PolicyAdmin(server.config.platform_url) as admin:
            if not any(k.get("uri") == km2 for k in admin.list_kas()):
                admin.register_kas(km2)
            admin.create_key(km2, "base-e1", "ec:secp256r1")
            admin.set_base_key(km2, "base-e1")
        env = {**os.environ, "PLATFORMURL": server.config.platform_url}
        env = {k: v for k, v in env.items() if not k.startswith("XT_WITH_") and k != "KASURL"}
        pt, ct, rt = tmp_path / "pt", tmp_path / "ct", tmp_path / "rt"
        pt.write_bytes(PLAINTEXT)
        enc = subprocess.run(
            [str(cli), "encrypt", str(pt), str(ct), "ztdf"], env=env, text=True, capture_output=True
        )
        assert enc.returncode == 0, enc.stderr
        (kao,) = json.loads(zipfile.ZipFile(ct).read("0.manifest.json"))["encryptionInformation"][
            "keyAccess"
        ]
        assert (kao["url"], kao["kid"], kao["type"]) == (km2, "base-e1", "ec-wrapped")
        dec = subprocess.run(
            [str(cli), "decrypt", str(ct), str(rt), "ztdf"], env=env, text=True, capture_output=True
        )
        assert dec.returncode == 0, dec.stderr
        assert rt.read_bytes() == PLAINTEXT
    finally:
        server.stop()


def test_wrong_credentials_fail_decrypt_without_output(run: Runner, tmp_path: Path) -> None:
    ct = _encrypt(run, tmp_path, "ztdf")
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "ztdf", CLIENTSECRET="wrong")
    assert result.returncode != 0 and not rt.exists()
    (line,) = result.stderr.strip().splitlines()
    assert "refused client credentials for 'opentdf'" in line


def test_unentitled_client_is_denied(
    run: Runner, tmp_path: Path, admin: PolicyAdmin, full_platform: LocalPlatform
) -> None:
    fqns = _entitled_attribute(admin, full_platform, "ALL_OF")  # entitles only 'opentdf'
    ct = _encrypt(run, tmp_path, "ztdf", XT_WITH_ATTRIBUTES=fqns[0])
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "ztdf", CLIENTID="xtdf-bob")
    assert result.returncode != 0 and not rt.exists()
    (line,) = result.stderr.strip().splitlines()
    assert "denied" in line or "forbidden" in line


def test_mapped_keys_on_one_kas_split_and_roundtrip(
    run: Runner, tmp_path: Path, admin: PolicyAdmin, full_platform: LocalPlatform
) -> None:
    """key_management: two keys of one KAS mapped to two ALL_OF values give two splits,
    one KAO each (same URL, own kid), and the bulk rewrap opens both."""
    km1 = full_platform.kas_urls["km1"]
    if not any(k.get("uri") == km1 for k in admin.list_kas()):
        admin.register_kas(km1)
    tag = uuid.uuid4().hex[:6]
    ns = f"km-{tag}.example.com"
    admin.create_namespace(ns)
    admin.create_attribute(ns, "a", "ALL_OF", ["x", "y"])
    fqns = [f"https://{ns}/attr/a/value/x", f"https://{ns}/attr/a/value/y"]
    for fqn, (kid, alg) in zip(
        fqns, ((f"r-{tag}", "rsa:2048"), (f"e-{tag}", "ec:secp256r1")), strict=True
    ):
        admin.create_key(km1, kid, alg)
        admin.assign_key("value", fqn, km1, kid)
        admin.create_subject_mapping(fqn, subject_sets=condition_set(".clientId", ["opentdf"]))
    ct = _encrypt(run, tmp_path, "ztdf", XT_WITH_ATTRIBUTES=",".join(fqns))
    kaos = json.loads(zipfile.ZipFile(ct).read("0.manifest.json"))["encryptionInformation"][
        "keyAccess"
    ]
    assert [(k["url"], k["kid"], k["type"]) for k in kaos] == [
        (km1, f"r-{tag}", "wrapped"),
        (km1, f"e-{tag}", "ec-wrapped"),
    ]
    assert len({k["sid"] for k in kaos}) == 2
    rt = tmp_path / "rt"
    result = run("decrypt", str(ct), str(rt), "ztdf")
    assert result.returncode == 0, result.stderr
    assert rt.read_bytes() == PLAINTEXT


@pytest.mark.parametrize(
    ("env", "mode", "ecdsa"),
    [
        ({}, "EMBEDDED_ENCRYPTED", False),
        ({"XT_WITH_PLAINTEXT_POLICY": "true"}, "EMBEDDED_PLAINTEXT", False),
        ({"XT_WITH_ECDSA_BINDING": "true"}, "EMBEDDED_ENCRYPTED", True),
    ],
)
def test_nano_header_names_the_kas_key_and_policy(
    run: Runner, tmp_path: Path, full_platform: LocalPlatform, env: dict, mode: str, ecdsa: bool
) -> None:
    """What a NanoTDF encrypt writes, checked without a KAS: the default KAS's URL and EC
    key id in the header locator, the binding kind, the policy mode and its attributes."""
    from xtdf.client.config import ClientConfig
    from xtdf.client.platform_client import PlatformClient
    from xtdf.formats import nano

    attr = "https://example.com/attr/a/value/x"
    ct = _encrypt(run, tmp_path, "nano", XT_WITH_ATTRIBUTES=attr, **env)
    header, _ = nano.parse_header(ct.read_bytes())
    kas = full_platform.kas_urls["default"]
    with PlatformClient(ClientConfig(platform_url=full_platform.url)) as client:
        kid = client.kas_public_key(kas, "ec:secp256r1").kid
    assert header.kas.url == kas and header.kas.kid == kid.encode()
    assert header.ecdsa_binding is ecdsa
    assert header.policy.mode.name == mode
    if mode == "EMBEDDED_PLAINTEXT":
        policy = nano.read_policy(header)
        assert policy["body"]["dataAttributes"] == [{"attribute": attr}]
