"""``xtdf.platform.auth.Authenticator`` on its own, with the real IdP signing keys in an
in-memory store: each refusal with its whole message, the token time checks at the edges
of the skew, the verified-token memory's bound, and how the Authorization header, the
token's ``cnf`` and the DPoP proof are matched. Over HTTP: test_server_auth.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from tests.platform.conftest import dpop_proof
from xtdf.errors import AuthError
from xtdf.platform import auth as auth_module
from xtdf.platform.auth import Authenticator
from xtdf.platform.config import PlatformConfig
from xtdf.platform.dpop import DPoPProofError
from xtdf.platform.idp.provider import IdentityProvider
from xtdf.platform.store import Database

NOW = int(time.time())
PATH = "/kas.AccessService/Rewrap"
HOST = "localhost:8080"


def _make(tmp: Path, **config: Any) -> Authenticator:
    cfg = PlatformConfig(state_dir=tmp, platform_port=8080, idp_port=8888, **config)
    return Authenticator(cfg, IdentityProvider(cfg, Database(":memory:")))


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Authenticator:
    return _make(tmp_path_factory.mktemp("auth"))


def token(auth: Authenticator, *, key: Any = None, **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": auth.config.issuer,
        "aud": auth.config.token_audience,
        "iat": NOW,
        "exp": NOW + 300,
        "sub": "s",
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    keys = auth.idp.keys
    return jwt.encode({"alg": "RS256", "kid": keys.kid}, claims, key or keys.key)


def refused(call: Any, message: str, error: type[Exception] = AuthError) -> None:
    with pytest.raises(error) as exc:
        call()
    assert str(exc.value) == message


def test_claims_of_a_good_token(auth) -> None:
    t = token(auth, sub="alice")
    assert auth.verify_token(t)["sub"] == "alice"
    assert auth.verify_token(t, now=NOW)["sub"] == "alice"


def test_signature_and_form_refusals(auth) -> None:
    other = RSAKey.generate_key(2048)
    refused(
        lambda: auth.verify_token(token(auth, key=other)), "access token signature does not verify"
    )
    with pytest.raises(AuthError) as exc:
        auth.verify_token("not.a.jwt")
    assert str(exc.value).startswith("access token is not a valid JWT from this IdP: ")
    assert str(exc.value) != "access token is not a valid JWT from this IdP: "
    hs = jwt.encode({"alg": "HS256"}, {"sub": "s"}, OctKey.import_key(b"k" * 32))
    with pytest.raises(AuthError, match=r"^access token is not a valid JWT from this IdP: \S"):
        auth.verify_token(hs)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("not.a.jwt", "Invalid header"),  # joserfc's description, not its coded text
        ("abc", "Invalid JSON Web Signature"),
        ("", "Invalid JSON Web Signature"),
        # not a joserfc error: no description, so the exception's own words
        (
            "eyJhbGciOiJSUzI1NiJ9.e30.\udcff",
            "'utf-8' codec can't encode character '\\udcff' in position 25: surrogates not allowed",
        ),
    ],
)
def test_a_malformed_token_is_named(auth, raw: str, detail: str) -> None:
    refused(
        lambda: auth.verify_token(raw), f"access token is not a valid JWT from this IdP: {detail}"
    )


def test_a_signed_payload_that_is_no_claims_object(auth) -> None:
    from joserfc import jws

    keys = auth.idp.keys
    listed = jws.serialize_compact({"alg": "RS256", "kid": keys.kid}, b"[1, 2]", keys.key)
    refused(lambda: auth.verify_token(listed), "access token payload is not a JSON object")
    assert listed not in auth._verified
    text = jws.serialize_compact({"alg": "RS256", "kid": keys.kid}, b"not json", keys.key)
    refused(
        lambda: auth.verify_token(text),
        "access token is not a valid JWT from this IdP: invalid_payload: ",
    )


def test_a_remembered_token_is_not_verified_again(tmp_path) -> None:
    """The signature of the same bytes under the same keys cannot change: the second call
    answers from memory (the claim checks still run, test_time_claims_...)."""
    from joserfc.jwk import KeySet

    a = _make(tmp_path)
    t = token(a, sub="once")
    assert a.verify_token(t)["sub"] == "once"
    assert a._verified[t]["sub"] == "once"
    a.idp.keys.public_set = KeySet([])  # nothing could verify it now
    assert a.verify_token(t)["sub"] == "once"
    with pytest.raises(AuthError):
        a.verify_token(token(a, sub="new"))


def test_issuer_and_audience(auth) -> None:
    iss, aud = auth.config.issuer, auth.config.token_audience
    refused(
        lambda: auth.verify_token(token(auth, iss="http://evil/realm")),
        f"access token issuer 'http://evil/realm' is not {iss!r}",
    )
    refused(
        lambda: auth.verify_token(token(auth, iss=None)), f"access token issuer None is not {iss!r}"
    )
    refused(
        lambda: auth.verify_token(token(auth, aud="other")),
        f"access token audience 'other' does not include {aud!r}",
    )
    refused(
        lambda: auth.verify_token(token(auth, aud=["a", "b"])),
        f"access token audience ['a', 'b'] does not include {aud!r}",
    )
    assert auth.verify_token(token(auth, aud=["a", aud]))["aud"] == ["a", aud]
    # a string audience is compared whole, never searched for the expected one
    for near in (aud + "/evil", "x" + aud):
        refused(
            lambda near=near: auth.verify_token(token(auth, aud=near)),
            f"access token audience {near!r} does not include {aud!r}",
        )


def test_time_claims_at_the_edges_of_the_skew(auth) -> None:
    skew = auth.config.token_skew_s
    assert skew == 60
    exp = NOW + 300
    t = token(auth, exp=exp)
    auth.verify_token(t, now=exp + skew)  # the last instant it is good
    refused(lambda: auth.verify_token(t, now=exp + skew + 1), "access token has expired")
    refused(lambda: auth.verify_token(token(auth, exp=None)), "access token has no exp")
    refused(lambda: auth.verify_token(token(auth, exp="never")), "access token has no exp")
    refused(lambda: auth.verify_token(token(auth, exp=True)), "access token has no exp")
    nbf = token(auth, nbf=NOW + 100)
    auth.verify_token(nbf, now=NOW + 100 - skew)
    refused(lambda: auth.verify_token(nbf, now=NOW + 39), "access token is not valid yet (nbf)")
    iat = token(auth, iat=NOW + 100)
    auth.verify_token(iat, now=NOW + 100 - skew)
    refused(
        lambda: auth.verify_token(iat, now=NOW + 39), "access token was issued in the future (iat)"
    )
    auth.verify_token(token(auth, nbf="soon", iat="now"))  # non-numbers are not time checks


def test_the_clock_is_real_time_unless_given(auth) -> None:
    t = token(auth, exp=int(time.time()) + 5)
    auth.verify_token(t)
    refused(lambda: auth.verify_token(t, now=time.time() + 3600), "access token has expired")


def test_verified_tokens_are_remembered_up_to_the_bound(tmp_path, monkeypatch) -> None:
    a = _make(tmp_path)
    monkeypatch.setattr(auth_module, "VERIFIED_TOKENS", 2)
    tokens = [token(a, sub=f"u{i}") for i in range(3)]
    for t in tokens:
        a.verify_token(t)
    assert list(a._verified) == tokens[1:]  # the oldest went first
    a.verify_token(tokens[1])
    assert list(a._verified) == tokens[1:]  # a hit is served as it is, not re-stored
    refused(
        lambda: a.verify_token(token(a, iss="x")),
        f"access token issuer 'x' is not {a.config.issuer!r}",
    )


def _authenticate(
    auth: Authenticator, authorization: str | None, proofs: list[str] | None = None, **kw: Any
):
    kw.setdefault("method", "POST")
    kw.setdefault("path", PATH)
    kw.setdefault("host", HOST)
    return auth.authenticate(authorization=authorization, dpop_headers=proofs or [], **kw)


def test_authorization_header_forms(auth) -> None:
    t = token(auth, sub="bob")
    refused(lambda: _authenticate(auth, None), "missing authorization header")
    refused(lambda: _authenticate(auth, ""), "missing authorization header")
    for bad in ("Basic abc", "Bearer", "Bearer   ", t):
        refused(
            lambda bad=bad: _authenticate(auth, bad),
            "authorization header is not of type Bearer or DPoP",
        )
    for good in (f"Bearer {t}", f"bearer {t}", f"DPoP {t}", f"  dpop   {t}  "):
        ident = _authenticate(auth, good)
        assert ident.claims["sub"] == "bob" and ident.dpop_jkt is None and ident.dpop_jwk is None


@pytest.fixture(scope="module")
def dkey() -> ECKey:
    return ECKey.generate_key("P-256")


def test_unbound_token_needs_dpop_only_when_enforced(tmp_path, dkey) -> None:
    enforced = _make(tmp_path, enforce_dpop=True)
    t = token(enforced)
    refused(
        lambda: _authenticate(enforced, f"Bearer {t}"),
        "access token is not DPoP-bound (no cnf claim)",
        DPoPProofError,
    )


def test_bound_token_refusals(auth, dkey) -> None:
    for cnf, message in (
        ("jkt", "access token is not DPoP-bound (no cnf claim)"),
        ({"x5t#S256": "abc"}, "access token cnf has no jkt thumbprint"),
        ({"jkt": 7}, "access token cnf has no jkt thumbprint"),
    ):
        refused(
            lambda cnf=cnf: _authenticate(auth, f"DPoP {token(auth, cnf=cnf)}"),
            message,
            DPoPProofError,
        )
    bound = token(auth, cnf={"jkt": dkey.thumbprint()})
    refused(
        lambda: _authenticate(auth, f"DPoP {bound}"),
        "DPoP-bound access token presented without a DPoP proof",
        DPoPProofError,
    )
    other = ECKey.generate_key("P-256")
    proof = dpop_proof(other, "POST", f"http://{HOST}{PATH}", bound)
    refused(
        lambda: _authenticate(auth, f"DPoP {bound}", [proof]),
        f"DPoP proof key does not match the token's cnf.jkt (token {dkey.thumbprint()}, "
        f"proof {other.thumbprint()})",
        DPoPProofError,
    )


def test_bound_token_with_its_proof(auth, dkey) -> None:
    bound = token(auth, cnf={"jkt": dkey.thumbprint()})
    proof = dpop_proof(dkey, "POST", f"http://{HOST}{PATH}", bound)
    ident = _authenticate(auth, f"DPoP {bound}", [proof])
    assert ident.dpop_jkt == dkey.thumbprint()
    assert ident.dpop_jwk == dkey.as_dict(private=False)
    # the proof must name this path on this host (or the client's Origin)
    elsewhere = dpop_proof(dkey, "POST", f"http://{HOST}/other", bound)
    with pytest.raises(DPoPProofError, match=r"^DPoP proof htu 'http://localhost:8080/other'"):
        _authenticate(auth, f"DPoP {bound}", [elsewhere])
    through = dpop_proof(dkey, "POST", f"https://Proxy.example:443{PATH}", bound)
    with pytest.raises(DPoPProofError, match="does not match"):
        _authenticate(auth, f"DPoP {bound}", [through])
    ident = _authenticate(auth, f"DPoP {bound}", [through], origin="HTTPS://proxy.example")
    assert ident.dpop_jkt == dkey.thumbprint()
    # an Origin that is no URL adds nothing, and takes nothing away from the Host
    late = dpop_proof(dkey, "POST", f"http://{HOST}{PATH}", bound)
    assert _authenticate(auth, f"DPoP {bound}", [late], origin="not a url").dpop_jkt


def test_dpop_window_and_strictness_come_from_the_config(tmp_path, dkey) -> None:
    strict = _make(tmp_path, strict_htu=True, dpop_skew_s=10)
    bound = token(strict, cnf={"jkt": dkey.thumbprint()})
    path_only = dpop_proof(dkey, "POST", PATH, bound)
    with pytest.raises(DPoPProofError, match=r"^DPoP proof htu '/kas\.AccessService/Rewrap'"):
        _authenticate(strict, f"DPoP {bound}", [path_only])
    old = dpop_proof(dkey, "POST", f"http://{HOST}{PATH}", bound, iat=int(time.time()) - 30)
    refused(
        lambda: _authenticate(strict, f"DPoP {bound}", [old]),
        "DPoP proof has expired (iat too old)",
        DPoPProofError,
    )
    fresh = dpop_proof(dkey, "POST", f"http://{HOST}{PATH}", bound)
    _authenticate(strict, f"DPoP {bound}", [fresh])
    refused(
        lambda: _authenticate(strict, f"DPoP {bound}", [fresh]),
        "DPoP proof replayed (jti already used)",
        DPoPProofError,
    )
