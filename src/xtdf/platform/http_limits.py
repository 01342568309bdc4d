"""Bounds on what one connection may cost before the application sees a request.

uvicorn's httptools protocol buffers request headers without limit and waits for them
forever: one 100 MB header, or thousands of connections that never finish their headers,
hold memory and sockets indefinitely. This subclass of it refuses, with a status line and
a closed connection: header sections over ``max_header_bytes`` or ``max_headers`` fields
(431), headers not complete within ``header_timeout_s`` of their first byte or of the
connection (408), and connections past ``max_connections`` open at once across every port
and event loop. At the cap a new connection takes the place of the one that has waited
longest for its headers (idle keep-alive or half-open: it gets 408), so connections that
never finish their headers cannot keep everyone else out; only when no connection is
waiting for headers (all are in requests or gRPC) is the new one refused (503).
Everything after the headers stays uvicorn's.

A connection that opens with the HTTP/2 preface is gRPC (the Java SDK speaks nothing else):
on a port with a ``grpc_socket`` it is handed, still counted by the gate, to the grpcio
server behind that socket (:mod:`h2_splice`, :mod:`grpc_gateway`), which bounds it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from xtdf.platform.h2_splice import Splice, preface_state

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_REASONS[503] = b"Service Unavailable"


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    max_connections: int


class ConnectionGate:
    """Open connections counted across every server and loop of one platform, and the ones
    among them waiting for request headers, oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.evicted = 0
        self._waiting: dict[BoundedHttpToolsProtocol, None] = {}
        self._lock = threading.Lock()

    def enter(self) -> bool:
        """Admit a connection: under the cap, or in the place of the connection that has
        waited longest for its headers (closed with 408 on its own loop)."""
        with self._lock:
            if self.open < self.limit:
                self.open += 1
                return True
            if not self._waiting:
                return False
            victim = next(iter(self._waiting))
            del self._waiting[victim]
            victim._admitted = False  # its place is the new connection's
            self.evicted += 1
        victim.loop.call_soon_threadsafe(victim._evict)
        return True

    def leave(self, proto: BoundedHttpToolsProtocol) -> None:
        with self._lock:
            self._waiting.pop(proto, None)
            if proto._admitted:
                proto._admitted = False
                self.open -= 1

    def waiting(self, proto: BoundedHttpToolsProtocol) -> None:
        """``proto`` waits for a request's headers (kept at the place it first waited)."""
        with self._lock:
            if proto._admitted:
                self._waiting.setdefault(proto, None)

    def not_waiting(self, proto: BoundedHttpToolsProtocol) -> None:
        with self._lock:
            self._waiting.pop(proto, None)


class _Refused(Exception):
    """Stops the parser inside a callback once the connection has been answered."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Set ``limits`` and ``gate`` on a subclass per platform (:func:`protocol_class`)."""

    limits: Limits
    gate: ConnectionGate
    #: the unix socket of this port's gRPC server; None: HTTP/2 gets uvicorn's 400
    grpc_socket: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admitted = False
        self._refused = False
        self._in_body = False
        self._header_bytes = 0
        self._header_fields = 0
        self._began_here = self._ended_here = False
        self._header_timer: asyncio.TimerHandle | None = None
        #: the connection's first bytes while they might still be the HTTP/2 preface
        self._head: bytes | None = b"" if self.grpc_socket else None
        self._splice: Splice | None = None

    # -- connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.gate.enter():
            self._refuse(503, "too many open connections")
            return
        self._admitted = True
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._splice is not None:
            self._splice.client_lost()
        self.gate.leave(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._splice is not None:
            self._splice.from_client(data)
            return
        if self._refused:
            return
        if self._head is not None:
            data = self._sniff(data)
            if not data:
                return
        was_in_headers = not self._in_body
        self._began_here = self._ended_here = False
        super().data_received(data)
        if self._refused or self._in_body or self.transport.is_closing():
            return
        # still inside a header section: count this read if it was all header bytes, not
        # when a section began or a body ended in it (a read is at most 256 KiB, so the
        # bound holds to within one read)
        if was_in_headers and not (self._began_here or self._ended_here):
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(431, "request headers too large")
                return
        self._arm_header_timer()

    def _sniff(self, data: bytes) -> bytes:
        """What to parse as HTTP/1.1: nothing while the preface may still be arriving or
        once the connection went to gRPC, else every byte held back so far."""
        assert self._head is not None and self.grpc_socket is not None
        head = self._head + data
        state = preface_state(head)
        if state is None:
            self._head = head
            return b""
        self._head = None
        if state is False:
            return head
        self._cancel_header_timer()  # grpcio bounds the connection from here on
        self._splice = Splice(self.transport, self.grpc_socket, head)
        return b""

    def shutdown(self) -> None:
        if self._splice is None:
            super().shutdown()
        # a gRPC connection is drained and closed by its gRPC server's graceful stop

    def pause_writing(self) -> None:
        if self._splice is not None:
            self._splice.client_paused()
        else:
            super().pause_writing()

    def resume_writing(self) -> None:
        if self._splice is not None:
            self._splice.client_resumed()
        else:
            super().resume_writing()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal from a parser callback has been answered already
            super().send_400_response(msg)

    # -- parser callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._header_fields = 0
        self._header_bytes = 0
        self._began_here = True
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_fields += 1
        if self._header_fields > self.limits.max_headers:
            self._refuse(431, "too many request header fields")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._in_body = True
        self._header_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._ended_here = True
        super().on_message_complete()

    # -- refusals ------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and not self._refused:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout_s, self._header_timeout
            )
            self.gate.waiting(self)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
            self.gate.not_waiting(self)

    def _evict(self) -> None:
        """The gate gave this connection's place to a new one while it waited for headers."""
        if not self._in_body and self._splice is None and not self.transport.is_closing():
            self._refuse(408, "request headers not received in time (evicted for a new connection)")
        elif not self.transport.is_closing():
            # it began a request between the gate's choice and now: it still has to go,
            # its place is taken; closing is all that is left
            self.transport.close()

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._in_body and not self.transport.is_closing():
            self._refuse(408, "request headers not received in time")

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._cancel_header_timer()
        if self.transport.is_closing():
            return
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status], len(body), body)
        )
        self.transport.close()


def protocol_class(limits: Limits) -> type[BoundedHttpToolsProtocol]:
    """A protocol class for one platform: its limits, one gate for all of its servers."""
    attrs = {"limits": limits, "gate": ConnectionGate(limits.max_connections)}
    return type("PlatformHttpProtocol", (BoundedHttpToolsProtocol,), attrs)


def with_grpc(
    protocol: type[BoundedHttpToolsProtocol], grpc_socket: str
) -> type[BoundedHttpToolsProtocol]:
    """``protocol`` for one port whose HTTP/2 connections go to ``grpc_socket`` (same
    limits, same gate)."""
    return type(protocol.__name__, (protocol,), {"grpc_socket": grpc_socket})
