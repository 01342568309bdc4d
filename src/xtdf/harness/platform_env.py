"""Which platform the suite talks to, and starting the embedded one exactly once.

Upstream's ``test.env`` variables name an external platform; when ``PLATFORMURL`` is set
the suite uses it as is. Otherwise the first process to get here (controller or worker)
starts the embedded platform under a file lock, and the others find it healthy and use
it. Only the run that started it stops it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from filelock import FileLock

from xtdf.platform.lifecycle import healthy

if TYPE_CHECKING:
    from xtdf.platform.lifecycle import Status

#: upstream's test.env defaults, which the embedded platform serves
DEFAULTS = {
    "CLIENTID": "opentdf",
    "CLIENTSECRET": "secret",
    "KCHOST": "http://localhost:8888",
    "REALM": "opentdf",
    "KCFULLURL": "http://localhost:8888/auth/realms/opentdf",
    "TOKENENDPOINT": "http://localhost:8888/auth/realms/opentdf/protocol/openid-connect/token",
    "PLATFORMENDPOINT": "localhost:8080",
    "PLATFORMURL": "http://localhost:8080",
    "KASURL": "http://localhost:8080/kas",
    "KASURL1": "http://localhost:8181/kas",
    "KASURL2": "http://localhost:8282/kas",
    "KASURL3": "http://localhost:8383/kas",
    "KASURL4": "http://localhost:8484/kas",
    "KASURL5": "http://localhost:8585",
    "KASURL6": "http://localhost:8686",
}


#: which platform the suite starts when no PLATFORMURL names one: ``xtdf`` (ours, the
#: default) or ``go`` (OpenTDF's Go platform from ``make platform-go``, harness/go_platform.py)
PLATFORM_ENV = "XTDF_PLATFORM"
IMPLS = ("xtdf", "go")


class PlatformUnavailable(Exception):
    """The platform named by the environment does not answer, or would not start."""


def impl() -> str:
    """``XTDF_PLATFORM``: which platform to start (``xtdf`` unless set)."""
    value = os.environ.get(PLATFORM_ENV) or "xtdf"
    if value not in IMPLS:
        raise PlatformUnavailable(f"{PLATFORM_ENV}={value!r}: expected one of {', '.join(IMPLS)}")
    return value


def go_state_dir(state_dir: Path) -> Path:
    """The Go stack's state beside ours (``.xtdf/platform`` -> ``.xtdf/platform-go``)."""
    return state_dir.with_name(state_dir.name + "-go")


@dataclass
class PlatformEnv:
    variables: dict[str, str]
    external: bool
    started_here: bool = False
    state_dir: Path | None = None

    @property
    def url(self) -> str:
        return self.variables["PLATFORMURL"]


def resolve(state_dir: Path, run_id: str, which: str | None = None) -> PlatformEnv:
    """Use the external platform if the environment names one, else ensure the embedded one
    (or the Go stack: ``which``, else ``XTDF_PLATFORM``)."""
    if os.environ.get("PLATFORMURL"):
        variables = {k: os.environ.get(k, v) for k, v in DEFAULTS.items()}
        if not healthy(variables["PLATFORMURL"]):
            raise PlatformUnavailable(
                f"PLATFORMURL={variables['PLATFORMURL']} does not answer /healthz"
            )
        return PlatformEnv(variables, external=True)
    if (which or impl()) == "go":
        return _resolve_go(go_state_dir(state_dir), run_id)
    env = PlatformEnv(dict(DEFAULTS), external=False, state_dir=state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / "started-by-run"
    with FileLock(str(state_dir / "start.lock")):
        if healthy(env.url):
            env.started_here = marker.is_file() and marker.read_text() == run_id
            return env
        _start(state_dir)
        marker.write_text(run_id)
        env.started_here = True
    return env


def _golden_key_files() -> list[Path]:
    """The golden files' keys (ours, and upstream's extra-keys.json when shared/ has it):
    the Go KAS without key management takes legacy keys from its configuration only."""
    root = Path(__file__).resolve().parents[3]
    files = [root / "xtest" / "golden" / "xtdf-golden-keys.json"]
    files.append(root.parent / "shared" / "reference" / "extra-keys.json")
    return [f for f in files if f.is_file()]


def _resolve_go(state_dir: Path, run_id: str) -> PlatformEnv:
    """The Go stack on upstream's fixed ports, started once per run like ours. It counts as
    external: nothing of ours (a second platform for base keys) can be started beside it."""
    from xtdf.errors import PlatformError
    from xtdf.harness import go_platform
    from xtdf.platform.config import DEFAULT_KAS_PORTS

    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / "started-by-run"
    ports = go_platform.Ports(platform=8080, idp=8888, kas=dict(DEFAULT_KAS_PORTS))
    stack = go_platform.GoPlatform(state_dir, ports, extra_keys=_golden_key_files())
    with FileLock(str(state_dir / "start.lock")):
        if go_platform.status(state_dir) is None:
            try:
                stack.start()
            except PlatformError as exc:
                raise PlatformUnavailable(f"could not start the Go platform: {exc}") from None
            marker.write_text(run_id)
        started_here = marker.is_file() and marker.read_text() == run_id
    # the root key, as upstream's suite exports it: managed keys are wrapped by the caller
    # for the Go platform (otdfctl's `key create --mode local`), which does not make them
    variables = {**DEFAULTS, "OT_ROOT_KEY": stack.root_key}
    return PlatformEnv(variables, external=True, started_here=started_here, state_dir=state_dir)


def _xtdf(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "xtdf.cli.main", "platform", *args]
    env = {**os.environ, "XTDF_STATE_DIR": str(state_dir)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def _start(state_dir: Path) -> None:
    result = _xtdf("start", state_dir=state_dir)
    if result.returncode != 0:
        raise PlatformUnavailable(
            "could not start the embedded platform: " + (result.stderr or result.stdout).strip()
        )
    deadline = time.monotonic() + 60
    while not healthy(DEFAULTS["PLATFORMURL"]):
        if time.monotonic() > deadline:
            raise PlatformUnavailable("embedded platform did not become healthy within 60 s")
        time.sleep(0.1)


def variables_for(urls: dict[str, str]) -> dict[str, str]:
    """Upstream's ``test.env`` variables for a platform from its ``urls.json``."""
    issuer = urls["idp"]
    platform = urls["platform"]
    out = {
        **{k: DEFAULTS[k] for k in ("CLIENTID", "CLIENTSECRET", "REALM")},
        "KCHOST": issuer.split("/auth/realms/", 1)[0],
        "KCFULLURL": issuer,
        "TOKENENDPOINT": f"{issuer}/protocol/openid-connect/token",
        "PLATFORMENDPOINT": urlsplit(platform).netloc,
        "PLATFORMURL": platform,
        "KASURL": urls.get("kas default", f"{platform}/kas"),
    }
    return out


def resolve_sidecar(
    state_dir: Path, run_id: str, setup: Callable[[PlatformEnv], None]
) -> PlatformEnv:
    """A second embedded platform on free ports, with only the default KAS.

    For cells that need a platform-wide setting (a base key) that would change what every
    other test encrypts if it were set on the suite's platform. Started once per run under
    a lock like the main one; ``setup`` runs under the same lock and must be idempotent.
    Its state directory persists, so its keys (and the ciphertexts made with them) do too.
    """
    from xtdf.platform import lifecycle

    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / "started-by-run"
    with FileLock(str(state_dir / "start.lock")):
        st = lifecycle.status(state_dir)
        if not (st.running and st.urls and healthy(st.urls["platform"])):
            st = _start_sidecar(state_dir)
            marker.write_text(run_id)
        assert st.urls is not None
        env = PlatformEnv(
            variables_for(st.urls),
            external=False,
            started_here=marker.is_file() and marker.read_text() == run_id,
            state_dir=state_dir,
        )
        setup(env)
    return env


def start_private(
    state_dir: Path, platform_port: int = 0, idp_port: int = 0, event_loops: int | None = None
) -> Status:
    """A platform of one's own, in the background: its own state, only the default KAS,
    free ports unless given (never the suite's fixed ones). Stop it with
    ``lifecycle.stop(state_dir)``; raises ``PlatformError`` when it will not start."""
    from xtdf.platform import lifecycle

    args = ["--state-dir", str(state_dir), "--port", str(platform_port)]
    args += ["--idp-port", str(idp_port), "--kas", "none"]
    if event_loops is not None:
        args += ["--event-loops", str(event_loops)]
    st = lifecycle.start(state_dir, args, timeout_s=60)
    assert st.urls is not None and st.pid is not None
    return st


def _start_sidecar(state_dir: Path) -> Status:
    """Start it on the ports it had last time if they are free, else on any free ports.

    The KAS URL is written into every ciphertext, so new ports would mean new cache keys
    and a warm rerun that encrypts again."""
    from xtdf.errors import PlatformError

    ports_file = state_dir / "ports.json"
    try:
        last = json.loads(ports_file.read_text())
        wanted = [(int(last["platform"]), int(last["idp"])), (0, 0)]
    except (OSError, ValueError, KeyError, TypeError):
        wanted = [(0, 0)]
    error: Exception | None = None
    for platform_port, idp_port in wanted:
        try:
            st = start_private(state_dir, platform_port, idp_port)
        except PlatformError as exc:
            error = exc
            continue
        assert st.urls is not None
        ports = {
            "platform": urlsplit(st.urls["platform"]).port,
            "idp": urlsplit(st.urls["idp"]).port,
        }
        ports_file.write_text(json.dumps(ports))
        return st
    raise PlatformUnavailable(f"could not start the second platform: {error}")


def stop_if_ours(state_dir: Path, run_id: str) -> bool:
    """Stop the embedded platform (or the Go stack) if this run (any of its processes)
    started it."""
    go_marker = go_state_dir(state_dir) / "started-by-run"
    if go_marker.is_file() and go_marker.read_text() == run_id:
        from xtdf.harness import go_platform

        go_platform.stop(go_state_dir(state_dir))
        go_marker.unlink(missing_ok=True)
        return True
    marker = state_dir / "started-by-run"
    if marker.is_file() and marker.read_text() == run_id:
        _xtdf("stop", state_dir=state_dir)
        marker.unlink(missing_ok=True)
        return True
    return False
