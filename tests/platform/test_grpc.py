"""gRPC on the platform's own ports: a real grpcio client over loopback, against the real
platform, through the same dispatch (authentication, role policy, limits) as Connect."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.message import Message
from joserfc.jwk import ECKey, RSAKey

from tests.platform.conftest import (
    TEST_SERVICE,
    Caller,
    Echo,
    LocalPlatform,
    dpop_proof,
    start_platform,
)
from tests.platform.test_kas_rewrap import kao_message, recover, request_body, sign_srt
from xtdf._proto.kas import kas_pb2 as pb
from xtdf._proto.policy.namespaces import namespaces_pb2 as ns_pb
from xtdf._proto.wellknownconfiguration import wellknown_configuration_pb2 as wk_pb
from xtdf.crypto import ec as xec
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, make_kao
from xtdf.formats.ztdf.policy import Policy
from xtdf.platform.h2_splice import PREFACE
from xtdf.platform.server import PlatformServer
from xtdf.platform.wellknown import HealthCheckRequest, HealthCheckResponse

WELL_KNOWN = "/wellknownconfiguration.WellKnownService/GetWellKnownConfiguration"
PUBLIC_KEY = "/kas.AccessService/PublicKey"
REWRAP = "/kas.AccessService/Rewrap"
CREATE_NS = "/policy.namespaces.NamespaceService/CreateNamespace"
LIST_NS = "/policy.namespaces.NamespaceService/ListNamespaces"
HEALTH = "/grpc.health.v1.Health/Check"
#: an HTTP/2 SETTINGS frame with no settings: length 0, type 4, no flags, stream 0
EMPTY_SETTINGS = bytes.fromhex("000000040000000000")


def target(url: str) -> str:
    """``host:port`` of a URL, as an SDK dials it for gRPC."""
    return httpx.URL(url).netloc.decode()


def call(
    channel: grpc.Channel,
    path: str,
    request: Message,
    response_type: type[Message],
    metadata: list[tuple[str, str]] | None = None,
) -> Any:
    stub = channel.unary_unary(
        path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_type.FromString,
    )
    return stub(request, metadata=metadata, timeout=30)


def refusal(channel: grpc.Channel, path: str, request: bytes, **kw: Any) -> grpc.RpcError:
    stub = channel.unary_unary(path)  # raw bytes both ways
    with pytest.raises(grpc.RpcError) as info:
        stub(request, timeout=30, **kw)
    return info.value


def dpop_metadata(key: ECKey | RSAKey, token: str, htu: str) -> list[tuple[str, str]]:
    return [("authorization", f"DPoP {token}"), ("dpop", dpop_proof(key, "POST", htu, token))]


@pytest.fixture(scope="module")
def channel(local_platform: LocalPlatform) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(target(local_platform.url)) as ch:
        yield ch


def namespaces(lp: LocalPlatform, channel: grpc.Channel) -> set[str]:
    resp = call(
        channel,
        LIST_NS,
        ns_pb.ListNamespacesRequest(),
        ns_pb.ListNamespacesResponse,
        [("authorization", f"Bearer {lp.token('opentdf')}")],
    )
    return {n.name for n in resp.namespaces}


# -- public calls --------------------------------------------------------------------------


def test_well_known_configuration_without_credentials(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    resp = call(
        channel,
        WELL_KNOWN,
        wk_pb.GetWellKnownConfigurationRequest(),
        wk_pb.GetWellKnownConfigurationResponse,
    )
    fields = resp.configuration.fields
    assert fields["platform_issuer"].string_value == local_platform.issuer


def test_health_check(channel: grpc.Channel) -> None:
    resp = call(channel, HEALTH, HealthCheckRequest(), HealthCheckResponse)
    assert resp.status == 1  # SERVING


@pytest.mark.parametrize("instance", ["default", "value1"])
def test_kas_public_keys_on_the_port_of_each_kas_url(
    local_platform: LocalPlatform, instance: str
) -> None:
    """The Java SDK dials a KAS at its URL's host:port: the platform's for the default KAS,
    the instance's own port for the others."""
    with grpc.insecure_channel(target(local_platform.kas_urls[instance])) as ch:
        rsa_pub = call(ch, PUBLIC_KEY, pb.PublicKeyRequest(), pb.PublicKeyResponse)
        ec_pub = call(
            ch, PUBLIC_KEY, pb.PublicKeyRequest(algorithm="ec:secp256r1"), pb.PublicKeyResponse
        )
    assert (rsa_pub.kid, ec_pub.kid) == ("r1", "ec1")
    assert "BEGIN PUBLIC KEY" in rsa_pub.public_key and "BEGIN PUBLIC KEY" in ec_pub.public_key


def test_kas_port_serves_only_kas_methods(local_platform: LocalPlatform) -> None:
    with grpc.insecure_channel(target(local_platform.kas_urls["value1"])) as ch:
        err = refusal(ch, LIST_NS, b"")
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED


def test_unknown_method_is_unimplemented(channel: grpc.Channel) -> None:
    assert refusal(channel, "/kas.AccessService/Nope", b"").code() == grpc.StatusCode.UNIMPLEMENTED


def test_malformed_message_is_invalid_argument_naming_its_type(channel: grpc.Channel) -> None:
    err = refusal(channel, PUBLIC_KEY, b"\xff\xff\xff")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid kas.PublicKeyRequest protobuf" in err.details()


# -- rewrap ----------------------------------------------------------------------------------


@pytest.mark.parametrize("htu", ["path", "url"])
def test_rewrap_with_dpop_releases_the_share(
    local_platform: LocalPlatform, channel: grpc.Channel, htu: str
) -> None:
    """As the Java SDK calls it: DPoP-bound token, an RSA proof whose ``htu`` is the method
    path alone; a full URL on the advertised host is accepted too."""
    lp = local_platform
    pub = call(channel, PUBLIC_KEY, pb.PublicKeyRequest(), pb.PublicKeyResponse)
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    kas_url = lp.kas_urls["default"]
    kao = kao_message(make_kao(KeyAccessTarget(kas_url, pub.public_key, pub.kid), share, policy))
    client = xec.generate()
    body = request_body(client, [("p", policy, [("k", kao)])])
    dpop = RSAKey.generate_key(2048)
    token = lp.token("opentdf-sdk", dpop_key=dpop)
    proof_htu = REWRAP if htu == "path" else lp.url + REWRAP
    resp = call(
        channel,
        REWRAP,
        pb.RewrapRequest(signed_request_token=sign_srt(dpop, body)),
        pb.RewrapResponse,
        dpop_metadata(dpop, token, proof_htu),
    )
    (result,) = [r for p in resp.responses for r in p.results]
    assert result.key_access_object_id == "k" and result.status == "permit", result
    assert recover(resp, client, result.kas_wrapped_key) == share


def test_rewrap_without_token_is_unauthenticated(channel: grpc.Channel) -> None:
    err = refusal(channel, REWRAP, pb.RewrapRequest(signed_request_token="x").SerializeToString())
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.details() == "missing authorization header"
    assert ("www-authenticate", "Bearer") in tuple(err.trailing_metadata() or ())


def test_rewrap_with_a_proof_for_another_method_is_unauthenticated(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    dpop = ECKey.generate_key("P-256")
    token = local_platform.token(dpop_key=dpop)
    err = refusal(
        channel,
        REWRAP,
        pb.RewrapRequest(signed_request_token="x").SerializeToString(),
        metadata=dpop_metadata(dpop, token, PUBLIC_KEY),
    )
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "DPoP proof htu" in err.details()


# -- role policy and limits -----------------------------------------------------------------


def test_policy_write_by_a_standard_client_is_permission_denied(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    name = "grpc-std.example"
    err = refusal(
        channel,
        CREATE_NS,
        ns_pb.CreateNamespaceRequest(name=name).SerializeToString(),
        metadata=[("authorization", f"Bearer {local_platform.token('opentdf-sdk')}")],
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert err.details().startswith(
        "permission denied: policy.namespaces.NamespaceService/CreateNamespace (write)"
    )
    assert name not in namespaces(local_platform, channel)


def test_policy_write_by_the_admin_happens(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    name = "grpc-admin.example"
    resp = call(
        channel,
        CREATE_NS,
        ns_pb.CreateNamespaceRequest(name=name),
        ns_pb.CreateNamespaceResponse,
        [("authorization", f"Bearer {local_platform.token('opentdf')}")],
    )
    assert resp.namespace.name == name
    assert name in namespaces(local_platform, channel)


def test_message_over_the_body_cap_is_resource_exhausted_and_does_nothing(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    cap = local_platform.config.max_body_bytes
    name = "big" + "x" * cap + ".example"
    err = refusal(
        channel,
        CREATE_NS,
        ns_pb.CreateNamespaceRequest(name=name).SerializeToString(),
        metadata=[("authorization", f"Bearer {local_platform.token('opentdf')}")],
    )
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"vs. {cap})" in err.details()  # grpcio: "larger than max (N vs. CAP)"
    assert not any(n.startswith("bigxxx") for n in namespaces(local_platform, channel))


def test_metadata_over_the_header_cap_is_refused_and_does_nothing(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    cap = local_platform.config.max_header_bytes
    name = "grpc-bigmeta.example"
    err = refusal(
        channel,
        CREATE_NS,
        ns_pb.CreateNamespaceRequest(name=name).SerializeToString(),
        metadata=[
            ("authorization", f"Bearer {local_platform.token('opentdf')}"),
            ("x-padding", "p" * cap),
        ],
    )
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (err.code(), err.details())
    assert name not in namespaces(local_platform, channel)


# -- the dispatch behind it: context, errors, deadline (the test-only methods) -------------


def test_caller_context_on_a_kas_port(bare_platform: LocalPlatform) -> None:
    """What a handler learns over gRPC: the verified client, the DPoP key, the KAS instance
    whose port was dialled and that port's advertised base URL."""
    lp = bare_platform
    dpop = ECKey.generate_key("P-256")
    token = lp.token(dpop_key=dpop)
    kas = lp.kas_urls["value1"]
    with grpc.insecure_channel(target(kas)) as ch:
        got = call(ch, REWRAP, Echo(), Caller, dpop_metadata(dpop, token, REWRAP))
    assert (got.client_id, got.instance) == ("opentdf", "value1")
    with grpc.insecure_channel(target(lp.url)) as ch:
        who = call(
            ch,
            f"/{TEST_SERVICE}/WhoAmI",
            Echo(),
            Caller,
            dpop_metadata(dpop, token, f"/{TEST_SERVICE}/WhoAmI"),
        )
    assert who.dpop_jkt == dpop.thumbprint() and who.has_dpop_jwk
    assert who.base_url == lp.url and who.instance == "default"


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("refuse", grpc.StatusCode.PERMISSION_DENIED, "refused on request"),
        ("denied", grpc.StatusCode.PERMISSION_DENIED, "not entitled on request"),
        ("crash", grpc.StatusCode.INTERNAL, "/xtdftest.TestService/Echo failed: internal error"),
        ("wrong-type", grpc.StatusCode.INTERNAL, "returned the wrong message type"),
    ],
)
def test_handler_errors_keep_their_code_and_message(
    bare_platform: LocalPlatform, text: str, code: grpc.StatusCode, message: str
) -> None:
    with grpc.insecure_channel(target(bare_platform.url)) as ch:
        err = refusal(ch, f"/{TEST_SERVICE}/Echo", Echo(text=text).SerializeToString())
    assert err.code() == code and message in err.details(), (err.code(), err.details())
    assert "secret internals" not in err.details()


def test_deadline_is_the_callers(bare_platform: LocalPlatform) -> None:
    with grpc.insecure_channel(target(bare_platform.url)) as ch:
        stub = ch.unary_unary(f"/{TEST_SERVICE}/Echo")
        with pytest.raises(grpc.RpcError) as info:
            stub(Echo(text="slow").SerializeToString(), timeout=0.2)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # the connection and the server are fine afterwards
        echoed = call(ch, f"/{TEST_SERVICE}/Echo", Echo(text="hi"), Echo)
    assert echoed.text == "hi"


# -- HTTP/1.1 beside gRPC on one port ------------------------------------------------------


def test_connect_and_rest_still_served_on_the_same_port(
    local_platform: LocalPlatform, channel: grpc.Channel
) -> None:
    lp = local_platform
    # a gRPC connection is open on the port while HTTP/1.1 calls arrive
    call(channel, PUBLIC_KEY, pb.PublicKeyRequest(), pb.PublicKeyResponse)
    r = httpx.post(
        lp.url + PUBLIC_KEY,
        content=pb.PublicKeyRequest().SerializeToString(),
        headers={"Content-Type": "application/proto", "Connect-Protocol-Version": "1"},
    )
    assert r.status_code == 200 and pb.PublicKeyResponse.FromString(r.content).kid == "r1"
    r = httpx.get(lp.url + "/kas/v2/kas_public_key")
    assert r.status_code == 200 and r.json()["kid"] == "r1"
    r = httpx.get(lp.kas_urls["value1"].removesuffix("/kas") + "/healthz")
    assert r.status_code == 200


# -- the connection gate counts gRPC connections ---------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    server = start_platform(
        tmp_path_factory.mktemp("grpc-small"), max_connections=8, header_timeout_s=1
    )
    try:
        yield server
    finally:
        server.stop()


def test_grpc_connections_count_in_the_connection_gate(small: PlatformServer) -> None:
    port = small.config.platform_port
    held = []
    try:
        for _ in range(small.config.max_connections):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(PREFACE + EMPTY_SETTINGS)  # an HTTP/2 connection, idle
            held.append(s)
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert r.status_code == 503 and r.text == "too many open connections"
    finally:
        for s in held:
            s.close()
    for _ in range(100):  # the gate is left as each closed connection is seen
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        if r.status_code == 200:
            break
    assert r.status_code == 200


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(30)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_stalled_preface_gets_the_header_timeout(small: PlatformServer) -> None:
    with socket.create_connection(("127.0.0.1", small.config.platform_port)) as s:
        s.sendall(PREFACE[:10])
        assert _answer(s).startswith(b"HTTP/1.1 408 ")


def test_preface_without_settings_is_closed_by_the_handshake_timeout(
    small: PlatformServer,
) -> None:
    with socket.create_connection(("127.0.0.1", small.config.platform_port)) as s:
        s.sendall(PREFACE)
        answer = _answer(s)  # returns: the server closed it
    assert not answer.startswith(b"HTTP/")  # HTTP/2 frames (SETTINGS, GOAWAY), not HTTP/1.1


def test_a_request_line_like_the_preface_is_http1(small: PlatformServer) -> None:
    with socket.create_connection(("127.0.0.1", small.config.platform_port)) as s:
        s.sendall(b"PRI * HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(s).startswith(b"HTTP/1.1 400 ")


def test_stop_with_an_open_grpc_channel(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_platform(tmp_path_factory.mktemp("grpc-stop"), kas_ports={})
    with grpc.insecure_channel(f"127.0.0.1:{server.config.platform_port}") as ch:
        call(ch, PUBLIC_KEY, pb.PublicKeyRequest(), pb.PublicKeyResponse)
        thread = server._thread
        assert thread is not None
        server.stop()
        assert not thread.is_alive()  # the open channel held nothing up
        with pytest.raises(grpc.RpcError) as info:
            call(ch, PUBLIC_KEY, pb.PublicKeyRequest(), pb.PublicKeyResponse)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
