"""``tools/mutation.py``: how it reads mutmut's results, counts them per module, keeps the
equivalents apart and writes the table into docs/testing.md. (The mutation run itself is
``make mutation``, bounded at half an hour: not in ``make test``.)"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
assert spec and spec.loader
tool = importlib.util.module_from_spec(spec)
sys.modules["mutation_tool"] = tool  # dataclasses look their module up there
spec.loader.exec_module(tool)

LISTING = """\
    xtdf.platform.kas.srt.x_parse__mutmut_1: killed
    xtdf.platform.kas.srt.x_parse__mutmut_2: survived
    xtdf.platform.kas.service.x\u01c1KasService\u01c1rewrap__mutmut_7: survived
    xtdf.platform.kas.service.x\u01c1KasService\u01c1rewrap__mutmut_8: no tests
    xtdf.platform.kas.service.x\u01c1KasService\u01c1rewrap__mutmut_9: not checked
    xtdf.platform.dpop.x_check__mutmut_3: timeout
some progress line without a status
"""


def test_results_are_read_per_mutant_and_counted_per_module() -> None:
    results = tool.parse_results(LISTING)
    assert len(results) == 6
    assert (
        results["xtdf.platform.kas.service.x\u01c1KasService\u01c1rewrap__mutmut_8"] == "no tests"
    )
    per = tool.tally(results, {})
    assert per["xtdf.platform.kas.srt"] == Counter(killed=1, survived=1)
    assert per["xtdf.platform.kas.service"] == Counter(
        {"survived": 1, "no tests": 1, "not checked": 1}
    )
    assert per["xtdf.platform.dpop"] == Counter(timeout=1)


def test_an_equivalent_survivor_is_counted_apart_and_only_if_it_survived(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text(
        "[equivalent]\n"
        '"xtdf.platform.kas.srt.x_parse__mutmut_2" = "the default it changes is never read"\n'
        '"xtdf.platform.kas.srt.x_parse__mutmut_1" = "killed anyway"\n'
    )
    equivalent = tool.load_equivalent(path)
    per = tool.tally(tool.parse_results(LISTING), equivalent)
    assert per["xtdf.platform.kas.srt"] == Counter(killed=1, equivalent=1)
    assert tool.misfiled(tool.parse_results(LISTING), equivalent) == [
        "xtdf.platform.kas.srt.x_parse__mutmut_1"
    ]
    assert tool.load_equivalent(tmp_path / "missing.toml") == {}


def test_every_written_down_equivalent_gives_a_reason() -> None:
    for name, reason in tool.load_equivalent().items():
        assert "__mutmut_" in name and len(reason) > 20, (name, reason)


def test_table_totals_and_share_of_the_checked() -> None:
    per = tool.tally(tool.parse_results(LISTING), {})
    text = tool.table(per)
    assert "| xtdf.platform.kas.srt | 2 | 1 | 1 | 0 | 0 | 0 | 0 | 50% |" in text
    # the unrun mutant is not counted against the share: 0 killed of 2 checked
    assert "| xtdf.platform.kas.service | 3 | 0 | 1 | 0 | 1 | 0 | 1 | 0% |" in text
    assert text.splitlines()[-1] == "| **all** | 6 | 1 | 2 | 0 | 1 | 1 | 1 | 20% |"


def test_the_doc_is_rewritten_between_its_markers_only(tmp_path: Path) -> None:
    doc = tmp_path / "testing.md"
    doc.write_text(f"# Testing\n\nhand-written\n\n{tool.BEGIN}\nold\n{tool.END}\n\nafter\n")
    tool.write_doc(doc, "new table")
    assert (
        doc.read_text()
        == f"# Testing\n\nhand-written\n\n{tool.BEGIN}\nnew table\n{tool.END}\n\nafter\n"
    )
    (tmp_path / "bare.md").write_text("no markers\n")
    with pytest.raises(RuntimeError, match="markers"):
        tool.write_doc(tmp_path / "bare.md", "x")


def test_groups_cover_the_security_core_with_their_own_tests() -> None:
    mutated = {path for g in tool.GROUPS for path in g.mutate}
    for path in (
        "src/xtdf/platform/dpop.py",
        "src/xtdf/platform/auth.py",
        "src/xtdf/platform/kas/*",
        "src/xtdf/platform/authz/*",
        "src/xtdf/formats/ztdf/integrity.py",
        "src/xtdf/formats/ztdf/policy.py",
        "src/xtdf/formats/nano/binding.py",
        "src/xtdf/harness/cache.py",
        "src/xtdf/harness/sdks.py",
    ):
        assert path in mutated, path
    for group in tool.GROUPS:
        for test in group.tests:
            assert (ROOT / test).is_file(), (group.name, test)
        for path in group.mutate:
            assert list(ROOT.glob(path)), (group.name, path)


def test_usage_errors_name_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        tool.main(["--groups", "dpop,nope"])
    assert exc.value.code == 2 and "--groups: unknown ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(["--budget", "0"])
    assert "--budget must be positive" in capsys.readouterr().err


def test_a_group_resumes_only_while_nothing_but_its_modules_changed(tmp_path: Path) -> None:
    group = tool.Group("nano", ("src/xtdf/formats/nano/binding.py",), ("tests/formats",), 1)
    dest, kept = tool._scratch(group, tmp_path, fresh=False)
    assert not kept and (dest / "src/xtdf/formats/nano/binding.py").is_file()
    assert (dest / "src/xtdf/_proto/__init__.py").is_file()  # generated, not in git
    config = (dest / "pyproject.toml").read_text().split("[tool.mutmut]")[1]
    assert 'process_isolation = "forkserver"' in config
    assert 'only_mutate = ["src/xtdf/formats/nano/binding.py"]' in config
    (dest / "mutants").mkdir()
    (dest / "mutants" / "verdicts").write_text("kept")
    (dest / "stray").write_text("from an older tree")
    dest, kept = tool._scratch(group, tmp_path, fresh=False)
    assert kept and (dest / "mutants" / "verdicts").read_text() == "kept"
    assert not (dest / "stray").exists()  # the tree itself is copied anew
    other_tests = tool.Group("nano", group.mutate, ("tests/formats/test_nano_tamper.py",), 1)
    dest, kept = tool._scratch(other_tests, tmp_path, fresh=False)
    assert not kept and not (dest / "mutants").exists()  # another test selection: afresh
    (dest / "mutants").mkdir()
    dest, kept = tool._scratch(other_tests, tmp_path, fresh=True)
    assert not kept and not (dest / "mutants").exists()


def test_only_what_a_verdict_reads_decides_whether_a_group_resumes() -> None:
    group = tool.Group("nano", ("src/xtdf/formats/nano/binding.py",), ("tests/formats",), 1)
    read = [
        Path(p)
        for p in (
            "src/xtdf/formats/nano/header.py",
            "tests/formats/test_nano_tamper.py",
            "tests/formats/sub/test_deeper.py",
            "tests/conftest.py",
            "tests/platform/helpers.py",
            "sdk/py/cli.sh",
            "pyproject.toml",
        )
    ]
    unread = [
        Path(p)
        for p in (
            "tests/platform/test_dpop.py",  # another group's tests
            "docs/testing.md",  # which the run itself rewrites
            "README.md",
            "bench/results.md",
            "tools/mutation_equivalent.toml",
        )
    ]
    files = read + unread
    assert tool.verdict_inputs(group, files) == sorted(read)
    one_module = tool.Group("nano", group.mutate, ("tests/formats/test_nano_tamper.py",), 1)
    assert Path("tests/formats/sub/test_deeper.py") not in tool.verdict_inputs(one_module, files)


def test_keep_killed_forgets_every_other_verdict_and_the_coverage_map(tmp_path: Path) -> None:
    import json

    mutants = tmp_path / "mutants"
    meta = mutants / "src" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"k1": 1, "k3": 3, "survived": 0, "timeout": 36, "no_tests": 33, "unrun": None}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": {"f": "h"}}))
    (mutants / "mutmut-stats.json").write_text("{}")
    assert tool.keep_only_killed(mutants) == 3
    data = json.loads(meta.read_text())
    assert data["exit_code_by_key"] == {
        "k1": 1,
        "k3": 3,
        "survived": None,
        "timeout": None,
        "no_tests": None,
        "unrun": None,
    }
    assert data["hash_by_function_name"] == {"f": "h"}
    assert not (mutants / "mutmut-stats.json").exists()

    group = tool.Group("nano", ("src/xtdf/formats/nano/binding.py",), ("tests/formats",), 1)
    dest, _ = tool._scratch(group, tmp_path / "w", fresh=False)
    (dest / "mutants").mkdir()
    (dest / "mutants" / "x.meta").write_text(json.dumps({"exit_code_by_key": {"a": 0, "b": 1}}))
    other = tool.Group("nano", group.mutate, ("tests/formats/test_nano_tamper.py",), 1)
    dest, kept = tool._scratch(other, tmp_path / "w", fresh=False, keep_killed=True)
    assert kept  # the test selection changed, yet the killed verdict stays
    assert json.loads((dest / "mutants" / "x.meta").read_text())["exit_code_by_key"] == {
        "a": None,
        "b": 1,
    }


def test_report_only_runs_nothing_and_needs_a_run_on_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tool, "MUTMUT", Path(sys.executable))  # make test has no mutmut
    assert tool.main(["--report-only", "--groups", "nano", "--work", str(tmp_path)]) == 1
    assert "no run of group nano on record" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(["--report-only", "--keep-killed"])
    assert "--report-only runs nothing" in capsys.readouterr().err
