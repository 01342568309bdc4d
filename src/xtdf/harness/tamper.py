"""Ways to damage a TDF, each aimed at one integrity mechanism.

These work on the container bytes directly (zip entries, NanoTDF offsets) and never
through our own writer, so they tamper with any SDK's output in the same way. Each
returns the path of a new file; the original ciphertext, shared through the cache, is
never touched.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]

MANIFEST = "0.manifest.json"
PAYLOAD = "0.payload"
#: the data attribute :func:`change_policy` adds
TAMPERED_ATTRIBUTE = "https://tampered.example.com/attr/x/value/y"


def _rewrite_zip(
    src: Path,
    dst: Path,
    manifest_fn: Callable[[Manifest], Manifest] | None = None,
    payload_fn: Callable[[bytes], bytes] | None = None,
) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == MANIFEST and manifest_fn is not None:
                data = json.dumps(manifest_fn(json.loads(data))).encode()
            elif info.filename == PAYLOAD and payload_fn is not None:
                data = payload_fn(data)
            zout.writestr(info.filename, data)
    return dst


def manifest_of(path: Path) -> Manifest:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(MANIFEST))


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# -- ZTDF ------------------------------------------------------------------------------


def change_policy(src: Path, dst: Path) -> Path:
    """Add a data attribute to the policy, leaving its binding as it was."""

    def fn(m: Manifest) -> Manifest:
        ei = m["encryptionInformation"]
        policy = json.loads(base64.b64decode(ei["policy"]))
        body = policy.setdefault("body", {})
        attrs = body.get("dataAttributes") or []
        attrs.append({"attribute": TAMPERED_ATTRIBUTE})
        body["dataAttributes"] = attrs
        ei["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
        return m

    return _rewrite_zip(src, dst, fn)


def change_policy_binding(src: Path, dst: Path) -> Path:
    def fn(m: Manifest) -> Manifest:
        for kao in m["encryptionInformation"]["keyAccess"]:
            pb = kao["policyBinding"]
            if isinstance(pb, dict):
                pb["hash"] = _flip_b64(pb["hash"])
            else:
                kao["policyBinding"] = _flip_b64(pb)
        return m

    return _rewrite_zip(src, dst, fn)


def change_segment_hash(src: Path, dst: Path, index: int = 0) -> Path:
    def fn(m: Manifest) -> Manifest:
        seg = m["encryptionInformation"]["integrityInformation"]["segments"][index]
        seg["hash"] = _flip_b64(seg["hash"])
        return m

    return _rewrite_zip(src, dst, fn)


def change_root_signature(src: Path, dst: Path) -> Path:
    def fn(m: Manifest) -> Manifest:
        root = m["encryptionInformation"]["integrityInformation"]["rootSignature"]
        root["sig"] = _flip_b64(root["sig"])
        return m

    return _rewrite_zip(src, dst, fn)


def change_segment_size(src: Path, dst: Path) -> Path:
    """Claim a larger default segment size than the payload was cut into."""

    def fn(m: Manifest) -> Manifest:
        ii = m["encryptionInformation"]["integrityInformation"]
        ii["encryptedSegmentSizeDefault"] = ii["encryptedSegmentSizeDefault"] + 1
        for seg in ii["segments"]:
            if "encryptedSegmentSize" in seg:
                seg["encryptedSegmentSize"] += 1
        return m

    return _rewrite_zip(src, dst, fn)


def flip_payload_byte(src: Path, dst: Path, offset: int = 20) -> Path:
    """Flip one bit of the payload (default: inside the first segment's ciphertext)."""

    def fn(data: bytes) -> bytes:
        buf = bytearray(data)
        buf[min(offset, len(buf) - 1)] ^= 0x01
        return bytes(buf)

    return _rewrite_zip(src, dst, payload_fn=fn)


def truncate_payload(src: Path, dst: Path, remove: int = 1) -> Path:
    return _rewrite_zip(src, dst, payload_fn=lambda d: d[:-remove])


def change_assertion_statement(src: Path, dst: Path) -> Path:
    def fn(m: Manifest) -> Manifest:
        a = m["assertions"][0]
        value = a["statement"]["value"]
        a["statement"]["value"] = (
            value + " " if isinstance(value, str) else {**value, "tampered": True}
        )
        return m

    return _rewrite_zip(src, dst, fn)


def drop_assertion_binding(src: Path, dst: Path) -> Path:
    def fn(m: Manifest) -> Manifest:
        m["assertions"][0].pop("binding", None)
        return m

    return _rewrite_zip(src, dst, fn)


def change_manifest_field(src: Path, dst: Path, fn: Callable[[Manifest], Manifest]) -> Path:
    return _rewrite_zip(src, dst, fn)


# -- NanoTDF -----------------------------------------------------------------------------


def flip_nano_byte(src: Path, dst: Path, offset: int) -> Path:
    """Flip a bit at ``offset`` (negative counts from the end, e.g. -1 hits the tag)."""
    buf = bytearray(src.read_bytes())
    buf[offset] ^= 0x01
    dst.write_bytes(bytes(buf))
    return dst
