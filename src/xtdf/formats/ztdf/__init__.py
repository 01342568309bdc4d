"""ZTDF: a zip holding 0.payload (AES-256-GCM segments) and 0.manifest.json.

The public API: :func:`encrypt`, :func:`decrypt`, :func:`read_manifest`, the key
access helpers (:class:`KeyAccessTarget`, :class:`OfflineUnwrapper`) and assertions.
"""

from importlib import import_module
from typing import Any

#: public name -> the submodule defining it; loaded on first use, so that reading a file
#: without assertions never imports the JOSE stack (it costs more than the decrypt)
_EXPORTS = {
    "AssertionConfig": "assertions",
    "AssertionKey": "assertions",
    "AssertionVerificationKeys": "assertions",
    "load_assertion_configs": "assertions",
    "load_verification_keys": "assertions",
    "KeyAccessTarget": "keyaccess",
    "OfflineUnwrapper": "keyaccess",
    "Unwrapper": "keyaccess",
    "Assertion": "manifest",
    "KeyAccessObject": "manifest",
    "Manifest": "manifest",
    "Statement": "manifest",
    "DEFAULT_SEGMENT_SIZE": "payload",
    "Policy": "policy",
    "Decrypted": "reader",
    "decrypt": "reader",
    "read_manifest": "reader",
    "TDF_SPEC_VERSION": "writer",
    "encrypt": "writer",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
