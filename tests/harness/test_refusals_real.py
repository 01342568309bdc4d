"""The refusal matcher on our reference SDK's real output, against the real platform.

``make xtest`` judges every SDK's refusals by the wording recorded in
``xtdf/harness/wordings.py``; this checks that the reference SDK (``sdk/py/dist/main``)
still says what is recorded for it, in ``make test``, so a change of our own client's
wording cannot silently fail (or, worse, pass) the matrix's refusal cells.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import lane_missing
from tests.platform.conftest import LocalPlatform, start_platform
from xtdf.harness import tamper
from xtdf.harness.refusals import Refusal, RefusalMismatch
from xtdf.harness.sdks import SDK, discover

ROOT = Path(__file__).resolve().parents[2]
PLAINTEXT = b"refusal matcher plaintext\n" * 200


@pytest.fixture(scope="module")
def py_sdk() -> SDK:
    found = [s for s in discover(ROOT / "sdk") if s.name == "py"]
    if not found:
        lane_missing("the reference SDK is not installed (make sdk-py)")
    return found[0]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    server = start_platform(tmp_path_factory.mktemp("refusals-real"))
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()


@pytest.fixture
def env(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> LocalPlatform:
    """The upstream test.env names the SDK reads, pointing at this platform."""
    monkeypatch.setenv("PLATFORMURL", platform.url)
    monkeypatch.setenv("KASURL", platform.url + "/kas")
    monkeypatch.setenv("CLIENTID", "opentdf")
    monkeypatch.setenv("CLIENTSECRET", "secret")
    for name in ("TOKENENDPOINT", "KCFULLURL"):
        monkeypatch.delenv(name, raising=False)
    return platform


@pytest.fixture
def ct(py_sdk: SDK, env: LocalPlatform, tmp_path: Path) -> Path:
    pt = tmp_path / "pt.txt"
    pt.write_bytes(PLAINTEXT)
    out = tmp_path / "ct.tdf"
    py_sdk.encrypt(pt, out, "ztdf")
    return out


def test_tampered_files_read_as_tamper_and_as_nothing_else(
    py_sdk: SDK, ct: Path, tmp_path: Path
) -> None:
    for how, fn in [
        ("root", tamper.change_root_signature),
        ("payload", tamper.flip_payload_byte),
        ("binding", tamper.change_policy_binding),  # refused by the KAS, not the client
    ]:
        bad = fn(ct, tmp_path / f"{how}.tdf")
        rt = tmp_path / f"{how}.out"
        py_sdk.decrypt(bad, rt, "ztdf", expect_error=Refusal.TAMPER)
        with pytest.raises(RefusalMismatch, match="expected to refuse"):
            py_sdk.decrypt(bad, rt, "ztdf", expect_error=Refusal.NOT_ENTITLED)


def test_a_kas_outside_the_allowlist_reads_as_not_allowed(
    py_sdk: SDK, ct: Path, tmp_path: Path
) -> None:
    rt = tmp_path / "rt"
    elsewhere = "http://kas.invalid:9999/kas"
    py_sdk.decrypt(ct, rt, "ztdf", kasallowlist=elsewhere, expect_error=Refusal.KAS_NOT_ALLOWED)
    with pytest.raises(RefusalMismatch):
        py_sdk.decrypt(ct, rt, "ztdf", kasallowlist=elsewhere, expect_error=Refusal.TAMPER)


def test_an_unreachable_platform_is_a_failed_cell_not_a_refusal(
    py_sdk: SDK, ct: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("PLATFORMURL", dead)
    monkeypatch.setenv("TOKENENDPOINT", dead + "/token")
    bad = tamper.change_policy_binding(ct, tmp_path / "binding.tdf")
    with pytest.raises(RefusalMismatch, match="reads as a connection failure"):
        py_sdk.decrypt(bad, tmp_path / "rt", "ztdf", expect_error=Refusal.TAMPER)


def test_a_good_file_is_not_a_refusal(py_sdk: SDK, ct: Path, tmp_path: Path) -> None:
    rt = tmp_path / "rt"
    with pytest.raises(RefusalMismatch, match="succeeded but was expected to fail"):
        py_sdk.decrypt(ct, rt, "ztdf", expect_error=Refusal.TAMPER)
    assert rt.read_bytes() == PLAINTEXT
