"""Where each process of a run spends its time, so harness overhead is a measured figure.

Every ``cli.sh`` call and the wait for the platform are timed here; the rest of a worker's
session is the harness itself (pytest, fixtures, file checks, cache locks) or idling. The
controller adds the workers up (``MatrixReport``) and ``xtdf.bench.matrix`` reports
``1 - (SDK + platform seconds) / (workers x wall)`` as the overhead share.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Clock:
    """Seconds and call counts by activity (``sdk:encrypt``, ``platform:start``, ...)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    @contextmanager
    def timing(self, activity: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[activity] += time.perf_counter() - start
            self.calls[activity] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_seconds": round(time.perf_counter() - self.started, 3),
            "seconds": {k: round(v, 3) for k, v in sorted(self.seconds.items())},
            "calls": dict(sorted(self.calls.items())),
        }


#: one per process: pytest-xdist workers are processes, so nothing here is shared
CLOCK = Clock()


def restart() -> None:
    """Start counting afresh (a new session in the same process, as pytester runs do)."""
    global CLOCK
    CLOCK = Clock()
