"""ZTDF throughput and peak memory: ``python -m xtdf.bench.formats [--size-mib N]``.

Each direction runs in a fresh child process so that its peak RSS (``ru_maxrss`` from
``wait4``) is its own; the child times only the encrypt or decrypt call. A plain file
copy with the same buffer size runs first as the machine's I/O ceiling: on virtual
machines, writing fresh page-cache pages can cost more than all of the crypto, so the
report also gives each child's user and system CPU time. Targets: >= 500 MiB/s each way
on one core, peak RSS <= 150 MiB, for a 1 GiB payload.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
DEFAULT_SIZE_MIB = 1024


def _make_input(path: Path, size: int) -> None:
    """Incompressible-looking data without paying for urandom on every byte."""
    block = os.urandom(4 * MIB)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n


def _child(args: argparse.Namespace) -> int:
    from xtdf.crypto.keys import load_private_pem
    from xtdf.formats import ztdf

    key = load_private_pem(Path(args.key).read_bytes())
    start = time.perf_counter()
    if args.child == "copy":  # the I/O ceiling: same buffers, no crypto, no zip
        buf = memoryview(bytearray(args.segment_size))
        with open(args.src, "rb") as fi, open(args.dst, "wb") as fo:
            while n := fi.readinto(buf):
                fo.write(buf[:n])
    elif args.child == "encrypt":
        ztdf.encrypt(
            args.src,
            args.dst,
            key_access=[ztdf.KeyAccessTarget("http://localhost/kas", key.public_key(), "r1")],
            segment_size=args.segment_size,
        )
    else:
        ztdf.decrypt(args.src, args.dst, unwrapper=ztdf.OfflineUnwrapper({"r1": key}))
    elapsed = time.perf_counter() - start
    sys.stdout.write(json.dumps({"seconds": elapsed}) + "\n")
    return 0


def _run_child(
    direction: str, src: Path, dst: Path, key: Path, segment_size: int
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "xtdf.bench.formats",
        "--child",
        direction,
        "--src",
        str(src),
        "--dst",
        str(dst),
        "--key",
        str(key),
        "--segment-size",
        str(segment_size),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"xtdf.bench.formats: {direction} child failed ({proc.returncode})")
    result = json.loads(out)
    result["max_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["user_s"] = usage.ru_utime
    result["sys_s"] = usage.ru_stime
    return result


def run(
    size: int, segment_size: int, workdir: Path | None = None, repeat: int = 1
) -> dict[str, Any]:
    """Encrypt then decrypt ``size`` bytes ``repeat`` times; report each direction's fastest
    run (MiB/s), and its peak RSS over all runs."""
    from xtdf.crypto import rsa
    from xtdf.crypto.keys import private_pem

    with tempfile.TemporaryDirectory(prefix="xtdf-bench-", dir=workdir) as tmp:
        d = Path(tmp)
        plain, tdf, back, key = d / "plain.bin", d / "cipher.tdf", d / "back.bin", d / "key.pem"
        key.write_text(private_pem(rsa.generate(2048)))
        _make_input(plain, size)
        report: dict[str, Any] = {
            "size_mib": size / MIB,
            "segment_size": segment_size,
            "repeat": repeat,
        }
        runs: dict[str, list[dict[str, Any]]] = {"copy": [], "encrypt": [], "decrypt": []}
        for _ in range(max(1, repeat)):
            for direction, src, dst in (
                ("copy", plain, d / "copy.bin"),
                ("encrypt", plain, tdf),
                ("decrypt", tdf, back),
            ):
                os.sync()  # start each phase without the previous phase's dirty pages
                r = _run_child(direction, src, dst, key, segment_size)
                r["mib_per_s"] = (size / MIB) / r["seconds"] if r["seconds"] else float("inf")
                runs[direction].append(r)
        for direction, results in runs.items():
            best = dict(max(results, key=lambda r: r["mib_per_s"]))
            best["max_rss_mib"] = max(r["max_rss_mib"] for r in results)
            best["all_mib_per_s"] = [round(r["mib_per_s"], 1) for r in results]
            report[direction] = best
        if back.stat().st_size != size:
            raise SystemExit("xtdf.bench.formats: round trip changed the size")
    return report


#: where the files can live: memory (tmpfs) isolates the format's own speed; the disk run
#: shows what a user of this machine gets, bounded by the plain copy beside it
MEMORY_DIR = Path("/dev/shm")


def run_placements(size: int, segment_size: int, repeat: int = 1) -> dict[str, Any]:
    """:func:`run` in memory (when a tmpfs has room for the three files) and on disk."""
    places: dict[str, Path | None] = {}
    if MEMORY_DIR.is_dir():
        free = shutil.disk_usage(MEMORY_DIR).free
        if free > 3 * size + 64 * MIB:
            places[f"memory ({MEMORY_DIR})"] = MEMORY_DIR
    places[f"disk ({tempfile.gettempdir()})"] = None
    runs = {name: run(size, segment_size, where, repeat) for name, where in places.items()}
    return {"size_mib": size / MIB, "segment_size": segment_size, "placements": runs}


def main(argv: list[str] | None = None) -> int:
    from xtdf.formats.ztdf import DEFAULT_SEGMENT_SIZE

    p = argparse.ArgumentParser(prog="python -m xtdf.bench.formats", description=__doc__)
    p.add_argument("--size-mib", type=float, default=DEFAULT_SIZE_MIB, help="payload size")
    p.add_argument("--segment-size", type=int, default=DEFAULT_SEGMENT_SIZE)
    p.add_argument("--dir", type=Path, default=None, help="where to put the temp files")
    p.add_argument("--repeat", type=int, default=1, help="runs per direction; best is kept")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--child", choices=("copy", "encrypt", "decrypt"), help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    p.add_argument("--dst", help=argparse.SUPPRESS)
    p.add_argument("--key", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    report = run(int(args.size_mib * MIB), args.segment_size, args.dir, args.repeat)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    sys.stdout.write(f"ZTDF, {report['size_mib']:.0f} MiB, segment {args.segment_size} bytes\n")
    for direction in ("copy", "encrypt", "decrypt"):
        r = report[direction]
        sys.stdout.write(
            f"  {direction}: {r['mib_per_s']:8.1f} MiB/s  ({r['seconds']:.2f} s)"
            f"  peak RSS {r['max_rss_mib']:.1f} MiB"
            f"  (CPU: user {r['user_s']:.2f} s, sys {r['sys_s']:.2f} s)"
            + (f"  all runs: {r['all_mib_per_s']}" if len(r["all_mib_per_s"]) > 1 else "")
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
