"""Talking to a KAS: its public keys, and rewrap requests and their answers.

Facts (opentdf/platform ``service/kas/kas.proto``, ``sdk/kas_client.go``): the Connect
service ``kas.AccessService`` lives at the KAS URL's origin (the path, e.g. ``/kas``, is
dropped). ``Rewrap`` takes ``{signedRequestToken}``: a JWT signed with the client's DPoP
key whose ``requestBody`` claim is the protojson text of an ``UnsignedRewrapRequest``
(``clientPublicKey`` plus ``requests[]``, each a policy and its key access objects).
The KAS answers per key access object; a wrapped key comes back RSA-OAEP-encrypted to an
RSA client key, or, for an EC client key, AES-GCM-encrypted (``nonce || ct || tag``)
under HKDF-SHA256(salt, ECDH(client key, ``sessionPublicKey``)), with salt SHA-256("TDF")
for ZTDF and SHA-256("L1L") for NanoTDF.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.client import jose
from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.errors import (
    AccessDeniedError,
    FormatError,
    IntegrityError,
    KeyAccessError,
    KeyUnwrapError,
    PlatformError,
    UnsupportedError,
)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def load_public_pem(pem: str | bytes) -> PublicKey:
    """A SubjectPublicKeyInfo PEM, or a certificate PEM.

    Only certificates need ``xtdf.crypto.keys`` (and its ``x509`` import, a large share of
    a small encrypt's start-up), so plain keys are loaded here directly.
    """
    data = pem.encode() if isinstance(pem, str) else pem
    if b"CERTIFICATE" in data:
        from xtdf.crypto.keys import load_public_pem as load_with_x509

        return load_with_x509(data)
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(data)
    except ValueError as exc:
        raise FormatError("not a valid PEM public key or certificate") from exc
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedError(f"unsupported public key type {type(key).__name__}")
    return key


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return (
        key.public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


#: algorithm names the KAS ``PublicKey`` RPC takes
RSA_2048 = "rsa:2048"
EC_P256 = "ec:secp256r1"

#: how long a signed request token is valid (the Go SDK uses one minute)
REQUEST_TOKEN_LIFETIME = 60


class KasRequestError(KeyAccessError):
    """The KAS refused to rewrap a key access object for a reason that is not tampering
    (an unknown key id, a malformed request): the Go SDK's ``tdf: KAS request error``."""


class RewrapTamperError(KasRequestError, IntegrityError):
    """The KAS answered its generic ``bad request``: the policy, its binding or the wrapped
    key does not verify. The KAS says no more, so as not to leak anything about its key;
    the Go SDK reports this as ``[tamper detected] tdf: rewrap request 400``."""


@dataclass(frozen=True)
class KasKey:
    """One KAS public key as the KAS (or the policy service) describes it."""

    url: str
    kid: str
    pem: str
    algorithm: str

    def load(self) -> PublicKey:
        return load_public_pem(self.pem)


def connect_base(kas_url: str) -> str:
    """Where the KAS's Connect services live: its URL without the path."""
    try:
        parts = urlsplit(kas_url)
    except ValueError as exc:  # e.g. an unclosed "[" in a URL a file named
        raise PlatformError(f"not an http(s) KAS URL: {kas_url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PlatformError(f"not an http(s) KAS URL: {kas_url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def algorithm_of(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa:{key.key_size}"
    return f"ec:{key.curve.name}"


# -- request construction -------------------------------------------------------------


def key_access_message(kao: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest key access object as the protojson ``kas.KeyAccess`` the KAS expects."""
    msg: dict[str, Any] = {}
    for name in ("type", "url", "protocol", "kid", "sid", "encryptedMetadata"):
        value = kao.get(name)
        if isinstance(value, str) and value:
            msg[name] = value
    wrapped = kao.get("wrappedKey")
    if isinstance(wrapped, str) and wrapped:
        msg["wrappedKey"] = b64encode(b64decode(wrapped, "wrappedKey"))
    binding = kao.get("policyBinding")
    if isinstance(binding, str):
        msg["policyBinding"] = {"hash": binding}
    elif isinstance(binding, Mapping):
        msg["policyBinding"] = {
            "alg": str(binding.get("alg", "")),
            "hash": str(binding.get("hash", "")),
        }
    epk = kao.get("ephemeralPublicKey")
    if isinstance(epk, str) and epk:
        msg["ephemeralPublicKey"] = epk
    return msg


@dataclass
class PolicyRequest:
    """One entry of ``requests[]``: a policy and the key access objects bound to it."""

    policy_id: str
    policy_body: str
    #: (key access object id, protojson ``KeyAccess``)
    kaos: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    algorithm: str = ""

    def message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "keyAccessObjects": [
                {"keyAccessObjectId": kid, "keyAccessObject": kao} for kid, kao in self.kaos
            ],
            "policy": {"id": self.policy_id, "body": self.policy_body},
        }
        if self.algorithm:
            msg["algorithm"] = self.algorithm
        return msg


def unsigned_request(client_public_pem: str, requests: Sequence[PolicyRequest]) -> dict[str, Any]:
    """The ``UnsignedRewrapRequest``; with one KAO the deprecated single-KAO fields too,
    so that KASes that predate bulk rewrap understand it."""
    if not requests or not any(r.kaos for r in requests):
        raise KeyAccessError("rewrap request with no key access objects")
    body: dict[str, Any] = {
        "clientPublicKey": client_public_pem,
        "requests": [r.message() for r in requests],
    }
    if len(requests) == 1 and len(requests[0].kaos) == 1:
        body["keyAccess"] = requests[0].kaos[0][1]
        body["policy"] = requests[0].policy_body
        if requests[0].algorithm:
            body["algorithm"] = requests[0].algorithm
    return body


def signed_request_token(
    signing_key: jose.SigningKey, body: Mapping[str, Any], now: float | None = None
) -> str:
    """The JWT carrying the request body, signed with the client's DPoP key."""
    issued = int(time.time() if now is None else now)
    claims = {
        "requestBody": json.dumps(body, separators=(",", ":")),
        "iat": issued,
        "exp": issued + REQUEST_TOKEN_LIFETIME,
    }
    return jose.sign(signing_key, claims, {"typ": "JWT"})


# -- response handling ----------------------------------------------------------------


SessionKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def one_line(text: str) -> str:
    """KAS errors may span lines (Go's wrapped errors); the CLI reports on one."""
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


#: the KAS's answer for failures involving its key material (opentdf/platform
#: ``sdk/tdferrors.go`` ``kasGenericBadRequest``), anchored to the gRPC description
GENERIC_BAD_REQUEST = "desc = bad request"


def refusal(kas_url: str, kao_id: str, error: str) -> KeyAccessError:
    """The typed error for a KAS's refusal text, classified as the Go SDK does
    (``getKasErrorToReturn``): invalid argument with the generic description is possible
    tampering, other invalid arguments a request error, permission denied a denial."""
    error = one_line(error)
    low = error.lower()
    if "forbidden" in low or "permission" in low or "denied" in low:
        return AccessDeniedError(f"KAS {kas_url} denied access to {kao_id}: {error}")
    invalid = "invalidargument" in low or "invalid_argument" in low
    if (invalid and GENERIC_BAD_REQUEST in low) or low == "bad request":
        return RewrapTamperError(
            f"rewrap refused: KAS {kas_url} answered bad request for {kao_id}: the policy, "
            f"its policy binding or the wrapped key was altered [{error}]"
        )
    return KasRequestError(f"KAS request error: {kas_url} refused {kao_id}: {error}")


def unwrap_response(
    response: Mapping[str, Any],
    session_key: SessionKey,
    salt: bytes,
    kas_url: str = "KAS",
) -> dict[str, bytes | KeyAccessError]:
    """Map each key access object id to its key, or to the reason it has none."""
    results: dict[str, bytes | KeyAccessError] = {}
    entries = response.get("responses") or []
    if not entries and response.get("entityWrappedKey"):  # a pre-bulk KAS
        entries = [
            {
                "results": [
                    {
                        "keyAccessObjectId": "",
                        "status": "permit",
                        "kasWrappedKey": response["entityWrappedKey"],
                    }
                ]
            }
        ]
    aes_key: bytes | None = None
    if isinstance(session_key, ec.EllipticCurvePrivateKey):
        spk = response.get("sessionPublicKey")
        if not isinstance(spk, str) or not spk:
            raise KeyAccessError(f"KAS {kas_url} sent no sessionPublicKey for an EC session key")
        from xtdf.crypto import ec as xec

        peer = load_public_pem(spk)
        if not isinstance(peer, ec.EllipticCurvePublicKey):
            raise KeyAccessError(f"KAS {kas_url} sessionPublicKey is not an EC key")
        aes_key = xec.derive_key(session_key, peer, salt)
    for policy_result in entries:
        for result in policy_result.get("results") or []:
            kao_id = str(result.get("keyAccessObjectId", ""))
            if result.get("status") != "permit":
                err = str(result.get("error") or result.get("status") or "no reason given")
                results[kao_id] = refusal(kas_url, kao_id or "the key", err)
                continue
            try:
                wrapped = b64decode(str(result.get("kasWrappedKey", "")), "kasWrappedKey")
                results[kao_id] = _unwrap_one(session_key, aes_key, wrapped)
            except (FormatError, KeyUnwrapError) as exc:
                results[kao_id] = KeyUnwrapError(f"KAS {kas_url} answer for {kao_id}: {exc}")
    return results


def _unwrap_one(session_key: SessionKey, aes_key: bytes | None, wrapped: bytes) -> bytes:
    if aes_key is None:
        from xtdf.crypto import rsa as xrsa

        assert isinstance(session_key, rsa.RSAPrivateKey)
        return xrsa.unwrap(session_key, wrapped)
    from xtdf.crypto.symmetric import GCM_IV_SIZE, gcm_decrypt
    from xtdf.errors import PayloadDecryptError

    try:
        return gcm_decrypt(aes_key, wrapped[:GCM_IV_SIZE], wrapped[GCM_IV_SIZE:])
    except PayloadDecryptError as exc:
        raise KeyUnwrapError("rewrapped key does not decrypt under the session key") from exc


def session_public_pem(session_key: SessionKey) -> str:
    return public_pem(session_key)
