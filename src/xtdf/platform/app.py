"""The ASGI applications, one per kind of port.

- platform port: everything (Connect, REST gateway, well-known, IdP, ``/healthz``);
- an extra KAS port: the KAS routes only, with that instance's name in each call;
- IdP port: the realm's discovery, JWKS and token endpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xtdf.platform import wellknown
from xtdf.platform.connect import ConnectEndpoint
from xtdf.platform.idp.routes import routes as idp_routes
from xtdf.platform.rest import RestRoutes

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

#: Connect procedure paths: ``/<package.Service>/<Method>``
CONNECT_PATH = "/{service}/{method}"


def _common(platform: Platform) -> list[BaseRoute]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "SERVING"})

    async def opentdf_configuration(_request: Request) -> Response:
        return JSONResponse(wellknown.document(platform))

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/.well-known/opentdf-configuration", opentdf_configuration, methods=["GET"]),
    ]


def platform_app(platform: Platform) -> Starlette:
    connect = ConnectEndpoint(platform)
    routes = [
        *_common(platform),
        *idp_routes(platform),
        *RestRoutes(platform).routes(),
        Route(CONNECT_PATH, connect.handle, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return Starlette(routes=routes)


def kas_app(platform: Platform, instance: str) -> Starlette:
    connect = ConnectEndpoint(platform, instance=instance, kas_only=True)
    routes = [
        *_common(platform),
        *RestRoutes(platform, instance=instance).routes(),
        Route(CONNECT_PATH, connect.handle, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return Starlette(routes=routes)


def idp_app(platform: Platform) -> Starlette:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "SERVING"})

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *idp_routes(platform)])
