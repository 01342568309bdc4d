"""Wiring the KAS into a platform (``xtdf.platform.kas.platform``), in-process on a bare
platform object (a config and a database): the instances, the keys each gets at start, the
extra keys imported as legacy ones, the certificates upstream's suite reads, and the RPCs
registered. Started for real over HTTP: test_start_keys.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from xtdf.crypto import rsa as xrsa
from xtdf.crypto.keys import private_pem, public_pem
from xtdf.errors import FormatError
from xtdf.platform.config import PlatformConfig
from xtdf.platform.kas import platform as kas_platform
from xtdf.platform.policy.keys import KeyStore
from xtdf.platform.store import Database


class _Platform:
    """What the KAS wiring reads of a platform: its config and database (the wiring keys
    its service by the platform object, weakly, so it must be hashable and weak-referable)."""

    def __init__(self, config: PlatformConfig, db: Database) -> None:
        self.config, self.db = config, db


def _platform(tmp_path: Path, **config) -> _Platform:
    cfg = PlatformConfig(
        state_dir=tmp_path / "state",
        platform_port=8080,
        idp_port=8888,
        kas_ports={"value1": 8181},
        **config,
    )
    return _Platform(config=cfg, db=Database(tmp_path / "xtdf.db"))


def _extra(tmp_path: Path, kid: str = "upstream-r9") -> tuple[Path, str]:
    key = xrsa.generate(2048)
    path = tmp_path / f"{kid}.json"
    path.write_text(json.dumps([{"kid": kid, "alg": "rsa:2048", "privateKey": private_pem(key)}]))
    return path, public_pem(key.public_key())


def test_instances_are_the_default_then_the_configured_ones(tmp_path) -> None:
    assert kas_platform.instances(_platform(tmp_path)) == ["default", "value1"]


def test_methods_register_three_rpcs_and_give_each_instance_its_keys(tmp_path) -> None:
    platform = _platform(tmp_path)
    methods = {m.name: m for m in kas_platform.methods(platform)}
    assert set(methods) == {"PublicKey", "LegacyPublicKey", "Rewrap"}
    assert all(m.service == "kas.AccessService" for m in methods.values())
    assert methods["PublicKey"].auth_required is False and methods["PublicKey"].idempotent
    legacy = methods["LegacyPublicKey"]
    assert legacy.auth_required is False and legacy.idempotent
    assert methods["Rewrap"].auth_required and not methods["Rewrap"].idempotent
    service = kas_platform.service_for(platform)
    assert methods["Rewrap"].inline and methods["Rewrap"].inline_if == service.small_rewrap
    assert methods["Rewrap"].handler == service.rewrap
    assert methods["PublicKey"].handler == service.public_key
    assert legacy.handler == service.legacy_public_key
    store = KeyStore.for_platform(platform)
    for instance in ("default", "value1"):
        assert store.active_key(instance, "rsa:2048").kid == "r1"
        assert store.active_key(instance, "ec:secp256r1").kid == "ec1"
    assert service.audit.path == tmp_path / "state" / "audit.log"
    with pytest.raises(LookupError, match=r"^the KAS is not loaded on this platform$"):
        kas_platform.service_for(_platform(tmp_path / "other"))


def test_extra_keys_are_legacy_in_every_instance_or_only_those_named(tmp_path) -> None:
    platform = _platform(tmp_path)
    kas_platform.methods(platform)
    path, pem = _extra(tmp_path)
    records = kas_platform.import_extra_keys(platform, path)
    assert [(r.kid, r.legacy) for r in records] == [("upstream-r9", True)] * 2
    store = KeyStore.for_platform(platform)
    for instance in ("default", "value1"):
        assert store.record(instance, "upstream-r9").public_pem.strip() == pem.strip()
    assert kas_platform.import_extra_keys(platform, path) == []  # kids it has: left alone
    other, _ = _extra(tmp_path, "only-default")
    service = kas_platform.service_for(platform)
    assert service.keyring.private_key("default", "only-default") is None
    entries = json.loads(other.read_text())
    got = kas_platform.import_extra_keys(platform, entries, legacy=False, only=["default"])
    assert [(r.kid, r.legacy) for r in got] == [("only-default", False)]
    assert "only-default" not in {r.kid for r in store.keys("value1")}
    # the running KAS finds the new one although it looked for it before (no misses cached)
    found = service.keyring.private_key("default", "only-default")
    assert found is not None and (found.kid, found.alg, found.legacy) == (
        "only-default",
        "rsa:2048",
        False,
    )
    legacy = service.keyring.private_key("value1", "upstream-r9")
    assert legacy is not None and legacy.legacy and legacy.alg == "rsa:2048"


def test_extra_keys_from_the_config_and_the_environment(tmp_path, monkeypatch, caplog) -> None:
    from_config, _ = _extra(tmp_path, "from-config")
    from_env, _ = _extra(tmp_path, "from-env")
    monkeypatch.setenv(kas_platform.EXTRA_KEYS_ENV, str(from_env))
    platform = _platform(tmp_path, extra_keys=[from_config])
    with caplog.at_level("INFO", logger="xtdf.platform.kas"):
        kas_platform.methods(platform)
    kids = {r.kid for r in KeyStore.for_platform(platform).keys("value1")}
    assert {"from-config", "from-env"} <= kids
    # one line per file, with what it added (each key goes to both instances)
    assert [r.getMessage() for r in caplog.records] == [
        f"imported 2 legacy key(s) from {from_config}",
        f"imported 2 legacy key(s) from {from_env}",
    ]


def test_unreadable_extra_keys_name_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(kas_platform.EXTRA_KEYS_ENV, raising=False)
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    with pytest.raises(FormatError, match=rf"^extra keys {bad}: "):
        kas_platform.methods(_platform(tmp_path, extra_keys=[bad]))
    missing = tmp_path / "missing.json"
    with pytest.raises(FormatError, match=rf"^extra keys {missing}: "):
        kas_platform.methods(_platform(tmp_path / "b", extra_keys=[missing]))


def test_certificates_go_where_upstream_reads_them(tmp_path, caplog) -> None:
    out = tmp_path / "not" / "yet" / "platform-dir"  # made, parents and all
    platform = _platform(tmp_path, platform_dir=out)
    with caplog.at_level("INFO", logger="xtdf.platform.kas"):
        kas_platform.methods(platform)
    assert [r.getMessage() for r in caplog.records] == [
        f"wrote {out / 'kas-cert.pem'}",
        f"wrote {out / 'kas-ec-cert.pem'}",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["kas-cert.pem", "kas-ec-cert.pem"]
    store = KeyStore.for_platform(platform)
    for alg, name in kas_platform.CERT_FILES.items():
        cert = x509.load_pem_x509_certificate((out / name).read_bytes())
        assert cert.subject.rfc4514_string() == "CN=kas"
        active = store.active_key("default", alg).public_pem
        assert public_pem(cert.public_key()).strip() == active.strip()
    again = kas_platform.publish_certificates(store, out)
    assert again == [out / "kas-cert.pem", out / "kas-ec-cert.pem"]
    assert sorted(p.name for p in out.iterdir()) == ["kas-cert.pem", "kas-ec-cert.pem"]


def test_importing_into_an_instance_not_registered_yet_registers_it(tmp_path) -> None:
    platform = _platform(tmp_path)  # no KAS service made: nothing registered
    path, pem = _extra(tmp_path)
    (record,) = kas_platform.import_extra_keys(platform, path, only=["value1"])
    store = KeyStore.for_platform(platform)
    assert store.record("value1", record.kid).public_pem.strip() == pem.strip()
