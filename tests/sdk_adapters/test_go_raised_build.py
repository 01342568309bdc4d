"""otdfctl built with refused dependencies raised (``sdk/go/go.mk``, ``install.sh --raise``).

otdfctl 0.30.0 pins opentdf modules the module proxy refuses here; its own code is built with
them raised to served releases. These tests hold what makes that honest: the binary is
otdfctl 0.30.0 and carries exactly the raised releases, the raise is part of the build key
(a changed raise rebuilds), and a malformed raise is refused before anything is built.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import lane_missing
from tests.sdk_adapters.conftest import ROOT

GO_MK = ROOT / "sdk" / "go" / "go.mk"
INSTALL = ROOT / "sdk" / "go" / "install.sh"
PINNED = ROOT / "sdk" / "go" / "pinned_build.sh"


def _mk_value(name: str) -> str:
    """A variable of go.mk, continuation lines joined."""
    text = GO_MK.read_text().replace("\\\n", " ")
    match = re.search(rf"^{re.escape(name)}\s*:=\s*(.*)$", text, re.M)
    assert match, f"{name} is not set in {GO_MK}"
    return " ".join(match[1].split())


def _raised_versions() -> list[str]:
    raised = [v for v in _mk_value("GO_VERSIONS").split() if f"GO_RAISE_{v}" in GO_MK.read_text()]
    assert raised, "no otdfctl release is built with raised dependencies"
    return raised


@pytest.mark.parametrize("version", _raised_versions())
def test_raise_pins_are_complete(version: str) -> None:
    """Every raised module is vouched for by the committed sums file, at its release."""
    sums = (ROOT / "sdk" / "go" / f"raise-{version}.sum").read_text().splitlines()
    assert sums and all(re.fullmatch(r"\S+ v\S+ h1:[A-Za-z0-9+/=]+", line) for line in sums)
    for spec in _mk_value(f"GO_RAISE_{version}").split():
        module, release = spec.split("@")
        assert f"{module} {release}/go.mod" in {" ".join(s.split()[:2]) for s in sums}, spec
        assert any(s.startswith(f"{module} {release} h1:") for s in sums), spec
    assert _mk_value(f"GO_TOOLCHAIN_{version}").startswith("go")


@pytest.mark.parametrize("version", _raised_versions())
def test_installed_binary_is_the_release_on_the_raised_modules(
    version: str, tmp_path: Path
) -> None:
    dist = ROOT / "sdk" / "go" / "dist" / version
    if not (dist / ".installed").exists():
        lane_missing(f"otdfctl {version} is not installed (make sdks-go)")
    reported = json.loads((dist / "version.json").read_text())
    assert reported["version"] == version
    raised = dict(spec.split("@") for spec in _mk_value(f"GO_RAISE_{version}").split())
    assert f"v{reported['sdk_version']}" == raised["github.com/opentdf/platform/sdk"]
    go = shutil.which("go")
    if go is None:
        lane_missing("no `go` on PATH to read the binary's build information")
    info = subprocess.run(
        [go, "version", "-m", str(dist / "otdfctl")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": str(Path(go).parent), "HOME": str(tmp_path), "GOTOOLCHAIN": "local"},
    ).stdout
    deps = dict(re.findall(r"^\s+dep\s+(\S+)\s+(\S+)", info, re.M))
    assert re.search(
        rf"^\s+mod\s+github\.com/opentdf/otdfctl\s+v{re.escape(version)}\s", info, re.M
    )
    for module, release in raised.items():
        assert deps.get(module) == release, (module, deps.get(module))


def _build_key(raise_mods: str | None, sums: Path | None) -> str:
    """pinned_build_key as install.sh computes it, with or without a raise."""
    setup = "goversion=go1.0.0\n"
    if raise_mods is not None:
        setup += f"raise_mods='{raise_mods}' raise_sums='{sums}'\n"
    script = f"set -eu\n. '{PINNED}'\n{setup}pinned_build_key m 1.0.0 h1:a h1:b\n"
    if shutil.which("go") is None:
        lane_missing("no `go` on PATH (pinned_build_key asks it for GOOS/GOARCH)")
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_raise_is_part_of_the_build_key(tmp_path: Path) -> None:
    sums = tmp_path / "raise.sum"
    sums.write_text("example.com/m v1.0.0 h1:x=\n")
    plain = _build_key(None, None)
    raised = _build_key("example.com/m@v1.0.0", sums)
    assert len({plain, raised, _build_key("example.com/m@v1.0.1", sums)}) == 3
    sums.write_text("example.com/m v1.0.0 h1:y=\n")
    assert _build_key("example.com/m@v1.0.0", sums) != raised


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--raise", "{sums}", "example.com/m@1.0.0"], "--raise example.com/m@1.0.0 is not"),
        (["--raise", "{sums}", "example.com/m"], "--raise example.com/m is not"),
        (["--raise", "{sums}"], "--raise takes a go.sum file and at least one module"),
        (["--raise", "{missing}", "example.com/m@v1.0.0"], "--raise takes a go.sum file"),
        (["--bump", "{sums}", "example.com/m@v1.0.0"], "--raise takes a go.sum file"),
    ],
)
def test_a_malformed_raise_is_refused_before_building(
    extra: list[str], message: str, tmp_path: Path
) -> None:
    sums = tmp_path / "raise.sum"
    sums.write_text("")
    args = [a.format(sums=sums, missing=tmp_path / "nope.sum") for a in extra]
    run = subprocess.run(
        ["bash", str(INSTALL), "example.com/tool", "1.0.0", "h1:a", "h1:b", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "building" not in run.stdout
