"""Assertions: signing and verifying HS256 / RS256 bindings, key files, and JCS hashing."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization

from xtdf.errors import AssertionSignatureError, UsageError
from xtdf.formats import ztdf
from xtdf.formats.ztdf.assertions import (
    AssertionConfig,
    AssertionKey,
    AssertionVerificationKeys,
    assertion_hashes,
    canonical_json,
    load_assertion_configs,
    load_verification_keys,
)
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper
from xtdf.formats.ztdf.manifest import Statement

OBJECT_VALUE = {"ocl": {"pol": "62c76c68", "cls": "SECRET", "catl": [{"type": "P"}]}, "b": 1}


@pytest.fixture
def target(ztdf_rsa_key) -> KeyAccessTarget:
    return KeyAccessTarget("https://kas/kas", ztdf_rsa_key.public_key(), "r1")


@pytest.fixture
def unwrapper(ztdf_rsa_key) -> OfflineUnwrapper:
    return OfflineUnwrapper({"r1": ztdf_rsa_key})


def seal(target, configs, mode="4.3.0") -> bytes:
    out = io.BytesIO()
    ztdf.encrypt(
        io.BytesIO(b"payload"), out, key_access=[target], assertions=configs, target_mode=mode
    )
    return out.getvalue()


def open_tdf(blob, unwrapper, **kw) -> bytes:
    out = io.BytesIO()
    ztdf.decrypt(io.BytesIO(blob), out, unwrapper=unwrapper, **kw)
    return out.getvalue()


def jws_claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jws_header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def manifest_of(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return json.loads(z.read("0.manifest.json"))


@pytest.mark.parametrize("mode", ["4.3.0", "4.2.2"])
@pytest.mark.parametrize("value", ["plain text", OBJECT_VALUE])
def test_hs256_with_dek(target, unwrapper, mode, value):
    cfg = AssertionConfig(id="a1", statement=Statement(format="json", schema_="s", value=value))
    blob = seal(target, [cfg], mode)
    assert open_tdf(blob, unwrapper) == b"payload"
    a = manifest_of(blob)["assertions"][0]
    assert a["binding"]["method"] == "jws"
    assert jws_header(a["binding"]["signature"])["alg"] == "HS256"
    claims = jws_claims(a["binding"]["signature"])
    assert set(claims) == {"assertionHash", "assertionSig"}
    sig = base64.b64decode(claims["assertionSig"])
    seg_hashes = b"".join(
        base64.b64decode(s["hash"])
        for s in manifest_of(blob)["encryptionInformation"]["integrityInformation"]["segments"]
    )
    tail = (
        claims["assertionHash"].encode()
        if mode == "4.2.2"
        else bytes.fromhex(claims["assertionHash"])
    )
    assert sig == seg_hashes + tail


def test_object_value_is_hashed_as_go_and_java_do(target):
    """Written as a JSON object; hashed as its compact sorted JSON text (Go and Java agree)."""
    cfg = AssertionConfig(
        id="a1", statement=Statement(format="json", schema_="s", value=OBJECT_VALUE)
    )
    a = manifest_of(seal(target, [cfg]))["assertions"][0]
    assert isinstance(a["statement"]["value"], dict)
    as_text = json.dumps(a["statement"]["value"], separators=(",", ":"))  # file order (Java)
    doc = {
        "appliesToState": "encrypted",
        "id": "a1",
        "scope": "tdo",
        "statement": {"format": "json", "schema": "s", "value": as_text},
        "type": "handling",
    }
    expected = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    assert jws_claims(a["binding"]["signature"])["assertionHash"] == expected.hexdigest()


def test_rs256_with_supplied_verification_key(target, unwrapper, ztdf_other_rsa_key):
    cfg = AssertionConfig(
        id="rs",
        statement=Statement(format="string", value="v"),
        signing_key=AssertionKey("RS256", ztdf_other_rsa_key),
    )
    blob = seal(target, [cfg])
    token = manifest_of(blob)["assertions"][0]["binding"]["signature"]
    assert jws_header(token)["alg"] == "RS256"
    public = ztdf_other_rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys = load_verification_keys({"keys": {"rs": {"alg": "RS256", "key": public.decode()}}})
    assert open_tdf(blob, unwrapper, assertion_keys=keys) == b"payload"
    # without the key the DEK is tried, and fails; skipping verification still decrypts
    with pytest.raises(AssertionSignatureError, match="'rs'"):
        open_tdf(blob, unwrapper)
    assert open_tdf(blob, unwrapper, verify_assertions=False) == b"payload"


def test_rs256_wrong_supplied_key(target, unwrapper, ztdf_other_rsa_key, ztdf_rsa_key):
    cfg = AssertionConfig(
        id="rs",
        statement=Statement(format="string", value="v"),
        signing_key=AssertionKey("RS256", ztdf_other_rsa_key),
    )
    keys = AssertionVerificationKeys({"rs": AssertionKey("RS256", ztdf_rsa_key.public_key())})
    with pytest.raises(AssertionSignatureError, match="does not verify"):
        open_tdf(seal(target, [cfg]), unwrapper, assertion_keys=keys)


def test_hs256_with_supplied_key_from_xtest_files(target, unwrapper, ztdf_other_rsa_key, tmp_path):
    """The JSON shapes upstream's xtest writes (conftest.py of opentdf/tests, xtest era)."""
    hs_key = base64.b64encode(b"k" * 32).decode()
    private = ztdf_other_rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        ztdf_other_rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    statement = {"format": "json+stanag5636", "schema": "urn:nato:stanag:5636:A:1:elements:json"}
    assertions = [
        {
            "appliesToState": "encrypted",
            "id": "assertion1",
            "scope": "tdo",
            "statement": {**statement, "value": '{"ocl":{"cls":"SECRET"}}'},
            "type": "handling",
            "signingKey": {"alg": "HS256", "key": hs_key},
        },
        {
            "appliesToState": "encrypted",
            "id": "assertion2",
            "scope": "tdo",
            "statement": {**statement, "value": '{"ocl":{"cls":"SECRET"}}'},
            "type": "handling",
            "signingKey": {"alg": "RS256", "key": private},
        },
    ]
    a_file = tmp_path / "assertions.json"
    a_file.write_text(json.dumps(assertions))
    k_file = tmp_path / "keys.json"
    k_file.write_text(
        json.dumps(
            {
                "keys": {
                    "assertion1": {"alg": "HS256", "key": hs_key},
                    "assertion2": {"alg": "RS256", "key": public},
                }
            }
        )
    )
    configs = load_assertion_configs(a_file)
    assert configs[0].signing_key == AssertionKey("HS256", hs_key.encode())  # the text's bytes
    blob = seal(target, configs)
    assert open_tdf(blob, unwrapper, assertion_keys=load_verification_keys(k_file)) == b"payload"
    with pytest.raises(AssertionSignatureError, match="assertion1"):
        open_tdf(blob, unwrapper)


def test_key_file_errors():
    with pytest.raises(UsageError):
        load_verification_keys({"keys": {"a": {"alg": "ES256", "key": "x"}}})
    with pytest.raises(UsageError):
        load_verification_keys({"keys": {"a": "not an object"}})
    with pytest.raises(UsageError):
        load_assertion_configs([{"statement": {}}])


def test_canonical_json_follows_rfc8785():
    # RFC 8785 section 3.2.3: properties sort by UTF-16 code units, not code points
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [k for k in json.loads(canonical_json(obj))]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonical_json({"b": [1, 2.0, None, True], "a": "x\n\u000f"}) == (
        '{"a":"x\\n\\u000f","b":[1,2,null,true]}'
    )


def test_golden_assertion_hash(reference_dir):
    """The Java golden's assertionHash is our JCS hash of its assertion."""
    with zipfile.ZipFile(reference_dir / "golden" / "no-splitids-java.tdf") as z:
        m = ztdf.read_manifest(reference_dir / "golden" / "no-splitids-java.tdf")
        raw = json.loads(z.read("0.manifest.json"))
    assert m.assertions is not None
    claims = jws_claims(raw["assertions"][0]["binding"]["signature"])
    assert claims["assertionHash"] in assertion_hashes(m.assertions[0])


def test_assertion_keys_as_a_plain_mapping(target, unwrapper, ztdf_other_rsa_key):
    cfg = AssertionConfig(
        id="rs",
        statement=Statement(format="string", value="v"),
        signing_key=AssertionKey("RS256", ztdf_other_rsa_key),
    )
    keys = {"rs": AssertionKey("RS256", ztdf_other_rsa_key.public_key())}
    assert open_tdf(seal(target, [cfg]), unwrapper, assertion_keys=keys) == b"payload"
