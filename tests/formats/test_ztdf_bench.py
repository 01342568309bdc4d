"""A tiny run of the ZTDF benchmark, so that ``make bench-formats`` cannot rot unnoticed."""

from __future__ import annotations

from pathlib import Path

from xtdf.bench import formats


def test_bench_smoke(tmp_path: Path):
    report = formats.run(4 * formats.MIB, 1024 * 1024, tmp_path)
    for direction in ("copy", "encrypt", "decrypt"):
        r = report[direction]
        assert r["seconds"] > 0 and r["mib_per_s"] > 0
        assert 0 < r["max_rss_mib"] < 1024
    assert list(tmp_path.iterdir()) == []  # temp files cleaned up


def test_bench_cli_prints_a_report(tmp_path: Path, capsys):
    assert formats.main(["--size-mib", "2", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "encrypt:" in out and "decrypt:" in out and "MiB/s" in out
