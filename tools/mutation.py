"""``make mutation``: mutmut over the security core, one module group at a time.

Each group (the DPoP check, token authentication, the KAS, authorization, the ZTDF
integrity/policy binding, the NanoTDF binding, the harness cache and SDK runner) is mutated
in a scratch copy of the tree of its own, with that group's own fast tests only, so one
group's tests never pay for another's mutants and ``mutants/`` never lands in the tree.
The whole run is bounded (``--budget``, default 1,700 s on two cores): a group that runs out
of its share stops, and its unrun mutants are reported as ``not checked``, never hidden.
The next run resumes there when nothing but the mutated modules changed (``--fresh``
starts over).

Survivors written down as equivalent (the mutant cannot change behaviour) live in
``tools/mutation_equivalent.toml``, each with its reason; they are counted apart.

    .venv/bin/python tools/mutation.py [--groups dpop,nano] [--budget 1700] \
        [--json .xtdf/mutation/results.json] [--write-doc docs/testing.md] [--diffs]

mutmut was picked on measured speed on this 2-core machine (``docs/testing.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.toml"
BEGIN, END = "<!-- mutation:begin -->", "<!-- mutation:end -->"
#: mutmut's words for a mutant's fate, in the order the report shows them
STATUSES = ("killed", "survived", "no tests", "timeout", "suspicious", "not checked")


@dataclass(frozen=True)
class Group:
    name: str
    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    #: share of the budget, by the mutants and test time measured in a first full run
    weight: float


GROUPS = (
    Group(
        "dpop",
        ("src/xtdf/platform/dpop.py",),
        (
            "tests/platform/test_dpop.py",
            "tests/platform/test_server_auth.py",
            "tests/platform/test_kas_rewrap.py",
        ),
        3,
    ),
    Group(
        "auth",
        ("src/xtdf/platform/auth.py",),
        ("tests/platform/test_auth.py", "tests/platform/test_server_auth.py"),
        2,
    ),
    Group(
        "kas",
        ("src/xtdf/platform/kas/*",),
        (
            "tests/platform/test_kas_service.py",
            "tests/platform/test_kas_nano.py",
            "tests/platform/test_kas_unwrap.py",
            "tests/platform/test_kas_srt.py",
            "tests/platform/test_kas_request.py",
            "tests/platform/test_kas_audit.py",
            "tests/platform/test_kas_wiring.py",
            "tests/platform/test_kas_rewrap.py",
            "tests/platform/test_kas_decisions.py",
            "tests/platform/test_kas_limits.py",
            "tests/platform/test_rpc_catalog.py",
        ),
        6,
    ),
    Group(
        "authz",
        ("src/xtdf/platform/authz/*",),
        (
            "tests/platform/test_authz_v1.py",
            "tests/platform/test_authz_conditions.py",
            "tests/platform/test_authz_engine.py",
            "tests/platform/test_authz_entities.py",
            "tests/platform/test_authz_v2.py",
            "tests/platform/test_rpc_catalog.py",
        ),
        2,
    ),
    Group(
        "ztdf",
        (
            "src/xtdf/formats/ztdf/integrity.py",
            "src/xtdf/formats/ztdf/keywrap.py",
            "src/xtdf/formats/ztdf/policy.py",
        ),
        (
            "tests/formats/test_ztdf_integrity.py",
            "tests/formats/test_ztdf_roundtrip.py",
            "tests/formats/test_ztdf_tamper.py",
            "tests/formats/test_ztdf_keywrap.py",
            "tests/formats/test_ztdf_assertions.py",
        ),
        1.5,
    ),
    Group(
        "nano",
        ("src/xtdf/formats/nano/binding.py",),
        ("tests/formats/test_nano_roundtrip.py", "tests/formats/test_nano_tamper.py"),
        0.5,
    ),
    Group(
        "harness",
        ("src/xtdf/harness/cache.py", "src/xtdf/harness/sdks.py"),
        (
            "tests/harness/test_cache_counts.py",
            "tests/harness/test_cache_accounting.py",
            "tests/harness/test_cache.py",
            "tests/harness/test_cache_edges.py",
            "tests/harness/test_cache_key_options.py",
            "tests/harness/test_sdk_runs.py",
            "tests/harness/test_sdk_contract.py",
        ),
        3,
    ),
)


def module_of(mutant: str) -> str:
    """``xtdf.platform.kas.srt.x_parse__mutmut_3`` -> ``xtdf.platform.kas.srt`` (mutmut
    names a function ``x_<name>`` and a method ``xǁ<Class>ǁ<name>``)."""
    return re.split(r"\.x_|\.x\u01c1", mutant, maxsplit=1)[0]


def parse_results(text: str) -> dict[str, str]:
    """``mutmut results --all true``: one ``<mutant>: <status>`` per line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            out[name] = status
    return out


def load_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """The survivors written down as equivalent: ``mutant name -> reason``."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text())
    return {str(k): str(v) for k, v in data.get("equivalent", {}).items()}


def tally(results: dict[str, str], equivalent: dict[str, str]) -> dict[str, Counter[str]]:
    """Per module: how many mutants met each fate; a survivor written down as equivalent is
    counted as ``equivalent``, not as ``survived``."""
    per: dict[str, Counter[str]] = {}
    for name, status in sorted(results.items()):
        fate = "equivalent" if status == "survived" and name in equivalent else status
        per.setdefault(module_of(name), Counter())[fate] += 1
    return per


def misfiled(results: dict[str, str], equivalent: dict[str, str]) -> list[str]:
    """Mutants written down as equivalent that a test now kills: the reason was wrong, or a
    new test proved the mutant observable; either way the entry goes."""
    return sorted(n for n in equivalent if results.get(n) in ("killed", "timeout"))


#: top-level folders no test of a group reads: writing the table into docs/testing.md must
#: not make the next run start over (it did, so no run ever resumed)
_NOT_READ = ("docs", "bench", "tools", ".ci", ".github")


def verdict_inputs(group: Group, files: list[Path]) -> list[Path]:
    """Of the tree's files (relative paths), those a verdict of ``group`` can depend on:
    the sources, the group's own test modules and every test helper or conftest, the SDK
    adapters and the project configuration; not the prose, the benchmarks' output, the
    tools, nor another group's test modules (mutmut never runs those here)."""
    own = [Path(t) for t in group.tests]

    def read(rel: Path) -> bool:
        if rel.suffix == ".md" or rel.parts[0] in _NOT_READ:
            return False
        if rel.parts[0] == "tests" and rel.name.startswith("test_"):
            return any(rel == t or t in rel.parents for t in own)
        return True

    return sorted(rel for rel in files if read(rel))


#: mutmut's exit codes of a killed mutant (mutmut.stats.status_by_exit_code)
KILLED_CODES = (1, 3)


def keep_only_killed(mutants: Path) -> int:
    """Forget every verdict in ``mutants`` but "killed", and the test coverage map, so the
    next run checks survivors, timeouts and the rest again, with new tests mapped; returns
    how many verdicts were forgotten. Sound when tests were only added or strengthened: a
    killed mutant stays killed, while any other verdict could change."""
    forgotten = 0
    for meta in sorted(mutants.rglob("*.meta")):
        data = json.loads(meta.read_text())
        codes = data.get("exit_code_by_key", {})
        for name, code in codes.items():
            if code is not None and code not in KILLED_CODES:
                codes[name] = None
                forgotten += 1
        meta.write_text(json.dumps(data))
    (mutants / "mutmut-stats.json").unlink(missing_ok=True)
    return forgotten


def _scratch(group: Group, work: Path, fresh: bool, keep_killed: bool = False) -> tuple[Path, bool]:
    """A copy of the tree as git sees it (tracked and untracked files, not the ignored ones)
    plus the generated protobuf modules, with this group's mutmut configuration; and whether
    the last run's verdicts were kept.

    They are kept (so a run picks up where the budget stopped the last one) only when none
    of the other files a verdict depends on (``verdict_inputs``) changed since: mutmut
    itself re-tests the functions of the mutated modules that changed, while a change to
    one of the group's tests or to any other module could turn a verdict, so it starts the
    group afresh."""
    dest = work / group.name
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    files = [ROOT / os.fsdecode(raw) for raw in filter(None, listed)]
    files = [f for f in files if f.is_file() and not f.is_symlink()]
    files += sorted(p for p in (ROOT / "src/xtdf/_proto").rglob("*.py"))
    config = {
        "source_paths": ["src"],
        "only_mutate": list(group.mutate),
        "pytest_add_cli_args_test_selection": list(group.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:xdist", "-q"],
        "also_copy": ["src/xtdf/_proto"],
        # each mutant forks from a process that has only collected the tests: forked from
        # mutmut's main process (which ran them all once) a function behind functools'
        # lru_cache answers from the cache and its mutants survive falsely (measured on
        # dpop._origin: "survived" under fork, killed under forkserver and when run alone)
        "process_isolation": "forkserver",
    }
    mutated = {p for pattern in group.mutate for p in ROOT.glob(pattern)}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    inputs = verdict_inputs(group, [f.relative_to(ROOT) for f in set(files) - mutated])
    for rel in inputs:
        digest.update(f"{rel}\0".encode() + hashlib.sha256((ROOT / rel).read_bytes()).digest())
    stamp = dest / ".xtdf-mutation-inputs"
    kept = not fresh and stamp.is_file() and stamp.read_text() == digest.hexdigest()
    if not kept and keep_killed and not fresh and (dest / "mutants").is_dir():
        keep_only_killed(dest / "mutants")
        kept = True
    if kept:
        for child in dest.iterdir():
            if child.name not in ("mutants", stamp.name):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    else:
        shutil.rmtree(dest, ignore_errors=True)
    for src in files:
        (dest / src.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.relative_to(ROOT))
    lines = ["", "[tool.mutmut]", *(f"{k} = {json.dumps(v)}" for k, v in config.items())]
    with open(dest / "pyproject.toml", "a") as fh:
        fh.write("\n".join(lines) + "\n")
    stamp.write_text(digest.hexdigest())
    return dest, kept


def recorded(scratch: Path) -> dict[str, str]:
    """The verdicts mutmut has on record in a group's scratch copy."""
    listing = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=scratch,
        capture_output=True,
        text=True,
    )
    return parse_results(listing.stdout)


def run_group(
    group: Group,
    work: Path,
    budget: float,
    children: int,
    fresh: bool = False,
    keep_killed: bool = False,
) -> dict[str, object]:
    """mutmut run in the group's scratch copy for at most ``budget`` seconds, then its
    results (read even after a stop: mutmut records each mutant as it finishes)."""
    scratch, resumed = _scratch(group, work, fresh, keep_killed)
    log = work / f"{group.name}.log"
    start = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [str(MUTMUT), "run", "--max-children", str(children)],
            cwd=scratch,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=budget)
            stopped = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            stopped = True
    seconds = time.monotonic() - start
    results = recorded(scratch)
    if not stopped and (proc.returncode != 0 or not results):
        # e.g. "failed to collect stats": a selected test fails against the unmutated copy
        tail = log.read_text(errors="replace").splitlines()[-3:]
        lines = [line.rsplit("\r", 1)[-1].strip() for line in tail]
        raise RuntimeError(
            f"mutmut exited {proc.returncode} ({log}): " + " | ".join(filter(None, lines))
        )
    return {
        "seconds": round(seconds, 1),
        "stopped_at_budget": stopped,
        "resumed": resumed,
        "budget": round(budget, 1),
        "results": results,
        "scratch": str(scratch),
    }


def diffs(scratch: Path, names: list[str]) -> dict[str, str]:
    """``mutmut show`` of each mutant: what the survivor changed."""
    out = {}
    for name in names:
        shown = subprocess.run(
            [str(MUTMUT), "show", name], cwd=scratch, capture_output=True, text=True
        )
        out[name] = shown.stdout.strip()
    return out


def table(per: dict[str, Counter[str]]) -> str:
    cols = ("killed", "survived", "equivalent", "no tests", "timeout", "not checked")
    rows = [
        "| module | mutants | " + " | ".join(cols) + " | killed share |",
        "|---|---|" + "---|" * len(cols) + "---|",
    ]
    total: Counter[str] = Counter()
    for module, counts in sorted(per.items()):
        total.update(counts)
        rows.append(_row(module, counts, cols))
    rows.append(_row("**all**", total, cols))
    return "\n".join(rows)


def _row(module: str, counts: Counter[str], cols: tuple[str, ...]) -> str:
    n = sum(counts.values())
    checked = n - counts["not checked"]
    share = f"{counts['killed'] / checked:.0%}" if checked else "-"
    cells = " | ".join(str(counts[c]) for c in cols)
    return f"| {module} | {n} | {cells} | {share} |"


def write_doc(doc: Path, text: str) -> None:
    """Replace the text between the mutation markers of ``doc`` (the rest is hand-written)."""
    body = doc.read_text()
    if BEGIN not in body or END not in body:
        raise RuntimeError(f"{doc} has no {BEGIN} ... {END} markers")
    head, rest = body.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tools/mutation.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--groups", default=",".join(g.name for g in GROUPS), help="comma-separated")
    p.add_argument("--budget", type=float, default=1700.0, help="seconds for the whole run")
    p.add_argument("--children", type=int, default=os.cpu_count() or 2, help="mutmut workers")
    p.add_argument("--work", type=Path, default=ROOT / ".xtdf" / "mutation")
    p.add_argument("--json", type=Path, help="results here (default <work>/results.json)")
    p.add_argument("--write-doc", type=Path, help="put the table in this file's markers")
    p.add_argument("--diffs", action="store_true", help="record each survivor's diff too")
    p.add_argument(
        "--fresh", action="store_true", help="forget the last run's verdicts (kept otherwise)"
    )
    p.add_argument(
        "--keep-killed",
        action="store_true",
        help="after tests were only added or strengthened: keep the killed verdicts, check "
        "the rest again (otherwise any change to a test or another module starts afresh)",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="tabulate the verdicts on record in each group's scratch copy (from earlier "
        "runs, perhaps of other groups), running nothing",
    )
    args = p.parse_args(argv)
    if args.keep_killed and args.fresh:
        p.error("--keep-killed and --fresh contradict each other")
    if args.report_only and (args.keep_killed or args.fresh):
        p.error("--report-only runs nothing: it takes neither --fresh nor --keep-killed")
    by_name = {g.name: g for g in GROUPS}
    wanted = [n.strip() for n in args.groups.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by_name]
    if unknown or not wanted:
        p.error(f"--groups: unknown {unknown or '[]'}; valid: {', '.join(by_name)}")
    if args.budget <= 0:
        p.error("--budget must be positive")
    if not MUTMUT.is_file():
        print(f"tools/mutation.py: {MUTMUT} missing: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    if not (ROOT / "src/xtdf/_proto").is_dir():
        print("tools/mutation.py: src/xtdf/_proto missing: make venv", file=sys.stderr)
        return 2
    groups = [by_name[n] for n in wanted]
    args.work.mkdir(parents=True, exist_ok=True)
    equivalent = load_equivalent()
    deadline = time.monotonic() + args.budget
    runs: dict[str, dict[str, object]] = {}
    for i, group in enumerate(groups):
        left = deadline - time.monotonic()
        weights = sum(g.weight for g in groups[i:])
        budget = max(left * group.weight / weights, 1.0)
        if not args.report_only:
            print(f"[{time.strftime('%H:%M:%S')}] {group.name}: up to {budget:.0f} s", flush=True)
        else:
            scratch = args.work / group.name
            if not scratch.is_dir():
                print(f"tools/mutation.py: no run of group {group.name} on record", file=sys.stderr)
                return 1
            runs[group.name] = {
                "seconds": 0.0,
                "stopped_at_budget": False,
                "resumed": True,
                "budget": 0.0,
                "results": recorded(scratch),
                "scratch": str(scratch),
            }
            continue
        try:
            runs[group.name] = run_group(
                group, args.work, budget, args.children, args.fresh, args.keep_killed
            )
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            print(f"tools/mutation.py: group {group.name}: {exc}", file=sys.stderr)
            return 1
    results = {k: v for run in runs.values() for k, v in run["results"].items()}  # type: ignore[attr-defined]
    per = tally(results, equivalent)
    survivors = sorted(n for n, s in results.items() if s == "survived" and n not in equivalent)
    out = {
        "groups": {
            name: {k: v for k, v in run.items() if k != "results"} for name, run in runs.items()
        },
        "modules": {m: dict(c) for m, c in per.items()},
        "survivors": survivors,
        "stale_equivalent": sorted(set(equivalent) - set(results)),
        "killed_equivalent": misfiled(results, equivalent),
    }
    if args.diffs:
        out["survivor_diffs"] = {
            name: d
            for run in runs.values()
            for name, d in diffs(
                Path(str(run["scratch"])),
                [s for s in survivors if s in run["results"]],  # type: ignore[operator]
            ).items()
        }
    dest = args.json or args.work / "results.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    text = table(per)
    seconds = ", ".join(
        f"{n} {r['seconds']} s"
        + (" (resumed)" if r["resumed"] else "")
        + (" (killed verdicts kept)" if args.keep_killed and r["resumed"] else "")
        + (" (budget reached)" if r["stopped_at_budget"] else "")
        for n, r in runs.items()
    )
    print(text)
    ran = "verdicts on record" if args.report_only else seconds
    print(f"\n{ran}; {len(survivors)} survivors not written down; results in {dest}")
    for name in out["killed_equivalent"]:
        print(f"written down as equivalent but killed (remove it): {name}")
    if args.write_doc:
        stamp = time.strftime("%Y-%m-%d")
        head = (
            f"Verdicts on record on {stamp} (`tools/mutation.py --report-only`): each group "
            "as its last run left it."
            if args.report_only
            else f"Run of {stamp}: `make mutation` (mutmut, {args.children} workers, budget "
            f"{args.budget:.0f} s). Time per group: {seconds}."
        )
        write_doc(args.write_doc, f"{head}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
