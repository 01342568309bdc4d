"""``xtdf decrypt SRC -o DST``: decrypt a ZTDF or NanoTDF through the platform's KASes.

The output goes through :func:`xtdf.atomicfile.atomic_write`, so a refused or tampered
file leaves no output behind. Integrity failures are reported as tampering, naming the
failed check (upstream's suite looks for that wording).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xtdf.cli.encrypt_cmd import PLATFORM_DEFAULTS, add_platform_options, client_from_args
from xtdf.errors import IntegrityError

if TYPE_CHECKING:
    import argparse

#: every option's default; argparse gets them from here, and so does ``cli.sh``
DEFAULTS: dict[str, Any] = {
    "format": "auto",
    "ecwrap": False,
    "assertion_keys": "",
    "no_verify_assertions": False,
    "kas_allowlist": "",
    "ignore_kas_allowlist": False,
    **PLATFORM_DEFAULTS,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decrypt", help="decrypt a ZTDF or NanoTDF")
    p.add_argument("src", help="a .tdf (zip) or NanoTDF file")
    p.add_argument("-o", "--output", required=True, help="where to write the plaintext")
    p.add_argument("--format", choices=["auto", "ztdf", "nano"])
    p.add_argument("--ecwrap", action="store_true", help="ask the KAS for an EC session (ZTDF)")
    p.add_argument("--assertion-keys", help='{"keys": {ID: {alg, key}}} JSON, or a path to it')
    p.add_argument("--no-verify-assertions", action="store_true")
    p.add_argument("--kas-allowlist", help="comma-separated KAS URLs to trust ('*': any)")
    p.add_argument(
        "--ignore-kas-allowlist", action="store_true", help="trust any KAS the file names"
    )
    add_platform_options(p)
    p.set_defaults(func=run, **DEFAULTS)


def run(args: Any) -> int:
    from xtdf.atomicfile import atomic_write
    from xtdf.formats.inspect import sniff

    fmt = sniff(args.src) if args.format == "auto" else args.format
    try:
        with client_from_args(args) as client, open(args.src, "rb") as src:
            if fmt == "nano":
                from xtdf.client import nano

                options = nano.NanoDecryptOptions(
                    kas_allowlist=args.kas_allowlist,
                    ignore_kas_allowlist=args.ignore_kas_allowlist,
                )
                with atomic_write(args.output) as out:
                    nano.decrypt(client, src, out, options)
                return 0
            from xtdf.client import ztdf

            options = ztdf.DecryptOptions(
                ecwrap=args.ecwrap,
                assertion_keys=args.assertion_keys,
                verify_assertions=not args.no_verify_assertions,
                kas_allowlist=args.kas_allowlist,
                ignore_kas_allowlist=args.ignore_kas_allowlist,
            )
            with atomic_write(args.output) as out:
                ztdf.decrypt(client, src, out, options)
    except IntegrityError as err:
        # one line naming both the tampering and the failed check, e.g. RootSignatureError
        kind = type(err).__name__
        label = kind if kind == "IntegrityError" else f"IntegrityError: {kind}"
        err.args = (f"tamper detected: {err} ({label})",)
        raise
    return 0
