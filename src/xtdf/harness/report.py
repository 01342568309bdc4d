"""Controller side: the matrix table and the cache statistics gathered from workers.

Workers put their cache counters in ``workeroutput`` at the end of their session; the
controller receives them in ``pytest_testnodedown`` and every test report through
``pytest_runtest_logreport``, so the summary is built in one place for any ``-n``.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

CELL_PROPERTY = "xtdf_cell"
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped")


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


class MatrixReport:
    def __init__(self, config: pytest.Config, stats_json: Path | None) -> None:
        self.config = config
        self.stats_json = stats_json
        self.started = time.perf_counter()
        self.cells: dict[str, Counter[str]] = defaultdict(Counter)
        self.worker_stats: dict[str, dict[str, Any]] = {}

    # -- hooks -----------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        cell = dict(report.user_properties).get(CELL_PROPERTY)
        outcome = outcome_of(report)
        if cell is None or outcome is None:
            return
        self.cells[cell][outcome] += 1

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

    def as_dict(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.started
        return {
            "wall_seconds": round(wall, 3),
            "matrix": {cell: dict(c) for cell, c in sorted(self.cells.items())},
            "cache": {"total": self.totals(), "workers": self.worker_stats},
            "time": self.time_spent(wall),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        data = self.as_dict()
        if self.cells:
            tr.write_sep("=", "xtdf matrix (encrypt -> decrypt, container)")
            width = max(len(c) for c in self.cells) + 2
            tr.write_line("cell".ljust(width) + " ".join(f"{o:>8}" for o in OUTCOMES))
            for cell, counts in sorted(self.cells.items()):
                tr.write_line(cell.ljust(width) + " ".join(f"{counts[o]:>8}" for o in OUTCOMES))
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
        compat = self.config.getoption("compat_md", None)
        if compat:
            from xtdf.harness.compat import render, update
            from xtdf.harness.plugin import HARNESS

            h = self.config.stash[HARNESS]
            command = "cd xtest && pytest " + " ".join(self.config.invocation_params.args)
            update(Path(compat), render(self.cells, [*h.encrypt_sdks, *h.decrypt_sdks], command))
            tr.write_line(f"compatibility table written to {compat}")
        if self.stats_json is not None:
            self.stats_json.parent.mkdir(parents=True, exist_ok=True)
            self.stats_json.write_text(json.dumps(data, indent=2, sort_keys=True))
            tr.write_line(f"statistics written to {self.stats_json}")
