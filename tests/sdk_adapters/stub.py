"""A logging HTTP server on loopback that stands in for a platform, to see what clients send.

Independent clients are black boxes; pointing one at this stub shows exactly which requests
it makes (method, path, headers, the start of the body). It answers just enough for an
encrypt to finish, and a decrypt to reach its rewrap, without a real platform: OIDC discovery
and a client-credentials token (an opaque string), the KAS public key, both as upstream's legacy
REST route (``/kas/kas_public_key``, the JS client) and as the Connect RPC
``/kas.AccessService/PublicKey`` (otdf-python). Everything else gets a 404.

Run it by hand to observe a client::

    .venv/bin/python -m tests.sdk_adapters.stub     # prints its URL, logs each request
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

#: bytes of each request body kept in the log
BODY_PREFIX = 256
#: kids the stub answers with, so tests can find them in a manifest
RSA_KID = "stub-r1"
EC_KID = "stub-e1"
#: the access token the stub's IdP hands out; a rewrap request should carry it
STUB_TOKEN = "stub-access-token"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body_prefix: bytes
    body_length: int

    def header(self, name: str) -> str | None:
        """Headers by case-insensitive name (HTTP says case does not matter)."""
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def line(self) -> str:
        """One log line: what ``docs/compat.md`` quotes as an observed request."""
        shown = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        return (
            f"{self.method} {self.path}"
            + (f"?{'&'.join(f'{k}={v[0]}' for k, v in self.query.items())}" if self.query else "")
            + f" headers={json.dumps(shown, sort_keys=True)}"
            + f" body[{self.body_length}]={self.body_prefix[:48].hex()}"
        )


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _proto_string(field_number: int, value: str) -> bytes:
    """One length-delimited protobuf field (wire type 2); enough for PublicKeyResponse."""
    raw = value.encode()
    return _varint(field_number << 3 | 2) + _varint(len(raw)) + raw


@dataclass
class StubKeys:
    """Fresh KAS key pairs per stub: only the public halves are ever served."""

    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @cached_property
    def rsa_pem(self) -> str:
        return self._pem(self.rsa_key.public_key())

    @cached_property
    def ec_pem(self) -> str:
        return self._pem(self.ec_key.public_key())

    @staticmethod
    def _pem(public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


class StubServer:
    """Context manager: a threaded HTTP server on 127.0.0.1 with a request log."""

    def __init__(self, keys: StubKeys | None = None, echo: bool = False) -> None:
        self.keys = keys or StubKeys()
        self.requests: list[Request] = []
        self.echo = echo
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """Upstream's ``test.env`` variables, all pointing at this stub."""
        return {
            "PLATFORMURL": self.url,
            "PLATFORMENDPOINT": self.url.removeprefix("http://"),
            "KASURL": f"{self.url}/kas",
            "KCFULLURL": f"{self.url}/auth/realms/opentdf",
            "TOKENENDPOINT": f"{self.url}/auth/realms/opentdf/protocol/openid-connect/token",
            "CLIENTID": "opentdf",
            "CLIENTSECRET": "secret",
        }

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def paths(self) -> list[str]:
        with self._lock:
            return [f"{r.method} {r.path}" for r in self.requests]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
        if self.echo:
            print(request.line(), flush=True)

    # -- responses -------------------------------------------------------------------
    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: bytes):
        """(status, content type, body) for one request."""
        if method == "GET" and path in ("/kas/kas_public_key", "/kas/v2/kas_public_key"):
            alg = query.get("algorithm", ["rsa:2048"])[0]
            pem, kid = (
                (self.keys.ec_pem, EC_KID)
                if alg.startswith("ec:")
                else (self.keys.rsa_pem, RSA_KID)
            )
            # v2 (and the /v2/ route) answer an object; v1 answers the PEM as a JSON string,
            # which is what the JS NanoTDF client parses
            v2 = path.startswith("/kas/v2/") or query.get("v") == ["2"]
            payload: object = {"publicKey": pem, "kid": kid} if v2 else pem
            return 200, "application/json", json.dumps(payload).encode()
        if method == "POST" and path == "/kas.AccessService/PublicKey":
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            if b"ec:" in body:
                pem, kid = self.keys.ec_pem, EC_KID
            else:
                pem, kid = self.keys.rsa_pem, RSA_KID
            # kas.PublicKeyResponse: public_key = 1, kid = 2
            return 200, "application/proto", _proto_string(1, pem) + _proto_string(2, kid)
        if method == "GET" and path.endswith("/.well-known/openid-configuration"):
            issuer = self.url + path.removesuffix("/.well-known/openid-configuration")
            doc = {"issuer": issuer, "token_endpoint": f"{issuer}/protocol/openid-connect/token"}
            return 200, "application/json", json.dumps(doc).encode()
        if method == "POST" and path.endswith("/protocol/openid-connect/token"):
            token = {"access_token": STUB_TOKEN, "token_type": "Bearer", "expires_in": 300}
            return 200, "application/json", json.dumps(token).encode()
        error = {"code": "not_found", "message": f"stub has no {method} {path}"}
        return 404, "application/json", json.dumps(error).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                server._record(
                    Request(
                        method=self.command,
                        path=parts.path,
                        query=query,
                        headers=dict(self.headers.items()),
                        body_prefix=body[:BODY_PREFIX],
                        body_length=len(body),
                    )
                )
                status, ctype, out = server._answer(self.command, parts.path, query, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                """Silence the default stderr access log; ``echo`` prints our own."""

        return Handler


def main() -> None:
    with StubServer(echo=True) as stub:
        print(f"logging stub at {stub.url}; environment for cli.sh:", flush=True)
        for k, v in stub.env().items():
            print(f"  export {k}={v}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
