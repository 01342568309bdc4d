"""The platform's root key survives a crash during first start, and a damaged one is named.

``root.key`` wraps every stored KAS private key; losing it loses them all, and a file that
exists but holds no key stops the platform from ever starting again.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xtdf.errors import FormatError
from xtdf.platform.policy.keys import RootKey

#: a first start that stops for good just before it has a key to write: the file must not
#: exist yet (the old code had created it empty by then)
_STALLED_START = """
import sys, time
from pathlib import Path
from xtdf.platform.policy import keys

def stall(n):
    Path(sys.argv[2]).touch()
    time.sleep(120)

keys.random_bytes = stall
keys.RootKey.load_or_create(Path(sys.argv[1]))
"""


def test_kill_during_first_start_leaves_no_root_key(tmp_path: Path) -> None:
    path, ready = tmp_path / "state" / "root.key", tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _STALLED_START, str(path), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, "the first start ended early"
            assert time.monotonic() < deadline, "the first start never got going"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert not path.exists(), "a killed first start must leave no root.key behind"
    key = RootKey.load_or_create(path)  # the next start makes one and keeps it
    assert RootKey.load_or_create(path).hex() == key.hex()
    leftovers = sorted(p.name for p in path.parent.iterdir() if p.name != "root.key")
    assert all(name.startswith(".root.key.") for name in leftovers), leftovers


def test_created_key_is_private_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    key = RootKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key.hex() + "\n" and len(key.hex()) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root.key"], "no temporary left"


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    barrier = threading.Barrier(8)
    seen: list[str] = []

    def start() -> None:
        barrier.wait()
        seen.append(RootKey.load_or_create(path).hex())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and len(set(seen)) == 1
    assert path.read_text().strip() == seen[0]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\n", "is empty"),
        (b"0123abcd", "holds 4 bytes, not 32"),
        (b"ab" * 31 + b"\n", "holds 31 bytes, not 32"),
        (b"zz" * 32, "is not 64 hex digits"),
    ],
)
def test_damaged_root_key_is_named_and_kept(tmp_path: Path, content: bytes, problem: str) -> None:
    """Never replaced: keys in the database may be wrapped by the key it once held."""
    path = tmp_path / "root.key"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=rf"root key file {path} {problem}") as info:
        RootKey.load_or_create(path)
    if problem == "is empty":
        assert "restore it" in str(info.value)
    assert path.read_bytes() == content


def test_unreadable_root_key_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.mkdir()
    with pytest.raises(FormatError, match=rf"cannot read root key file {path}"):
        RootKey.load_or_create(path)
