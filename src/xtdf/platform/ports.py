"""Binding listening sockets with one clear line when a port is taken."""

from __future__ import annotations

import errno
import socket

from xtdf.errors import PlatformError


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on ``host:port`` (``0`` = any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PlatformError(f"port {port} ({what}) is already in use on {host}") from None
        raise PlatformError(f"cannot listen on {host}:{port} ({what}): {exc.strerror}") from None
    return sock


def check_free(host: str, ports: dict[str, int]) -> None:
    """Raise the same one-line error ``bind`` would, without keeping the ports."""
    for what, port in ports.items():
        if port:
            bind(host, port, what).close()
