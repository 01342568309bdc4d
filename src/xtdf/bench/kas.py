"""KAS rewrap throughput: ``python -m xtdf.bench.kas [--clients 1,8,32] [--requests N]``.

The platform runs as its own process on free ports, exactly as ``xtdf platform serve``
runs it (token verification, DPoP, policy binding and authorization all on). Each rewrap
is a real Connect ``Rewrap`` call (JSON, DPoP-bound token, a fresh DPoP proof, a signed
request token) for a ZTDF key access object wrapped with the KAS's RSA-2048 key under a
policy holding one attribute value the client is entitled to, so every call goes through
token, proof and request-token checks, the policy binding, the entitlement decision, the
RSA unwrap and an ECDH rewrap to the client's session key. Clients are threads spread over
two load processes, each with its own connection and token; every answer must be a permit
(each client's first, untimed call goes through the reference client, which unwraps it).

Beside it, in the same run: RSA-2048 OAEP decrypts per second on one core (the private-key
operation each rewrap must do) and P-256 ECDH per second, the physical limits to compare
with.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from xtdf.bench import procstat, report
from xtdf.harness import platform_env

NAMESPACE = "bench.xtdf.example"
TRANSPORTS = ("proto", "json")
LOAD_PROCESSES = 2


def rsa_decrypts_per_s(seconds: float = 1.0) -> float:
    """RSA-2048 OAEP unwraps per second on one core, with the KAS's own primitive."""
    from xtdf.crypto import rsa as xrsa

    key = xrsa.generate(2048)
    wrapped = xrsa.wrap(key.public_key(), os.urandom(32))
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        xrsa.unwrap(key, wrapped)
        n += 1
    return n / (time.perf_counter() - start)


def ecdh_per_s(seconds: float = 0.5) -> float:
    from xtdf.crypto import ec as xec

    a, b = xec.generate(), xec.generate().public_key()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        xec.ecdh(a, b)
        n += 1
    return n / (time.perf_counter() - start)


def _prepare(variables: dict[str, str], work: Path, entitled: bool = True) -> dict[str, Any]:
    """An attribute the client is entitled to (or, for the error path, one value it is
    not), and a ZTDF under it whose only KAO the load clients will rewrap."""
    from xtdf.client.config import ClientConfig
    from xtdf.client.kas import key_access_message
    from xtdf.client.platform_client import PlatformClient
    from xtdf.formats.ztdf import writer
    from xtdf.formats.ztdf.keyaccess import KeyAccessTarget
    from xtdf.platform.admin import PolicyAdmin, condition_set

    entitled_fqn = f"https://{NAMESPACE}/attr/level/value/a"
    v = variables
    with PolicyAdmin(v["PLATFORMURL"], v["CLIENTID"], v["CLIENTSECRET"]) as admin:
        admin.create_namespace(NAMESPACE)
        admin.create_attribute(f"https://{NAMESPACE}", "level", "any_of", ["a", "b"])
        admin.create_subject_mapping(
            entitled_fqn, subject_sets=condition_set(".clientId", [variables["CLIENTID"]])
        )
    fqn = entitled_fqn if entitled else f"https://{NAMESPACE}/attr/level/value/b"
    config = ClientConfig.from_env(variables)
    with PlatformClient(config) as client:
        key = client.kas_public_key(config.kas_url, "rsa:2048")
    pt, ct = work / "pt", work / "ct.tdf"
    pt.write_bytes(b"x" * 64)
    manifest = writer.encrypt(
        pt, ct, key_access=[KeyAccessTarget(key.url, key.pem, key.kid)], attributes=[fqn]
    )
    kao = manifest.encryption_information.key_access[0]
    return {
        "policy": manifest.encryption_information.policy,
        "kao": key_access_message(kao.to_dict(exclude_none=True)),
        "kas_url": key.url,
    }


def _client_thread(
    variables: dict[str, str],
    job: dict[str, Any],
    count: int,
    ready: threading.Barrier,
    go: threading.Barrier,
    out: list[dict[str, Any]],
) -> None:
    """One client. Before the start line it does one full rewrap with the reference client
    (token, session key, unwrapped answer checked) and signs what the timed calls need: the
    request token, which may be reused, and one DPoP proof per call, which may not (each
    ``jti`` is single-use). The timed loop then only sends and reads, so the load processes,
    which share the machine with the server, spend as little CPU as a client can."""

    from xtdf.client import jose
    from xtdf.client.config import ClientConfig
    from xtdf.client.kas import (
        PolicyRequest,
        connect_base,
        session_public_pem,
        signed_request_token,
        unsigned_request,
    )
    from xtdf.client.platform_client import KAS_SERVICE, PlatformClient
    from xtdf.crypto import ec as xec
    from xtdf.crypto.ec import TDF_SALT

    client = PlatformClient(ClientConfig.from_env(variables))
    session = xec.generate("secp256r1")
    request = PolicyRequest("policy", job["policy"], [("kao-0", job["kao"])])
    client.rewrap(job["kas_url"], [request], session, TDF_SALT)  # a refusal shows below
    url = f"{connect_base(job['kas_url'])}/{KAS_SERVICE}/Rewrap"
    token = client.tokens.token()
    scheme = "DPoP" if token.token_type.lower() == "dpop" else "Bearer"
    srt = signed_request_token(
        client.tokens.dpop_key, unsigned_request(session_public_pem(session), [request])
    )
    if job["transport"] == "proto":
        from xtdf._proto.kas import kas_pb2

        body = kas_pb2.RewrapRequest(signed_request_token=srt).SerializeToString()
        content_type = "application/proto"
    else:
        body = json.dumps({"signedRequestToken": srt}).encode()
        content_type = "application/json"
    # path-only htu: what the Go platform accepts on a Connect call (and ours, not strict)
    proofs = [
        jose.dpop_proof(client.tokens.dpop_key, "POST", url, token.value, path_only=True)
        for _ in range(count)
    ]
    base = {
        "Content-Type": content_type,
        "Connect-Protocol-Version": "1",
        "Authorization": f"{scheme} {token.value}",
    }
    ready.wait()
    go.wait()
    errors = 0
    latencies = []
    for proof in proofs:
        t = time.perf_counter()
        resp = client.transport.request("POST", url, body, {**base, "DPoP": proof})
        latencies.append(time.perf_counter() - t)
        if resp.status != 200 or b"permit" not in resp.body:
            errors += 1
    client.close()
    out.append({"latencies": latencies, "errors": errors})


def _load_process(
    variables: dict[str, str],
    job: dict[str, Any],
    threads: int,
    count: int,
    barrier: Any,
    queue: Any,
) -> None:
    results: list[dict[str, Any]] = []
    ready, go = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    args = (variables, job, count, ready, go, results)
    workers = [threading.Thread(target=_client_thread, args=args) for _ in range(threads)]
    for w in workers:
        w.start()
    ready.wait()  # this process's clients hold a token and a connection
    barrier.wait()  # and so do every other process's
    start = time.time()
    go.wait()
    for w in workers:
        w.join()
    end = time.time()
    queue.put(
        {
            "latencies": [lat for r in results for lat in r["latencies"]],
            "errors": sum(r["errors"] for r in results),
            "start": start,
            "end": end,
        }
    )


def _level(variables: dict[str, str], job: dict[str, Any], clients: int, requests: int) -> dict:
    ctx = multiprocessing.get_context("fork")
    procs = min(clients, LOAD_PROCESSES)
    per_client = max(1, math.ceil(requests / clients))
    threads = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    barrier = ctx.Barrier(procs)
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=_load_process, args=(variables, job, n, per_client, barrier, queue))
        for n in threads
    ]
    for w in workers:
        w.start()
    parts = [queue.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    latencies = sorted(lat for p in parts for lat in p["latencies"])
    wall = max(p["end"] for p in parts) - min(p["start"] for p in parts)
    p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
    return {
        "requests": len(latencies),
        "rewraps_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * p99, 2),
        "errors": sum(p["errors"] for p in parts),
        "wall_s": round(wall, 2),
    }


def _start(impl: str, state: Path, event_loops: int) -> tuple[dict[str, Any], Any]:
    """The server under test on free ports: its URLs, the pid whose CPU is counted (the
    process that rewraps), and how to stop it."""
    if impl == "go":
        from xtdf.harness.go_platform import GoPlatform

        go = GoPlatform(state)
        urls = go.start()
        return {"urls": urls, "pid": go.pid("platform")}, go.stop
    from xtdf.platform import lifecycle

    st = platform_env.start_private(state, event_loops=event_loops)
    assert st.urls is not None and st.pid is not None
    return {"urls": st.urls, "pid": st.pid}, lambda: lifecycle.stop(state)


def run(
    clients: list[int] | None = None,
    requests: int = 3000,
    transport: str = "proto",
    entitled: bool = True,
    event_loops: int | None = None,
    impl: str = "xtdf",
) -> dict[str, Any]:
    """``transport``: ``proto`` (Connect binary, as otdf-python and the Go SDK send) or
    ``json`` (Connect JSON, as our reference client sends). ``entitled=False`` rewraps a
    key the client may not have, so every call is an error: the error path, measured.
    ``impl``: ``xtdf`` (our KAS) or ``go`` (OpenTDF's Go platform, ``make platform-go``,
    with the same clients, key type and policy)."""
    from xtdf.platform.config import PlatformConfig

    if event_loops is None:  # as `xtdf platform start` would run it
        event_loops = PlatformConfig.model_fields["event_loops"].default

    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r}: expected one of {', '.join(TRANSPORTS)}")
    levels = clients or [1, 8, 32]
    out: dict[str, Any] = {
        "clients": {},
        "kao": "rsa-2048 wrapped, one entitled attribute",
        "transport": f"Connect {transport}",
        "impl": impl,
    }
    with tempfile.TemporaryDirectory(prefix="xtdf-bench-kas-") as tmp:
        state = Path(tmp) / "platform"
        server, stop = _start(impl, state, event_loops)
        try:
            variables = platform_env.variables_for(server["urls"])
            job = {**_prepare(variables, Path(tmp), entitled), "transport": transport}
            for n in levels:
                cpu0 = procstat.cpu_seconds(server["pid"])
                figures = _level(variables, job, n, requests)
                cpu1 = procstat.cpu_seconds(server["pid"])
                figures["server_cpu_s"] = round(cpu1 - cpu0, 2)
                figures["server_cpu_ms_per_rewrap"] = round(
                    1000 * (cpu1 - cpu0) / max(1, figures["requests"]), 3
                )
                out["clients"][str(n)] = figures
            out["server_peak_rss_mib"] = round(procstat.peak_rss_mib(server["pid"]), 1)
        finally:
            stop()
    out["rsa_decrypt_per_s"] = round(rsa_decrypts_per_s(), 1)
    out["ecdh_per_s"] = round(ecdh_per_s(), 1)
    out["command"] = (
        f"python -m xtdf.bench.kas --clients {','.join(map(str, levels))} "
        f"--requests {requests} --transport {transport} --event-loops {event_loops}"
        + (f" --impl {impl}" if impl != "xtdf" else "")
    )
    out["event_loops"] = event_loops
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xtdf.bench.kas", description=__doc__)
    p.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    p.add_argument("--requests", type=int, default=3000, help="rewraps per level")
    p.add_argument("--transport", choices=TRANSPORTS, default="proto")
    p.add_argument("--event-loops", type=int, help="the server's event loops (default: its own)")
    p.add_argument("--json", type=Path, help="also write the result here")
    p.add_argument(
        "--impl",
        choices=("xtdf", "go"),
        default="xtdf",
        help="whose KAS: xtdf's or OpenTDF's Go platform (make platform-go)",
    )
    args = p.parse_args(argv)
    try:
        levels = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        p.error(f"--clients: expected comma-separated whole numbers, got {args.clients!r}")
    if not levels or min(levels) < 1 or args.requests < 1:
        p.error("--clients needs numbers >= 1 and --requests a number >= 1")
    if args.event_loops is not None and args.event_loops < 1:
        p.error("--event-loops needs a number >= 1")
    result = run(
        levels, args.requests, args.transport, event_loops=args.event_loops, impl=args.impl
    )
    report.emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
