"""``--platform=go``: the suite starts OpenTDF's Go platform itself, runs cells against it and
stops it; the differences with xtdf's platform are listed and written to compat.md.

The run uses upstream's fixed ports (8080, 8888, 8181-8686). As root with ``unshare`` it
runs in a private network namespace, so it never meets another platform on those ports;
otherwise it shares the ``matrix`` group with the other fixed-port tests.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import lane_missing
from tests.go_platform.test_go_platform_smoke import ROOT, _build
from xtdf.harness import platform_diff

XTEST = ROOT / "xtest"
PY_SDK = ROOT / "sdk" / "py" / "dist" / "main" / "cli.sh"

pytestmark = pytest.mark.xdist_group("matrix")


def _isolated(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        inner = "ip link set lo up && exec " + shlex.join(cmd)
        return ["unshare", "--net", "sh", "-c", inner]
    return cmd


def _run(tmp: Path, platform: str, *args: str) -> dict:
    stats = tmp / f"{platform}.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-n",
        "0",
        f"--platform={platform}",
        f"--tdf-cache-dir={tmp / 'cache'}",
        f"--stats-json={stats}",
        "--no-report-html",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KASURL"))}
    env.pop("PLATFORMURL", None)
    env["XTDF_STATE_DIR"] = str(tmp / "state" / "platform")
    proc = subprocess.run(
        _isolated(cmd), cwd=XTEST, env=env, capture_output=True, text=True, timeout=900
    )
    assert stats.is_file(), proc.stdout[-4000:] + proc.stderr[-2000:]
    data = json.loads(stats.read_text())
    data["stdout"] = proc.stdout
    return data


def test_matrix_on_both_platforms_and_the_difference(tmp_path: Path) -> None:
    if not os.access(PY_SDK, os.X_OK):
        lane_missing("sdk/py not installed (make sdk-py)")
    _build()
    args = ["test_tdfs.py", "-k", "roundtrip", "--sdks=py", "--containers=ztdf,nano"]
    ours = _run(tmp_path, "xtdf", *args)
    go = _run(tmp_path, "go", *args)
    assert "OpenTDF Go platform" in go["stdout"]
    outcomes = {"xtdf": ours["outcomes"], "go": go["outcomes"]}
    assert outcomes["xtdf"].keys() == outcomes["go"].keys()
    ztdf = [t for t in outcomes["go"] if "-ztdf" in t or "ztdf-" in t]
    assert ztdf and all(outcomes["go"][t] == "passed" for t in ztdf), outcomes["go"]
    # NanoTDF: ours rewraps it, the Go release we pin refuses it; nothing else differs
    diffs, only_ours, only_go = platform_diff.compare(ours["tests"], go["tests"])
    assert diffs and not only_ours and not only_go
    assert all(d.explanation is not None and d.explanation.name == "NanoTDF" for d in diffs)
    assert all(d.ours == "passed" and d.go == "failed" for d in diffs)
    # the suite stopped what it started: nothing answers on the Go stack's state any more
    assert not (tmp_path / "state" / "platform-go" / "go-platform.json").exists()
    compat = tmp_path / "compat.md"
    compat.write_text("# compat\n\nkept\n")
    platform_diff.update(compat, platform_diff.render_md(diffs, only_ours, only_go))
    platform_diff.update(compat, platform_diff.render_md(diffs, only_ours, only_go))
    text = compat.read_text()
    assert text.startswith("# compat\n\nkept\n") and text.count(platform_diff.BEGIN) == 1
    assert f"**{len(diffs)} differ, 0 unexplained.**" in text
