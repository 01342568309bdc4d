"""The full platform (all present services) and service registration."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import httpx
import pytest

import xtdf.platform
from tests.platform.conftest import LocalPlatform
from xtdf._proto.wellknownconfiguration import wellknown_configuration_pb2 as wk
from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform
from xtdf.platform.rpc import Method
from xtdf.platform.server import PlatformServer


def test_wellknown_configuration(local_platform: LocalPlatform) -> None:
    lp = local_platform
    doc = httpx.get(f"{lp.url}/.well-known/opentdf-configuration").json()
    assert doc["platform_issuer"] == lp.issuer
    assert doc["idp"]["issuer"] == lp.issuer
    assert doc["idp"]["token_endpoint"] == lp.token_url
    assert doc["health"] == {"endpoint": "/healthz"}
    assert doc["supports_dpop"] is True
    assert "ES256" in doc["dpop_signing_alg_values_supported"]
    r = httpx.post(
        f"{lp.url}/wellknownconfiguration.WellKnownService/GetWellKnownConfiguration",
        content=wk.GetWellKnownConfigurationRequest().SerializeToString(),
        headers={"Content-Type": "application/proto", "Connect-Protocol-Version": "1"},
    )
    assert r.status_code == 200
    resp = wk.GetWellKnownConfigurationResponse.FromString(r.content)
    assert resp.configuration["platform_issuer"] == lp.issuer
    assert resp.configuration["idp"]["token_endpoint"] == lp.token_url


def test_present_services_are_registered(local_platform: LocalPlatform) -> None:
    p = local_platform.platform
    for name in p.config.services:
        present = importlib.util.find_spec(f"xtdf.platform.{name}") is not None
        assert (name in p.services) or (name in p.skipped)
        if not present:
            assert name in p.skipped


def test_all_instances_answer(local_platform: LocalPlatform) -> None:
    lp = local_platform
    assert set(lp.kas_urls) == {"default", "value1", "value2", "attr", "ns", "km1", "km2"}
    for url in lp.kas_urls.values():
        assert httpx.get(url.removesuffix("/kas") + "/healthz").status_code == 200


def test_published_wellknown_entries(local_platform: LocalPlatform) -> None:
    lp = local_platform
    lp.platform.register_wellknown("xtdf_test_entry", {"x": 1})
    doc = httpx.get(f"{lp.url}/.well-known/opentdf-configuration").json()
    assert doc["xtdf_test_entry"] == {"x": 1}


@pytest.fixture
def service_dir(tmp_path: Path):
    """A directory on ``xtdf.platform.__path__`` to hold throwaway service packages."""
    xtdf.platform.__path__.append(str(tmp_path))
    try:
        yield tmp_path
    finally:
        xtdf.platform.__path__.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.startswith("xtdf.platform.xtdftest_")]:
            del sys.modules[mod]


def test_missing_service_is_skipped(tmp_path: Path) -> None:
    cfg = PlatformConfig(state_dir=tmp_path, services=["xtdftest_absent"])
    p = Platform(cfg)
    p.load_services()
    assert p.skipped == ["xtdftest_absent"]
    assert "/wellknownconfiguration.WellKnownService/GetWellKnownConfiguration" in p.methods


def test_broken_service_import_is_not_swallowed(tmp_path: Path, service_dir: Path) -> None:
    pkg = service_dir / "xtdftest_broken"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import xtdf_no_such_dependency  # noqa\n")
    p = Platform(PlatformConfig(state_dir=tmp_path / "s", services=["xtdftest_broken"]))
    with pytest.raises(ModuleNotFoundError, match="xtdf_no_such_dependency"):
        p.load_services()


def test_service_methods_and_duplicates(tmp_path: Path, service_dir: Path) -> None:
    pkg = service_dir / "xtdftest_ok"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from xtdf._proto.wellknownconfiguration import wellknown_configuration_pb2 as pb\n"
        "from xtdf.platform.rpc import Method\n"
        "def methods(platform):\n"
        "    platform.register_wellknown('xtdftest', True)\n"
        "    return [Method('xtdftest.S', 'M', pb.GetWellKnownConfigurationRequest,\n"
        "                   pb.GetWellKnownConfigurationResponse, lambda r, c: r)]\n"
    )
    p = Platform(PlatformConfig(state_dir=tmp_path / "s", services=["xtdftest_ok"]))
    p.load_services()
    assert p.services == ["xtdftest_ok"]
    assert isinstance(p.method("/xtdftest.S/M"), Method)
    assert p.wellknown_extra() == {"xtdftest": True}
    with pytest.raises(ValueError, match="registered twice"):
        p.register([p.methods["/xtdftest.S/M"]])


@pytest.mark.parametrize("loops", [1, 3])
def test_event_loops_serve_and_stop_cleanly(tmp_path: Path, loops: int) -> None:
    """Each loop runs a server per port on its own duplicate of the listening socket, so
    stopping them (each closes its sockets) leaves no error and no thread behind."""
    import threading

    from tests.platform.conftest import start_platform

    before = {t.name for t in threading.enumerate()}
    server = start_platform(tmp_path, kas_ports={"value1": 0}, event_loops=loops)
    try:
        assert len(server._servers) == loops * 3  # platform, IdP, one KAS
        for url in server.urls().values():
            base = url.split("/auth/")[0].removesuffix("/kas")
            assert httpx.get(base + "/healthz", timeout=10).status_code == 200
    finally:
        server.stop()
    assert server._error is None
    leftover = {t.name for t in threading.enumerate()} - before
    assert not any(name.startswith("xtdf-") for name in leftover), leftover


def test_event_loops_config_bounds() -> None:
    with pytest.raises(ValueError):
        PlatformConfig(event_loops=0)


def test_stop_before_serve_leaves_no_error_and_frees_the_ports(tmp_path: Path) -> None:
    """A stop that arrives before the extra loops start (SIGTERM at once): every loop still
    stops cleanly, and no duplicate of a listening socket stays open."""
    import asyncio
    import socket

    server = PlatformServer(
        PlatformConfig(state_dir=tmp_path, platform_port=0, idp_port=0, kas_ports={}, event_loops=3)
    )
    port = server.config.platform_port
    server.request_stop()
    asyncio.run(server.serve())
    assert server._error is None
    with socket.socket() as probe:  # nothing listens there any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
