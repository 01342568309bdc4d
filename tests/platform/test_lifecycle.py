"""``xtdf platform start|stop|status|serve`` in subprocesses, and restarts."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx
import pytest

from tests.platform.conftest import (
    OPEN_TEST_SERVICE,
    TEST_SERVICE,
    LocalPlatform,
    dummy_methods,
    start_platform,
)
from xtdf.errors import PlatformError
from xtdf.platform import lifecycle

ROOT = Path(__file__).resolve().parents[2]


def xtdf(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XTDF_STATE_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "xtdf.cli.main", "platform", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet (container init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_status_stop_cycle(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "token_lifetime_s": 77,
                "clients": [{"client_id": "c1", "secret": "s1", "claims": {"dept": "x"}}],
            }
        )
    )
    state = ["--state-dir", str(tmp_path)]
    opts = [*state, "--port", "0", "--idp-port", "0", "--kas", "none", "--config", str(config)]
    assert xtdf("status", *state).returncode == 3
    started = xtdf("start", *opts)
    assert started.returncode == 0, started.stderr
    assert "started" in started.stdout
    pid = int((tmp_path / "platform.pid").read_text())
    urls = lifecycle.status(tmp_path).urls
    assert urls is not None
    try:
        with urllib.request.urlopen(urls["platform"] + "/healthz", timeout=5) as r:
            assert r.status == 200
        token_url = urls["idp"] + "/protocol/openid-connect/token"
        form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "s1"}
        body = httpx.post(token_url, data=form).json()
        assert body["expires_in"] == 77
        claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
        assert claims["dept"] == "x" and claims["client_id"] == "c1"
        again = xtdf("start", *opts)
        assert again.returncode == 0 and "already running" in again.stdout
        assert f"pid {pid}" in again.stdout
        status = xtdf("status", *state)
        assert status.returncode == 0 and urls["platform"] in status.stdout
        rival = xtdf("serve", *opts)
        assert rival.returncode == 1 and "already running" in rival.stderr
    finally:
        stopped = xtdf("stop", *state)
    assert stopped.returncode == 0 and f"stopped (pid {pid})" in stopped.stdout
    assert not (tmp_path / "platform.pid").exists()
    assert gone(pid)
    assert xtdf("status", *state).returncode == 3
    second = xtdf("stop", *state)
    assert second.returncode == 0 and "not running" in second.stdout
    assert "serving" in (tmp_path / "platform.log").read_text()


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for action in ("serve", "start"):
            r = xtdf(
                action,
                "--state-dir",
                str(tmp_path),
                "--port",
                str(port),
                "--kas",
                "none",
                "--idp-port",
                "0",
            )
            assert r.returncode == 1, (action, r.stdout, r.stderr)
            lines = r.stderr.strip().splitlines()
            assert lines == [f"xtdf: port {port} (platform) is already in use on 127.0.0.1"]
    assert not (tmp_path / "platform.pid").exists()


def test_status_does_not_import_the_server_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from xtdf.cli.main import main\n"
        f"rc = main(['platform', 'status', '--state-dir', {str(tmp_path)!r}])\n"
        "heavy = [m for m in ('uvicorn', 'starlette', 'pydantic', 'joserfc') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip().endswith("3 []"), r.stdout + r.stderr


def test_start_reports_a_dying_server_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(PlatformError) as info:
        lifecycle.start(tmp_path, ["--state-dir", str(tmp_path), "--port", "not-a-port"])
    assert "exited with status 2" in str(info.value)
    assert "invalid int value" in str(info.value)  # the log tail names the cause


def test_stale_pid_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / "platform.pid").write_text(proc.stdout)
    st = lifecycle.status(tmp_path)
    assert not st.running and st.stale
    r = xtdf("status", "--state-dir", str(tmp_path))
    assert r.returncode == 3 and "stale" in r.stdout
    assert xtdf("stop", "--state-dir", str(tmp_path)).returncode == 0
    assert not (tmp_path / "platform.pid").exists()


def test_restart_keeps_idp_key(tmp_path: Path) -> None:
    ports = {"platform_port": free_port(), "idp_port": free_port()}
    first = start_platform(tmp_path, services=[], kas_ports={}, **ports)
    try:
        old = LocalPlatform(first)
        token = old.token("xtdf-alice")
        kid = first.platform.idp.keys.kid
    finally:
        first.stop()
    second = start_platform(
        tmp_path, services=[], kas_ports={}, role_policy_extension=OPEN_TEST_SERVICE, **ports
    )
    try:
        second.platform.register(dummy_methods())
        assert second.platform.idp.keys.kid == kid
        r = httpx.post(
            f"{second.config.platform_url}/{TEST_SERVICE}/WhoAmI",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["clientId"] == "xtdf-alice"
    finally:
        second.stop()


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"platform_port": 70000}')
    r = xtdf("start", "--state-dir", str(tmp_path), "--config", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip() == "xtdf: invalid platform config platform_port: " + (
        "Value error, port 70000 out of range 0..65535"
    )
    bad.write_text("{nope")
    r = xtdf("serve", "--state-dir", str(tmp_path), "--config", str(bad))
    assert r.returncode == 2 and "not valid JSON" in r.stderr
