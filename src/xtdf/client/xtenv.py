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

from xtdf.errors import UsageError

#: FMT values: upstream sends ``ztdf`` and ``nano``; the full container names also work
FORMATS = {
    "ztdf": ("ztdf", []),
    "ztdf-ecwrap": ("ztdf", ["--ecwrap"]),
    "nano": ("nano", []),
    "nano-with-ecdsa": ("nano", ["--ecdsa-binding"]),
}
TRUE = {"true", "1", "yes", "on"}


def flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in TRUE


def argv_for(verb: str, src: str, dst: str, fmt: str, env: Mapping[str, str]) -> list[str]:
    """The ``xtdf`` argument list for one ``cli.sh`` call."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    base, extra = FORMATS[fmt]
    argv = [verb, src, "-o", dst, "--format", base, *extra]
    if flag(env, "XT_WITH_ECWRAP") and "--ecwrap" not in argv and base == "ztdf":
        argv.append("--ecwrap")
    if verb == "encrypt":
        if env.get("XT_WITH_MIME_TYPE"):
            argv += ["--mime-type", env["XT_WITH_MIME_TYPE"]]
        if env.get("XT_WITH_ATTRIBUTES"):
            argv += ["--attr", env["XT_WITH_ATTRIBUTES"]]
        if env.get("XT_WITH_ASSERTIONS"):
            argv += ["--assertions", env["XT_WITH_ASSERTIONS"]]
        if base == "nano" and flag(env, "XT_WITH_ECDSA_BINDING") and "--ecdsa-binding" not in argv:
            argv.append("--ecdsa-binding")
        if flag(env, "XT_WITH_PLAINTEXT_POLICY"):
            argv.append("--plaintext-policy")
        if base == "ztdf" and env.get("XT_WITH_TARGET_MODE"):
            argv += ["--target-mode", env["XT_WITH_TARGET_MODE"]]
    elif verb == "decrypt":
        if env.get("XT_WITH_ASSERTION_VERIFICATION_KEYS"):
            argv += ["--assertion-keys", env["XT_WITH_ASSERTION_VERIFICATION_KEYS"]]
        if env.get("XT_WITH_VERIFY_ASSERTIONS", "").strip().lower() == "false":
            argv.append("--no-verify-assertions")
        allowlist = env.get("XT_WITH_KAS_ALLOWLIST") or env.get("XT_WITH_KAS_ALLOW_LIST")
        if allowlist:
            argv += ["--kas-allowlist", allowlist]
        if flag(env, "XT_WITH_IGNORE_KAS_ALLOWLIST"):
            argv.append("--ignore-kas-allowlist")
    else:
        raise UsageError(f"unknown command {verb!r}; expected encrypt, decrypt or supports")
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
        xtdf_argv = argv_for(argv[0], argv[1], argv[2], argv[3], env)
    except UsageError as err:
        sys.stderr.write(f"xtdf: {err}\n")
        return err.exit_code
    if argv[0] == "decrypt" and FORMATS[argv[3]][0] == "ztdf":
        # the session key generates on the other core while the CLI imports
        from xtdf.client import sessionkey

        sessionkey.start(ec_session="--ecwrap" in xtdf_argv)
    from xtdf.cli.main import main as xtdf_main

    return xtdf_main(xtdf_argv)


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
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    try:
        status = main()
    except SystemExit as stop:  # argparse's usage errors and --help
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            sys.stderr.write(f"{stop.code}\n")
    exit_now(status)
