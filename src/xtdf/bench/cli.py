"""One small file through each SDK's ``cli.sh``: ``python -m xtdf.bench.cli [--repeat N]``.

The matrix spends most of its time in SDK processes, one per encrypt or decrypt, so the
figure that matters is the latency of one ``cli.sh`` call on a small file, start-up
included, and how much of it is start-up alone. Every SDK found under ``sdk/*/dist/*``
runs against a platform of our own on free ports (never the suite's fixed ones), each
call is checked (the round trip must give the plaintext back), and the first call of each
kind is a warm-up that is not timed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xtdf.bench import report
from xtdf.harness import platform_env
from xtdf.harness import sdks as sdk_discovery

ROOT = Path(__file__).resolve().parents[3]
PLAINTEXT_BYTES = 1024


class RoundTripError(Exception):
    """An SDK's decrypt did not give back the plaintext."""


def _startup_command(sdk: sdk_discovery.SDK) -> tuple[list[str], str] | None:
    """The cheapest call of the SDK's own program, and what it measures."""
    dist = sdk.path.parent
    if sdk.name == "py":
        mods = (
            "xtdf.client.xtenv, xtdf.cli.command, xtdf.cli.decrypt_cmd, xtdf.client.ztdf, "
            "xtdf.client.platform_client, xtdf.formats.ztdf.reader"
        )
        return (
            [sys.executable, "-c", f"import {mods}"],
            "python start + imports of the decrypt path",
        )
    if sdk.name == "otdf-python" and (dist / "venv/bin/python").exists():
        return (
            [str(dist / "venv/bin/python"), "-m", "otdf_python", "--help"],
            "python -m otdf_python --help",
        )
    if sdk.name == "go" and (dist / "otdfctl").exists():
        return ([str(dist / "otdfctl"), "--version"], "otdfctl --version")
    mjs = dist / "node_modules/@opentdf/cli/bin/opentdf.mjs"
    if sdk.name == "js" and mjs.exists():
        return (["node", str(mjs), "--version"], "node opentdf.mjs --version")
    return None


#: what the reference SDK's start-up is made of: each a separate ``python -c``, so the
#: parts overlap (every line pays the interpreter) and show the floor of a Python CLI here
PY_STARTUP_PARTS = {
    "interpreter": "pass",
    "cryptography + http.client (any client needs them)": (
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM; "
        "from cryptography.hazmat.primitives.asymmetric import rsa, ec, padding; "
        "import http.client"
    ),
}


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _summary(runs_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(runs_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "runs_ms": [round(x, 1) for x in runs_ms],
    }


def _round_trips(
    variants: list[tuple[sdk_discovery.SDK, Path]], repeat: int
) -> list[dict[str, Any]]:
    """Median and p95 of one small ZTDF encrypt and decrypt, each checked, per variant;
    rounds interleave the variants, so a slower spell of the machine falls on all alike."""
    calls = []
    for sdk, work in variants:
        work.mkdir(parents=True, exist_ok=True)
        pt = work / "pt.bin"
        pt.write_bytes(os.urandom(PLAINTEXT_BYTES))
        ct, rt = work / f"{sdk.name}.tdf", work / f"{sdk.name}.out"

        def encrypt(sdk=sdk, pt=pt, ct=ct) -> None:
            sdk.encrypt(pt, ct, container="ztdf")

        def decrypt(sdk=sdk, pt=pt, ct=ct, rt=rt) -> None:
            rt.unlink(missing_ok=True)
            sdk.decrypt(ct, rt, "ztdf")
            if rt.read_bytes() != pt.read_bytes():
                raise RoundTripError(f"{sdk}: decrypt gave back other bytes than were encrypted")

        encrypt()
        decrypt()  # warm-up: first calls fill OS caches and write bytecode
        calls.append((encrypt, decrypt))
    runs: list[dict[str, list[float]]] = [{"encrypt": [], "decrypt": []} for _ in calls]
    for _ in range(repeat):
        for (encrypt, decrypt), times in zip(calls, runs, strict=True):
            times["encrypt"].append(_timed(encrypt))
            times["decrypt"].append(_timed(decrypt))
    return [{verb: _summary(t) for verb, t in times.items()} for times in runs]


#: the Java lane's start-up measure (sdk/java/install.sh): a class data sharing archive
#: beside the jar, which its cli.sh uses when present
JAVA_CDS_ARCHIVE = "cmdline.jsa"


def _without_cds(sdk: sdk_discovery.SDK, work: Path) -> sdk_discovery.SDK | None:
    """The Java lane as installed but for its CDS archive: a copy of its dist directory
    without the archive (the cli.sh looks for it beside itself), or None if it has none."""
    dist = sdk.path.parent
    if sdk.name != "java" or not (dist / JAVA_CDS_ARCHIVE).is_file():
        return None
    copy = work / "without-cds"
    shutil.copytree(dist, copy, symlinks=True)
    (copy / JAVA_CDS_ARCHIVE).unlink()
    return sdk_discovery.SDK(sdk.name, sdk.version, copy / sdk.path.name)


def measure(sdk: sdk_discovery.SDK, repeat: int, work: Path) -> dict[str, Any]:
    """Round trips through the SDK's cli.sh, its start-up alone, and for the Java lane the
    same calls without its start-up measure."""
    bare = _without_cds(sdk, work)
    if bare is None:
        (out,) = _round_trips([(sdk, work)], repeat)
    else:
        out, without = _round_trips([(sdk, work), (bare, work / "bare")], repeat)
        out["without_startup_measure"] = {
            "what": f"the same dist without {JAVA_CDS_ARCHIVE} (no class data sharing)",
            **without,
        }
    start = _startup_command(sdk)
    if start is not None:
        cmd, what = start
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        out["startup_ms"] = round(_median_run_ms(cmd, repeat, env), 1)
        out["startup_measure"] = what
    if sdk.name == "py":
        out["startup_parts_ms"] = {
            name: round(_median_run_ms([sys.executable, "-c", code], repeat), 1)
            for name, code in PY_STARTUP_PARTS.items()
        }
    return out


def _median_run_ms(cmd: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``cmd``, after one untimed run."""

    def run() -> None:
        subprocess.run(cmd, env=env, capture_output=True, check=True)

    run()
    return statistics.median(_timed(run) for _ in range(repeat))


def run(repeat: int = 15, sdks: list[str] | None = None) -> dict[str, Any]:
    """Every discovered SDK (or those named, as ``name`` or ``name@version``)."""
    from xtdf.platform import lifecycle

    found = sdk_discovery.discover(ROOT / "sdk")
    chosen = sdk_discovery.select(found, sdks) if sdks else found
    if not chosen:
        valid = ", ".join(sdk_discovery.valid_names(found)) or "none installed (make sdks)"
        raise ValueError(f"no SDK matches {','.join(sdks or [])}; valid: {valid}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="xtdf-bench-cli-") as tmp:
        state = Path(tmp) / "platform"
        st = platform_env.start_private(state)
        assert st.urls is not None
        variables = platform_env.variables_for(st.urls)
        saved = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        try:
            for sdk in chosen:
                work = Path(tmp) / sdk.id
                work.mkdir()
                try:
                    results[sdk.id] = measure(sdk, repeat, work)
                except (sdk_discovery.SdkError, RoundTripError) as exc:
                    results[sdk.id] = {"error": str(exc).strip().splitlines()[0][:300]}
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            lifecycle.stop(state)
    return {
        "sdks": results,
        "repeat": repeat,
        "plaintext_bytes": PLAINTEXT_BYTES,
        "command": f"python -m xtdf.bench.cli --repeat {repeat}"
        + (f" --sdks {','.join(sdks)}" if sdks else ""),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xtdf.bench.cli", description=__doc__)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--sdks", default="", help="comma-separated names or name@version")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    wanted = [s for s in args.sdks.split(",") if s] or None
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    try:
        result = run(args.repeat, wanted)
    except ValueError as exc:
        p.error(str(exc))
    report.emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
