"""Run as a separate process by test_cache.py: one cache client doing one get_or_create."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from xtdf.harness.cache import SharedCache


def main() -> None:
    root, key, log, mode = sys.argv[1:5]
    start_gate = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    cache = SharedCache(root, run_id="race")

    def produce(tmp: Path) -> None:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        data = os.urandom(1 << 20)
        with open(tmp, "wb") as out:
            if mode == "stall":
                out.write(data[: len(data) // 2])
                out.flush()
                Path(log + ".ready").touch()
                time.sleep(60)
            time.sleep(0.3)
            out.write(data)

    if start_gate is not None:
        while not start_gate.exists():
            time.sleep(0.005)
    entry = cache.get_or_create(key, produce, suffix=".bin")
    sys.stdout.write(f"{entry}\n{cache.stats.hits} {cache.stats.misses} {cache.stats.waits}\n")


if __name__ == "__main__":
    main()
