"""NanoTDF v1 (L1L): a compact binary header, an ECDH-derived key, one GCM payload.

``encrypt`` makes one from a KAS's EC public key; a KAS (or a test holding the KAS private
key) gets the symmetric key with ``derive_key_offline``; ``decrypt`` opens it with that key.
"""

from xtdf.formats.nano.binding import binding_id, require_binding, verify_policy_binding
from xtdf.formats.nano.container import NanoTDF, parse
from xtdf.formats.nano.enums import CipherMode, Curve, PolicyMode, Protocol
from xtdf.formats.nano.header import (
    Header,
    Policy,
    PolicyKeyAccess,
    parse_header,
    policy_bytes_for_binding,
)
from xtdf.formats.nano.keys import decrypt_policy, derive_key_offline, derive_policy_key_offline
from xtdf.formats.nano.locator import ResourceLocator
from xtdf.formats.nano.payload import Payload, max_plaintext
from xtdf.formats.nano.reader import decrypt, read_policy
from xtdf.formats.nano.writer import encrypt, policy_object

__all__ = [
    "CipherMode",
    "Curve",
    "Header",
    "NanoTDF",
    "Payload",
    "Policy",
    "PolicyKeyAccess",
    "PolicyMode",
    "Protocol",
    "ResourceLocator",
    "binding_id",
    "decrypt",
    "decrypt_policy",
    "derive_key_offline",
    "derive_policy_key_offline",
    "encrypt",
    "max_plaintext",
    "parse",
    "parse_header",
    "policy_bytes_for_binding",
    "policy_object",
    "read_policy",
    "require_binding",
    "verify_policy_binding",
]
