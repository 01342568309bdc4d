"""Who is calling: access-token verification and DPoP sender constraint.

Mirrors the Go platform's authentication interceptor: ``Authorization: Bearer`` or
``DPoP``; the token must be a JWT signed by our IdP's key (asymmetric algorithms only) with
our issuer and audience and not expired (1 minute skew). A token bound to a key
(``cnf.jkt``) needs a valid DPoP proof from that key on every request; an unbound token is
accepted alone unless DPoP is enforced. The result fills :class:`CallContext`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError

from xtdf.errors import AuthError
from xtdf.platform.config import PlatformConfig
from xtdf.platform.dpop import (
    ALGORITHMS,
    DPoPProofError,
    ReplayCache,
    normalize_htu,
    origins_for_host,
    verify_proof,
)
from xtdf.platform.idp.provider import IdentityProvider

#: how many verified access tokens to remember (oldest forgotten first)
VERIFIED_TOKENS = 4096


@dataclass(frozen=True)
class Identity:
    claims: dict[str, Any]
    dpop_jkt: str | None = None
    dpop_jwk: dict[str, Any] | None = None


class Authenticator:
    def __init__(self, config: PlatformConfig, idp: IdentityProvider) -> None:
        self.config = config
        self.idp = idp
        self.replay = ReplayCache(config.dpop_skew_s)
        #: token -> claims whose signature verified: a client sends the same token on every
        #: call, and the signature of the same bytes under the same keys cannot change.
        #: The claim checks below still run on every call.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _signed_claims(self, token: str) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is not None:
            return claims
        try:
            decoded = jwt.decode(token, self.idp.keys.public_set, algorithms=ALGORITHMS)
        except BadSignatureError:
            raise AuthError("access token signature does not verify") from None
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            detail = getattr(exc, "description", "") or str(exc) or type(exc).__name__
            raise AuthError(f"access token is not a valid JWT from this IdP: {detail}") from None
        claims = decoded.claims
        if not isinstance(claims, dict):
            raise AuthError("access token payload is not a JSON object")
        self._verified[token] = claims
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return claims

    def verify_token(self, token: str, now: float | None = None) -> dict[str, Any]:
        """The verified claims of an access token, or :class:`AuthError` saying why not."""
        claims = self._signed_claims(token)
        now = time.time() if now is None else now
        skew = self.config.token_skew_s
        if claims.get("iss") != self.config.issuer:
            raise AuthError(
                f"access token issuer {claims.get('iss')!r} is not {self.config.issuer!r}"
            )
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if self.config.token_audience not in auds:
            raise AuthError(
                f"access token audience {aud!r} does not include {self.config.token_audience!r}"
            )
        exp = claims.get("exp")
        if not _is_number(exp):
            raise AuthError("access token has no exp")
        if exp + skew < now:
            raise AuthError("access token has expired")
        nbf = claims.get("nbf")
        if _is_number(nbf) and nbf - skew > now:
            raise AuthError("access token is not valid yet (nbf)")
        iat = claims.get("iat")
        if _is_number(iat) and iat - skew > now:
            raise AuthError("access token was issued in the future (iat)")
        return claims

    def authenticate(
        self,
        *,
        authorization: str | None,
        dpop_headers: list[str],
        method: str,
        path: str,
        host: str,
        origin: str | None = None,
    ) -> Identity:
        """Check one request's credentials; ``path`` is what ``htu`` must name."""
        if not authorization:
            raise AuthError("missing authorization header")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "dpop") or not token.strip():
            raise AuthError("authorization header is not of type Bearer or DPoP")
        token = token.strip()
        claims = self.verify_token(token)
        cnf = claims.get("cnf")
        if cnf is None and not self.config.enforce_dpop:
            return Identity(claims=claims)
        if not isinstance(cnf, dict):
            raise DPoPProofError("access token is not DPoP-bound (no cnf claim)")
        jkt = cnf.get("jkt")
        if not isinstance(jkt, str):
            raise DPoPProofError("access token cnf has no jkt thumbprint")
        if not dpop_headers:
            raise DPoPProofError("DPoP-bound access token presented without a DPoP proof")
        urls = [o + path for o in _origins(host, origin)]
        proof = verify_proof(
            dpop_headers,
            method=method,
            acceptable_urls=urls,
            skew_s=self.config.dpop_skew_s,
            replay=self.replay,
            strict_htu=self.config.strict_htu,
            access_token=token,
        )
        if proof.jkt != jkt:
            raise DPoPProofError(
                "DPoP proof key does not match the token's cnf.jkt "
                f"(token {jkt}, proof {proof.jkt})"
            )
        return Identity(claims=claims, dpop_jkt=jkt, dpop_jwk=proof.jwk)


def _origins(host: str, origin: str | None) -> list[str]:
    out = origins_for_host(host)
    if origin:
        norm = normalize_htu(origin)
        if norm:
            out.append(norm.removesuffix("/"))
    return out


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
