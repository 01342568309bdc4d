"""``xtdf inspect FILE``: describe a ZTDF or NanoTDF as JSON."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print a JSON description of a ZTDF or NanoTDF")
    p.add_argument("file", help="a .tdf (zip) or NanoTDF file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xtdf.formats.inspect import describe

    json.dump(describe(args.file), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
