"""The KAS over loopback: Connect (binary and JSON) and the REST gateway of the real server,
with tokens from the real IdP and DPoP proofs, plus concurrent load with zero errors."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.platform.conftest import LocalPlatform, dpop_proof
from tests.platform.test_kas_rewrap import kao_message, recover, request_body, sign_srt
from xtdf._proto.kas import kas_pb2 as pb
from xtdf.crypto import ec as xec
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.encoding import b64decode
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, make_kao
from xtdf.formats.ztdf.policy import Policy
from xtdf.platform import kas

CONNECT = {"Connect-Protocol-Version": "1"}
PUBLIC_KEY = "/kas.AccessService/PublicKey"
REWRAP = "/kas.AccessService/Rewrap"


def connect_public_key(
    lp: LocalPlatform, base: str, binary: bool, **fields: str
) -> pb.PublicKeyResponse:
    req = pb.PublicKeyRequest(**fields)
    if binary:
        r = httpx.post(
            base + PUBLIC_KEY,
            content=req.SerializeToString(),
            headers={**CONNECT, "Content-Type": "application/proto"},
        )
        assert r.status_code == 200, r.text
        return pb.PublicKeyResponse.FromString(r.content)
    r = httpx.post(base + PUBLIC_KEY, json=fields, headers=CONNECT)
    assert r.status_code == 200, r.text
    doc = r.json()
    return pb.PublicKeyResponse(public_key=doc["publicKey"], kid=doc["kid"])


def base_of(kas_url: str) -> str:
    return kas_url.removesuffix("/kas")


def _kao(public: pb.PublicKeyResponse, share: bytes, policy: str, url: str) -> dict[str, Any]:
    return kao_message(make_kao(KeyAccessTarget(url, public.public_key, public.kid), share, policy))


@pytest.mark.parametrize("binary", [True, False], ids=["proto", "json"])
def test_connect_public_key_and_rewrap(local_platform: LocalPlatform, binary: bool) -> None:
    lp = local_platform
    base = lp.url
    rsa_pub = connect_public_key(lp, base, binary, algorithm="rsa:2048")
    ec_pub = connect_public_key(lp, base, binary, algorithm="ec:secp256r1")
    assert (rsa_pub.kid, ec_pub.kid) == ("r1", "ec1")
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    kas_url = lp.kas_urls["default"]
    client = xec.generate()
    body = request_body(
        client,
        [
            (
                "p",
                policy,
                [
                    ("r", _kao(rsa_pub, share, policy, kas_url)),
                    ("e", _kao(ec_pub, share, policy, kas_url)),
                ],
            )
        ],
    )
    dpop = ECKey.generate_key("P-256")
    token = lp.token(dpop_key=dpop)
    url = base + REWRAP
    headers = {
        **CONNECT,
        "Authorization": f"DPoP {token}",
        "DPoP": dpop_proof(dpop, "POST", url, token),
    }
    srt = sign_srt(dpop, body)
    if binary:
        r = httpx.post(
            url,
            content=pb.RewrapRequest(signed_request_token=srt).SerializeToString(),
            headers={**headers, "Content-Type": "application/proto"},
        )
        assert r.status_code == 200, r.text
        resp: Any = pb.RewrapResponse.FromString(r.content)
        wrapped = {
            x.key_access_object_id: x.kas_wrapped_key for p in resp.responses for x in p.results
        }
    else:
        r = httpx.post(url, json={"signedRequestToken": srt}, headers=headers)
        assert r.status_code == 200, r.text
        resp = r.json()
        wrapped = {
            x["keyAccessObjectId"]: b64decode(x["kasWrappedKey"])
            for p in resp["responses"]
            for x in p["results"]
        }
    assert {kid: recover(resp, client, w) for kid, w in wrapped.items()} == {"r": share, "e": share}


def test_srt_from_another_key_over_connect_is_401(local_platform: LocalPlatform) -> None:
    lp = local_platform
    pub = connect_public_key(lp, lp.url, True)
    policy = Policy.create().to_b64()
    body = request_body(
        xec.generate(),
        [("p", policy, [("a", _kao(pub, os.urandom(32), policy, lp.kas_urls["default"]))])],
    )
    dpop = ECKey.generate_key("P-256")
    token = lp.token(dpop_key=dpop)
    url = lp.url + REWRAP
    r = httpx.post(
        url,
        json={"signedRequestToken": sign_srt(ECKey.generate_key("P-256"), body)},
        headers={
            **CONNECT,
            "Authorization": f"DPoP {token}",
            "DPoP": dpop_proof(dpop, "POST", url, token),
        },
    )
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert "unable to verify request token" in r.json()["message"]


def test_rewrap_without_token_is_401(local_platform: LocalPlatform) -> None:
    r = httpx.post(local_platform.url + REWRAP, json={"signedRequestToken": "x"}, headers=CONNECT)
    assert r.status_code == 401


def test_rest_public_key_and_v2_rewrap_like_the_js_cli(local_platform: LocalPlatform) -> None:
    """The JS CLI: ``GET /kas/kas_public_key?v=2``, then the single-object form at
    ``POST /kas/v2/rewrap`` with a bearer token, read back from ``entityWrappedKey``."""
    lp = local_platform
    kas_url = lp.kas_urls["value1"]
    r = httpx.get(kas_url + "/kas_public_key", params={"v": "2"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["kid"] == "r1" and "BEGIN PUBLIC KEY" in doc["publicKey"]
    bare = httpx.get(kas_url + "/kas_public_key", params={"algorithm": "ec:secp256r1"})
    assert bare.status_code == 200 and "BEGIN PUBLIC KEY" in bare.json()
    missing = httpx.get(kas_url + "/v2/kas_public_key", params={"algorithm": "rsa:512"})
    assert missing.status_code == 404
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    pub = pb.PublicKeyResponse(public_key=doc["publicKey"], kid=doc["kid"])
    kao = make_kao(KeyAccessTarget(kas_url, pub.public_key, pub.kid), share, policy)
    client = xrsa.generate()
    from xtdf.crypto.keys import public_pem

    body = {
        "algorithm": "RS256",
        "keyAccess": kao.to_dict(exclude_none=True),
        "policy": policy,
        "clientPublicKey": public_pem(client),
    }
    from joserfc.jwk import RSAKey

    srt = sign_srt(RSAKey.generate_key(2048), body)
    r = httpx.post(
        kas_url + "/v2/rewrap", json={"signedRequestToken": srt}, headers=lp.headers(lp.token())
    )
    assert r.status_code == 200, r.text
    assert xrsa.unwrap(client, b64decode(r.json()["entityWrappedKey"])) == share
    lines = kas.service_for(lp.platform).audit.records()
    assert lines[-1]["kas"] == "value1" and lines[-1]["decision"] == "permit"
    audit_file = lp.config.state_dir / "audit.log"
    last = json.loads(audit_file.read_text().splitlines()[-1])
    assert last["kas"] == "value1" and last["entity"]["clientId"] == "opentdf"


def test_rest_rewrap_refusal_uses_grpc_gateway_error_shape(local_platform: LocalPlatform) -> None:
    lp = local_platform
    r = httpx.post(
        lp.kas_urls["default"] + "/v2/rewrap",
        json={"signedRequestToken": "garbage"},
        headers=lp.headers(lp.token()),
    )
    assert r.status_code == 401 and r.json()["code"] == 16


CLIENTS = 8
TOTAL = 10_000


def test_concurrent_rewraps_without_errors(local_platform: LocalPlatform) -> None:
    """8 clients, each with its own DPoP key and session key, 10,000 rewraps in total."""
    lp = local_platform
    url = lp.url + REWRAP
    ec_pub = connect_public_key(lp, lp.url, True, algorithm="ec:secp256r1")
    errors: list[str] = []
    done = [0] * CLIENTS

    def client(n: int) -> None:
        dpop = ECKey.generate_key("P-256")
        token = lp.token(dpop_key=dpop)
        share = os.urandom(32)
        policy = Policy.create().to_b64()
        session = xec.generate()
        body = request_body(
            session, [("p", policy, [("a", _kao(ec_pub, share, policy, lp.kas_urls["default"]))])]
        )
        payload = pb.RewrapRequest(signed_request_token=sign_srt(dpop, body)).SerializeToString()
        with httpx.Client(timeout=30) as http:
            for _ in range(TOTAL // CLIENTS):
                headers = {
                    **CONNECT,
                    "Content-Type": "application/proto",
                    "Authorization": f"DPoP {token}",
                    "DPoP": dpop_proof(dpop, "POST", url, token),
                }
                r = http.post(url, content=payload, headers=headers)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                resp = pb.RewrapResponse.FromString(r.content)
                res = resp.responses[0].results[0]
                if res.status != "permit" or recover(resp, session, res.kas_wrapped_key) != share:
                    errors.append(f"bad result {res.status} {res.error}")
                done[n] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert not errors, errors[:5]
    assert sum(done) == TOTAL
    print(f"{TOTAL} rewraps by {CLIENTS} clients in {elapsed:.1f}s ({TOTAL / elapsed:.0f}/s)")
