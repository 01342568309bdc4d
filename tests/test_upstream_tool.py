"""``tools/upstream_xtest.py``: the layout it gives upstream's checkout, its environment and
its tally. (Running upstream's suite itself takes a checkout of opentdf/tests and an hour:
docs/upstream.md records that run.)"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "upstream_xtest.py"
spec = importlib.util.spec_from_file_location("upstream_xtest", TOOL)
assert spec and spec.loader
tool = importlib.util.module_from_spec(spec)
sys.modules["upstream_xtest"] = tool  # dataclasses look their module up there
spec.loader.exec_module(tool)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The parts of an opentdf/tests checkout the tool reads."""
    xtest = tmp_path / "tests" / "xtest"
    for sdk in ("go", "js", "java"):
        (xtest / "sdk" / sdk).mkdir(parents=True)
        (xtest / "sdk" / sdk / "cli.sh").write_text(f"#!/bin/sh\n# upstream {sdk}\n")
    (xtest / "sdk" / "go" / "otdfctl.sh").write_text("#!/bin/sh\n# upstream otdfctl.sh\n")
    (xtest / "test.env").write_text(
        "PLATFORMENDPOINT=localhost:8080\nPLATFORMURL=http://$PLATFORMENDPOINT\n"
    )
    return xtest


@pytest.fixture
def lanes(tmp_path: Path) -> Path:
    """Our installed lanes, as make sdks leaves them."""
    root = tmp_path / "sdk"
    go = root / "go" / "dist" / "0.21.0"
    go.mkdir(parents=True)
    (go / "otdfctl").write_text("binary")
    js = root / "js" / "dist" / "2.0.0"
    (js / "node_modules").mkdir(parents=True)
    (js / "package.json").write_text("{}")
    java = root / "java" / "dist" / "0.7.3"
    java.mkdir(parents=True)
    (java / "cli.sh").write_text("#!/bin/sh\n# ours\n")
    py = root / "py" / "dist" / "main"
    py.mkdir(parents=True)
    (py / "cli.sh").write_text("#!/bin/sh\n# xtdf\n")
    return root


def test_lanes_are_laid_out_as_upstreams_sdk_makefiles_do(checkout: Path, lanes: Path) -> None:
    made = tool.populate_sdks(checkout, lanes)
    assert made == ["go@0.21.0", "js@2.0.0", "java@0.7.3", "go@xtdf"]
    go = checkout / "sdk" / "go" / "dist" / "0.21.0"
    assert (go / "otdfctl").resolve() == (lanes / "go" / "dist" / "0.21.0" / "otdfctl")
    assert (go / "cli.sh").read_text().endswith("# upstream go\n")  # upstream's own script
    assert (go / "otdfctl.sh").read_text().endswith("# upstream otdfctl.sh\n")
    assert (checkout / "sdk" / "go" / "otdfctl").resolve() == (go / "otdfctl").resolve()
    js = checkout / "sdk" / "js" / "dist" / "2.0.0"
    assert (js / "cli.sh").read_text().endswith("# upstream js\n")
    assert (js / "node_modules").is_symlink() and (js / "package.json").is_symlink()
    java = checkout / "sdk" / "java" / "dist" / "0.7.3"
    assert (
        (java / "cli.sh").read_text().endswith("# ours\n")
    )  # our adapter: upstream's needs its jar
    assert (checkout / "sdk" / "go" / "dist" / "xtdf" / "cli.sh").read_text().endswith("# xtdf\n")
    assert tool.populate_sdks(checkout, lanes) == made  # again: replaced, not nested


def test_no_go_lane_is_a_named_setup_error(checkout: Path, lanes: Path) -> None:
    (lanes / "go" / "dist" / "0.21.0" / "otdfctl").unlink()
    with pytest.raises(tool.SetupError, match="make sdks-go"):
        tool.populate_sdks(checkout, lanes)


def test_our_adapters_link_every_lane_as_installed(checkout: Path, lanes: Path) -> None:
    (lanes / "go" / "dist" / "0.21.0" / "cli.sh").write_text("#!/bin/sh\n# our go\n")
    (lanes / "js" / "dist" / "2.0.0" / "cli.sh").write_text("#!/bin/sh\n# our js\n")
    made = tool.populate_sdks(checkout, lanes, our_adapters=True)
    assert made == ["go@0.21.0", "js@2.0.0", "java@0.7.3", "go@xtdf"]
    for sdk, word in (("go/dist/0.21.0", "our go"), ("js/dist/2.0.0", "our js")):
        assert (checkout / "sdk" / sdk / "cli.sh").read_text().endswith(f"# {word}\n")
    assert tool.suite_env(checkout, checkout)["OTDFCTL_HEADS"] == "[]"  # no otdfctl.sh there


@pytest.mark.parametrize(
    ("installed", "head"),
    [(["0.21.0", "0.30.0"], "0.21.0"), (["0.30.0"], "0.30.0"), (["0.19.0", "0.30.0"], "0.30.0")],
)
def test_policy_fixtures_run_the_otdfctl_that_still_assigns_grants(
    checkout: Path, lanes: Path, tmp_path: Path, installed: list[str], head: str
) -> None:
    """0.21.0 when installed (0.30.0's kas-grants assign assigns nothing), else the newest."""
    (lanes / "go" / "dist" / "0.21.0" / "otdfctl").unlink()
    (lanes / "go" / "dist" / "0.21.0").rmdir()
    for version in installed:
        (lanes / "go" / "dist" / version).mkdir(parents=True)
        (lanes / "go" / "dist" / version / "otdfctl").write_text("binary")
    made = tool.populate_sdks(checkout, lanes)
    assert [m for m in made if m.startswith("go@0")] == [f"go@{v}" for v in installed]
    env = tool.suite_env(checkout, tmp_path / "pd")
    assert env["OTDFCTL_HEADS"] == f'["{head}"]'


def test_environment_is_test_env_sourced_plus_platform_dir(
    checkout: Path, lanes: Path, tmp_path: Path
) -> None:
    tool.populate_sdks(checkout, lanes)
    env = tool.suite_env(checkout, tmp_path / "pd")
    assert env["PLATFORMURL"] == "http://localhost:8080"  # $PLATFORMENDPOINT expanded
    assert env["PLATFORM_DIR"] == str(tmp_path / "pd")
    assert env["OTDFCTL_HEADS"] == '["0.21.0"]'
    assert env["SCHEMA_FILE"] == "manifest.schema.json"
    assert env["PATH"] == os.environ["PATH"]


UNEXPECTED = "AssertionError: Unexpected error output: [b'x']"
CASES = [
    "",
    f'<failure message="{UNEXPECTED}&#10;more">tb</failure>',
    f'<failure message="{UNEXPECTED}">tb</failure>',
    '<error message="failed on setup with &quot;boom&quot;">tb</error>',
    '<skipped message="Not in focus">s</skipped>',
]
JUNIT = "<testsuites><testsuite>{}</testsuite></testsuites>".format(
    "".join(f'<testcase classname="t" name="c{i}">{c}</testcase>' for i, c in enumerate(CASES))
)


def test_junit_tally_and_causes(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_text(JUNIT)
    res = tool.read_junit("test_tdfs.py", path)
    assert (res.collected, res.passed, res.failed, res.errored, res.skipped) == (5, 1, 2, 1, 1)
    assert res.causes == {
        f"failure: {UNEXPECTED}": 2,
        'error: failed on setup with "boom"': 1,
    }
    assert "| test_tdfs.py | 5 | 1 | 2 | 1 | 1 |" in tool.table([res])
    missing = tool.read_junit("test_x.py", tmp_path / "none.xml")
    assert missing.collected == 0 and "did not get to run" in next(iter(missing.causes))


def _script_args(tmp_path: Path, impl: str) -> argparse.Namespace:
    """What module_script reads of the parsed options."""
    return argparse.Namespace(
        xtest=tmp_path / "xtest",
        venv_python=tmp_path / "py",
        pytest_args=[],
        netns=True,
        fresh=True,
        impl=impl,
    )


def test_only_test_abac_gets_the_additional_kases(tmp_path: Path) -> None:
    """Upstream's CI starts alpha..delta and km1/km2 just before test_abac.py; earlier
    modules see the platform's own KAS alone (test_tdfs.py's malicious-KAO case needs
    nothing at 8585)."""
    args = _script_args(tmp_path, "xtdf")
    for module in ("test_tdfs.py", "test_policytypes.py", "test_legacy.py", "test_nano.py"):
        start = next(
            line
            for line in tool.module_script(args, module, tmp_path).splitlines()
            if " platform start " in line
        )
        assert start.split().count("--kas") == 1 and "--kas none" in start, module
    abac = tool.module_script(args, "test_abac.py", tmp_path)
    assert "--kas" not in abac and " platform start " in abac


def test_the_go_platform_is_started_stopped_and_keyed_as_ours_is(tmp_path: Path) -> None:
    """``--impl go``: the same start line with ``--impl go`` (extra keys, PLATFORM_DIR),
    the root key from the Go stack's key directory, and its own stop."""
    args = _script_args(tmp_path, "go")
    lines = tool.module_script(args, "test_tdfs.py", tmp_path).splitlines()
    (start,) = [line for line in lines if " platform start " in line]
    assert " platform start --impl go --state-dir " in start
    assert "--extra-keys" in start and "--platform-dir" in start and "--kas none" in start
    state = tmp_path / "state" / "test_tdfs"
    assert f"export OT_ROOT_KEY=$(cat {state / 'keys' / 'root_key'})" in lines
    (stop,) = [line for line in lines if " platform stop " in line]
    assert " platform stop --impl go --state-dir " in stop
    args.impl = "xtdf"
    ours = tool.module_script(args, "test_tdfs.py", tmp_path)
    assert "--impl" not in ours and f"$(cat {state / 'root.key'})" in ours
