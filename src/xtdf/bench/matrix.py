"""The whole matrix, timed: ``python -m xtdf.bench.matrix [--workers 0,2,4,auto]``.

Each run is a real ``pytest`` in ``xtest/`` (a child process, so ``RUSAGE_CHILDREN`` gives
the CPU of pytest, its workers and every SDK process they waited for). The platform is
started once beforehand and shared by every run, so no run pays for its start-up and its
CPU is read from ``/proc`` around each run. Runs, in order:

* ``cold -n W`` for each worker count: cache cleared first; wall, CPU, encryptions and
  distinct cache keys (from the plugin's ``--stats-json``), ratios to ``-n 0``;
* ``warm -n auto``: the persistent cache left by the cold ``-n auto`` run;
* ``no-cache -n auto``: ``--no-tdf-cache``, every worker encrypting for itself (upstream).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from xtdf.bench import procstat
from xtdf.harness import platform_env

ROOT = Path(__file__).resolve().parents[3]
XTEST = ROOT / "xtest"
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?)\b")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _platform_pid(state_dir: Path, impl: str) -> int | None:
    """The platform server's process (for the Go stack its main server, not the extra KAS
    instances or PostgreSQL), whose CPU each run reads from ``/proc``."""
    if impl == "go":
        from xtdf.harness import go_platform

        return go_platform.server_pids(platform_env.go_state_dir(state_dir)).get("platform")
    from xtdf.platform import lifecycle

    return lifecycle.status(state_dir).pid


def by_sdk(spent: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """``sdk:<verb>:<sdk>`` timings regrouped as {sdk: {verb: calls, seconds, mean_ms}}."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for activity, seconds in spent.get("seconds", {}).items():
        kind, _, rest = activity.partition(":")
        verb, _, sdk = rest.partition(":")
        if kind != "sdk" or not sdk:
            continue
        calls = spent.get("calls", {}).get(activity, 0)
        out.setdefault(sdk, {})[verb] = {
            "calls": calls,
            "seconds": round(seconds, 2),
            "mean_ms": round(1000 * seconds / calls, 1) if calls else 0.0,
        }
    return dict(sorted(out.items()))


def run_once(
    label: str,
    workers: str,
    cache_dir: Path,
    out_dir: Path,
    *,
    clear: bool = False,
    no_cache: bool = False,
    pytest_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    platform_pid: int | None = None,
) -> dict[str, Any]:
    stats = out_dir / f"stats-{label}.json"
    log = out_dir / f"log-{label}.txt"
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", workers, f"--stats-json={stats}"]
    cmd.append("--no-tdf-cache" if no_cache else f"--tdf-cache-dir={cache_dir}")
    if clear:
        cmd.append("--tdf-cache-clear")
    cmd.extend(pytest_args)
    cpu0, pcpu0 = _children_cpu(), procstat.cpu_seconds(platform_pid)
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=XTEST, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    cpu, pcpu = _children_cpu() - cpu0, procstat.cpu_seconds(platform_pid) - pcpu0
    if proc.returncode not in (0, 1):  # 1: some test failed, still a measurement
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"matrix run {label} exited {proc.returncode}:\n{tail}")
    lines = log.read_text().strip().splitlines()
    # pytest's summary line; the suite may print its report's path after it
    tail = next((line for line in reversed(lines) if SUMMARY.search(line)), "")
    # a failure in a measured run is kept by name: the log goes with the temp directory
    failures = [line[len("FAILED ") :][:300] for line in lines if line.startswith("FAILED ")]
    outcomes: dict[str, int] = {}
    for m in SUMMARY.finditer(tail):
        outcomes["error" if m[2].startswith("error") else m[2]] = int(m[1])
    data = json.loads(stats.read_text())
    total = data["cache"]["total"]
    spent = data.get("time", {})
    # measured against this process's wall, so pytest's own start-up counts as harness
    workers_n = spent.get("workers", 1)
    inside = spent.get("sdk_seconds", 0.0) + spent.get("platform_seconds", 0.0)
    return {
        "label": label,
        "workers": workers,
        "command": " ".join(["pytest", *cmd[3:]]),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "platform_cpu_seconds": round(pcpu, 2),
        "outcomes": outcomes,
        "failures": failures,
        "exit_code": proc.returncode,
        "encryptions": total.get("produced", 0),
        "failed_encryptions": total.get("failures", 0),
        "distinct_keys": total.get("distinct_keys", 0),
        "encryptions_per_key": total.get("encryptions_per_key"),
        "hits": total.get("hits", 0),
        "by_worker": {
            w: {k: v.get(k, 0) for k in ("hits", "other_reused", "misses", "waits", "produced")}
            for w, v in sorted(data["cache"]["workers"].items())
        },
        "waits": total.get("waits", 0),
        "wait_seconds": round(
            sum(w.get("wait_seconds", 0.0) for w in data["cache"]["workers"].values()), 2
        ),
        "time": spent,
        "sdk_time": by_sdk(spent),
        "overhead_share": round(1 - inside / (workers_n * wall), 4),
    }


def run(
    workers: list[str] | None = None,
    *,
    warm: bool = True,
    no_cache: bool = True,
    pytest_args: tuple[str, ...] = (),
    out_dir: Path | None = None,
    log: Any = None,
    impl: str = "xtdf",
) -> dict[str, Any]:
    """Run the matrix at each worker count (cold), then warm and without cache at -n auto,
    against ``impl``'s platform (ours, or OpenTDF's Go platform from ``make platform-go``)."""
    workers = workers or ["0", "2", "4", "auto"]
    say = log or (lambda msg: None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KASURL"))}
    env.pop("PLATFORMURL", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as `make xtest` runs it (see the Makefile)
    env[platform_env.PLATFORM_ENV] = impl
    state_dir = Path(env.setdefault("XTDF_STATE_DIR", str(ROOT / ".xtdf" / "platform")))
    run_id = f"bench-{uuid.uuid4().hex}"
    start = time.perf_counter()
    platform = platform_env.resolve(state_dir, run_id, impl)
    platform_start = time.perf_counter() - start
    pid = _platform_pid(state_dir, impl)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="xtdf-bench-matrix-") as tmp:
        work = Path(out_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        cache = Path(tmp) / "cache"
        kw = {"pytest_args": pytest_args, "env": env, "platform_pid": pid}
        try:
            for w in workers:
                say(f"matrix: cold -n {w}")
                runs.append(run_once(f"cold-n{w}", w, cache, work, clear=True, **kw))
            last = workers[-1]
            if warm:
                say(f"matrix: warm -n {last}")
                runs.append(run_once(f"warm-n{last}", last, cache, work, **kw))
            if no_cache:
                say(f"matrix: no cache -n {last}")
                runs.append(run_once(f"nocache-n{last}", last, cache, work, no_cache=True, **kw))
        finally:
            if platform.started_here:
                platform_env.stop_if_ours(state_dir, run_id)
    base = next((r for r in runs if r["label"] == "cold-n0"), None)
    for r in runs:
        if base:
            r["wall_ratio_to_n0"] = round(r["wall_seconds"] / base["wall_seconds"], 3)
            r["cpu_ratio_to_n0"] = round(r["cpu_seconds"] / base["cpu_seconds"], 3)
    by = {r["label"]: r for r in runs}
    cold_last = by.get(f"cold-n{workers[-1]}")
    summary: dict[str, Any] = {"impl": impl, "platform_start_seconds": round(platform_start, 2)}
    if cold_last and f"warm-n{workers[-1]}" in by:
        summary["warm_wall_ratio"] = round(
            by[f"warm-n{workers[-1]}"]["wall_seconds"] / cold_last["wall_seconds"], 3
        )
    if cold_last and f"nocache-n{workers[-1]}" in by:
        nc = by[f"nocache-n{workers[-1]}"]
        summary["cache_gain_wall_ratio"] = round(cold_last["wall_seconds"] / nc["wall_seconds"], 3)
        summary["nocache_encryptions_per_key"] = nc["encryptions_per_key"]
    return {"runs": runs, "summary": summary}


def table(result: dict[str, Any]) -> str:
    head = (
        "| run | wall s | ratio to -n 0 | CPU s | platform CPU s | encryptions / keys "
        "| waits | passed | skipped | xfailed | failed | harness overhead |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in result["runs"]:
        o = r["outcomes"]
        share = r["overhead_share"]
        rows.append(
            f"| {r['label']} | {r['wall_seconds']:.1f} | {r.get('wall_ratio_to_n0', '-')} "
            f"| {r['cpu_seconds']:.1f} | {r['platform_cpu_seconds']:.1f} "
            f"| {r['encryptions']} / {r['distinct_keys']} = {r['encryptions_per_key']} "
            f"| {r['waits']} | {o.get('passed', 0)} | {o.get('skipped', 0)} "
            f"| {o.get('xfailed', 0)} | {o.get('failed', 0) + o.get('error', 0)} "
            f"| {'-' if share is None else f'{share:.1%}'} |"
        )
    return head + "\n".join(rows) + "\n"


def parse_workers(text: str) -> list[str]:
    """Comma-separated ``-n`` values; ValueError names the ones that are not."""
    workers = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in workers if not (w.isdigit() or w in ("auto", "logical"))]
    if not workers or bad:
        raise ValueError(f"expected -n values (whole numbers, auto, logical), got {bad or '[]'}")
    return workers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xtdf.bench.matrix", description=__doc__)
    p.add_argument("--workers", default="0,2,4,auto", help="comma-separated -n values")
    p.add_argument("--no-warm", action="store_true", help="skip the warm rerun")
    p.add_argument("--no-nocache", action="store_true", help="skip the run without cache")
    p.add_argument("--platform", choices=platform_env.IMPLS, default="xtdf", help="whose")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = p.parse_args(argv)
    try:
        workers = parse_workers(args.workers)
    except ValueError as exc:
        p.error(f"--workers: {exc}")
    try:
        result = run(
            workers,
            warm=not args.no_warm,
            no_cache=not args.no_nocache,
            pytest_args=tuple(args.pytest_args),
            impl=args.platform,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except (RuntimeError, platform_env.PlatformUnavailable) as exc:  # could not run at all
        print(f"xtdf.bench.matrix: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
