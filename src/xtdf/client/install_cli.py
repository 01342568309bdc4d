"""Generate ``sdk/py/dist/<version>/cli.sh`` from the committed ``sdk/py/cli.sh.in``.

``dist/`` is git-ignored (upstream's layout puts built SDKs there), so the script is
made, not committed: this fills in the Python interpreter to ``exec`` and the
``supports`` answers from :mod:`xtdf.client.features`, and writes ``fingerprint-paths``
naming our source tree so the suite's ciphertext cache notices code changes.

    python -m xtdf.client.install_cli [--dest sdk/py/dist/main] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from xtdf.client.features import FEATURES
from xtdf.errors import UsageError

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "sdk" / "py" / "cli.sh.in"
DEFAULT_DEST = ROOT / "sdk" / "py" / "dist" / "main"


def render(template: str, python: str) -> str:
    if "'" in python:
        raise UsageError(f"python path may not contain a single quote: {python!r}")
    yes = "|".join(sorted(f for f, ok in FEATURES.items() if ok))
    no = "|".join(sorted(f for f, ok in FEATURES.items() if not ok))
    return (
        template.replace("@SUPPORTED@", yes)
        .replace("@UNSUPPORTED@", no)
        .replace("@PYTHON@", python)
    )


def install(
    dest: Path = DEFAULT_DEST, python: str | None = None, template: Path = TEMPLATE
) -> Path:
    """Write ``dest/cli.sh`` (executable) and ``dest/fingerprint-paths``; return the script."""
    python = python or sys.executable
    if not template.is_file():
        raise UsageError(f"cli.sh template not found: {template}")
    dest.mkdir(parents=True, exist_ok=True)
    script = dest / "cli.sh"
    tmp = dest / ".cli.sh.tmp"
    tmp.write_text(render(template.read_text(), python))
    tmp.chmod(0o755)
    os.replace(tmp, script)
    (dest / "fingerprint-paths").write_text(str(Path(__file__).resolve().parents[1]) + "\n")
    return script


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xtdf.client.install_cli", description=__doc__)
    p.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="directory for cli.sh")
    p.add_argument("--python", default=None, help="interpreter cli.sh runs (default: this one)")
    args = p.parse_args(argv)
    try:
        script = install(args.dest, args.python)
    except UsageError as err:
        sys.stderr.write(f"xtdf: {err}\n")
        return err.exit_code
    sys.stdout.write(f"installed {shlex.quote(str(script))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
