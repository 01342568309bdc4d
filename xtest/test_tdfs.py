"""Round trips, spec targets, manifest shape and tamper detection across every SDK pair."""

from __future__ import annotations

import base64
import filecmp
import json
from pathlib import Path

import pytest
from filelock import FileLock

from xtdf.harness import limits, tamper
from xtdf.harness.cells import (
    require,
    require_container,
    select_target_mode,
    skip_unless_in_focus,
)
from xtdf.harness.ciphertexts import CipherTexts
from xtdf.harness.plugin import Harness
from xtdf.harness.refusals import Refusal
from xtdf.harness.schema import validate_manifest
from xtdf.harness.sdks import SDK


def _roundtrip_path(tmp_dir: Path, name: str) -> Path:
    return tmp_dir / f"{name}.untdf"


def test_tdf_roundtrip(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    container: str,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require_container(encrypt_sdk, container)
    require_container(decrypt_sdk, container)
    limits.xfail_if_known(request, "roundtrip", encrypt_sdk, decrypt_sdk, container)
    target = select_target_mode(encrypt_sdk, decrypt_sdk) if container.startswith("ztdf") else None
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, container, target_mode=target)
    rt = _roundtrip_path(tmp_dir, f"rt-{encrypt_sdk}-{decrypt_sdk}-{container}")
    decrypt_sdk.decrypt(ct, rt, container)
    assert filecmp.cmp(pt_file, rt, shallow=False)
    if container.startswith("ztdf"):
        validate_manifest(tamper.manifest_of(ct))


def _hexed(value: str) -> bool:
    raw = base64.b64decode(value)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return False
    return all(c in "0123456789abcdef" for c in text) and len(text) % 2 == 0


@pytest.mark.parametrize("target_mode", ["4.2.2", "4.3.0"])
def test_spec_target_modes(
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    target_mode: str,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    if target_mode == "4.3.0":
        require(encrypt_sdk, "hexless")
        require(decrypt_sdk, "hexless")
    else:  # writing the legacy layout on request is what "hexaflexible" promises
        require(encrypt_sdk, "hexaflexible")
        require(decrypt_sdk, "hexaflexible")
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "ztdf", target_mode=target_mode)
    manifest = tamper.manifest_of(ct)
    validate_manifest(manifest)
    ii = manifest["encryptionInformation"]["integrityInformation"]
    hashes = [ii["rootSignature"]["sig"], *(s["hash"] for s in ii["segments"])]
    if target_mode == "4.3.0":
        assert manifest.get("schemaVersion") == "4.3.0"
        assert not any(_hexed(h) for h in hashes), "4.3.0 hashes must be raw base64"
    else:
        assert all(_hexed(h) for h in hashes), "4.2.2 hashes must be hex, then base64"
    rt = _roundtrip_path(tmp_dir, f"target-{target_mode}-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(ct, rt, "ztdf")
    assert filecmp.cmp(pt_file, rt, shallow=False)


def test_mime_type(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    pt_file: Path,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    skip_unless_in_focus(in_focus, encrypt_sdk)
    limits.xfail_if_known(request, "mime_type", encrypt_sdk, None)
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "ztdf", mime_type="text/csv")
    assert tamper.manifest_of(ct)["payload"]["mimeType"] == "text/csv"


ZTDF_TAMPERS = {
    "policy": tamper.change_policy,
    "policy-binding": tamper.change_policy_binding,
    "segment-hash": tamper.change_segment_hash,
    "root-signature": tamper.change_root_signature,
    "segment-size": tamper.change_segment_size,
    "payload-byte": tamper.flip_payload_byte,
    "payload-truncated": tamper.truncate_payload,
}


@pytest.mark.parametrize("how", sorted(ZTDF_TAMPERS))
def test_ztdf_tamper_detected(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    how: str,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    skip_unless_in_focus(in_focus, decrypt_sdk)
    limits.skip_if_unusable("roundtrip", encrypt_sdk, decrypt_sdk)
    limits.xfail_if_known(request, f"tamper:{how}", encrypt_sdk, decrypt_sdk)
    target = select_target_mode(encrypt_sdk, decrypt_sdk)
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "ztdf", target_mode=target)
    bad = ZTDF_TAMPERS[how](ct, tmp_dir / f"tampered-{how}-{encrypt_sdk}.tdf")
    rt = _roundtrip_path(tmp_dir, f"tampered-{how}-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(bad, rt, "ztdf", expect_error=Refusal.TAMPER)


@pytest.mark.parametrize(("how", "offset"), [("payload-tag", -1), ("payload-body", -20)])
def test_nano_tamper_detected(
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    how: str,
    offset: int,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    skip_unless_in_focus(in_focus, decrypt_sdk)
    require_container(encrypt_sdk, "nano")
    require_container(decrypt_sdk, "nano")
    limits.skip_if_unusable("roundtrip", encrypt_sdk, decrypt_sdk, "nano")
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "nano")
    bad = tamper.flip_nano_byte(ct, tmp_dir / f"tampered-{how}-{encrypt_sdk}.ntdf", offset)
    rt = _roundtrip_path(tmp_dir, f"tampered-{how}-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(bad, rt, "nano", expect_error=Refusal.TAMPER)


def _assertions(signing: dict | None = None) -> str:
    a = {
        "id": "assertion1",
        "type": "handling",
        "scope": "tdo",
        "appliesToState": "encrypted",
        "statement": {
            "format": "json+stanag5636",
            "schema": "urn:nato:stanag:5636:A:1:elements:json",
            "value": json.dumps({"ocl": {"dcr": "2024-10-21T20:47:36Z"}}),
        },
    }
    if signing:
        a["signingKey"] = signing
    return json.dumps([a])


#: HS256 keys are the UTF-8 bytes of the string (upstream's verification-keys file)
HS256_KEY = "xtdf-assertion-hs256-key-0123456"
HS256_WRONG = "xtdf-assertion-hs256-key-6543210"


def _rsa_pem(path: Path) -> str:
    """An RSA key made once per machine and kept, so the assertions JSON (and with it the
    cache key of the ciphertexts signed with it) stays the same from run to run."""
    from xtdf.atomicfile import atomic_write
    from xtdf.crypto import rsa
    from xtdf.crypto.keys import private_pem

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.is_file():
            with atomic_write(path) as fh:
                fh.write(private_pem(rsa.generate(2048)).encode())
    return path.read_text()


def _public_pem(private: str) -> str:
    from xtdf.crypto.keys import load_private_pem, public_pem

    return public_pem(load_private_pem(private))


@pytest.fixture(scope="module")
def assertion_keys(harness: Harness) -> dict[str, tuple[dict, dict, dict]]:
    """alg -> (signing key, matching verification key, a wrong verification key)."""
    keys = harness.root / ".xtdf" / "keys"
    rsa_pem = _rsa_pem(keys / "assertion-rs256.pem")
    other_pem = _rsa_pem(keys / "assertion-rs256-other.pem")
    return {
        "HS256": (
            {"alg": "HS256", "key": HS256_KEY},
            {"alg": "HS256", "key": HS256_KEY},
            {"alg": "HS256", "key": HS256_WRONG},
        ),
        "RS256": (
            {"alg": "RS256", "key": rsa_pem},
            {"alg": "RS256", "key": _public_pem(rsa_pem)},
            {"alg": "RS256", "key": _public_pem(other_pem)},
        ),
    }


def _keys_file(path: Path, key: dict) -> str:
    path.write_text(json.dumps({"keys": {"assertion1": key}}))
    return str(path)


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_assertions_signed_and_verified(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    alg: str,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
    assertion_keys: dict[str, tuple[dict, dict, dict]],
) -> None:
    """An assertion signed with an explicit key (upstream's assertions file) verifies with
    the matching key (upstream's verification-keys file), fails with another key, and
    decrypts with verification turned off."""
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require(encrypt_sdk, "assertions")
    require(decrypt_sdk, "assertion_verification")
    limits.xfail_if_known(request, "roundtrip", encrypt_sdk, decrypt_sdk, "ztdf")
    signing, verify, wrong = assertion_keys[alg]
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "ztdf", assert_value=_assertions(signing))
    (assertion,) = tamper.manifest_of(ct)["assertions"]
    header = assertion["binding"]["signature"].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"] == alg
    name = f"assert-{alg}-{encrypt_sdk}-{decrypt_sdk}"
    rt = _roundtrip_path(tmp_dir, name)
    decrypt_sdk.decrypt(ct, rt, "ztdf", assert_keys=_keys_file(tmp_dir / f"{name}.keys", verify))
    assert filecmp.cmp(pt_file, rt, shallow=False)
    wrong_keys = _keys_file(tmp_dir / f"{name}-wrong.keys", wrong)
    refused = _roundtrip_path(tmp_dir, f"{name}-wrong")
    decrypt_sdk.decrypt(ct, refused, "ztdf", assert_keys=wrong_keys, expect_error=Refusal.ASSERTION)
    unverified = _roundtrip_path(tmp_dir, f"{name}-unverified")
    decrypt_sdk.decrypt(ct, unverified, "ztdf", assert_keys=wrong_keys, verify_assertions=False)
    assert filecmp.cmp(pt_file, unverified, shallow=False)


@pytest.mark.parametrize("how", ["statement", "binding-removed"])
def test_assertion_tamper_detected(
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    how: str,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    skip_unless_in_focus(in_focus, decrypt_sdk)
    require(encrypt_sdk, "assertions")
    require(decrypt_sdk, "assertion_verification")
    limits.skip_if_unusable("roundtrip", encrypt_sdk, decrypt_sdk)
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "ztdf", assert_value=_assertions())
    rt = _roundtrip_path(tmp_dir, f"assert-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(ct, rt, "ztdf")
    assert filecmp.cmp(pt_file, rt, shallow=False)
    fn = tamper.change_assertion_statement if how == "statement" else tamper.drop_assertion_binding
    bad = fn(ct, tmp_dir / f"assert-{how}-{encrypt_sdk}.tdf")
    rt_bad = _roundtrip_path(tmp_dir, f"assert-{how}-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(bad, rt_bad, "ztdf", expect_error=Refusal.ASSERTION)


def test_kas_allowlist(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
) -> None:
    """A KAS outside the decryptor's allowlist is never asked; ignoring the list decrypts."""
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require(decrypt_sdk, "kasallowlist")
    limits.skip_if_unusable("roundtrip", encrypt_sdk, decrypt_sdk)
    limits.xfail_if_known(request, "allowlist", encrypt_sdk, decrypt_sdk)
    target = select_target_mode(encrypt_sdk, decrypt_sdk)
    ct = ciphertexts.encrypt(encrypt_sdk, pt_file, "ztdf", target_mode=target)
    elsewhere = "http://kas.invalid:9999/kas"
    refused = _roundtrip_path(tmp_dir, f"allowlist-refused-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(
        ct, refused, "ztdf", kasallowlist=elsewhere, expect_error=Refusal.KAS_NOT_ALLOWED
    )
    ignored = _roundtrip_path(tmp_dir, f"allowlist-ignored-{encrypt_sdk}-{decrypt_sdk}")
    decrypt_sdk.decrypt(ct, ignored, "ztdf", kasallowlist=elsewhere, ignore_kas_allowlist=True)
    assert filecmp.cmp(pt_file, ignored, shallow=False)
