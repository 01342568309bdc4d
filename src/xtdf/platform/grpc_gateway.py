"""gRPC on the platform's own ports, for clients that speak nothing else (Java SDK 0.7.3).

Upstream's platform serves gRPC, Connect and REST on one port, and an SDK dials every KAS
at the ``host:port`` of its URL, so gRPC must answer on the platform port and on every KAS
port. uvicorn accepts each connection; one that opens with the HTTP/2 preface is piped to
a grpcio server for that port on a private unix socket (:mod:`h2_splice`), which does all
of HTTP/2 and gRPC's framing. Every method is one generic handler with raw bytes in and
out that decodes the request and calls the same :mod:`dispatch` as the Connect binary
path: the same authentication (Bearer or DPoP, ``htm`` ``POST``, ``htu`` the method path),
role policy, body cap (``grpc.max_receive_message_length``), deadline and error mapping
(the Connect code's gRPC namesake, the same message).

grpcio shows a handler the request metadata but not ``:authority``: the call's host is
taken to be the one the platform advertises for that port (``public_host:port``), which a
DPoP proof with a full ``htu`` must name.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import grpc.aio
from starlette.requests import Request

from xtdf.platform import dispatch
from xtdf.platform.connect import PROTO, ConnectEndpoint, decode
from xtdf.platform.rpc import RpcError

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

log = logging.getLogger("xtdf.platform.grpc")

#: gRPC spells one Connect code differently; the others are the same name in upper case
_STATUS_NAMES = {"canceled": "CANCELLED"}
#: concurrent streams on one connection (grpc-go's default is 100 as well)
MAX_STREAMS = 100
#: calls in progress on one port's server; more are refused RESOURCE_EXHAUSTED by grpcio
MAX_CONCURRENT_RPCS = 1024
#: a connection with no call in progress for this long is sent GOAWAY
IDLE_MS = 120_000
#: how long a stop waits for calls in progress before cutting them
STOP_GRACE_S = 2.0


def status_code(code: str) -> grpc.StatusCode:
    """The gRPC status for a Connect error code (connectrpc.com/docs/protocol)."""
    return grpc.StatusCode[_STATUS_NAMES.get(code, code.upper())]


@dataclass(frozen=True)
class Port:
    """One port's gRPC service: which methods it serves and under which host name."""

    key: str  # ``platform`` or ``kas:<instance>``
    host: str  # ``public_host:port``, the call's Host for authentication
    instance: str = "default"
    kas_only: bool = False


class _Handler(grpc.GenericRpcHandler):
    """Every method of one port, as raw bytes, into :mod:`dispatch`."""

    def __init__(self, platform: Platform, port: Port) -> None:
        self.platform = platform
        self.port = port
        self.endpoint = ConnectEndpoint(platform, port.instance, port.kas_only)

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = self.endpoint.lookup(details.method)  # type: ignore[attr-defined]
        if method is None:
            return None  # grpcio answers UNIMPLEMENTED

        async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                http = self._request(method.path, context.invocation_metadata() or ())
                ctx = dispatch.authenticate(self.platform, http, method, method.path)
                ctx.instance = self.port.instance
                message = decode(method, request, PROTO)
                response = await dispatch.call(method, message, ctx, context.time_remaining())
            except RpcError as err:
                headers = getattr(err, "headers", None) or {}
                if headers:
                    context.set_trailing_metadata(tuple((k.lower(), v) for k, v in headers.items()))
                await context.abort(status_code(err.code), err.message)
            return response.SerializeToString()

        return grpc.unary_unary_rpc_method_handler(unary)

    def _request(self, path: str, metadata: tuple) -> Request:
        """The call as the HTTP request :func:`dispatch.authenticate` reads: its text
        metadata as headers, ``POST`` to the method path on this port's advertised host."""
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in metadata
            if isinstance(v, str) and k.lower() != "host" and v.isascii()
        ]
        headers.append((b"host", self.port.host.encode("latin-1")))
        host, _, port = self.port.host.rpartition(":")
        scope = {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "server": (host, int(port)),
        }
        return Request(scope)


class GrpcGateway:
    """One grpcio server per gRPC-speaking port, each on a unix socket in a private
    directory (mode 0700), so nothing reaches them except through a port's connection
    gate. Made before the loops start (the sockets' paths go into each port's protocol
    class); started and stopped on the main loop."""

    def __init__(self, platform: Platform, ports: list[Port]) -> None:
        self.platform = platform
        self.ports = ports
        self._dir = Path(tempfile.mkdtemp(prefix="xtdf-grpc-"))
        self.sockets = {p.key: str(self._dir / f"{i}.sock") for i, p in enumerate(ports)}
        self._servers: list[grpc.aio.Server] = []

    def _options(self) -> list[tuple[str, int]]:
        cfg = self.platform.config
        return [
            ("grpc.max_receive_message_length", cfg.max_body_bytes),
            ("grpc.max_metadata_size", cfg.max_header_bytes),
            ("grpc.absolute_max_metadata_size", cfg.max_header_bytes),
            ("grpc.max_concurrent_streams", MAX_STREAMS),
            ("grpc.max_connection_idle_ms", IDLE_MS),
            ("grpc.server_handshake_timeout_ms", int(cfg.header_timeout_s * 1000)),
        ]

    async def start(self) -> None:
        for port in self.ports:
            server = grpc.aio.server(
                options=self._options(), maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS
            )
            server.add_generic_rpc_handlers((_Handler(self.platform, port),))
            if not server.add_insecure_port(f"unix:{self.sockets[port.key]}"):
                raise OSError(f"gRPC server for {port.key} could not listen")
            self._servers.append(server)
            await server.start()
        log.info("gRPC served on %s", ", ".join(p.host for p in self.ports))

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Let calls in progress finish (GOAWAY), then close every connection."""
        servers, self._servers = self._servers, []
        await asyncio.gather(*(s.stop(grace_s) for s in servers), return_exceptions=True)
        self.remove_sockets()

    def remove_sockets(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
