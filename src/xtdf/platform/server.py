"""Run the platform: one process, one asyncio loop, one uvicorn server per port.

Sockets are bound *before* anything else, so a port in use fails at once with one clear
line, and port ``0`` resolves to a real port before the issuer URL (which names the IdP
port) and KAS URLs are derived from the config. Only this module imports uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn

from xtdf.errors import PlatformError
from xtdf.platform.app import idp_app, kas_app, platform_app
from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform
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
        self._servers: list[_Server] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    def close_sockets(self) -> None:
        for s in [*self._sockets.values(), *getattr(self, "_v6", {}).values()]:
            s.close()

    def urls(self) -> dict[str, str]:
        cfg = self.config
        out = {"platform": cfg.platform_url, "idp": cfg.issuer}
        out.update({f"kas {n}": cfg.kas_url(n) for n in cfg.kas_ports})
        return out

    def _make_servers(self) -> list[tuple[_Server, list[socket.socket]]]:
        pairs = []
        for key, sock in self._sockets.items():
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
                http="httptools",
                loop="asyncio",
                timeout_graceful_shutdown=3,
            )
            socks = [sock, self._v6[key]] if key in self._v6 else [sock]
            pairs.append((_Server(cfg), socks))
        return pairs

    async def serve(self) -> None:
        pairs = self._make_servers()
        self._servers = [s for s, _ in pairs]
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.gather(*(s.serve(sockets=socks) for s, socks in pairs))
        finally:
            self.close_sockets()

    @property
    def started(self) -> bool:
        return bool(self._servers) and all(s.started for s in self._servers)

    def request_stop(self) -> None:
        for s in self._servers:
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
