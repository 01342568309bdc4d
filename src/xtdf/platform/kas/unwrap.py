"""From a ZTDF key access object to its key share, with the KAS's own private keys.

Key choice: the key named by ``kid``; when the kid is empty or unknown here, each legacy
key of the right kind in turn (RSA for ``wrapped``, EC on the ephemeral key's curve for
``ec-wrapped``) until one unwraps, so files written before a key rotation or with no kid
(upstream's key-management golden) still open. Failures that involve secret key material
(an unwrap or a binding mismatch) answer the generic "bad request" the Go KAS answers, so
the caller learns nothing about the key; the audit reason says exactly what failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto.keys import load_public_pem
from xtdf.errors import FormatError, KeyUnwrapError, PolicyBindingError, XtdfError
from xtdf.formats.ztdf import keywrap
from xtdf.platform.kas.keyring import KasKey, KeyRing
from xtdf.platform.kas.request import KaoRequest

WRAPPED = "wrapped"
EC_WRAPPED = "ec-wrapped"

_GRPC_NAMES = {
    "invalid_argument": "InvalidArgument",
    "permission_denied": "PermissionDenied",
    "internal": "Internal",
    "not_found": "NotFound",
}
#: the generic answer for failures involving secret key material (upstream's wording,
#: which SDKs match to report possible tampering)
BAD_REQUEST = "bad request"


class KaoFailure(Exception):
    """One key access object refused: ``code`` and ``desc`` go to the caller, ``reason`` to
    the audit log."""

    def __init__(self, code: str, desc: str, reason: str | None = None) -> None:
        super().__init__(reason or desc)
        self.code = code
        self.desc = desc
        self.reason = reason or desc

    @property
    def error_text(self) -> str:
        """The per-object ``error`` string, shaped as the Go KAS's (connect + gRPC status)."""
        status = f"rpc error: code = {_GRPC_NAMES[self.code]} desc = {self.desc}"
        return f"{self.code}: request error\n{status}"


@dataclass(frozen=True)
class Unwrapped:
    share: bytes
    kid: str


def _candidates(ring: KeyRing, instance: str, kao: KaoRequest, curve: str | None) -> list[KasKey]:
    named = ring.private_key(instance, kao.kid) if kao.kid else None
    if named is not None:
        if not named.fits(kao.key_type, curve):
            raise KaoFailure(
                "invalid_argument",
                f"key {kao.kid} cannot unwrap a {kao.key_type} key",
                f"kid {kao.kid!r} is a {named.alg} key; it cannot unwrap {kao.key_type}",
            )
        return [named]
    legacy = [k for k in ring.legacy_keys(instance) if k.fits(kao.key_type, curve)]
    if not legacy:
        what = f"kid {kao.kid!r} is unknown" if kao.kid else "no kid"
        raise KaoFailure(
            "invalid_argument",
            "key not found",
            f"{what} at KAS {instance!r} and it has no legacy {kao.key_type} key",
        )
    return legacy


def _ephemeral_curve(kao: KaoRequest) -> str:
    if not kao.ephemeral_public_key:
        raise KaoFailure(
            "invalid_argument",
            "invalid ephemeral public key",
            "ec-wrapped KAO has no ephemeralPublicKey",
        )
    try:
        key = load_public_pem(kao.ephemeral_public_key)
    except XtdfError as exc:
        raise KaoFailure(
            "invalid_argument", "invalid ephemeral public key PEM", f"ephemeralPublicKey: {exc}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KaoFailure(
            "invalid_argument", "ephemeral key is not EC", "ephemeralPublicKey is not an EC key"
        )
    return key.curve.name


def unwrap(ring: KeyRing, instance: str, kao: KaoRequest) -> Unwrapped:
    """The share inside ``kao``; :class:`KaoFailure` when it cannot be had."""
    if kao.key_type not in (WRAPPED, EC_WRAPPED):
        raise KaoFailure(
            "invalid_argument", "unsupported key type", f"unsupported key type {kao.key_type!r}"
        )
    if not kao.wrapped_key:
        raise KaoFailure("invalid_argument", "wrapped key is empty")
    curve = _ephemeral_curve(kao) if kao.key_type == EC_WRAPPED else None
    failures = []
    for key in _candidates(ring, instance, kao, curve):
        try:
            if isinstance(key.private, rsa.RSAPrivateKey):
                share = keywrap.rsa_unwrap(key.private, kao.wrapped_key)
            else:
                assert isinstance(key.private, ec.EllipticCurvePrivateKey)
                share = keywrap.ec_unwrap(key.private, kao.wrapped_key, kao.ephemeral_public_key)
        except (KeyUnwrapError, FormatError) as exc:
            failures.append(f"{key.kid}: {exc}")
            continue
        return Unwrapped(share, key.kid)
    raise KaoFailure("invalid_argument", BAD_REQUEST, "unwrap failed with " + "; ".join(failures))


def verify_binding(share: bytes, policy_body: str, kao: KaoRequest) -> None:
    """The policy binding must be the HMAC of the policy under this share: checked before
    anything derived from the share leaves the KAS."""
    if kao.binding_hash is None:
        raise KaoFailure("invalid_argument", "missing policy binding")
    try:  # the Go KAS ignores ``alg``: HS256 is the only binding a ZTDF KAO has
        keywrap.verify_policy_binding(share, policy_body, kao.binding_hash)
    except PolicyBindingError as exc:
        raise KaoFailure("invalid_argument", BAD_REQUEST, f"policy binding: {exc}") from None
