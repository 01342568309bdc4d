"""Start, stop and inspect a detached platform process through its state directory.

The serving process itself writes ``platform.pid`` (its pid) and ``platform.urls.json``
(where it listens) once its ports are bound, and removes both when it exits; ``start``
spawns ``xtdf platform serve`` in a new session with output to ``platform.log`` and waits
for ``/healthz``. Nothing here imports the server stack, so ``xtdf platform status`` stays
fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from xtdf.errors import PlatformError

#: environment variable that overrides the default state directory
STATE_DIR_ENV = "XTDF_STATE_DIR"
DEFAULT_STATE_DIR = Path(".xtdf/platform")

PID_FILE = "platform.pid"
URLS_FILE = "platform.urls.json"
LOG_FILE = "platform.log"


def default_state_dir() -> Path:
    env = os.environ.get(STATE_DIR_ENV)
    return Path(env) if env else DEFAULT_STATE_DIR


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None = None
    urls: dict[str, str] | None = None
    stale: bool = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # guard against a recycled pid
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            return True
        if b"serve" not in args or b"platform" not in args:
            return False
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return False
    return True


def status(state_dir: Path) -> Status:
    pid_path = state_dir / PID_FILE
    try:
        pid = int(pid_path.read_text().strip())
    except (OSError, ValueError):
        return Status(running=False)
    if not _alive(pid):
        return Status(running=False, pid=pid, stale=True)
    urls = None
    with contextlib.suppress(OSError, ValueError):
        urls = json.loads((state_dir / URLS_FILE).read_text())
    return Status(running=True, pid=pid, urls=urls)


def write_run_files(state_dir: Path, urls: dict[str, str]) -> None:
    """Called by the serving process once its ports are bound."""
    current = status(state_dir)
    if current.running and current.pid != os.getpid():
        raise PlatformError(f"a platform is already running from {state_dir} (pid {current.pid})")
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{URLS_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(urls, indent=2))
    os.replace(tmp, state_dir / URLS_FILE)
    tmp = state_dir / f".{PID_FILE}.{os.getpid()}"
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, state_dir / PID_FILE)


def remove_run_files(state_dir: Path, pid: int | None = None) -> None:
    """Remove the pid and URL files if they (still) belong to ``pid``."""
    pid_path = state_dir / PID_FILE
    if pid is not None:
        try:
            if int(pid_path.read_text().strip()) != pid:
                return
        except (OSError, ValueError):
            return
    for name in (PID_FILE, URLS_FILE):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def healthy(platform_url: str, timeout_s: float = 2.0) -> bool:
    """``/healthz`` answers 200, asked directly (a proxy from the environment never sees a
    loopback platform)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(platform_url.rstrip("/") + "/healthz", timeout=timeout_s) as r:
            return r.status == 200
    except (OSError, ValueError):  # URLError, timeouts and refused connections are OSErrors
        return False


def log_tail(state_dir: Path, lines: int = 15) -> str:
    try:
        text = (state_dir / LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def start(state_dir: Path, serve_args: list[str], timeout_s: float = 30.0) -> Status:
    """Spawn ``xtdf platform serve`` detached and wait until it answers ``/healthz``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / LOG_FILE
    cmd = [sys.executable, "-m", "xtdf.cli.main", "platform", "serve", *serve_args]
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            cmd,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise PlatformError(
                f"platform exited with status {code} while starting; "
                f"last lines of {log_path}:\n{log_tail(state_dir)}"
            )
        st = status(state_dir)
        if st.running and st.pid == proc.pid and st.urls and healthy(st.urls["platform"]):
            return st
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    raise PlatformError(
        f"platform did not become healthy within {timeout_s:.0f}s; "
        f"last lines of {log_path}:\n{log_tail(state_dir)}"
    )


def stop(state_dir: Path, timeout_s: float = 15.0) -> Status:
    """SIGTERM the running platform, wait for it, then clean its files."""
    st = status(state_dir)
    if not st.running or st.pid is None:
        if st.stale:
            remove_run_files(state_dir, st.pid)
        return st
    os.kill(st.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(st.pid):
        time.sleep(0.1)
    if _alive(st.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(st.pid, signal.SIGKILL)
        time.sleep(0.2)
    remove_run_files(state_dir, st.pid)
    return st
