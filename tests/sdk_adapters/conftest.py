"""Fixtures for the independent SDKs' adapters (``sdk/<name>/dist/<version>/cli.sh``).

Each test runs the real, installed client through its adapter; when an SDK is not installed
(``make sdks-independent`` not run, or no registry access) its tests skip and say so.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sdk_adapters.stub import StubKeys, StubServer

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / "sdk"

#: what ``make sdks-independent`` installs (sdk/sdks.mk)
OTDF_PYTHON = ("0.11.0", "0.9.0")
JS = ("2.0.0-beta.1412",)


#: variables an adapter reads; cleared so the caller's shell cannot leak into a test
_ADAPTER_VARS = (
    "PLATFORMURL",
    "PLATFORMENDPOINT",
    "KASURL",
    "KCFULLURL",
    "KCHOST",
    "TOKENENDPOINT",
    "CLIENTID",
    "CLIENTSECRET",
)


def adapter_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without anything an adapter reads, plus ``extra``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("XT_WITH_") and k not in _ADAPTER_VARS
    }
    return {**base, **(extra or {})}


def run_logged(
    cli: Path, log: Path, args: tuple[str | Path, ...], env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """Run a rendered adapter whose stand-in client records its argv in ``log`` (FAKE_LOG)."""
    log.unlink(missing_ok=True)
    return subprocess.run(
        [str(cli), *map(str, args)],
        env=adapter_env({"FAKE_LOG": str(log), **(env or {})}),
        capture_output=True,
        text=True,
        timeout=30,
    )


@dataclass(frozen=True)
class Adapter:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def cli(self) -> Path:
        return SDK_DIR / self.name / "dist" / self.version / "cli.sh"

    @property
    def is_js(self) -> bool:
        return self.name == "js"

    def run(
        self, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.cli), *map(str, args)],
            env=adapter_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


ALL_ADAPTERS = [Adapter("otdf-python", v) for v in OTDF_PYTHON] + [Adapter("js", v) for v in JS]


def require_installed(adapter: Adapter) -> Adapter:
    if not os.access(adapter.cli, os.X_OK):
        pytest.skip(
            f"{adapter} not installed ({adapter.cli} absent or not executable): "
            "run `make sdks-independent`"
        )
    return adapter


@pytest.fixture(params=ALL_ADAPTERS, ids=str)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return require_installed(request.param)


@pytest.fixture(params=[a for a in ALL_ADAPTERS if not a.is_js], ids=str)
def otdf_python(request: pytest.FixtureRequest) -> Adapter:
    return require_installed(request.param)


@pytest.fixture(scope="session")
def stub_keys() -> StubKeys:
    """One pair of KAS keys for the whole session: RSA key generation is the slow part."""
    return StubKeys()


@pytest.fixture
def stub(stub_keys: StubKeys) -> Iterator[StubServer]:
    with StubServer(keys=stub_keys) as server:
        yield server


@pytest.fixture
def plaintext(tmp_path: Path) -> Path:
    p = tmp_path / "plain.txt"
    p.write_bytes(b"xtdf adapter test\n" * 8)
    return p


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A small plaintext for an adapter to encrypt."""
    p = tmp_path / "plain.txt"
    p.write_text("adapter test\n")
    return p
