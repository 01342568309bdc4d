"""``cli.sh supports FEATURE``: every feature upstream probes gets 0/1/2, and the answers are
the SDK's own (otdf-python >= 0.10 answers itself; the adapter must pass its exit through)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sdk_adapters.conftest import ALL_ADAPTERS, Adapter, require_installed
from xtdf.harness.sdks import FEATURES, discover

PROBED = (*FEATURES, "nano", "no-such-feature")

#: answers observed from each installed release (see docs/compat.md for the full table)
EXPECTED = {
    "otdf-python": {
        "hexless": 0,
        "connectrpc": 0,
        "kasallowlist": 0,
        "autoconfigure": 0,
        "ecwrap": 1,
        "assertions": 1,
        "key_management": 1,
        "nano_ecdsa": 2,
        "no-such-feature": 2,
    },
    "js": {
        "nano": 0,
        "hexless": 1,
        "ecwrap": 1,
        "assertions": 1,
        "nano_ecdsa": 1,
        "autoconfigure": 1,
        "kasallowlist": 1,
        "no-such-feature": 2,
    },
}

_answers: dict[Adapter, dict[str, int]] = {}


def answers(adapter: Adapter) -> dict[str, int]:
    """Ask once per adapter, in parallel (otdf-python starts a full interpreter each time)."""
    if adapter not in _answers:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = pool.map(lambda f: adapter.run("supports", f), PROBED)
            _answers[adapter] = {f: r.returncode for f, r in zip(PROBED, results, strict=True)}
    return _answers[adapter]


def test_every_probed_feature_gets_yes_no_or_unknown(adapter: Adapter) -> None:
    got = answers(adapter)
    bad = {f: rc for f, rc in got.items() if rc not in (0, 1, 2)}
    assert not bad, f"{adapter}: supports exit codes outside 0/1/2: {bad}"


def test_known_answers(adapter: Adapter) -> None:
    got = answers(adapter)
    want = EXPECTED[adapter.name]
    assert {f: got[f] for f in want} == want


@pytest.mark.parametrize("feature", ["hexless", "ecwrap", "nano_ecdsa", "no-such-feature"])
def test_otdf_python_answer_is_its_own(otdf_python: Adapter, feature: str) -> None:
    """Where the release has a ``supports`` command, the adapter's answer is exactly its
    exit code; where it has none, the answer is the installed table's (2 if unlisted)."""
    table = otdf_python.cli.parent / "supports.tsv"
    if table.exists():
        rows = dict(line.split("\t")[:2] for line in table.read_text().splitlines() if line)
        expected = int(rows.get(feature, "2"))
    else:
        python = otdf_python.cli.parent / "venv" / "bin" / "python"
        native = subprocess.run(
            [str(python), "-m", "otdf_python", "supports", feature], capture_output=True
        )
        expected = native.returncode
    assert answers(otdf_python)[feature] == expected


def test_supports_without_feature_is_a_usage_error(adapter: Adapter) -> None:
    result = adapter.run("supports")
    assert result.returncode == 3
    assert "usage: cli.sh supports FEATURE" in result.stderr


def test_unknown_feature_says_so_on_stderr(adapter: Adapter) -> None:
    result = adapter.run("supports", "no-such-feature")
    assert result.returncode == 2
    assert "no-such-feature" in result.stderr


def test_the_suite_discovers_every_installed_adapter() -> None:
    from tests.sdk_adapters.conftest import SDK_DIR

    installed = [require_installed(a) for a in ALL_ADAPTERS if a.cli.exists()]
    if not installed:
        pytest.skip("no independent SDK installed: run `make sdks-independent`")
    found = {str(s) for s in discover(SDK_DIR)}
    assert {str(a) for a in installed} <= found
