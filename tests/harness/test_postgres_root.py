"""PostgreSQL must not run as root: the harness hands its directory to an unprivileged user.

In a user namespace (``unshare -r``, a common way to get a private network) we are root
without the right to chown; the start must then fail with one line saying so, not a bare
``OSError``, and leave no server behind.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SNIPPET = """
import sys
from pathlib import Path
from xtdf.errors import PlatformError
from xtdf.harness.postgres import Postgres
try:
    Postgres(Path(sys.argv[1]), Path(sys.argv[2]), 1).start()
except PlatformError as e:
    print(e)
    sys.exit(3)
"""


def test_root_without_chown_is_named(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-r", "true"]).returncode != 0:
        pytest.skip("needs `unshare -r` (user namespaces) to be root without chown")
    data = tmp_path / "pg" / "data"
    result = subprocess.run(
        [unshare, "-r", sys.executable, "-c", SNIPPET, str(tmp_path / "bin"), str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result
    assert "PostgreSQL must not run as root" in result.stdout
    assert "cannot hand" in result.stdout and "unshare -r" in result.stdout
    assert "Traceback" not in result.stderr
    assert not data.exists()
