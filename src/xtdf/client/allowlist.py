"""Which KASes a decrypting client will send its credentials and wrapped keys to.

A TDF names its own KAS URLs, so a forged file could point a client at an attacker's
server; the allowlist stops that before any request is made. KAS URLs are compared by
origin (scheme, host, port), as upstream SDKs do, so ``http://h:8080/kas`` and
``http://h:8080`` are the same KAS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from xtdf.errors import KeyAccessError, UsageError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class KasNotAllowedError(KeyAccessError):
    """A key access object names a KAS outside the allowlist."""


def origin(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit; UsageError for anything
    that is not an http(s) URL (a file's KAS URL may be anything, e.g. an unclosed ``[``)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise UsageError(f"not an http(s) KAS URL: {url!r} ({exc})") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise UsageError(f"not an http(s) KAS URL: {url!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise UsageError(f"invalid port in KAS URL: {url!r}") from None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}"


class KasAllowlist:
    """A set of KAS origins, optionally widened lazily by a registry lookup.

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
        self._origins = {origin(u) for u in urls if u.strip()}
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
            o = origin(url)
        except UsageError:
            return False
        if o in self._origins:
            return True
        if self._more is not None:
            more, self._more = self._more, None
            self._origins |= {origin(u) for u in more() if u.strip()}
            return o in self._origins
        return False

    def check(self, url: str) -> None:
        """Raise :class:`KasNotAllowedError` (message says *allowlist*) unless allowed."""
        if not self.ignore:
            try:
                origin(url)
            except UsageError as exc:
                raise KasNotAllowedError(f"KAS {url!r} is not allowed: {exc}") from None
        if not self.allowed(url):
            raise KasNotAllowedError(
                f"KAS {url!r} is not allowed: it is not in the KAS allowlist "
                "(add it with --kas-allowlist or pass --ignore-kas-allowlist)"
            )
