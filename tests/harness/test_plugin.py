"""The suite's pytest plugin, run for real through pytester (in-process and with xdist)."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project tree with two SDK versions installed the upstream way."""
    pytester.makefile(".toml", pyproject="[project]\nname='p'\n")
    for name, version in (("alpha", "v1"), ("alpha", "v2"), ("beta", "main")):
        cli = pytester.path / "sdk" / name / "dist" / version / "cli.sh"
        cli.parent.mkdir(parents=True)
        cli.write_text("#!/bin/sh\nexit 2\n")
        cli.chmod(0o755)
    pytester.makeconftest('pytest_plugins = ["xtdf.harness.plugin"]\n')
    return pytester


def test_bad_container_is_a_usage_error_listing_valid_values(project: pytest.Pytester) -> None:
    project.makepyfile("def test_x(): pass\n")
    result = project.runpytest("--containers=zip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--containers: unknown value(s) zip; valid: ztdf, ztdf-ecwrap,*"])


def test_bad_sdk_lists_discovered_sdks(project: pytest.Pytester) -> None:
    project.makepyfile("def test_x(): pass\n")
    result = project.runpytest("--sdks-encrypt=gamma")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown value(s) gamma; valid: alpha, beta, alpha@v1,*"])


def test_matrix_parametrised_per_sdk_version(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_cell(encrypt_sdk, decrypt_sdk, container):
            assert encrypt_sdk.path.name == "cli.sh"
        """
    )
    result = project.runpytest("--sdks=alpha", "--sdks-decrypt=beta", "--containers=nano", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*test_cell?alpha@v1-beta@main-nano? PASSED*", "*alpha@v1 -> beta@main [[]nano[]]*1*"]
    )


@pytest.mark.parametrize("workers", ["0", "2"])
def test_each_key_produced_once_across_workers(project: pytest.Pytester, workers: str) -> None:
    project.makepyfile(
        """
        import pytest
        from xtdf.harness.cache import cache_key

        @pytest.mark.parametrize("i", range(16))
        def test_shared(harness, i):
            key = cache_key(n=i % 4)
            entry = harness.cache.get_or_create(key, lambda p: p.write_bytes(b"ct%d" % (i % 4)))
            assert entry.read_bytes() == b"ct%d" % (i % 4)
        """
    )
    stats = project.path / "stats.json"
    cache_dir = project.path / "cache"
    result = project.runpytest_subprocess(
        "-n", workers, f"--tdf-cache-dir={cache_dir}", f"--stats-json={stats}"
    )
    result.assert_outcomes(passed=16)
    total = json.loads(stats.read_text())["cache"]["total"]
    assert total["distinct_keys"] == 4
    assert total["produced"] == 4 and total["encryptions_per_key"] == 1.0
    assert total["hits"] == 12
    result.stdout.fnmatch_lines(
        ["*encryptions 4 (0 failed, retried each run) / distinct keys 4 = 1.0*"]
    )
    # a second run with the persistent cache produces nothing
    again = project.runpytest_subprocess(
        "-n", workers, f"--tdf-cache-dir={cache_dir}", f"--stats-json={stats}"
    )
    again.assert_outcomes(passed=16)
    assert json.loads(stats.read_text())["cache"]["total"]["produced"] == 0


def test_tmp_dir_is_per_module(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_a="def test_a(tmp_dir):\n    assert tmp_dir.name.startswith('test_a')\n",
        test_b="def test_b(tmp_dir):\n    assert tmp_dir.name.startswith('test_b')\n",
    )
    project.runpytest().assert_outcomes(passed=2)


def test_junit_and_html_reports(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_cell(encrypt_sdk, decrypt_sdk, container):
            pass
        """
    )
    result = project.runpytest(
        "--sdks=beta", "--containers=ztdf", "--junitxml=report.xml", "--html=report.html"
    )
    result.assert_outcomes(passed=1)
    assert "beta@main-beta@main-ztdf" in (project.path / "report.xml").read_text()
    assert "beta@main-beta@main-ztdf" in (project.path / "report.html").read_text()


def test_matrix_tests_clustered_by_encryption_family(project: pytest.Pytester) -> None:
    """Tests of one encryption run back to back, so a worker reuses what it just made."""
    project.makepyfile(
        """
        import pytest

        def test_first(encrypt_sdk, decrypt_sdk, container):
            pass

        def test_plain():
            pass

        def test_second(encrypt_sdk, container):
            pass
        """
    )
    result = project.runpytest("--containers=ztdf,nano", "--collect-only", "-q")
    ids = [line for line in result.stdout.lines if "::" in line]
    families = []
    for nodeid in ids:
        params = nodeid.partition("[")[2]
        families.append(params.split("-")[0] + params.rsplit("-", 1)[-1] if params else "plain")
    # each family is one contiguous run, and test_plain keeps its place after the first family
    runs = [f for i, f in enumerate(families) if i == 0 or families[i - 1] != f]
    assert len(runs) == len(set(runs)) == 7, families
    assert ids.index("test_matrix_tests_clustered_by_encryption_family.py::test_plain") > 0


def test_stats_json_accounts_for_sdk_process_time(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_cell(encrypt_sdk):
            assert encrypt_sdk.answer("ecwrap") == 2
        """
    )
    result = project.runpytest("-n", "2", "--stats-json=stats.json")
    result.assert_outcomes(passed=3)
    spent = json.loads((project.path / "stats.json").read_text())["time"]
    assert spent["workers"] == 2
    supports = {k: v for k, v in spent["calls"].items() if k.startswith("sdk:supports:")}
    assert supports == {  # asked once per process and SDK
        "sdk:supports:alpha@v1": 1,
        "sdk:supports:alpha@v2": 1,
        "sdk:supports:beta@main": 1,
    }
    assert spent["sdk_seconds"] > 0 and 0 < spent["overhead_share"] < 1
