"""Which KASes a decrypting client will send its credentials and wrapped keys to.

A TDF names its own KAS URLs, so a forged file could point a client at an attacker's
server; the allowlist stops that before any request is made. URLs are compared by KAS
address the way the Go SDK's allowlist does (opentdf/platform ``sdk/tdf_config.go``,
``getKasAddress``): a URL without ``://`` is taken as ``https://``; only scheme,
user info, host and port count (path, query and fragment are dropped); an explicit port
is kept as written, ``https`` without one gets ``:443`` and ``http`` without one gets no
port (so ``http://h`` and ``http://h:80`` differ); the scheme compares case-insensitively
and the host exactly. So ``http://h:8585/malicious/kas`` is allowed wherever
``http://h:8585`` is, as in the Go SDK: the address, not the path, is what is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from xtdf.errors import KeyAccessError, UsageError

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class KasNotAllowedError(KeyAccessError):
    """A key access object names a KAS outside the allowlist."""


def _split_host(hostport: str, url: str) -> tuple[str, str | None]:
    """``(hostname, port or None)`` of ``host[:port]`` / ``[v6][:port]``; the port must
    be digits, as Go's URL parser demands."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise UsageError(f"cannot parse KAS URL {url!r}: unclosed '[' in host")
        host, rest = hostport[1:close], hostport[close + 1 :]
        if rest and not rest.startswith(":"):
            raise UsageError(f"cannot parse KAS URL {url!r}: junk after ']' in host")
        port = rest[1:] if rest else None
    else:
        host, colon, port_text = hostport.rpartition(":")
        host, port = (host, port_text) if colon else (hostport, None)
    if port is not None and not port.isdigit() and port != "":
        raise UsageError(f"cannot parse KAS URL {url!r}: invalid port {port!r}")
    return host, port or None


def kas_address(url: str) -> str:
    """The allowlist key of a KAS URL (Go's ``getKasAddress``); UsageError naming the URL
    when it has no host or cannot be parsed (a file's KAS URL may be anything)."""
    text = url if "://" in url else f"https://{url}"
    scheme, _, rest = text.partition("://")
    if not _SCHEME.fullmatch(scheme):
        raise UsageError(f"cannot parse KAS URL {url!r}: invalid scheme {scheme!r}")
    scheme = scheme.lower()
    try:
        netloc = urlsplit(f"{scheme}://{rest}").netloc
    except ValueError as exc:
        raise UsageError(f"cannot parse KAS URL {url!r}: {exc}") from None
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = _split_host(hostport, url)
    if not host:
        raise UsageError(f"cannot parse KAS URL {url!r}: no host")
    bracketed = f"[{host}]" if ":" in host else host
    if port is not None:
        hostport = f"{bracketed}:{port}"
    elif scheme == "https":
        hostport = f"{bracketed}:443"
    return f"{scheme}://{userinfo}{at}{hostport}"


def _registered(urls: Iterable[str]) -> Iterable[str]:
    """Addresses of the registry's KAS URIs; one that does not parse is trusted for
    nothing (and does not stop decrypts from the others)."""
    for url in urls:
        try:
            yield kas_address(url.strip())
        except UsageError:
            continue


class KasAllowlist:
    """A set of KAS addresses, optionally widened lazily by a registry lookup.

    ``more`` is called at most once, and only when a URL is not already allowed: the
    common case (the platform's own KAS) costs no request.
    """

    def __init__(
        self,
        urls: Iterable[str] = (),
        *,
        ignore: bool = False,
        more: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.ignore = ignore
        self._addresses = {kas_address(u.strip()) for u in urls if u.strip()}
        self._more = more

    @classmethod
    def parse(cls, text: str, **kwargs: object) -> KasAllowlist:
        """Comma-separated URLs; ``*`` alone means allow every KAS."""
        items = [u.strip() for u in text.split(",") if u.strip()]
        if items == ["*"]:
            return cls(ignore=True)
        return cls(items, **kwargs)  # type: ignore[arg-type]

    def allowed(self, url: str) -> bool:
        if self.ignore:
            return True
        try:
            o = kas_address(url)
        except UsageError:
            return False
        return self._allows(o)

    def _allows(self, o: str) -> bool:
        if o in self._addresses:
            return True
        if self._more is not None:
            more, self._more = self._more, None
            self._addresses |= set(_registered(more()))
            return o in self._addresses
        return False

    def check(self, url: str) -> None:
        """Raise :class:`KasNotAllowedError` (message says *allowlist*) unless allowed."""
        if self.ignore:
            return
        try:
            address = kas_address(url)
        except UsageError as exc:
            raise KasNotAllowedError(f"KAS {url!r} is not allowed: {exc}") from None
        if not self._allows(address):
            raise KasNotAllowedError(
                f"KAS {url!r} is not allowed: it is not in the KAS allowlist "
                "(add it with --kas-allowlist or pass --ignore-kas-allowlist)"
            )
