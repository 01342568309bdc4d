"""Open a NanoTDF given its symmetric key (from a KAS rewrap or ``derive_key_offline``)."""

from __future__ import annotations

from typing import Any

from xtdf.errors import NanoFormatError
from xtdf.formats import jsonlimits
from xtdf.formats.nano.binding import verify_policy_binding
from xtdf.formats.nano.container import NanoTDF, parse
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.header import Header
from xtdf.formats.nano.keys import decrypt_policy
from xtdf.formats.nano.payload import decrypt_payload
from xtdf.formats.nano.signature import verify


def decrypt(data: bytes | NanoTDF, key: bytes, *, verify_signature: bool = True) -> bytes:
    """Check the policy binding (and creator signature, if any), then decrypt the payload.

    Raises PolicyBindingError, NanoSignatureError or PayloadDecryptError on tampering.
    """
    tdf = data if isinstance(data, NanoTDF) else parse(data)
    verify_policy_binding(tdf.header)
    if verify_signature and tdf.signature is not None:
        verify(tdf.signature, Curve(tdf.header.signature_curve), tdf.signed_bytes())
    return decrypt_payload(key, tdf.payload)


def read_policy(header: Header, key: bytes | None = None) -> dict[str, Any]:
    """The embedded policy as JSON; ``key`` decrypts an encrypted one (policy key for type 3)."""
    if header.policy.mode.is_encrypted and key is None:
        raise NanoFormatError("the NanoTDF policy is encrypted; a key is needed to read it")
    raw = decrypt_policy(header, key or b"")
    value = jsonlimits.loads(raw, "NanoTDF policy", error=NanoFormatError)
    if not isinstance(value, dict):
        raise NanoFormatError("NanoTDF policy is not a JSON object")
    return value
