"""Just enough JOSE for a client: compact JWS (ES256/RS256), public JWKs, RFC 7638 thumbprints.

Written on ``cryptography`` directly instead of a JOSE library because the CLI's start-up
time matters (every cross-SDK matrix cell starts a process) and the client only ever
*signs*: DPoP proofs (RFC 9449) and the KAS ``signedRequestToken``.
"""

from __future__ import annotations

import json
import os
import time
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from xtdf.crypto.encoding import b64url_encode
from xtdf.errors import UnsupportedError

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_EC_ALGS = {
    "secp256r1": ("ES256", "P-256", hashes.SHA256()),
    "secp384r1": ("ES384", "P-384", hashes.SHA384()),
}


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def algorithm(key: SigningKey) -> str:
    """The JWS ``alg`` this key signs with."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    try:
        return _EC_ALGS[key.curve.name][0]
    except KeyError:
        raise UnsupportedError(f"no JWS algorithm for curve {key.curve.name}") from None


def public_jwk(key: SigningKey) -> dict[str, str]:
    """The public half as a JWK with only the RFC 7638 required members."""
    if isinstance(key, rsa.RSAPrivateKey):
        nums = key.public_key().public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "n": b64url_encode(n), "e": b64url_encode(e)}
    if key.curve.name not in _EC_ALGS:
        raise UnsupportedError(f"no JWK curve name for {key.curve.name}")
    size = (key.curve.key_size + 7) // 8
    pub = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": _EC_ALGS[key.curve.name][1],
        "x": b64url_encode(pub.x.to_bytes(size, "big")),
        "y": b64url_encode(pub.y.to_bytes(size, "big")),
    }


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, no whitespace; base64url."""
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    return b64url_encode(sha256(_json({k: jwk[k] for k in required})).digest())


def sign(key: SigningKey, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """A compact JWS over ``claims``."""
    alg = algorithm(key)
    head = {"alg": alg, **(header or {})}
    signing_input = b64url_encode(_json(head)) + "." + b64url_encode(_json(claims))
    data = signing_input.encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_EC_ALGS[key.curve.name][2])))
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input + "." + b64url_encode(sig)


def htu(url: str) -> str:
    """The DPoP ``htu``: the request URL without query and fragment (RFC 9449 §4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def dpop_proof(
    key: SigningKey,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    path_only: bool = False,
) -> str:
    """One DPoP proof JWT for one HTTP request; ``ath`` binds it to the access token.

    ``path_only``: ``htu`` is the URL's path, as the Go SDK writes it for Connect calls (the
    RPC's procedure): the Go platform (service v0.13.0) compares a Connect call's ``htu``
    with the procedure alone and refuses the full URL."""
    claims: dict[str, Any] = {
        "jti": b64url_encode(os.urandom(16)),
        "htm": method.upper(),
        "htu": urlsplit(url).path if path_only else htu(url),
        "iat": int(time.time()),
    }
    if access_token:
        claims["ath"] = b64url_encode(sha256(access_token.encode("ascii")).digest())
    if nonce:
        claims["nonce"] = nonce
    return sign(key, claims, {"typ": "dpop+jwt", "jwk": public_jwk(key)})
