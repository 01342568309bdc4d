"""The cli.sh latency benchmark on two calls: it times real round trips of our SDK."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xtdf.bench import cli

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
