"""The matrix as a grid: per platform and container, encrypting SDKs by decrypting SDKs.

The controller folds every test report into one ``TestResult`` (``report.py``); this module
groups them into cells, compares them with the previous run's outcomes, and renders the
terminal grid. ``html_report.py`` renders the same model as HTML. Nothing here knows any
SDK by name: rows and columns are whatever SDKs the run's cells name, so a new lane
(``sdk/<name>/dist/<version>/cli.sh``) shows up without a change here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xtdf.harness.options import CONTAINERS

OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped")
#: the mark of each non-passing outcome in a cell, in the order they are shown
MARKS = {"failed": "F", "xpassed": "X", "xfailed": "x", "skipped": "s"}
CHANGED = "*"
#: how much of a failure's output the stats JSON keeps per test (the HTML report has it all)
RECORD_OUTPUT_CAP = 4_000
LEGEND = (
    "passed/total; F failed, X xpassed, x known limit (strict xfail), s skipped; "
    f"{CHANGED} changed since the last run"
)
#: terminal colour of a cell by its status (pytest's TerminalWriter markup names)
COLOURS = {
    "failed": "red",
    "xpassed": "purple",
    "xfailed": "yellow",
    "passed": "green",
    "skipped": "",
}
ENCRYPT_ONLY = "(encrypt only)"
DECRYPT_ONLY = "(decrypt only)"
FIXED_CONTAINER = "container set by the test"


@dataclass(frozen=True)
class CellKey:
    """Where a test sits in the matrix; ``None`` for an axis the test does not have."""

    platform: str
    container: str | None
    encrypt: str | None
    decrypt: str | None

    @property
    def title(self) -> str:
        if self.encrypt and self.decrypt:
            pair = f"{self.encrypt} -> {self.decrypt}"
        elif self.encrypt:
            pair = f"{self.encrypt} {ENCRYPT_ONLY}"
        else:
            pair = f"{self.decrypt} {DECRYPT_ONLY}"
        return f"{pair} [{self.container or FIXED_CONTAINER}]"


@dataclass
class TestResult:
    """One test folded over its setup, call and teardown reports."""

    __test__ = False  # not a test class, whatever pytest makes of the name

    nodeid: str
    outcome: str
    duration: float = 0.0
    #: skip or xfail reason, or the failure's one-line message
    reason: str = ""
    #: the failure's traceback and captured output (the SDK's stderr among them)
    output: str = ""
    key: CellKey | None = None
    #: the cell's name as the long table and docs/compat.md spell it (``a -> b [ztdf]``)
    cell: str | None = None
    #: outcome in the previous run; None when the test was not in it
    previous: str | None = None
    #: containers the test encrypted (``CipherTexts.encrypt``), for a test that has no
    #: ``container`` parameter: its function's grid is then that container's
    containers_used: set[str] = field(default_factory=set)

    @property
    def function(self) -> str:
        """The test function's id, without its parameters."""
        return self.nodeid.split("[", 1)[0]

    @property
    def name(self) -> str:
        return self.nodeid.rsplit("::", 1)[-1]

    def record(self, output_cap: int = RECORD_OUTPUT_CAP) -> dict[str, Any]:
        """The test as the stats JSON keeps it, so a later run on another platform can show
        this run's grids beside its own (``from_record``)."""
        rec: dict[str, Any] = {"outcome": self.outcome, "duration": round(self.duration, 3)}
        if self.reason:
            rec["reason"] = self.reason
        if self.output:
            out = self.output
            rec["output"] = out if len(out) <= output_cap else "[...]\n" + out[-output_cap:]
        if self.key is not None:
            rec.update(
                platform=self.key.platform,
                container=self.key.container,
                encrypt=self.key.encrypt,
                decrypt=self.key.decrypt,
            )
        return rec

    @property
    def changed(self) -> bool:
        return self.previous is not None and self.previous != self.outcome


def from_record(nodeid: str, rec: Mapping[str, Any]) -> TestResult:
    """A ``TestResult.record`` read back; raises ValueError naming what is wrong."""
    if not isinstance(rec, Mapping) or rec.get("outcome") not in OUTCOMES:
        raise ValueError(f"test {nodeid!r} has no known outcome")
    key = None
    if rec.get("platform"):
        axes = [rec.get(a) for a in ("container", "encrypt", "decrypt")]
        if not all(a is None or isinstance(a, str) for a in axes):
            raise ValueError(f"test {nodeid!r} has a malformed cell")
        key = CellKey(str(rec["platform"]), *axes)
    duration = rec.get("duration") or 0.0
    if not isinstance(duration, int | float):
        raise ValueError(f"test {nodeid!r} has a malformed duration")
    return TestResult(
        nodeid,
        rec["outcome"],
        duration=float(duration),
        reason=str(rec.get("reason") or ""),
        output=str(rec.get("output") or ""),
        key=key,
    )


@dataclass
class Cell:
    key: CellKey
    tests: list[TestResult] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(t.outcome for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def status(self) -> str:
        """The outcome that colours the cell: the worst one present."""
        counts = self.counts
        for outcome in ("failed", "xpassed", "xfailed", "passed"):
            if counts[outcome]:
                return outcome
        return "skipped"

    @property
    def changes(self) -> list[TestResult]:
        return [t for t in self.tests if t.changed]

    @property
    def changed(self) -> bool:
        return any(t.changed for t in self.tests)

    @property
    def counts_before(self) -> Counter[str]:
        """Outcomes of this cell's tests as they were last run (tests new here left out)."""
        return Counter(t.previous for t in self.tests if t.previous is not None)

    def marks(self) -> list[tuple[str, int]]:
        counts = self.counts
        return [(m, counts[o]) for o, m in MARKS.items() if counts[o]]

    def text(self, changed_mark: bool = True) -> str:
        parts = [f"{self.counts['passed']}/{self.total}"]
        parts += [f"{m}{n}" for m, n in self.marks()]
        return " ".join(parts) + (CHANGED if changed_mark and self.changed else "")

    def text_before(self) -> str:
        before = self.counts_before
        parts = [f"{before['passed']}/{sum(before.values())}"]
        parts += [f"{m}{before[o]}" for o, m in MARKS.items() if before[o]]
        return " ".join(parts)


@dataclass
class Grid:
    """One container's grid on one platform."""

    platform: str
    container: str | None
    rows: list[str | None]
    cols: list[str | None]
    cells: dict[tuple[str | None, str | None], Cell]

    @property
    def title(self) -> str:
        return self.container or FIXED_CONTAINER

    def cell(self, row: str | None, col: str | None) -> Cell | None:
        return self.cells.get((row, col))


@dataclass
class Matrix:
    grids: list[Grid]
    #: tests that take no SDK parameter (format vectors, platform self-tests)
    others: list[TestResult]
    #: whether a previous run's outcomes were there to compare with
    compared: bool

    @property
    def cells(self) -> list[Cell]:
        """Grid by grid, each row by row as it is drawn (not in the order tests finished)."""
        return [
            cell
            for g in self.grids
            for r in g.rows
            for c in g.cols
            if (cell := g.cell(r, c)) is not None
        ]

    @property
    def changed_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.changed]

    @property
    def platforms(self) -> list[str]:
        return list(dict.fromkeys(g.platform for g in self.grids))

    def sdks(self) -> list[str]:
        found = {s for c in self.cells for s in (c.key.encrypt, c.key.decrypt) if s}
        return sorted(found, key=sdk_order)


def sdk_order(sdk: str | None) -> tuple:
    """By name, then version with numbers compared as numbers (0.9.0 before 0.11.0);
    the encrypt-only column and decrypt-only row come last."""
    if sdk is None:
        return (1,)
    name, _, version = sdk.partition("@")
    parts = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", version)]
    return (0, name, parts)


def container_order(container: str | None) -> tuple:
    if container is None:
        return (2, "")
    if container in CONTAINERS:
        return (0, CONTAINERS.index(container))
    return (1, container)


def place_fixed_containers(results: Iterable[TestResult]) -> None:
    """Put a test without a ``container`` parameter in the grid of the container its
    function encrypted: all of a function's instances, those skipped before encrypting
    too, when every instance that encrypted used one and the same container. A function
    that used none or several stays under ``FIXED_CONTAINER``."""
    by_function: dict[str, list[TestResult]] = {}
    for r in results:
        if r.key is not None and r.key.container is None:
            by_function.setdefault(r.function, []).append(r)
    for tests in by_function.values():
        used = {c for t in tests for c in t.containers_used}
        if len(used) == 1:
            (container,) = used
            for t in tests:
                assert t.key is not None
                t.key = CellKey(t.key.platform, container, t.key.encrypt, t.key.decrypt)


def build(
    results: Iterable[TestResult],
    previous: Mapping[str, str] | None = None,
    imported: Iterable[TestResult] = (),
) -> Matrix:
    """Group results into grids and mark what changed since ``previous`` (nodeid -> outcome).

    A test that was not in the previous run is not a change (narrowing or widening the
    selection changes nothing); one whose outcome differs is, and its cell with it.
    ``imported`` are another run's matrix tests (another platform's), shown as they were:
    ``previous`` is this run's history, not theirs.
    """
    cells: dict[CellKey, Cell] = {}
    others: list[TestResult] = []
    results = list(results)
    place_fixed_containers(results)
    for r in results:
        if previous is not None:
            r.previous = previous.get(r.nodeid)
        if r.key is None:
            others.append(r)
            continue
        cells.setdefault(r.key, Cell(r.key)).tests.append(r)
    for r in imported:
        if r.key is not None:
            cells.setdefault(r.key, Cell(r.key)).tests.append(r)
    for cell in cells.values():
        cell.tests.sort(key=lambda t: (not t.changed, t.nodeid))
    groups: dict[tuple[str, str | None], list[Cell]] = {}
    for key, cell in cells.items():
        groups.setdefault((key.platform, key.container), []).append(cell)
    grids = []
    for platform in dict.fromkeys(k.platform for k in cells):
        group = [c for (p, _), cs in groups.items() if p == platform for c in cs]
        rows = sorted({c.key.encrypt for c in group}, key=sdk_order)
        cols = sorted({c.key.decrypt for c in group}, key=sdk_order)
        for (p, container), cs in sorted(groups.items(), key=lambda kv: container_order(kv[0][1])):
            if p != platform:
                continue
            by_pair = {(c.key.encrypt, c.key.decrypt): c for c in cs}
            # every grid of a platform has the same rows and columns, minus empty edges
            grid_rows = [r for r in rows if r is not None or any(k[0] is None for k in by_pair)]
            grid_cols = [c for c in cols if c is not None or any(k[1] is None for k in by_pair)]
            grids.append(Grid(platform, container, grid_rows, grid_cols, by_pair))
    others.sort(key=lambda t: t.nodeid)
    return Matrix(grids, others, compared=previous is not None)


# -- terminal ---------------------------------------------------------------------------

Segment = tuple[str, dict[str, bool]]


def _markup(cell: Cell, colour: bool) -> dict[str, bool]:
    if not colour:
        return {}
    m: dict[str, bool] = {}
    name = COLOURS[cell.status]
    if name:
        m[name] = True
    if cell.changed:
        m["bold"] = True
    return m


def _bold(colour: bool) -> dict[str, bool]:
    return {"bold": True} if colour else {}


def sdk_numbers(sdks: Iterable[str]) -> dict[str, str]:
    """Short column headers: the grid would be several hundred characters wide with
    ``otdf-python@0.11.0`` as every column's title."""
    return {s: str(i) for i, s in enumerate(sorted(set(sdks), key=sdk_order), 1)}


def terminal_lines(
    matrix: Matrix,
    width: int = 120,
    colour: bool = False,
    sources: Mapping[str, str] | None = None,
) -> list[list[Segment]]:
    """The grids as lines of (text, markup) segments; the caller writes them with pytest's
    terminal writer, which drops the markup where colour is off (``--color``, NO_COLOR).
    ``sources`` names the file of each platform read from another run."""
    lines: list[list[Segment]] = []
    numbers = sdk_numbers(matrix.sdks())
    for platform in matrix.platforms:
        grids = [g for g in matrix.grids if g.platform == platform]
        source = (sources or {}).get(platform)
        note = f" (not run now: from {source})" if source else ""
        lines.append([(f"platform: {platform}{note}", _bold(colour))])
        lines.append([(LEGEND, {})])
        cols_seen = [c for c in grids[0].cols if c] if grids else []
        legend = "  ".join(f"{numbers[s]} {s}" for s in cols_seen)
        lines.append([(f"decrypting SDKs (columns): {legend}", {})])
        for grid in grids:
            lines.append([])
            lines.extend(_grid_lines(grid, numbers, width, colour))
    return lines


def _label(sdk: str | None, numbers: Mapping[str, str], row: bool) -> str:
    if sdk is None:
        return DECRYPT_ONLY if row else "enc only"
    return f"{numbers[sdk]} {sdk}" if row else numbers[sdk]


def _grid_lines(
    grid: Grid, numbers: Mapping[str, str], width: int, colour: bool
) -> list[list[Segment]]:
    texts = {k: c.text() for k, c in grid.cells.items()}
    title = grid.title
    label_w = max([len(title), *(len(_label(r, numbers, True)) for r in grid.rows)]) + 2
    col_w = {
        c: max([len(_label(c, numbers, False)), *(len(texts.get((r, c), "")) for r in grid.rows)])
        + 2
        for c in grid.cols
    }
    # wrap columns into blocks that fit the terminal
    blocks: list[list[str | None]] = [[]]
    used = label_w
    for c in grid.cols:
        if blocks[-1] and used + col_w[c] > width:
            blocks.append([])
            used = label_w
        blocks[-1].append(c)
        used += col_w[c]
    out: list[list[Segment]] = []
    for i, block in enumerate(blocks):
        head = title if i == 0 else f"{title} (cont.)"
        header: list[Segment] = [(head.ljust(label_w), _bold(colour))]
        header += [(_label(c, numbers, False).rjust(col_w[c]), _bold(colour)) for c in block]
        out.append(header)
        for r in grid.rows:
            line: list[Segment] = [(_label(r, numbers, True).ljust(label_w), {})]
            for c in block:
                cell = grid.cell(r, c)
                if cell is None:
                    line.append(("·".rjust(col_w[c]), {}))
                else:
                    line.append((texts[(r, c)].rjust(col_w[c]), _markup(cell, colour)))
            out.append(line)
    return out


def change_lines(matrix: Matrix, limit: int = 12, cell_limit: int = 20) -> list[str]:
    """What changed since the last run, one line per cell (at most ``cell_limit``) and per
    test (at most ``limit``): a platform that went away mid-run changes every cell, and the
    terminal should still show the grid above it. The HTML report lists every one."""
    changed = matrix.changed_cells
    others = [t for t in matrix.others if t.changed]
    if not changed and not others:
        return (
            ["no cell changed its outcome since the last run"]
            if matrix.compared
            else ["no previous run to compare with"]
        )
    out = [f"changed since the last run: {len(changed)} cell(s)"]
    shown = 0
    for cell in changed[:cell_limit]:
        out.append(f"  {cell.key.title}: {cell.text_before()} -> {cell.text(changed_mark=False)}")
        for t in cell.changes:
            if shown < limit:
                out.append(f"    {t.name}: {t.previous} -> {t.outcome}")
            shown += 1
    if len(changed) > cell_limit:
        out.append(f"  ... and {len(changed) - cell_limit} more changed cell(s)")
    shown = sum(len(c.changes) for c in changed)
    for t in others:
        if shown < limit:
            out.append(f"  {t.nodeid}: {t.previous} -> {t.outcome}")
        shown += 1
    if shown > limit:
        out.append(f"  ... and {shown - limit} more changed test(s), listed in the HTML report")
    return out
