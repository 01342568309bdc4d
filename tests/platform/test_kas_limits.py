"""Rewrap requests that try to cost the server: too many key access objects, JSON nested
past what a parser follows, and large requests that must not hold the shared event loop.

Each refusal is a 4xx naming what was wrong, never a 500 or a logged traceback, and
releases nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey

from tests.platform.conftest import LocalPlatform, dpop_proof
from xtdf._proto.kas import kas_pb2 as pb
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.keys import public_pem
from xtdf.platform import dispatch
from xtdf.platform.kas.request import MAX_KEY_ACCESS_OBJECTS, RequestBodyError, parse_body
from xtdf.platform.kas.service import INLINE_TOKEN_BYTES, KasService
from xtdf.platform.rpc import CallContext, Method

CONNECT = {"Connect-Protocol-Version": "1"}
#: deeper than Python's JSON parser follows, small enough for a header
DEEP = "[" * 20000 + "]" * 20000


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def kao(i: int) -> dict[str, Any]:
    return {
        "keyAccessObjectId": f"kao-{i}",
        "keyAccessObject": {
            "type": "wrapped",
            "url": "http://localhost/kas",
            "protocol": "kas",
            "wrappedKey": b64(b"x" * 256),
            "policyBinding": {"alg": "HS256", "hash": b64(b"h" * 32)},
        },
    }


def body(kaos_per_policy: list[int]) -> dict[str, Any]:
    return {
        "clientPublicKey": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n",
        "requests": [
            {
                "algorithm": "rsa:2048",
                "policy": {"id": f"policy-{p}", "body": b64(b"{}")},
                "keyAccessObjects": [kao(i) for i in range(n)],
            }
            for p, n in enumerate(kaos_per_policy)
        ],
    }


def srt(request_body: str) -> str:
    now = int(time.time())
    claims = {"requestBody": request_body, "iat": now, "exp": now + 60}
    return jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256"))


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.ERROR, logger="xtdf")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def rewrap(lp: LocalPlatform, token: str, headers: dict[str, str] | None = None):
    return httpx.post(
        f"{lp.url}/kas.AccessService/Rewrap",
        json={"signedRequestToken": token},
        headers={**CONNECT, **(headers or lp.headers(lp.token()))},
        timeout=30,
    )


# -- the count -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [[MAX_KEY_ACCESS_OBJECTS + 1], [200, 57], [1] * (MAX_KEY_ACCESS_OBJECTS + 1)]
)
def test_too_many_key_access_objects_refused_before_parsing(shape: list[int]) -> None:
    with pytest.raises(RequestBodyError) as err:
        parse_body(json.dumps(body(shape)))
    assert f"at most {MAX_KEY_ACCESS_OBJECTS} per request" in err.value.message
    assert err.value.code == "invalid_argument"


def test_the_limit_itself_is_accepted() -> None:
    parsed = parse_body(json.dumps(body([MAX_KEY_ACCESS_OBJECTS - 6, 6])))
    assert sum(len(r.kaos) for r in parsed.requests) == MAX_KEY_ACCESS_OBJECTS


def test_oversized_rewrap_refused_by_the_server(
    local_platform: LocalPlatform, no_tracebacks: None
) -> None:
    r = rewrap(local_platform, srt(json.dumps(body([4200]))))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_argument"
    assert "4200 key access objects; at most 256 per request" in r.json()["message"]
    assert "entityWrappedKey" not in r.text and "kasWrappedKey" not in r.text


# -- nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "code", "says"),
    [
        (lambda: b64(DEEP) + "." + b64("{}") + ".c2ln", 401, "header is not JSON"),
        (lambda: b64('{"alg":"ES256"}') + "." + b64(DEEP) + ".c2ln", 401, "payload is not JSON"),
        (lambda: srt(DEEP), 400, "not JSON (nested too deeply)"),
    ],
    ids=["srt-header", "srt-payload", "request-body"],
)
def test_deeply_nested_request_token_is_a_4xx(
    local_platform: LocalPlatform, no_tracebacks: None, token, code: int, says: str
) -> None:
    r = rewrap(local_platform, token())
    assert r.status_code == code, r.text
    assert says in r.json()["message"]


def test_deeply_nested_policy_is_refused_per_kao(
    local_platform: LocalPlatform, no_tracebacks: None
) -> None:
    doc = body([1])
    doc["clientPublicKey"] = public_pem(xrsa.generate(2048))
    doc["requests"][0]["policy"]["body"] = base64.b64encode(DEEP.encode()).decode()
    r = rewrap(local_platform, srt(json.dumps(doc)))
    assert r.status_code == 200, r.text
    result = r.json()["responses"][0]["results"][0]
    assert result["status"] == "fail" and "kasWrappedKey" not in result


def test_deeply_nested_dpop_payload_is_a_401(
    local_platform: LocalPlatform, no_tracebacks: None
) -> None:
    """Signed with the caller's own key, so only the payload parse can refuse it."""
    key = ECKey.generate_key("P-256")
    token = local_platform.token(dpop_key=key)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    proof = jws.serialize_compact(header, DEEP.encode(), key, algorithms=["ES256"])
    r = rewrap(local_platform, "x", {"Authorization": f"DPoP {token}", "DPoP": proof})
    assert r.status_code == 401, r.text
    assert r.json()["message"] == "DPoP proof payload is not JSON"
    # the same caller with a well-formed proof gets past DPoP to the request token check
    url = f"{local_platform.url}/kas.AccessService/Rewrap"
    good = dpop_proof(key, "POST", url, token)
    r = rewrap(local_platform, "x", {"Authorization": f"DPoP {token}", "DPoP": good})
    assert r.status_code == 401 and "could not parse token" in r.json()["message"], r.text


# -- off the loop --------------------------------------------------------------------------


def test_small_rewraps_run_inline_large_ones_do_not() -> None:
    small = pb.RewrapRequest(signed_request_token="a" * 2000)
    large = pb.RewrapRequest(signed_request_token="a" * (INLINE_TOKEN_BYTES + 1))
    assert KasService.small_rewrap(small) and not KasService.small_rewrap(large)


def test_dispatch_moves_a_failing_inline_test_to_a_thread() -> None:
    import anyio

    seen: list[str] = []

    def handler(message: Any, ctx: CallContext) -> Any:
        seen.append(threading.current_thread().name)
        return message

    method = Method(
        "t.S",
        "M",
        pb.RewrapRequest,
        pb.RewrapRequest,
        handler,
        inline=True,
        inline_if=KasService.small_rewrap,
    )
    ctx = CallContext(headers={})

    async def both() -> str:
        loop_thread = threading.current_thread().name
        await dispatch.call(method, pb.RewrapRequest(signed_request_token="s"), ctx)
        big = pb.RewrapRequest(signed_request_token="b" * (INLINE_TOKEN_BYTES + 1))
        await dispatch.call(method, big, ctx)
        return loop_thread

    loop_thread = anyio.run(both)
    assert seen[0] == loop_thread
    assert seen[1] != loop_thread
