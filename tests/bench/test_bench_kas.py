"""The KAS benchmark on a tiny load: real server process, real rewraps, every one a permit."""

from __future__ import annotations

from xtdf.bench import kas


def test_rewrap_load_runs_without_errors() -> None:
    result = kas.run(clients=[1, 3], requests=30)
    assert set(result["clients"]) == {"1", "3"}
    for figures in result["clients"].values():
        assert figures["errors"] == 0
        assert figures["requests"] >= 30
        assert figures["rewraps_per_s"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert figures["server_cpu_ms_per_rewrap"] > 0
    assert result["rsa_decrypt_per_s"] > 0 and result["ecdh_per_s"] > 0
    assert 0 < result["server_peak_rss_mib"] < 1024


def test_rewrap_load_counts_refusals_as_errors() -> None:
    """A client that is not entitled gets fail results, and the benchmark says so."""
    result = kas.run(clients=[1], requests=5, entitled=False)
    assert result["clients"]["1"]["errors"] == result["clients"]["1"]["requests"]
