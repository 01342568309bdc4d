"""OpenTDF's Go platform as a second platform under test, started and stopped by xtdf.

Three parts, in this order: a PostgreSQL server (harness/postgres.py), xtdf's own IdP (our
platform started with no extra KAS, its tokens also carrying the Go platform's URL in
``aud``) and the Go server built by ``make platform-go``, configured by us from the facts of
upstream's ``opentdf-dev.yaml``: KAS keys RSA ``r1`` and EC ``ec1`` generated at set-up,
entity resolution in ``claims`` mode (entities are the token's claims, so no Keycloak admin
API is needed), casbin's ``opentdf-admin``/``opentdf-standard`` groups, and optionally the
KAS-only instances of upstream's ``start-additional-kas`` on their own ports.

A failed start stops whatever it had started and raises ``PlatformError`` with one line
naming the cause (port taken, database not ready, binary missing, not healthy in time).
``stop`` works from any process: what is running is recorded in ``go-platform.json``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xtdf.atomicfile import atomic_write
from xtdf.errors import PlatformError
from xtdf.harness.postgres import Postgres, data_dir_for
from xtdf.platform.lifecycle import healthy

#: where platform/go/ (go.mk, dist/) is: the project root, unless overridden
PROJECT_ROOT = Path(os.environ.get("XTDF_PROJECT_ROOT") or Path(__file__).resolve().parents[3])
RUN_FILE = "go-platform.json"
HEALTH_TIMEOUT_S = 120.0
#: roles of our IdP's clients mapped to the Go platform's casbin roles (upstream's dev config)
ROLE_EXTENSION = "g, opentdf-admin, role:admin\ng, opentdf-standard, role:standard"
#: KAS-only instances that serve keys from the KAS registry, as upstream's xtest starts its
#: km1/km2 with key_management and the root key
KEY_MANAGED = frozenset({"km1", "km2"})


@dataclass(frozen=True)
class Installation:
    """The built server and the unpacked PostgreSQL of one ``make platform-go``."""

    version: str
    binary: Path
    postgres_bin: Path

    @classmethod
    def find(cls, root: Path = PROJECT_ROOT) -> Installation:
        mk = root / "platform" / "go" / "go.mk"
        try:
            text = mk.read_text()
        except OSError:
            raise PlatformError(f"Go platform pins missing: {mk}") from None
        m = re.search(r"^PLATFORM_GO_VERSION\s*:=\s*(\S+)", text, re.M)
        if not m:
            raise PlatformError(f"no PLATFORM_GO_VERSION in {mk}")
        dist = root / "platform" / "go" / "dist" / m.group(1)
        binary = dist / "opentdf"
        if not (dist / ".installed").is_file() or not os.access(binary, os.X_OK):
            raise PlatformError(f"Go platform binary missing ({binary}): run `make platform-go`")
        try:
            pg = (dist / (dist / "postgres-bin").read_text().strip()).resolve()
        except OSError:
            raise PlatformError(
                f"PostgreSQL location missing in {dist}: run `make platform-go`"
            ) from None
        return cls(m.group(1), binary, pg)


@dataclass
class Ports:
    """0 means any free port (tests); the matrix uses upstream's fixed ones."""

    platform: int = 0
    idp: int = 0
    postgres: int = 0
    #: KAS-only instances, name -> port, as our platform's ``kas_ports``
    kas: dict[str, int] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _claim(port: int, what: str) -> int:
    """A free port for ``what``: ``port`` itself if non-zero (else one line saying it is
    taken), any free port for 0."""
    if port == 0:
        return _free_port()
    with socket.socket() as s:
        # as the servers will bind: a port whose last connections are in TIME_WAIT is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PlatformError(f"port {port} ({what}) is taken") from None
            raise PlatformError(f"port {port} ({what}): {exc.strerror}") from None
    return port


def _write_keys(key_dir: Path) -> dict[str, Path]:
    """RSA ``r1`` and P-256 ``ec1`` with self-signed certificates, made once per state."""
    from xtdf.crypto import ec, rsa
    from xtdf.crypto.keys import private_pem
    from xtdf.crypto.x509 import self_signed_pem

    paths = {
        "rsa": key_dir / "kas-private.pem",
        "rsa_cert": key_dir / "kas-cert.pem",
        "ec": key_dir / "kas-ec-private.pem",
        "ec_cert": key_dir / "kas-ec-cert.pem",
    }
    if all(p.is_file() for p in paths.values()):
        return paths
    key_dir.mkdir(parents=True, exist_ok=True)
    for name, key in (("rsa", rsa.generate(2048)), ("ec", ec.generate("secp256r1"))):
        for path, text in ((paths[name], private_pem(key)), (paths[f"{name}_cert"], None)):
            body = text if text is not None else self_signed_pem(key)
            with atomic_write(path, fsync=False) as fh:  # 0600 from its first byte
                fh.write(body.encode())
    return paths


def _write_extra_keys(key_dir: Path, files: list[Path]) -> list[dict[str, str]]:
    """Each ``[{kid, alg, privateKey, cert}]`` entry as PEM files the Go server reads; a bad
    file is one line naming it."""
    from xtdf.crypto.keys import load_private_pem
    from xtdf.crypto.x509 import self_signed_pem

    out: list[dict[str, str]] = []
    for source in files:
        try:
            entries = json.loads(Path(source).read_text())
            if not isinstance(entries, list):
                raise ValueError("not a list of keys")
            for e in entries:
                kid, alg, private = str(e["kid"]), str(e["alg"]), str(e["privateKey"])
                if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", kid):
                    raise ValueError(f"kid {kid!r} is not a plain name")
                cert = e.get("cert") or self_signed_pem(load_private_pem(private))
                key_dir.mkdir(parents=True, exist_ok=True)
                priv_path, cert_path = key_dir / f"extra-{kid}.pem", key_dir / f"extra-{kid}.crt"
                with atomic_write(priv_path, fsync=False) as fh:
                    fh.write(private.encode())
                cert_path.write_text(cert)
                out.append(
                    {"kid": kid, "alg": alg, "private": str(priv_path), "cert": str(cert_path)}
                )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PlatformError(f"extra keys {source}: {exc}") from None
    return out


def go_config(
    *,
    port: int,
    issuer: str,
    audience: str,
    pg_port: int,
    keys: dict[str, Path],
    root_key: str,
    kas_only: bool = False,
    core_url: str = "",
    key_management: bool = False,
    extra: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """The Go server's configuration (JSON, which its YAML loader reads as is)."""
    url = f"http://localhost:{port}"
    kas: dict[str, object] = {
        # as the KAS registry lists it (our platform's instance URLs): a key-managed KAS finds
        # its keys in the registry under this URI
        "registered_kas_uri": f"{url}/kas",
        "ec_tdf_enabled": True,
        "preview": {"ec_tdf_enabled": True, "key_management": key_management},
        "keyring": [
            {"kid": "ec1", "alg": "ec:secp256r1"},
            {"kid": "ec1", "alg": "ec:secp256r1", "legacy": True},
            {"kid": "r1", "alg": "rsa:2048"},
            {"kid": "r1", "alg": "rsa:2048", "legacy": True},
            *({"kid": e["kid"], "alg": e["alg"], "legacy": True} for e in extra or []),
        ],
    }
    if key_management or not kas_only:
        kas["root_key"] = root_key
    config: dict[str, object] = {
        "logger": {"level": "info", "type": "text", "output": "stdout"},
        "mode": ["kas"] if kas_only else ["all"],
        "db": {
            "host": "127.0.0.1",
            "port": pg_port,
            "user": "postgres",
            "password": "",
            "database": "opentdf",
            "sslmode": "disable",
        },
        "services": {"kas": kas, "entityresolution": {"mode": "claims"}},
        "server": {
            "public_hostname": "localhost",
            "port": port,
            "tls": {"enabled": False},
            "auth": {
                "enabled": True,
                "enforceDPoP": False,
                "audience": audience,
                "issuer": issuer,
                "policy": {"extension": ROLE_EXTENSION},
            },
            "cryptoProvider": {
                "type": "standard",
                "standard": {
                    "keys": [
                        {
                            "kid": "r1",
                            "alg": "rsa:2048",
                            "private": str(keys["rsa"]),
                            "cert": str(keys["rsa_cert"]),
                        },
                        {
                            "kid": "ec1",
                            "alg": "ec:secp256r1",
                            "private": str(keys["ec"]),
                            "cert": str(keys["ec_cert"]),
                        },
                        *(dict(e) for e in extra or []),
                    ]
                },
            },
        },
    }
    if kas_only:
        config["sdk_config"] = {
            "client_id": "opentdf",
            "client_secret": "secret",
            "core": {"endpoint": core_url, "plaintext": True},
        }
    return config


class GoPlatform:
    """The Go platform stack in ``state_dir``; ``start`` then ``stop``, or ``with``."""

    def __init__(
        self, state_dir: Path, ports: Ports | None = None, extra_keys: list[Path] | None = None
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.ports = ports or Ports()
        #: upstream ``extra-keys.json`` files: legacy (decrypt-only) keys of every KAS,
        #: in its configuration, as upstream's CI loads the golden keys
        self.extra_keys = list(extra_keys or [])
        self.urls: dict[str, str] = {}
        self._procs: dict[str, int] = {}
        self._postgres: Postgres | None = None
        self._idp_dir = self.state_dir / "idp"

    def __enter__(self) -> GoPlatform:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- start ------------------------------------------------------------------------

    def start(self, timeout_s: float = HEALTH_TIMEOUT_S) -> dict[str, str]:
        """Start everything and return its URLs; on any failure stop what was started."""
        install = Installation.find()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if status(self.state_dir) is not None:
            raise PlatformError(f"a Go platform is already running from {self.state_dir}")
        stop(self.state_dir)  # what a start that died half-way left running
        ports = self.ports
        plat = _claim(ports.platform, "Go platform")
        idp = _claim(ports.idp, "IdP")
        pg = _claim(ports.postgres, "PostgreSQL")
        kas = {name: _claim(p, f"KAS {name}") for name, p in ports.kas.items()}
        try:
            self._postgres = Postgres(install.postgres_bin, data_dir_for(self.state_dir), pg)
            self._record(pg_port=pg)
            self._postgres.start()
            platform_url = f"http://localhost:{plat}"
            issuer = self._start_idp(idp, platform_url)
            keys = _write_keys(self.state_dir / "keys")
            extra = _write_extra_keys(self.state_dir / "keys", self.extra_keys)
            root_key = self._root_key()
            cfg = go_config(
                port=plat,
                issuer=issuer,
                audience=platform_url,
                pg_port=pg,
                keys=keys,
                root_key=root_key,
                extra=extra,
            )
            self._spawn("platform", install.binary, cfg, platform_url, timeout_s)
            self.urls = {
                "platform": platform_url,
                "idp": issuer,
                "kas default": f"{platform_url}/kas",
            }
            for name, port in kas.items():
                url = f"http://localhost:{port}"
                cfg = go_config(
                    port=port,
                    issuer=issuer,
                    audience=platform_url,
                    pg_port=pg,
                    keys=keys,
                    root_key=root_key,
                    kas_only=True,
                    core_url=platform_url,
                    key_management=name in KEY_MANAGED,
                    extra=extra,
                )
                self._spawn(f"kas-{name}", install.binary, cfg, url, timeout_s)
                self.urls[f"kas {name}"] = f"{url}/kas"
            self._record(pg_port=pg)
            self._register_kases()
        except BaseException:
            self.stop()
            raise
        return self.urls

    def _register_kases(self) -> None:
        """Each KAS in the Go platform's KAS registry under our platform's instance names
        (``default``, ``value1``, ...), as ours registers its own: the suite's policy
        grants and key assignments name them. Already registered ones are left alone."""
        from xtdf.platform.admin import PolicyAdmin

        with PolicyAdmin(self.urls["platform"], "opentdf", "secret") as admin:
            have = {k.get("uri", "").rstrip("/") for k in admin.list_kas()}
            for label, url in self.urls.items():
                if label.startswith("kas ") and url not in have:
                    admin.register_kas(url, label.removeprefix("kas "))

    def publish_certificates(self, directory: Path) -> list[Path]:
        """Copy the KAS's certificates where upstream's suite reads them (``PLATFORM_DIR``:
        ``kas-cert.pem``, ``kas-ec-cert.pem``); the names are upstream's, as in ``keys/``."""
        directory.mkdir(parents=True, exist_ok=True)
        out = []
        for name in ("kas-cert.pem", "kas-ec-cert.pem"):
            source = self.state_dir / "keys" / name
            if not source.is_file():
                raise PlatformError(f"{source}: no certificate (start the platform first)")
            with atomic_write(directory / name, fsync=False) as fh:
                fh.write(source.read_bytes())
            out.append(directory / name)
        return out

    @property
    def root_key(self) -> str:
        """The platform's root key (hex): what wraps managed keys, as upstream's
        ``OT_ROOT_KEY``."""
        return self._root_key()

    def _root_key(self) -> str:
        path = self.state_dir / "keys" / "root_key"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as fh:
                fh.write(secrets.token_hex(32).encode())
        return path.read_text().strip()

    def _start_idp(self, port: int, platform_url: str) -> str:
        """Our platform, for its IdP: its tokens' ``aud`` also names the Go platform."""
        from xtdf.platform import lifecycle

        self._idp_dir.mkdir(parents=True, exist_ok=True)
        cfg = self._idp_dir / "idp-config.json"
        cfg.write_text(json.dumps({"extra_audiences": [platform_url]}))
        args = ["--state-dir", str(self._idp_dir), "--port", "0", "--idp-port", str(port)]
        args += ["--kas", "none", "--event-loops", "1", "--config", str(cfg)]
        try:
            st = lifecycle.start(self._idp_dir, args, timeout_s=60)
        except PlatformError as exc:
            raise PlatformError(f"IdP (xtdf platform) did not start: {exc}") from None
        assert st.urls is not None
        return st.urls["idp"]

    def _spawn(
        self, name: str, binary: Path, cfg: dict[str, object], url: str, timeout_s: float
    ) -> None:
        cfg_path = self.state_dir / f"opentdf-{name}.yaml"
        cfg_path.write_text(json.dumps(cfg, indent=1))
        log_path = self.state_dir / f"{name}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(binary), "start", "--config-file", str(cfg_path)],
                cwd=self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[name] = proc.pid
        self._record()
        deadline = time.monotonic() + timeout_s
        while not healthy(url):
            code = proc.poll()
            if code is not None:
                raise PlatformError(
                    f"Go {name} exited with status {code} at start: {_last_error(log_path)}"
                )
            if time.monotonic() > deadline:
                raise PlatformError(
                    f"Go {name} not healthy at {url} within {timeout_s:.0f} s (log {log_path})"
                )
            time.sleep(0.2)

    def _record(self, pg_port: int | None = None) -> None:
        run = self.state_dir / RUN_FILE
        data: dict[str, object] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(run.read_text())
        data["pids"] = dict(self._procs)
        data["urls"] = dict(self.urls)
        if self._postgres is not None:
            data["postgres"] = {
                "bin": str(self._postgres.bin_dir),
                "data": str(self._postgres.data_dir),
                "port": pg_port or self._postgres.port,
            }
        with atomic_write(run, fsync=False) as fh:
            fh.write(json.dumps(data).encode())

    def pid(self, name: str = "platform") -> int:
        """The process id of one Go server (``platform`` or ``kas-<name>``)."""
        return self._procs[name]

    def stop(self) -> None:
        stop(self.state_dir)
        self._procs.clear()


def _last_error(log_path: Path) -> str:
    """The last line of the Go server's log that says why (its errors are JSON or text)."""
    try:
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return f"see {log_path}"
    for line in reversed(lines):
        if "error" in line.lower() or "fatal" in line.lower() or "panic" in line.lower():
            return line.strip()[:400]
    return (lines[-1].strip()[:400] if lines else "no output") + f" (log {log_path})"


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _terminate(pids: list[int], timeout_s: float = 15.0) -> None:
    """SIGTERM every server's process group at once, then SIGKILL what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    left = [p for p in pids if not _gone(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if not _gone(p)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _run_record(state_dir: Path) -> dict[str, Any]:
    """What the last start recorded in ``state_dir`` (pids, URLs, PostgreSQL), or {}."""
    try:
        data = json.loads((state_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pids(record: dict[str, Any]) -> dict[str, int]:
    return {name: int(pid) for name, pid in (record.get("pids") or {}).items()}


def server_pids(state_dir: Path) -> dict[str, int]:
    """The recorded Go servers' processes by name (``platform``, ``kas-<name>``)."""
    return _pids(_run_record(state_dir))


def status(state_dir: Path) -> dict[str, str] | None:
    """The URLs of the stack running from ``state_dir``, or None.

    Running means started to the end (URLs recorded) with every Go server's process alive:
    judged by the processes, not by ``/healthz``, which a loaded machine can answer late
    (a second start on a slow answer would stop the running stack under its users)."""
    record = _run_record(state_dir)
    urls = record.get("urls") or {}
    pids = list(_pids(record).values())
    if not urls.get("platform") or not pids or any(_gone(p) for p in pids):
        return None
    return urls


def stop(state_dir: Path) -> bool:
    """Stop every part recorded in ``state_dir`` (Go servers, IdP, PostgreSQL); True when
    something was recorded."""
    from xtdf.platform import lifecycle

    state_dir = state_dir.resolve()
    run = state_dir / RUN_FILE
    data = _run_record(state_dir)
    errors: list[str] = []
    if data:
        _terminate(list(_pids(data).values()))
    with contextlib.suppress(PlatformError):
        lifecycle.stop(state_dir / "idp")
    pg = data.get("postgres")
    if pg:
        try:
            Postgres(Path(pg["bin"]), Path(pg["data"]), int(pg["port"])).stop()
        except PlatformError as exc:
            errors.append(str(exc))
    run.unlink(missing_ok=True)
    if errors:
        raise PlatformError(errors[0])
    return bool(data)
