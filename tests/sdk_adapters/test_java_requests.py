"""What the Java SDK 0.7.3 sends, seen through the installed adapter (``make sdks-java``).

0.7.3 reaches the platform and its KAS with gRPC (HTTP/2 without TLS, "prior knowledge"),
and only the IdP with plain HTTP. So the stub here is two servers on loopback: a logging
gRPC server (grpcio, a dev dependency) that answers the well-known configuration and the KAS
public key, and the HTTP stub of ``stub.py`` for OIDC discovery and the token. Everything
else is UNIMPLEMENTED, so encrypt completes and decrypt stops at the rewrap.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from tests.conftest import lane_missing
from tests.sdk_adapters.stub import EC_KID, RSA_KID, STUB_TOKEN, StubKeys, StubServer

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "sdk" / "java" / "dist" / "0.7.3" / "cli.sh"
WELL_KNOWN = "/wellknownconfiguration.WellKnownService/GetWellKnownConfiguration"
PUBLIC_KEY = "/kas.AccessService/PublicKey"
REWRAP = "/kas.AccessService/Rewrap"

if not os.access(CLI, os.X_OK):
    lane_missing(f"java@0.7.3 not installed ({CLI}): run `make sdks-java`")


def _field(number: int, raw: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    out, n = bytearray([number << 3 | 2]), len(raw)
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out) + raw


class OidcStub(StubServer):
    """The HTTP stub, with the discovery fields Nimbus (the SDK's OAuth library) requires."""

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: bytes):
        suffix = "/.well-known/openid-configuration"
        if method == "GET" and path.endswith(suffix):
            issuer = self.url + path.removesuffix(suffix)
            doc = {
                "issuer": issuer,
                "token_endpoint": f"{issuer}/protocol/openid-connect/token",
                "authorization_endpoint": f"{issuer}/protocol/openid-connect/auth",
                "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
                "subject_types_supported": ["public"],
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
            return 200, "application/json", json.dumps(doc).encode()
        return super()._answer(method, path, query, body)


@dataclass
class Call:
    method: str
    metadata: dict[str, str]
    body: bytes


@dataclass
class GrpcStub:
    keys: StubKeys
    issuer: str
    calls: list[Call] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4), handlers=[self._handler()]
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def call(self, method: str) -> Call:
        with self._lock:
            return next(c for c in self.calls if c.method == method)

    def _handler(self) -> grpc.GenericRpcHandler:
        stub = self

        class Handler(grpc.GenericRpcHandler):
            def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
                method = details.method

                def answer(request: bytes, context: grpc.ServicerContext) -> bytes:
                    with stub._lock:
                        stub.calls.append(
                            Call(method, dict(context.invocation_metadata()), request)
                        )
                    if method == WELL_KNOWN:
                        config = struct_pb2.Struct()
                        config.update({"platform_issuer": stub.issuer})
                        return _field(1, config.SerializeToString())
                    if method == PUBLIC_KEY:
                        ec = b"ec:" in request
                        pem, kid = (
                            (stub.keys.ec_pem, EC_KID) if ec else (stub.keys.rsa_pem, RSA_KID)
                        )
                        return _field(1, pem.encode()) + _field(2, kid.encode())
                    context.abort(grpc.StatusCode.UNIMPLEMENTED, f"stub has no {method}")
                    return b""

                return grpc.unary_unary_rpc_method_handler(answer)

        return Handler()

    def __enter__(self) -> GrpcStub:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)


@pytest.fixture
def servers(stub_keys: StubKeys) -> Iterator[tuple[GrpcStub, OidcStub]]:
    with OidcStub(keys=stub_keys) as http, GrpcStub(stub_keys, issuer=_issuer(http)) as rpc:
        yield rpc, http


def _issuer(http: StubServer) -> str:
    return f"{http.url}/auth/realms/opentdf"


def run(
    verb: str, src: Path, dst: Path, fmt: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("XT_WITH_")}
    return subprocess.run(
        [str(CLI), verb, str(src), str(dst), fmt],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def platform_env(rpc: GrpcStub) -> dict[str, str]:
    return {
        "PLATFORMURL": rpc.url,
        "KASURL": f"{rpc.url}/kas",
        "CLIENTID": "opentdf",
        "CLIENTSECRET": "secret",
    }


def _jwt_part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _hex_then_base64(value: str, nbytes: int) -> None:
    """0.7.3's hashes: the hex text of the digest, base64-encoded (the pre-4.3 layout)."""
    text = base64.b64decode(value).decode()
    assert len(text) == 2 * nbytes
    binascii.unhexlify(text)


def test_ztdf_encrypt_requests_and_manifest(
    servers: tuple[GrpcStub, OidcStub], plaintext: Path, tmp_path: Path
) -> None:
    rpc, http = servers
    ct = tmp_path / "ct.tdf"
    result = run(
        "encrypt", plaintext, ct, "ztdf", {**platform_env(rpc), "XT_WITH_MIME_TYPE": "text/csv"}
    )
    assert result.returncode == 0, result.stderr
    # gRPC: the well-known configuration (no credentials), then the key, with a DPoP token
    assert rpc.methods() == [WELL_KNOWN, PUBLIC_KEY]
    assert "authorization" not in rpc.call(WELL_KNOWN).metadata
    pk = rpc.call(PUBLIC_KEY)
    assert pk.metadata["authorization"] == f"DPoP {STUB_TOKEN}"
    proof = pk.metadata["dpop"]
    assert _jwt_part(proof, 0)["typ"] == "dpop+jwt"
    assert _jwt_part(proof, 0)["jwk"]["kty"] == "RSA"
    claims = _jwt_part(proof, 1)
    # the proof's htu is the gRPC method path alone, no scheme or host
    assert (claims["htm"], claims["htu"]) == ("POST", PUBLIC_KEY)
    assert pk.body == b"", "an empty PublicKeyRequest: no algorithm, so RSA"
    # HTTP: OIDC discovery at the issuer the platform named, then a DPoP-bound token request
    assert http.paths() == [
        "GET /auth/realms/opentdf/.well-known/openid-configuration",
        "POST /auth/realms/opentdf/protocol/openid-connect/token",
    ]
    token = http.requests[1]
    assert token.header("DPoP") is not None
    assert b"grant_type=client_credentials" in token.body_prefix
    assert (token.header("Authorization") or "").startswith("Basic ")
    with zipfile.ZipFile(ct) as z:
        manifest = json.loads(z.read("0.manifest.json"))
    assert "schemaVersion" not in manifest
    assert manifest["payload"]["mimeType"] == "text/csv"
    (kao,) = manifest["encryptionInformation"]["keyAccess"]
    assert (kao["kid"], kao["url"], kao["type"]) == (RSA_KID, f"{rpc.url}/kas", "wrapped")
    assert "schemaVersion" not in kao
    _hex_then_base64(kao["policyBinding"]["hash"], 32)
    integrity = manifest["encryptionInformation"]["integrityInformation"]
    _hex_then_base64(integrity["rootSignature"]["sig"], 32)
    _hex_then_base64(integrity["segments"][0]["hash"], 16)


def test_nano_encrypt_asks_for_the_ec_key_and_names_its_kid(
    servers: tuple[GrpcStub, OidcStub], plaintext: Path, tmp_path: Path
) -> None:
    from xtdf.formats.nano.header import parse_header

    rpc, _ = servers
    ct = tmp_path / "ct.ntdf"
    result = run("encrypt", plaintext, ct, "nano", platform_env(rpc))
    assert result.returncode == 0, result.stderr
    pk = rpc.call(PUBLIC_KEY)
    assert b"ec:secp256r1" in pk.body
    header, _ = parse_header(ct.read_bytes())
    assert header.kas.kid.rstrip(b"\0") == EC_KID.encode()
    assert not header.ecdsa_binding


def test_decrypt_failure_is_one_typed_line_and_no_dst(
    servers: tuple[GrpcStub, OidcStub], plaintext: Path, tmp_path: Path
) -> None:
    rpc, _ = servers
    ct = tmp_path / "ct.tdf"
    assert run("encrypt", plaintext, ct, "ztdf", platform_env(rpc)).returncode == 0
    dst = tmp_path / "rt.txt"
    result = run("decrypt", ct, dst, "ztdf", platform_env(rpc))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("xtdf-java-cli@0.7.3: error: ")
    assert "UNIMPLEMENTED" in line
    assert REWRAP in rpc.methods()
    assert not dst.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".rt.txt")] == []


def test_an_http1_platform_is_refused_at_the_first_frame(
    stub: StubServer, plaintext: Path, tmp_path: Path
) -> None:
    """0.7.3 opens gRPC with the HTTP/2 preface; an HTTP/1.1-only server answers with an
    HTTP/1.1 error, which gRPC-Java reports as its first frame not being SETTINGS."""
    dst = tmp_path / "ct.tdf"
    result = run("encrypt", plaintext, dst, "ztdf", stub.env())
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "when getting configuration" in line and "First received frame was not SETTINGS" in line
    assert not dst.exists()
