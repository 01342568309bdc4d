"""Run one subcommand; every failure becomes one line on stderr and an exit status.

Shared by ``xtdf`` (after argparse has parsed its command line) and by ``cli.sh``, whose
options arrive already parsed from ``XT_WITH_*`` variables and so skip argparse's import
and parser building (about 12 ms of a 100 ms call).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from xtdf.errors import XtdfError

#: subcommand name -> module that registers it (``register``) and runs it (``run``)
COMMANDS: dict[str, str] = {
    "inspect": "xtdf.cli.inspect_cmd",
    "platform": "xtdf.cli.platform_cmd",
    "encrypt": "xtdf.cli.encrypt_cmd",
    "decrypt": "xtdf.cli.decrypt_cmd",
    "policy": "xtdf.cli.policy_cmd",
}


def run(func: Callable[[Any], int | None], args: Any) -> int:
    """``func(args)``'s exit status, or the status of the error it raised, reported."""
    try:
        return int(func(args) or 0)
    except XtdfError as err:
        sys.stderr.write(f"xtdf: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("xtdf: interrupted\n")
        return 130
    except OSError as err:
        sys.stderr.write(f"xtdf: {err.strerror or err}: {err.filename or ''}\n".rstrip() + "\n")
        return 1


def run_verb(verb: str, src: str, dst: str, options: Mapping[str, Any]) -> int:
    """``xtdf encrypt|decrypt SRC -o DST`` with ``options`` (argparse dest names) set and
    every other option at the command's ``DEFAULTS``."""
    module = importlib.import_module(COMMANDS[verb])
    args = SimpleNamespace(**{**module.DEFAULTS, **options, "src": src, "output": dst})
    return run(module.run, args)
