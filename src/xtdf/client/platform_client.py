"""One connection to one platform: public keys, policy lookups and rewraps.

Holds the transport (connections kept alive), the token source (token cached) and the
KAS public keys already fetched, so a process that touches the platform several times
pays for each thing once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xtdf.client.config import ClientConfig
from xtdf.client.kas import (
    KasKey,
    KasRequestError,
    PolicyRequest,
    SessionKey,
    connect_base,
    session_public_pem,
    signed_request_token,
    unsigned_request,
    unwrap_response,
)
from xtdf.client.transport import Transport, raise_for_status
from xtdf.errors import KeyAccessError, PlatformError

if TYPE_CHECKING:
    from xtdf.client.auth import TokenSource

KAS_SERVICE = "kas.AccessService"
ATTRIBUTES_SERVICE = "policy.attributes.AttributesService"
KAS_REGISTRY_SERVICE = "policy.kasregistry.KeyAccessServerRegistryService"


class PlatformClient:
    def __init__(
        self,
        config: ClientConfig,
        dpop_key: Any = None,
        *,
        transport: Transport | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.config = config
        self.transport = transport or Transport(timeout=config.timeout)
        self._dpop_key = dpop_key
        #: a caller's own token source (the policy admin's: fixed token or no DPoP)
        self._tokens: TokenSource | None = tokens
        self._kas_keys: dict[tuple[str, str], KasKey] = {}
        self._wellknown: dict[str, Any] | None = None

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def tokens(self) -> TokenSource:
        """Created on first use: encrypting without attributes needs no token at all."""
        if self._tokens is None:
            from xtdf.client.auth import TokenSource

            self._tokens = TokenSource(self.config, self.transport, self._dpop_key)
        return self._tokens

    # -- calls ---------------------------------------------------------------------------

    def authed_call(self, url: str, message: Mapping[str, Any]) -> Any:
        """A Connect call with token and DPoP proof; retried once on a DPoP-Nonce challenge."""
        from xtdf.client.auth import origin_of

        body = json.dumps(message, separators=(",", ":")).encode()
        for attempt in (0, 1):
            headers = {
                "Content-Type": "application/json",
                "Connect-Protocol-Version": "1",
                **self.tokens.headers("POST", url, connect=True),
            }
            resp = self.transport.request("POST", url, body, headers)
            nonce = resp.headers.get("dpop-nonce")
            retry = attempt == 0 and resp.status in (400, 401) and nonce
            if retry and self.tokens.nonces.get(origin_of(url)) != nonce:
                self.tokens.nonces[origin_of(url)] = nonce
                continue
            raise_for_status(resp, f"{url.rsplit('/', 1)[-1]} at {url}")
            return resp.json(url)
        raise PlatformError(f"{url}: DPoP nonce challenge repeated")  # pragma: no cover

    def wellknown(self) -> dict[str, Any]:
        """The platform's ``/.well-known/opentdf-configuration`` (fetched once)."""
        if self._wellknown is None:
            doc = self.transport.get_json(
                f"{self.config.platform_url}/.well-known/opentdf-configuration"
            )
            conf = doc.get("configuration", doc) if isinstance(doc, dict) else {}
            self._wellknown = conf if isinstance(conf, dict) else {}
        return self._wellknown

    def kas_public_key(self, kas_url: str, algorithm: str) -> KasKey:
        cache_key = (kas_url, algorithm)
        if cache_key not in self._kas_keys:
            url = f"{connect_base(kas_url)}/{KAS_SERVICE}/PublicKey"
            answer = self.transport.connect_call(url, {"algorithm": algorithm, "v": "2"})
            pem = answer.get("publicKey") if isinstance(answer, dict) else None
            if not isinstance(pem, str) or "BEGIN" not in pem:
                raise PlatformError(f"KAS {kas_url} returned no {algorithm} public key")
            self._kas_keys[cache_key] = KasKey(kas_url, str(answer.get("kid", "")), pem, algorithm)
        return self._kas_keys[cache_key]

    def attribute_values(self, fqns: Sequence[str]) -> dict[str, Any]:
        """The ``GetAttributeValuesByFqns`` answer (grants, mapped keys, rules)."""
        url = f"{self.config.platform_url}/{ATTRIBUTES_SERVICE}/GetAttributeValuesByFqns"
        answer = self.authed_call(url, {"fqns": list(fqns)})
        if not isinstance(answer, dict):
            raise PlatformError("GetAttributeValuesByFqns returned no object")
        return answer

    def registered_kas_urls(self) -> Iterable[str]:
        """Every KAS in the platform's registry (what a default allowlist trusts)."""
        url = f"{self.config.platform_url}/{KAS_REGISTRY_SERVICE}/ListKeyAccessServers"
        try:
            answer = self.authed_call(url, {})
        except PlatformError:
            return []
        servers = answer.get("keyAccessServers") or [] if isinstance(answer, dict) else []
        return [s["uri"] for s in servers if isinstance(s, dict) and isinstance(s.get("uri"), str)]

    def rewrap(
        self,
        kas_url: str,
        requests: Sequence[PolicyRequest],
        session_key: SessionKey,
        salt: bytes,
    ) -> dict[str, bytes | KeyAccessError]:
        """Ask one KAS to rewrap; returns key or refusal per key access object id."""
        body = unsigned_request(session_public_pem(session_key), requests)
        token = signed_request_token(self.tokens.dpop_key, body)
        url = f"{connect_base(kas_url)}/{KAS_SERVICE}/Rewrap"
        try:
            answer = self.authed_call(url, {"signedRequestToken": token})
        except PlatformError as exc:
            if getattr(exc, "http_status", 0) == 400:
                raise KasRequestError(f"KAS request error (bad request): {exc}") from exc
            raise
        if not isinstance(answer, dict):
            raise PlatformError(f"KAS {kas_url} rewrap answer is not an object")
        results = unwrap_response(answer, session_key, salt, kas_url)
        if "" in results and len(requests) == 1 and len(requests[0].kaos) == 1:
            results[requests[0].kaos[0][0]] = results.pop("")
        return results
