"""KAS keys: root-key wrapping, default keys, imports (extra-keys.json), legacy keys."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xtdf.crypto import ec as ec_crypto
from xtdf.crypto import rsa as rsa_crypto
from xtdf.crypto.keys import load_public_pem, private_pem, public_pem
from xtdf.errors import FormatError, KeyAccessError, PayloadDecryptError
from xtdf.platform.policy.keys import ROOT_KEY_FILE, KeyStore, RootKey
from xtdf.platform.store import Database

KAS_URI = "http://localhost:8080/kas"


@pytest.fixture
def platform(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(
        db=Database(tmp_path / "state" / "xtdf.db"), state_dir=tmp_path / "state"
    )


@pytest.fixture
def keys(platform: SimpleNamespace) -> KeyStore:
    store = KeyStore.for_platform(platform)
    store.bootstrap("default", KAS_URI)
    return store


def test_root_key_round_trip_and_tamper(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    root = RootKey.load_or_create(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    wrapped = root.wrap(b"secret material")
    assert b"secret" not in wrapped.encode()
    assert RootKey.load_or_create(path).unwrap(wrapped) == b"secret material"
    raw = bytearray(base64.b64decode(wrapped))
    raw[-1] ^= 1
    with pytest.raises(PayloadDecryptError):
        root.unwrap(base64.b64encode(bytes(raw)).decode())
    other = RootKey(os.urandom(32))
    with pytest.raises(PayloadDecryptError):
        other.unwrap(wrapped)
    (tmp_path / "bad.key").write_text("zz")
    with pytest.raises(FormatError, match="hex"):
        RootKey.load_or_create(tmp_path / "bad.key")


def test_bootstrap_creates_default_keys_once(platform: SimpleNamespace, keys: KeyStore) -> None:
    recs = {r.kid: r for r in keys.keys("default")}
    assert {kid: r.alg for kid, r in recs.items()} == {"r1": "rsa:2048", "ec1": "ec:secp256r1"}
    again = keys.bootstrap("default", KAS_URI)
    assert {r.id for r in again} == {r.id for r in recs.values()}
    # a new key store over the same state (a restart) sees the same keys and root key
    restarted = KeyStore(platform.db, Path(platform.state_dir) / ROOT_KEY_FILE)
    r1 = restarted.private_key_for(KAS_URI, "r1")
    assert public_pem(r1) == recs["r1"].public_pem
    # the private halves are stored wrapped only
    rows = platform.db.query("SELECT wrapped_private FROM policy_kas_keys")
    assert rows and all("PRIVATE KEY" not in (r["wrapped_private"] or "") for r in rows)


def test_private_keys_open_what_public_keys_seal(keys: KeyStore) -> None:
    r1 = keys.active_key("default", "rsa:2048")
    secret = os.urandom(32)
    sealed = rsa_crypto.wrap(load_public_pem(r1.public_pem), secret)
    assert rsa_crypto.unwrap(keys.private_key_for("default", "r1"), sealed) == secret
    e1 = keys.active_key("default", "ec:secp256r1")
    eph = ec_crypto.generate()
    shared = ec_crypto.ecdh(eph, load_public_pem(e1.public_pem))
    assert ec_crypto.ecdh(keys.private_key_for("default", "ec1"), eph.public_key()) == shared


def test_unknown_kas_or_kid(keys: KeyStore) -> None:
    with pytest.raises(KeyAccessError, match="nope"):
        keys.private_key_for("default", "nope")
    with pytest.raises(KeyAccessError, match="elsewhere"):
        keys.private_key_for("http://elsewhere", "r1")
    with pytest.raises(KeyAccessError, match="rsa:4096"):
        keys.active_key("default", "rsa:4096")


def _self_signed(key: ec.EllipticCurvePrivateKey) -> str:
    import datetime

    from cryptography.hazmat.primitives import serialization

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kas")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_import_with_certificate_and_legacy_flag(keys: KeyStore) -> None:
    key = ec_crypto.generate("secp384r1")
    rec = keys.import_key("old-e", "ec:secp384r1", private_pem(key), _self_signed(key), legacy=True)
    assert rec.legacy and rec.alg == "ec:secp384r1"
    assert [r.kid for r in keys.legacy_keys("default")] == ["old-e"]
    assert keys.active_key("default", "ec:secp256r1").kid == "ec1"  # legacy keys never active
    assert public_pem(keys.private_key_for("default", "old-e")) == public_pem(key)


@pytest.mark.parametrize(
    ("alg", "cert_of", "match"),
    [
        ("ec:secp256r1", "same", "declared ec:secp256r1"),
        ("ec:secp384r1", "other", "does not match"),
        ("dsa:1024", "same", "unsupported algorithm"),
    ],
)
def test_import_rejects_inconsistent_keys(
    keys: KeyStore, alg: str, cert_of: str, match: str
) -> None:
    key = ec_crypto.generate("secp384r1")
    cert = _self_signed(key if cert_of == "same" else ec_crypto.generate("secp384r1"))
    with pytest.raises(Exception, match=match):
        keys.import_key("bad", alg, private_pem(key), cert)
    assert "bad" not in [r.kid for r in keys.keys("default")]


def test_import_extra_keys_json(keys: KeyStore, reference_dir: Path) -> None:
    path = reference_dir / "extra-keys.json"
    entries = json.loads(path.read_text())
    recs = keys.import_extra_keys(path, legacy=True)
    assert [(r.kid, r.alg, r.legacy) for r in recs] == [(e["kid"], e["alg"], True) for e in entries]
    first = entries[0]
    priv = keys.private_key_for(KAS_URI, first["kid"])
    assert public_pem(priv) == public_pem(load_public_pem(first["cert"]))
    with pytest.raises(Exception, match="already exists"):
        keys.import_extra_keys(path)


def test_import_extra_keys_format_errors(keys: KeyStore, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="privateKey"):
        keys.import_extra_keys([{"kid": "x", "alg": "rsa:2048"}])
    bad = tmp_path / "k.json"
    bad.write_text("{")
    with pytest.raises(FormatError, match="not JSON"):
        keys.import_extra_keys(bad)


def test_in_memory_platform_keeps_no_root_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = KeyStore.for_platform(SimpleNamespace(db=Database(":memory:")))
    store.bootstrap("default", KAS_URI)
    assert (
        public_pem(store.private_key_for("default", "ec1"))
        == store.record("default", "ec1").public_pem
    )
    assert list(tmp_path.iterdir()) == []


def test_instance_moved_to_new_port_keeps_its_keys(keys: KeyStore) -> None:
    before = {r.kid: r.public_pem for r in keys.keys("default")}
    moved = keys.bootstrap("default", "http://localhost:9999/kas/")
    assert {r.kid: r.public_pem for r in moved} == before
    assert {r.kas_uri for r in moved} == {"http://localhost:9999/kas"}
    with pytest.raises(KeyAccessError):
        keys.record(KAS_URI, "r1")  # the old URI is gone
    other = keys.bootstrap("value1", KAS_URI)  # a new instance may take the old URI
    assert {r.kid for r in other} == {"r1", "ec1"}
    assert {r.public_pem for r in other}.isdisjoint(before.values())


def test_active_key_stays_the_first_one(keys: KeyStore) -> None:
    keys.create_key("default", "r2", "rsa:2048")
    keys.create_key("default", "r0", "rsa:2048", legacy=True)
    assert keys.active_key("default", "rsa:2048").kid == "r1"
    assert keys.active_key("default", "RSA_2048").kid == "r1"


def test_a_state_made_with_the_former_ec_kid_keeps_it(platform: SimpleNamespace) -> None:
    """Before ec1 the default EC key was e1: such a state gets no second active EC key."""
    store = KeyStore.for_platform(platform)
    kas_id = store.ensure_kas("default", KAS_URI)
    store.create_key(kas_id, "r1", "rsa:2048")
    store.create_key(kas_id, "e1", "ec:secp256r1")
    store.bootstrap("default", KAS_URI)
    assert sorted(r.kid for r in store.keys("default")) == ["e1", "r1"]
    assert store.active_key("default", "ec:secp256r1").kid == "e1"
