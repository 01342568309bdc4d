"""Connection and header bounds on a real platform over loopback (raw sockets).

Each refusal must come with its own status line and a closed connection, cost the server
little, and leave ``/healthz`` answering for everyone else.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.platform.conftest import LocalPlatform, start_platform


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    server = start_platform(
        tmp_path_factory.mktemp("xtdf-limits"),
        services=[],
        kas_ports={},
        max_header_bytes=16 * 1024,
        max_headers=20,
        header_timeout_s=0.5,
        max_connections=12,
    )
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()


def connect(lp: LocalPlatform) -> socket.socket:
    return socket.create_connection(("127.0.0.1", lp.config.platform_port), timeout=10)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def healthy(lp: LocalPlatform) -> bool:
    return httpx.get(f"{lp.url}/healthz", timeout=5).status_code == 200


def test_headers_over_the_byte_limit_get_431_before_all_is_sent(
    bounded: LocalPlatform,
) -> None:
    with connect(bounded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        refused = b""
        # 8 MiB offered, 16 KiB allowed: the server must answer and close long before
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(128):
                sock.sendall(b"a" * 65536)
        refused = answer(sock)
    assert refused.startswith(b"HTTP/1.1 431 "), refused[:200]
    assert b"request headers too large" in refused
    assert healthy(bounded)


def test_too_many_header_fields_get_431(bounded: LocalPlatform) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(40))
    with connect(bounded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        refused = answer(sock)
    assert refused.startswith(b"HTTP/1.1 431 "), refused[:200]
    assert b"too many request header fields" in refused
    assert b"200 OK" not in refused
    assert healthy(bounded)


def test_headers_within_limits_are_served(bounded: LocalPlatform) -> None:
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 500) for i in range(15))
    with connect(bounded) as sock:
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        sock.sendall(head + fields + b"\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("partial", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"])
def test_slow_or_silent_headers_time_out_with_408(bounded: LocalPlatform, partial: bytes) -> None:
    with connect(bounded) as sock:
        sock.sendall(partial)
        start = time.monotonic()
        refused = answer(sock)
        waited = time.monotonic() - start
    assert refused.startswith(b"HTTP/1.1 408 "), refused[:200]
    assert b"request headers not received in time" in refused
    assert waited < 8, waited  # the 0.5 s bound, with room for a loaded machine


def test_headers_dribbled_byte_by_byte_still_time_out(bounded: LocalPlatform) -> None:
    """Each byte arriving must not restart the clock (slowloris)."""
    with connect(bounded) as sock:
        sock.settimeout(10)
        refused = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                sock.send(bytes([byte]))
                time.sleep(0.05)
        refused = answer(sock)
    assert refused.startswith(b"HTTP/1.1 408 "), refused[:200]


@pytest.fixture
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    server = start_platform(
        tmp_path_factory.mktemp("xtdf-conncap"),
        services=[],
        kas_ports={},
        header_timeout_s=30,
        max_connections=8,
    )
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()


def _wait_for_gate(lp: LocalPlatform, at_most: int) -> None:
    deadline = time.monotonic() + 10
    while lp.server._protocol.gate.open > at_most:  # closes are seen on the next loop turn
        assert time.monotonic() < deadline, f"gate still at {lp.server._protocol.gate.open}"
        time.sleep(0.05)


def test_at_the_cap_a_new_connection_evicts_the_longest_waiting_half_open_one(
    capped: LocalPlatform,
) -> None:
    """20,000 half-open requests once kept /healthz out; at the cap the oldest connection
    still waiting for its headers makes way (408), so a real request is served."""
    held: list[socket.socket] = []
    try:
        for _ in range(8):
            s = connect(capped)
            s.sendall(b"GET /healthz HTTP/1.1\r\n")  # half-open: headers never finished
            held.append(s)
            time.sleep(0.02)  # in order: the first one has waited longest
        time.sleep(0.3)
        assert capped.server._protocol.gate.open == 8
        assert healthy(capped)  # the request took the first half-open connection's place
        first = answer(held[0])
        assert first.startswith(b"HTTP/1.1 408 "), first[:200]
        assert b"evicted for a new connection" in first
        for s in held[1:]:  # the others still wait, untouched
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
        assert capped.server._protocol.gate.evicted == 1
    finally:
        for s in held:
            s.close()
    _wait_for_gate(capped, 0)


def test_connections_past_the_cap_get_503_when_none_waits_for_headers(
    capped: LocalPlatform,
) -> None:
    """Connections inside requests (a body still arriving) are never evicted: past the
    cap a new one is refused, and the cap recovers as they close."""
    held: list[socket.socket] = []
    try:
        for _ in range(8):
            s = connect(capped)
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\ncontent-length: 100000\r\n\r\nab")
            held.append(s)
        time.sleep(0.3)
        with connect(capped) as extra:
            refused = answer(extra)
        assert refused.startswith(b"HTTP/1.1 503 "), refused[:200]
        assert b"too many open connections" in refused
        assert capped.server._protocol.gate.evicted == 0
    finally:
        for s in held:
            s.close()
    _wait_for_gate(capped, 0)
    assert healthy(capped)


def test_healthz_answers_while_half_open_connections_wait(bounded: LocalPlatform) -> None:
    """Connections under the cap that never finish their headers do not block others."""
    held = []
    try:
        for _ in range(6):
            s = connect(bounded)
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        start = time.monotonic()
        assert healthy(bounded)
        assert time.monotonic() - start < 2
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("size", [300 * 1024, 2 * 1024 * 1024])
def test_large_bodies_are_not_counted_as_headers(local_platform: LocalPlatform, size: int) -> None:
    """Only the header section is bounded here (64 KiB by default); bodies have their own
    limit (max_body_bytes), and the handler sees all of this one (unknown JSON fields are
    ignored, as protojson does)."""
    body = b'{"pagination": {}, "padding": "' + b"p" * size + b'"}'
    r = httpx.post(
        f"{local_platform.url}/policy.namespaces.NamespaceService/ListNamespaces",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Connect-Protocol-Version": "1",
            **local_platform.headers(local_platform.token()),
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]
    assert "pagination" in r.json()  # read whole, decoded, answered


def test_pipelined_requests_within_limits_are_all_served(bounded: LocalPlatform) -> None:
    one = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 4000 + b"\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with connect(bounded) as sock:
        sock.sendall(one * 10 + last)
        got = answer(sock)
    assert got.count(b"HTTP/1.1 200 ") == 11, got[:300]
