"""Loopback platforms for the client's integration tests (the real server, free ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.platform.conftest import LocalPlatform, dummy_methods, start_platform
from xtdf.platform.admin import PolicyAdmin


@pytest.fixture(scope="session")
def echo_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """The real transports, IdP and auth, serving only the platform tests' dummy methods."""
    server = start_platform(
        tmp_path_factory.mktemp("client-echo"), services=[], kas_ports={"value1": 0}
    )
    server.platform.register(dummy_methods())
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()


@pytest.fixture(scope="session")
def full_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """The real platform with every service package present (KAS, policy, authz)."""
    server = start_platform(tmp_path_factory.mktemp("client-full"))
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()


@pytest.fixture(scope="session")
def admin(full_platform: LocalPlatform) -> Iterator[PolicyAdmin]:
    with PolicyAdmin(full_platform.url) as session:
        yield session
