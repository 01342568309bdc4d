"""The attacks issue 15 measured, replayed against a platform of one's own:
``python -m xtdf.bench.limits``.

Before the limits, 20,000 half-open requests (headers never finished) made ``/healthz``
time out for 60 s, and six 100 MB request headers took the server to 551 MB RSS. This
opens the same half-open connections and sends the same headers, and reports what the
platform answered, how long ``/healthz`` took meanwhile (median of a few probes) and the
server's peak RSS. Figures, not assertions: the refusals themselves are tested in
``tests/platform/test_http_limits.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from xtdf.bench import procstat
from xtdf.harness import platform_env


def _healthz_ms(host: str, port: int, probes: int = 5, timeout: float = 60.0) -> dict[str, Any]:
    """GET /healthz on a new connection ``probes`` times: the median time of those answered
    200, and what the others got."""
    times: list[float] = []
    refused: dict[str, int] = {}
    for _ in range(probes):
        start = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                line = s.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
        except OSError as exc:
            line = type(exc).__name__
        if line.startswith("HTTP/1.1 200"):
            times.append((time.perf_counter() - start) * 1000)
        else:
            refused[line or "closed"] = refused.get(line or "closed", 0) + 1
    return {"median_ms": round(statistics.median(times), 1) if times else None, "not_200": refused}


def _status(sock: socket.socket) -> str:
    """The status line the server sent, or why there is none (BlockingIOError: not yet)."""
    try:
        head = sock.recv(64)
    except BlockingIOError:
        raise
    except OSError as exc:
        return type(exc).__name__
    return head.split(b"\r\n", 1)[0].decode("latin-1") or "closed"


def half_open(host: str, port: int, n: int) -> dict[str, Any]:
    """``n`` connections that start a request and never finish its headers."""
    socks: list[socket.socket] = []
    opened = time.perf_counter()
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
        socks.append(s)
    open_s = time.perf_counter() - opened
    during = _healthz_ms(host, port)
    # the ones past the connection cap were answered at once; the rest wait for the timeout
    answered: dict[str, int] = {}
    waiting: list[socket.socket] = []
    for s in socks:
        s.setblocking(False)
        try:
            line = _status(s)
        except BlockingIOError:
            waiting.append(s)
            continue
        answered[line] = answered.get(line, 0) + 1
    waited = time.perf_counter()
    late: dict[str, int] = {}
    for s in waiting:
        s.setblocking(True)
        s.settimeout(30)
        line = _status(s)
        late[line] = late.get(line, 0) + 1
    for s in socks:
        s.close()
    return {
        "connections": n,
        "open_seconds": round(open_s, 1),
        "healthz_ms_while_open": during,
        "answered_at_once": answered,
        "still_open": len(waiting),
        "answered_later": late,
        "later_within_s": round(time.perf_counter() - waited, 1),
        "healthz_ms_after": _healthz_ms(host, port),
    }


def huge_header(host: str, port: int, mib: int, count: int) -> dict[str, Any]:
    """``count`` requests, each with one header value of ``mib`` MiB."""
    chunk = b"a" * (1 << 20)
    outcomes: dict[str, int] = {}
    sent_mib: list[float] = []
    start = time.perf_counter()
    for _ in range(count):
        with socket.create_connection((host, port), timeout=30) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Big: ")
            sent = 0
            try:
                for _ in range(mib):
                    s.sendall(chunk)
                    sent += 1
            except OSError:
                pass  # the server answered and closed: the rest is not read
            sent_mib.append(sent)
            line = _status(s)
            outcomes[line] = outcomes.get(line, 0) + 1
    return {
        "requests": count,
        "header_mib": mib,
        "answers": outcomes,
        "mib_sent_before_close_median": statistics.median(sent_mib),
        "seconds": round(time.perf_counter() - start, 1),
    }


def run(connections: int, header_mib: int, headers: int) -> dict[str, Any]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    connections = min(connections, hard - 200)
    with tempfile.TemporaryDirectory(prefix="xtdf-bench-limits-") as tmp:
        state = Path(tmp) / "platform"
        st = platform_env.start_private(state)
        assert st.urls is not None and st.pid is not None
        url = urlsplit(st.urls["platform"])
        host, port = url.hostname or "127.0.0.1", url.port or 80
        try:
            out: dict[str, Any] = {"healthz_ms_idle": _healthz_ms(host, port)}
            out["half_open"] = half_open(host, port, connections)
            out["huge_headers"] = huge_header(host, port, header_mib, headers)
            out["healthz_ms_end"] = _healthz_ms(host, port)
            out["server_peak_rss_mib"] = round(procstat.peak_rss_mib(st.pid), 1)
        finally:
            from xtdf.platform import lifecycle

            lifecycle.stop(state)
    out["command"] = (
        f"python -m xtdf.bench.limits --connections {connections} "
        f"--header-mib {header_mib} --headers {headers}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xtdf.bench.limits", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--header-mib", type=int, default=100)
    parser.add_argument("--headers", type=int, default=6)
    args = parser.parse_args(argv)
    if min(args.connections, args.header_mib, args.headers) < 1:
        parser.error("--connections, --header-mib and --headers must be positive")
    print(json.dumps(run(args.connections, args.header_mib, args.headers), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
