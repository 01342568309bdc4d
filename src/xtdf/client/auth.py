"""Client-credentials access tokens bound to a DPoP key (RFC 9449).

One :class:`TokenSource` per client: it holds the DPoP key for the life of the process,
fetches a token on first use and reuses it until shortly before it expires. Every
request to the platform then carries ``Authorization`` plus a fresh DPoP proof whose
``ath`` names the token, which is what binds the token (``cnf.jkt``) to this client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from xtdf.client import jose
from xtdf.client.config import ClientConfig
from xtdf.client.transport import Transport
from xtdf.errors import AuthError, PlatformError

#: renew this many seconds before the token's stated expiry
EXPIRY_MARGIN = 30.0


@dataclass
class Token:
    value: str
    token_type: str
    expires_at: float

    def fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.expires_at - EXPIRY_MARGIN


def discover_token_endpoint(transport: Transport, platform_url: str) -> str:
    """Read the IdP's token endpoint from ``/.well-known/opentdf-configuration``."""
    url = platform_url.rstrip("/") + "/.well-known/opentdf-configuration"
    doc = transport.get_json(url)
    conf = doc.get("configuration", doc) if isinstance(doc, dict) else {}
    idp = conf.get("idp") if isinstance(conf, dict) else None
    if isinstance(idp, dict) and isinstance(idp.get("token_endpoint"), str):
        return idp["token_endpoint"]
    issuer = None
    if isinstance(conf, dict):
        issuer = conf.get("platform_issuer") or (idp or {}).get("issuer")
    if isinstance(issuer, str) and issuer:
        oidc = transport.get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if isinstance(oidc, dict) and isinstance(oidc.get("token_endpoint"), str):
            return oidc["token_endpoint"]
    raise PlatformError(f"{url} names no IdP token endpoint (set TOKENENDPOINT or KCFULLURL)")


class TokenSource:
    """Access tokens for one client identity, sender-constrained to ``dpop_key``."""

    def __init__(
        self,
        config: ClientConfig,
        transport: Transport,
        dpop_key: jose.SigningKey | None = None,
        *,
        dpop: bool = True,
        token: Token | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self._dpop_key = dpop_key
        #: False: plain bearer tokens, no proofs (a platform that does not enforce DPoP)
        self.dpop = dpop
        #: a token the caller already holds is used as it is, never fetched
        self._token: Token | None = token
        self._token_endpoint = config.token_endpoint
        #: last DPoP-Nonce each origin asked for (RFC 9449 §8)
        self.nonces: dict[str, str] = {}

    @property
    def dpop_key(self) -> jose.SigningKey:
        """The key proofs are signed with, taken when first needed: a bearer-only or
        caller-held-token source never signs, so it never makes one."""
        if self._dpop_key is None:
            # RSA-2048, as the Go SDK: the Go KAS verifies request tokens with RS256 only
            from xtdf.client import sessionkey

            self._dpop_key = sessionkey.take_dpop()
        return self._dpop_key

    @property
    def jkt(self) -> str:
        return jose.thumbprint(jose.public_jwk(self.dpop_key))

    def token_endpoint(self) -> str:
        if not self._token_endpoint:
            self._token_endpoint = discover_token_endpoint(self.transport, self.config.platform_url)
        return self._token_endpoint

    def token(self) -> Token:
        if self._token is None or not self._token.fresh():
            self._token = self._fetch()
        return self._token

    def _fetch(self) -> Token:
        if not self.config.client_id:
            raise AuthError("no client credentials: set CLIENTID and CLIENTSECRET")
        url = self.token_endpoint()
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
        }
        resp = None
        for _ in range(2):  # once more if the IdP demands a DPoP nonce
            nonce = self.nonces.get(origin_of(url))
            proof = (
                {"DPoP": jose.dpop_proof(self.dpop_key, "POST", url, nonce=nonce)}
                if self.dpop
                else {}
            )
            resp = self.transport.post_form(url, form, proof)
            new_nonce = resp.headers.get("dpop-nonce")
            if resp.status in (400, 401) and new_nonce and new_nonce != nonce:
                self.nonces[origin_of(url)] = new_nonce
                continue
            break
        assert resp is not None
        if resp.status != 200:
            detail = resp.body[:200].decode("utf-8", "replace").strip()
            try:
                body = resp.json("token")
                detail = body.get("error_description") or body.get("error") or detail
            except PlatformError:
                pass
            raise AuthError(
                f"IdP refused client credentials for {self.config.client_id!r} "
                f"at {url} (HTTP {resp.status}: {detail})"
            )
        body = resp.json(f"token endpoint {url}")
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise AuthError(f"token endpoint {url} returned no access_token")
        expires_in = body.get("expires_in", 300)
        try:
            lifetime = float(expires_in)
        except (TypeError, ValueError):
            lifetime = 300.0
        return Token(value, str(body.get("token_type") or "Bearer"), time.time() + lifetime)

    def headers(self, method: str, url: str, *, connect: bool = False) -> dict[str, str]:
        """``Authorization`` and a fresh ``DPoP`` proof for one request (``connect``: a
        Connect RPC, whose proof names the procedure's path, see ``jose.dpop_proof``)."""
        token = self.token()
        scheme = "DPoP" if token.token_type.lower() == "dpop" else "Bearer"
        if not self.dpop:
            return {"Authorization": f"{scheme} {token.value}"}
        nonce = self.nonces.get(origin_of(url))
        proof = jose.dpop_proof(self.dpop_key, method, url, token.value, nonce, path_only=connect)
        return {"Authorization": f"{scheme} {token.value}", "DPoP": proof}


def origin_of(url: str) -> str:
    """``scheme://host[:port]``: DPoP nonces are kept per origin."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
