"""Property-based fuzzing of the ZTDF and NanoTDF readers: ``python -m xtdf.bench.fuzz``.

Every failure a file can cause must be one of the project's typed errors
(:class:`xtdf.errors.XtdfError`, one line in the CLI), in bounded memory. This drives the
readers with inputs hypothesis derives from real files made here (ZTDF with and without
assertions, split, deflated; NanoTDF with GMAC and ECDSA bindings, plaintext and encrypted
policies, a creator signature): byte-level mutations, manifest edits (any value replaced by
random JSON, deep nesting, huge arrays, unparsable URLs), zip-level edits (compression
methods, size fields) and random NanoTDF policies. Each input goes through everything a
file from outside meets: ``xtdf inspect`` (its description serialised as the CLI does),
decrypt with the right keys, and for ZTDF the client's KAS URL handling (allowlist and
request URL); for NanoTDF the client's rewrap request. A third target is the platform's
side of a rewrap: request messages (Connect protobuf and JSON) carrying signed request
tokens whose bodies are mutated and then signed with the caller's real DPoP key (an
authenticated caller is the one who can reach these parsers), the token's own bytes, and
DPoP proof headers; each goes through what the KAS runs before any key is released
(message decoding, the token's parse and signature check, the body's parse, each policy,
each key access object's unwrap and binding check, with the seeds' real keys).

Any other exception is a crash (goal: none). The Python heap's peak per input
(``tracemalloc``, tracing only while the readers run) is reported, and an input past
``--max-mib`` counts as a crash too. Runs for ``--seconds`` (batches of examples until
then, and on until each of the three has had ``MIN_EACH`` inputs); exits 1 on a crash.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import time
import traceback
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from xtdf.errors import XtdfError

MIB = 1024 * 1024
#: examples per hypothesis run; runs repeat until the time is up
BATCH = 25
#: inputs each target gets however long they take: typed errors need a few to show
MIN_EACH = 20


# -- seeds: real files, made once ----------------------------------------------------------


@dataclass
class Seeds:
    """Valid files and the keys that open them."""

    ztdf: list[bytes]
    nano: list[bytes]
    rsa_keys: list[Any]
    ec_keys: list[Any]
    #: for the platform target: the caller's DPoP key, rewrap request bodies (protojson
    #: dicts, as the client sends them) and a DPoP proof made with that key
    dpop_key: Any = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    proof: str = ""

    def __repr__(self) -> str:  # hypothesis names the strategy's arguments in its errors
        return f"Seeds({len(self.ztdf)} ZTDF, {len(self.nano)} NanoTDF)"


def make_seeds() -> Seeds:
    from xtdf.crypto import ec as xec
    from xtdf.crypto import rsa as xrsa
    from xtdf.formats import nano, ztdf
    from xtdf.formats.ztdf.assertions import AssertionConfig
    from xtdf.formats.ztdf.keyaccess import KeyAccessTarget
    from xtdf.formats.ztdf.manifest import Statement

    rsa_key, ec_key = xrsa.generate(2048), xec.generate("secp256r1")
    url = "http://localhost:8080/kas"
    blobs: list[bytes] = []
    variants: list[dict[str, Any]] = [
        {"key_access": [KeyAccessTarget(url, rsa_key.public_key(), "r1")]},
        {
            "key_access": [KeyAccessTarget(url, ec_key.public_key(), "e1")],
            "target_mode": "4.2.2",
            "segment_size": 64,
            "metadata": "meta",
        },
        {
            "key_access": [
                KeyAccessTarget(url, rsa_key.public_key(), "r1", "s1"),
                KeyAccessTarget("http://localhost:8181/kas", ec_key.public_key(), "e1", "s2"),
            ],
            "attributes": ["https://example.com/attr/a/value/b"],
            "assertions": [
                AssertionConfig(id="a1", statement=Statement(format="json", value={"k": [1]}))
            ],
            "segment_size": 128,
        },
    ]
    for options in variants:
        out = io.BytesIO()
        ztdf.encrypt(io.BytesIO(bytes(range(256)) * 3), out, **options)
        blobs.append(out.getvalue())
    blobs.append(_repack(blobs[0], zipfile.ZIP_DEFLATED))
    nanos = [
        nano.encrypt(
            b"hello nano",
            kas_url=url,
            kas_public_key=ec_key.public_key(),
            kid="e1",
            policy_mode=mode,
            binding=binding,
            signer=signer,
        )
        for mode, binding, signer in (
            ("encrypted", "gmac", None),
            ("plaintext", "ecdsa", None),
            ("plaintext", "gmac", xec.generate("secp384r1")),
        )
    ]
    seeds = Seeds(blobs, nanos, [rsa_key], [ec_key])
    _add_request_seeds(seeds)
    return seeds


PROOF_URL = "http://localhost:8080/kas/v2/rewrap"


def _add_request_seeds(seeds: Seeds) -> None:
    """Rewrap bodies for a split ZTDF and a NanoTDF, as the client builds them."""
    from xtdf.client import jose
    from xtdf.client import kas as client_kas
    from xtdf.client.nano import rewrap_request
    from xtdf.crypto import ec as xec
    from xtdf.formats.ztdf import reader

    seeds.dpop_key = xec.generate("secp256r1")
    client_pem = client_kas.public_pem(xec.generate("secp256r1"))
    manifest = json.loads(reader.read_manifest(io.BytesIO(seeds.ztdf[2])).to_json())
    info = manifest["encryptionInformation"]
    kaos = [(f"kao-{i}", client_kas.key_access_message(k)) for i, k in enumerate(info["keyAccess"])]
    split = client_kas.PolicyRequest("policy", info["policy"], kaos, algorithm="rsa:2048")
    seeds.bodies.append(client_kas.unsigned_request(client_pem, [split]))
    _, nano_request = rewrap_request(seeds.nano[0])
    seeds.bodies.append(client_kas.unsigned_request(client_pem, [nano_request]))
    seeds.proof = jose.dpop_proof(seeds.dpop_key, "POST", PROOF_URL)


def _entries(blob: bytes) -> tuple[bytes, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return z.read("0.manifest.json"), z.read("0.payload")


def _zip(manifest: bytes, payload: bytes, method: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("0.payload", payload, compress_type=method)
        z.writestr("0.manifest.json", manifest, compress_type=method)
    return out.getvalue()


def _repack(blob: bytes, method: int) -> bytes:
    manifest, payload = _entries(blob)
    return _zip(manifest, payload, method)


# -- strategies ---------------------------------------------------------------------------

_INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "http://[abc/kas", "http://[::1/kas", "https://h:99999999/", "\udcff"])
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
#: raw JSON texts that random values do not reach: the limits' edges and beyond (made
#: once; some are megabytes)
_RAW_FRAGMENTS: tuple[str, ...] = (
    *("[" * d + "]" * d for d in (99, 100, 101, 1_000, 100_000)),
    *('{"a":' * d + "1" + "}" * d for d in (99, 100, 101, 5_000)),
    *("[" + "{}," * (n - 1) + "{}]" for n in (10_000, 400_000, 1_100_000)),
    *("[" + "0," * (n - 1) + "0]" for n in (10_000, 1_100_000)),
    *("1e999", "-0", "1" * 5000, '"\\ud800"', '"\\u0000"', "NaN", "Infinity"),
    '"' + "\\\\" * 1000 + '"',
    '"' + "a" * (1 << 20) + '"',
)
_small_fragments = st.sampled_from([t for t in _RAW_FRAGMENTS if len(t) < 65_000])
#: the megabyte ones one time in ten: one can cost seconds, being decoded at the limits
_raw_fragments = st.one_of(
    *[_small_fragments] * 9, st.sampled_from([t for t in _RAW_FRAGMENTS if len(t) >= 65_000])
)
_json_text = _json_values.map(lambda v: json.dumps(v))
#: what hypothesis decides directly; positions and byte values come from its ``Random``
_randoms = st.randoms(use_true_random=False)
_HOLE = "\x00xtdf-fuzz-hole\x00"
_OPS = ("flip", "set", "insert", "delete", "truncate", "dup")


def _mutated_bytes(rnd: Random, data: bytes) -> bytes:
    """A few random edits: bit flips, interesting bytes, inserts, deletes, truncation."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        if not buf:
            buf += rnd.randbytes(rnd.randint(1, 16))
            continue
        i = rnd.randrange(len(buf))
        op = rnd.choice(_OPS)
        if op == "flip":
            buf[i] ^= 1 << rnd.randrange(8)
        elif op == "set":
            buf[i] = rnd.choice(_INTERESTING) if rnd.random() < 0.5 else rnd.randrange(256)
        elif op == "insert":
            buf[i:i] = rnd.randbytes(rnd.randint(1, 64))
        elif op == "delete":
            del buf[i : i + rnd.randint(1, 64)]
        elif op == "truncate":
            del buf[i:]
        else:
            buf[i:i] = buf[i : i + rnd.randint(1, 256)]
    return bytes(buf)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


_DELETE = object()


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def _mutated_manifest(draw: st.DrawFn, manifest: bytes) -> bytes:
    """The manifest with values replaced (random JSON, raw fragments, base64 of JSON for
    the policy and metadata strings), keys removed, or its text then mutated as bytes."""
    rnd = draw(_randoms)
    doc = json.loads(manifest)
    raw: str | None = None
    for _ in range(rnd.randint(1, 3)):
        path = rnd.choice(_paths(doc))
        kind = draw(st.sampled_from(["json", "raw", "delete", "b64json"]))
        if kind == "delete" and path:
            doc = _set(doc, path, _DELETE)
        elif kind == "raw" and raw is None:
            raw = draw(_raw_fragments)
            doc = _set(doc, path, _HOLE)
        elif kind == "b64json":
            inner = draw(_raw_fragments | _json_text).encode("utf-8", "surrogatepass")
            doc = _set(doc, path, base64.b64encode(inner).decode())
        else:
            doc = _set(doc, path, draw(_json_values))
    text = json.dumps(doc)
    if raw is not None:
        text = text.replace(json.dumps(_HOLE), raw)
    data = text.encode("utf-8", "surrogatepass")
    return _mutated_bytes(rnd, data) if rnd.random() < 0.3 else data


_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
#: central directory fields (offset, width): method, CRC, sizes, local header offset
_CD_FIELDS = ((10, 2), (16, 4), (20, 4), (24, 4), (42, 4))


def _method(rnd: Random, size: int) -> int:
    """Any method for a small entry; a large one only stored or deflated (bzip2 and LZMA
    cost seconds to make, and the reader refuses them before reading anyway)."""
    return rnd.choice(_METHODS if size < 65_536 else _METHODS[:2])


@st.composite
def ztdf_inputs(draw: st.DrawFn, seeds: Seeds) -> tuple[str, bytes]:
    rnd = draw(_randoms)
    blob = rnd.choice(seeds.ztdf)
    how = draw(st.sampled_from(["bytes", "manifest", "zip"]))
    if how == "bytes":
        return how, _mutated_bytes(rnd, blob)
    manifest, payload = _entries(blob)
    if how == "manifest":
        edited = draw(_mutated_manifest(manifest))
        return how, _zip(edited, payload, _method(rnd, len(edited)))
    out = bytearray(_zip(manifest, payload, _method(rnd, 0)))
    cd = out.rfind(b"PK\x01\x02", 0, len(out) - rnd.randint(0, 60))
    if cd >= 0:
        offset, width = rnd.choice(_CD_FIELDS)
        top = 2 ** (8 * width)
        value = rnd.choice([0, 1, top // 2, top - 1, rnd.randrange(top)])
        out[cd + offset : cd + offset + width] = value.to_bytes(width, "little")
    return how, bytes(out)


@st.composite
def nano_inputs(draw: st.DrawFn, seeds: Seeds) -> tuple[str, bytes]:
    rnd = draw(_randoms)
    how = draw(st.sampled_from(["bytes", "bytes", "policy", "tail"]))
    data = rnd.choice(seeds.nano)
    if how == "bytes":
        return how, _mutated_bytes(rnd, data)
    if how == "tail":
        return how, data + rnd.randbytes(rnd.randint(1, 512))
    from xtdf.formats import nano

    policy = draw(
        _small_fragments.map(str.encode)
        | _json_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
        | st.binary(max_size=300)
    )
    blob = nano.encrypt(
        b"x",
        kas_url="http://localhost:8080/kas",
        kas_public_key=seeds.ec_keys[0].public_key(),
        policy=policy,
        policy_mode=rnd.choice(["plaintext", "encrypted"]),
    )
    return how, _mutated_bytes(rnd, blob) if rnd.random() < 0.5 else blob


def _signed(seeds: Seeds, body: bytes) -> str:
    from xtdf.client import jose

    now = int(time.time())
    claims = {"requestBody": body.decode("utf-8", "replace"), "iat": now, "exp": now + 60}
    return jose.sign(seeds.dpop_key, claims, {"typ": "JWT"})


@st.composite
def request_inputs(draw: st.DrawFn, seeds: Seeds) -> tuple[str, bytes]:
    """A tagged input: ``R`` + codec byte + a RewrapRequest message, or ``D`` + a DPoP
    proof header value."""
    from xtdf._proto.kas import kas_pb2 as pb

    rnd = draw(_randoms)
    how = draw(st.sampled_from(["body", "body", "token", "message", "proof"]))
    if how == "proof":
        proof = seeds.proof.encode()
        if rnd.random() < 0.5:
            head, payload, sig = proof.split(b".")
            part = rnd.choice([0, 1])
            doc = base64.urlsafe_b64decode([head, payload][part] + b"==")
            edited = base64.urlsafe_b64encode(draw(_mutated_manifest(doc))).rstrip(b"=")
            proof = b".".join([edited, payload, sig] if part == 0 else [head, edited, sig])
        return how, b"D" + _mutated_bytes(rnd, proof)
    body = json.dumps(rnd.choice(seeds.bodies)).encode()
    if how == "body":
        body = draw(_mutated_manifest(body))
    token = _signed(seeds, body)
    if how == "token":
        token = _mutated_bytes(rnd, token.encode()).decode("latin-1")
    codec = rnd.choice([b"p", b"j"])
    msg = pb.RewrapRequest(signed_request_token=token)
    if codec == b"p":
        data = msg.SerializeToString()
    else:
        data = json.dumps({"signedRequestToken": token}).encode()
    if how == "message":
        data = _mutated_bytes(rnd, data)
    return how, b"R" + codec + data


# -- targets ------------------------------------------------------------------------------


def run_ztdf(blob: bytes, seeds: Seeds, scratch: Path) -> None:
    """What a ZTDF from outside meets: inspect, the client's URL handling, decrypt."""
    from xtdf.client.allowlist import KasAllowlist
    from xtdf.client.kas import connect_base
    from xtdf.formats.inspect import describe
    from xtdf.formats.ztdf import reader
    from xtdf.formats.ztdf.keyaccess import OfflineUnwrapper

    path = scratch / "input.tdf"
    path.write_bytes(blob)
    errors: list[XtdfError] = []
    try:
        json.dumps(describe(path), indent=2)
    except XtdfError as exc:
        errors.append(exc)
    try:
        manifest = reader.read_manifest(io.BytesIO(blob))
        allow = KasAllowlist(["http://localhost:8080"])
        for kao in manifest.encryption_information.key_access:
            for check in (allow.check, connect_base):
                try:
                    check(kao.url)
                except XtdfError as exc:
                    errors.append(exc)
    except XtdfError as exc:
        errors.append(exc)
    unwrapper = OfflineUnwrapper([*seeds.rsa_keys, *seeds.ec_keys])
    try:
        reader.decrypt(io.BytesIO(blob), io.BytesIO(), unwrapper=unwrapper)
    except XtdfError as exc:
        errors.append(exc)
    if errors:
        raise errors[-1]


def run_nano(data: bytes, seeds: Seeds, scratch: Path) -> None:
    """What a NanoTDF from outside meets: inspect, the client's rewrap request, decrypt."""
    from xtdf.client.nano import rewrap_request
    from xtdf.formats import nano
    from xtdf.formats.inspect import describe

    path = scratch / "input.ntdf"
    path.write_bytes(data)
    errors: list[XtdfError] = []
    try:
        json.dumps(describe(path), indent=2)
    except XtdfError as exc:
        errors.append(exc)
    try:
        rewrap_request(data)
        header, _ = nano.parse_header(data)
        key = nano.derive_key_offline(header, seeds.ec_keys[0])
        nano.decrypt(data, key)
        nano.read_policy(header, key if header.policy.mode.is_encrypted else None)
    except XtdfError as exc:
        errors.append(exc)
    if errors:
        raise errors[-1]


@dataclass
class _SeedRing:
    """The seeds' real KAS keys, as the KAS's key ring hands them out."""

    keys: list[Any]

    def private_key(self, instance: str, kid: str) -> Any:
        return next((k for k in self.keys if k.kid == kid), None)

    def active_key(self, instance: str, algorithm: str) -> Any:
        return next(k for k in self.keys if k.alg == algorithm)

    def legacy_keys(self, instance: str) -> list[Any]:
        return []


def _kas(seeds: Seeds) -> Any:
    from xtdf.crypto.keys import public_pem
    from xtdf.platform.kas.audit import AuditLog
    from xtdf.platform.kas.keyring import KasKey
    from xtdf.platform.kas.service import KasService

    keys = [
        KasKey("r1", "rsa:2048", public_pem(seeds.rsa_keys[0].public_key()), seeds.rsa_keys[0]),
        KasKey("e1", "ec:secp256r1", public_pem(seeds.ec_keys[0].public_key()), seeds.ec_keys[0]),
    ]
    return KasService(_SeedRing(keys), authorizer=None, audit=AuditLog(None))  # type: ignore[arg-type]


_REWRAP: Any = None


def run_request(data: bytes, seeds: Seeds, scratch: Path) -> None:
    """What the KAS does with a rewrap before it asks for a decision: decode the message,
    parse and verify the token, parse the body, check each policy and key access object;
    or verify a DPoP proof."""
    global _REWRAP
    from xtdf._proto.kas import kas_pb2 as pb
    from xtdf.client import jose
    from xtdf.platform import connect, dpop
    from xtdf.platform.rpc import CallContext, Method

    if data[:1] == b"D":
        dpop.verify_proof(
            [data[1:].decode("latin-1")],
            method="POST",
            acceptable_urls=[PROOF_URL],
            skew_s=60,
            replay=dpop.ReplayCache(ttl_s=120),
        )
        return
    if _REWRAP is None:
        method = Method("kas.AccessService", "Rewrap", pb.RewrapRequest, pb.RewrapResponse,
                        lambda m, c: m)  # fmt: skip
        _REWRAP = (method, _kas(seeds))
    method, kas = _REWRAP
    codec = connect.PROTO if data[1:2] == b"p" else connect.JSON
    message = connect.decode(method, data[2:], codec)
    jwk = jose.public_jwk(seeds.dpop_key)
    ctx = CallContext(headers={}, claims={"sub": "fuzz"}, dpop_jkt=jose.thumbprint(jwk),
                      dpop_jwk=jwk)  # fmt: skip
    body = kas._body(message, ctx)
    for request in body.requests:
        kas._verify_policy(ctx, request)


# -- the loop -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What one format's inputs did."""

    inputs: int = 0
    ok: int = 0
    typed: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    peaks: list[int] = field(default_factory=list)
    max_peak: tuple[int, str] = (0, "")
    max_seconds: tuple[float, str] = (0.0, "")
    #: time spent in the readers (the rest is hypothesis making inputs)
    busy_seconds: float = 0.0
    samples: dict[str, bytes] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        peaks = sorted(self.peaks) or [0]
        return {
            "inputs": self.inputs,
            "ok": self.ok,
            "typed_errors": dict(self.typed.most_common()),
            "crashes": sum(self.crashes.values()),
            "crash_kinds": dict(self.crashes.most_common()),
            "peak_mib": {
                "median": round(statistics.median(peaks) / MIB, 3),
                "p99": round(peaks[min(len(peaks) - 1, int(len(peaks) * 0.99))] / MIB, 3),
                "max": round(self.max_peak[0] / MIB, 3),
                "max_input": self.max_peak[1],
            },
            "reader_seconds": round(self.busy_seconds, 1),
            "slowest_seconds": round(self.max_seconds[0], 3),
            "slowest_input": self.max_seconds[1],
        }


def _one(
    tally: Tally,
    how: str,
    data: bytes,
    target: Callable[[bytes, Seeds, Path], None],
    seeds: Seeds,
    scratch: Path,
    max_bytes: int,
) -> None:
    label = f"{how}, {len(data)} bytes"
    tally.inputs += 1
    tracemalloc.start()
    start = time.perf_counter()
    crash: str | None = None
    try:
        target(data, seeds, scratch)
        tally.ok += 1
    except XtdfError as exc:
        tally.typed[type(exc).__name__] += 1
    except Exception as exc:  # what the fuzzer is here to find
        last = traceback.extract_tb(exc.__traceback__)[-1]
        crash = f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno}: {exc}"[:300]
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tally.busy_seconds += seconds
    if peak > max_bytes and crash is None:
        crash = f"peak {peak / MIB:.0f} MiB > {max_bytes / MIB:.0f} MiB"
    if crash is not None:
        tally.crashes[crash] += 1
        tally.samples.setdefault(crash, data)
    tally.peaks.append(peak)
    if peak > tally.max_peak[0]:
        tally.max_peak = (peak, label)
    if seconds > tally.max_seconds[0]:
        tally.max_seconds = (seconds, label)


def _runner(
    strategy: st.SearchStrategy[tuple[str, tuple[str, bytes]]],
    tallies: dict[str, Tally],
    targets: dict[str, Callable[[bytes, Seeds, Path], None]],
    seeds: Seeds,
    scratch: Path,
    max_bytes: int,
    deadline: float,
    min_each: int,
) -> Callable[[], None]:
    """One batch of examples; each drawn before the deadline (or while its target has had
    fewer than ``min_each``) is run and tallied. Generation only (no shrinking): a crash is
    recorded, not raised, so the run goes on."""

    @settings(
        max_examples=BATCH,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: tuple[str, tuple[str, bytes]]) -> None:
        name, (how, data) = case
        if time.monotonic() < deadline or tallies[name].inputs < min_each:
            _one(tallies[name], how, data, targets[name], seeds, scratch, max_bytes)

    return run


def fuzz(
    seconds: float, *, seed: int | None = None, max_mib: float = 256.0, min_each: int = MIN_EACH
) -> dict[str, Any]:
    """Fuzz both readers and the KAS's request parsers for ``seconds`` (the files to start
    from are made first); return the summary. Each example is one of the three, drawn alike.
    A run goes on past ``seconds`` until each has had ``min_each`` inputs, so a loaded
    machine gives a short run, never an empty one."""
    seeds = make_seeds()
    tallies = {"ztdf": Tally(), "nano": Tally(), "requests": Tally()}
    targets = {"ztdf": run_ztdf, "nano": run_nano, "requests": run_request}
    strategy = st.one_of(
        st.tuples(st.just("ztdf"), ztdf_inputs(seeds)),
        st.tuples(st.just("nano"), nano_inputs(seeds)),
        st.tuples(st.just("requests"), request_inputs(seeds)),
    )
    max_bytes = int(max_mib * MIB)
    started = time.monotonic()
    deadline = started + seconds
    batches = 0
    with tempfile.TemporaryDirectory(prefix="xtdf-fuzz-") as tmp:
        scratch = Path(tmp)
        while time.monotonic() < deadline or any(t.inputs < min_each for t in tallies.values()):
            run = _runner(strategy, tallies, targets, seeds, scratch, max_bytes, deadline, min_each)
            if seed is not None:
                run = hypothesis_seed(seed + batches)(run)
            run()
            batches += 1
    result: dict[str, Any] = {
        "seconds": round(time.monotonic() - started, 1),
        "max_mib": max_mib,
        "formats": {name: t.summary() for name, t in tallies.items()},
    }
    result["inputs"] = sum(t.inputs for t in tallies.values())
    result["crashes"] = sum(sum(t.crashes.values()) for t in tallies.values())
    result["_samples"] = {f"{n}: {k}": v for n, t in tallies.items() for k, v in t.samples.items()}
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        f"fuzzed {result['inputs']} inputs in {result['seconds']} s: "
        f"{result['crashes']} crashes (exceptions other than XtdfError, or a peak over "
        f"{result['max_mib']:g} MiB)"
    ]
    for name, s in result["formats"].items():
        p = s["peak_mib"]
        lines.append(
            f"  {name}: {s['inputs']} inputs, {s['ok']} read whole, {s['crashes']} crashes; "
            f"peak heap per input median {p['median']} MiB, p99 {p['p99']} MiB, "
            f"max {p['max']} MiB ({p['max_input']}); slowest {s['slowest_seconds']} s "
            f"({s['slowest_input']}); {s['reader_seconds']} s in the readers"
        )
        typed = ", ".join(f"{k} {v}" for k, v in s["typed_errors"].items())
        lines.append(f"    typed errors: {typed or '-'}")
        for kind, n in s["crash_kinds"].items():
            lines.append(f"    CRASH x{n}: {kind}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xtdf.bench.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, help="make the run repeatable")
    parser.add_argument(
        "--max-mib", type=float, default=256.0, help="peak heap per input that counts as a crash"
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--crashes-dir", type=Path, help="write one input per crash kind here")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    result = fuzz(args.seconds, seed=args.seed, max_mib=args.max_mib)
    samples = result.pop("_samples")
    if args.crashes_dir is not None and samples:
        args.crashes_dir.mkdir(parents=True, exist_ok=True)
        for i, (kind, data) in enumerate(sorted(samples.items())):
            (args.crashes_dir / f"crash-{i}.bin").write_bytes(data)
            (args.crashes_dir / f"crash-{i}.txt").write_text(kind + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(render(result) + "\n")
    return 1 if result["crashes"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
