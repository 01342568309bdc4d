"""``xtdf inspect FILE``: describe a ZTDF or NanoTDF as JSON."""

from __future__ import annotations

import argparse
import io
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print a JSON description of a ZTDF or NanoTDF")
    p.add_argument("file", help="a .tdf (zip) or NanoTDF file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xtdf.formats.inspect import describe

    # the whole text first, so that a failure part-way leaves stdout empty; json.dump into
    # a buffer keeps only the text (json.dumps also holds every token until it joins them,
    # five times the text), and one write to stdout is far faster than one per token
    text = io.StringIO()
    json.dump(describe(args.file), text, indent=2)
    text.write("\n")
    sys.stdout.write(text.getvalue())
    return 0
