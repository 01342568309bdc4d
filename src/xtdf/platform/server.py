"""Run the platform: one process, one uvicorn server per port on each asyncio loop.

Sockets are bound *before* anything else, so a port in use fails at once with one clear
line, and port ``0`` resolves to a real port before the issuer URL (which names the IdP
port) and KAS URLs are derived from the config. Only this module and :mod:`http_limits`
(the bounded HTTP protocol every port speaks) import uvicorn. The platform port and every
KAS port also answer gRPC (:mod:`grpc_gateway`): its servers start on the main loop before
any port accepts, and stop, letting calls in progress finish, when the ports do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from xtdf.errors import PlatformError
from xtdf.platform.app import idp_app, kas_app, platform_app
from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform
from xtdf.platform.grpc_gateway import GrpcGateway, Port
from xtdf.platform.http_limits import Limits, protocol_class, with_grpc
from xtdf.platform.ports import bind

log = logging.getLogger("xtdf.platform")


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :class:`PlatformServer`, which
    stops every port's server together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PlatformServer:
    """Bind, build and serve. ``serve_forever()`` for the CLI, ``start_in_thread()`` for
    tests."""

    def __init__(self, config: PlatformConfig) -> None:
        self._sockets: dict[str, socket.socket] = {}
        try:
            self._sockets["platform"] = bind(config.bind_host, config.platform_port, "platform")
            self._sockets["idp"] = bind(config.bind_host, config.idp_port, "IdP")
            for name, port in config.kas_ports.items():
                self._sockets[f"kas:{name}"] = bind(config.bind_host, port, f"KAS {name}")
        except BaseException:
            self.close_sockets()
            raise
        ports = {k: s.getsockname()[1] for k, s in self._sockets.items()}
        # clients may resolve "localhost" to ::1 first: listen there too when we can
        self._v6: dict[str, socket.socket] = {}
        if config.bind_host == "127.0.0.1" and socket.has_ipv6:
            for key, port in ports.items():
                try:
                    self._v6[key] = bind("::1", port, key)
                except PlatformError as exc:
                    log.debug("not listening on [::1]:%d: %s", port, exc)
        self.config = config.model_copy(
            update={
                "platform_port": ports["platform"],
                "idp_port": ports["idp"],
                "kas_ports": {n: ports[f"kas:{n}"] for n in config.kas_ports},
            }
        )
        try:
            self.platform = Platform(self.config)
            self.platform.load_services()
        except BaseException:
            self.close_sockets()
            raise
        self._protocol = protocol_class(
            Limits(
                max_header_bytes=self.config.max_header_bytes,
                max_headers=self.config.max_headers,
                header_timeout_s=self.config.header_timeout_s,
                max_connections=self.config.max_connections,
            )
        )
        self._gateway = GrpcGateway(self.platform, self._grpc_ports())
        self._protocols = {
            key: with_grpc(self._protocol, path) for key, path in self._gateway.sockets.items()
        }
        self._servers: list[_Server] = []
        self._servers_lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    def _grpc_ports(self) -> list[Port]:
        """The platform port and every KAS port: an SDK dials a KAS at its URL's port."""
        cfg = self.config
        ports = [Port("platform", f"{cfg.public_host}:{cfg.platform_port}")]
        for name, port in cfg.kas_ports.items():
            ports.append(Port(f"kas:{name}", f"{cfg.public_host}:{port}", name, kas_only=True))
        return ports

    def close_sockets(self) -> None:
        for s in [*self._sockets.values(), *getattr(self, "_v6", {}).values()]:
            s.close()
        if hasattr(self, "_gateway"):
            self._gateway.remove_sockets()

    def urls(self) -> dict[str, str]:
        cfg = self.config
        out = {"platform": cfg.platform_url, "idp": cfg.issuer}
        out.update({f"kas {n}": cfg.kas_url(n) for n in cfg.kas_ports})
        return out

    def _make_servers(
        self, sockets: dict[str, list[socket.socket]]
    ) -> list[tuple[_Server, list[socket.socket]]]:
        pairs = []
        for key, socks in sockets.items():
            if key == "platform":
                app = platform_app(self.platform)
            elif key == "idp":
                app = idp_app(self.platform)
            else:
                app = kas_app(self.platform, key.split(":", 1)[1])
            cfg = uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                http=self._protocols.get(key, self._protocol),
                loop="asyncio",
                timeout_graceful_shutdown=3,
            )
            pairs.append((_Server(cfg), socks))
        return pairs

    def _listening(self, duplicate: bool) -> dict[str, list[socket.socket]]:
        """Every port's sockets (IPv4, and IPv6 when bound), or duplicates of them: a server
        closes its sockets when it stops, and the other loops' must stay valid (the kernel
        socket and its queue of connections are shared by every duplicate)."""
        out = {}
        for key, sock in self._sockets.items():
            socks = [sock, self._v6[key]] if key in self._v6 else [sock]
            out[key] = [s.dup() for s in socks] if duplicate else socks
        return out

    async def _serve_ports(self, sockets: dict[str, list[socket.socket]]) -> None:
        """One event loop's share of the work: a uvicorn server on every port."""
        pairs = self._make_servers(sockets)
        with self._servers_lock:
            self._servers.extend(s for s, _ in pairs)
            for s, _ in pairs:  # a stop asked for before this loop got here holds for it too
                s.should_exit = self._stopping
        await asyncio.gather(*(s.serve(sockets=socks) for s, socks in pairs))

    def _extra_loop(self, sockets: dict[str, list[socket.socket]]) -> None:
        try:
            asyncio.run(self._serve_ports(sockets))
        except BaseException as exc:  # a loop that dies takes the others down with it
            self._error = self._error or exc
            self.request_stop()

    async def serve(self) -> None:
        """Serve on this loop and on ``event_loops - 1`` more, each on its own thread and
        accepting on its own duplicates of the listening sockets (made here, before any loop
        can stop and close the originals); return when all have stopped."""
        self._loop = asyncio.get_running_loop()
        duplicates = [self._listening(duplicate=True) for _ in range(1, self.config.event_loops)]
        extra = [
            threading.Thread(
                target=self._extra_loop, args=(socks,), name=f"xtdf-loop-{i}", daemon=True
            )
            for i, socks in enumerate(duplicates, start=1)
        ]
        stopper: asyncio.Task[None] | None = None
        try:
            await self._gateway.start()
            stopper = asyncio.create_task(self._stop_gateway_when_asked())
            for t in extra:
                t.start()
            await self._serve_ports(self._listening(duplicate=False))
        finally:
            self.request_stop()
            if stopper is not None:
                await stopper
            else:
                await self._gateway.stop(0)
            deadline = time.monotonic() + 10.0
            for t in extra:
                if t.is_alive():
                    await asyncio.to_thread(t.join, max(0.0, deadline - time.monotonic()))
            for socks in duplicates:
                for sock in (s for group in socks.values() for s in group):
                    sock.close()  # those a loop did not close (it never started, or failed)
            self.close_sockets()
        if self._error is not None:  # another loop failed: so does the server
            raise self._error

    async def _stop_gateway_when_asked(self) -> None:
        """gRPC connections are the gRPC servers' to close (uvicorn's shutdown leaves
        them): stop those as soon as a stop is asked for, within uvicorn's grace."""
        while not self._stopping:
            await asyncio.sleep(0.1)
        await self._gateway.stop()

    @property
    def started(self) -> bool:
        with self._servers_lock:
            servers = list(self._servers)
        expected = self.config.event_loops * len(self._sockets)
        return len(servers) == expected and all(s.started for s in servers)

    def request_stop(self) -> None:
        # each server's loop polls should_exit, so this is safe from any thread
        with self._servers_lock:
            self._stopping = True
            servers = list(self._servers)
        for s in servers:
            s.should_exit = True

    # -- foreground ----------------------------------------------------------------------

    def serve_forever(self) -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
            await self.serve()

        asyncio.run(main())

    # -- background thread (tests) -------------------------------------------------------

    def start_in_thread(self, timeout_s: float = 20.0) -> None:
        def run() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:  # surfaced by start_in_thread / stop
                self._error = exc

        self._thread = threading.Thread(target=run, name="xtdf-platform", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self.started:
            if self._error is not None or not self._thread.is_alive():
                raise PlatformError(f"platform failed to start: {self._error!r}")
            if waited > timeout_s:
                raise PlatformError("platform did not start in time")
            deadline.wait(0.02)
            waited += 0.02

    def stop(self, timeout_s: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
