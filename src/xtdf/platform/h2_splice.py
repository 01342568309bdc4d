"""Hand one accepted connection to another server: bytes both ways, nothing parsed.

The platform's ports speak HTTP/1.1 (uvicorn) and gRPC (grpcio) at once. uvicorn accepts
every connection; one that opens with the HTTP/2 client preface is piped, unchanged, to a
grpcio server listening on a private unix socket (:mod:`grpc_gateway`), so that grpcio's
own HTTP/2 stack does all the protocol work. Back-pressure goes both ways: a side whose
write buffer fills stops reading from the other.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("xtdf.platform.grpc")

#: what every HTTP/2 connection without TLS (h2c with prior knowledge) begins with (RFC 9113)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def preface_state(head: bytes) -> bool | None:
    """True when ``head`` begins with the preface, False when it cannot, None when too
    short to say (no HTTP/1.1 request line begins with ``PRI *``)."""
    n = min(len(head), len(PREFACE))
    if head[:n] != PREFACE[:n]:
        return False
    return True if n == len(PREFACE) else None


class _Upstream(asyncio.Protocol):
    def __init__(self, splice: Splice) -> None:
        self.splice = splice

    def data_received(self, data: bytes) -> None:
        self.splice.client.write(data)

    def eof_received(self) -> bool | None:
        return None  # close: gRPC never half-closes a connection it still serves

    def connection_lost(self, exc: Exception | None) -> None:
        self.splice.upstream_lost()

    def pause_writing(self) -> None:
        self.splice.client.pause_reading()

    def resume_writing(self) -> None:
        self.splice.client.resume_reading()


class Splice:
    """Pipes ``client`` to the unix socket at ``path``; ``first`` is what the client sent
    before the hand-off. The client's protocol forwards its callbacks here."""

    def __init__(self, client: asyncio.Transport, path: str, first: bytes) -> None:
        self.client = client
        self._pending: list[bytes] = [first]
        self._upstream: asyncio.Transport | None = None
        self._closed = False
        client.pause_reading()  # until the upstream connection is up
        self._task = asyncio.get_running_loop().create_task(self._connect(path))

    async def _connect(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_unix_connection(lambda: _Upstream(self), path)
        except OSError as exc:
            log.warning("gRPC connection not handed over: %s: %s", path, exc)
            self.client.close()
            return
        if self._closed:
            transport.close()
            return
        self._upstream = transport
        transport.write(b"".join(self._pending))
        self._pending.clear()
        self.client.resume_reading()

    # -- the client's side, forwarded by its protocol -----------------------------------

    def from_client(self, data: bytes) -> None:
        if self._upstream is not None:
            self._upstream.write(data)
        elif not self._closed:
            self._pending.append(data)

    def client_paused(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()

    def client_resumed(self) -> None:
        if self._upstream is not None:
            self._upstream.resume_reading()

    def client_lost(self) -> None:
        self._closed = True
        self._pending.clear()
        if self._upstream is not None:
            self._upstream.close()
        elif not self._task.done():
            self._task.cancel()

    def upstream_lost(self) -> None:
        self._closed = True
        self.client.close()
