"""Key access objects (KAOs): making them on write, turning them back into key shares on read.

The DEK is the XOR of one 32-byte share per split id; every KAO of a split carries that
split's share, wrapped for its KAS. Reading goes through an *unwrapper* — a callable
``(kao, manifest) -> share`` — so the same reader serves offline keys
(:class:`OfflineUnwrapper`) and a KAS rewrap client.

``encryptedMetadata`` (opentdf/platform ``sdk/tdf.go``, ``encryptMetadata``) is
``base64(JSON {"ciphertext": base64(iv || ct || tag), "iv": base64(iv)})``, AES-256-GCM
under the split share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.crypto.keys import PrivateKey, PublicKey, load_private_pem, load_public_pem
from xtdf.crypto.symmetric import GCM_IV_SIZE, gcm_decrypt, gcm_encrypt, random_bytes
from xtdf.errors import FormatError, KeyUnwrapError, UnknownKeyAccessTypeError
from xtdf.formats import jsonlimits
from xtdf.formats.ztdf import keywrap
from xtdf.formats.ztdf.manifest import KAO_SCHEMA_VERSION, KeyAccessObject, Manifest

WRAPPED = "wrapped"
EC_WRAPPED = "ec-wrapped"
KNOWN_TYPES = (WRAPPED, EC_WRAPPED)
SHARE_SIZE = 32

#: ``(kao, manifest) -> 32-byte share``; raises an XtdfError when it cannot
Unwrapper = Callable[[KeyAccessObject, Manifest], bytes]


@dataclass(frozen=True)
class KeyAccessTarget:
    """One KAS to wrap a split share for: its URL, public key, key id and split id."""

    url: str
    public_key: PublicKey | str | bytes
    kid: str = ""
    split_id: str = ""

    def key(self) -> PublicKey:
        if isinstance(self.public_key, str | bytes):
            return load_public_pem(self.public_key)
        return self.public_key


def encrypt_metadata(share: bytes, metadata: str) -> str:
    iv = random_bytes(GCM_IV_SIZE)
    sealed = iv + gcm_encrypt(share, iv, metadata.encode())
    doc = {"ciphertext": b64encode(sealed), "iv": b64encode(iv)}
    return b64encode(json.dumps(doc, separators=(",", ":")).encode())


def decrypt_metadata(share: bytes, value: str) -> str:
    """Inverse of :func:`encrypt_metadata`; FormatError/PayloadDecryptError on bad input."""
    what = "keyAccess.encryptedMetadata"
    doc = jsonlimits.loads(b64decode(value, what), what)
    try:
        sealed = b64decode(doc["ciphertext"], "encryptedMetadata.ciphertext")
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(
            f"keyAccess.encryptedMetadata is not {{ciphertext, iv}} JSON: {exc}"
        ) from exc
    if len(sealed) < GCM_IV_SIZE:
        raise FormatError("encryptedMetadata.ciphertext is too short")
    return gcm_decrypt(share, sealed[:GCM_IV_SIZE], sealed[GCM_IV_SIZE:]).decode("utf-8", "replace")


def make_kao(
    target: KeyAccessTarget, share: bytes, policy_b64: str, metadata: str | None = None
) -> KeyAccessObject:
    """Wrap ``share`` for ``target`` and bind it to the policy."""
    key = target.key()
    fields: dict[str, object] = {}
    if isinstance(key, rsa.RSAPublicKey):
        kao_type, wrapped = WRAPPED, keywrap.rsa_wrap(key, share)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        wrapped, ephemeral = keywrap.ec_wrap(key, share)
        kao_type = EC_WRAPPED
        fields["ephemeral_public_key"] = ephemeral
    else:  # pragma: no cover - load_public_pem only returns RSA or EC
        raise FormatError(f"unsupported KAS public key type {type(key).__name__}")
    binding = keywrap.policy_binding_object(share, policy_b64)
    kao = KeyAccessObject(
        type=kao_type,
        url=target.url,
        protocol="kas",
        wrapped_key=b64encode(wrapped),
        policy_binding=binding,
        kid=target.kid,
        sid=target.split_id,
        schema_version=KAO_SCHEMA_VERSION,
        **fields,  # type: ignore[arg-type]
    )
    if metadata:
        kao.encrypted_metadata = encrypt_metadata(share, metadata)
    return kao


def unwrap_with(key: PrivateKey, kao: KeyAccessObject, index: int | None = None) -> bytes:
    """Unwrap one KAO's share with a private key (the offline path and the KAS share this)."""
    where = f"keyAccess[{index}]" if index is not None else "keyAccess"
    if kao.type not in KNOWN_TYPES:
        raise UnknownKeyAccessTypeError(f"{where}: unknown key access type {kao.type!r}")
    wrapped = b64decode(kao.wrapped_key, f"{where}.wrappedKey")
    if kao.type == WRAPPED:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyUnwrapError(f"{where}: 'wrapped' needs an RSA key")
        return keywrap.rsa_unwrap(key, wrapped)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyUnwrapError(f"{where}: 'ec-wrapped' needs an EC key")
    if not kao.ephemeral_public_key:
        raise FormatError(f"{where}: ec-wrapped key has no ephemeralPublicKey")
    return keywrap.ec_unwrap(key, wrapped, kao.ephemeral_public_key)


class OfflineUnwrapper:
    """Unwrap with private keys held locally, chosen by ``kid``, then URL, then any that fits.

    The fallback matters for files whose KAO has an empty ``kid`` (upstream's
    key-management golden) or a ``kid`` this holder files under another name.
    """

    def __init__(self, keys: Mapping[str, PrivateKey | str | bytes] | Iterable[PrivateKey]) -> None:
        items = keys.items() if isinstance(keys, Mapping) else enumerate(keys)
        self._keys: dict[str, PrivateKey] = {}
        for name, key in items:
            self._keys[str(name)] = load_private_pem(key) if isinstance(key, str | bytes) else key

    def _candidates(self, kao: KeyAccessObject) -> list[PrivateKey]:
        want = rsa.RSAPrivateKey if kao.type == WRAPPED else ec.EllipticCurvePrivateKey
        first = [self._keys[n] for n in (kao.kid, kao.url) if n and n in self._keys]
        rest = [k for k in self._keys.values() if k not in first]
        return [k for k in first + rest if isinstance(k, want)]

    def __call__(self, kao: KeyAccessObject, manifest: Manifest) -> bytes:
        index = next(
            (i for i, k in enumerate(manifest.encryption_information.key_access) if k is kao),
            None,
        )
        if kao.type not in KNOWN_TYPES:
            where = f"keyAccess[{index}]" if index is not None else "keyAccess"
            raise UnknownKeyAccessTypeError(f"{where}: unknown key access type {kao.type!r}")
        candidates = self._candidates(kao)
        if not candidates:
            raise KeyUnwrapError(f"no local {kao.type} key for kid {kao.kid!r} at {kao.url!r}")
        last: Exception | None = None
        for key in candidates:
            try:
                return unwrap_with(key, kao, index)
            except KeyUnwrapError as exc:
                last = exc
        assert last is not None
        raise last
