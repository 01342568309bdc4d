"""``xtdf inspect`` on NanoTDF files, run as the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xtdf.crypto import ec as xec
from xtdf.formats import nano

XTDF = Path(sys.executable).with_name("xtdf")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    if not XTDF.exists():
        pytest.skip(f"{XTDF} is not installed")
    return subprocess.run([str(XTDF), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "policy_len"), [("go-gmac", 104), ("js-gmac", 100)])
def test_inspect_vector_prints_json(reference_dir: Path, name: str, policy_len: int):
    proc = run("inspect", str(reference_dir / "nano" / f"{name}.ntdf"))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["format"] == "nano"
    assert info["kas"]["url"] == "http://localhost:8080/kas"
    assert info["binding"]["mode"] == "gmac" and info["cipher"]["tagBits"] == 96
    assert info["policy"]["mode"] == "encrypted" and info["policy"]["length"] == policy_len
    assert info["payload"]["length"] == 0x8F


def test_inspect_our_file(tmp_path: Path):
    kas = xec.generate("secp384r1")
    path = tmp_path / "file.ntdf"
    path.write_bytes(
        nano.encrypt(
            b"hello",
            kas_url="https://kas.example.com/kas",
            kas_public_key=kas.public_key(),
            kid="e1",
            binding="ecdsa",
            policy_mode="plaintext",
            policy=nano.policy_object(["https://example.com/attr/a/value/b"]),
            cipher_tag_bits=128,
        )
    )
    proc = run("inspect", str(path))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["kas"]["kid"] == "e1" and info["kas"]["protocol"] == "https"
    assert info["curve"] == "secp384r1" and info["binding"]["mode"] == "ecdsa"
    assert info["cipher"]["tagBits"] == 128 and info["policy"]["mode"] == "plaintext"
    attr = info["policy"]["policy"]["body"]["dataAttributes"][0]["attribute"]
    assert attr == "https://example.com/attr/a/value/b"
    assert info["payload"]["length"] == 3 + 5 + 16


@pytest.mark.parametrize(
    ("cut", "message"), [(10, "truncated at kas body"), (-5, "truncated at payload")]
)
def test_inspect_truncated_file_one_line(reference_dir: Path, tmp_path: Path, cut, message):
    data = (reference_dir / "nano" / "go-gmac.ntdf").read_bytes()
    path = tmp_path / "cut.ntdf"
    path.write_bytes(data[:cut])
    proc = run("inspect", str(path))
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xtdf: ") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_inspect_other_version_one_line(tmp_path: Path):
    path = tmp_path / "v.ntdf"
    path.write_bytes(b"L1M" + bytes(40))  # another 6-bit version: not recognised as a TDF
    proc = run("inspect", str(path))
    assert proc.returncode != 0
    assert proc.stderr.startswith("xtdf: ") and "not a TDF" in proc.stderr
