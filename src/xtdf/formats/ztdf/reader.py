"""ZTDF decrypt: rebuild the DEK, verify everything the manifest promises, then stream.

Order matters: the manifest is small, so the policy bindings, the root signature over
all segment hashes and the assertions are all checked before the first plaintext byte is
written; after that each segment is checked (its hash, then its GCM tag) before its
plaintext is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from xtdf.errors import (
    IntegrityError,
    KeyAccessError,
    KeyUnwrapError,
    ManifestError,
    RootSignatureError,
    SegmentIntegrityError,
    UnsupportedError,
    XtdfError,
)
from xtdf.formats.ztdf import integrity, keywrap
from xtdf.formats.ztdf.container import ArchiveReader, Source
from xtdf.formats.ztdf.keyaccess import SHARE_SIZE, Unwrapper, decrypt_metadata
from xtdf.formats.ztdf.manifest import KeyAccessObject, Manifest, parse_manifest
from xtdf.formats.ztdf.payload import MAX_SEGMENT_SIZE, SEGMENT_OVERHEAD, SegmentDecryptor
from xtdf.formats.ztdf.streams import PathOrFile, fill, is_file_object

if TYPE_CHECKING:  # assertions pull in JOSE; a file without them never loads it
    from xtdf.formats.ztdf.assertions import AssertionKey, AssertionVerificationKeys


@dataclass
class SegmentPlan:
    index: int
    size: int
    encrypted_size: int
    stored_hash: bytes


@dataclass
class Decrypted:
    """What a decrypt learned besides the plaintext."""

    manifest: Manifest
    size: int
    metadata: list[str] = field(default_factory=list)


def read_manifest(src: Source) -> Manifest:
    """Parse ``0.manifest.json`` of a ZTDF without touching the payload."""
    with ArchiveReader(src) as archive:
        return parse_manifest(archive.read_manifest())


def plan_segments(manifest: Manifest) -> tuple[list[SegmentPlan], bytes, str]:
    """Segment sizes and stored hashes, the aggregate they form, and the hash algorithm."""
    info = manifest.integrity
    seg_alg = integrity.normalise_alg(info.segment_hash_alg, "segment hash")
    plans = []
    aggregate = bytearray()
    for i, seg in enumerate(info.segments):
        size = info.segment_size_default if seg.segment_size is None else seg.segment_size
        enc = (
            info.encrypted_segment_size_default
            if seg.encrypted_segment_size is None
            else seg.encrypted_segment_size
        )
        if size > MAX_SEGMENT_SIZE:
            raise UnsupportedError(
                f"segment {i} is {size} bytes; at most {MAX_SEGMENT_SIZE} are supported"
            )
        if size < 0 or enc != size + SEGMENT_OVERHEAD:
            raise SegmentIntegrityError(
                i, f"encryptedSegmentSize {enc} is not segmentSize {size} + {SEGMENT_OVERHEAD}"
            )
        stored = integrity.decode_stored(seg.hash, f"integrityInformation.segments[{i}].hash")
        aggregate += stored
        plans.append(SegmentPlan(i, size, enc, stored))
    if not plans:
        raise ManifestError("integrityInformation.segments is empty")
    return plans, bytes(aggregate), seg_alg


def verify_root_signature(manifest: Manifest, aggregate: bytes, dek: bytes) -> None:
    root = manifest.integrity.root_signature
    alg = integrity.normalise_alg(root.alg, "root signature")
    stored = integrity.decode_stored(root.sig, "integrityInformation.rootSignature.sig")
    if not integrity.matches(stored, integrity.root_signature(alg, dek, aggregate)):
        raise RootSignatureError(
            "root signature does not match the segment hashes (segments altered, "
            "reordered or removed, or wrong key)"
        )


def _split_error(split: str, failures: list[tuple[int, KeyAccessObject, Exception]]) -> XtdfError:
    """One error for a split no KAO could open; keeps the specific class when all agree."""
    detail = "; ".join(
        f"keyAccess[{i}] ({kao.type} at {kao.url or '-'}, kid {kao.kid or '-'}): {exc}"
        for i, kao, exc in failures
    )
    msg = f"no key access object for split {split!r} yielded a key: {detail}"
    kinds = {type(exc) for _, _, exc in failures}
    err: XtdfError = KeyAccessError(msg)
    if len(kinds) == 1:
        kind = kinds.pop()
        # only classes built from a message alone (not e.g. SegmentIntegrityError)
        if issubclass(kind, XtdfError) and kind.__init__ is XtdfError.__init__:
            err = kind(msg)
    err.failures = failures  # type: ignore[attr-defined]
    return err


def rebuild_key(manifest: Manifest, unwrapper: Unwrapper) -> tuple[bytes, list[str]]:
    """XOR one verified share per split; return the DEK and any decrypted metadata."""
    kaos = manifest.encryption_information.key_access
    if not kaos:
        raise ManifestError("encryptionInformation.keyAccess is empty")
    policy_b64 = manifest.encryption_information.policy
    splits: dict[str, list[tuple[int, KeyAccessObject]]] = {}
    for i, kao in enumerate(kaos):
        splits.setdefault(kao.split_id, []).append((i, kao))
    dek = bytearray(SHARE_SIZE)
    metadata: list[str] = []
    for split, members in splits.items():
        failures: list[tuple[int, KeyAccessObject, Exception]] = []
        for i, kao in members:
            try:
                share = unwrapper(kao, manifest)
                if len(share) != SHARE_SIZE:
                    raise KeyUnwrapError(f"unwrapped key is {len(share)} bytes, not {SHARE_SIZE}")
                keywrap.verify_policy_binding(share, policy_b64, kao.binding_value())
            except XtdfError as exc:
                failures.append((i, kao, exc))
                continue
            for j, b in enumerate(share):
                dek[j] ^= b
            if kao.encrypted_metadata:
                with contextlib.suppress(XtdfError):
                    metadata.append(decrypt_metadata(share, kao.encrypted_metadata))
            break
        else:
            raise _split_error(split, failures)
    return bytes(dek), metadata


def _check_method(manifest: Manifest) -> None:
    alg = manifest.encryption_information.method.algorithm
    if (alg or "").upper() != "AES-256-GCM":
        raise UnsupportedError(f"payload cipher {alg!r} is not supported (AES-256-GCM only)")


def decrypt(
    src: Source,
    dst: PathOrFile,
    *,
    unwrapper: Unwrapper,
    verify_assertions: bool = True,
    assertion_keys: AssertionVerificationKeys | Mapping[str, AssertionKey] | None = None,
) -> Decrypted:
    """Decrypt the ZTDF ``src`` into ``dst`` (paths or binary file objects).

    A ``dst`` path is only created once every manifest-level check has passed and is
    removed if a segment later fails.
    """
    with ArchiveReader(src) as archive:
        manifest = parse_manifest(archive.read_manifest())
        _check_method(manifest)
        plans, aggregate, seg_alg = plan_segments(manifest)
        _check_payload_size(plans, archive.payload_size)
        dek, metadata = rebuild_key(manifest, unwrapper)
        verify_root_signature(manifest, aggregate, dek)
        if verify_assertions and manifest.assertions:
            from xtdf.formats.ztdf.assertions import AssertionVerificationKeys, verify_all

            keys = (
                AssertionVerificationKeys(dict(assertion_keys))
                if isinstance(assertion_keys, Mapping)
                else assertion_keys
            )
            verify_all(manifest.assertions, aggregate, dek, keys)
        created = not is_file_object(dst)
        out: BinaryIO = open(dst, "wb") if created else dst  # type: ignore[arg-type]  # noqa: SIM115
        try:
            size = _stream_segments(archive, plans, seg_alg, dek, out)
        except BaseException:
            if created:
                out.close()
                with contextlib.suppress(OSError):
                    os.unlink(dst)  # type: ignore[arg-type]
            raise
        if created:
            out.close()
    return Decrypted(manifest, size, metadata)


def _check_payload_size(plans: list[SegmentPlan], payload_size: int) -> None:
    offset = 0
    for p in plans:
        if offset + p.encrypted_size > payload_size:
            raise SegmentIntegrityError(
                p.index,
                f"0.payload is truncated ({payload_size} bytes; segment ends at "
                f"{offset + p.encrypted_size})",
            )
        offset += p.encrypted_size
    if offset != payload_size:
        raise IntegrityError(
            f"0.payload has {payload_size - offset} bytes after the last segment in the manifest"
        )


def _stream_segments(
    archive: ArchiveReader,
    plans: list[SegmentPlan],
    seg_alg: str,
    dek: bytes,
    out: Any,
) -> int:
    largest = max(p.encrypted_size for p in plans)
    buf = memoryview(bytearray(largest))
    dec = SegmentDecryptor(dek, largest - SEGMENT_OVERHEAD)
    payload = archive.open_payload()
    readinto = payload.readinto
    total = 0
    for p in plans:
        view = buf[: p.encrypted_size]
        if fill(readinto, view) != p.encrypted_size:
            raise SegmentIntegrityError(p.index, "0.payload ended inside this segment")
        if not integrity.matches(p.stored_hash, integrity.segment_hash(seg_alg, dek, view)):
            raise SegmentIntegrityError(p.index, f"{seg_alg} segment hash mismatch")
        plain = dec.decrypt(p.index, view)
        out.write(plain)
        total += len(plain)
    return total


__all__ = [
    "Decrypted",
    "decrypt",
    "read_manifest",
    "rebuild_key",
    "verify_root_signature",
]
