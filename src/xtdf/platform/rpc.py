"""The contract between the transports (Connect, REST) and the services behind them.

Services never see HTTP: each registers unary methods as ``Method`` entries whose handler
takes a request protobuf message and a :class:`CallContext` and returns the response
message, or raises :class:`RpcError` with a Connect error code. The transport layer
decodes binary or JSON (optionally gzip'd) bodies, authenticates the bearer token and
DPoP proof, and encodes the answer or the error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from xtdf.errors import XtdfError

#: Connect error codes and the HTTP status each maps to (connectrpc.com/docs/protocol)
CODES: dict[str, int] = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "data_loss": 500,
    "unauthenticated": 401,
}


class RpcError(XtdfError):
    """A refusal with a Connect error code and a message for the caller."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown Connect code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return CODES[self.code]


@dataclass
class CallContext:
    """What a handler may know about the caller."""

    #: request headers, lower-cased names
    headers: Mapping[str, str]
    #: verified access-token claims, or None when the call carried no valid token
    claims: dict[str, Any] | None = None
    #: RFC 7638 thumbprint of the DPoP key the token is bound to (``cnf.jkt``), if any
    dpop_jkt: str | None = None
    #: the public JWK from a verified DPoP proof on this request, if any
    dpop_jwk: dict[str, Any] | None = None
    #: name of the KAS instance this request reached (``default``, ``value1``, ...)
    instance: str = "default"
    #: base URL the request reached, e.g. ``http://localhost:8080``
    base_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def require_claims(self) -> dict[str, Any]:
        if self.claims is None:
            raise RpcError("unauthenticated", "missing or invalid access token")
        return self.claims


Handler = Callable[[Message, CallContext], Message]


@dataclass(frozen=True)
class Method:
    """One unary RPC: ``/<service>/<name>``, e.g. ``/kas.AccessService/Rewrap``."""

    service: str
    name: str
    request_type: type[Message]
    response_type: type[Message]
    handler: Handler
    #: False for the few public methods (public keys, well-known configuration)
    auth_required: bool = True
    #: whether the Connect GET form (idempotent, no side effects) is allowed
    idempotent: bool = False
    #: run on the event loop rather than a worker thread: for short CPU-bound handlers
    #: that never wait on anything (the thread hand-off cost more than the GIL lets a
    #: thread gain). The caller's deadline is not enforced on them: nothing can interrupt
    #: a call that holds its loop, so it must be short by construction
    inline: bool = False
    #: with ``inline``, a test of the request that keeps a large one off the loop: a call
    #: that fails it runs on a worker thread (with its deadline) like any other
    inline_if: Callable[[Message], bool] | None = None

    def runs_inline(self, message: Message) -> bool:
        return self.inline and (self.inline_if is None or self.inline_if(message))

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"
