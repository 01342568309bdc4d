"""``make bench`` in miniature: every section runs for real on tiny inputs and the results
files come out with every target row, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xtdf.bench.__main__ import main

ROOT = Path(__file__).resolve().parents[2]

# the matrix section runs the suite on the fixed ports, like tests/test_matrix_smoke.py
pytestmark = pytest.mark.xdist_group("matrix")


@pytest.mark.skipif(
    not os.access(ROOT / "sdk/py/dist/main/cli.sh", os.X_OK),
    reason="reference SDK not installed at sdk/py/dist/main (make sdks installs it)",
)
def test_quick_bench_writes_results(tmp_path: Path) -> None:
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    md = (tmp_path / "results.md").read_text()
    for section in ("matrix", "matrix-go", "cli", "kas", "kas-go", "formats"):
        assert section in results, section
    # the same matrix cold on the Go platform, or why not, and the walls' ratio
    mgo = results["matrix-go"]
    if os.environ.get("CI") == "true":
        assert "skipped" not in mgo, mgo
    if "skipped" not in mgo:
        (cold_go,) = mgo["runs"]
        assert mgo["summary"]["impl"] == "go" and cold_go["label"] == "cold-n2"
        assert cold_go["encryptions_per_key"] == 1.0 and cold_go["outcomes"].get("passed"), mgo
        assert any(
            t["target"] == "cold -n 2 wall, ours / Go platform's" for t in results["targets"]
        )
        assert "## 1b. The matrix cold on OpenTDF's Go platform" in md
        assert "XTDF_PLATFORM=go pytest" in md
    # the Go platform's KAS under the same load, or why not (not built: make platform-go)
    go = results["kas-go"]
    if os.environ.get("CI") == "true":  # make test builds it there: it must have run
        assert "skipped" not in go, go
    if "skipped" not in go:
        assert go["clients"] and all(f["errors"] == 0 for f in go["clients"].values()), go
    assert "## 5b. KAS rewrap on OpenTDF's Go platform" in md
    cold = [r for r in results["matrix"]["runs"] if r["label"].startswith("cold-")]
    assert [r["encryptions_per_key"] for r in cold] == [1.0, 1.0]
    warm = next(r for r in results["matrix"]["runs"] if r["label"].startswith("warm-"))
    assert warm["encryptions"] == 0 and warm["outcomes"].get("passed", 0) > 0
    assert all(r["time"]["sdk_seconds"] > 0 for r in results["matrix"]["runs"])
    names = [t["target"] for t in results["targets"]]
    assert any(n.startswith("-n 2 wall") for n in names)
    assert any("KAS rewraps/s" in n for n in names)
    assert any("cli.sh small encrypt" in n for n in names)
    places = results["formats"]["placements"]
    assert any(name.startswith("disk") for name in places)  # memory too when a tmpfs exists
    assert any(n.startswith("ZTDF 4 MiB encrypt") for n in names)
    assert "## Targets" in md and "Quick smoke run" in md
    again = tmp_path / "again"
    assert main(["--render", str(tmp_path / "results.json"), "--out", str(again)]) == 0
    assert (again / "results.md").read_text() == md  # same figures, same report
    assert main(["--render", str(tmp_path / "missing.json"), "--out", str(again)]) == 2
