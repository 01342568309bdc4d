"""``xtdf platform serve|start|stop|status``: run the local OpenTDF platform.

``serve`` runs in the foreground; ``start`` runs ``serve`` detached and returns once it is
healthy (and is a no-op when one is already running); ``stop`` ends it; ``status`` exits 0
when running and 3 when not. Only ``serve`` imports the server stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xtdf.errors import UsageError

#: exit status of ``status`` when no platform is running (LSB's "program is not running")
NOT_RUNNING = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platform", help="run the local OpenTDF platform (IdP, KAS, policy)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    for name, func, text in (
        ("serve", run_serve, "serve in the foreground until SIGTERM/SIGINT"),
        ("start", run_start, "serve in the background; wait until healthy"),
        ("stop", run_stop, "stop the background platform"),
        ("status", run_status, "exit 0 if running, 3 if not"),
    ):
        a = actions.add_parser(name, help=text)
        a.add_argument(
            "--state-dir",
            type=Path,
            help="state directory (default $XTDF_STATE_DIR or .xtdf/platform)",
        )
        if name in ("serve", "start"):
            _server_options(a)
        if name != "serve":
            a.add_argument(
                "--impl",
                choices=("xtdf", "go"),
                default="xtdf",
                help="xtdf (default) or go: OpenTDF's Go platform built by `make platform-go`, "
                "with PostgreSQL and xtdf's IdP (state in .xtdf/go-platform)",
            )
        a.set_defaults(func=func)


def _server_options(a: argparse.ArgumentParser) -> None:
    a.add_argument("--config", type=Path, help="JSON file of PlatformConfig fields")
    a.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    a.add_argument("--public-host", help="host name in URLs given to clients (default localhost)")
    a.add_argument("--port", type=int, help="platform port (default 8080; 0 = any free port)")
    a.add_argument("--idp-port", type=int, help="IdP port (default 8888; 0 = any free port)")
    a.add_argument(
        "--kas",
        action="append",
        metavar="NAME=PORT",
        help="extra KAS instance port (repeatable); '--kas none' for no extra KAS",
    )
    a.add_argument(
        "--extra-keys",
        action="append",
        type=Path,
        metavar="FILE",
        help="upstream extra-keys.json to import at start as legacy keys (decrypt only; "
        "repeatable), as upstream's CI loads the golden key",
    )
    a.add_argument(
        "--platform-dir",
        type=Path,
        metavar="DIR",
        help="write the KAS public keys there at start as kas-cert.pem and kas-ec-cert.pem "
        "(where upstream's suite reads them: its PLATFORM_DIR)",
    )
    a.add_argument(
        "--event-loops",
        type=int,
        metavar="N",
        help="serve from N event loops on N threads (default 2: the second keeps a core busy with "
        "the RSA and EC work of rewraps while the first runs Python)",
    )


def _state_dir(args: argparse.Namespace) -> Path:
    from xtdf.platform.lifecycle import default_state_dir

    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _forwarded(args: argparse.Namespace, state_dir: Path) -> list[str]:
    out = ["--state-dir", str(state_dir.resolve())]
    if args.config:
        out += ["--config", str(Path(args.config).resolve())]
    for flag, value in (
        ("--host", args.host),
        ("--public-host", args.public_host),
        ("--port", args.port),
        ("--idp-port", args.idp_port),
        ("--event-loops", args.event_loops),
    ):
        if value is not None:
            out += [flag, str(value)]
    for spec in args.kas or []:
        out += ["--kas", spec]
    for path in args.extra_keys or []:
        out += ["--extra-keys", str(Path(path).resolve())]
    if args.platform_dir:
        out += ["--platform-dir", str(Path(args.platform_dir).resolve())]
    return out


def build_config(args: argparse.Namespace):  # -> PlatformConfig (lazy import)
    from pydantic import ValidationError

    from xtdf.platform.config import PlatformConfig, parse_kas_ports

    fields: dict[str, object] = {}
    if args.config:
        try:
            fields.update(json.loads(Path(args.config).read_text()))
        except ValueError as exc:
            raise UsageError(f"--config {args.config} is not valid JSON: {exc}") from None
    fields["state_dir"] = _state_dir(args)
    for key, value in (
        ("bind_host", args.host),
        ("public_host", args.public_host),
        ("platform_port", args.port),
        ("idp_port", args.idp_port),
        ("kas_ports", parse_kas_ports(args.kas)),
        ("event_loops", args.event_loops),
        ("platform_dir", args.platform_dir),
    ):
        if value is not None:
            fields[key] = value
    for path in args.extra_keys or []:
        if not Path(path).is_file():
            raise UsageError(f"--extra-keys {path}: no such file")
        fields.setdefault("extra_keys", []).append(Path(path).resolve())
    try:
        return PlatformConfig(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise UsageError(f"invalid platform config {where}: {first.get('msg')}") from None


def _print_urls(urls: dict[str, str] | None) -> None:
    for name, url in (urls or {}).items():
        sys.stdout.write(f"  {name:<12} {url}\n")


def run_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    from xtdf.platform import lifecycle
    from xtdf.platform.server import PlatformServer

    config = build_config(args)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = PlatformServer(config)
    state = server.config.state_dir
    try:
        lifecycle.write_run_files(state, server.urls())
    except BaseException:
        server.close_sockets()
        raise
    try:
        sys.stdout.write(f"xtdf platform serving (pid {os.getpid()}):\n")
        _print_urls(server.urls())
        sys.stdout.flush()
        server.serve_forever()
    finally:
        lifecycle.remove_run_files(state, os.getpid())
    return 0


def run_start(args: argparse.Namespace) -> int:
    if args.impl == "go":
        from xtdf.cli import go_platform_cmd

        return go_platform_cmd.run_start(args)
    from xtdf.platform import lifecycle

    state = _state_dir(args)
    config = build_config(args)  # refuse bad options here, not in the detached process
    current = lifecycle.status(state)
    if current.running:
        sys.stdout.write(f"xtdf platform already running (pid {current.pid}):\n")
        _print_urls(current.urls)
        return 0
    from xtdf.platform.ports import check_free

    ports = {"platform": config.platform_port, "IdP": config.idp_port}
    ports.update({f"KAS {n}": p for n, p in config.kas_ports.items()})
    check_free(config.bind_host, ports)
    st = lifecycle.start(state, _forwarded(args, state))
    sys.stdout.write(f"xtdf platform started (pid {st.pid}); log {state / lifecycle.LOG_FILE}\n")
    _print_urls(st.urls)
    return 0


def run_stop(args: argparse.Namespace) -> int:
    if args.impl == "go":
        from xtdf.cli import go_platform_cmd

        return go_platform_cmd.run_stop(args)
    from xtdf.platform import lifecycle

    state = _state_dir(args)
    st = lifecycle.stop(state)
    if not st.running:
        sys.stdout.write("xtdf platform is not running\n")
        return 0
    sys.stdout.write(f"xtdf platform stopped (pid {st.pid})\n")
    return 0


def run_status(args: argparse.Namespace) -> int:
    if args.impl == "go":
        from xtdf.cli import go_platform_cmd

        return go_platform_cmd.run_status(args)
    from xtdf.platform import lifecycle

    st = lifecycle.status(_state_dir(args))
    if not st.running:
        note = f" (stale pid file, pid {st.pid})" if st.stale else ""
        sys.stdout.write(f"xtdf platform is not running{note}\n")
        return NOT_RUNNING
    sys.stdout.write(f"xtdf platform running (pid {st.pid}):\n")
    _print_urls(st.urls)
    return 0
