"""RFC 9449 §8 nonce challenges: the client retries once with the server's ``DPoP-Nonce``.

Our platform does not issue nonces, so a minimal stand-in server (stdlib ``http.server``)
plays the part of an IdP and a resource server that do; it checks the proofs' signatures
with joserfc, independently of the client's JOSE code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jws
from joserfc.jwk import import_key

from xtdf.client.config import ClientConfig
from xtdf.client.platform_client import PlatformClient

SEEN: list[tuple[str, str | None]] = []


def _proof_nonce(header: str | None) -> str | None:
    assert header, "request carried no DPoP proof"
    # the client's DPoP key is RSA-2048 (as the Go SDK's): its JWK header is past joserfc's
    # default 512-byte limit
    registry = jws.JWSRegistry()
    registry.max_header_length = 4096
    obj = jws.extract_compact(header.encode(), registry=registry)
    key = import_key(obj.headers()["jwk"])
    assert jws.validate_compact(obj, key, [obj.headers()["alg"]], registry=registry)
    return json.loads(obj.payload).get("nonce")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict, nonce: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if nonce:
            self.send_header("DPoP-Nonce", nonce)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        nonce = _proof_nonce(self.headers.get("DPoP"))
        SEEN.append((self.path, nonce))
        if self.path == "/token":
            if nonce != "idp-nonce":
                self._send(400, {"error": "use_dpop_nonce"}, "idp-nonce")
            else:
                self._send(200, {"access_token": "t", "token_type": "DPoP", "expires_in": 300})
        elif nonce != "rs-nonce":
            self._send(401, {"code": "unauthenticated", "message": "nonce"}, "rs-nonce")
        else:
            self._send(200, {"ok": True})


@pytest.fixture
def nonce_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_token_and_call_retry_with_the_servers_nonce(nonce_server: str) -> None:
    config = ClientConfig(
        platform_url=nonce_server,
        client_id="c",
        client_secret="s",
        token_endpoint=f"{nonce_server}/token",
    )
    with PlatformClient(config) as client:
        assert client.authed_call(f"{nonce_server}/svc/M", {}) == {"ok": True}
        assert client.authed_call(f"{nonce_server}/svc/M", {}) == {"ok": True}
    assert SEEN == [
        ("/token", None),
        ("/token", "idp-nonce"),
        ("/svc/M", "idp-nonce"),  # nonces are kept per origin, and this is one origin
        ("/svc/M", "rs-nonce"),
        ("/svc/M", "rs-nonce"),  # remembered: no second challenge
    ]
