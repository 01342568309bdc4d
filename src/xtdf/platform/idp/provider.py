"""A Keycloak stand-in: discovery, JWKS and client-credentials access tokens.

Only what SDKs use against upstream's Keycloak realm: confidential clients authenticate with
``client_secret_post`` or ``client_secret_basic``; a ``DPoP`` proof on the token request
binds the token to that key (``cnf.jkt``, ``token_type`` ``DPoP``). Tokens carry the claims
Keycloak puts in a service-account token (``client_id``/``clientId``, ``azp``,
``preferred_username``, ``realm_access``) plus each client's configured claims, which is
how entitlement tests give different clients different attributes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from joserfc import jwt

from xtdf.errors import AuthError
from xtdf.platform.config import OAuthClient, PlatformConfig
from xtdf.platform.dpop import ALGORITHMS as DPOP_ALGORITHMS
from xtdf.platform.dpop import ReplayCache, verify_proof
from xtdf.platform.idp.keys import ALG, SigningKeys
from xtdf.platform.store import Database

#: claims a client's configuration may not override
PROTECTED_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "nbf", "jti", "sub", "azp", "client_id", "clientId", "cnf"}
)


class OAuthError(AuthError):
    """An RFC 6749 §5.2 error answer: HTTP status, ``error`` code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class IdentityProvider:
    def __init__(self, config: PlatformConfig, db: Database) -> None:
        self.config = config
        self.keys = SigningKeys(db, config.realm)
        self.replay = ReplayCache(config.dpop_skew_s)

    # -- documents -------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        """``/.well-known/openid-configuration`` of the realm."""
        iss = self.config.issuer
        oidc = f"{iss}/protocol/openid-connect"
        return {
            "issuer": iss,
            "authorization_endpoint": f"{oidc}/auth",
            "token_endpoint": f"{oidc}/token",
            "userinfo_endpoint": f"{oidc}/userinfo",
            "jwks_uri": f"{oidc}/certs",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALG],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "dpop_signing_alg_values_supported": sorted(DPOP_ALGORITHMS),
            "require_request_uri_registration": False,
        }

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks()

    # -- token endpoint --------------------------------------------------------------

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None
    ) -> OAuthClient:
        """Client by HTTP Basic (RFC 6749 §2.3.1) or by form fields."""
        client_id = form.get("client_id", "")
        secret = form.get("client_secret", "")
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "malformed Basic credentials") from None
            basic_id, sep, basic_secret = decoded.partition(":")
            if not sep:
                raise OAuthError(401, "invalid_client", "malformed Basic credentials")
            basic_id, basic_secret = unquote(basic_id), unquote(basic_secret)
            if client_id and client_id != basic_id:
                raise OAuthError(400, "invalid_request", "client_id differs from Basic credentials")
            client_id, secret = basic_id, basic_secret
        if not client_id:
            raise OAuthError(401, "invalid_client", "no client credentials")
        client = self.config.client(client_id)
        if client is None:
            raise OAuthError(401, "invalid_client", f"unknown client {client_id!r}")
        if not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise OAuthError(401, "unauthorized_client", "invalid client secret")
        return client

    def token_response(
        self,
        form: Mapping[str, str],
        authorization: str | None,
        dpop_headers: list[str],
        request_urls: list[str],
    ) -> dict[str, Any]:
        """Answer one token request; ``request_urls`` are the URLs this request reached
        (for the DPoP ``htu`` check)."""
        grant = form.get("grant_type", "")
        if not grant:
            raise OAuthError(400, "invalid_request", "missing grant_type")
        client = self.authenticate_client(form, authorization)
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} not supported")
        jkt = None
        if dpop_headers:
            try:
                proof = verify_proof(
                    dpop_headers,
                    method="POST",
                    acceptable_urls=request_urls,
                    skew_s=self.config.dpop_skew_s,
                    replay=self.replay,
                    strict_htu=self.config.strict_htu,
                )
            except AuthError as exc:
                raise OAuthError(400, "invalid_dpop_proof", str(exc)) from None
            jkt = proof.jkt
        scope = form.get("scope", "") or "openid profile email"
        token = self.issue(client, jkt=jkt, scope=scope)
        return {
            "access_token": token,
            "expires_in": self.config.token_lifetime_s,
            "refresh_expires_in": 0,
            "token_type": "DPoP" if jkt else "Bearer",
            "not-before-policy": 0,
            "scope": scope,
        }

    def service_account_id(self, client_id: str) -> str:
        """A stable per-client ``sub``, like Keycloak's service-account user id."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.config.issuer}#{client_id}"))

    def audience(self) -> str | list[str]:
        """This platform's URL, plus any other platform that trusts this IdP (a list then,
        as Keycloak writes ``aud`` when a token has several)."""
        extra = [a for a in self.config.extra_audiences if a != self.config.token_audience]
        return [self.config.token_audience, *extra] if extra else self.config.token_audience

    def issue(
        self,
        client: OAuthClient,
        *,
        jkt: str | None = None,
        scope: str = "openid profile email",
        lifetime_s: int | None = None,
        now: float | None = None,
    ) -> str:
        """A signed access token for ``client``; ``lifetime_s`` may be negative (tests)."""
        now = int(time.time() if now is None else now)
        lifetime = self.config.token_lifetime_s if lifetime_s is None else lifetime_s
        claims: dict[str, Any] = {
            "typ": "Bearer",
            "preferred_username": f"service-account-{client.client_id}",
            "scope": scope,
        }
        claims.update({k: v for k, v in client.claims.items() if k not in PROTECTED_CLAIMS})
        claims.update(
            {
                "iss": self.config.issuer,
                "aud": self.audience(),
                "iat": now,
                "exp": now + lifetime,
                "jti": str(uuid.uuid4()),
                "sub": self.service_account_id(client.client_id),
                "azp": client.client_id,
                "client_id": client.client_id,
                "clientId": client.client_id,
            }
        )
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        header = {"alg": ALG, "kid": self.keys.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.keys.key, algorithms=[ALG])
