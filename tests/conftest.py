"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference``: files made by independent SDKs; skip when absent."""
    if not REFERENCE.is_dir():
        pytest.skip(f"independent reference files not present at {REFERENCE}")
    return REFERENCE


def lane_missing(why: str) -> None:
    """Something ``make test`` installs is absent: skip, or fail under CI=true (there
    ``make sdks`` fails without a toolchain, so a missing piece is a broken build)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)
