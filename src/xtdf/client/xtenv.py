"""Upstream's ``cli.sh`` contract, translated into ``xtdf encrypt`` / ``xtdf decrypt`` flags.

Upstream's suite calls ``cli.sh encrypt|decrypt SRC DST FMT`` and passes every option in
``XT_WITH_*`` environment variables (opentdf/tests ``xtest/tdfs.py``). Doing the mapping
in Python (not in the shell script) keeps it testable and keeps ``cli.sh`` to one
``exec``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from xtdf.errors import UsageError

#: FMT values: upstream sends ``ztdf`` and ``nano``; the full container names also work
FORMATS = {"ztdf": "ztdf", "ztdf-ecwrap": "ztdf", "nano": "nano", "nano-with-ecdsa": "nano"}
TRUE = {"true", "1", "yes", "on"}


def flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in TRUE


def options_for(verb: str, fmt: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``xtdf encrypt|decrypt`` options (argparse dest names) one ``cli.sh`` call asks
    for, in command-line order; options left at their defaults are absent."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    base = FORMATS[fmt]
    opts: dict[str, Any] = {"format": base}
    if base == "ztdf" and (fmt == "ztdf-ecwrap" or flag(env, "XT_WITH_ECWRAP")):
        opts["ecwrap"] = True
    if verb == "encrypt":
        for name, dest in (
            ("XT_WITH_MIME_TYPE", "mime_type"),
            ("XT_WITH_ATTRIBUTES", "attr"),
            ("XT_WITH_ASSERTIONS", "assertions"),
        ):
            if env.get(name):
                opts[dest] = env[name]
        # the ECDSA policy binding is the writer's choice; a reader takes either binding
        if base == "nano" and (fmt == "nano-with-ecdsa" or flag(env, "XT_WITH_ECDSA_BINDING")):
            opts["ecdsa_binding"] = True
        if flag(env, "XT_WITH_PLAINTEXT_POLICY"):
            opts["plaintext_policy"] = True
        if base == "ztdf" and env.get("XT_WITH_TARGET_MODE"):
            opts["target_mode"] = env["XT_WITH_TARGET_MODE"]
    elif verb == "decrypt":
        if env.get("XT_WITH_ASSERTION_VERIFICATION_KEYS"):
            opts["assertion_keys"] = env["XT_WITH_ASSERTION_VERIFICATION_KEYS"]
        if env.get("XT_WITH_VERIFY_ASSERTIONS", "").strip().lower() == "false":
            opts["no_verify_assertions"] = True
        allowlist = env.get("XT_WITH_KAS_ALLOWLIST") or env.get("XT_WITH_KAS_ALLOW_LIST")
        if allowlist:
            opts["kas_allowlist"] = allowlist
        if flag(env, "XT_WITH_IGNORE_KAS_ALLOWLIST"):
            opts["ignore_kas_allowlist"] = True
    else:
        raise UsageError(f"unknown command {verb!r}; expected encrypt, decrypt or supports")
    return opts


def argv_for(verb: str, src: str, dst: str, fmt: str, env: Mapping[str, str]) -> list[str]:
    """The ``xtdf`` command line equivalent to one ``cli.sh`` call."""
    opts = options_for(verb, fmt, env)
    argv = [verb, src, "-o", dst]
    for dest, value in opts.items():
        argv.append("--" + dest.replace("_", "-"))
        if value is not True:
            argv.append(value)
    return argv


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """``cli.sh`` body: ``supports FEATURE`` or ``encrypt|decrypt SRC DST FMT``."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    if len(argv) == 2 and argv[0] == "supports":
        from xtdf.client.features import supports

        return supports(argv[1])
    try:
        if len(argv) != 4:
            raise UsageError("usage: cli.sh encrypt|decrypt SRC DST FMT | cli.sh supports FEATURE")
        verb, src, dst, fmt = argv
        opts = options_for(verb, fmt, env)
    except UsageError as err:
        sys.stderr.write(f"xtdf: {err}\n")
        return err.exit_code
    if verb == "decrypt" and opts["format"] == "ztdf":
        # the session key generates on the other core while the CLI imports
        from xtdf.client import sessionkey

        sessionkey.start(ec_session=bool(opts.get("ecwrap")))
    # straight to the command, past argparse: it costs ~12 ms to import and build
    # (gettext included), and these options are already parsed
    from xtdf.cli import command

    return command.run_verb(verb, src, dst, opts)


def exit_now(code: int) -> None:
    """End a ``cli.sh`` process without interpreter teardown.

    Unloading the ~300 modules a call imports takes about 12 ms, a tenth of a small
    encrypt; the outputs are already closed and renamed by then, so only the standard
    streams need flushing. The session-key thread, if a failure left it running, dies
    with the process instead of being waited for.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, or None when fd was closed
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    try:
        status = main()
    except SystemExit as stop:  # sys.exit() from below keeps its status and message
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            sys.stderr.write(f"{stop.code}\n")
    exit_now(status)
