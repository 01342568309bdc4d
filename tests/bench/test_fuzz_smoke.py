"""``python -m xtdf.bench.fuzz``: a few seconds of it run, and find nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_a_short_fuzz_run_counts_inputs_and_finds_no_crash(tmp_path: Path) -> None:
    out = tmp_path / "fuzz.json"
    proc = subprocess.run(
        [sys.executable, "-m", "xtdf.bench.fuzz", "--seconds", "4", "--seed", "1",
         "--json", str(out), "--crashes-dir", str(tmp_path / "crashes")],
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["crashes"] == 0, result
    for name in ("ztdf", "nano", "requests"):
        summary = result["formats"][name]
        assert summary["inputs"] > 0 and summary["typed_errors"], summary
        assert summary["peak_mib"]["max"] < result["max_mib"]
    assert proc.stdout.startswith("fuzzed ") and "0 crashes" in proc.stdout
    assert not (tmp_path / "crashes").exists()


def test_bad_seconds_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "xtdf.bench.fuzz", "--seconds", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--seconds must be positive" in proc.stderr


def test_a_run_past_its_deadline_still_gives_each_target_its_floor() -> None:
    """A loaded CI machine may spend the whole budget on set-up; the floor keeps it useful."""
    from xtdf.bench.fuzz import fuzz

    result = fuzz(1e-6, seed=3, min_each=5)
    assert result["crashes"] == 0, result
    assert all(s["inputs"] >= 5 for s in result["formats"].values()), result["formats"]
