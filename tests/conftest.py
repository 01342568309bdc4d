"""Shared fixtures for the project's own tests."""

from __future__ import annotations

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
