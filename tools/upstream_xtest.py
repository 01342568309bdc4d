"""Run upstream's own suite (opentdf/tests ``xtest``), unmodified, against xtdf's platform.

Given a checkout of opentdf/tests, this sets up what upstream's CI would (a Python >= 3.12
virtual environment with ``xtest/requirements.txt``, the SDKs under
``xtest/sdk/<name>/dist/<version>/``, the platform with upstream's extra keys and its KAS
certificates in ``PLATFORM_DIR``, the ``test.env`` variables and ``OT_ROOT_KEY``), then runs
each test module with pytest and tabulates the junit results. Nothing in the checkout is
edited: only ``xtest/sdk/*/dist/`` (upstream's build output directory, git-ignored there)
gets entries, and ``xtest/sdk/go/otdfctl`` (where upstream's ``otdfctl.sh`` looks first).

SDKs, by upstream's names: ``go@<v>`` is our Go lane's otdfctl (``make sdks-go``) behind
upstream's own ``sdk/go/cli.sh`` and ``otdfctl.sh``, as upstream's sdk Makefile lays it out;
``js@<v>`` is our JS lane's ``@opentdf/cli`` install behind upstream's ``sdk/js/cli.sh``;
``java@<v>`` is our Java lane (xtdf's CLI on the Java SDK; upstream's java cli.sh needs its
own cmdline.jar), and ``go@xtdf`` is our reference client, each behind our own adapter.

With ``--netns`` every module runs in a network namespace of its own (``unshare --net``)
with a fresh platform on upstream's fixed ports, so nothing else on the machine (another
platform on 8080) is in the way and no module sees another's registrations.

    .venv/bin/python tools/upstream_xtest.py --tests /tmp/upstream-tests --netns
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
XTDF = ROOT / ".venv" / "bin" / "xtdf"


#: the active namespaces of the Go platform's ``provision fixtures`` step, which upstream's CI
#: runs before the suite (opentdf/platform service/internal/fixtures/policy_fixtures.yaml);
#: test_self.py counts them. xtdf's platform starts empty, so the run makes them with otdfctl.
FIXTURE_NAMESPACES = ("example.com", "example.net", "example.org", "scenario.com")


#: the modules upstream's CI runs after starting its additional KASes (alpha..delta on
#: 8181-8484, km1 and km2 on 8585/8686; .github/workflows/xtest.yml): every other module
#: runs against the platform's own KAS alone, and test_tdfs.py's malicious-KAO case relies
#: on that, since it points a key access object at ``http://localhost:8585/malicious/kas``
#: and expects the allowlist, not a KAS there, to refuse it
MULTI_KAS_MODULES = ("test_abac.py",)


class SetupError(Exception):
    """A precondition is missing; the message says which and how to get it."""


# -- the SDKs -------------------------------------------------------------------------------


def _fresh_dir(path: Path) -> Path:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _link(target: Path, link: Path) -> None:
    if not target.exists():
        raise SetupError(f"{target} is missing")
    link.symlink_to(target)


def _link_dist(xtest: Path, name: str, dist: Path) -> str:
    """``xtest/sdk/<name>/dist/<version>`` as a link to one of our lanes, our cli.sh in it."""
    out = xtest / "sdk" / name / "dist" / dist.name
    _fresh_dir(out).rmdir()
    out.symlink_to(dist, target_is_directory=True)
    return f"{name}@{dist.name}"


def populate_sdks(
    xtest: Path, sdk_root: Path = ROOT / "sdk", ours: bool = True, our_adapters: bool = False
) -> list[str]:
    """Lay our installed lanes out as upstream's ``sdk/<name>/dist/<version>``; return
    the SDK ids made. Upstream's own cli.sh drives the Go and JS installs unless
    ``our_adapters``, when every lane keeps our cli.sh."""
    made: list[str] = []
    if our_adapters:
        for name in ("go", "js", "java"):
            for cli in sorted((sdk_root / name / "dist").glob("*/cli.sh")):
                made.append(_link_dist(xtest, name, cli.parent))
    else:
        for dist in sorted((sdk_root / "go" / "dist").glob("*/otdfctl")):
            out = _fresh_dir(xtest / "sdk" / "go" / "dist" / dist.parent.name)
            _link(dist, out / "otdfctl")
            for script in ("cli.sh", "otdfctl.sh"):
                shutil.copy2(xtest / "sdk" / "go" / script, out / script)
            made.append(f"go@{dist.parent.name}")
        for dist in sorted((sdk_root / "js" / "dist").glob("*/node_modules")):
            out = _fresh_dir(xtest / "sdk" / "js" / "dist" / dist.parent.name)
            for name in ("node_modules", "package.json", "package-lock.json"):
                if (dist.parent / name).exists():
                    _link(dist.parent / name, out / name)
            shutil.copy2(xtest / "sdk" / "js" / "cli.sh", out / "cli.sh")
            made.append(f"js@{dist.parent.name}")
        for cli in sorted((sdk_root / "java" / "dist").glob("*/cli.sh")):
            made.append(_link_dist(xtest, "java", cli.parent))
    if ours:
        cli = sdk_root / "py" / "dist" / "main" / "cli.sh"
        if not cli.exists():
            raise SetupError(f"{cli} is missing: run `make sdk-py`")
        out = xtest / "sdk" / "go" / "dist" / "xtdf"
        _fresh_dir(out).rmdir()
        out.symlink_to(cli.parent, target_is_directory=True)
        made.append("go@xtdf")
    heads = sorted((sdk_root / "go" / "dist").glob("*/otdfctl"))
    if not heads:
        raise SetupError(f"no otdfctl under {sdk_root / 'go' / 'dist'}: run `make sdks-go`")
    # upstream's sdk/go/otdfctl.sh runs the otdfctl beside it (else `go run ...@latest`);
    # test_self.py calls it there, not through dist/
    beside = xtest / "sdk" / "go" / "otdfctl"
    if beside.is_symlink() or beside.exists():
        beside.unlink()
    beside.symlink_to(heads[-1])
    return made


def ensure_venv(xtest: Path, venv: Path, python: str) -> Path:
    """A virtual environment with upstream's pinned requirements (it needs Python >= 3.12:
    its conftest uses PEP 695 generics)."""
    py = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = (xtest / "requirements.txt").read_text()
    if py.exists() and stamp.exists() and stamp.read_text() == wanted:
        return py
    check = subprocess.run(
        [python, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"], capture_output=True
    )
    if check.returncode != 0:
        raise SetupError(f"{python} is not Python >= 3.12 (upstream's conftest needs it)")
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(xtest / "requirements.txt")], check=True)
    stamp.write_text(wanted)
    return py


# -- the environment ------------------------------------------------------------------------


def test_env(xtest: Path) -> dict[str, str]:
    """``test.env`` as upstream's scripts see it (sourced by bash, so ``$VAR`` expands)."""
    script = f"set -a; source {shlex.quote(str(xtest / 'test.env'))}; env -0"
    out = subprocess.run(["bash", "-c", script], env={}, capture_output=True, check=True).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k not in ("PWD", "SHLVL", "_", "OLDPWD")}


#: the otdfctl that runs upstream's policy fixtures when installed: the fixtures of that era
#: assign KAS grants with `kas-grants assign`, which otdfctl 0.30.0 turned into a warning
#: that assigns nothing (grants became key mappings), so the newest build would leave
#: test_abac's layout without its grants
POLICY_HEAD = "0.21.0"


def suite_env(xtest: Path, platform_dir: Path) -> dict[str, str]:
    env = {**os.environ, **test_env(xtest)}
    env["PLATFORM_DIR"] = str(platform_dir)
    # upstream's CI workflow sets it (xtest.yml); validate_manifest_schema needs it
    env.setdefault("SCHEMA_FILE", "manifest.schema.json")
    # conftest's policy fixtures use sdk/go/dist/<head>/otdfctl.sh, else sdk/go/otdfctl.sh
    heads = sorted(p.parent.name for p in (xtest / "sdk" / "go" / "dist").glob("*/otdfctl.sh"))
    env["OTDFCTL_HEADS"] = json.dumps([POLICY_HEAD] if POLICY_HEAD in heads else heads[-1:])
    env.pop("PYTHONPATH", None)
    return env


# -- one module -----------------------------------------------------------------------------


@dataclass
class ModuleResult:
    module: str
    collected: int = 0
    passed: int = 0
    failed: int = 0
    errored: int = 0
    skipped: int = 0
    #: first line of each failure or error message -> how many tests ended with it
    causes: Counter[str] = field(default_factory=Counter)
    #: each skip reason -> how many tests skipped with it
    skips: Counter[str] = field(default_factory=Counter)


def read_junit(module: str, path: Path) -> ModuleResult:
    res = ModuleResult(module)
    if not path.exists():
        res.causes["no junit file: pytest did not get to run the module"] += 1
        return res
    for case in ET.parse(path).getroot().iter("testcase"):
        res.collected += 1
        outcome = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            res.passed += 1
            continue
        if outcome.tag == "skipped":
            res.skipped += 1
            res.skips[(outcome.get("message") or "?").strip().splitlines()[0][:200]] += 1
            continue
        if outcome.tag == "failure":
            res.failed += 1
        else:
            res.errored += 1
        message = (outcome.get("message") or outcome.text or "").strip().splitlines()
        res.causes[f"{outcome.tag}: {message[0][:300] if message else '?'}"] += 1
    return res


def module_script(args: argparse.Namespace, module: str, work: Path) -> str:
    """The shell steps for one module: platform up, pytest, platform down."""
    state = work / "state" / module.removesuffix(".py")
    platform_dir = work / "platform-dir"
    junit = work / "results" / f"{module.removesuffix('.py')}.xml"
    log = work / "results" / f"{module.removesuffix('.py')}.log"
    q = shlex.quote
    provision = "sdk/go/otdfctl.sh policy attributes namespaces create --name"
    impl = ["--impl", "go"] if args.impl == "go" else []
    start = [str(XTDF), "platform", "start", *impl, "--state-dir", str(state)]
    start += ["--extra-keys", str(args.xtest / "extra-keys.json")]
    start += ["--platform-dir", str(platform_dir)]
    if module not in MULTI_KAS_MODULES:
        start += ["--kas", "none"]
    # where each platform keeps its root key (the Go stack beside its KAS keys)
    root_key = state / "keys" / "root_key" if args.impl == "go" else state / "root.key"
    pytest = [str(args.venv_python), "-m", "pytest", module, f"--junitxml={junit}", "-q"]
    pytest += args.pytest_args
    lines = [
        "set -u",
        "ip link set lo up 2>/dev/null || true" if args.netns else ":",
        f"rm -rf {q(str(state))}" if args.fresh else ":",
        " ".join(map(q, start)) + f" >{q(str(log))}.platform 2>&1 || exit 90",
        f"export OT_ROOT_KEY=$(cat {q(str(root_key))})",
        f"cd {q(str(args.xtest))} && rm -rf tmp",
        *(f"{provision} {q(ns)} >>{q(str(log))}.platform 2>&1" for ns in FIXTURE_NAMESPACES),
        " ".join(map(q, pytest)) + f" >{q(str(log))} 2>&1; status=$?",
        " ".join(map(q, [str(XTDF), "platform", "stop", *impl, "--state-dir", str(state)]))
        + " >/dev/null 2>&1",
        "exit $status",
    ]
    return "\n".join(lines)


def run_module(args: argparse.Namespace, module: str, env: dict[str, str]) -> ModuleResult:
    work = args.work
    (work / "results").mkdir(parents=True, exist_ok=True)
    script = module_script(args, module, work)
    cmd = (
        ["unshare", "--net", "--fork", "bash", "-c", script]
        if args.netns
        else ["bash", "-c", script]
    )
    done = subprocess.run(cmd, env=env)
    res = read_junit(module, work / "results" / f"{module.removesuffix('.py')}.xml")
    if done.returncode == 90:
        res.causes["the platform did not start (see the .platform log)"] += 1
    return res


# -- the table ------------------------------------------------------------------------------


def table(results: list[ModuleResult]) -> str:
    rows = [
        "| module | collected | passed | failed | errored | skipped |",
        "|---|---|---|---|---|---|",
    ]
    total = ModuleResult("total")
    for r in results:
        rows.append(
            f"| {r.module} | {r.collected} | {r.passed} | {r.failed} | {r.errored} | {r.skipped} |"
        )
        for name in ("collected", "passed", "failed", "errored", "skipped"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    rows.append(
        f"| **total** | {total.collected} | {total.passed} | {total.failed} | "
        f"{total.errored} | {total.skipped} |"
    )
    return "\n".join(rows)


def causes(results: list[ModuleResult], skips: bool = False) -> str:
    out = []
    for r in results:
        for cause, n in (r.skips if skips else r.causes).most_common():
            out.append(f"- {r.module} ({n}): {cause}")
    return "\n".join(out)


def report(results: list[ModuleResult]) -> str:
    return (
        f"{table(results)}\n\nFailures and errors:\n{causes(results)}\n\n"
        f"Skips:\n{causes(results, skips=True)}\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tests", type=Path, required=True, help="a checkout of opentdf/tests")
    p.add_argument(
        "--python",
        default=shutil.which("python3.12") or "python3.12",
        help="Python >= 3.12 for upstream's venv (default: python3.12 on PATH)",
    )
    p.add_argument(
        "--work",
        type=Path,
        help="venv, platform state, PLATFORM_DIR and results (default .xtdf/upstream, "
        ".xtdf/upstream-go with --impl go)",
    )
    p.add_argument(
        "--impl",
        choices=("xtdf", "go"),
        default="xtdf",
        help="the platform each module runs against: xtdf's (default) or OpenTDF's Go "
        "platform (make platform-go), the reference, to tell our differences from the suite's",
    )
    p.add_argument("--netns", action="store_true", help="each module in its own network namespace")
    p.add_argument(
        "--no-fresh",
        dest="fresh",
        action="store_false",
        help="keep each module's platform state from an earlier run",
    )
    p.add_argument(
        "--no-xtdf-client",
        dest="ours",
        action="store_false",
        help="leave our reference client (go@xtdf) out",
    )
    p.add_argument(
        "--our-adapters",
        action="store_true",
        help="every lane behind our own cli.sh (upstream's js cli.sh at 150e3135^ passes "
        "--ignoreAllowList, which @opentdf/cli 2.0.0-beta.1412 rejects)",
    )
    p.add_argument("--setup-only", action="store_true", help="set up, run nothing")
    p.add_argument(
        "--summarize", action="store_true", help="only tabulate the results an earlier run left"
    )
    p.add_argument("modules", nargs="*", help="test modules (default: every test_*.py)")
    p.add_argument("--pytest-args", default="", help="more pytest arguments, one string")
    args = p.parse_args(argv)
    args.pytest_args = shlex.split(args.pytest_args)
    args.xtest = (args.tests / "xtest").resolve()
    if args.work is None:
        args.work = ROOT / ".xtdf" / ("upstream-go" if args.impl == "go" else "upstream")
    args.work = args.work.resolve()
    if args.summarize:
        modules = args.modules or sorted(p.name for p in args.xtest.glob("test_*.py"))
        found = [
            read_junit(m, args.work / "results" / f"{m.removesuffix('.py')}.xml") for m in modules
        ]
        print(report(found))
        return 0
    try:
        if not (args.xtest / "conftest.py").is_file():
            raise SetupError(f"{args.tests} is not a checkout of opentdf/tests (no xtest/)")
        if not XTDF.exists():
            raise SetupError(f"{XTDF} is missing: run `make venv`")
        from filelock import FileLock, Timeout

        lock = FileLock(args.xtest / ".upstream_xtest.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SetupError(
                f"another run is using {args.xtest} (modules share its tmp/): use another checkout"
            ) from None
        sdks = populate_sdks(args.xtest, ours=args.ours, our_adapters=args.our_adapters)
        args.venv_python = ensure_venv(args.xtest, args.work / "venv", args.python)
    except (SetupError, OSError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"upstream_xtest: {exc}\n")
        return 2
    print("SDKs:", " ".join(sdks))
    if args.setup_only:
        return 0
    env = suite_env(args.xtest, args.work / "platform-dir")
    modules = args.modules or sorted(p.name for p in args.xtest.glob("test_*.py"))
    results = []
    for module in modules:
        print(f"== {module}", flush=True)
        results.append(run_module(args, module, env))
        print(table(results[-1:]).splitlines()[2], flush=True)
    text = report(results)
    (args.work / "results" / "summary.md").write_text(text)
    print(text)
    return 0 if all(r.failed == r.errored == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
