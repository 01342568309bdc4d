"""Token, DPoP binding, discovery and error mapping against the real server on loopback."""

from __future__ import annotations

import pytest

from tests.platform.conftest import TEST_PEM, TEST_SERVICE, LocalPlatform
from xtdf.client import jose
from xtdf.client.config import ClientConfig
from xtdf.client.platform_client import PlatformClient
from xtdf.errors import AccessDeniedError, AuthError, PlatformError


def _client(lp: LocalPlatform, **kw: str) -> PlatformClient:
    fields = {"platform_url": lp.url, "client_id": "opentdf", "client_secret": "secret", **kw}
    return PlatformClient(ClientConfig(**fields))


def test_token_is_discovered_dpop_bound_and_reused(echo_platform: LocalPlatform) -> None:
    with _client(echo_platform) as client:
        url = f"{echo_platform.url}/{TEST_SERVICE}/WhoAmI"
        first = client.authed_call(url, {})
        token = client.tokens.token()
        second = client.authed_call(url, {})
        assert client.tokens.token() is token  # cached, not fetched again
    assert token.token_type == "DPoP"
    assert first["clientId"] == "opentdf" and first["hasDpopJwk"] is True
    assert (
        first["dpopJkt"]
        == second["dpopJkt"]
        == jose.thumbprint(jose.public_jwk(client.tokens.dpop_key))
    )
    assert client.tokens.token_endpoint() == echo_platform.token_url


def test_rsa_dpop_key_works_too(echo_platform: LocalPlatform) -> None:
    from xtdf.crypto import rsa as xrsa

    client = PlatformClient(
        ClientConfig(platform_url=echo_platform.url, client_id="opentdf", client_secret="secret"),
        dpop_key=xrsa.generate(),
    )
    with client:
        who = client.authed_call(f"{echo_platform.url}/{TEST_SERVICE}/WhoAmI", {})
    assert who["dpopJkt"] == client.tokens.jkt


def test_public_key_needs_no_token_and_is_cached(echo_platform: LocalPlatform) -> None:
    kas_url = echo_platform.kas_urls["value1"]
    with _client(echo_platform) as client:
        key = client.kas_public_key(kas_url, "rsa:2048")
        assert client.kas_public_key(kas_url, "rsa:2048") is key
        assert client._tokens is None  # never needed a token
    assert key.pem == TEST_PEM and key.kid == "value1:rsa:2048"


def test_wrong_secret_is_an_auth_error(echo_platform: LocalPlatform) -> None:
    with (
        _client(echo_platform, client_secret="wrong") as client,
        pytest.raises(AuthError, match="refused client credentials for 'opentdf'"),
    ):
        client.authed_call(f"{echo_platform.url}/{TEST_SERVICE}/WhoAmI", {})


def test_missing_credentials_are_an_auth_error(echo_platform: LocalPlatform) -> None:
    with _client(echo_platform, client_id="") as client, pytest.raises(AuthError, match="CLIENTID"):
        client.authed_call(f"{echo_platform.url}/{TEST_SERVICE}/WhoAmI", {})


def test_connect_errors_map_to_typed_errors(echo_platform: LocalPlatform) -> None:
    url = f"{echo_platform.url}/{TEST_SERVICE}/AuthedEcho"
    with _client(echo_platform) as client:
        with pytest.raises(AccessDeniedError, match="permission_denied: refused on request"):
            client.authed_call(url, {"text": "refuse"})
        with pytest.raises(PlatformError, match="HTTP 404"):
            client.authed_call(f"{echo_platform.url}/{TEST_SERVICE}/NoSuchMethod", {})


def test_unreachable_platform_names_the_address() -> None:
    config = ClientConfig(platform_url="http://127.0.0.1:9", client_id="x", client_secret="y")
    with PlatformClient(config) as client, pytest.raises(PlatformError, match="cannot reach"):
        client.kas_public_key(config.kas_url, "rsa:2048")
