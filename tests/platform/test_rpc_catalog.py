"""Every RPC the platform serves reads and writes the messages OpenTDF's protobuf service
definitions declare for it, so a Connect or gRPC client built from those protos (the Go
SDK, otdfctl, the Java SDK) gets the bytes it expects; tests that call the handlers
directly cannot notice a method registered with the wrong message types."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pool

from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    platform = Platform(PlatformConfig(state_dir=Path(tmp_path_factory.mktemp("catalog"))))
    platform.load_services()
    assert not platform.skipped
    return platform.methods


#: the one service without a generated module here: the gRPC health check, whose two
#: messages xtdf builds in a private pool (xtdf.platform.wellknown)
HEALTH = {
    "/grpc.health.v1.Health/Check": (
        "grpc.health.v1.HealthCheckRequest",
        "grpc.health.v1.HealthCheckResponse",
    )
}


def test_each_method_has_the_message_types_of_its_proto(served: dict) -> None:
    pool = descriptor_pool.Default()
    wrong = []
    for path, m in sorted(served.items()):
        got = (m.request_type.DESCRIPTOR.full_name, m.response_type.DESCRIPTOR.full_name)
        if path in HEALTH:
            assert got == HEALTH[path]
            continue
        proto = pool.FindServiceByName(m.service).FindMethodByName(m.name)
        assert proto is not None, f"{path} is in no proto service"
        want = (proto.input_type.full_name, proto.output_type.full_name)
        if got != want:
            wrong.append(f"{path}: {got} != {want}")
    assert wrong == []


def test_the_authorization_services_are_all_served(served: dict) -> None:
    pool = descriptor_pool.Default()
    for service in ("authorization.AuthorizationService", "authorization.v2.AuthorizationService"):
        declared = {m.name for m in pool.FindServiceByName(service).methods}
        assert {m.name for m in served.values() if m.service == service} == declared
