"""Make a NanoTDF from a plaintext and a KAS's EC public key, the way the Go SDK does.

Defaults follow the Go SDK: GMAC binding, AES-256-GCM with a 96-bit tag, an encrypted
embedded policy, the ephemeral key on the KAS key's curve. A creator signature is added
when ``signer`` is given.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from xtdf.crypto import ec as xec
from xtdf.errors import UnsupportedError, UsageError
from xtdf.formats.nano.binding import ecdsa_binding, gmac_binding
from xtdf.formats.nano.container import NanoTDF
from xtdf.formats.nano.enums import CipherMode, Curve, PolicyMode
from xtdf.formats.nano.header import Header, Policy, PolicyKeyAccess
from xtdf.formats.nano.keys import derive_key, encrypt_policy
from xtdf.formats.nano.locator import ResourceLocator
from xtdf.formats.nano.payload import encrypt_payload
from xtdf.formats.nano.signature import sign

DEFAULT_TAG_BITS = 96


def policy_object(attributes: Iterable[str] = (), dissem: Iterable[str] = ()) -> dict[str, Any]:
    """The policy JSON shared with ZTDF: ``{uuid, body: {dataAttributes, dissem}}``."""
    return {
        "uuid": str(uuid.uuid4()),
        "body": {
            "dataAttributes": [{"attribute": a} for a in attributes],
            "dissem": list(dissem),
        },
    }


def _policy_bytes(policy: bytes | str | Mapping[str, Any] | None) -> bytes:
    if policy is None:
        policy = policy_object()
    if isinstance(policy, Mapping):
        return json.dumps(policy, separators=(",", ":")).encode()
    return policy.encode() if isinstance(policy, str) else bytes(policy)


def _ec_public(
    key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey, what: str
) -> ec.EllipticCurvePublicKey:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UsageError(f"{what} must be an EC public key for NanoTDF")
    xec.curve_name(key)
    return key


def encrypt(
    plaintext: bytes,
    *,
    kas_url: str,
    kas_public_key: ec.EllipticCurvePublicKey,
    kid: bytes | str = b"",
    policy: bytes | str | Mapping[str, Any] | None = None,
    policy_mode: str | PolicyMode = "encrypted",
    remote_policy_url: str | None = None,
    policy_kas_url: str | None = None,
    policy_kas_public_key: ec.EllipticCurvePublicKey | None = None,
    policy_kid: bytes | str = b"",
    binding: Literal["gmac", "ecdsa"] = "gmac",
    cipher_tag_bits: int = DEFAULT_TAG_BITS,
    signer: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """Encrypt ``plaintext`` for the KAS at ``kas_url``; return the NanoTDF bytes.

    ``policy`` is the JSON policy (a mapping, or its bytes); ``policy_mode`` one of
    ``remote`` (needs ``remote_policy_url``), ``plaintext``, ``encrypted`` or
    ``encrypted-policy-key-access`` (the policy key comes from ECDH with
    ``policy_kas_public_key``, by default the KAS key, and a second ephemeral key).
    """
    if binding not in ("gmac", "ecdsa"):
        raise UsageError(f"NanoTDF binding must be 'gmac' or 'ecdsa', not {binding!r}")
    kas_public_key = _ec_public(kas_public_key, "kas_public_key")
    curve = Curve.from_name(kas_public_key.curve.name)
    try:
        cipher = CipherMode.from_tag_bits(cipher_tag_bits)
        mode = PolicyMode.from_label(policy_mode)
    except UnsupportedError as exc:
        raise UsageError(str(exc)) from None

    ephemeral = xec.generate(curve.curve_name)
    key = derive_key(ephemeral, kas_public_key)
    body = _policy_bytes(policy)
    if len(body) + cipher.tag_size > 0xFFFF:
        raise UsageError(f"NanoTDF policy of {len(body)} bytes does not fit its 16-bit length")
    if mode is PolicyMode.REMOTE:
        if not remote_policy_url:
            raise UsageError("a remote NanoTDF policy needs remote_policy_url")
        header_policy = Policy(mode, remote=ResourceLocator.from_url(remote_policy_url))
    elif mode is PolicyMode.EMBEDDED_PLAINTEXT:
        header_policy = Policy(mode, body)
    elif mode is PolicyMode.EMBEDDED_ENCRYPTED:
        header_policy = Policy(mode, encrypt_policy(key, body, cipher.tag_size))
    else:
        pka_public = _ec_public(policy_kas_public_key or kas_public_key, "policy_kas_public_key")
        if pka_public.curve.name != kas_public_key.curve.name:
            raise UsageError("the policy KAS key must be on the same curve as the KAS key")
        pka_ephemeral = xec.generate(curve.curve_name)
        policy_key = derive_key(pka_ephemeral, pka_public)
        pka = PolicyKeyAccess(
            ResourceLocator.from_url(policy_kas_url or kas_url, policy_kid),
            xec.compress(pka_ephemeral.public_key()),
        )
        header_policy = Policy(
            mode, encrypt_policy(policy_key, body, cipher.tag_size), key_access=pka
        )

    covered = header_policy.bytes_for_binding()
    bound = ecdsa_binding(ephemeral, covered) if binding == "ecdsa" else gmac_binding(covered)
    header = Header(
        kas=ResourceLocator.from_url(kas_url, kid),
        curve=curve,
        ecdsa_binding=binding == "ecdsa",
        cipher=cipher,
        policy=header_policy,
        binding=bound,
        ephemeral_key=xec.compress(ephemeral.public_key()),
        has_signature=signer is not None,
        signature_curve=Curve.from_name(signer.curve.name) if signer is not None else 0,
    )
    payload = encrypt_payload(key, plaintext, cipher.tag_size)
    signature = None
    if signer is not None:
        signature = sign(signer, header.encode() + payload.encode())
    return NanoTDF(header, payload, signature).encode()
