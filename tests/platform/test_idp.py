"""The Keycloak stand-in: discovery, JWKS and the client-credentials token endpoint."""

from __future__ import annotations

import base64

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from tests.platform.conftest import LocalPlatform, dpop_proof

FORM = {"grant_type": "client_credentials", "client_id": "opentdf", "client_secret": "secret"}


@pytest.fixture(scope="module")
def lp(bare_platform: LocalPlatform) -> LocalPlatform:
    return bare_platform


@pytest.fixture(scope="module")
def http() -> httpx.Client:
    with httpx.Client(timeout=30.0) as client:
        yield client


def decode(lp: LocalPlatform, http: httpx.Client, token: str) -> dict:
    """Verify with the published JWKS, as an independent resource server would."""
    doc = http.get(f"{lp.issuer}/.well-known/openid-configuration").json()
    jwks = http.get(doc["jwks_uri"]).json()
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims


def test_discovery_document(lp, http) -> None:
    for base in (lp.idp_url, lp.url):  # served on the IdP port and the platform port
        doc = http.get(f"{base}/auth/realms/opentdf/.well-known/openid-configuration").json()
        assert doc["issuer"] == lp.issuer == f"{lp.idp_url}/auth/realms/opentdf"
        assert doc["token_endpoint"] == lp.token_url
        assert doc["jwks_uri"] == f"{lp.issuer}/protocol/openid-connect/certs"
        assert "client_credentials" in doc["grant_types_supported"]
    r = http.get(f"{lp.idp_url}/auth/realms/other/.well-known/openid-configuration")
    assert r.status_code == 404


def test_jwks_verifies_issued_tokens(lp, http) -> None:
    r = http.post(lp.token_url, data=FORM)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == lp.config.token_lifetime_s
    claims = decode(lp, http, body["access_token"])
    assert claims["iss"] == lp.issuer
    assert claims["aud"] == lp.url
    assert claims["client_id"] == claims["azp"] == claims["clientId"] == "opentdf"
    assert claims["exp"] - claims["iat"] == lp.config.token_lifetime_s
    assert "cnf" not in claims
    header = jwt.decode(
        body["access_token"],
        KeySet.import_key_set(http.get(f"{lp.issuer}/protocol/openid-connect/certs").json()),
        algorithms=["RS256"],
    ).header
    assert header["alg"] == "RS256" and header["kid"]


def test_basic_auth_client(lp, http) -> None:
    basic = base64.b64encode(b"opentdf-sdk:secret").decode()
    r = http.post(
        lp.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200
    assert decode(lp, http, r.json()["access_token"])["client_id"] == "opentdf-sdk"


def test_token_on_platform_port_has_same_issuer(lp, http) -> None:
    r = http.post(f"{lp.url}/auth/realms/opentdf/protocol/openid-connect/token", data=FORM)
    assert r.status_code == 200
    assert decode(lp, http, r.json()["access_token"])["iss"] == lp.issuer


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({**FORM, "client_secret": "wrong"}, 401, "unauthorized_client"),
        ({**FORM, "client_id": "nobody"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({**FORM, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({k: v for k, v in FORM.items() if k != "grant_type"}, 400, "invalid_request"),
    ],
)
def test_token_refusals(lp, http, form, status, error) -> None:
    r = http.post(lp.token_url, data=form)
    assert r.status_code == status
    assert r.json()["error"] == error
    assert "access_token" not in r.json()


def test_token_needs_form_body(lp, http) -> None:
    r = http.post(lp.token_url, json=FORM)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_client_claims_are_added_but_cannot_override(lp, http) -> None:
    claims = decode(lp, http, lp.token("xtdf-alice"))
    assert claims["email"] == "alice@example.com"
    assert claims["preferred_username"] == "alice"
    assert claims["client_id"] == "xtdf-alice"
    assert decode(lp, http, lp.token("opentdf"))["realm_access"]["roles"] == [
        "opentdf-admin",
        "opentdf-standard",
    ]
    # a configured claim named like a protected one is ignored
    from xtdf.platform.config import OAuthClient

    sneaky = OAuthClient(client_id="opentdf", secret="x", claims={"iss": "evil", "aud": "x"})
    token = lp.platform.idp.issue(sneaky)
    assert decode(lp, http, token)["iss"] == lp.issuer


@pytest.mark.parametrize("key", [ECKey.generate_key("P-256"), RSAKey.generate_key(2048)])
def test_dpop_bound_token(lp, http, key) -> None:
    r = http.post(lp.token_url, data=FORM, headers={"DPoP": dpop_proof(key, "POST", lp.token_url)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert decode(lp, http, body["access_token"])["cnf"] == {"jkt": key.thumbprint()}


@pytest.mark.parametrize(
    "bad",
    [
        {"htm": "GET"},
        {"htu": "http://elsewhere.example/token"},
        {"iat": 1},
        {"jti": None},
        {"header": {"typ": "JWT"}},
    ],
)
def test_bad_dpop_proof_at_token_endpoint(lp, http, bad) -> None:
    key = ECKey.generate_key("P-256")
    claims = {k: v for k, v in bad.items() if k != "header"}
    proof = dpop_proof(key, "POST", lp.token_url, header=bad.get("header"), **claims)
    r = http.post(lp.token_url, data=FORM, headers={"DPoP": proof})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_dpop_proof"


def test_signing_key_is_stored_in_database(lp) -> None:
    row = lp.platform.db.one("SELECT kid FROM idp_signing_keys WHERE realm = ?", ("opentdf",))
    assert row is not None and row["kid"] == lp.platform.idp.keys.kid
