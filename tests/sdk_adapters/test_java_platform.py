"""The Java SDK 0.7.3 against the real platform on loopback (free ports, its own state).

0.7.3's only transport to the platform and each KAS is gRPC, so every call here goes through
the platform's gRPC gateway; the entitlement refusal is the KAS's, judged on the policy
written through the platform's own policy service.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import lane_missing
from tests.platform.conftest import start_platform
from xtdf.platform import kas
from xtdf.platform.admin import PolicyAdmin, condition_set
from xtdf.platform.server import PlatformServer

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "sdk" / "java" / "dist" / "0.7.3" / "cli.sh"
SECRET = "https://java.example/attr/level/value/secret"

if not os.access(CLI, os.X_OK):
    lane_missing(f"java@0.7.3 not installed ({CLI}): run `make sdks-java`")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    """A platform where ``xtdf-alice`` is entitled to :data:`SECRET` and ``xtdf-bob`` not."""
    srv = start_platform(tmp_path_factory.mktemp("java-platform"), kas_ports={"value1": 0})
    try:
        with PolicyAdmin(srv.config.platform_url, "opentdf", "secret") as admin:
            ns = admin.create_namespace("java.example")
            admin.create_attribute(ns["id"], "level", "any_of", ["secret"])
            admin.create_subject_mapping(
                SECRET, subject_sets=condition_set(".clientId", ["xtdf-alice"])
            )
        yield srv
    finally:
        srv.stop()


def run(
    server: PlatformServer, verb: str, src: Path, dst: Path, fmt: str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XT_WITH_", "KASURL"))}
    base.update(PLATFORMURL=server.config.platform_url, CLIENTID="opentdf", CLIENTSECRET="secret")
    return subprocess.run(
        [str(CLI), verb, str(src), str(dst), fmt],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def rewraps(server: PlatformServer) -> list[dict]:
    """The KAS's audit records of rewrap decisions, oldest first."""
    return [r for r in kas.service_for(server.platform).audit.records() if r["event"] == "rewrap"]


@pytest.fixture
def plaintext(tmp_path: Path) -> Path:
    path = tmp_path / "pt.bin"
    path.write_bytes(os.urandom(5000))
    return path


@pytest.mark.parametrize("fmt", ["ztdf", "nano"])
def test_round_trip_through_a_kas_port(
    server: PlatformServer, plaintext: Path, tmp_path: Path, fmt: str
) -> None:
    """Written for the ``value1`` KAS, whose URL names its own port: both the encrypting
    public-key call and the decrypting rewrap reach that port over gRPC."""
    kas_url = server.config.kas_url("value1")
    ct, rt = tmp_path / f"ct.{fmt}", tmp_path / "rt.bin"
    enc = run(server, "encrypt", plaintext, ct, fmt, KASURL=kas_url, XT_WITH_TARGET_MODE="4.2.2")
    assert enc.returncode == 0, enc.stderr
    before = len(rewraps(server))
    dec = run(server, "decrypt", ct, rt, fmt, KASURL=kas_url)
    assert dec.returncode == 0, dec.stderr
    assert rt.read_bytes() == plaintext.read_bytes()
    assert [(r["kas"], r["decision"]) for r in rewraps(server)[before:]] == [("value1", "permit")]


def test_entitlement_decides_the_rewrap(
    server: PlatformServer, plaintext: Path, tmp_path: Path
) -> None:
    ct = tmp_path / "ct.tdf"
    enc = run(
        server,
        "encrypt",
        plaintext,
        ct,
        "ztdf",
        XT_WITH_ATTRIBUTES=SECRET,
        XT_WITH_TARGET_MODE="4.2.2",
    )
    assert enc.returncode == 0, enc.stderr
    refused = tmp_path / "bob.bin"
    before = len(rewraps(server))
    bob = run(server, "decrypt", ct, refused, "ztdf", CLIENTID="xtdf-bob")
    assert bob.returncode == 1
    (line,) = bob.stderr.strip().splitlines()
    assert line.startswith("xtdf-java-cli@0.7.3: error: ") and "PERMISSION_DENIED" in line, line
    assert not refused.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".bob.bin")] == []
    (record,) = rewraps(server)[before:]
    assert record["decision"] == "deny", record
    allowed = tmp_path / "alice.bin"
    alice = run(server, "decrypt", ct, allowed, "ztdf", CLIENTID="xtdf-alice")
    assert alice.returncode == 0, alice.stderr
    assert allowed.read_bytes() == plaintext.read_bytes()


def test_a_bad_client_secret_is_refused_by_the_idp(
    server: PlatformServer, plaintext: Path, tmp_path: Path
) -> None:
    ct = tmp_path / "ct.tdf"
    result = run(server, "encrypt", plaintext, ct, "ztdf", CLIENTSECRET="wrong")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("xtdf-java-cli@0.7.3: error: ") and "failed to get token" in line, line
    assert "unauthorized_client" in line  # what Keycloak, and our IdP, answer a bad secret
    assert not ct.exists()
