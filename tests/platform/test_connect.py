"""The Connect unary transport and the REST gateway against the real server on loopback."""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.platform.conftest import TEST_PEM, TEST_SERVICE, Echo, LocalPlatform

CONNECT = {"Connect-Protocol-Version": "1"}
JSON_CT = {**CONNECT, "Content-Type": "application/json"}
PROTO_CT = {**CONNECT, "Content-Type": "application/proto"}


@pytest.fixture(scope="module")
def lp(bare_platform: LocalPlatform) -> LocalPlatform:
    return bare_platform


@pytest.fixture(scope="module")
def http() -> httpx.Client:
    with httpx.Client(timeout=30.0) as client:
        yield client


def rpc(lp: LocalPlatform, name: str, service: str = TEST_SERVICE) -> str:
    return f"{lp.url}/{service}/{name}"


def test_json_round_trip_camel_and_original_names(lp, http) -> None:
    body = {"text": "hi", "number": 7, "flag": True, "blob": "AAEC", "longNameField": "x"}
    r = http.post(rpc(lp, "Echo"), json=body, headers=CONNECT)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == body
    r = http.post(
        rpc(lp, "Echo"), json={"long_name_field": "y", "unknownField": 1}, headers=CONNECT
    )
    assert r.status_code == 200
    assert r.json() == {"longNameField": "y"}


def test_binary_and_gzip_binary(lp, http) -> None:
    msg = Echo(text="bin", number=-3, blob=bytes(range(256)))
    raw = msg.SerializeToString()
    r = http.post(rpc(lp, "Echo"), content=raw, headers=PROTO_CT)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/proto"
    assert Echo.FromString(r.content) == msg
    r = http.post(
        rpc(lp, "Echo"),
        content=gzip.compress(raw),
        headers={**PROTO_CT, "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200
    assert Echo.FromString(r.content) == msg


def test_json_with_charset_and_without_protocol_header(lp, http) -> None:
    r = http.post(
        rpc(lp, "Echo"),
        content=b'{"text":"c"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200 and r.json() == {"text": "c"}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(max_size=50), number=st.integers(-(2**31), 2**31 - 1), blob=st.binary(max_size=64)
)
def test_codecs_agree(lp, http, text: str, number: int, blob: bytes) -> None:
    msg = Echo(
        text="" if text in ("refuse", "crash", "denied", "wrong-type", "slow") else text,
        number=number,
        blob=blob,
    )
    r = http.post(rpc(lp, "Echo"), content=msg.SerializeToString(), headers=PROTO_CT)
    assert Echo.FromString(r.content) == msg
    from google.protobuf import json_format

    r = http.post(rpc(lp, "Echo"), content=json_format.MessageToJson(msg), headers=JSON_CT)
    assert json_format.Parse(r.text, Echo()) == msg


@pytest.mark.parametrize(
    ("content", "headers", "fragment"),
    [
        (b"{not json", JSON_CT, "not valid JSON"),
        (b'{"number": "seven"}', JSON_CT, "not valid JSON"),
        (b"[1,2]", JSON_CT, "not valid JSON"),
        (b"\xff\xff\xff\xff", PROTO_CT, "not a valid xtdftest.Echo protobuf"),
        (b"\x1f\x8b\x08garbage", {**PROTO_CT, "Content-Encoding": "gzip"}, "not valid gzip"),
        (
            gzip.compress(b"\x0a\x02hi", mtime=0)[:-6],
            {**PROTO_CT, "Content-Encoding": "gzip"},
            "truncated",
        ),
    ],
    ids=["json-syntax", "json-type", "json-array", "proto", "gzip", "gzip-truncated"],
)
def test_malformed_bodies_are_invalid_argument(lp, http, content, headers, fragment) -> None:
    r = http.post(rpc(lp, "Echo"), content=content, headers=headers)
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == "invalid_argument"
    assert fragment in err["message"]


def test_unsupported_compression_and_version(lp, http) -> None:
    r = http.post(rpc(lp, "Echo"), content=b"{}", headers={**JSON_CT, "Content-Encoding": "br"})
    assert r.status_code == 501 and r.json()["code"] == "unimplemented"
    r = http.post(
        rpc(lp, "Echo"), content=b"{}", headers={**JSON_CT, "Connect-Protocol-Version": "2"}
    )
    assert r.status_code == 400 and "Connect-Protocol-Version" in r.json()["message"]


def test_unsupported_content_type_is_415(lp, http) -> None:
    r = http.post(rpc(lp, "Echo"), content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_oversized_body_declared_length(lp, http) -> None:
    big = json.dumps({"text": "a" * (70 * 1024)}).encode()
    r = http.post(rpc(lp, "Echo"), content=big, headers=JSON_CT)
    assert r.status_code == 429
    assert r.json()["code"] == "resource_exhausted"


def test_oversized_body_streamed_without_length(lp, http) -> None:
    def chunks():
        yield b'{"text":"'
        for _ in range(200):
            yield b"a" * 1024
        yield b'"}'

    r = http.post(rpc(lp, "Echo"), content=chunks(), headers=JSON_CT)
    assert r.status_code == 429
    assert r.json()["code"] == "resource_exhausted"


def test_gzip_bomb_is_resource_exhausted(lp, http) -> None:
    bomb = gzip.compress(b"\x0a" + b"\x00" * (1024 * 1024))
    assert len(bomb) < 64 * 1024
    r = http.post(rpc(lp, "Echo"), content=bomb, headers={**PROTO_CT, "Content-Encoding": "gzip"})
    assert r.status_code == 429 and r.json()["code"] == "resource_exhausted"


def test_unknown_method_is_404(lp, http) -> None:
    r = http.post(rpc(lp, "Nope"), json={}, headers=CONNECT)
    assert r.status_code == 404
    assert r.json()["code"] == "unimplemented"
    r = http.post(f"{lp.url}/no.Such/Thing", json={}, headers=CONNECT)
    assert r.status_code == 404


def test_get_form_for_idempotent_methods(lp, http) -> None:
    r = http.get(rpc(lp, "Echo"), params={"encoding": "json", "message": '{"text":"g"}'})
    assert r.status_code == 200 and r.json() == {"text": "g"}
    raw = Echo(text="b64").SerializeToString()
    msg = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    r = http.get(rpc(lp, "Echo"), params={"encoding": "proto", "base64": "1", "message": msg})
    assert r.status_code == 200 and Echo.FromString(r.content).text == "b64"
    r = http.get(rpc(lp, "AuthedEcho"), params={"encoding": "json", "message": "{}"})
    assert r.status_code == 405
    r = http.get(rpc(lp, "Echo"), params={"encoding": "xml", "message": "{}"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        ("refuse", 403, "permission_denied"),
        ("denied", 403, "permission_denied"),
        ("crash", 500, "internal"),
        ("wrong-type", 500, "internal"),
    ],
)
def test_handler_failures_map_to_connect_errors(lp, http, text, status, code) -> None:
    r = http.post(rpc(lp, "Echo"), json={"text": text}, headers=CONNECT)
    assert r.status_code == status
    assert r.json()["code"] == code
    assert "secret internals" not in r.text


def test_deadline_exceeded(lp, http) -> None:
    r = http.post(
        rpc(lp, "Echo"), json={"text": "slow"}, headers={**CONNECT, "Connect-Timeout-Ms": "100"}
    )
    assert r.status_code == 504 and r.json()["code"] == "deadline_exceeded"


def test_inline_methods_run_on_the_event_loop_and_fail_the_same_way(lp, http) -> None:
    threads = {
        name: http.post(rpc(lp, name), json={}, headers=CONNECT).json()["text"]
        for name in ("Thread", "InlineThread")
    }
    assert threads["Thread"] != threads["InlineThread"]
    for name in ("Thread", "InlineThread"):
        for text, status, code in (
            ("refuse", 403, "permission_denied"),
            ("crash", 500, "internal"),
        ):
            r = http.post(rpc(lp, name), json={"text": text}, headers=CONNECT)
            assert (r.status_code, r.json()["code"]) == (status, code), (name, text)
            assert "secret internals" not in r.text


def test_health(lp, http) -> None:
    for url in (lp.url, lp.idp_url, lp.config.url(lp.config.kas_ports["value1"])):
        r = http.get(url + "/healthz")
        assert r.status_code == 200 and r.json() == {"status": "SERVING"}


# -- extra KAS instances and the REST gateway -------------------------------------------


def test_kas_instance_reaches_handler(lp, http) -> None:
    base = lp.config.url(lp.config.kas_ports["value1"])
    r = http.post(
        f"{base}/kas.AccessService/PublicKey", json={"algorithm": "rsa:2048"}, headers=CONNECT
    )
    assert r.status_code == 200
    assert r.json() == {"publicKey": TEST_PEM, "kid": "value1:rsa:2048"}
    r = http.post(f"{lp.url}/kas.AccessService/PublicKey", json={}, headers=CONNECT)
    assert r.json()["kid"] == "default:"


def test_kas_port_serves_only_kas(lp, http) -> None:
    base = lp.config.url(lp.config.kas_ports["value1"])
    r = http.post(f"{base}/{TEST_SERVICE}/Echo", json={}, headers=CONNECT)
    assert r.status_code == 404
    r = http.get(f"{base}/auth/realms/opentdf/protocol/openid-connect/certs")
    assert r.status_code == 404


def test_rest_public_key_routes(lp, http) -> None:
    r = http.get(f"{lp.url}/kas/v2/kas_public_key", params={"algorithm": "ec:secp256r1"})
    assert r.status_code == 200
    assert r.json() == {"publicKey": TEST_PEM, "kid": "default:ec:secp256r1"}
    r = http.get(f"{lp.url}/kas/kas_public_key", params={"v": "2"})
    assert r.json() == {"publicKey": TEST_PEM, "kid": "default:"}
    # without v=2: the bare PEM as a JSON string (JS NanoTDF client)
    r = http.get(f"{lp.url}/kas/kas_public_key", params={"algorithm": "ec:secp256r1"})
    assert r.status_code == 200 and r.json() == TEST_PEM
    base = lp.config.url(lp.config.kas_ports["value1"])
    r = http.get(f"{base}/kas/v2/kas_public_key")
    assert r.json()["kid"] == "value1:"


def test_rest_rewrap_needs_token_and_reuses_handler(lp, http) -> None:
    r = http.post(f"{lp.url}/kas/v2/rewrap", json={"text": "x"})
    assert r.status_code == 401
    assert r.json()["code"] == 16  # grpc-gateway error shape: gRPC UNAUTHENTICATED
    r = http.post(f"{lp.url}/kas/v2/rewrap", json={"text": "x"}, headers=lp.headers(lp.token()))
    assert r.status_code == 200
    assert r.json() == {
        "clientId": "opentdf",
        "dpopJkt": "",
        "instance": "default",
        "baseUrl": "",
        "hasDpopJwk": False,
    }
    r = http.post(f"{lp.url}/kas/v2/rewrap", content=b"{bad", headers=lp.headers(lp.token()))
    assert r.status_code == 400 and r.json()["code"] == 3


def test_response_message_in_connect(lp, http) -> None:
    r = http.post(rpc(lp, "WhoAmI"), json={}, headers={**CONNECT, **lp.headers(lp.token())})
    assert r.status_code == 200
    caller = r.json()
    assert caller["clientId"] == "opentdf"
    assert caller["baseUrl"] == lp.url
    assert caller["instance"] == "default"


def test_localhost_over_ipv6_loopback_too(lp, http) -> None:
    """Clients that resolve ``localhost`` to ``::1`` first still reach every port."""
    if "platform" not in lp.server._v6:
        pytest.skip("no IPv6 loopback on this machine")
    for port in (lp.config.platform_port, lp.config.idp_port, lp.config.kas_ports["value1"]):
        r = http.get(f"http://[::1]:{port}/healthz")
        assert r.status_code == 200


def test_every_event_loop_accepts_connections(lp, http) -> None:
    """Two loops (the default) listen on one socket: fresh connections reach both, and
    stopping the platform stops both without an error (tests/platform/test_server.py
    checks the stop)."""
    assert lp.config.event_loops == 2
    seen: set[str] = set()
    for _ in range(200):
        with httpx.Client(timeout=30.0) as fresh:  # a new connection each time
            r = fresh.post(rpc(lp, "InlineThread"), json={}, headers=CONNECT)
        seen.add(r.json()["text"])
        if len(seen) == 2:
            break
    assert len(seen) == 2, seen
