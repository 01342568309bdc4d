"""NanoTDF through the platform: the KAS's EC key on encrypt, a header rewrap on decrypt.

Facts (opentdf/platform ``sdk/nanotdf.go`` before its removal, ``sdk/kas_client.go``): a
NanoTDF's rewrap request carries one key access object with the KAS URL and the whole
binary header (``header``, base64 in JSON), algorithm ``ec:secp256r1``; the client's
session key is EC, and the KAS returns the payload key AES-GCM-wrapped under
HKDF-SHA256(SHA-256("L1L"), ECDH(session key, ``sessionPublicKey``)). The policy is the
same JSON object ZTDF uses, with the data attributes in ``body.dataAttributes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from xtdf.client.autoconfigure import parse_fqns
from xtdf.client.kas import EC_P256, PolicyRequest
from xtdf.client.platform_client import PlatformClient
from xtdf.client.ztdf import allowlist_for
from xtdf.crypto.encoding import b64encode
from xtdf.errors import KeyAccessError, UnsupportedError, XtdfError

#: the KAO id of the single key access object in a NanoTDF rewrap
KAO_ID = "kao-0"


@dataclass
class NanoEncryptOptions:
    attributes: str = ""
    ecdsa_binding: bool = False
    plaintext_policy: bool = False


@dataclass
class NanoDecryptOptions:
    kas_allowlist: str = ""
    ignore_kas_allowlist: bool = False


def encrypt(
    client: PlatformClient, src: BinaryIO, dst: BinaryIO, options: NanoEncryptOptions
) -> None:
    """Encrypt ``src`` for the default KAS's EC key into the NanoTDF ``dst``."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from xtdf.formats import nano

    fqns = [f.fqn for f in parse_fqns(options.attributes)] if options.attributes else []
    kas_key = client.kas_public_key(client.config.kas_url, EC_P256)
    public = kas_key.load()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise UnsupportedError(f"KAS {kas_key.url} returned a non-EC key for {EC_P256}")
    blob = nano.encrypt(
        src.read(),
        kas_url=kas_key.url,
        kas_public_key=public,
        kid=kas_key.kid,
        policy=nano.policy_object(fqns),
        policy_mode="plaintext" if options.plaintext_policy else "encrypted",
        binding="ecdsa" if options.ecdsa_binding else "gmac",
    )
    dst.write(blob)


def decrypt(
    client: PlatformClient, src: BinaryIO, dst: BinaryIO, options: NanoDecryptOptions
) -> None:
    """Rewrap the header's key at its KAS (if allowed) and decrypt into ``dst``."""
    from xtdf.crypto import ec as xec
    from xtdf.formats import nano
    from xtdf.formats.nano.container import read_bounded

    data = read_bounded(src)
    kas_url, request = rewrap_request(data)
    allow = allowlist_for(
        client,
        _AsDecryptOptions(options.kas_allowlist, options.ignore_kas_allowlist),
    )
    allow.check(kas_url)
    session_key = xec.generate("secp256r1")
    results = client.rewrap(kas_url, [request], session_key, xec.NANO_V1_SALT)
    key = results.get(KAO_ID, KeyAccessError(f"KAS {kas_url} did not answer for the header"))
    if isinstance(key, XtdfError):
        raise key
    dst.write(nano.decrypt(data, key))


def rewrap_request(data: bytes) -> tuple[str, PolicyRequest]:
    """The KAS URL from the header, and the rewrap request entry carrying the header;
    PolicyBindingError for a header whose ECDSA binding is empty."""
    from xtdf.formats import nano

    header, size = nano.parse_header(data)
    nano.require_binding(header)  # an empty binding binds nothing: no KAS is asked
    kas_url = header.kas.url
    kao = {"url": kas_url, "protocol": "kas", "header": b64encode(data[:size])}
    return kas_url, PolicyRequest("policy", "", [(KAO_ID, kao)], algorithm=EC_P256)


@dataclass
class _AsDecryptOptions:
    """The allowlist fields :func:`allowlist_for` reads."""

    kas_allowlist: str
    ignore_kas_allowlist: bool
