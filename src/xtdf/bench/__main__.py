"""``make bench``: every measurement of issue 6 in one sitting, written to ``bench/results.*``.

``python -m xtdf.bench [--out bench] [--quick] [--only matrix,matrix-go,cli,kas,kas-go,formats]
[--matrix-workers 0,2,4,auto]``

Sections run one after the other on an otherwise idle machine (they would disturb each
other): the full matrix at several worker counts (``xtdf.bench.matrix``), the same matrix
cold against OpenTDF's Go platform when built (``matrix-go``), per-SDK
``cli.sh`` latency (``xtdf.bench.cli``), KAS rewrap throughput (``xtdf.bench.kas``), the
same against OpenTDF's Go platform when built (``kas-go``) and
ZTDF throughput (``xtdf.bench.formats``). ``--quick`` shrinks each to a smoke run that
proves the pipeline works; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xtdf.bench import report
from xtdf.errors import XtdfError
from xtdf.harness.platform_env import PlatformUnavailable

SECTIONS = ("matrix", "matrix-go", "cli", "kas", "kas-go", "formats")
#: the quick matrix: the reference SDK's ztdf round trips only
QUICK_MATRIX = ("test_tdfs.py", "-k", "roundtrip", "--sdks=py", "--containers=ztdf")


#: ``--matrix-workers``: the cold runs of the matrix section (the last one also warm and
#: without the cache, and the worker count of the Go platform's run)
MATRIX_WORKERS = ("0", "2", "4", "auto")


@dataclass(frozen=True)
class Options:
    """What every section is run with: ``quick`` shrinks it to a smoke run."""

    quick: bool = False
    matrix_workers: tuple[str, ...] = MATRIX_WORKERS


def _matrix(opts: Options) -> dict[str, Any]:
    from xtdf.bench import matrix

    if opts.quick:
        return matrix.run(["0", "2"], pytest_args=QUICK_MATRIX, log=_say)
    return matrix.run(list(opts.matrix_workers), log=_say)


def _matrix_go(opts: Options) -> dict[str, Any]:
    """The whole matrix cold against OpenTDF's Go platform, at the last worker count of the
    ``matrix`` section, so the two cold walls come from one sitting; a note when not built."""
    from xtdf.bench import matrix
    from xtdf.harness.go_platform import Installation

    try:
        Installation.find()
    except XtdfError as exc:
        return {"skipped": str(exc)}
    if opts.quick:
        return matrix.run(
            ["2"], warm=False, no_cache=False, pytest_args=QUICK_MATRIX, log=_say, impl="go"
        )
    return matrix.run(
        list(opts.matrix_workers[-1:]), warm=False, no_cache=False, log=_say, impl="go"
    )


def _cli(opts: Options) -> dict[str, Any]:
    from xtdf.bench import cli

    if opts.quick:
        return cli.run(repeat=2, sdks=["py"])
    return cli.run(repeat=15)


def _kas(opts: Options) -> dict[str, Any]:
    from xtdf.bench import kas

    if opts.quick:
        return kas.run(clients=[1, 2], requests=40)
    return kas.run(clients=[1, 8, 32])


def _kas_go(opts: Options) -> dict[str, Any]:
    """The same rewrap load against OpenTDF's Go platform (``make platform-go``), right
    after ours, so the two figures come from one sitting; a note when it is not built."""
    from xtdf.bench import kas
    from xtdf.harness.go_platform import Installation

    try:
        Installation.find()
    except XtdfError as exc:
        return {"skipped": str(exc)}
    if opts.quick:
        return kas.run(clients=[1, 2], requests=40, impl="go")
    return kas.run(clients=[1, 8, 32], impl="go")


def _formats(opts: Options) -> dict[str, Any]:
    from xtdf.bench import formats
    from xtdf.formats.ztdf import DEFAULT_SEGMENT_SIZE

    size = 4 * formats.MIB if opts.quick else formats.DEFAULT_SIZE_MIB * formats.MIB
    return formats.run_placements(size, DEFAULT_SEGMENT_SIZE, repeat=1 if opts.quick else 3)


RUNNERS: dict[str, Callable[[Options], dict[str, Any]]] = {
    "matrix": _matrix,
    "matrix-go": _matrix_go,
    "cli": _cli,
    "kas": _kas,
    "kas-go": _kas_go,
    "formats": _formats,
}


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _render(source: Path, out: Path) -> int:
    try:
        results = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        _say(f"cannot read {source}: {exc}")
        return 2
    results["targets"] = report.targets(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    _say(f"wrote {out / 'results.md'} from {source}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xtdf.bench", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("bench"), help="where results.* go")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny inputs")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: write results.md again from this results.json (same figures, "
        "the current report's verdicts and notes)",
    )
    p.add_argument(
        "--matrix-workers",
        default=",".join(MATRIX_WORKERS),
        help="-n values of the cold matrix runs (default 0,2,4,auto); the last is also run "
        "warm, without the cache, and on the Go platform",
    )
    args = p.parse_args(argv)
    from xtdf.bench.matrix import parse_workers

    try:
        opts = Options(args.quick, tuple(parse_workers(args.matrix_workers)))
    except ValueError as exc:
        p.error(f"--matrix-workers: {exc}")
    if args.render:
        return _render(args.render, args.out)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTIONS)}")
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": report.machine(),
        "python": platform.python_version(),
        "command": "python -m xtdf.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    for name in wanted:
        _say(f"section {name}")
        start = time.perf_counter()
        try:
            results[name] = RUNNERS[name](opts)
        except (RuntimeError, ValueError, XtdfError, PlatformUnavailable) as exc:
            _say(f"section {name} failed, nothing written: {exc}")
            return 1
        results[name]["section_seconds"] = round(time.perf_counter() - start, 1)
    results["targets"] = report.targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(report.markdown(results))
    _say(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    sys.stdout.write(report.markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
