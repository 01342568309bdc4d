"""The Connect unary protocol (connectrpc.com/docs/protocol) over Starlette.

Written here rather than taken from the ``connectrpc``/``connect-python`` packages: both
need their own code generator and an extra native HTTP-client dependency, and neither lets
the transport cap a body *while* reading it or share the handler registry and auth with the
REST gateway. What this serves:

- ``POST /<service>/<method>`` with ``application/proto`` or ``application/json`` bodies
  (proto3 JSON: camelCase or original names, unknown fields ignored);
- request compression ``Content-Encoding: gzip`` (otdf-python sends it) and ``identity``;
- ``Connect-Protocol-Version: 1`` (checked when sent), ``Connect-Timeout-Ms``;
- the GET form for idempotent methods (``?encoding=&message=&base64=&compression=``);
- errors as ``{"code", "message"}`` JSON with the code's HTTP status; unknown methods 404.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import TYPE_CHECKING

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from xtdf.platform import dispatch
from xtdf.platform.rpc import Method, RpcError

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

PROTO = "proto"
JSON = "json"
_CODECS = {"application/proto": PROTO, "application/json": JSON}


def error_response(err: RpcError) -> Response:
    body = json.dumps({"code": err.code, "message": err.message}).encode()
    headers = dict(getattr(err, "headers", {}) or {})
    return Response(body, err.http_status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with ``resource_exhausted`` as soon as it passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RpcError("invalid_argument", "malformed Content-Length")
        if int(declared) > limit:
            raise RpcError("resource_exhausted", f"request body of {declared} bytes > {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RpcError("resource_exhausted", f"request body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise RpcError("canceled", "client disconnected") from None
    return b"".join(chunks)


def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.strip().lower() or "identity"
    if encoding == "identity":
        return data
    if encoding != "gzip":
        raise RpcError("unimplemented", f"unsupported compression {encoding!r} (gzip, identity)")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise RpcError("invalid_argument", f"request body is not valid gzip: {exc}") from None
    if len(out) > limit:
        raise RpcError("resource_exhausted", f"decompressed request body larger than {limit} bytes")
    if not inflater.eof:
        raise RpcError("invalid_argument", "request body is truncated gzip")
    return out


def decode(method: Method, data: bytes, codec: str) -> Message:
    message = method.request_type()
    if codec == PROTO:
        try:
            message.ParseFromString(data)
        except (DecodeError, ValueError) as exc:
            raise RpcError(
                "invalid_argument", f"request is not a valid {_name(method)} protobuf: {exc}"
            ) from None
        return message
    if not data.strip():
        return message
    try:
        json_format.Parse(data.decode("utf-8"), message, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise RpcError(
            "invalid_argument", f"request is not valid JSON for {_name(method)}: {exc}"
        ) from None
    return message


def encode(message: Message, codec: str) -> bytes:
    if codec == PROTO:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def _name(method: Method) -> str:
    return method.request_type.DESCRIPTOR.full_name


def _timeout(request: Request) -> float | None:
    raw = request.headers.get("connect-timeout-ms")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise RpcError("invalid_argument", f"malformed Connect-Timeout-Ms {raw!r}")
    return int(raw) / 1000.0


def _codec_of(content_type: str) -> str | None:
    return _CODECS.get(content_type.split(";", 1)[0].strip().lower())


class ConnectEndpoint:
    """Serves the registered methods on one port (only KAS ones on an extra KAS port)."""

    def __init__(self, platform: Platform, instance: str = "default", kas_only: bool = False):
        self.platform = platform
        self.instance = instance
        self.kas_only = kas_only

    def lookup(self, path: str) -> Method | None:
        method = self.platform.method(path)
        if method is None:
            return None
        if self.kas_only and not method.service.startswith(("kas.", "wellknownconfiguration.")):
            return None
        return method

    async def handle(self, request: Request) -> Response:
        method = self.lookup(request.url.path)
        if method is None:
            return error_response(
                _NotFound("unimplemented", f"no such procedure {request.url.path}")
            )
        allowed = ("GET", "POST") if method.idempotent else ("POST",)
        if request.method not in allowed:
            return Response(status_code=405, headers={"Allow": ", ".join(allowed)})
        codec = PROTO
        if request.method == "POST":
            found = _codec_of(request.headers.get("content-type", ""))
            if found is None:
                return Response(
                    status_code=415,
                    headers={"Accept-Post": "application/json, application/proto"},
                )
            codec = found
        try:
            version = request.headers.get("connect-protocol-version")
            if version is not None and version != "1":
                raise RpcError(
                    "invalid_argument", f"unsupported Connect-Protocol-Version {version}"
                )
            timeout = _timeout(request)
            limit = self.platform.config.max_body_bytes
            # refuse a bad caller before reading its payload
            ctx = dispatch.authenticate(self.platform, request, method, method.path)
            ctx.instance = self.instance
            if request.method == "GET":
                codec, data = self._get_form(request, limit)
            else:
                raw = await read_body(request, limit)
                data = decompress(raw, request.headers.get("content-encoding", ""), limit)
            message = decode(method, data, codec)
            response = await dispatch.call(method, message, ctx, timeout)
        except RpcError as err:
            return error_response(err)
        media = "application/proto" if codec == PROTO else "application/json"
        return Response(encode(response, codec), 200, media_type=media)

    def _get_form(self, request: Request, limit: int) -> tuple[str, bytes]:
        q = request.query_params
        encoding = q.get("encoding", "")
        codec = {"proto": PROTO, "json": JSON}.get(encoding)
        if codec is None:
            raise RpcError(
                "invalid_argument", f"GET needs encoding=json or proto, got {encoding!r}"
            )
        raw = q.get("message", "")
        if len(raw) > 2 * limit:
            raise RpcError("resource_exhausted", "GET message parameter too large")
        if q.get("base64") == "1":
            try:
                data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            except (binascii.Error, ValueError):
                raise RpcError("invalid_argument", "GET message is not base64url") from None
        else:
            data = raw.encode("utf-8")
        return codec, decompress(data, q.get("compression", ""), limit)


class _NotFound(RpcError):
    """Unknown procedure: Connect clients expect HTTP 404 for it."""

    @property
    def http_status(self) -> int:
        return 404
