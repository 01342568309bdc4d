"""HTTP face of the IdP, on Keycloak's paths under ``/auth/realms/<realm>/``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xtdf.platform.dpop import origins_for_host
from xtdf.platform.idp.provider import OAuthError

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

#: a client-credentials form is a few hundred bytes
MAX_FORM_BYTES = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def routes(platform: Platform) -> list[Route]:
    base = "/auth/realms/{realm}"
    idp = platform.idp

    def realm_ok(request: Request) -> bool:
        return request.path_params["realm"] == platform.config.realm

    def no_realm() -> Response:
        return JSONResponse({"error": "Realm does not exist"}, 404)

    async def discovery(request: Request) -> Response:
        return JSONResponse(idp.discovery()) if realm_ok(request) else no_realm()

    async def certs(request: Request) -> Response:
        return JSONResponse(idp.jwks()) if realm_ok(request) else no_realm()

    async def token(request: Request) -> Response:
        if not realm_ok(request):
            return no_realm()
        try:
            form = await _read_form(request)
            urls = [o + request.url.path for o in origins_for_host(request.headers.get("host", ""))]
            urls.append(platform.config.token_endpoint)
            body = idp.token_response(
                form,
                request.headers.get("authorization"),
                request.headers.getlist("dpop"),
                urls,
            )
        except OAuthError as err:
            headers = dict(_NO_STORE)
            if err.status == 401:
                headers["WWW-Authenticate"] = f'Basic realm="{platform.config.realm}"'
            return JSONResponse(err.body(), err.status, headers=headers)
        return JSONResponse(body, headers=_NO_STORE)

    return [
        Route(f"{base}/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route(f"{base}/protocol/openid-connect/certs", certs, methods=["GET"]),
        Route(f"{base}/protocol/openid-connect/token", token, methods=["POST"]),
    ]


async def _read_form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError(
            400, "invalid_request", "token request must be application/x-www-form-urlencoded"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise OAuthError(400, "invalid_request", "token request body too large")
            chunks.append(chunk)
    except ClientDisconnect:
        raise OAuthError(400, "invalid_request", "client disconnected") from None
    try:
        pairs = parse_qsl(
            b"".join(chunks).decode("utf-8"), keep_blank_values=True, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request", "token request body is not a valid form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError(400, "invalid_request", f"parameter {key} repeated")
        form[key] = value
    return form
