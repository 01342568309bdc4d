"""Controller side: the matrix grid, the HTML report and the cache statistics.

Workers put their cache counters in ``workeroutput`` at the end of their session; the
controller receives them in ``pytest_testnodedown`` and every test report through
``pytest_runtest_logreport``, so the summary is built in one place for any ``-n``. Each
test's reports fold into one ``grid.TestResult``; every test's last known outcome goes into
the stats JSON (``.xtdf/last-run.json``) so the next run can say which cells changed.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from xtdf.harness import grid

CELL_PROPERTY = "xtdf_cell"
#: the cell's axes as a dict (encrypt, decrypt, container), so the grid need not parse
#: ``CELL_PROPERTY``: "py@main" alone could be either side
AXES_PROPERTY = "xtdf_axes"
#: a container a test without a ``container`` parameter encrypted (one property per use)
CONTAINER_USED_PROPERTY = "xtdf_container_used"
OUTCOMES = grid.OUTCOMES
#: at most this much of one test's traceback and captured output goes into the report
OUTPUT_CAP = 12_000
SDK_OUTPUT_CAP = 8_000
#: title prefix of the report section that holds a failed SDK process's output
SDK_SECTION = "SDK output:"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("xtdf", "cross-SDK matrix")
    group.addoption(
        "--matrix-table",
        action="store_true",
        help="also print the long table, one line per (encrypt, decrypt, container) cell",
    )
    group.addoption(
        "--report-html",
        metavar="PATH",
        help="write the self-contained HTML report here (default: report.html beside the "
        "stats JSON, .xtdf/report.html)",
    )
    group.addoption("--no-report-html", action="store_true", help="write no HTML report")
    group.addoption(
        "--report-also",
        metavar="STATS_JSON",
        action="append",
        default=[],
        help="show another run's grids beside this run's, from its stats JSON (a run on "
        "another platform, made with its own --stats-json); may be given more than once",
    )


def cell_properties(params: dict[str, Any]) -> list[tuple[str, object]]:
    """The user properties that place a matrix test in its cell (none for other tests)."""
    if "encrypt_sdk" not in params and "decrypt_sdk" not in params:
        return []
    axes = {
        axis: str(params[k])
        for axis, k in (("encrypt", "encrypt_sdk"), ("decrypt", "decrypt_sdk"))
        if k in params
    }
    cell = " -> ".join(axes.values())
    if "container" in params:
        axes["container"] = str(params["container"])
        cell += f" [{params['container']}]"
    return [(CELL_PROPERTY, cell), (AXES_PROPERTY, axes)]


def sdk_output_section(
    excinfo: pytest.ExceptionInfo[BaseException] | None,
) -> tuple[str, str] | None:
    """The full output of the SDK process that failed a test, as a report section.

    ``SdkError``'s message carries only the last lines of stderr; this is all of it (up
    to a cap), so the HTML report can show what the SDK said.
    """
    from xtdf.harness.sdks import SdkError

    exc: BaseException | None = excinfo.value if excinfo is not None else None
    for _ in range(4):  # the SdkError may be the cause of what the test raised
        if exc is None or isinstance(exc, SdkError):
            break
        exc = exc.__cause__ or exc.__context__
    if not isinstance(exc, SdkError):
        return None
    parts = []
    if exc.stderr.strip():
        parts.append("--- stderr ---\n" + _cap(exc.stderr, SDK_OUTPUT_CAP))
    if exc.stdout.strip():
        parts.append("--- stdout ---\n" + _cap(exc.stdout, SDK_OUTPUT_CAP))
    title = str(exc).split(":", 1)[0]
    return f"{SDK_SECTION} {title}", "\n".join(parts) or "(no output)"


def _cap(text: str, limit: int) -> str:
    """Keep the start and, mostly, the end, where the error usually is."""
    if len(text) <= limit:
        return text
    head = limit // 5
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-tail:]}"


def platform_label() -> str:
    """Which platform the run talks to, read before any fixture exports its variables."""
    url = os.environ.get("PLATFORMURL")
    if url:
        return f"external platform at {url}"
    if os.environ.get("XTDF_PLATFORM") == "go":
        return "OpenTDF Go platform (make platform-go, http://localhost:8080)"
    return "embedded xtdf platform (http://localhost:8080)"


def load_imported(paths: list[str], platform: str) -> dict[str, list[grid.TestResult]]:
    """Other runs' matrix tests for ``--report-also``, by the file they came from; a file
    that is not a stats JSON with tests is a usage error naming it and why, before any test
    runs."""
    out: dict[str, list[grid.TestResult]] = {}
    seen = {platform}
    for name in paths:
        try:
            data = json.loads(Path(name).read_text())
            tests = data.get("tests") if isinstance(data, dict) else None
            if not isinstance(tests, dict) or not tests:
                raise ValueError("it has no tests (stats JSON written before the grid, or empty)")
            found = [grid.from_record(nodeid, rec) for nodeid, rec in tests.items()]
        except OSError as exc:
            raise pytest.UsageError(f"--report-also {name}: {exc.strerror or exc}") from None
        except ValueError as exc:  # JSONDecodeError included
            raise pytest.UsageError(f"--report-also {name}: not a stats JSON: {exc}") from None
        platforms = {r.key.platform for r in found if r.key is not None}
        if platforms & seen:
            clash = ", ".join(sorted(platforms & seen))
            raise pytest.UsageError(
                f"--report-also {name}: its platform ({clash}) is already in this report; "
                "give the run of another platform"
            )
        seen |= platforms
        out[name] = [r for r in found if r.key is not None]
    return out


def outcome_of(report: pytest.TestReport) -> str | None:
    """Fold setup/call/teardown reports into one outcome per test (None: not decisive)."""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        if report.failed:
            return "failed"
        return "skipped" if report.skipped else "passed"
    if report.when == "teardown" and report.failed:
        return "failed"
    return None


def _reason(report: pytest.TestReport, outcome: str) -> str:
    """One line that says why: the skip or xfail reason, or the failure's message."""
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if outcome in ("xfailed", "xpassed"):
        return str(getattr(report, "wasxfail", "")).removeprefix("reason: ")
    if outcome == "failed":
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is not None:
            return str(crash.message).split("\n", 1)[0]
        return str(report.longrepr).strip().split("\n", 1)[0]
    return ""


def _output(report: pytest.TestReport) -> str:
    """The SDK's own output first (what a maintainer reads first), then the traceback and
    the other captured sections, each capped."""
    sections = [(t, c) for t, c in report.sections if c.strip()]
    sdk = [(t, c) for t, c in sections if t.startswith(SDK_SECTION)]
    parts = [f"----- {t} -----\n{_cap(c, OUTPUT_CAP)}" for t, c in sdk]
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        parts.append("----- traceback -----\n" + _cap(report.longreprtext, OUTPUT_CAP))
    parts += [f"----- {t} -----\n{_cap(c, OUTPUT_CAP)}" for t, c in sections if (t, c) not in sdk]
    return "\n".join(parts)


class MatrixReport:
    def __init__(
        self,
        config: pytest.Config,
        stats_json: Path | None,
        html: Path | None = None,
        imported: dict[str, list[grid.TestResult]] | None = None,
    ) -> None:
        self.config = config
        self.stats_json = stats_json
        self.html = html
        self.started = time.perf_counter()
        self.platform = platform_label()
        self.imported = imported or {}
        self.results: dict[str, grid.TestResult] = {}
        self.worker_stats: dict[str, dict[str, Any]] = {}
        self.previous = _previous_outcomes(stats_json)
        self.report_seconds: float | None = None
        self.html_written: Path | None = None

    @property
    def cells(self) -> dict[str, Counter[str]]:
        """Outcome counts per cell, keyed by the cell's name (``a -> b [container]``)."""
        out: dict[str, Counter[str]] = {}
        for r in self.results.values():
            if r.cell and r.outcome:
                out.setdefault(r.cell, Counter())[r.outcome] += 1
        return out

    # -- hooks -----------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = outcome_of(report)
        r = self.results.get(report.nodeid)
        if r is None:
            props = dict(report.user_properties)
            axes = props.get(AXES_PROPERTY)
            key = None
            if isinstance(axes, dict):
                key = grid.CellKey(
                    self.platform, axes.get("container"), axes.get("encrypt"), axes.get("decrypt")
                )
            cell = props.get(CELL_PROPERTY)
            r = grid.TestResult(report.nodeid, "", key=key, cell=cell if cell else None)
            self.results[report.nodeid] = r
        r.duration += report.duration
        r.containers_used.update(
            str(v) for k, v in report.user_properties if k == CONTAINER_USED_PROPERTY
        )
        if outcome is None or (r.outcome and outcome != "failed"):
            return
        if r.outcome == "failed":  # an error in teardown after a failure: keep both
            r.output += "\n" + _output(report)
            return
        r.outcome = outcome
        r.reason = _reason(report, outcome)
        r.output = _output(report) if outcome in ("failed", "xfailed", "xpassed") else ""

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", {}) or {}
        if "xtdf_cache_stats" in out:
            self.worker_stats[out.get("workerid", node.gateway.id)] = out["xtdf_cache_stats"]

    def add_local_stats(self, name: str, stats: dict[str, Any]) -> None:
        self.worker_stats[name] = stats

    # -- summary -----------------------------------------------------------------------
    def totals(self) -> dict[str, Any]:
        keys: set[str] = set()
        total: Counter[str] = Counter()
        for stats in self.worker_stats.values():
            keys.update(stats.get("keys", []))
            for k in ("hits", "misses", "waits", "produced", "failures", "corrupt"):
                total[k] += stats.get(k, 0)
        produced = total["produced"]
        return {
            **dict(total),
            "distinct_keys": len(keys),
            "encryptions_per_key": round(produced / len(keys), 3) if keys else None,
            "produce_seconds": round(
                sum(s.get("produce_seconds", 0.0) for s in self.worker_stats.values()), 3
            ),
        }

    def time_spent(self, wall: float) -> dict[str, Any]:
        """Seconds inside SDK processes and waiting for the platform, against worker time.

        ``overhead_share`` is what is left of ``workers x wall`` after those: pytest, the
        plugin, fixtures, cache locks, and workers idling at the end of the run.
        """
        by_activity: Counter[str] = Counter()
        calls: Counter[str] = Counter()
        for stats in self.worker_stats.values():
            t = stats.get("timing", {})
            by_activity.update(t.get("seconds", {}))
            calls.update(t.get("calls", {}))
        workers = max(1, len(self.worker_stats))
        sdk = sum(v for k, v in by_activity.items() if k.startswith("sdk:"))
        platform = sum(v for k, v in by_activity.items() if k.startswith("platform:"))
        capacity = workers * wall
        return {
            "workers": workers,
            "worker_seconds": round(capacity, 3),
            "sdk_seconds": round(sdk, 3),
            "platform_seconds": round(platform, 3),
            "overhead_share": round(1 - (sdk + platform) / capacity, 4) if capacity else None,
            "seconds": {k: round(v, 3) for k, v in sorted(by_activity.items())},
            "calls": dict(sorted(calls.items())),
        }

    def matrix(self) -> grid.Matrix:
        done = [r for r in self.results.values() if r.outcome]
        return grid.build(done, self.previous, [r for rs in self.imported.values() for r in rs])

    def outcomes(self) -> dict[str, str]:
        """Each test's outcome in the last run that ran it: this run's, and the previous
        file's for tests this run did not select, so a narrowed run (``--focus``, ``-k``)
        does not make the next full run forget what it is compared with."""
        merged = dict(self.previous or {})
        merged.update((n, r.outcome) for n, r in self.results.items() if r.outcome)
        return dict(sorted(merged.items()))

    def as_dict(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.started
        return {
            "wall_seconds": round(wall, 3),
            "platform": self.platform,
            "matrix": {cell: dict(c) for cell, c in sorted(self.cells.items())},
            "outcomes": self.outcomes(),
            "tests": {n: r.record() for n, r in sorted(self.results.items()) if r.outcome},
            "cache": {"total": self.totals(), "workers": self.worker_stats},
            "time": self.time_spent(wall),
            "report_seconds": self.report_seconds,
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        started = time.perf_counter()
        matrix = self.matrix()
        data = self.as_dict()
        if matrix.grids:
            self._write_grid(tr, matrix)
        if self.config.getoption("matrix_table", False) and self.cells:
            self._write_table(tr)
        self._write_cache(tr, data)
        compat = self.config.getoption("compat_md", None)
        if compat:
            from xtdf.harness.compat import render, update
            from xtdf.harness.plugin import HARNESS

            h = self.config.stash[HARNESS]
            command = "cd xtest && pytest " + " ".join(self.config.invocation_params.args)
            update(Path(compat), render(self.cells, [*h.encrypt_sdks, *h.decrypt_sdks], command))
            tr.write_line(f"compatibility table written to {compat}")
        if self.html is not None and self.results:
            self._write_html(tr, matrix, data)
        self.report_seconds = round(time.perf_counter() - started, 3)
        data["report_seconds"] = self.report_seconds
        if self.stats_json is not None:
            self.stats_json.parent.mkdir(parents=True, exist_ok=True)
            self.stats_json.write_text(json.dumps(data, indent=2, sort_keys=True))
            tr.write_line(f"statistics written to {self.stats_json}")

    def _write_html(self, tr: Any, matrix: grid.Matrix, data: dict[str, Any]) -> None:
        from xtdf.harness import html_report

        assert self.html is not None
        started = time.perf_counter()
        try:
            html_report.write(self.html, matrix, data, self._meta())
        except OSError as exc:  # a bad --report-html path costs the report, not the run
            tr.write_line(f"HTML report not written: {self.html}: {exc.strerror or exc}", red=True)
            return
        self.html_written = self.html.resolve()
        tr.write_line(
            f"HTML report written to {self.html_written} ({time.perf_counter() - started:.2f} s)"
        )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Name the report once more after pytest's own summary, which with ``-ra`` can run
        to hundreds of lines below the grid."""
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if self.html_written is not None and tr is not None:
            tr.write_line(f"xtdf report: {self.html_written}")

    def _meta(self) -> dict[str, Any]:
        args = shlex.join(self.config.invocation_params.args)  # as it can be pasted back
        return {
            "command": f"pytest {args}".strip(),
            "directory": str(self.config.invocation_params.dir),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            # platform -> the stats JSON its grids were read from (--report-also)
            "imported": {
                r.key.platform: name
                for name, rs in self.imported.items()
                for r in rs
                if r.key is not None
            },
        }

    def _write_grid(self, tr: Any, matrix: grid.Matrix) -> None:
        tr.write_sep("=", "xtdf compatibility grid (encrypt: rows, decrypt: columns)")
        width = getattr(getattr(tr, "_tw", None), "fullwidth", 120)
        sources = self._meta()["imported"]
        for line in grid.terminal_lines(matrix, width=width, colour=tr.hasmarkup, sources=sources):
            for text, markup in line:
                tr.write(text, **markup)
            tr.write_line("")
        tr.write_line("")
        for line in grid.change_lines(matrix):
            tr.write_line(line)

    def _write_table(self, tr: Any) -> None:
        cells = self.cells
        tr.write_sep("=", "xtdf matrix (encrypt -> decrypt, container)")
        width = max(len(c) for c in cells) + 2
        tr.write_line("cell".ljust(width) + " ".join(f"{o:>8}" for o in OUTCOMES))
        for cell, counts in sorted(cells.items()):
            tr.write_line(cell.ljust(width) + " ".join(f"{counts[o]:>8}" for o in OUTCOMES))

    def _write_cache(self, tr: Any, data: dict[str, Any]) -> None:
        if any(s.get("keys") for s in self.worker_stats.values()):
            tr.write_sep("=", "xtdf shared ciphertext cache")
            tr.write_line(
                f"{'worker':<10}{'hits':>8}{'misses':>8}{'waits':>8}{'encrypts':>10}{'seconds':>10}"
            )
            for name, s in sorted(self.worker_stats.items()):
                tr.write_line(
                    f"{name:<10}{s['hits']:>8}{s['misses']:>8}{s['waits']:>8}"
                    f"{s['produced']:>10}{s['produce_seconds']:>10.2f}"
                )
            t = data["cache"]["total"]
            tr.write_line(
                f"encryptions {t.get('produced', 0)} ({t.get('failures', 0)} failed, retried "
                f"each run) / distinct keys {t['distinct_keys']}"
                f" = {t['encryptions_per_key']}; wall {data['wall_seconds']:.1f} s"
            )
        spent = data["time"]
        if spent["calls"]:
            tr.write_line(
                f"time: {spent['sdk_seconds']:.1f} s in SDK processes, "
                f"{spent['platform_seconds']:.1f} s waiting for the platform, of "
                f"{spent['worker_seconds']:.1f} worker-seconds; harness overhead "
                f"{spent['overhead_share']:.1%}"
            )


def _previous_outcomes(stats_json: Path | None) -> dict[str, str] | None:
    """The last run's outcome per test, or None when there is no usable last run."""
    if stats_json is None or not stats_json.is_file():
        return None
    try:
        outcomes = json.loads(stats_json.read_text()).get("outcomes")
    except (OSError, ValueError, AttributeError):
        return None
    return outcomes if isinstance(outcomes, dict) else None
