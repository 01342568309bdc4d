"""Each tamper case upstream's suite runs, through ``cli.sh decrypt``, pins our wording.

``cli.sh supports better-messages-2024`` says yes, so upstream's ``assert_tamper_error``
(opentdf/tests ``xtest/test_tdfs.py``) holds us to its patterns: the output names the
check (``wrap``, ``root``, ``signature``, ``assertion``, ``segment``, case-sensitive) and
one of ``tamper``, ``could not find policy in rewrap response``, or per case
``InvalidFileError`` / ``IntegrityError`` / ``integrity check``. Each test alters a real
file from the real platform the way upstream's does, then checks our exact line, the
upstream patterns, and that no plaintext (nor a temporary file) was left behind.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.platform.conftest import LocalPlatform
from xtdf.client import install_cli
from xtdf.client.allowlist import kas_address
from xtdf.client.features import FEATURES
from xtdf.platform.admin import PolicyAdmin

PLAINTEXT = b"tamper wording, segment after segment\n" * 40
Manifest = dict[str, Any]
Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_cli.install(tmp_path_factory.mktemp("sdk") / "py" / "dist" / "main")


@pytest.fixture
def run(cli: Path, full_platform: LocalPlatform) -> Runner:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XT_WITH_")}
    env |= {
        "PLATFORMURL": full_platform.url,
        "KASURL": full_platform.kas_urls["default"],
        "CLIENTID": "opentdf",
        "CLIENTSECRET": "secret",
    }

    def _run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        # upstream reads stdout and stderr as one stream (stderr=STDOUT)
        return subprocess.run(
            [str(cli), *args],
            env={**env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    return _run


def encrypt(run: Runner, tmp_path: Path, **env: str) -> Path:
    pt, ct = tmp_path / "pt.txt", tmp_path / "ct.tdf"
    pt.write_bytes(PLAINTEXT)
    done = run("encrypt", str(pt), str(ct), "ztdf", **env)
    assert done.returncode == 0, done.stdout
    return ct


def rewrite(ct: Path, manifest: Callable[[Manifest], None] | None = None, payload=None) -> None:
    """Rewrite the zip with the manifest (and/or payload bytes) changed in place."""
    with zipfile.ZipFile(ct) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    if manifest is not None:
        m = json.loads(entries["0.manifest.json"])
        manifest(m)
        entries["0.manifest.json"] = json.dumps(m).encode()
    if payload is not None:
        entries["0.payload"] = payload(entries["0.payload"])
    with zipfile.ZipFile(ct, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def flip_tail(data: bytes) -> bytes:
    """The last three bytes changed (upstream's ``change_last_three``)."""
    return data[:-3] + bytes(b ^ 0x5A for b in data[-3:])


def b64_flip_tail(text: str) -> str:
    return base64.b64encode(flip_tail(base64.b64decode(text))).decode()


def decrypt_refused(run: Runner, ct: Path, **env: str) -> str:
    """Decrypt must fail on one line, leaving no output file; that line is returned."""
    rt = ct.with_suffix(".untdf")
    done = run("decrypt", str(ct), str(rt), "ztdf", **env)
    assert done.returncode != 0, "decrypt succeeded on a tampered file"
    assert not rt.exists() and not list(ct.parent.glob(f".{rt.name}*"))
    (line,) = done.stdout.strip().splitlines()
    assert "Traceback" not in line
    return line


def assert_upstream_accepts(line: str, check: str) -> None:
    """Upstream's ``assert_tamper_error`` for a decrypter claiming better-messages-2024."""
    assert FEATURES["better-messages-2024"]
    assert check in line
    oneof = ["tamper", "could not find policy in rewrap response"]
    if check == "wrap":
        oneof.append("InvalidFileError")
    elif check in ("root", "signature"):
        oneof.append("IntegrityError")
    else:
        oneof += ["IntegrityError", "integrity check"]
    assert re.search("|".join(map(re.escape, oneof)), line, re.IGNORECASE), line


def _policy(m: Manifest) -> dict[str, Any]:
    return json.loads(base64.b64decode(m["encryptionInformation"]["policy"]))


def unbind_policy(m: Manifest) -> None:
    policy = _policy(m)
    policy["body"]["dataAttributes"] = []
    policy["body"]["dissem"] = ["yves@dropp.er"]
    m["encryptionInformation"]["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()


def alter_binding(m: Manifest) -> None:
    kao = m["encryptionInformation"]["keyAccess"][0]
    binding = kao["policyBinding"]
    if isinstance(binding, dict):
        binding["hash"] = b64_flip_tail(binding["hash"])
    else:
        kao["policyBinding"] = b64_flip_tail(binding)


def binding_as_bytes_repr(m: Manifest) -> None:
    """Upstream stores ``str(b64encode(...))``, i.e. ``"b'...'"``: not base64 at all."""
    kao = m["encryptionInformation"]["keyAccess"][0]
    binding = kao["policyBinding"]
    altered = str(base64.b64encode(flip_tail(base64.b64decode(_hash_of(binding)))))
    if isinstance(binding, dict):
        binding["hash"] = altered
    else:
        kao["policyBinding"] = altered


def _hash_of(binding: str | dict[str, str]) -> str:
    return binding["hash"] if isinstance(binding, dict) else binding


@pytest.mark.parametrize(
    ("mode", "change"),
    [
        ("4.3.0", unbind_policy),
        ("4.2.2", unbind_policy),
        ("4.3.0", alter_binding),
        ("4.2.2", alter_binding),
        ("4.3.0", binding_as_bytes_repr),
    ],
)
def test_policy_tamper_is_named_as_tamper_at_rewrap(
    run: Runner, tmp_path: Path, mode: str, change: Callable[[Manifest], None]
) -> None:
    ct = encrypt(run, tmp_path, XT_WITH_TARGET_MODE=mode)
    rewrite(ct, manifest=change)
    line = decrypt_refused(run, ct)
    assert line.startswith("xtdf: tamper detected: "), line
    assert "rewrap refused: KAS " in line and "answered bad request for kao-0" in line
    assert line.endswith("(IntegrityError: RewrapTamperError)")
    assert_upstream_accepts(line, "wrap")


def test_altered_root_signature(run: Runner, tmp_path: Path) -> None:
    ct = encrypt(run, tmp_path)

    def change(m: Manifest) -> None:
        root = m["encryptionInformation"]["integrityInformation"]["rootSignature"]
        root["sig"] = b64_flip_tail(root["sig"])

    rewrite(ct, manifest=change)
    line = decrypt_refused(run, ct)
    assert line.startswith("xtdf: tamper detected: root signature "), line
    assert line.endswith("(IntegrityError: RootSignatureError)")
    assert_upstream_accepts(line, "root")


def test_altered_segment_hash_fails_the_root_signature(run: Runner, tmp_path: Path) -> None:
    ct = encrypt(run, tmp_path)

    def change(m: Manifest) -> None:
        seg = m["encryptionInformation"]["integrityInformation"]["segments"][0]
        seg["hash"] = b64_flip_tail(seg["hash"])

    rewrite(ct, manifest=change)
    line = decrypt_refused(run, ct, XT_WITH_VERIFY_ASSERTIONS="false")
    assert line.startswith("xtdf: tamper detected: root signature "), line
    assert_upstream_accepts(line, "signature")


def test_altered_encrypted_segment_size(run: Runner, tmp_path: Path) -> None:
    ct = encrypt(run, tmp_path)

    def change(m: Manifest) -> None:
        seg = m["encryptionInformation"]["integrityInformation"]["segments"][0]
        seg["encryptedSegmentSize"] = seg.get("encryptedSegmentSize", 0) - 1

    rewrite(ct, manifest=change)
    line = decrypt_refused(run, ct)
    assert line.startswith("xtdf: tamper detected: segment 0 integrity check failed"), line
    assert_upstream_accepts(line, "segment")


def test_altered_payload_end(run: Runner, tmp_path: Path) -> None:
    ct = encrypt(run, tmp_path)
    rewrite(ct, payload=flip_tail)
    line = decrypt_refused(run, ct)
    assert line.startswith("xtdf: tamper detected: segment 0 integrity check failed"), line
    assert line.endswith("(IntegrityError: SegmentIntegrityError)")
    assert_upstream_accepts(line, "segment")


STATEMENT = {
    "format": "json+stanag5636",
    "schema": "urn:nato:stanag:5636:A:1:elements:json",
    "value": '{"ocl":{"pol":"x","cls":"SECRET"}}',
}


def _assertion(signing_key: dict[str, str] | None) -> list[dict[str, Any]]:
    a: dict[str, Any] = {
        "id": "a1",
        "type": "handling",
        "scope": "tdo",
        "appliesToState": "encrypted",
        "statement": STATEMENT,
    }
    if signing_key:
        a["signingKey"] = signing_key
    return [a]


def _alter_statement(m: Manifest) -> None:
    m["assertions"][0]["statement"]["value"] = "tampered"


@pytest.mark.parametrize("keyed", [False, True], ids=["payload-key", "hs256-key"])
def test_altered_assertion_statement(run: Runner, tmp_path: Path, keyed: bool) -> None:
    key = {"alg": "HS256", "key": "k" * 32}
    ct = encrypt(run, tmp_path, XT_WITH_ASSERTIONS=json.dumps(_assertion(key if keyed else None)))
    rewrite(ct, manifest=_alter_statement)
    env = {"XT_WITH_ASSERTION_VERIFICATION_KEYS": json.dumps({"keys": {"a1": key}})}
    line = decrypt_refused(run, ct, **(env if keyed else {}))
    assert line.startswith("xtdf: tamper detected: assertion 'a1': statement altered"), line
    assert line.endswith("(IntegrityError: AssertionSignatureError)")
    assert_upstream_accepts(line, "assertion")


def _point_kao_at(url: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        m["encryptionInformation"]["keyAccess"][0]["url"] = url

    return change


def test_malicious_kao_outside_the_registry_is_refused_before_any_request(
    run: Runner, tmp_path: Path, full_platform: LocalPlatform
) -> None:
    """Upstream's case: the KAO points at an address that is neither the platform nor
    registered; the allowlist refuses it and names it, before any request is sent."""
    ct = encrypt(run, tmp_path)
    url = "http://localhost:1/malicious/kas"
    rewrite(ct, manifest=_point_kao_at(url))
    line = decrypt_refused(run, ct)
    assert f"KAS '{url}' is not allowed: it is not in the KAS allowlist" in line, line
    assert re.search("allowlist|not allowed|disallowed KASes", line, re.IGNORECASE)


def test_malicious_kao_on_a_registered_address_reaches_that_kas(
    run: Runner, tmp_path: Path, full_platform: LocalPlatform, admin: PolicyAdmin
) -> None:
    """As in the Go SDK, a registered address is trusted for every path on it: the KAO
    goes to km1, which cannot unwrap a key wrapped for another KAS and answers bad
    request, so nothing is released and the refusal reads as tampering, not allowlist."""
    km1 = full_platform.kas_urls["km1"]
    if not any(k.get("uri") == km1 for k in admin.list_kas()):
        admin.register_kas(km1)
    ct = encrypt(run, tmp_path)
    forged = kas_address(km1) + "/malicious/kas"
    rewrite(ct, manifest=_point_kao_at(forged))
    line = decrypt_refused(run, ct)
    assert "allowlist" not in line
    assert f"rewrap refused: KAS {forged} answered bad request for kao-0" in line, line
    own = full_platform.kas_urls["default"]
    line = decrypt_refused(run, ct, XT_WITH_KAS_ALLOWLIST=own)  # a list given: no registry
    assert f"KAS '{forged}' is not allowed: it is not in the KAS allowlist" in line, line


def _nano(run: Runner, tmp_path: Path, ecdsa: bool) -> Path:
    pt, ct = tmp_path / "pt.txt", tmp_path / "ct.ntdf"
    pt.write_bytes(PLAINTEXT)
    env = {"XT_WITH_ECDSA_BINDING": "true"} if ecdsa else {}
    done = run("encrypt", str(pt), str(ct), "nano", **env)
    assert done.returncode == 0, done.stdout
    return ct


@pytest.mark.parametrize("ecdsa", [False, True], ids=["gmac", "ecdsa"])
def test_nano_policy_tamper_is_named_as_tamper_at_rewrap(
    run: Runner, tmp_path: Path, ecdsa: bool
) -> None:
    from xtdf.formats import nano

    ct = _nano(run, tmp_path, ecdsa)
    data = bytearray(ct.read_bytes())
    header, _ = nano.parse_header(bytes(data))
    start = data.index(header.policy.content)
    assert start > 0
    data[start] ^= 0x01  # the encrypted policy's first byte: its binding no longer holds
    ct.write_bytes(bytes(data))
    rt = tmp_path / "rt"
    done = run("decrypt", str(ct), str(rt), "nano")
    assert done.returncode != 0 and not rt.exists()
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith("xtdf: tamper detected: rewrap refused: KAS "), line
    assert line.endswith("(IntegrityError: RewrapTamperError)")
    assert_upstream_accepts(line, "wrap")
