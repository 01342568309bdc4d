"""The well-known configuration: how a client finds the IdP and what the platform supports.

Same entries the Go platform registers (``idp`` is the IdP's OIDC discovery document,
``platform_issuer``, ``health``, the DPoP support flags) plus whatever services publish
through :meth:`Platform.register_wellknown` (``base_key``, ``key_managers``, ...). Served as
the Connect method ``GetWellKnownConfiguration`` (a ``Struct``) and as plain JSON at
``GET /.well-known/opentdf-configuration`` (the bare map, as Go answers it).

Beside it, the standard gRPC health check ``grpc.health.v1.Health/Check``, which the Go SDK
calls (over Connect) before anything else when a client asks it to validate the connection,
as otdfctl always does: without it otdfctl stops with "Failed to connect to the platform".
It answers ``SERVING`` for the platform (empty ``service``) and for every service the
platform serves, and ``SERVICE_UNKNOWN`` for any other name, as gRPC's health server does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from xtdf._proto.wellknownconfiguration import wellknown_configuration_pb2 as pb
from xtdf.platform.dpop import ALGORITHMS
from xtdf.platform.rpc import CallContext, Method

if TYPE_CHECKING:
    from xtdf.platform.core import Platform

SERVICE = "wellknownconfiguration.WellKnownService"
HEALTH_SERVICE = "grpc.health.v1.Health"
#: grpc.health.v1.HealthCheckResponse.ServingStatus
SERVING, SERVICE_UNKNOWN = 1, 3


def _health_messages() -> tuple[type[Message], type[Message]]:
    """grpc.health.v1's two messages, built from a descriptor in a private pool.

    ``HealthCheckRequest {string service = 1}`` and ``HealthCheckResponse {ServingStatus
    status = 1}`` with ``ServingStatus`` UNKNOWN 0, SERVING 1, NOT_SERVING 2,
    SERVICE_UNKNOWN 3 (the gRPC health checking protocol). A private pool, so that a
    generated ``grpc/health/v1/health.proto`` elsewhere in the process cannot clash.
    """
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="xtdf/grpc_health_v1.proto", package="grpc.health.v1", syntax="proto3"
    )
    req = fdp.message_type.add(name="HealthCheckRequest")
    req.field.add(name="service", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    resp = fdp.message_type.add(name="HealthCheckResponse")
    status = resp.enum_type.add(name="ServingStatus")
    for name, number in (("UNKNOWN", 0), ("SERVING", 1), ("NOT_SERVING", 2)):
        status.value.add(name=name, number=number)
    status.value.add(name="SERVICE_UNKNOWN", number=SERVICE_UNKNOWN)
    resp.field.add(
        name="status",
        number=1,
        type=F.TYPE_ENUM,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
        label=F.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return (
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")
        ),
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")
        ),
    )


HealthCheckRequest, HealthCheckResponse = _health_messages()


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

    def check(request: Message, _ctx: CallContext) -> Message:
        wanted = request.service  # type: ignore[attr-defined]
        known = not wanted or any(m.service == wanted for m in platform.methods.values())
        return HealthCheckResponse(status=SERVING if known else SERVICE_UNKNOWN)

    return [
        Method(
            service=SERVICE,
            name="GetWellKnownConfiguration",
            request_type=pb.GetWellKnownConfigurationRequest,
            response_type=pb.GetWellKnownConfigurationResponse,
            handler=get,
            auth_required=False,
            idempotent=True,
        ),
        Method(
            service=HEALTH_SERVICE,
            name="Check",
            request_type=HealthCheckRequest,
            response_type=HealthCheckResponse,
            handler=check,
            auth_required=False,
            idempotent=True,
        ),
    ]
