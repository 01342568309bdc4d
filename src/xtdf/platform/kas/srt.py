"""The signed request token (SRT) of a rewrap: a compact JWS whose ``requestBody`` claim is
the JSON text of the request.

Behaviour follows the Go KAS (opentdf/platform ``service/kas/access/rewrap.go``): the token
is parsed first; ``exp``/``nbf``/``iat`` are checked with one minute of skew; when the call
carried a verified DPoP proof the signature must verify with that proof's key, with the
``alg`` its header names from the asymmetric allow-list; when it did not (a bearer token
that is not DPoP-bound) the Go KAS does not verify the signature at all, and neither do we.
A token that cannot be parsed or verified is ``unauthenticated``; a missing or non-string
``requestBody`` is ``invalid_argument``.

Verification is written on ``cryptography`` directly: it runs on every rewrap, and a parsed
DPoP key is cached by its thumbprint.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from xtdf.crypto.encoding import b64url_decode
from xtdf.errors import FormatError
from xtdf.platform.rpc import RpcError

#: accepted clock skew on the SRT's time claims (upstream ``DefaultUnsafeClockSkew``)
SKEW_S = 60

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
#: asymmetric JWS algorithms only, as upstream's ``srtSignatureAlgorithms``
ALGORITHMS = frozenset(f"{k}{b}" for k in ("RS", "PS", "ES") for b in ("256", "384", "512"))
_EC_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}

VerifyKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class SrtError(RpcError):
    """The SRT was refused; ``code`` says how the Go KAS answers it."""


@dataclass(frozen=True)
class Srt:
    header: dict[str, Any]
    claims: dict[str, Any]
    request_body: str
    signing_input: bytes
    signature: bytes


def _b64json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part))  # the error below names the part
    except (FormatError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the parser goes is not JSON we take
        raise SrtError("unauthenticated", f"could not parse token: {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise SrtError("unauthenticated", f"could not parse token: {what} is not an object")
    return value


def parse(token: str, now: float | None = None) -> Srt:
    """Split and decode the SRT and check its time claims; the signature is not checked."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise SrtError("unauthenticated", "could not parse token: not a compact JWS")
    header = _b64json(parts[0], "signed request token header")
    claims = _b64json(parts[1], "signed request token payload")
    try:
        signature = b64url_decode(parts[2], "signed request token signature")
    except FormatError as exc:
        raise SrtError("unauthenticated", f"could not parse token: {exc}") from None
    now = time.time() if now is None else now
    _check_times(claims, now)
    if "requestBody" not in claims:
        raise SrtError("invalid_argument", "missing request body")
    body = claims["requestBody"]
    if not isinstance(body, str):
        raise SrtError("invalid_argument", "invalid request body: requestBody is not a string")
    return Srt(header, claims, body, f"{parts[0]}.{parts[1]}".encode(), signature)


def _check_times(claims: dict[str, Any], now: float) -> None:
    def num(name: str) -> float | None:
        v = claims.get(name)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise SrtError("unauthenticated", f"could not parse token: {name} is not a number")
        return float(v)

    exp, nbf, iat = num("exp"), num("nbf"), num("iat")
    if exp is not None and now > exp + SKEW_S:
        raise SrtError("unauthenticated", "signed request token has expired (exp)")
    if nbf is not None and now < nbf - SKEW_S:
        raise SrtError("unauthenticated", "signed request token is not valid yet (nbf)")
    if iat is not None and now < iat - SKEW_S:
        raise SrtError("unauthenticated", "signed request token was issued in the future (iat)")


def _int(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise SrtError("unauthenticated", f"unable to verify request token: DPoP JWK {what}")
    return int.from_bytes(b64url_decode(value, f"jwk.{what}"), "big")


def jwk_public_key(jwk: dict[str, Any]) -> VerifyKey:
    """A public JWK (RSA or EC on P-256/384/521) as a ``cryptography`` key."""
    try:
        if jwk.get("kty") == "RSA":
            return rsa.RSAPublicNumbers(
                _int(jwk.get("e"), "e"), _int(jwk.get("n"), "n")
            ).public_key()
        if jwk.get("kty") == "EC" and jwk.get("crv") in _EC_CURVES:
            curve = _EC_CURVES[jwk["crv"]]()
            nums = ec.EllipticCurvePublicNumbers(
                _int(jwk.get("x"), "x"), _int(jwk.get("y"), "y"), curve
            )
            return nums.public_key()
    except (ValueError, FormatError) as exc:
        raise SrtError("unauthenticated", f"unable to verify request token: {exc}") from None
    raise SrtError("unauthenticated", "unable to verify request token: unsupported DPoP key type")


class KeyCache:
    """Parsed DPoP keys by thumbprint (bounded; a client keeps its key for a session)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._keys: OrderedDict[str, VerifyKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, jkt: str | None, jwk: dict[str, Any]) -> VerifyKey:
        if jkt:
            with self._lock:
                key = self._keys.get(jkt)
                if key is not None:
                    self._keys.move_to_end(jkt)
                    return key
        key = jwk_public_key(jwk)
        if jkt:
            with self._lock:
                self._keys[jkt] = key
                while len(self._keys) > self._size:
                    self._keys.popitem(last=False)
        return key


def verify(srt: Srt, key: VerifyKey) -> None:
    """Check the SRT's signature with the caller's DPoP key; ``unauthenticated`` if not."""
    alg = srt.header.get("alg", "RS256")
    if alg not in ALGORITHMS:
        raise SrtError(
            "unauthenticated", f"unable to verify request token: unsupported algorithm {alg!r}"
        )
    digest = _HASHES[alg[2:]]()
    try:
        if alg.startswith("ES"):
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise InvalidSignature
            size = (key.curve.key_size + 7) // 8
            sig = srt.signature
            if len(sig) != 2 * size:
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
            )
            key.verify(der, srt.signing_input, ec.ECDSA(digest))
        else:
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidSignature
            pad = (
                padding.PKCS1v15()
                if alg.startswith("RS")
                else padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH)
            )
            key.verify(srt.signature, srt.signing_input, pad, digest)
    except InvalidSignature:
        raise SrtError(
            "unauthenticated",
            "unable to verify request token: signature does not verify with the DPoP key",
        ) from None
