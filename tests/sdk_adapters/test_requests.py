"""What each client sends, and what it writes, when driven through its adapter.

The clients run for real against the logging stub (``stub.py``): encrypt completes with the
stub's KAS public key, so the test can read the ciphertext it produced and see that each
``XT_WITH_*`` option reached the client; decrypt reaches the rewrap, which the stub refuses,
so the test also sees a clean failure (no DST, no temporary file left behind).
"""

from __future__ import annotations

import base64
import gzip
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sdk_adapters.conftest import ALL_ADAPTERS, Adapter, require_installed
from tests.sdk_adapters.stub import RSA_KID, STUB_TOKEN, Request, StubKeys, StubServer
from xtdf.harness.sdks import SDK

ATTRS = ["https://example.com/attr/color/value/red", "https://example.com/attr/size/value/big"]


def manifest_of(tdf: Path) -> dict:
    with zipfile.ZipFile(tdf) as z:
        return json.loads(z.read("0.manifest.json"))


def leftovers(directory: Path, expected: set[str]) -> set[str]:
    """Files in ``directory`` besides the expected ones (e.g. a ``.part`` left behind)."""
    return {p.name for p in directory.iterdir()} - expected


def find(requests: list[Request], method: str, path: str) -> Request:
    for r in requests:
        if r.method == method and r.path == path:
            return r
    raise AssertionError(f"no {method} {path} among {[f'{r.method} {r.path}' for r in requests]}")


def nano_ecdsa_bit(ntdf: bytes) -> bool:
    """Bit 7 of the ECC-and-binding-mode byte that follows the KAS resource locator."""
    assert ntdf[:3] == b"L1L", "not a NanoTDF v1 header"
    protocol, length = ntdf[3], ntdf[4]
    identifier = {0: 0, 1: 2, 2: 8, 3: 32}[protocol >> 4]
    return bool(ntdf[5 + length + identifier] & 0x80)


@dataclass(frozen=True)
class Encrypted:
    """One ZTDF encrypt through an adapter, shared by the tests that inspect it."""

    adapter: Adapter
    stub: StubServer
    directory: Path
    ct: Path
    requests: list[Request]


@pytest.fixture(scope="module", params=ALL_ADAPTERS, ids=str)
def encrypted(
    request: pytest.FixtureRequest,
    stub_keys: StubKeys,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Encrypted]:
    """Encrypt the way the suite does, through ``xtdf.harness.sdks.SDK``, with options."""
    adapter = require_installed(request.param)
    directory = tmp_path_factory.mktemp("encrypted")
    plaintext = directory / "plain.txt"
    plaintext.write_bytes(b"xtdf adapter test\n" * 8)
    sdk = SDK(name=adapter.name, version=adapter.version, path=adapter.cli)
    # js: the suite's default MIME type, which it accepts; a pre-4.3 target, which it writes
    mime, target = ("text/plain", "4.2.2") if adapter.is_js else ("text/csv", "4.3.0")
    with StubServer(keys=stub_keys) as stub, pytest.MonkeyPatch.context() as mp:
        for k, v in stub.env().items():
            mp.setenv(k, v)
        ct = directory / "out.tdf"
        sdk.encrypt(plaintext, ct, mime_type=mime, attr_values=ATTRS, target_mode=target)
        yield Encrypted(adapter, stub, directory, ct, list(stub.requests))


def test_ztdf_encrypt_passes_options_and_fetches_the_kas_key(encrypted: Encrypted) -> None:
    adapter, stub = encrypted.adapter, encrypted.stub
    assert leftovers(encrypted.directory, {"plain.txt", "out.tdf"}) == set()

    m = manifest_of(encrypted.ct)
    (kao,) = m["encryptionInformation"]["keyAccess"]
    assert kao["url"] == f"{stub.url}/kas"
    assert kao["kid"] == RSA_KID
    policy = json.loads(base64.b64decode(m["encryptionInformation"]["policy"]))
    assert [a["attribute"] for a in policy["body"]["dataAttributes"]] == ATTRS

    if adapter.is_js:
        req = find(encrypted.requests, "GET", "/kas/kas_public_key")
        assert req.query.get("v") == ["2"]
        assert req.header("Authorization") is None
        # legacy layout: no top-level schemaVersion, "3.0.0" inside payload, no mimeType
        assert "schemaVersion" not in m
        assert m["payload"]["schemaVersion"] == "3.0.0"
        assert "mimeType" not in m["payload"]
    else:
        req = find(encrypted.requests, "POST", "/kas.AccessService/PublicKey")
        assert req.header("Connect-Protocol-Version") == "1"
        assert req.header("Content-Type") == "application/proto"
        assert req.header("Content-Encoding") == "gzip"
        assert req.body_prefix[:2] == b"\x1f\x8b"
        assert m["schemaVersion"] == "4.3.0"
        assert m["payload"]["mimeType"] == "text/csv"


def test_nano_encrypt_asks_for_the_ec_key(
    adapter: Adapter, stub: StubServer, plaintext: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "out.ntdf"
    result = adapter.run("encrypt", plaintext, dst, "nano", env=stub.env())
    assert result.returncode == 0, result.stderr
    data = dst.read_bytes()
    assert data[:3] == b"L1L"
    assert stub.url.removeprefix("http://").encode() + b"/kas" in data[:64]
    assert not nano_ecdsa_bit(data)
    if adapter.is_js:
        req = find(stub.requests, "GET", "/kas/kas_public_key")
        assert req.query.get("algorithm") == ["ec:secp256r1"]
        assert "v" not in req.query
    else:
        req = find(stub.requests, "POST", "/kas.AccessService/PublicKey")
        assert b"ec:secp256r1" in gzip.decompress(req.body_prefix)


def test_nano_ecdsa_binding_reaches_the_client(
    otdf_python: Adapter, stub: StubServer, plaintext: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "ecdsa.ntdf"
    env = {**stub.env(), "XT_WITH_ECDSA_BINDING": "true"}
    result = otdf_python.run("encrypt", plaintext, dst, "nano", env=env)
    assert result.returncode == 0, result.stderr
    assert nano_ecdsa_bit(dst.read_bytes())


def test_failed_decrypt_reaches_rewrap_and_leaves_nothing(
    encrypted: Encrypted, tmp_path: Path
) -> None:
    adapter, stub = encrypted.adapter, encrypted.stub
    dst = tmp_path / "rt.txt"
    env = {**stub.env(), "XT_WITH_VERIFY_ASSERTIONS": "false"}  # accepted: it never verifies
    before = len(stub.requests)
    result = adapter.run("decrypt", encrypted.ct, dst, "ztdf", env=env)
    assert result.returncode not in (0, 3), "the client, not the adapter, must fail here"
    assert result.stderr.strip(), "the tool's error must reach stderr"
    assert not dst.exists()
    assert leftovers(tmp_path, set()) == set()

    requests = stub.requests[before:]
    token = find(requests, "POST", "/auth/realms/opentdf/protocol/openid-connect/token")
    assert token.header("Content-Type") == "application/x-www-form-urlencoded"
    if adapter.is_js:
        assert token.body_prefix.startswith(b"grant_type=client_credentials&client_id=opentdf")
        rewrap = find(requests, "POST", "/kas/v2/rewrap")
        assert rewrap.body_prefix.startswith(b'{"signedRequestToken":"ey')
    else:
        rewrap = find(requests, "POST", "/kas.AccessService/Rewrap")
        assert rewrap.header("Content-Type") == "application/proto"
    assert rewrap.header("Authorization") == f"Bearer {STUB_TOKEN}"


@dataclass(frozen=True)
class ForeignKas:
    platform: StubServer
    kas: StubServer
    ct: Path


@pytest.fixture(scope="module")
def foreign_kas(
    stub_keys: StubKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ForeignKas]:
    """A ZTDF whose KAO names a KAS that is not the platform's own."""
    maker = require_installed(Adapter("otdf-python", "0.11.0"))  # 0.9.0 ignores KASURL
    directory = tmp_path_factory.mktemp("foreign-kas")
    plaintext = directory / "plain.txt"
    plaintext.write_bytes(b"for a foreign KAS\n")
    with StubServer(keys=stub_keys) as platform, StubServer(keys=stub_keys) as kas:
        foreign = f"{kas.url}/kas"
        ct = directory / "ct.tdf"
        env = {**platform.env(), "KASURL": foreign, "XT_WITH_KAS_ALLOWLIST": foreign}
        made = maker.run("encrypt", plaintext, ct, "ztdf", env=env)
        assert made.returncode == 0, made.stderr
        find(kas.requests, "POST", "/kas.AccessService/PublicKey")
        yield ForeignKas(platform, kas, ct)


def test_kas_allowlist_decides_whether_a_foreign_kas_is_contacted(
    otdf_python: Adapter, foreign_kas: ForeignKas, tmp_path: Path
) -> None:
    """The foreign KAS is contacted only when the allowlist names it (both spellings of the
    variable are honoured, one per release to keep this fast) or the allowlist is ignored."""
    kas = foreign_kas.kas
    foreign = f"{kas.url}/kas"
    spelling = (
        "XT_WITH_KAS_ALLOWLIST" if otdf_python.version == "0.11.0" else "XT_WITH_KAS_ALLOW_LIST"
    )
    cases = {
        "default": {},
        spelling: {spelling: foreign},
        "XT_WITH_IGNORE_KAS_ALLOWLIST": {"XT_WITH_IGNORE_KAS_ALLOWLIST": "true"},
    }
    rewraps: dict[str, int] = {}
    for name, extra in cases.items():  # one at a time: requests are told apart by order
        before = len(kas.requests)
        env = {**foreign_kas.platform.env(), "KASURL": foreign, **extra}
        result = otdf_python.run(
            "decrypt", foreign_kas.ct, tmp_path / f"{name}.txt", "ztdf", env=env
        )
        assert result.returncode not in (0, 3), result.stderr
        made_now = kas.requests[before:]
        rewraps[name] = sum(r.path == "/kas.AccessService/Rewrap" for r in made_now)
    assert rewraps == {"default": 0, spelling: 1, "XT_WITH_IGNORE_KAS_ALLOWLIST": 1}
