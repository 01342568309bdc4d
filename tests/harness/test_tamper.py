"""The matrix's tamper helpers, on real files: each damages exactly its target, leaves the
shared ciphertext alone, and is caught by the integrity check it aims at.

``make xtest`` runs these helpers against every SDK; here our own reader, with real keys,
says which check each one trips, so a helper that silently stopped tampering (and made its
cells refuse for some other reason, or not at all) fails here first.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from xtdf.crypto import ec as xec
from xtdf.crypto import rsa as xrsa
from xtdf.errors import (
    AssertionSignatureError,
    IntegrityError,
    PolicyBindingError,
    RootSignatureError,
    SegmentIntegrityError,
)
from xtdf.formats import nano, ztdf
from xtdf.formats.ztdf import AssertionConfig, Statement
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper
from xtdf.harness import tamper

PLAINTEXT = bytes(range(256)) * 40  # 10 KiB: three segments of 4 KiB


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return xrsa.generate(2048)


@pytest.fixture(scope="module")
def original(key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tamper") / "original.tdf"
    ztdf.encrypt(
        io.BytesIO(PLAINTEXT),
        path,
        key_access=[KeyAccessTarget("http://kas.example/kas", key.public_key(), "r1")],
        attributes=["https://example.com/attr/a/value/b"],
        segment_size=4096,
        assertions=[
            AssertionConfig(id="a1", statement=Statement(format="json", schema_="s", value="v"))
        ],
    )
    return path


def _decrypt(path: Path, key: rsa.RSAPrivateKey) -> bytes:
    out = io.BytesIO()
    ztdf.decrypt(path, out, unwrapper=OfflineUnwrapper({"r1": key}))
    return out.getvalue()


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _manifest_diff(a: Any, b: Any, where: str = "") -> set[str]:
    """The JSON paths at which two manifests differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for k in a.keys() | b.keys():
            out |= _manifest_diff(a.get(k), b.get(k), f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out |= _manifest_diff(x, y, f"{where}[{i}]")
        return out
    return set() if a == b else {where}


EI = ".encryptionInformation"
II = f"{EI}.integrityInformation"
CASES: dict[str, tuple[Callable[[Path, Path], Path], type[IntegrityError], set[str], bool]] = {
    # helper: (function, what our reader raises, manifest paths changed, payload changed)
    "policy": (tamper.change_policy, PolicyBindingError, {f"{EI}.policy"}, False),
    "policy-binding": (
        tamper.change_policy_binding,
        PolicyBindingError,
        {f"{EI}.keyAccess[0].policyBinding.hash"},
        False,
    ),
    "segment-hash": (
        tamper.change_segment_hash,
        RootSignatureError,
        {f"{II}.segments[0].hash"},
        False,
    ),
    "root-signature": (
        tamper.change_root_signature,
        RootSignatureError,
        {f"{II}.rootSignature.sig"},
        False,
    ),
    "segment-size": (
        tamper.change_segment_size,
        SegmentIntegrityError,
        {f"{II}.encryptedSegmentSizeDefault"}
        | {f"{II}.segments[{i}].encryptedSegmentSize" for i in range(3)},
        False,
    ),
    "payload-byte": (tamper.flip_payload_byte, SegmentIntegrityError, set(), True),
    "payload-truncated": (tamper.truncate_payload, SegmentIntegrityError, set(), True),
    "assertion-statement": (
        tamper.change_assertion_statement,
        AssertionSignatureError,
        {".assertions[0].statement.value"},
        False,
    ),
    "assertion-binding": (
        tamper.drop_assertion_binding,
        AssertionSignatureError,
        {".assertions[0].binding"},
        False,
    ),
}


def test_the_original_decrypts(original: Path, key: rsa.RSAPrivateKey) -> None:
    assert _decrypt(original, key) == PLAINTEXT
    ii = tamper.manifest_of(original)["encryptionInformation"]["integrityInformation"]
    assert len(ii["segments"]) == 3


@pytest.mark.parametrize("how", sorted(CASES))
def test_each_helper_hits_its_target_and_only_it(
    how: str, original: Path, key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    fn, error, changed, payload_changed = CASES[how]
    before = original.read_bytes()
    bad = fn(original, tmp_path / f"{how}.tdf")
    assert original.read_bytes() == before, "the shared ciphertext must stay untouched"
    old, new = _entries(original), _entries(bad)
    assert old.keys() == new.keys()
    diff = _manifest_diff(json.loads(old[tamper.MANIFEST]), json.loads(new[tamper.MANIFEST]))
    assert diff == changed
    assert (old[tamper.PAYLOAD] != new[tamper.PAYLOAD]) is payload_changed
    out = tmp_path / f"{how}.out"
    with pytest.raises(error):
        ztdf.decrypt(bad, out, unwrapper=OfflineUnwrapper({"r1": key}))
    assert not out.exists(), "our reader must release nothing"


def test_policy_tamper_adds_an_attribute(original: Path, tmp_path: Path) -> None:
    import base64

    bad = tamper.change_policy(original, tmp_path / "p.tdf")
    policy = json.loads(base64.b64decode(tamper.manifest_of(bad)[EI[1:]]["policy"]))
    attrs = [a["attribute"] for a in policy["body"]["dataAttributes"]]
    assert attrs == ["https://example.com/attr/a/value/b", tamper.TAMPERED_ATTRIBUTE]


def test_payload_helpers_change_one_bit_or_the_last_byte(original: Path, tmp_path: Path) -> None:
    payload = _entries(original)[tamper.PAYLOAD]
    flipped = _entries(tamper.flip_payload_byte(original, tmp_path / "f.tdf"))[tamper.PAYLOAD]
    assert [i for i, (a, b) in enumerate(zip(payload, flipped, strict=True)) if a != b] == [20]
    assert payload[20] ^ flipped[20] == 0x01
    cut = _entries(tamper.truncate_payload(original, tmp_path / "t.tdf", remove=3))
    assert cut[tamper.PAYLOAD] == payload[:-3]


def test_change_manifest_field_applies_the_given_edit(original: Path, tmp_path: Path) -> None:
    def edit(m: dict[str, Any]) -> dict[str, Any]:
        m["payload"]["mimeType"] = "text/x-tampered"
        return m

    bad = tamper.change_manifest_field(original, tmp_path / "m.tdf", edit)
    assert tamper.manifest_of(bad)["payload"]["mimeType"] == "text/x-tampered"


@pytest.mark.parametrize("offset", [-1, -20])
def test_flip_nano_byte_flips_one_bit_and_fails_authentication(offset: int, tmp_path: Path) -> None:
    kas = xec.generate("secp256r1")
    data = nano.encrypt(b"nano plaintext", kas_url="http://kas", kas_public_key=kas.public_key())
    src = tmp_path / "n.ntdf"
    src.write_bytes(data)
    bad = tamper.flip_nano_byte(src, tmp_path / "bad.ntdf", offset)
    assert src.read_bytes() == data
    damaged = bad.read_bytes()
    assert [i - len(data) for i in range(len(data)) if data[i] != damaged[i]] == [offset]
    header, _ = nano.parse_header(data)
    key = nano.derive_key_offline(header, kas)
    assert nano.decrypt(data, key) == b"nano plaintext"
    with pytest.raises(IntegrityError):
        nano.decrypt(damaged, key)
