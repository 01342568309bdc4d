"""The compatibility grid: how results fold into cells, what counts as a change, and the
terminal rendering with and without colour."""

from __future__ import annotations

import re

import pytest

from xtdf.harness import grid
from xtdf.harness.grid import CellKey, TestResult

PLATFORM = "embedded"
OLD, NEW, JS = "otdf-python@0.9.0", "otdf-python@0.11.0", "js@2.0.0-beta.1412"


def result(
    name: str,
    outcome: str,
    enc: str | None = "py@main",
    dec: str | None = "py@main",
    container: str | None = "ztdf",
    platform: str = PLATFORM,
) -> TestResult:
    params = "-".join(p for p in (enc, dec, container) if p)
    return TestResult(
        f"test_m.py::{name}[{params}]", outcome, key=CellKey(platform, container, enc, dec)
    )


def text_of(lines: list[list[grid.Segment]]) -> list[str]:
    return ["".join(t for t, _ in line) for line in lines]


def test_cells_count_every_outcome_and_show_the_worst() -> None:
    m = grid.build(
        [
            result("a", "passed"),
            result("b", "passed"),
            result("c", "xfailed"),
            result("d", "skipped"),
            result("e", "failed", dec=JS),
            result("f", "skipped", dec=JS),
        ]
    )
    (g,) = m.grids
    assert g.cols == [JS, "py@main"] and g.rows == ["py@main"]
    same = g.cell("py@main", "py@main")
    assert same is not None and same.text() == "2/4 x1 s1" and same.status == "xfailed"
    other = g.cell("py@main", JS)
    assert other is not None and other.text() == "0/2 F1 s1" and other.status == "failed"


def test_versions_sort_as_numbers_and_one_sided_cells_come_last() -> None:
    m = grid.build(
        [
            result("a", "passed", enc=NEW, dec=OLD),
            result("b", "passed", enc=OLD, dec=None),
            result("c", "passed", enc=None, dec=JS),
        ]
    )
    (g,) = m.grids
    assert g.rows == [OLD, NEW, None]  # 0.9.0 before 0.11.0, decrypt-only row last
    assert g.cols == [JS, OLD, None]
    assert g.cell(OLD, None) is not None and g.cell(None, JS) is not None


def test_grids_per_platform_and_container_in_the_suites_order() -> None:
    m = grid.build(
        [
            result("a", "passed", container="nano"),
            result("b", "passed", container=None),
            result("c", "passed", container="ztdf"),
            result("d", "passed", container="ztdf", platform="go"),
        ]
    )
    assert [(g.platform, g.title) for g in m.grids] == [
        (PLATFORM, "ztdf"),
        (PLATFORM, "nano"),
        (PLATFORM, grid.FIXED_CONTAINER),
        ("go", "ztdf"),
    ]
    assert m.platforms == [PLATFORM, "go"]


def test_a_cell_changes_when_a_test_in_it_changes_outcome() -> None:
    now = [result("a", "failed"), result("b", "passed"), result("new", "failed", dec=JS)]
    previous = {now[0].nodeid: "passed", now[1].nodeid: "passed", "gone::x": "failed"}
    m = grid.build(now, previous)
    assert m.compared
    (changed,) = m.changed_cells
    assert changed.key.decrypt == "py@main"
    assert changed.text() == "1/2 F1*" and changed.text_before() == "2/2"
    assert [t.name for t in changed.changes] == ["a[py@main-py@main-ztdf]"]
    # the changed test is listed first in its cell
    assert changed.tests[0].changed
    # a test the last run did not have is not a change, even when it fails
    new_cell = m.grids[0].cell("py@main", JS)
    assert new_cell is not None and not new_cell.changed


def test_change_lines_say_what_changed_or_that_nothing_did() -> None:
    assert grid.change_lines(grid.build([result("a", "passed")])) == [
        "no previous run to compare with"
    ]
    same = grid.build([result("a", "passed")], {"test_m.py::a[py@main-py@main-ztdf]": "passed"})
    assert grid.change_lines(same) == ["no cell changed its outcome since the last run"]
    now = [result(f"t{i}", "failed") for i in range(5)]
    lines = grid.change_lines(grid.build(now, {t.nodeid: "passed" for t in now}), limit=3)
    assert lines[0] == "changed since the last run: 1 cell(s)"
    assert lines[1] == "  py@main -> py@main [ztdf]: 5/5 -> 0/5 F5"
    assert lines[2].strip() == "t0[py@main-py@main-ztdf]: passed -> failed"
    assert lines[-1] == "  ... and 2 more changed test(s), listed in the HTML report"


def test_terminal_grid_plain_has_symbols_and_no_escape_codes() -> None:
    m = grid.build(
        [result("a", "passed"), result("b", "xfailed", enc=JS), result("c", "skipped", dec=JS)]
    )
    lines = text_of(grid.terminal_lines(m, width=120, colour=False))
    assert all("\x1b" not in line for line in lines)
    assert all(markup == {} for line in grid.terminal_lines(m) for _, markup in line)
    assert lines[0] == f"platform: {PLATFORM}"
    assert lines[2] == f"decrypting SDKs (columns): 1 {JS}  2 py@main"
    header = next(i for i, line in enumerate(lines) if line.startswith("ztdf"))
    assert lines[header].split() == ["ztdf", "1", "2"]
    assert lines[header + 1].split() == ["1", JS, "·", "0/1", "x1"]
    assert lines[header + 2].split() == ["2", "py@main", "0/1", "s1", "1/1"]


def test_terminal_grid_colours_by_status_and_bolds_changes() -> None:
    now = [result("a", "failed"), result("b", "xfailed", enc=JS), result("c", "passed", dec=JS)]
    m = grid.build(now, {now[0].nodeid: "passed"})
    marks = {
        text.strip(): markup
        for line in grid.terminal_lines(m, colour=True)
        for text, markup in line
        if re.fullmatch(r"\s*\d+/\d+.*", text)
    }
    assert marks == {
        "0/1 F1*": {"red": True, "bold": True},
        "0/1 x1": {"yellow": True},
        "1/1": {"green": True},
    }


def test_terminal_grid_wraps_columns_to_the_width() -> None:
    sdks = [f"sdk{i}@1.0.{i}" for i in range(12)]
    m = grid.build([result(f"t{e}{d}", "passed", enc=e, dec=d) for e in sdks for d in sdks])
    lines = text_of(grid.terminal_lines(m, width=60))
    assert max(len(line) for line in lines if "/" in line and "sdk" in line) <= 60
    assert any(line.startswith("ztdf (cont.)") for line in lines)
    # every cell is still there: 12 rows x 12 columns of 1/1
    assert sum(line.count("1/1") for line in lines) == 144


def test_a_record_reads_back_as_the_same_test_with_its_output_capped() -> None:
    r = result("a", "failed", enc=JS)
    r.duration, r.reason, r.output = 1.23456, "boom", "x" * 10 + "tail"
    back = grid.from_record(r.nodeid, r.record(output_cap=4))
    assert (back.nodeid, back.outcome, back.key, back.reason) == (r.nodeid, "failed", r.key, "boom")
    assert back.duration == 1.235 and back.output == "[...]\ntail"
    plain = grid.from_record("t::x", TestResult("t::x", "passed").record())
    assert plain.key is None and plain.outcome == "passed"


@pytest.mark.parametrize(
    "rec",
    [
        {"outcome": "won"},
        [],
        {"outcome": "passed", "duration": "slow"},
        {"outcome": "passed", "platform": "p", "encrypt": 3},
    ],
)
def test_a_malformed_record_is_a_value_error_naming_the_test(rec: object) -> None:
    with pytest.raises(ValueError, match="test 't::x' has"):
        grid.from_record("t::x", rec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "label"),
    [
        ({}, "embedded xtdf platform (http://localhost:8080)"),
        ({"XTDF_PLATFORM": "go", "PLATFORMURL": "http://h:1"}, "external platform at http://h:1"),
    ],
)
def test_the_platform_a_run_names(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], label: str
) -> None:
    from xtdf.harness.report import platform_label

    for name in ("PLATFORMURL", "XTDF_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert platform_label() == label


def test_a_test_without_a_container_goes_where_its_function_encrypted() -> None:
    def fixed(name: str, enc: str, used: set[str]) -> TestResult:
        r = result(name, "passed", enc=enc, container=None)
        r.containers_used = used
        return r

    tamper = [fixed("tamper", "py@main", {"nano"}), fixed("tamper", JS, set())]  # JS skipped
    mixed = [fixed("both", "py@main", {"ztdf"}), fixed("both", JS, {"nano"})]
    never = [fixed("golden", "py@main", set())]
    m = grid.build([*tamper, *mixed, *never])
    assert {g.title: sorted(c.key.encrypt or "" for c in g.cells.values()) for g in m.grids} == {
        "nano": [JS, "py@main"],  # the skipped instance too
        grid.FIXED_CONTAINER: [JS, "py@main"],  # both and golden: no single container
    }
    nano = next(g for g in m.grids if g.title == "nano")
    assert [t.name for c in nano.cells.values() for t in c.tests] == [
        "tamper[py@main-py@main]",
        "tamper[js@2.0.0-beta.1412-py@main]",
    ]


def test_changed_cells_are_listed_in_grid_order_not_finishing_order() -> None:
    now = [
        result("a", "failed", enc="py@main", dec=JS),
        result("b", "failed", enc=JS, dec="py@main", container="nano"),
        result("c", "failed", enc=JS, dec="py@main"),
        result("d", "failed", enc=JS, dec=JS),
    ]
    m = grid.build(now, {t.nodeid: "passed" for t in now})
    assert [c.key.title for c in m.changed_cells] == [
        f"{JS} -> {JS} [ztdf]",
        f"{JS} -> py@main [ztdf]",
        f"py@main -> {JS} [ztdf]",
        f"{JS} -> py@main [nano]",
    ]


def test_change_lines_stay_short_when_everything_changed() -> None:
    sdks = [f"s{i}@1" for i in range(5)]
    now = [result("t", "failed", enc=e, dec=d) for e in sdks for d in sdks]
    lines = grid.change_lines(grid.build(now, {t.nodeid: "passed" for t in now}))
    assert lines[0] == "changed since the last run: 25 cell(s)"
    assert sum(1 for line in lines if line.startswith("  s")) == 20
    assert lines[-2:] == [
        "  ... and 5 more changed cell(s)",
        "  ... and 13 more changed test(s), listed in the HTML report",
    ]
