"""ZTDF: a zip holding 0.payload (AES-256-GCM segments) and 0.manifest.json.

The public API: :func:`encrypt`, :func:`decrypt`, :func:`read_manifest`, the key
access helpers (:class:`KeyAccessTarget`, :class:`OfflineUnwrapper`) and assertions.
"""

from xtdf.formats.ztdf.assertions import (
    AssertionConfig,
    AssertionKey,
    AssertionVerificationKeys,
    load_assertion_configs,
    load_verification_keys,
)
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper, Unwrapper
from xtdf.formats.ztdf.manifest import Assertion, KeyAccessObject, Manifest, Statement
from xtdf.formats.ztdf.payload import DEFAULT_SEGMENT_SIZE
from xtdf.formats.ztdf.policy import Policy
from xtdf.formats.ztdf.reader import Decrypted, decrypt, read_manifest
from xtdf.formats.ztdf.writer import TDF_SPEC_VERSION, encrypt

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "TDF_SPEC_VERSION",
    "Assertion",
    "AssertionConfig",
    "AssertionKey",
    "AssertionVerificationKeys",
    "Decrypted",
    "KeyAccessObject",
    "KeyAccessTarget",
    "Manifest",
    "OfflineUnwrapper",
    "Policy",
    "Statement",
    "Unwrapper",
    "decrypt",
    "encrypt",
    "load_assertion_configs",
    "load_verification_keys",
    "read_manifest",
]
