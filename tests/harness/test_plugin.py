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
    result = project.runpytest(
        "--sdks=alpha", "--sdks-decrypt=beta", "--containers=nano", "-v", "--matrix-table"
    )
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


MATRIX = """
import os
import pytest

def test_rt(request, encrypt_sdk, decrypt_sdk, container, tmp_path):
    pair = (str(encrypt_sdk), str(decrypt_sdk))
    if pair == ("alpha@v2", "beta@main"):
        request.applymarker(pytest.mark.xfail(strict=True, reason="alpha@v2 writes no kid"))
        assert False
    if pair == ("beta@main", "alpha@v1"):
        pytest.skip("beta cannot encrypt for alpha")
    if pair == ("alpha@v1", "beta@main") and os.environ.get("XTDF_TEST_BREAK"):
        ct = tmp_path / "ct.tdf"
        ct.write_bytes(b"x")
        decrypt_sdk.decrypt(ct, tmp_path / "rt", container)

def test_vector():
    pass
"""
BETA_CLI = """#!/bin/sh
[ "$1" = supports ] && exit 1
echo "beta: manifest rejected (<b>bold</b>)" >&2
exit 3
"""


def _matrix_project(project: pytest.Pytester) -> pytest.Pytester:
    (project.path / "sdk" / "beta" / "dist" / "main" / "cli.sh").write_text(BETA_CLI)
    project.makepyfile(test_m=MATRIX)
    return project


def _grid_block(lines: list[str], title: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(title + " "))
    return [line.split() for line in lines[start : start + 4]]


def test_grid_report_and_changes_over_two_runs(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _matrix_project(project)
    args = ("--sdks=alpha@v1 alpha@v2 beta", "--containers=nano")
    first = project.runpytest(*args)
    first.assert_outcomes(passed=8, skipped=1, xfailed=1)
    lines = first.stdout.lines
    assert _grid_block(lines, "nano") == [
        ["nano", "1", "2", "3"],
        ["1", "alpha@v1", "1/1", "1/1", "1/1"],
        ["2", "alpha@v2", "1/1", "1/1", "0/1", "x1"],
        ["3", "beta@main", "0/1", "s1", "1/1", "1/1"],
    ]
    first.stdout.fnmatch_lines(["no previous run to compare with"])
    assert not any("alpha@v1 -> beta@main [[]nano" in line for line in lines)  # no long table
    stats = json.loads((project.path / ".xtdf" / "last-run.json").read_text())
    nodeid = "test_m.py::test_rt[alpha@v1-beta@main-nano]"
    assert stats["outcomes"][nodeid] == "passed"
    assert stats["outcomes"]["test_m.py::test_vector"] == "passed"
    report = project.path / ".xtdf" / "report.html"
    assert lines[-1] == f"xtdf report: {report}"

    monkeypatch.setenv("XTDF_TEST_BREAK", "1")
    second = project.runpytest(*args, "--matrix-table")
    second.assert_outcomes(passed=7, failed=1, skipped=1, xfailed=1)
    lines = second.stdout.lines
    assert _grid_block(lines, "nano")[1] == ["1", "alpha@v1", "1/1", "1/1", "0/1", "F1*"]
    second.stdout.fnmatch_lines(
        [
            "changed since the last run: 1 cell(s)",
            "  alpha@v1 -> beta@main [[]nano[]]: 1/1 -> 0/1 F1",
            "    test_rt[[]alpha@v1-beta@main-nano[]]: passed -> failed",
            "*xtdf matrix (encrypt -> decrypt, container)*",  # --matrix-table
            "alpha@v1 -> beta@main [[]nano[]]*0*1*0*0*0",
        ]
    )
    html = report.read_text()
    changes = html[html.index('id="changes"') : html.index('id="grids"')]
    assert "alpha@v1 -&gt; beta@main [nano]" in changes and "passed &rarr;" in changes
    # the failing SDK's own stderr is in the report, escaped
    assert "beta: manifest rejected (&lt;b&gt;bold&lt;/b&gt;)" in html
    assert "----- SDK output: beta@main decrypt exited 3 -----\n--- stderr ---\nbeta:" in html
    assert html.index("----- SDK output:") < html.index("----- traceback -----")
    assert "alpha@v2 writes no kid" in html  # the strict xfail's reason
    # the command as it can be pasted back into a shell
    assert "<code>pytest &#39;--sdks=alpha@v1 alpha@v2 beta&#39; --containers=nano" in html
    assert (
        json.loads((project.path / ".xtdf" / "last-run.json").read_text())["outcomes"][nodeid]
        == "failed"
    )


def test_grid_cells_survive_xdist(project: pytest.Pytester) -> None:
    _matrix_project(project)
    result = project.runpytest_subprocess(
        "-n", "2", "--sdks=alpha@v1 beta", "--containers=ztdf", "--stats-json=s.json"
    )
    result.assert_outcomes(passed=4, skipped=1)
    assert _grid_block(result.stdout.lines, "ztdf")[1:3] == [
        ["1", "alpha@v1", "1/1", "1/1"],
        ["2", "beta@main", "0/1", "s1", "1/1"],
    ]
    assert (project.path / "report.html").is_file()  # beside --stats-json


def test_grid_in_colour_only_when_asked(project: pytest.Pytester) -> None:
    _matrix_project(project)
    plain = project.runpytest("--sdks=alpha@v2 beta", "--containers=nano", "--no-report-html")
    assert not any("\x1b[" in line for line in plain.stdout.lines)
    assert not (project.path / ".xtdf" / "report.html").exists()
    colour = project.runpytest(
        "--sdks=alpha@v2 beta", "--containers=nano", "--no-report-html", "--color=yes"
    )
    row = next(line for line in colour.stdout.lines if "alpha@v2" in line and "x1" in line)
    assert "\x1b[33m" in row and "\x1b[32m" in row  # yellow known limit, green pass


def test_unwritable_report_path_is_one_line_and_leaves_the_run_alone(
    project: pytest.Pytester,
) -> None:
    _matrix_project(project)
    (project.path / "out").mkdir()
    result = project.runpytest("--sdks=alpha@v1", "--containers=nano", "--report-html=out")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["HTML report not written: out: Is a directory"])
    assert "Traceback" not in result.stdout.str()
    assert [p.name for p in project.path.iterdir() if p.name.startswith(".out")] == []


def test_report_also_shows_another_platforms_run_beside_this_one(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _matrix_project(project)
    args = ("--sdks=alpha@v2 beta", "--containers=ztdf")
    with monkeypatch.context() as m:
        m.setenv("PLATFORMURL", "http://localhost:9080")
        m.setenv("XTDF_TEST_BREAK", "1")  # ignored by these SDKs: a different grid all the same
        other = project.runpytest(*args, "--stats-json=other/stats.json")
    other.assert_outcomes(passed=4, xfailed=1)
    result = project.runpytest(
        "--sdks=alpha@v1 beta", "--containers=ztdf", "--report-also=other/stats.json"
    )
    result.assert_outcomes(passed=4, skipped=1)
    lines = result.stdout.lines
    here = lines.index("platform: embedded xtdf platform (http://localhost:8080)")
    there = lines.index(
        "platform: external platform at http://localhost:9080 (not run now: from other/stats.json)"
    )
    assert here < there
    # one numbering of SDKs for the whole report: alpha@v2 is 2 on both platforms
    assert _grid_block(lines[there:], "ztdf")[:3] == [
        ["ztdf", "2", "3"],
        ["2", "alpha@v2", "1/1", "0/1", "x1"],
        ["3", "beta@main", "1/1", "1/1"],
    ]
    html = (project.path / ".xtdf" / "report.html").read_text()
    assert html.count('<table class="grid"') == 2
    assert "Not run now: read from <code>other/stats.json</code>" in html
    assert "alpha@v2 writes no kid" in html  # the other run's xfail reason came along


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "*--report-also gone.json: No such file or directory"),
        ("{", "*--report-also gone.json: not a stats JSON: Expecting property name*"),
        ('{"tests": {}}', "*--report-also gone.json: not a stats JSON: it has no tests*"),
        ('{"tests": {"t": {"outcome": "won"}}}', "*not a stats JSON: test 't' has no known*"),
        (
            '{"tests": {"t": {"outcome": "passed", "platform": '
            '"embedded xtdf platform (http://localhost:8080)"}}}',
            "*its platform (embedded xtdf platform (http://localhost:8080)) is already in this*",
        ),
    ],
)
def test_report_also_refuses_what_is_not_another_platforms_run(
    project: pytest.Pytester, content: str | None, message: str
) -> None:
    project.makepyfile("def test_x(): pass\n")
    if content is not None:
        (project.path / "gone.json").write_text(content)
    result = project.runpytest("--report-also=gone.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_a_known_limit_that_passes_is_a_failure_in_its_cell(project: pytest.Pytester) -> None:
    """A strict xfail that passes means the SDK was fixed: the cell shows it as F."""
    project.makepyfile(
        """
        import pytest

        @pytest.mark.xfail(strict=True, reason="beta cannot read ztdf")
        def test_rt(encrypt_sdk, decrypt_sdk, container):
            pass
        """
    )
    result = project.runpytest("--sdks=beta", "--containers=ztdf", "--stats-json=s.json")
    result.assert_outcomes(failed=1)
    assert _grid_block(result.stdout.lines, "ztdf")[1] == ["1", "beta@main", "0/1", "F1"]
    test = json.loads((project.path / "s.json").read_text())["tests"][
        "test_a_known_limit_that_passes_is_a_failure_in_its_cell.py::test_rt"
        "[beta@main-beta@main-ztdf]"
    ]
    assert test["outcome"] == "failed"
    assert test["reason"] == "[XPASS(strict)] beta cannot read ztdf"


def test_tests_without_a_container_are_placed_by_what_they_encrypted(
    project: pytest.Pytester,
) -> None:
    """Every instance of a function that encrypted only NanoTDF lands in the nano grid, one
    skipped before it encrypted too; a function that encrypted nothing stays apart."""
    for name, version in (("alpha", "v1"), ("beta", "main")):
        (project.path / "sdk" / name / "dist" / version / "cli.sh").write_text(
            '#!/bin/sh\n[ "$1" = encrypt ] && cp "$2" "$3"\nexit 0\n'
        )
    project.makeconftest(
        """
        import pytest

        pytest_plugins = ["xtdf.harness.plugin"]

        @pytest.fixture(scope="session")
        def cts(harness, tmp_path_factory):
            from xtdf.harness.plugin import NotingCipherTexts

            return NotingCipherTexts(harness.cache, "keys", tmp_path_factory.mktemp("private"))
        """
    )
    project.makepyfile(
        test_fixed="""
        import pytest

        def test_tamper(encrypt_sdk, decrypt_sdk, cts, tmp_path):
            if str(encrypt_sdk) == "beta@main":
                pytest.skip("beta cannot tamper")
            pt = tmp_path / "pt"
            pt.write_bytes(b"plain")
            assert cts.encrypt(encrypt_sdk, pt, "nano").read_bytes() == b"plain"

        def test_golden(decrypt_sdk):
            pass
        """
    )
    result = project.runpytest("-n", "2", "--sdks=alpha@v1 beta", "--stats-json=s.json")
    result.assert_outcomes(passed=4, skipped=2)
    lines = result.stdout.lines
    assert _grid_block(lines, "nano")[:3] == [
        ["nano", "1", "2"],
        ["1", "alpha@v1", "1/1", "1/1"],
        ["2", "beta@main", "0/1", "s1", "0/1", "s1"],
    ]
    fixed = lines[lines.index(next(x for x in lines if x.startswith("container set by"))) :]
    assert next(x for x in fixed if x.startswith("(decrypt only)")).split() == [
        "(decrypt",
        "only)",
        "1/1",
        "1/1",
    ]
    tests = json.loads((project.path / "s.json").read_text())["tests"]
    assert {n: t["container"] for n, t in tests.items()} == {
        "test_fixed.py::test_tamper[alpha@v1-alpha@v1]": "nano",
        "test_fixed.py::test_tamper[alpha@v1-beta@main]": "nano",
        "test_fixed.py::test_tamper[beta@main-alpha@v1]": "nano",
        "test_fixed.py::test_tamper[beta@main-beta@main]": "nano",
        "test_fixed.py::test_golden[alpha@v1]": None,
        "test_fixed.py::test_golden[beta@main]": None,
    }
