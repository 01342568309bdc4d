"""Entry point: parse arguments, dispatch, and turn every XtdfError into one line.

Subcommand modules expose ``register(subparsers)``; each registered parser sets
``func``, called with the parsed namespace and returning an exit status. Modules are
imported lazily by name so that ``xtdf inspect`` does not pay for the platform's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from xtdf.cli.command import COMMANDS, run


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's usage errors: exit 2, one line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"xtdf: error: {message}\n")
        raise SystemExit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand, or just ``only``: each parser costs start-up time (argparse
    builds a help formatter per argument), and one call runs one subcommand."""
    parser = _Parser(prog="xtdf", description="OpenTDF reference tools and compatibility suite")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module in COMMANDS.items():
        if only is None or only == name:
            importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":
    raise SystemExit(main())
