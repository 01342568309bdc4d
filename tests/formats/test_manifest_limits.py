"""Hostile manifests: bounded in size and structure before any object is built.

Each bomb is a real zip around a real payload, so nothing but the manifest is wrong. The
limits are the reader's promises (16 MiB read or inflated, 100 levels, 1,000,000 values);
the numbers are spelled out here so that a change to them is a visible change to a test.
"""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xtdf.errors import FormatError, ManifestError, UnsupportedError
from xtdf.formats import ztdf
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper
from xtdf.formats.ztdf.manifest import parse_manifest
from xtdf.formats.ztdf.policy import Policy

MIB = 1024 * 1024
LIMIT = 16 * MIB
DEPTH = 100
VALUES = 1_000_000


@pytest.fixture(scope="module")
def good(ztdf_rsa_key) -> tuple[dict[str, Any], bytes]:
    """A real ZTDF's manifest (decoded) and payload."""
    out = io.BytesIO()
    ztdf.encrypt(
        io.BytesIO(b"hello"),
        out,
        key_access=[KeyAccessTarget("https://kas/kas", ztdf_rsa_key.public_key(), "r1")],
    )
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        return json.loads(z.read("0.manifest.json")), z.read("0.payload")


def pack(payload: bytes, manifest: bytes, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("0.payload", payload, compress_type=zipfile.ZIP_STORED)
        z.writestr("0.manifest.json", manifest, compress_type=method, compresslevel=9)
    return out.getvalue()


def with_extra(manifest: dict[str, Any], raw_value: bytes) -> bytes:
    """The manifest with an unknown key whose value is ``raw_value`` (raw JSON text)."""
    text = json.dumps(manifest).encode()
    return text[:-1] + b',"x":' + raw_value + b"}"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def peak_of(fn: Any, *args: Any) -> tuple[BaseException | None, int]:
    """What ``fn(*args)`` raised (or None) and the peak bytes Python allocated meanwhile."""
    tracemalloc.start()
    try:
        fn(*args)
        err = None
    except BaseException as exc:  # the test judges what came out
        err = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return err, peak


def read(blob: bytes) -> ztdf.Manifest:
    return ztdf.read_manifest(io.BytesIO(blob))


def test_inflation_bomb_stops_at_the_limit(good):
    """17 MiB of ``{},`` deflates to ~17 KB: refused after inflating at most the limit."""
    manifest, payload = good
    count = (LIMIT + MIB) // 3
    blob = pack(payload, with_extra(manifest, b"[" + b"{}," * (count - 1) + b"{}]"))
    assert len(blob) < 100_000
    err, peak = peak_of(read, blob)
    assert isinstance(err, ManifestError), repr(err)
    assert "0.manifest.json" in str(err) and "16 MiB" in str(err)
    assert peak < 3 * LIMIT, f"peak {peak / MIB:.0f} MiB"


def test_declared_size_over_the_limit_is_refused_unread(good):
    manifest, payload = good
    blob = bytearray(pack(payload, json.dumps(manifest).encode(), zipfile.ZIP_STORED))
    # claim a 17 MiB manifest in the central directory (size fields at offsets 20 and 24)
    cd = blob.rindex(b"PK\x01\x02")
    blob[cd + 24 : cd + 28] = (LIMIT + 1).to_bytes(4, "little")
    with pytest.raises(ManifestError, match=r"0\.manifest\.json.*16 MiB"):
        read(bytes(blob))


def test_stored_manifest_over_the_limit_is_refused(good):
    manifest, payload = good
    blob = pack(payload, with_extra(manifest, b'"' + b"a" * LIMIT + b'"'), zipfile.ZIP_STORED)
    with pytest.raises(ManifestError, match=r"0\.manifest\.json.*16 MiB"):
        read(blob)


def test_too_many_values_within_the_size_limit(good):
    """3.6 MB of ``[],``: 1.2 million lists, refused before one is built."""
    manifest, payload = good
    count = VALUES + 200_000
    blob = pack(payload, with_extra(manifest, b"[" + b"[]," * (count - 1) + b"[]]"))
    err, peak = peak_of(read, blob)
    assert isinstance(err, ManifestError), repr(err)
    assert "0.manifest.json" in str(err) and "1000000 values" in str(err)
    assert peak < 40 * MIB, f"peak {peak / MIB:.0f} MiB"


@pytest.mark.parametrize("depth", [DEPTH + 1, 2_000, 100_000])
def test_deep_nesting_is_a_manifest_error(good, depth):
    manifest, payload = good
    for doc in (nested(depth), with_extra(manifest, nested(depth))):
        with pytest.raises(
            ManifestError, match=rf"0\.manifest\.json is nested deeper than {DEPTH}"
        ):
            read(pack(payload, doc))


def test_nesting_at_the_limit_still_reads(good):
    manifest, payload = good
    # the manifest object is level 1, so its value may nest DEPTH - 1 more
    m = read(pack(payload, with_extra(manifest, nested(DEPTH - 1))))
    assert m.extra["x"] == json.loads(nested(DEPTH - 1))


def test_bzip2_manifest_is_unsupported(good):
    """bzip2 and LZMA inflate whole chunks without a bound; no SDK writes them."""
    manifest, payload = good
    blob = pack(payload, json.dumps(manifest).encode(), zipfile.ZIP_BZIP2)
    with pytest.raises(UnsupportedError, match=r"0\.manifest\.json.*compression"):
        read(blob)


def test_bzip2_payload_is_unsupported(good, ztdf_rsa_key):
    manifest, payload = good
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("0.payload", payload, compress_type=zipfile.ZIP_BZIP2)
        z.writestr("0.manifest.json", json.dumps(manifest))
    with pytest.raises(UnsupportedError, match=r"0\.payload.*compression"):
        ztdf.decrypt(
            io.BytesIO(out.getvalue()), io.BytesIO(), unwrapper=OfflineUnwrapper([ztdf_rsa_key])
        )


def test_unterminated_string_is_a_manifest_error():
    with pytest.raises(ManifestError, match=r"0\.manifest\.json is not valid JSON"):
        parse_manifest(b'{"a": "' + b'\\"' * 1000)


def test_deeply_nested_policy_is_a_manifest_error():
    raw = base64.b64encode(nested(50_000)).decode()
    with pytest.raises(ManifestError, match=r"encryptionInformation\.policy is nested deeper"):
        Policy.from_b64(raw)


def test_deep_encrypted_metadata_is_a_format_error():
    from xtdf.formats.ztdf.keyaccess import decrypt_metadata

    raw = base64.b64encode(nested(50_000)).decode()
    with pytest.raises(FormatError, match="encryptedMetadata"):
        decrypt_metadata(b"\0" * 32, raw)


# -- the structure scan agrees with json on every valid document ----------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_docs = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _values(value: Any) -> int:
    """Values as the scan counts them: exact, plus one per empty array or object."""
    children = (
        value if isinstance(value, list) else value.values() if isinstance(value, dict) else None
    )
    if children is None:
        return 1
    return 1 + (sum(_values(v) for v in children) if children else 1)


@settings(max_examples=300, deadline=None)
@given(doc=_docs, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_scan_matches_json(doc, ascii_only, indent):
    from xtdf.formats import jsonlimits

    text = json.dumps(doc, ensure_ascii=ascii_only, indent=indent)
    shape = jsonlimits.scan(text.encode("utf-8", "surrogatepass"))
    assert shape.depth == _depth(doc)
    assert shape.values == _values(doc)
    assert jsonlimits.loads(text, "doc") == json.loads(text)


def test_understated_size_never_inflates_past_it(good):
    """A central directory claiming 1,000 bytes for 17 MiB of ``{},``: zipfile stops at
    the claim and the CRC then fails; nothing near the real size is inflated."""
    manifest, payload = good
    blob = bytearray(pack(payload, with_extra(manifest, b"[" + b"{}," * (6 * MIB) + b"{}]")))
    cd = blob.rindex(b"PK\x01\x02")
    blob[cd + 24 : cd + 28] = (1000).to_bytes(4, "little")
    err, peak = peak_of(read, bytes(blob))
    assert isinstance(err, FormatError) and "0.manifest.json" in str(err), repr(err)
    assert peak < 2 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_deep_assertion_binding_header_is_an_assertion_error(ztdf_rsa_key):
    from xtdf.crypto.encoding import b64url_encode
    from xtdf.errors import AssertionSignatureError
    from xtdf.formats.ztdf.assertions import verify_assertion
    from xtdf.formats.ztdf.manifest import Assertion, Binding, Statement

    for header, claims in (
        (nested(50_000), b"{}"),
        (b'{"alg":"HS256"}', b"[" + b"{}," * 20_000 + b"{}]"),
    ):
        token = f"{b64url_encode(header)}.{b64url_encode(claims)}.c2ln"
        a = Assertion(
            id="a1",
            type="handling",
            scope="tdo",
            statement=Statement(format="string", value="x"),
            binding=Binding(method="jws", signature=token),
        )
        with pytest.raises(
            AssertionSignatureError, match=r"assertion 'a1': binding (header|claims) "
        ):
            verify_assertion(a, b"", b"\0" * 32)
