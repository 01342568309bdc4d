"""NanoTDF encrypt -> derive key as a KAS would -> decrypt, across every option."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from xtdf.crypto import ec as xec
from xtdf.errors import PayloadTooLargeError, UnsupportedCurveError, UsageError
from xtdf.formats import nano
from xtdf.formats.nano.keys import POLICY_IV, gcm_nonce

CURVES = ("secp256r1", "secp384r1", "secp521r1")
KAS = "https://kas.example.com/kas"


@pytest.fixture(scope="module")
def kas_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: xec.generate(name) for name in CURVES}


def roundtrip(key: ec.EllipticCurvePrivateKey, plaintext: bytes, **options: object) -> nano.NanoTDF:
    data = nano.encrypt(plaintext, kas_url=KAS, kas_public_key=key.public_key(), **options)
    tdf = nano.parse(data)
    assert tdf.encode() == data
    sym = nano.derive_key_offline(tdf.header, key)
    assert nano.decrypt(data, sym) == plaintext
    return tdf


@pytest.mark.parametrize("bits", [64, 96, 104, 112, 120, 128])
def test_every_cipher_mode(kas_keys, bits: int):
    tdf = roundtrip(kas_keys["secp256r1"], b"tag test", cipher_tag_bits=bits)
    assert tdf.header.cipher.tag_bits == bits and len(tdf.payload.tag) == bits // 8


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("binding", ["gmac", "ecdsa"])
def test_every_curve_and_binding(kas_keys, curve: str, binding: str):
    tdf = roundtrip(kas_keys[curve], b"curves", binding=binding)
    h = tdf.header
    assert h.curve.curve_name == curve and h.ecdsa_binding == (binding == "ecdsa")
    assert len(h.ephemeral_key) == xec.compressed_size(curve)
    nano.verify_policy_binding(h, nano.derive_key_offline(h, kas_keys[curve]))


def test_default_is_go_default(kas_keys):
    """Go SDK defaults: GMAC binding, 96-bit tag, encrypted policy, P-256, no signature."""
    h = roundtrip(kas_keys["secp256r1"], b"x").header
    assert not h.ecdsa_binding and h.cipher.tag_bits == 96 and not h.has_signature
    assert h.policy.mode is nano.PolicyMode.EMBEDDED_ENCRYPTED


@pytest.mark.parametrize("mode", ["plaintext", "encrypted", "encrypted-policy-key-access"])
def test_embedded_policy_modes(kas_keys, mode: str):
    key = kas_keys["secp384r1"]
    policy = nano.policy_object(["https://example.com/attr/a/value/b"])
    tdf = roundtrip(key, b"policy", policy=policy, policy_mode=mode, binding="ecdsa")
    h = tdf.header
    if mode == "encrypted-policy-key-access":
        assert h.policy.key_access is not None and h.policy.key_access.locator.url == KAS
        policy_key = nano.derive_policy_key_offline(h, key)
    else:
        policy_key = nano.derive_key_offline(h, key)
    assert nano.read_policy(h, policy_key) == policy
    nano.verify_policy_binding(h, policy_key)


def test_plaintext_policy_is_readable_json(kas_keys):
    policy = nano.policy_object(["https://example.com/attr/a/value/b"], ["x@example.com"])
    h = roundtrip(kas_keys["secp256r1"], b"p", policy=policy, policy_mode="plaintext").header
    assert json.loads(h.policy.content) == policy
    assert set(policy) == {"uuid", "body"}
    assert set(policy["body"]) == {"dataAttributes", "dissem"}


def test_remote_policy(kas_keys):
    tdf = roundtrip(
        kas_keys["secp256r1"], b"r", policy_mode="remote", remote_policy_url="https://p/pol/1"
    )
    assert tdf.header.policy.remote is not None
    assert tdf.header.policy.remote.url == "https://p/pol/1"
    with pytest.raises(UsageError, match="remote_policy_url"):
        nano.encrypt(
            b"",
            kas_url=KAS,
            kas_public_key=kas_keys["secp256r1"].public_key(),
            policy_mode="remote",
        )


def test_encrypted_policy_uses_payload_key_and_zero_iv(kas_keys):
    """Go SDK and KAS: the policy is AES-GCM under the payload key, IV = 12 zero bytes."""
    from xtdf.crypto.symmetric import gcm_decrypt

    key = kas_keys["secp256r1"]
    policy = b'{"uuid":"1","body":{"dataAttributes":[],"dissem":[]}}'
    h = roundtrip(key, b"z", policy=policy, cipher_tag_bits=128).header
    sym = nano.derive_key_offline(h, key)
    assert gcm_decrypt(sym, POLICY_IV, h.policy.content) == policy
    assert len(h.policy.content) == len(policy) + 16


def test_payload_nonce_is_iv_after_nine_zero_bytes(kas_keys):
    from xtdf.crypto.symmetric import gcm_decrypt

    key = kas_keys["secp256r1"]
    tdf = roundtrip(key, b"nonce", cipher_tag_bits=128)
    sym = nano.derive_key_offline(tdf.header, key)
    nonce = gcm_nonce(tdf.payload.iv)
    assert nonce == bytes(9) + tdf.payload.iv and any(tdf.payload.iv)
    assert gcm_decrypt(sym, nonce, tdf.payload.ciphertext + tdf.payload.tag) == b"nonce"


def test_key_derivation_is_hkdf_with_l1l_salt(kas_keys):
    key = kas_keys["secp256r1"]
    h = roundtrip(key, b"k").header
    shared = key.exchange(ec.ECDH(), xec.load_point("secp256r1", h.ephemeral_key))
    assert xec.NANO_V1_SALT.hex() == (
        "3de3ca1e50cf62d8b6aba603a96fca6761387a7ac86c3d3afe85ae2d1812edfc"
    )
    assert nano.derive_key_offline(h, key) == xec.hkdf_sha256(shared, xec.NANO_V1_SALT)


@pytest.mark.parametrize(
    ("kid", "size"),
    [(b"", 0), (b"k", 2), (b"r1", 2), (b"kid-0001", 8), (b"k" * 20, 32), (b"k" * 32, 32)],
)
def test_key_id_sizes(kas_keys, kid: bytes, size: int):
    h = roundtrip(kas_keys["secp256r1"], b"kid", kid=kid).header
    assert len(h.kas.identifier) == size and h.kas.kid == kid


@pytest.mark.parametrize("size", [0, 1, 4096, 1 << 20])
def test_sizes(kas_keys, size: int):
    tdf = roundtrip(kas_keys["secp256r1"], bytes(size))
    assert tdf.payload.length == 3 + size + 12


def test_largest_plaintext_and_one_more(kas_keys):
    pub = kas_keys["secp256r1"].public_key()
    limit = nano.max_plaintext(8)
    assert limit == (1 << 24) - 1 - 3 - 8
    data = nano.encrypt(bytes(limit), kas_url=KAS, kas_public_key=pub, cipher_tag_bits=64)
    assert data[-(limit + 3 + 8 + 3) :][:3] == b"\xff\xff\xff"
    with pytest.raises(PayloadTooLargeError, match="too large"):
        nano.encrypt(bytes(limit + 1), kas_url=KAS, kas_public_key=pub, cipher_tag_bits=64)


def test_creator_signature(kas_keys):
    signer = xec.generate("secp521r1")
    tdf = roundtrip(kas_keys["secp256r1"], b"signed", signer=signer)
    assert tdf.header.has_signature and tdf.signature is not None
    assert tdf.header.signature_curve == nano.Curve.SECP521R1
    assert len(tdf.signature.public_key) == 67 and len(tdf.signature.signature) == 132


def test_go_style_short_ecdsa_scalars_verify():
    """Go writes r and s minimal-length; a binding with a leading zero trimmed still verifies."""
    from xtdf.formats.nano.binding import ecdsa_binding
    from xtdf.formats.nano.header import Header, Policy, join_ecdsa_binding, split_ecdsa_binding

    ephemeral = xec.generate("secp256r1")
    content = b'{"uuid":"go"}'
    for _ in range(4000):  # about 1 in 128 signatures has a leading zero byte in r or s
        r, s = split_ecdsa_binding(ecdsa_binding(ephemeral, content), nano.Curve.SECP256R1)
        if r[0] == 0 or s[0] == 0:
            break
    else:
        raise AssertionError("no ECDSA scalar with a leading zero byte in 4000 signatures")
    header = Header(
        kas=nano.ResourceLocator.from_url(KAS),
        curve=nano.Curve.SECP256R1,
        ecdsa_binding=True,
        cipher=nano.CipherMode.AES_256_GCM_96,
        policy=Policy(nano.PolicyMode.EMBEDDED_PLAINTEXT, content),
        binding=join_ecdsa_binding(r.lstrip(b"\0"), s.lstrip(b"\0")),
        ephemeral_key=xec.compress(ephemeral.public_key()),
    )
    assert len(header.binding) < 2 + 64
    nano.verify_policy_binding(header)
    assert nano.parse_header(header.encode())[0] == header


def test_wrong_curve_kas_key_is_refused(kas_keys):
    h = roundtrip(kas_keys["secp256r1"], b"c").header
    with pytest.raises(UnsupportedCurveError, match="header uses secp256r1"):
        nano.derive_key_offline(h, kas_keys["secp384r1"])


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"binding": "hmac"}, UsageError),
        ({"policy_mode": "secret"}, UsageError),
        ({"cipher_tag_bits": 100}, UsageError),
        ({"kid": b"x" * 33}, UsageError),
    ],
)
def test_bad_options(kas_keys, options: dict, error: type[Exception]):
    with pytest.raises(error):
        nano.encrypt(b"", kas_url=KAS, kas_public_key=kas_keys["secp256r1"].public_key(), **options)
