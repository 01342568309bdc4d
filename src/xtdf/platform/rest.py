"""grpc-gateway-style JSON routes for clients that predate Connect (the JS CLI).

Each route names the registered method it calls (looked up at request time, so a route
works as soon as its service is registered): query parameters fill request fields, a POST
body is the whole request in proto3 JSON, and the answer is the response in proto3 JSON
with unpopulated fields included, as grpc-gateway marshals it. Errors use grpc-gateway's
``{"code": <gRPC number>, "message"}`` shape with the same HTTP status as Connect.

``GET /kas/kas_public_key`` keeps its two historical answers: with ``v=2`` the
``PublicKeyResponse`` object (``publicKey``, ``kid``); without, the bare PEM as a JSON
string (``LegacyPublicKey``), which the JS NanoTDF client parses directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xtdf.platform import dispatch
from xtdf.platform.connect import decode, decompress, read_body
from xtdf.platform.rpc import RpcError

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

PUBLIC_KEY = "/kas.AccessService/PublicKey"
LEGACY_PUBLIC_KEY = "/kas.AccessService/LegacyPublicKey"
REWRAP = "/kas.AccessService/Rewrap"

#: Connect code -> gRPC status number, for grpc-gateway's error body
GRPC_CODES: dict[str, int] = {
    "canceled": 1,
    "unknown": 2,
    "invalid_argument": 3,
    "deadline_exceeded": 4,
    "not_found": 5,
    "already_exists": 6,
    "permission_denied": 7,
    "resource_exhausted": 8,
    "failed_precondition": 9,
    "aborted": 10,
    "out_of_range": 11,
    "unimplemented": 12,
    "internal": 13,
    "unavailable": 14,
    "data_loss": 15,
    "unauthenticated": 16,
}


def error_response(err: RpcError) -> Response:
    body = {"code": GRPC_CODES[err.code], "message": err.message, "details": []}
    headers = dict(getattr(err, "headers", {}) or {})
    return JSONResponse(body, err.http_status, headers=headers)


def message_json(message: Message) -> Any:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def query_to_message(message: Message, query: dict[str, str]) -> None:
    """Fill scalar fields named (JSON or proto name) by query parameters; ignore others."""
    fields = {}
    for f in message.DESCRIPTOR.fields:
        fields[f.name] = f
        fields[f.json_name] = f
    values: dict[str, Any] = {}
    for key, value in query.items():
        f = fields.get(key)
        if f is None or f.message_type is not None or _is_repeated(f):
            continue
        if f.type == FieldDescriptor.TYPE_BOOL:
            if value not in ("true", "false", "1", "0"):
                raise RpcError("invalid_argument", f"query parameter {key} must be a boolean")
            values[f.json_name] = value in ("true", "1")
        else:
            values[f.json_name] = value
    try:
        json_format.ParseDict(values, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise RpcError("invalid_argument", f"bad query parameter: {exc}") from None


def _is_repeated(f: FieldDescriptor) -> bool:
    if hasattr(f, "is_repeated"):  # protobuf >= 5.28; ``label`` is gone in 7
        return bool(f.is_repeated)
    return f.label == FieldDescriptor.LABEL_REPEATED  # pragma: no cover


@dataclass
class RestRoutes:
    platform: Platform
    instance: str = "default"

    def routes(self) -> list[Route]:
        return [
            Route("/kas/v2/kas_public_key", self.public_key, methods=["GET"]),
            Route("/kas/kas_public_key", self.legacy_public_key, methods=["GET"]),
            Route("/kas/v2/rewrap", self.rewrap, methods=["POST"]),
        ]

    async def _call(self, request: Request, path: str, body: bool) -> Message:
        method = self.platform.method(path)
        if method is None:
            raise RpcError("unimplemented", f"{path} is not served by this platform")
        ctx = dispatch.authenticate(self.platform, request, method, request.url.path, rest=True)
        ctx.instance = self.instance
        if body:
            limit = self.platform.config.max_body_bytes
            raw = await read_body(request, limit)
            data = decompress(raw, request.headers.get("content-encoding", ""), limit)
            message = decode(method, data, "json")
        else:
            message = method.request_type()
        query_to_message(message, dict(request.query_params))
        return await dispatch.call(method, message, ctx)

    async def public_key(self, request: Request) -> Response:
        try:
            resp = await self._call(request, PUBLIC_KEY, body=False)
        except RpcError as err:
            return error_response(err)
        return JSONResponse(message_json(resp))

    async def legacy_public_key(self, request: Request) -> Response:
        try:
            if request.query_params.get("v") == "2":
                resp = await self._call(request, PUBLIC_KEY, body=False)
                return JSONResponse(message_json(resp))
            if self.platform.method(LEGACY_PUBLIC_KEY) is not None:
                legacy = await self._call(request, LEGACY_PUBLIC_KEY, body=False)
                return JSONResponse(message_json(legacy))
            resp = await self._call(request, PUBLIC_KEY, body=False)
        except RpcError as err:
            return error_response(err)
        pem = getattr(resp, "public_key", None)
        if not isinstance(pem, str):
            return error_response(RpcError("internal", "PublicKey answer has no public_key"))
        return Response(json.dumps(pem), media_type="application/json")

    async def rewrap(self, request: Request) -> Response:
        try:
            resp = await self._call(request, REWRAP, body=True)
        except RpcError as err:
            return error_response(err)
        return JSONResponse(message_json(resp))
