"""The KAS's view of its keys: private keys by kid, the active public key per algorithm,
and the legacy keys tried for key access objects whose kid is unknown or empty.

:class:`KeyRing` is the small protocol the rewrap and public-key handlers need;
:class:`StoreKeyRing` satisfies it from the policy service's key store
(:mod:`xtdf.platform.policy.keys`), where keys live wrapped by the platform root key.
Unwrapping a stored private key and parsing its PEM costs far more than a rewrap, so
parsed keys are cached per instance; a miss asks the store again, so keys created or
imported while the platform runs are found without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xtdf.crypto.keys import PrivateKey
from xtdf.errors import KeyAccessError
from xtdf.platform.policy.keys import KeyStore


@dataclass(frozen=True)
class KasKey:
    """One key of a KAS instance with its parsed private half."""

    kid: str
    alg: str
    public_pem: str
    private: PrivateKey
    legacy: bool = False

    @property
    def is_rsa(self) -> bool:
        return isinstance(self.private, rsa.RSAPrivateKey)

    def fits(self, key_type: str, curve: str | None = None) -> bool:
        """Whether this key can unwrap a key access object of ``key_type``."""
        if key_type == "wrapped":
            return self.is_rsa
        if key_type != "ec-wrapped" or not isinstance(self.private, ec.EllipticCurvePrivateKey):
            return False
        return curve is None or self.private.curve.name == curve


class KeyRing(Protocol):
    """What the KAS handlers need from a key store, per KAS instance."""

    def private_key(self, instance: str, kid: str) -> KasKey | None:
        """The key ``kid`` of ``instance``, or None when it has none by that kid."""
        ...

    def active_key(self, instance: str, algorithm: str) -> KasKey:
        """The key ``PublicKey`` hands out for ``algorithm``; KeyAccessError if none."""
        ...

    def legacy_keys(self, instance: str) -> list[KasKey]:
        """Keys kept to decrypt old files, tried when a kid is unknown or empty."""
        ...


class StoreKeyRing:
    """:class:`KeyRing` over the policy key store, with parsed keys cached."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._keys: dict[tuple[str, str], KasKey] = {}
        self._lock = threading.Lock()

    def _load(self, instance: str, kid: str) -> KasKey | None:
        try:
            rec = self.store.record(instance, kid)
            if not rec.has_private:
                return None
            private = self.store.private_key_for(instance, kid)
        except KeyAccessError:
            return None
        key = KasKey(rec.kid, rec.alg, rec.public_pem, private, rec.legacy)
        with self._lock:
            self._keys[(instance, kid)] = key
        return key

    def private_key(self, instance: str, kid: str) -> KasKey | None:
        if not kid:
            return None
        cached = self._keys.get((instance, kid))
        if cached is not None:
            return cached
        return self._load(instance, kid)

    def active_key(self, instance: str, algorithm: str) -> KasKey:
        rec = self.store.active_key(instance, algorithm)
        key = self.private_key(instance, rec.kid)
        if key is None:
            raise KeyAccessError(f"KAS {instance!r}: key {rec.kid!r} has no private key here")
        return key

    def legacy_keys(self, instance: str) -> list[KasKey]:
        try:
            records = self.store.legacy_keys(instance)
        except KeyAccessError:
            return []
        out = []
        for rec in records:
            key = self.private_key(instance, rec.kid)
            if key is not None:
                out.append(key)
        return out
