"""Bearer and DPoP authentication on the Connect and REST transports."""

from __future__ import annotations

import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.platform.conftest import (
    TEST_SERVICE,
    LocalPlatform,
    dpop_proof,
    dummy_methods,
    start_platform,
)
from xtdf.errors import AuthError
from xtdf.platform.dpop import htu_matches, normalize_htu

CONNECT = {"Connect-Protocol-Version": "1"}


@pytest.fixture(scope="module")
def lp(bare_platform: LocalPlatform) -> LocalPlatform:
    return bare_platform


@pytest.fixture(scope="module")
def http() -> httpx.Client:
    with httpx.Client(timeout=30.0) as client:
        yield client


def whoami(lp: LocalPlatform) -> str:
    return f"{lp.url}/{TEST_SERVICE}/WhoAmI"


def call(http: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(url, json={}, headers={**CONNECT, **headers})


def forge(lp: LocalPlatform, **changes) -> str:
    """A token with our IdP's claims and kid, changed as asked, signed by the IdP key."""
    idp = lp.platform.idp
    now = int(time.time())
    claims = {
        "iss": lp.issuer,
        "aud": lp.url,
        "iat": now,
        "exp": now + 300,
        "sub": "s",
        "client_id": "opentdf",
        "azp": "opentdf",
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": idp.keys.kid}, claims, idp.keys.key)


def test_valid_token_fills_claims(lp, http) -> None:
    r = call(http, whoami(lp), lp.headers(lp.token("xtdf-bob")))
    assert r.status_code == 200
    assert r.json()["clientId"] == "xtdf-bob"


def test_public_method_needs_no_token(lp, http) -> None:
    r = http.post(f"{lp.url}/{TEST_SERVICE}/Echo", json={"text": "p"}, headers=CONNECT)
    assert r.status_code == 200


def expired_token(lp: LocalPlatform) -> str:
    client = lp.config.client("opentdf")
    assert client is not None
    return lp.platform.idp.issue(client, lifetime_s=-3600)


def other_key_token(lp: LocalPlatform) -> str:
    other = RSAKey.generate_key(2048)
    good = lp.token()
    header = jwt.decode(good, lp.platform.idp.keys.public_set, algorithms=["RS256"]).header
    claims = jwt.decode(good, lp.platform.idp.keys.public_set, algorithms=["RS256"]).claims
    return jwt.encode(header, claims, other)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda lp: None, "missing authorization"),
        (lambda lp: "Basic b3BlbnRkZjpzZWNyZXQ=", "not of type Bearer or DPoP"),
        (lambda lp: "Bearer " + expired_token(lp), "expired"),
        (lambda lp: "Bearer " + other_key_token(lp), "signature does not verify"),
        (lambda lp: "Bearer " + lp.token()[:-4] + "AAAA", "signature does not verify"),
        (lambda lp: "Bearer " + forge(lp, iss="http://evil.example/realms/x"), "issuer"),
        (lambda lp: "Bearer " + forge(lp, aud="http://other.example"), "audience"),
        (lambda lp: "Bearer " + forge(lp, exp=None), "no exp"),
        (lambda lp: "Bearer " + forge(lp, nbf=int(time.time()) + 3600), "not valid yet"),
        (lambda lp: "Bearer not.a.jwt", "not a valid JWT"),
    ],
)
def test_token_refusals(lp, http, make, fragment) -> None:
    auth = make(lp)
    headers = {"Authorization": auth} if auth else {}
    r = call(http, whoami(lp), headers)
    assert r.status_code == 401
    err = r.json()
    assert err["code"] == "unauthenticated"
    assert fragment in err["message"]
    assert "WWW-Authenticate" in r.headers


def test_none_algorithm_refused(lp, http) -> None:
    import base64
    import json

    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    claims = jwt.decode(lp.token(), lp.platform.idp.keys.public_set, algorithms=["RS256"]).claims
    unsigned = f"{b64({'alg': 'none', 'kid': lp.platform.idp.keys.kid})}.{b64(claims)}."
    r = call(http, whoami(lp), {"Authorization": f"Bearer {unsigned}"})
    assert r.status_code == 401


# -- DPoP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dpop_key() -> ECKey:
    return ECKey.generate_key("P-256")


@pytest.fixture(scope="module")
def bound(lp, dpop_key) -> str:
    return lp.token(dpop_key=dpop_key)


def test_dpop_bound_token_with_proof(lp, http, dpop_key, bound) -> None:
    for scheme in ("DPoP", "Bearer"):  # Go accepts a bound token under Bearer (with a warning)
        proof = dpop_proof(dpop_key, "POST", whoami(lp), bound)
        r = call(http, whoami(lp), {"Authorization": f"{scheme} {bound}", "DPoP": proof})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["dpopJkt"] == dpop_key.thumbprint()
        assert body["hasDpopJwk"] is True


def test_rsa_dpop_key(lp, http) -> None:
    key = RSAKey.generate_key(2048)
    token = lp.token(dpop_key=key)
    r = call(
        http,
        whoami(lp),
        {"Authorization": f"DPoP {token}", "DPoP": dpop_proof(key, "POST", whoami(lp), token)},
    )
    assert r.status_code == 200 and r.json()["dpopJkt"] == key.thumbprint()


def test_path_only_htu_is_accepted_like_go(lp, http, dpop_key, bound) -> None:
    proof = dpop_proof(dpop_key, "POST", f"/{TEST_SERVICE}/WhoAmI", bound)
    r = call(http, whoami(lp), {"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert r.status_code == 200


def test_htu_case_and_default_port_normalised() -> None:
    assert normalize_htu("HTTP://LocalHost:80/a/./b/../c") == "http://localhost/a/c"
    assert htu_matches("https://h:443/x", ["https://h/x"], strict=True)
    assert not htu_matches("/x", ["https://h/x"], strict=True)
    assert htu_matches("/x", ["https://h/x"], strict=False)
    assert not htu_matches("ftp://h/x", ["ftp://h/x"], strict=False)
    assert htu_matches("http://h/%7Euser", ["http://h/~user"], strict=True)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"htm": "GET"}, "htm"),
        ({"htu": "http://localhost:1/xtdftest.TestService/WhoAmI"}, "htu"),
        ({"htu": "/xtdftest.TestService/Echo"}, "htu"),
        ({"ath": "AAAA"}, "ath"),
        ({"ath": None}, "no ath"),
        ({"iat": int(time.time()) - 7200}, "expired"),
        # the skew is an hour either way: a proof dated later than that is made up
        ({"iat": int(time.time()) + 7200}, "iat is in the future"),
        ({"iat": None}, "iat"),
        ({"jti": None}, "jti"),
    ],
)
def test_mismatched_proofs(lp, http, dpop_key, bound, changes, fragment) -> None:
    proof = dpop_proof(dpop_key, "POST", whoami(lp), bound, **changes)
    r = call(http, whoami(lp), {"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert r.status_code == 401
    assert fragment in r.json()["message"]
    assert r.headers["WWW-Authenticate"] == 'DPoP error="invalid_dpop_proof"'


def test_proof_from_another_key(lp, http, bound) -> None:
    other = ECKey.generate_key("P-256")
    proof = dpop_proof(other, "POST", whoami(lp), bound)
    r = call(http, whoami(lp), {"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert r.status_code == 401
    assert "cnf.jkt" in r.json()["message"]


def test_proof_signed_by_other_key_than_its_jwk(lp, http, dpop_key, bound) -> None:
    other = ECKey.generate_key("P-256")
    proof = dpop_proof(
        other, "POST", whoami(lp), bound, header={"jwk": dpop_key.as_dict(private=False)}
    )
    r = call(http, whoami(lp), {"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert r.status_code == 401
    assert "signature" in r.json()["message"]


def test_private_jwk_in_proof_refused(lp, http, dpop_key, bound) -> None:
    proof = dpop_proof(
        dpop_key, "POST", whoami(lp), bound, header={"jwk": dpop_key.as_dict(private=True)}
    )
    r = call(http, whoami(lp), {"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert r.status_code == 401 and "public" in r.json()["message"]


def test_bound_token_without_proof(lp, http, bound) -> None:
    r = call(http, whoami(lp), {"Authorization": f"DPoP {bound}"})
    assert r.status_code == 401 and "without a DPoP proof" in r.json()["message"]


def test_two_proofs_refused(lp, http, dpop_key, bound) -> None:
    p1 = dpop_proof(dpop_key, "POST", whoami(lp), bound)
    p2 = dpop_proof(dpop_key, "POST", whoami(lp), bound)
    r = http.post(
        whoami(lp),
        json={},
        headers=[
            ("Connect-Protocol-Version", "1"),
            ("Authorization", f"DPoP {bound}"),
            ("DPoP", p1),
            ("DPoP", p2),
        ],
    )
    assert r.status_code == 401 and "exactly one" in r.json()["message"]


def test_replayed_proof_refused(lp, http, dpop_key, bound) -> None:
    proof = dpop_proof(dpop_key, "POST", whoami(lp), bound)
    headers = {"Authorization": f"DPoP {bound}", "DPoP": proof}
    assert call(http, whoami(lp), headers).status_code == 200
    r = call(http, whoami(lp), headers)
    assert r.status_code == 401 and "replayed" in r.json()["message"]


def test_rest_proof_must_name_rest_path(lp, http, dpop_key, bound) -> None:
    url = f"{lp.url}/kas/v2/rewrap"
    good = dpop_proof(dpop_key, "POST", url, bound)
    r = http.post(url, json={}, headers={"Authorization": f"DPoP {bound}", "DPoP": good})
    assert r.status_code == 200, r.text
    wrong = dpop_proof(dpop_key, "POST", f"{lp.url}/kas.AccessService/Rewrap", bound)
    r = http.post(url, json={}, headers={"Authorization": f"DPoP {bound}", "DPoP": wrong})
    assert r.status_code == 401


def test_unbound_token_accepted_unless_dpop_enforced(lp, http, tmp_path) -> None:
    token = lp.token()
    r = call(http, whoami(lp), {"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "dpopJkt" not in r.json()

    server = start_platform(tmp_path, services=[], kas_ports={}, enforce_dpop=True)
    try:
        server.platform.register(dummy_methods())
        strict = LocalPlatform(server)
        r = call(http, whoami(strict), strict.headers(strict.token()))
        assert r.status_code == 401 and "not DPoP-bound" in r.json()["message"]
        key = ECKey.generate_key("P-256")
        tok = strict.token(dpop_key=key)
        proof = dpop_proof(key, "POST", whoami(strict), tok)
        r = call(http, whoami(strict), {"Authorization": f"DPoP {tok}", "DPoP": proof})
        assert r.status_code == 200
    finally:
        server.stop()


def test_caller_refused_before_its_body_is_read(lp, http) -> None:
    big = b'{"text":"' + b"a" * (200 * 1024) + b'"}'  # over the 64 KiB limit
    r = http.post(
        f"{lp.url}/{TEST_SERVICE}/AuthedEcho",
        content=big,
        headers={**CONNECT, "Content-Type": "application/json"},
    )
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_a_remembered_token_still_expires(lp, http) -> None:
    """Verified signatures are remembered per token, but every call checks the claims
    again: a token that worked stops working once its exp has passed."""
    client = lp.config.client("opentdf")
    assert client is not None
    token = lp.platform.idp.issue(client, lifetime_s=120)
    claims = lp.platform.auth.verify_token(token)
    assert lp.platform.auth.verify_token(token) == claims  # second call: remembered
    with pytest.raises(AuthError, match="expired"):
        lp.platform.auth.verify_token(token, now=claims["exp"] + 3600)


def test_replay_cache_sweeps_expired_entries_without_forgetting_live_ones() -> None:
    from xtdf.platform.dpop import ReplayCache

    cache = ReplayCache(ttl_s=10)
    cache.MIN_SWEEP = 100  # type: ignore[misc]  # a small threshold for the test
    cache._sweep_at = 100
    for i in range(100):
        assert not cache.observe(f"old-{i}", now=0.0)
    for i in range(150):  # the first of these sweeps the expired ones away
        assert not cache.observe(f"live-{i}", now=20.0)
    assert len(cache._seen) == 150
    assert all(cache.observe(f"live-{i}", now=25.0) for i in (0, 99, 149))
    assert not cache.observe("old-0", now=25.0)  # expired: allowed again


def test_proof_keys_are_remembered_by_value() -> None:
    from xtdf.platform import dpop

    jwk = ECKey.generate_key("P-256").as_dict(private=False)
    first = dpop._proof_key(dict(jwk))
    assert dpop._proof_key(dict(jwk)) is first
    other = ECKey.generate_key("P-256").as_dict(private=False)
    assert dpop._proof_key(other)[1] != first[1]
    with_list = {**jwk, "x5c": ["bm90IGEgY2VydA=="]}  # unhashable member: imported uncached
    assert dpop._proof_key(with_list)[1] == first[1]
