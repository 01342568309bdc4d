"""``xtdf platform start|stop|status --impl go``: OpenTDF's Go platform, by hand.

The same stack the suite starts with ``PLATFORM=go`` (harness/go_platform.py): PostgreSQL,
xtdf's IdP and the Go server built by ``make platform-go``, on upstream's ports unless
given, state in ``.xtdf/go-platform``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xtdf.errors import UsageError

DEFAULT_STATE_DIR = Path(".xtdf/go-platform")
#: options of our platform that the Go stack does not take
_XTDF_ONLY = ("config", "host", "public_host", "event_loops")


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else DEFAULT_STATE_DIR


def _print_urls(urls: dict[str, str]) -> None:
    for name, url in urls.items():
        sys.stdout.write(f"  {name:<12} {url}\n")


def run_start(args: argparse.Namespace) -> int:
    from xtdf.harness import go_platform
    from xtdf.platform.config import DEFAULT_KAS_PORTS, parse_kas_ports

    for name in _XTDF_ONLY:
        if getattr(args, name, None):
            raise UsageError(f"--{name.replace('_', '-')} is not supported with --impl go")
    state = _state_dir(args)
    running = go_platform.status(state)
    if running:
        sys.stdout.write("Go platform already running:\n")
        _print_urls(running)
        return 0
    kas = parse_kas_ports(args.kas)
    ports = go_platform.Ports(
        platform=8080 if args.port is None else args.port,
        idp=8888 if args.idp_port is None else args.idp_port,
        kas=dict(DEFAULT_KAS_PORTS) if kas is None else kas,
    )
    extra = []
    for path in args.extra_keys or []:
        if not Path(path).is_file():
            raise UsageError(f"--extra-keys {path}: no such file")
        extra.append(Path(path).resolve())
    platform = go_platform.GoPlatform(state, ports, extra_keys=extra)
    urls = platform.start()
    sys.stdout.write(f"Go platform started; logs in {state}\n")
    _print_urls(urls)
    if args.platform_dir:
        for path in platform.publish_certificates(Path(args.platform_dir)):
            sys.stdout.write(f"  wrote {path}\n")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from xtdf.harness import go_platform

    stopped = go_platform.stop(_state_dir(args))
    sys.stdout.write("Go platform stopped\n" if stopped else "Go platform is not running\n")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from xtdf.cli.platform_cmd import NOT_RUNNING
    from xtdf.harness import go_platform

    urls = go_platform.status(_state_dir(args))
    if not urls:
        sys.stdout.write("Go platform is not running\n")
        return NOT_RUNNING
    sys.stdout.write("Go platform running:\n")
    _print_urls(urls)
    return 0
