"""The cli.sh latency benchmark on two calls: it times real round trips of our SDK."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xtdf.bench import cli, report

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.access(ROOT / "sdk/py/dist/main/cli.sh", os.X_OK),
    reason="reference SDK not installed at sdk/py/dist/main (make sdks installs it)",
)
def test_reference_sdk_latency_is_measured() -> None:
    result = cli.run(repeat=2, sdks=["py"])
    (name,) = result["sdks"]
    figures = result["sdks"][name]
    assert name.startswith("py@"), name
    assert "error" not in figures, figures
    for verb in ("encrypt", "decrypt"):
        assert len(figures[verb]["runs_ms"]) == 2
        assert 0 < figures[verb]["median_ms"] <= figures[verb]["p95_ms"]
    assert figures["startup_ms"] > 0 and figures["startup_measure"]


JAVA = sorted((ROOT / "sdk/java/dist").glob(f"*/{cli.JAVA_CDS_ARCHIVE}"))


@pytest.mark.skipif(not JAVA, reason="no Java lane with a CDS archive (make sdks-java)")
def test_the_java_lane_is_timed_with_and_without_its_cds_archive() -> None:
    """Issue 12's start-up measure, side by side: the same calls from a copy of the dist
    without the archive, in interleaved rounds."""
    version = JAVA[0].parent.name
    result = cli.run(repeat=1, sdks=[f"java@{version}"])
    figures = result["sdks"][f"java@{version}"]
    assert "error" not in figures, figures
    bare = figures["without_startup_measure"]
    assert bare["what"] == "the same dist without cmdline.jsa (no class data sharing)"
    for verb in ("encrypt", "decrypt"):
        assert len(bare[verb]["runs_ms"]) == len(figures[verb]["runs_ms"]) == 1
        assert bare[verb]["median_ms"] > 0
    rows = report._cli_table(result)
    (row,) = [r for r in rows if "without cmdline.jsa" in r]
    assert row.startswith(f"| java@{version}, the same dist") and "median with / without" in row


def test_only_a_java_dist_with_an_archive_gets_a_bare_copy(tmp_path: Path) -> None:
    from xtdf.harness.sdks import SDK

    dist = tmp_path / "dist" / "1.0"
    dist.mkdir(parents=True)
    for name in ("cli.sh", "cmdline.jar", cli.JAVA_CDS_ARCHIVE):
        (dist / name).write_text(name)
    java = SDK("java", "1.0", dist / "cli.sh")
    bare = cli._without_cds(java, tmp_path / "work")
    assert bare is not None and bare.id == "java@1.0"
    assert sorted(p.name for p in bare.path.parent.iterdir()) == ["cli.sh", "cmdline.jar"]
    assert (dist / cli.JAVA_CDS_ARCHIVE).is_file()  # the installed lane is left alone
    assert cli._without_cds(SDK("go", "1.0", dist / "cli.sh"), tmp_path / "w2") is None
    (dist / cli.JAVA_CDS_ARCHIVE).unlink()
    assert cli._without_cds(java, tmp_path / "w3") is None
