"""The second embedded platform (base-key cells): started once, reused, stopped by its run."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from xtdf.harness import platform_env
from xtdf.harness.abac import BASE_KEY, ensure_base_key
from xtdf.platform import lifecycle


def test_variables_follow_upstream_test_env() -> None:
    urls = {
        "platform": "http://localhost:41000",
        "idp": "http://localhost:41001/auth/realms/opentdf",
    }
    v = platform_env.variables_for(urls)
    assert v["PLATFORMURL"] == "http://localhost:41000"
    assert v["PLATFORMENDPOINT"] == "localhost:41000"
    assert v["KASURL"] == "http://localhost:41000/kas"
    assert v["KCHOST"] == "http://localhost:41001"
    assert v["KCFULLURL"] == "http://localhost:41001/auth/realms/opentdf"
    assert v["TOKENENDPOINT"].endswith("/auth/realms/opentdf/protocol/openid-connect/token")
    assert (v["CLIENTID"], v["CLIENTSECRET"]) == ("opentdf", "secret")


def test_sidecar_started_once_with_its_base_key_and_stopped_by_its_run(tmp_path: Path) -> None:
    state = tmp_path / "sidecar"
    calls: list[str] = []

    def setup(env: platform_env.PlatformEnv) -> None:
        calls.append(env.url)
        ensure_base_key(env)

    first = platform_env.resolve_sidecar(state, "run-1", setup)
    try:
        pid = lifecycle.status(state).pid
        assert first.started_here and first.url != platform_env.DEFAULTS["PLATFORMURL"]
        again = platform_env.resolve_sidecar(state, "run-1", setup)
        assert lifecycle.status(state).pid == pid, "a second resolve must reuse the platform"
        assert again.variables == first.variables and calls == [first.url, first.url]
        other_run = platform_env.resolve_sidecar(state, "run-2", setup)
        assert not other_run.started_here
        with urllib.request.urlopen(first.url + "/.well-known/opentdf-configuration") as r:
            body = r.read().decode()
        assert BASE_KEY.kid in body, "the base key is published in the well-known configuration"
        assert not platform_env.stop_if_ours(state, "run-2")
        assert lifecycle.status(state).running
    finally:
        assert platform_env.stop_if_ours(state, "run-1")
    assert not lifecycle.status(state).running


def test_sidecar_comes_back_on_the_same_ports(tmp_path: Path) -> None:
    """Its KAS URL is inside every ciphertext made with it: the same ports next run keep
    the cache keys, so a warm rerun does not encrypt again."""
    state = tmp_path / "sidecar"
    first = platform_env.resolve_sidecar(state, "run-1", lambda env: None)
    platform_env.stop_if_ours(state, "run-1")
    second = platform_env.resolve_sidecar(state, "run-2", lambda env: None)
    try:
        assert second.variables == first.variables
    finally:
        platform_env.stop_if_ours(state, "run-2")
