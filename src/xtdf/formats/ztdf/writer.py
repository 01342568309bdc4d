"""ZTDF encrypt: stream plaintext into AES-GCM segments inside a zip, then write the manifest.

Layout choices follow the Go SDK (``sdk/tdf.go``): payload entry first, GMAC segment
hashes and an HS256 root signature by default, 2 MiB segments, KAO ``schemaVersion``
"1.0", and the target mode deciding the encoding: below 4.3.0 every hash is stored hexed
and the top-level ``schemaVersion`` is omitted; from 4.3.0 hashes are raw and
``schemaVersion`` is "4.3.0".
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xtdf.crypto.encoding import b64encode
from xtdf.crypto.symmetric import random_bytes
from xtdf.errors import UsageError
from xtdf.formats.ztdf import integrity
from xtdf.formats.ztdf.container import ZIP64_LIMIT, ArchiveWriter
from xtdf.formats.ztdf.keyaccess import SHARE_SIZE, KeyAccessTarget, make_kao
from xtdf.formats.ztdf.manifest import (
    DEFAULT_MIME_TYPE,
    PAYLOAD_NAME,
    EncryptionInformation,
    IntegrityInformation,
    Manifest,
    Method,
    Payload,
    RootSignature,
    Segment,
)
from xtdf.formats.ztdf.payload import (
    DEFAULT_SEGMENT_SIZE,
    SEGMENT_OVERHEAD,
    SegmentEncryptor,
    check_segment_size,
    segment_count,
)
from xtdf.formats.ztdf.policy import Policy
from xtdf.formats.ztdf.streams import (
    PathOrFile,
    fill,
    input_size,
    is_file_object,
    open_input,
    reader_into,
)

if TYPE_CHECKING:  # assertions pull in JOSE; only files that carry them load it
    from xtdf.formats.ztdf.assertions import AssertionConfig

#: the spec version this implementation writes for "hexless" targets
TDF_SPEC_VERSION = "4.3.0"
DEFAULT_TARGET_MODE = "4.3.0"
#: target modes below this store hashes as hex text (upstream's ``hexSemverThreshold``)
HEXLESS_SINCE = (4, 3, 0)


def parse_target_mode(mode: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", mode or "")
    if not m:
        raise UsageError(f"target mode must be a version such as 4.2.2 or 4.3.0: {mode!r}")
    return int(m[1]), int(m[2]), int(m[3])


def _split_shares(targets: Sequence[KeyAccessTarget]) -> tuple[dict[str, bytes], bytes]:
    shares: dict[str, bytes] = {}
    for t in targets:
        if t.split_id not in shares:
            shares[t.split_id] = random_bytes(SHARE_SIZE)
    dek = bytearray(SHARE_SIZE)
    for share in shares.values():
        for i, b in enumerate(share):
            dek[i] ^= b
    return shares, bytes(dek)


def _targets(key_access: Iterable[KeyAccessTarget | Mapping[str, Any]]) -> list[KeyAccessTarget]:
    out = []
    for t in key_access:
        if isinstance(t, KeyAccessTarget):
            out.append(t)
        elif isinstance(t, Mapping):
            out.append(
                KeyAccessTarget(
                    url=str(t["url"]),
                    public_key=t["public_key"],
                    kid=str(t.get("kid", "") or ""),
                    split_id=str(t.get("split_id", t.get("sid", "")) or ""),
                )
            )
        else:
            raise UsageError(f"key_access entries must be KeyAccessTarget, not {type(t).__name__}")
    if not out:
        raise UsageError("encrypt needs at least one key access target")
    return out


def encrypt(
    src: PathOrFile,
    dst: PathOrFile,
    *,
    key_access: Iterable[KeyAccessTarget | Mapping[str, Any]],
    policy: Policy | Mapping[str, Any] | None = None,
    attributes: Iterable[str] = (),
    mime_type: str = DEFAULT_MIME_TYPE,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    target_mode: str = DEFAULT_TARGET_MODE,
    segment_hash_alg: str = integrity.GMAC,
    assertions: Iterable[AssertionConfig] = (),
    metadata: str | None = None,
) -> Manifest:
    """Encrypt ``src`` into a ZTDF at ``dst`` (paths or binary file objects).

    Returns the manifest written. On failure a ``dst`` path is removed; a ``dst`` file
    object may hold partial output (callers use :func:`xtdf.atomicfile.atomic_write`).
    """
    targets = _targets(key_access)
    check_segment_size(segment_size)
    hexed = parse_target_mode(target_mode) < HEXLESS_SINCE
    seg_alg = integrity.normalise_alg(segment_hash_alg, "segment hash")
    if policy is None:
        policy_obj = Policy.create(attributes)
    elif isinstance(policy, Policy):
        policy_obj = policy
    else:
        policy_obj = Policy.from_json(policy)
    policy_b64 = policy_obj.to_b64()

    shares, dek = _split_shares(targets)
    kaos = [make_kao(t, shares[t.split_id], policy_b64, metadata) for t in targets]
    configs = list(assertions)

    created = False  # only a dst path this call opened is removed on failure
    try:
        with open_input(src) as fh:
            size = input_size(fh)
            zip64 = size is None or (
                size + segment_count(size, segment_size) * SEGMENT_OVERHEAD >= ZIP64_LIMIT
            )
            archive = ArchiveWriter(dst, zip64=zip64)
            created = not is_file_object(dst)
            try:
                segments, aggregate = _write_payload(fh, archive, dek, segment_size, seg_alg, hexed)
                manifest = _manifest(
                    policy_b64,
                    kaos,
                    segments,
                    aggregate,
                    dek,
                    segment_size,
                    seg_alg,
                    hexed,
                    mime_type,
                )
                if configs:
                    from xtdf.formats.ztdf.assertions import sign_assertion

                    manifest.assertions = [
                        sign_assertion(c, bytes(aggregate), hexed, dek) for c in configs
                    ]
                archive.finish(manifest.to_json())
            except BaseException:
                archive.abort()
                raise
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(dst)  # type: ignore[arg-type]
        raise
    return manifest


def _write_payload(
    fh: Any,
    archive: ArchiveWriter,
    dek: bytes,
    segment_size: int,
    seg_alg: str,
    hexed: bool,
) -> tuple[list[Segment], bytearray]:
    readinto = reader_into(fh)
    plain = memoryview(bytearray(segment_size))
    enc = SegmentEncryptor(dek, segment_size)
    out = archive.open_payload()
    segments: list[Segment] = []
    aggregate = bytearray()
    while True:
        n = fill(readinto, plain)
        if n == 0 and segments:
            break
        sealed = enc.encrypt(plain[:n])
        out.write(sealed)
        stored = integrity.stored_form(integrity.segment_hash(seg_alg, dek, sealed), hexed)
        aggregate += stored
        segments.append(
            Segment(
                hash=b64encode(stored),
                segment_size=n,
                encrypted_segment_size=len(sealed),
            )
        )
        if n < segment_size:
            break
    out.close()
    return segments, aggregate


def _manifest(
    policy_b64: str,
    kaos: list[Any],
    segments: list[Segment],
    aggregate: bytearray,
    dek: bytes,
    segment_size: int,
    seg_alg: str,
    hexed: bool,
    mime_type: str,
) -> Manifest:
    root = integrity.root_signature(integrity.HS256, dek, bytes(aggregate))
    info = IntegrityInformation(
        root_signature=RootSignature(alg=integrity.HS256, sig=integrity.encode(root, hexed)),
        segment_hash_alg=seg_alg,
        segment_size_default=segment_size,
        encrypted_segment_size_default=segment_size + SEGMENT_OVERHEAD,
        segments=segments,
    )
    fields: dict[str, Any] = {}
    if not hexed:
        fields["schema_version"] = TDF_SPEC_VERSION
    return Manifest(
        encryption_information=EncryptionInformation(
            type="split",
            policy=policy_b64,
            key_access=kaos,
            method=Method(algorithm="AES-256-GCM", iv="", is_streamable=True),
            integrity_information=info,
        ),
        payload=Payload(
            type="reference",
            url=PAYLOAD_NAME,
            protocol="zip",
            mime_type=mime_type or DEFAULT_MIME_TYPE,
            is_encrypted=True,
        ),
        **fields,
    )
