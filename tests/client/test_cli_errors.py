"""``xtdf encrypt`` / ``xtdf decrypt`` failures: one ``xtdf:`` line, non-zero exit, no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from xtdf.cli.main import main


def _xtdf(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xtdf.cli.main", *args], capture_output=True, text=True, env=env
    )


def test_decrypt_of_a_non_tdf_names_the_problem(tmp_path: Path) -> None:
    src = tmp_path / "plain.txt"
    src.write_text("not a TDF")
    out = tmp_path / "out"
    result = _xtdf("decrypt", str(src), "-o", str(out))
    assert result.returncode == 1
    assert result.stderr == f"xtdf: {src}: not a TDF (neither a zip nor a NanoTDF 'L1L' header)\n"
    assert not out.exists()


def test_missing_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(["encrypt", str(tmp_path / "absent"), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("xtdf: No such file or directory") and err.count("\n") == 1
    assert not out.exists()


def test_unreachable_platform_leaves_no_output(tmp_path: Path) -> None:
    src = tmp_path / "pt"
    src.write_bytes(b"x")
    out = tmp_path / "ct"
    result = _xtdf("encrypt", str(src), "-o", str(out), "--platform-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr == "xtdf: cannot reach http://127.0.0.1:9: Connection refused\n"
    assert list(tmp_path.iterdir()) == [src]


def test_bad_attribute_fqn_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "pt"
    src.write_bytes(b"x")
    result = _xtdf(
        "encrypt",
        str(src),
        "-o",
        str(tmp_path / "ct"),
        "--attr",
        "secret",
        "--platform-url",
        "http://127.0.0.1:9",
    )
    assert result.returncode == 2
    assert "not an attribute value FQN" in result.stderr and "Traceback" not in result.stderr


def test_bad_platform_url_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "pt"
    src.write_bytes(b"x")
    result = _xtdf("encrypt", str(src), "-o", str(tmp_path / "ct"), "--platform-url", "localhost")
    assert result.returncode == 2
    assert result.stderr.startswith("xtdf: platform URL must start with http")
