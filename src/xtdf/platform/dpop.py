"""DPoP proof verification (RFC 9449), shared by the IdP's token endpoint and the transports.

Checks follow the Go platform's ``service/internal/auth`` so that a proof it accepts we
accept and one it refuses we refuse: exactly one ``DPoP`` header; ``typ`` ``dpop+jwt``; an
asymmetric ``alg``; a *public* ``jwk`` in the header that verifies the signature; ``iat``
present and younger than the DPoP skew; ``htm`` equal to the request method; ``htu`` equal,
after RFC 3986 normalisation, to this request's URL (scheme http or https, query and
fragment ignored; a path-only ``htu`` only when ``strict_htu`` is off); ``ath`` when a token
is bound; ``jti`` never seen before within the skew window.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key
from joserfc.jws import JWSRegistry

from xtdf.crypto.encoding import b64url_encode
from xtdf.errors import AuthError

DPOP_TYP = "dpop+jwt"
#: only asymmetric algorithms, never ``none`` or HMAC (as upstream)
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]
#: an RSA-4096 JWK in the protected header is larger than joserfc's 512-byte default
_REGISTRY = JWSRegistry(algorithms=ALGORITHMS)
_REGISTRY.max_header_length = 8192
_REGISTRY.max_signature_length = 2048


class DPoPProofError(AuthError):
    """The DPoP proof is missing, malformed, or does not fit this request."""


@dataclass(frozen=True)
class Proof:
    jwk: dict[str, Any]
    #: RFC 7638 thumbprint of ``jwk``, base64url
    jkt: str
    claims: dict[str, Any]


class ReplayCache:
    """Remembers proof ``jti`` values for the acceptance window (RFC 9449 §11.1).

    Expired entries are dropped when the map has doubled since the last sweep, so a
    sweep costs O(1) per request on average even when every entry is still live.
    """

    #: size below which no sweep happens
    MIN_SWEEP = 10_000

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._seen: dict[str, float] = {}
        self._sweep_at = self.MIN_SWEEP
        self._lock = threading.Lock()

    def observe(self, jti: str, now: float | None = None) -> bool:
        """Record ``jti``; True when it was already seen (a replay)."""
        now = time.time() if now is None else now
        with self._lock:
            if len(self._seen) > self._sweep_at:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                self._sweep_at = max(self.MIN_SWEEP, 2 * len(self._seen))
            expiry = self._seen.get(jti)
            if expiry is not None and expiry > now:
                return True
            self._seen[jti] = now + self.ttl_s
            return False


def access_token_hash(token: str) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII bytes."""
    return b64url_encode(hashlib.sha256(token.encode("ascii", "replace")).digest())


def origins_for_host(host: str) -> list[str]:
    """``http://`` and ``https://`` origins of a Host header, default ports dropped."""
    return list(_origins_of(host))


@functools.lru_cache(maxsize=256)
def _origins_of(host: str) -> tuple[str, ...]:
    # a handful of Host values reach a server; parsing one is a few percent of a rewrap
    return tuple(_origin(scheme, host) for scheme in ("http", "https"))


def _origin(scheme: str, netloc: str) -> str:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        hostname = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return f"{scheme}://{netloc.lower()}"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        hostname += f":{port}"
    return f"{scheme}://{hostname}"


def _normalize_path(path: str) -> str:
    """Percent-decoding of unreserved characters, dot-segment removal; ``""`` -> ``/``."""
    path = path or "/"
    out: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "%" and _is_hex(path[i + 1 : i + 3]):  # two characters, or fewer at the end
            decoded = unquote(path[i : i + 3])
            if decoded.isascii() and (decoded.isalnum() or decoded in "-._~"):
                out.append(decoded)
            else:
                out.append("%" + path[i + 1 : i + 3].upper())
            i += 3
            continue
        out.append(ch)
        i += 1
    return _remove_dot_segments("".join(out))


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)


def _remove_dot_segments(path: str) -> str:
    segments: list[str] = []
    for seg in path.split("/")[1:] if path.startswith("/") else path.split("/"):
        if seg == ".":
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    trailing = path.endswith(("/.", "/.."))
    result = "/" + "/".join(segments)
    return result + "/" if trailing and not result.endswith("/") else result


@functools.lru_cache(maxsize=4096)
def normalize_htu(url: str) -> str | None:
    """Origin + normalised path of an absolute http(s) URL; None when it is not one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return None
    return _origin(scheme, parts.netloc) + _normalize_path(parts.path)


def htu_matches(received: str, acceptable: list[str], strict: bool) -> bool:
    try:
        parts = urlsplit(received)
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        if strict:
            return False
        path = _normalize_path(parts.path)
        return any(_normalize_path(urlsplit(a).path) == path for a in acceptable)
    got = normalize_htu(received)
    return got is not None and any(normalize_htu(a) == got for a in acceptable)


def verify_proof(
    headers: list[str],
    *,
    method: str,
    acceptable_urls: list[str],
    skew_s: float,
    replay: ReplayCache,
    strict_htu: bool = False,
    access_token: str | None = None,
    now: float | None = None,
) -> Proof:
    """Verify the request's ``DPoP`` header values; return the proof's key and claims."""
    if len(headers) != 1:
        raise DPoPProofError(f"expected exactly one DPoP header, got {len(headers)}")
    raw = headers[0].strip()
    try:
        obj = jws.extract_compact(raw.encode("ascii"), registry=_REGISTRY)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise DPoPProofError(f"DPoP proof is not a compact JWS: {exc}") from None
    header = obj.headers()
    if header.get("typ") != DPOP_TYP:
        raise DPoPProofError(f"DPoP proof typ must be {DPOP_TYP!r}, got {header.get('typ')!r}")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise DPoPProofError(f"DPoP proof uses unsupported algorithm {alg!r}")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise DPoPProofError("DPoP proof header has no jwk")
    if any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise DPoPProofError("DPoP proof jwk must be a public key")
    try:
        key, jkt, public = _proof_key(jwk)
        if not jws.validate_compact(obj, key, registry=_REGISTRY):
            raise DPoPProofError("DPoP proof signature does not verify with its jwk")
    except DPoPProofError:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise DPoPProofError(f"DPoP proof jwk is not a usable key: {exc}") from None
    try:
        claims = json.loads(obj.payload)
    except (ValueError, RecursionError):
        raise DPoPProofError("DPoP proof payload is not JSON") from None
    if not isinstance(claims, dict):
        raise DPoPProofError("DPoP proof payload is not a JSON object")
    now = time.time() if now is None else now
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise DPoPProofError("DPoP proof has no numeric iat")
    if iat + skew_s < now:
        raise DPoPProofError("DPoP proof has expired (iat too old)")
    if iat - skew_s > now:
        raise DPoPProofError("DPoP proof iat is in the future")
    htm = claims.get("htm")
    if not isinstance(htm, str) or htm != method.upper():
        raise DPoPProofError(f"DPoP proof htm {htm!r} does not match request method {method}")
    htu = claims.get("htu")
    if not isinstance(htu, str) or not htu_matches(htu, acceptable_urls, strict_htu):
        raise DPoPProofError(f"DPoP proof htu {htu!r} does not match {acceptable_urls}")
    if access_token is not None:
        ath = claims.get("ath")
        if ath is None:
            raise DPoPProofError("DPoP proof has no ath for the access token")
        if ath != access_token_hash(access_token):
            raise DPoPProofError("DPoP proof ath does not match the access token")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise DPoPProofError("DPoP proof has no jti")
    if replay.observe(jti, now):
        raise DPoPProofError("DPoP proof replayed (jti already used)")
    return Proof(jwk=dict(public), jkt=jkt, claims=claims)


def _proof_key(jwk: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """(key, thumbprint, public JWK) of a proof's ``jwk``, remembered: a client signs every
    proof with the same key, and importing it anew took a tenth of a rewrap's CPU
    (``py-spy record --gil`` on the KAS bench)."""
    try:
        items = tuple(sorted(jwk.items()))
        hash(items)
    except TypeError:  # a member that is a list or an object (x5c): not worth a cache key
        return _import_jwk(jwk)
    return _import_remembered(items)


def _import_jwk(jwk: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    key = import_key(jwk)
    return key, key.thumbprint(), key.as_dict(private=False)


@functools.lru_cache(maxsize=1024)
def _import_remembered(items: tuple[tuple[str, Any], ...]) -> tuple[Any, str, dict[str, Any]]:
    return _import_jwk(dict(items))
