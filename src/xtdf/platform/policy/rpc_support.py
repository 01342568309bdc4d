"""What the policy RPC modules share: the method registrar and request helpers.

Each ``*_rpc`` module registers one OpenTDF service's handlers on a :class:`Registrar`;
handlers translate between messages and :class:`PolicyStore` / :class:`KeyStore` calls,
and any :class:`XtdfError` the store raises reaches the caller as ``invalid_argument``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from xtdf.errors import XtdfError
from xtdf.platform.policy.base import required
from xtdf.platform.policy.keys import KeyStore
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import CallContext, Method, RpcError

__all__ = ["Registrar", "key_row_id", "one_of", "page", "required", "update_metadata"]

Handler = Callable[[Any], Message]


class Registrar:
    """Collects the :class:`Method` entries of the policy services."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.store = PolicyStore(platform.db)
        self.methods: list[Method] = []

    def keys(self) -> KeyStore:
        return KeyStore.for_platform(self.platform)

    def rpc(
        self,
        service: str,
        name: str,
        req_t: type[Message],
        resp_t: type[Message],
        read: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register ``fn(request) -> response`` as ``/<service>/<name>``."""

        def deco(fn: Handler) -> Handler:
            def handler(req: Message, ctx: CallContext) -> Message:
                try:
                    return fn(req)
                except RpcError:
                    raise
                except XtdfError as exc:
                    raise RpcError("invalid_argument", str(exc)) from exc

            self.methods.append(Method(service, name, req_t, resp_t, handler, idempotent=read))
            return fn

        return deco


#: page size when a list request names none (upstream's default limit)
DEFAULT_LIMIT = 1000


def page(resp: Any, field: str, req: Any) -> Any:
    """Cut the list in ``field`` to the requested page and fill ``pagination``."""
    items = list(getattr(resp, field))
    offset = max(req.pagination.offset, 0)
    limit = req.pagination.limit if req.pagination.limit > 0 else DEFAULT_LIMIT
    del getattr(resp, field)[:]
    getattr(resp, field).extend(items[offset : offset + limit])
    resp.pagination.current_offset = offset
    resp.pagination.total = len(items)
    if offset + limit < len(items):
        resp.pagination.next_offset = offset + limit
    return resp


def one_of(req: Message, oneof: str, fallback: str = "id") -> str:
    which = req.WhichOneof(oneof)
    value = getattr(req, which) if which else getattr(req, fallback, "")
    if not value:
        raise RpcError("invalid_argument", f"{oneof}: an identifier is required")
    return value


def key_row_id(store: PolicyStore, req: Message, oneof: str) -> str:
    """Resolve ``id`` or ``KasKeyIdentifier`` to a key row id."""
    which = req.WhichOneof(oneof)
    if which == "id":
        return store.key_row(req.id)["id"]  # type: ignore[attr-defined]
    if which == "key":
        ident = req.key  # type: ignore[attr-defined]
        kas_field = ident.WhichOneof("identifier")
        if not kas_field or not ident.kid:
            raise RpcError("invalid_argument", "key: kas identifier and kid are required")
        return store.key_row(ident.kid, getattr(ident, kas_field))["id"]
    raise RpcError("invalid_argument", f"{oneof}: id or key is required")


def update_metadata(req: Any) -> tuple[Any, int]:
    """(``metadata`` if the request sets it, else None; ``metadata_update_behavior``): an
    update without metadata leaves the labels alone."""
    return (req.metadata if req.HasField("metadata") else None), req.metadata_update_behavior
