"""HTTP for the client: Connect unary calls in JSON, plain GETs and form POSTs.

Built on the standard library's ``http.client`` with one persistent connection per origin:
importing ``httpx`` alone costs more start-up time than a whole small ``xtdf encrypt``
may take, and the client needs nothing httpx adds (no HTTP/2, no async, no proxies for
loopback). Every failure becomes a :class:`PlatformError`, :class:`AuthError` or
:class:`AccessDeniedError` whose message names the URL and the server's reason.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Mapping
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import urlencode, urlsplit

from xtdf.errors import AccessDeniedError, AuthError, PlatformError, XtdfError

#: Connect error code -> the exception a caller sees
_CONNECT_ERRORS: dict[str, type[XtdfError]] = {
    "unauthenticated": AuthError,
    "permission_denied": AccessDeniedError,
}
_HTTP_ERRORS: dict[int, type[XtdfError]] = {401: AuthError, 403: AccessDeniedError}


class Response:
    """Status, lower-cased headers and the whole body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise PlatformError(f"{what}: response is not JSON") from None


class Transport:
    """Keeps one connection per origin open for the life of the client."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._conns: dict[tuple[str, str], HTTPConnection] = {}

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def _conn(self, scheme: str, netloc: str) -> HTTPConnection:
        key = (scheme, netloc)
        conn = self._conns.get(key)
        if conn is None:
            if scheme == "https":
                from http.client import HTTPSConnection

                conn = HTTPSConnection(netloc, timeout=self.timeout)
            elif scheme == "http":
                conn = HTTPConnection(netloc, timeout=self.timeout)
            else:
                raise PlatformError(f"unsupported URL scheme {scheme!r} (use http or https)")
            self._conns[key] = conn
        return conn

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # e.g. an unclosed "[" in a URL a file named
            raise PlatformError(f"not a valid URL: {url!r} ({exc})") from None
        if not parts.netloc:
            raise PlatformError(f"not an absolute URL: {url!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        hdrs = {"Accept-Encoding": "identity", **(headers or {})}
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            conn = self._conn(parts.scheme, parts.netloc)
            try:
                if conn.sock is None:
                    conn.connect()
                    _tune(conn.sock)
                _quickack(conn.sock)
                conn.request(method, path, body=body, headers=hdrs)
                _quickack(conn.sock)
                resp = conn.getresponse()
                data = resp.read()
            except (
                HTTPException,
                ConnectionResetError,
                ConnectionAbortedError,
                BrokenPipeError,
            ) as exc:
                conn.close()
                self._conns.pop((parts.scheme, parts.netloc), None)
                if attempt == 0:
                    continue
                raise PlatformError(f"{method} {url}: {exc or type(exc).__name__}") from exc
            except OSError as exc:
                conn.close()
                self._conns.pop((parts.scheme, parts.netloc), None)
                reason = exc.strerror or str(exc) or type(exc).__name__
                raise PlatformError(
                    f"cannot reach {parts.scheme}://{parts.netloc}: {reason}"
                ) from exc
            if resp.will_close:
                conn.close()
                self._conns.pop((parts.scheme, parts.netloc), None)
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        raise PlatformError(f"{method} {url}: connection closed")  # pragma: no cover

    # -- shapes the platform speaks --------------------------------------------------

    def get_json(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        resp = self.request("GET", url, headers={"Accept": "application/json", **(headers or {})})
        raise_for_status(resp, f"GET {url}")
        return resp.json(f"GET {url}")

    def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> Response:
        body = urlencode(form).encode()
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        return self.request("POST", url, body, {**hdrs, **(headers or {})})

    def connect_call(
        self, url: str, message: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Any:
        """One Connect unary call with a JSON body; returns the decoded JSON answer."""
        hdrs = {"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
        body = json.dumps(message, separators=(",", ":")).encode()
        resp = self.request("POST", url, body, {**hdrs, **(headers or {})})
        raise_for_status(resp, url.rsplit("/", 1)[-1] + f" at {url}")
        return resp.json(url)


def _tune(sock: socket.socket | None) -> None:
    """No Nagle: ``http.client`` sends headers and body in two writes, and on a kept-alive
    connection the body would wait for the server's delayed ACK (40 ms on Linux)."""
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _quickack(sock: socket.socket | None) -> None:
    """ACK at once (Linux): a server that writes headers and body separately with Nagle on
    would otherwise wait for our delayed ACK before sending the body."""
    if sock is not None and _QUICKACK is not None and sock.family != socket.AF_UNIX:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def raise_for_status(resp: Response, what: str) -> None:
    """Raise the typed error for a non-2xx answer, naming the call and the server's reason."""
    if resp.status < 300:
        return
    code, message = "", resp.body[:200].decode("utf-8", "replace").strip()
    try:
        err = json.loads(resp.body)
        if isinstance(err, dict):
            code = str(err.get("code", "") or err.get("error", ""))
            message = str(
                err.get("message") or err.get("error_description") or err.get("error") or message
            )
    except ValueError:
        pass
    message = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    cls = _CONNECT_ERRORS.get(code) or _HTTP_ERRORS.get(resp.status, PlatformError)
    detail = f"{code}: {message}" if code and code != message else message
    exc = cls(f"{what} failed with HTTP {resp.status}" + (f" ({detail})" if detail else ""))
    exc.http_status = resp.status  # type: ignore[attr-defined]
    exc.connect_code = code  # type: ignore[attr-defined]
    raise exc
