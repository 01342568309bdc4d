"""``xtdf inspect`` for ZTDF: the manifest as JSON plus its decoded policy.

Works without keys, on any SDK's file; a policy that does not decode is reported
in place rather than failing the whole description.
"""

from __future__ import annotations

import os
from typing import Any

from xtdf.crypto.encoding import b64decode
from xtdf.errors import FormatError
from xtdf.formats.ztdf.container import ArchiveReader
from xtdf.formats.ztdf.manifest import parse_manifest
from xtdf.formats.ztdf.policy import Policy


def _hash_encoding(root_sig: str) -> str:
    """ "hex" (4.2.2 and older) or "raw" (4.3.0): an HMAC-SHA256 root is 64 or 32 bytes."""
    try:
        n = len(b64decode(root_sig, "rootSignature.sig"))
    except FormatError:
        return "invalid"
    return {64: "hex", 32: "raw"}.get(n, "unknown")


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    with ArchiveReader(path) as archive:
        manifest = parse_manifest(archive.read_manifest())
        payload_size = archive.payload_size
    info = manifest.integrity
    try:
        policy: Any = Policy.from_b64(manifest.encryption_information.policy).to_dict()
    except FormatError as exc:
        policy = {"error": str(exc)}
    return {
        "format": "ztdf",
        "schemaVersion": manifest.schema_version,
        "hashEncoding": _hash_encoding(manifest.integrity.root_signature.sig),
        "mimeType": manifest.payload.mime_type,
        "payloadSize": payload_size,
        "plaintextSize": sum(
            info.segment_size_default if s.segment_size is None else s.segment_size
            for s in info.segments
        ),
        "segments": len(info.segments),
        "keyAccess": [
            {"type": k.type, "url": k.url, "kid": k.kid, "sid": k.sid}
            for k in manifest.encryption_information.key_access
        ],
        "policy": policy,
        "manifest": manifest.to_dict(),
    }
