"""Keys at start: upstream's ``extra-keys.json`` imported as legacy keys, and the KAS public
keys written where upstream's suite reads them (``PLATFORM_DIR``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.platform.conftest import start_platform
from tests.platform.test_lifecycle import xtdf
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.keys import load_public_pem, private_pem, public_pem
from xtdf.platform.policy.keys import KeyStore


def extra_keys_file(tmp_path: Path, kid: str = "upstream-r9") -> Path:
    key = xrsa.generate(2048)
    entry = {"kid": kid, "alg": "rsa:2048", "privateKey": private_pem(key)}
    path = tmp_path / "extra-keys.json"
    path.write_text(json.dumps([entry]))
    return path


def test_extra_keys_are_imported_as_legacy_into_every_instance(tmp_path: Path) -> None:
    keys = extra_keys_file(tmp_path)
    server = start_platform(tmp_path / "state", kas_ports={"value1": 0}, extra_keys=[keys])
    try:
        store = KeyStore.for_platform(server.platform)
        for instance in ("default", "value1"):
            rec = store.record(instance, "upstream-r9")
            assert rec.legacy and rec.has_private
            # new files are still wrapped with the instance's own key
            assert store.active_key(instance, "rsa:2048").kid == "r1"
    finally:
        server.stop()
    # a restart with the same file neither fails nor duplicates
    again = start_platform(tmp_path / "state", kas_ports={"value1": 0}, extra_keys=[keys])
    try:
        kids = [r.kid for r in KeyStore.for_platform(again.platform).keys("default")]
        assert kids.count("upstream-r9") == 1
    finally:
        again.stop()


def test_public_keys_published_as_certificates(tmp_path: Path) -> None:
    out = tmp_path / "platform-dir"
    server = start_platform(tmp_path / "state", kas_ports={}, platform_dir=out)
    try:
        for alg, name in (("rsa:2048", "kas-cert.pem"), ("ec:secp256r1", "kas-ec-cert.pem")):
            cert = x509.load_pem_x509_certificate((out / name).read_bytes())
            assert cert.subject.rfc4514_string() == "CN=kas"
            served = httpx.get(
                f"{server.config.platform_url}/kas/v2/kas_public_key", params={"algorithm": alg}
            ).json()["publicKey"]
            assert public_pem(cert.public_key()) == public_pem(load_public_pem(served))
        assert sorted(p.name for p in out.iterdir()) == ["kas-cert.pem", "kas-ec-cert.pem"]
    finally:
        server.stop()


def test_cli_refuses_a_missing_or_malformed_keys_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    missing = xtdf("start", "--state-dir", str(state), "--extra-keys", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "--extra-keys" in missing.stderr and "no such file" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('[{"kid": "k"}]')
    args = ["--port", "0", "--idp-port", "0", "--kas", "none", "--extra-keys", str(bad)]
    r = xtdf("start", "--state-dir", str(state), *args)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last == f"xtdf: extra keys {bad}: extra keys[0]: missing alg, privateKey", r.stderr
    assert "Traceback" not in r.stderr
    assert xtdf("status", "--state-dir", str(state)).returncode == 3  # nothing left running


def test_cli_start_imports_and_publishes(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "pd"
    keys = extra_keys_file(tmp_path, kid="from-cli")
    args = ["--port", "0", "--idp-port", "0", "--kas", "none"]
    args += ["--extra-keys", str(keys), "--platform-dir", str(out)]
    r = xtdf("start", "--state-dir", str(state), *args)
    try:
        assert r.returncode == 0, r.stderr
        assert (out / "kas-cert.pem").is_file() and (out / "kas-ec-cert.pem").is_file()
        log = (state / "platform.log").read_text()
        assert f"imported 1 legacy key(s) from {keys}" in log
        assert "casbin" not in log  # the role policy is not dumped into the log
    finally:
        xtdf("stop", "--state-dir", str(state))


@pytest.mark.parametrize("name", ["kas-cert.pem", "kas-ec-cert.pem"])
def test_republished_on_every_start(tmp_path: Path, name: str) -> None:
    out = tmp_path / "pd"
    out.mkdir()
    (out / name).write_text("stale")
    server = start_platform(tmp_path / "state", kas_ports={}, platform_dir=out)
    server.stop()
    assert (out / name).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_go_platform_start_refuses_a_missing_keys_file_and_our_options(tmp_path: Path) -> None:
    """``--impl go`` takes ``--extra-keys`` and ``--platform-dir`` (upstream's suite needs
    both); options only our server has are refused, before anything starts."""
    state = tmp_path / "state"
    missing = tmp_path / "nope.json"
    r = xtdf("start", "--impl", "go", "--state-dir", str(state), "--extra-keys", str(missing))
    assert r.returncode == 2 and f"--extra-keys {missing}: no such file" in r.stderr
    r = xtdf("start", "--impl", "go", "--state-dir", str(state), "--event-loops", "2")
    assert r.returncode == 2 and "--event-loops is not supported with --impl go" in r.stderr
    assert not state.exists()
