"""The policy binding: what ties the policy in the header to the key a KAS releases.

Both the Go and the JS SDKs compute the "GMAC" binding as the last 8 bytes of SHA-256 of
the policy bytes (not a keyed GMAC: the reference vectors confirm it), and the ECDSA
binding as an ECDSA-SHA256 signature of the policy bytes by the *ephemeral* private key,
verified with the header's ephemeral public key and stored as length-prefixed ``r`` and
``s``. Go writes minimal big-endian scalars, JS full-width ones; we write full width and
accept both.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from xtdf.errors import PayloadDecryptError, PolicyBindingError
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.header import (
    GMAC_BINDING_SIZE,
    Header,
    is_empty_ecdsa_binding,
    join_ecdsa_binding,
    policy_bytes_for_binding,
    split_ecdsa_binding,
)
from xtdf.formats.nano.keys import decrypt_policy, load_ephemeral

_ECDSA = ec.ECDSA(hashes.SHA256())


def gmac_binding(policy_bytes: bytes) -> bytes:
    return sha256(policy_bytes).digest()[-GMAC_BINDING_SIZE:]


def ecdsa_binding(ephemeral_private_key: ec.EllipticCurvePrivateKey, policy_bytes: bytes) -> bytes:
    der = ephemeral_private_key.sign(policy_bytes, _ECDSA)
    r, s = decode_dss_signature(der)
    width = Curve.from_name(ephemeral_private_key.curve.name).scalar_size
    return join_ecdsa_binding(r.to_bytes(width, "big"), s.to_bytes(width, "big"))


def binding_id(header: Header) -> str:
    """The string the Go KAS logs for a binding: hex of GMAC bytes, SHA-256 hex of r||s."""
    if not header.ecdsa_binding:
        return header.binding.hex()
    r, s = split_ecdsa_binding(header.binding, header.curve)
    return sha256(r + s).hexdigest()


EMPTY_BINDING_MESSAGE = (
    "NanoTDF ECDSA policy binding is empty (r and s are 0 bytes): the policy is not bound "
    "to the key, so the file is refused (older JS writers made such files)"
)


def require_binding(header: Header) -> None:
    """Refuse an empty ECDSA binding before anything else (a KAS request included): it
    cannot verify, and saying so beats a signature failure on ``r = s = 0``."""
    if is_empty_ecdsa_binding(header):
        raise PolicyBindingError(EMPTY_BINDING_MESSAGE)


def verify_policy_binding(header: Header, key: bytes | None = None) -> None:
    """Raise PolicyBindingError unless the binding matches the policy.

    ``key`` (the derived payload key, or the policy key for type 3) is optional: the binding
    itself is unkeyed, but with a key an encrypted policy must also pass its GCM tag, which
    is what actually ties the policy to the key.
    """
    require_binding(header)
    data = policy_bytes_for_binding(header)
    if header.ecdsa_binding:
        r, s = split_ecdsa_binding(header.binding, header.curve)
        public = load_ephemeral(header.curve, header.ephemeral_key)
        der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
        try:
            public.verify(der, data, _ECDSA)
        except InvalidSignature:
            raise PolicyBindingError(
                "NanoTDF ECDSA policy binding does not verify with the ephemeral key"
            ) from None
    elif not hmac.compare_digest(gmac_binding(data), header.binding):
        raise PolicyBindingError("NanoTDF GMAC policy binding does not match the policy")
    if key is not None and header.policy.mode.is_encrypted:
        try:
            decrypt_policy(header, key)
        except PayloadDecryptError as exc:
            raise PolicyBindingError(
                "NanoTDF encrypted policy does not authenticate under the derived key"
            ) from exc
