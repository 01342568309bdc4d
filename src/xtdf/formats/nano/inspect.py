"""``xtdf inspect`` for NanoTDF: every header field, without any key.

A file that no reader would accept but that is well-formed (an empty ECDSA binding) is
described all the same, with ``warnings`` saying why a decrypt will refuse it.
"""

from __future__ import annotations

import os
from typing import Any

from xtdf.errors import FormatError
from xtdf.formats import jsonlimits
from xtdf.formats.nano.binding import EMPTY_BINDING_MESSAGE
from xtdf.formats.nano.container import NanoTDF, parse, read_bounded
from xtdf.formats.nano.enums import Curve
from xtdf.formats.nano.header import Header, is_empty_ecdsa_binding, split_ecdsa_binding
from xtdf.formats.nano.locator import ResourceLocator


def _locator(loc: ResourceLocator) -> dict[str, Any]:
    return {
        "protocol": loc.protocol.scheme,
        "body": loc.body.decode("utf-8", "replace"),
        "url": loc.url,
        "kid": loc.kid.decode("utf-8", "replace") if loc.kid else None,
        "kidHex": loc.identifier.hex() if loc.identifier else None,
    }


def _policy(tdf: NanoTDF) -> dict[str, Any]:
    policy = tdf.header.policy
    out: dict[str, Any] = {"mode": policy.mode.label, "type": int(policy.mode)}
    if policy.remote is not None:
        out["remote"] = _locator(policy.remote)
        return out
    out["length"] = len(policy.content)
    if policy.mode.is_encrypted:
        out["ciphertextHex"] = policy.content.hex()
    else:
        try:
            out["policy"] = jsonlimits.loads(policy.content, "policy")
        except FormatError:
            out["text"] = policy.content.decode("utf-8", "replace")
    if policy.key_access is not None:
        out["keyAccess"] = {
            "locator": _locator(policy.key_access.locator),
            "ephemeralKey": policy.key_access.ephemeral_key.hex(),
        }
    return out


def _binding(h: Header) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": "ecdsa" if h.ecdsa_binding else "gmac"}
    out["valueHex"] = h.binding.hex()
    if h.ecdsa_binding:
        r, s = split_ecdsa_binding(h.binding, h.curve)
        out |= {"rHex": r.hex(), "sHex": s.hex(), "empty": not r and not s}
    return out


def describe_bytes(data: bytes) -> dict[str, Any]:
    tdf = parse(data)
    h = tdf.header
    header_len = len(h.encode())
    info: dict[str, Any] = {
        "format": "nano",
        "version": "L1L",
        "kas": _locator(h.kas),
        "binding": _binding(h),
        "curve": h.curve.curve_name,
        "cipher": {"mode": int(h.cipher), "tagBits": h.cipher.tag_bits},
        "policy": _policy(tdf),
        "ephemeralKey": h.ephemeral_key.hex(),
        "headerLength": header_len,
        "payload": {
            "length": tdf.payload.length,
            "iv": tdf.payload.iv.hex(),
            "ciphertextLength": len(tdf.payload.ciphertext),
            "tagHex": tdf.payload.tag.hex(),
        },
        "hasSignature": h.has_signature,
        "signature": None,
    }
    if is_empty_ecdsa_binding(h):
        info["warnings"] = [EMPTY_BINDING_MESSAGE]
    if tdf.signature is not None:
        info["signature"] = {
            "curve": Curve(h.signature_curve).curve_name,
            "publicKey": tdf.signature.public_key.hex(),
        }
    return info


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, "rb") as fh:
        data = read_bounded(fh, os.fspath(path))
    return describe_bytes(data)
