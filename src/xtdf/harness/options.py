"""Command-line options of the suite, validated up front.

A bad value is a usage error that lists the valid ones, raised before collection, rather
than a matrix that silently shrinks to nothing.
"""

from __future__ import annotations

import pytest

CONTAINERS = ("ztdf", "ztdf-ecwrap", "nano", "nano-with-ecdsa")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("xtdf", "cross-SDK matrix")
    group.addoption(
        "--sdks",
        help="SDKs to use for encrypt and decrypt (name or name@version, "
        "space or comma separated); default: every installed SDK",
    )
    group.addoption("--sdks-encrypt", help="SDKs that encrypt (overrides --sdks)")
    group.addoption("--sdks-decrypt", help="SDKs that decrypt (overrides --sdks)")
    group.addoption("--focus", help="only run cells where one of these SDKs takes part")
    group.addoption("--containers", help=f"containers to test: {', '.join(CONTAINERS)}")
    group.addoption("--large", action="store_true", help="add a 5 GiB plaintext")
    group.addoption("--tdf-cache-dir", help="shared ciphertext cache (default: .xtdf/cache)")
    group.addoption(
        "--tdf-cache-clear",
        action="store_true",
        help="empty the shared ciphertext cache before the run",
    )
    group.addoption(
        "--no-tdf-cache",
        action="store_true",
        help="every worker encrypts for itself, as upstream does",
    )
    group.addoption(
        "--platform",
        choices=("xtdf", "go"),
        help="platform the suite starts when PLATFORMURL names none: xtdf (ours, default) or "
        "go (OpenTDF's Go platform, `make platform-go`); sets XTDF_PLATFORM",
    )
    group.addoption("--compat-md", help="regenerate the measured section of this compat doc")
    group.addoption("--stats-json", help="write cache and matrix statistics to this JSON file")


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [v for v in value.replace(",", " ").split() if v]


def choose(option: str, value: str | None, valid: list[str]) -> list[str]:
    """Validate a list option against the valid names; empty selection means all."""
    chosen = split_list(value)
    bad = [c for c in chosen if c not in valid]
    if bad:
        raise pytest.UsageError(
            f"{option}: unknown value(s) {', '.join(bad)}; valid: {', '.join(valid) or '(none)'}"
        )
    return chosen or list(valid)
