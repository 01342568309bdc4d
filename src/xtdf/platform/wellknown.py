"""The well-known configuration: how a client finds the IdP and what the platform supports.

Same entries the Go platform registers (``idp`` is the IdP's OIDC discovery document,
``platform_issuer``, ``health``, the DPoP support flags) plus whatever services publish
through :meth:`Platform.register_wellknown` (``base_key``, ``key_managers``, ...). Served as
the Connect method ``GetWellKnownConfiguration`` (a ``Struct``) and as plain JSON at
``GET /.well-known/opentdf-configuration`` (the bare map, as Go answers it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from xtdf._proto.wellknownconfiguration import wellknown_configuration_pb2 as pb
from xtdf.platform.dpop import ALGORITHMS
from xtdf.platform.rpc import CallContext, Method

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

SERVICE = "wellknownconfiguration.WellKnownService"


def document(platform: Platform) -> dict[str, Any]:
    cfg = platform.config
    doc: dict[str, Any] = {
        "health": {"endpoint": "/healthz"},
        "idp": platform.idp.discovery(),
        "platform_issuer": cfg.issuer,
        "supports_dpop": True,
        "dpop_signing_alg_values_supported": sorted(ALGORITHMS),
        "dpop_nonce_required": False,
    }
    doc.update(platform.wellknown_extra())
    return doc


def methods(platform: Platform) -> list[Method]:
    def get(_request: Message, _ctx: CallContext) -> Message:
        resp = pb.GetWellKnownConfigurationResponse()
        resp.configuration.update(document(platform))
        return resp

    return [
        Method(
            service=SERVICE,
            name="GetWellKnownConfiguration",
            request_type=pb.GetWellKnownConfigurationRequest,
            response_type=pb.GetWellKnownConfigurationResponse,
            handler=get,
            auth_required=False,
            idempotent=True,
        )
    ]
