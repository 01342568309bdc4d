"""One call of a registered method, whichever transport carried it (Connect or REST).

Authenticates (unless the method is public), builds the :class:`CallContext`, runs the
synchronous handler in a worker thread (handlers do crypto and SQLite), enforces the
caller's deadline, and turns every failure into an :class:`RpcError` with a Connect code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from google.protobuf.message import Message
from starlette.requests import Request

from xtdf.errors import (
    AccessDeniedError,
    AuthError,
    FormatError,
    IntegrityError,
    PlatformError,
    UsageError,
    XtdfError,
)
from xtdf.platform import roles
from xtdf.platform.dpop import DPoPProofError
from xtdf.platform.rpc import CallContext, Method, RpcError

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

log = logging.getLogger("xtdf.platform.rpc")


class Refusal(RpcError):
    """An :class:`RpcError` that also sets response headers (``WWW-Authenticate``)."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(code, message)
        self.headers = headers or {}


def base_url(request: Request) -> str:
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def authenticate(
    platform: Platform, request: Request, method: Method, htu_path: str, *, rest: bool = False
) -> CallContext:
    """The call's context; raises ``unauthenticated`` when a required token fails and
    ``permission_denied`` when the caller's roles do not allow the call (:mod:`roles`).

    ``rest`` says the call came by an HTTP route of the REST gateway: the role policy then
    judges the route and HTTP method, as the Go platform does, not the procedure.
    """
    ctx = CallContext(
        headers={k.lower(): v for k, v in request.headers.items()},
        base_url=base_url(request),
    )
    if not method.auth_required:
        return ctx
    try:
        identity = platform.auth.authenticate(
            authorization=request.headers.get("authorization"),
            dpop_headers=request.headers.getlist("dpop"),
            method=request.method,
            path=htu_path,
            host=request.headers.get("host", ""),
            origin=request.headers.get("origin"),
        )
    except DPoPProofError as exc:
        raise Refusal(
            "unauthenticated", str(exc), {"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"'}
        ) from None
    except AuthError as exc:
        challenge = (
            'Bearer error="invalid_token"' if "authorization" in request.headers else "Bearer"
        )
        raise Refusal("unauthenticated", str(exc), {"WWW-Authenticate": challenge}) from None
    authorize(platform, identity.claims, method, request, rest=rest)
    ctx.claims = identity.claims
    ctx.dpop_jkt = identity.dpop_jkt
    ctx.dpop_jwk = identity.dpop_jwk
    return ctx


def authorize(
    platform: Platform, claims: dict[str, Any], method: Method, request: Request, *, rest: bool
) -> None:
    """Refuse, before the handler runs, a call the caller's roles do not allow."""
    if rest:
        resource, action = request.url.path, roles.http_action(request.method)
    else:
        resource, action = method.path.lstrip("/"), roles.rpc_action(method.name)
    policy = platform.roles
    if policy.allows(claims, resource, action):
        return
    held = ", ".join(policy.subjects(claims))
    raise Refusal(
        "permission_denied",
        f"permission denied: {resource} ({action}) is not allowed for roles [{held}]",
    )


def to_rpc_error(exc: BaseException, method: Method) -> RpcError:
    """Map what a handler raised onto a Connect error the caller can act on."""
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, AuthError):
        return RpcError("unauthenticated", str(exc))
    if isinstance(exc, AccessDeniedError):
        return RpcError("permission_denied", str(exc))
    if isinstance(exc, FormatError | IntegrityError | UsageError):
        return RpcError("invalid_argument", str(exc))
    if isinstance(exc, PlatformError):
        return RpcError("unavailable", str(exc))
    if isinstance(exc, XtdfError):
        return RpcError("unknown", str(exc))
    log.error("%s failed", method.path, exc_info=exc)
    return RpcError("internal", f"{method.path} failed: internal error")


async def call(
    method: Method, message: Message, ctx: CallContext, timeout_s: float | None = None
) -> Message:
    """Run the handler off the event loop; always returns a message or raises RpcError."""
    try:
        if method.runs_inline(message):
            response = method.handler(message, ctx)
        else:
            with anyio.fail_after(timeout_s):
                response = await anyio.to_thread.run_sync(
                    method.handler, message, ctx, abandon_on_cancel=True
                )
    except TimeoutError:
        raise RpcError("deadline_exceeded", f"{method.path} exceeded its deadline") from None
    except Exception as exc:
        raise to_rpc_error(exc, method) from None
    if not isinstance(response, method.response_type):
        log.error("%s returned %s", method.path, type(response).__name__)
        raise RpcError("internal", f"{method.path} returned the wrong message type")
    return response
