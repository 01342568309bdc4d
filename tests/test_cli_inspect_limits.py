"""Hostile files through the installed ``xtdf``: one ``xtdf:`` line naming what failed, a
non-zero exit, nothing on stdout, no output file, and bounded memory and time.

The files are real zips (or NanoTDFs) with one thing wrong, built here.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from xtdf.crypto import ec as xec
from xtdf.crypto import rsa
from xtdf.formats import nano, ztdf

MIB = 1024 * 1024
#: nothing is reachable here: a decrypt that gets as far as a request fails on it
NOWHERE = ["--platform-url", "http://127.0.0.1:9"]
#: ``xtdf``'s own entry point, which also records the process's peak RSS (``VmHWM``: per
#: address space, so unlike ``ru_maxrss`` it does not start from the forking pytest's)
_MAIN = """
import atexit, sys
def peak():
    try:
        with open("/proc/self/status") as fh:
            kib = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        kib = "0"
    with open(sys.argv.pop(1), "w") as out:
        out.write(kib)
atexit.register(peak)
from xtdf.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


def run(*args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """The completed ``xtdf ARGS`` and its peak RSS in KiB (0 where /proc is absent)."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        proc = subprocess.run(
            [sys.executable, "-c", _MAIN, str(peak_file), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")},
        )
        return proc, int(peak_file.read_text() or 0)


def assert_one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0, proc.stdout[:200]
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xtdf: "), proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], bytes]:
    key = rsa.generate(2048)
    out = io.BytesIO()
    ztdf.encrypt(
        io.BytesIO(b"hello"),
        out,
        key_access=[ztdf.KeyAccessTarget("http://127.0.0.1:9/kas", key.public_key(), "r1")],
    )
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        return json.loads(z.read("0.manifest.json")), z.read("0.payload")


def write_tdf(path: Path, payload: bytes, manifest: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("0.payload", payload, compress_type=zipfile.ZIP_STORED)
        z.writestr("0.manifest.json", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path


def bomb_manifest(manifest: dict[str, Any], count: int) -> bytes:
    text = json.dumps(manifest).encode()
    return text[:-1] + b',"x":[' + b"{}," * (count - 1) + b"{}]}"


BOMBS = {
    # 60 MB of "{}," deflated to ~60 KB (the file)
    "inflation": (lambda m: bomb_manifest(m, 20_000_000), ("0.manifest.json", "16 MiB")),
    # 3.6 MB: under the size limit, 1.2 million values
    "values": (lambda m: bomb_manifest(m, 1_200_000), ("0.manifest.json", "1000000 values")),
    "depth": (lambda m: b"[" * 100_000 + b"]" * 100_000, ("0.manifest.json", "nested deeper")),
}


@pytest.mark.parametrize("kind", list(BOMBS))
@pytest.mark.parametrize("verb", ["inspect", "decrypt"])
def test_manifest_bombs_are_one_line(tmp_path: Path, good, kind: str, verb: str) -> None:
    manifest, payload = good
    make, needles = BOMBS[kind]
    src = write_tdf(tmp_path / "bomb.tdf", payload, make(manifest))
    assert src.stat().st_size < 100_000
    out = tmp_path / "out.bin"
    args = ["inspect", str(src)] if verb == "inspect" else ["decrypt", str(src), "-o", str(out)]
    proc, peak_kib = run(*args, *(NOWHERE if verb == "decrypt" else []))
    assert_one_line(proc, *needles)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.tdf"], "no partial output"
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib // 1024} MiB"


@pytest.mark.parametrize("url", ["http://[abc/kas", "http://[::1/kas", "http://h:99999999/kas"])
def test_unparsable_kas_url_is_one_line(tmp_path: Path, good, url: str) -> None:
    manifest, payload = good
    manifest = json.loads(json.dumps(manifest))
    manifest["encryptionInformation"]["keyAccess"][0]["url"] = url
    src = write_tdf(tmp_path / "url.tdf", payload, json.dumps(manifest).encode())
    proc, _ = run("inspect", str(src))
    assert proc.returncode == 0 and json.loads(proc.stdout)["keyAccess"][0]["url"] == url
    out = tmp_path / "out.bin"
    proc, _ = run("decrypt", str(src), "-o", str(out), *NOWHERE)
    assert_one_line(proc, url)
    assert not out.exists()


def _nano(policy: bytes) -> bytes:
    kas = xec.generate("secp256r1")
    return nano.encrypt(
        b"hello",
        kas_url="http://127.0.0.1:9/kas",
        kas_public_key=kas.public_key(),
        policy=policy,
        policy_mode="plaintext",
    )


def test_nano_inspect_of_a_deeply_nested_policy(tmp_path: Path) -> None:
    """A plaintext policy is shown as JSON when it is JSON within the limits, else as text."""
    src = tmp_path / "deep.ntdf"
    src.write_bytes(_nano(b"[" * 30_000 + b"]" * 30_000))
    proc, _ = run("inspect", str(src))
    assert proc.returncode == 0, proc.stderr[-2000:]
    policy = json.loads(proc.stdout)["policy"]
    assert "policy" not in policy and policy["text"].startswith("[[[")


def test_nano_larger_than_any_nanotdf_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "huge.ntdf"
    data = _nano(b"{}")
    with open(src, "wb") as fh:
        fh.write(data)
        fh.truncate(len(data) + 64 * MIB)  # sparse: 64 MiB of zeros after a valid NanoTDF
    for args in (["inspect", str(src)], ["decrypt", str(src), "-o", str(tmp_path / "o")]):
        proc, peak_kib = run(*args, *(NOWHERE if args[0] == "decrypt" else []))
        assert_one_line(proc, "NanoTDF")
        assert peak_kib < 100 * 1024, f"peak RSS {peak_kib // 1024} MiB"
    assert not (tmp_path / "o").exists()
