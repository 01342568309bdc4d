"""``xtdf inspect`` on ZTDF files, run as the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xtdf.crypto import rsa
from xtdf.formats import ztdf

XTDF = Path(sys.executable).with_name("xtdf")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    if not XTDF.exists():
        pytest.skip(f"{XTDF} is not installed")
    return subprocess.run([str(XTDF), *args], capture_output=True, text=True, timeout=60)


def test_inspect_our_file(tmp_path: Path):
    key = rsa.generate(2048)
    src, tdf = tmp_path / "plain.txt", tmp_path / "file.tdf"
    src.write_bytes(b"hello")
    ztdf.encrypt(
        src,
        tdf,
        key_access=[ztdf.KeyAccessTarget("https://kas/kas", key.public_key(), "k1")],
        attributes=["https://example.com/attr/c/value/v"],
        mime_type="text/plain",
    )
    proc = run("inspect", str(tdf))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["format"] == "ztdf" and info["plaintextSize"] == 5
    assert info["mimeType"] == "text/plain"
    assert info["policy"]["body"]["dataAttributes"][0]["attribute"].endswith("/value/v")
    assert info["keyAccess"][0]["kid"] == "k1"


def test_inspect_golden(reference_dir: Path):
    proc = run("inspect", str(reference_dir / "golden" / "small-java-4.3.0-e0f8caf.tdf"))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["keyAccess"][0]["kid"] == "golden-r1"
    assert info["manifest"]["assertions"][0]["id"] == "assertion1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text\n", "not a TDF"),
        (b"PK\x03\x04 but then garbage", "not a zip"),
    ],
)
def test_inspect_non_tdf_prints_one_line(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    proc = run("inspect", str(path))
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xtdf: ") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_inspect_zip_without_manifest(tmp_path: Path):
    import zipfile

    path = tmp_path / "no-manifest.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("0.payload", b"")
    proc = run("inspect", str(path))
    assert proc.returncode != 0
    assert proc.stderr.strip().endswith("zip has no 0.manifest.json entry")
    assert len(proc.stderr.splitlines()) == 1
