"""KAS private keys, wrapped by the platform's root key: the API the KAS calls.

The platform owns one root key (AES-256, generated on first start, file ``root.key`` in
the state directory, mode 0600). Private keys created or imported for a KAS are stored in
the policy database only as ``base64(nonce || AES-256-GCM(root, PKCS#8 PEM))``, so a copy
of the database alone reveals nothing. Public halves are stored in clear and served by the
KAS registry and the attribute lookups (SDKs split keys with them).

Use from the KAS::

    store = KeyStore.for_platform(platform)
    store.bootstrap("default", "http://localhost:8080/kas")   # r1 (RSA-2048), ec1 (P-256)
    rec = store.active_key("default", "rsa:2048")             # KeyRecord: kid, public_pem
    priv = store.private_key_for("default", "r1")             # cryptography private key
    for rec in store.legacy_keys("default"): ...              # keys kept only to decrypt

A KAS is named by its registry id, its name (the instance name, e.g. ``default``) or its
URI. Unknown KAS or kid -> :class:`KeyAccessError` naming them. ``bootstrap`` also registers
the instance's URI in the KAS registry, which SDKs read (``ListKeyAccessServers``) to build
their KAS allowlist, so every instance should be bootstrapped at startup with the exact URL
clients use. The root key is upstream's ``OT_ROOT_KEY`` (``RootKey.hex()``) for clients
such as otdfctl that wrap keys themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from xtdf._proto.policy import objects_pb2 as po
from xtdf.crypto import ec as ec_crypto
from xtdf.crypto import rsa as rsa_crypto
from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.crypto.keys import PrivateKey, load_private_pem, load_public_pem, private_pem, public_pem
from xtdf.crypto.symmetric import GCM_IV_SIZE, gcm_decrypt, gcm_encrypt, random_bytes
from xtdf.errors import FormatError, KeyAccessError, XtdfError
from xtdf.platform.policy import algorithms
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import RpcError
from xtdf.platform.store import Database

ROOT_KEY_FILE = "root.key"
#: default keys every KAS instance gets on first start, named as upstream's xtest set-up
#: names them (its NanoTDF cells look for ``ec1`` in the header)
DEFAULT_KEYS = (("r1", "rsa:2048"), ("ec1", "ec:secp256r1"))
#: what the default EC key was called before: a state directory that has it keeps it
#: (files made against it name it) instead of getting a second active EC key
FORMER_EC_KID = "e1"


@dataclass(frozen=True)
class KeyRecord:
    """A KAS key without its private half."""

    id: str
    kas_id: str
    kas_uri: str
    kid: str
    alg: str
    public_pem: str
    legacy: bool
    active: bool
    has_private: bool


class RootKey:
    """AES-256 key that wraps every stored private key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise FormatError(f"root key must be 32 bytes, got {len(key)}")
        self._key = key

    @classmethod
    def load_or_create(cls, path: Path) -> RootKey:
        """Read the hex key at ``path``, creating it (0600) on first use.

        Created atomically: the key is written to a temporary file beside ``path``,
        fsynced, then linked into place (a link, unlike a rename, never replaces a key a
        concurrent first start published; the loser reads the winner's), and the directory
        is fsynced. So ``root.key`` either does not exist or holds a whole key, whenever
        the process dies. A temporary a killed start leaves holds a key nothing used.

        An existing file is never replaced, even an empty one (which only an older
        version's crash during first start, or damage, can produce): the database may hold
        keys wrapped by what it once held, so the error names the file and says why.
        """
        if not path.exists():
            _create_root_key(path)
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise FormatError(f"cannot read root key file {path}: {exc}") from None
        if not text:
            raise FormatError(
                f"root key file {path} is empty (a first start that crashed before writing "
                "it, or damage): restore it from a backup, or, if the platform never ran "
                "with it, remove it so that a new one is made"
            )
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise FormatError(f"root key file {path} is not 64 hex digits") from None
        if len(key) != 32:
            raise FormatError(f"root key file {path} holds {len(key)} bytes, not 32")
        return cls(key)

    def hex(self) -> str:
        """The key as upstream spells a root key (``OT_ROOT_KEY``, 64 hex digits), for
        clients such as otdfctl that wrap keys themselves."""
        return self._key.hex()

    def wrap(self, plaintext: bytes) -> str:
        nonce = random_bytes(GCM_IV_SIZE)
        return b64encode(nonce + gcm_encrypt(self._key, nonce, plaintext))

    def unwrap(self, wrapped: str) -> bytes:
        data = b64decode(wrapped, "wrapped_key")
        if len(data) <= GCM_IV_SIZE:
            raise FormatError("wrapped_key: too short")
        return gcm_decrypt(self._key, data[:GCM_IV_SIZE], data[GCM_IV_SIZE:])


def _create_root_key(path: Path) -> None:
    """Publish a fresh key at ``path`` unless one is there: temp, fsync, link, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(random_bytes(32).hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # a concurrent first start won
            os.link(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def generate_private(alg: str) -> PrivateKey:
    name = algorithms.normalize(alg)
    kind, _, param = name.partition(":")
    if kind == "rsa":
        return rsa_crypto.generate(int(param))
    return ec_crypto.generate(param)


def load_extra_keys(source: str | Path | list[Any]) -> list[Any]:
    """The entries of an ``extra-keys.json`` (a path, or the list itself); FormatError when
    the file is not a JSON array (OSError when it cannot be read)."""
    if not isinstance(source, list):
        try:
            source = json.loads(Path(source).read_text())
        except json.JSONDecodeError as exc:
            raise FormatError(f"not JSON: {exc}") from exc
    if not isinstance(source, list):
        raise FormatError("extra keys: expected a JSON array")
    return source


class KeyStore:
    """Create, import and look up KAS keys; the private halves only ever leave wrapped."""

    _by_platform: ClassVar[weakref.WeakKeyDictionary[Any, KeyStore]] = weakref.WeakKeyDictionary()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, db: Database, root_key: Path | RootKey) -> None:
        self.policy = PolicyStore(db)
        self.root = root_key if isinstance(root_key, RootKey) else RootKey.load_or_create(root_key)
        self._cache: dict[str, PrivateKey] = {}

    @classmethod
    def for_platform(cls, platform: Any) -> KeyStore:
        """One key store per platform object (root key next to the database)."""
        with cls._lock:
            store = cls._by_platform.get(platform.db)
            if store is None:
                state = getattr(platform, "state_dir", None) or getattr(
                    getattr(platform, "config", None), "state_dir", None
                )
                root: Path | RootKey
                if state:
                    root = Path(state) / ROOT_KEY_FILE
                elif str(platform.db.path) == ":memory:":
                    root = RootKey(random_bytes(32))  # nothing persists, so neither does it
                else:
                    root = platform.db.path.parent / ROOT_KEY_FILE
                store = cls._by_platform[platform.db] = cls(platform.db, root)
            return store

    # --- KAS registration -----------------------------------------------------

    def ensure_kas(self, name: str, uri: str) -> str:
        """The registry id of KAS instance ``name`` at ``uri``, registering it if new.

        An instance found under its name at another URI (its port changed between runs)
        is moved there, keeping its keys."""
        uri = uri.strip().rstrip("/")
        db = self.policy.db
        row = db.one("SELECT id FROM policy_kas WHERE uri = ?", [uri])
        if row is not None:
            return row["id"]
        row = db.one("SELECT id FROM policy_kas WHERE name = ?", [name.strip().lower()])
        if row is not None:
            self.policy.move_kas(row["id"], uri)
            return row["id"]
        try:
            return self.policy.create_kas(uri, name=name).id
        except RpcError as exc:
            if exc.code != "already_exists":
                raise
            return self.policy.kas_row(uri)["id"]

    def bootstrap(self, name: str, uri: str) -> list[KeyRecord]:
        """Register the KAS and give it the default keys once; later calls change nothing."""
        kas_id = self.ensure_kas(name, uri)
        out = []
        for kid, alg in DEFAULT_KEYS:
            if alg.startswith("ec:") and self._has(kas_id, FORMER_EC_KID):
                kid = FORMER_EC_KID
            try:
                out.append(self.record(kas_id, kid))
            except KeyAccessError:
                try:
                    out.append(self.create_key(kas_id, kid, alg))
                except RpcError as exc:  # a concurrent bootstrap created it
                    if exc.code != "already_exists":
                        raise
                    out.append(self.record(kas_id, kid))
        return out

    def _has(self, kas: str, kid: str) -> bool:
        try:
            self.record(kas, kid)
        except KeyAccessError:
            return False
        return True

    # --- creating and importing ----------------------------------------------

    def create_key(self, kas: str, kid: str, alg: str, *, legacy: bool = False) -> KeyRecord:
        """Generate a key pair for ``kas`` and store it wrapped by the root key."""
        key = generate_private(alg)
        return self._store(kas, kid, alg, key, legacy=legacy)

    def import_key(
        self,
        kid: str,
        alg: str,
        private_pem_text: str,
        cert_or_pub_pem: str | None = None,
        *,
        legacy: bool = False,
        kas: str = "default",
    ) -> KeyRecord:
        """Import an existing key pair; the public half must match the private one."""
        key = load_private_pem(private_pem_text)
        if cert_or_pub_pem:
            declared = load_public_pem(cert_or_pub_pem)
            if public_pem(declared) != public_pem(key):
                raise FormatError(f"key {kid!r}: certificate does not match the private key")
        return self._store(kas, kid, alg, key, legacy=legacy)

    def import_extra_keys(
        self,
        entries: str | Path | list[dict[str, Any]],
        *,
        kas: str = "default",
        legacy: bool = False,
    ) -> list[KeyRecord]:
        """Import upstream's ``extra-keys.json`` (``kid``, ``alg``, ``privateKey``, ``cert``)."""
        entries = load_extra_keys(entries)
        out = []
        for i, entry in enumerate(entries):
            missing = [f for f in ("kid", "alg", "privateKey") if not entry.get(f)]
            if missing:
                raise FormatError(f"extra keys[{i}]: missing {', '.join(missing)}")
            out.append(
                self.import_key(
                    entry["kid"],
                    entry["alg"],
                    entry["privateKey"],
                    entry.get("cert"),
                    legacy=legacy,
                    kas=kas,
                )
            )
        return out

    def _store(self, kas: str, kid: str, alg: str, key: PrivateKey, *, legacy: bool) -> KeyRecord:
        name = algorithms.normalize(alg)
        actual = algorithms.of_key(key)
        if actual != name:
            raise FormatError(f"key {kid!r}: declared {name} but the key is {actual}")
        kas_id = self._kas_id(kas)
        self.policy.insert_key(
            kas_id,
            kid,
            name,
            po.KEY_MODE_CONFIG_ROOT_KEY,
            public_pem(key),
            self.root.wrap(private_pem(key).encode()),
            legacy=legacy,
        )
        return self.record(kas_id, kid)

    def store_public_only(self, kas: str, kid: str, alg: str, pem: str) -> KeyRecord:
        key = load_public_pem(pem)
        name = algorithms.normalize(alg)
        if algorithms.of_key(key) != name:
            raise FormatError(
                f"key {kid!r}: declared {name} but the key is {algorithms.of_key(key)}"
            )
        kas_id = self._kas_id(kas)
        self.policy.insert_key(
            kas_id, kid, name, po.KEY_MODE_PUBLIC_KEY_ONLY, public_pem(key), None
        )
        return self.record(kas_id, kid)

    def store_wrapped(
        self, kas: str, kid: str, alg: str, wrapped: str, pub: str, *, legacy: bool = False
    ) -> KeyRecord:
        """Store a key a client wrapped with our root key (checked by unwrapping it), as
        otdfctl's ``key create --mode local`` / ``key import --wrapping-key`` send it."""
        try:
            key = load_private_pem(self.root.unwrap(wrapped))
        except XtdfError as exc:
            raise RpcError(
                "invalid_argument", f"private_key_ctx.wrapped_key: cannot unwrap: {exc}"
            ) from exc
        if pub and public_pem(load_public_pem(pub)) != public_pem(key):
            raise RpcError("invalid_argument", "public_key_ctx.pem: does not match the private key")
        return self._store(kas, kid, alg, key, legacy=legacy)

    # --- lookups --------------------------------------------------------------

    def _kas_id(self, kas: str) -> str:
        try:
            return self.policy.kas_row(kas)["id"]
        except RpcError as exc:
            raise KeyAccessError(f"unknown key access server {kas!r}") from exc

    def _record(self, row: Any) -> KeyRecord:
        return KeyRecord(
            id=row["id"],
            kas_id=row["kas_id"],
            kas_uri=row["kas_uri"],
            kid=row["key_id"],
            alg=algorithms.from_enum(row["algorithm"]),
            public_pem=row["public_pem"],
            legacy=bool(row["legacy"]),
            active=row["status"] == po.KEY_STATUS_ACTIVE,
            has_private=bool(row["wrapped_private"]),
        )

    def record(self, kas: str, kid: str) -> KeyRecord:
        kas_id = self._kas_id(kas)
        try:
            return self._record(self.policy.key_row(kid, kas_id))
        except RpcError as exc:
            raise KeyAccessError(f"unknown key {kid!r} for key access server {kas!r}") from exc

    def keys(self, kas: str) -> list[KeyRecord]:
        rows = self.policy.db.query(
            "SELECT k.*, s.uri AS kas_uri FROM policy_kas_keys k JOIN policy_kas s"
            " ON s.id = k.kas_id WHERE k.kas_id = ? ORDER BY k.created_at",
            [self._kas_id(kas)],
        )
        return [self._record(r) for r in rows]

    def legacy_keys(self, kas: str) -> list[KeyRecord]:
        """Keys kept to decrypt old files (tried when a request names no kid)."""
        return [r for r in self.keys(kas) if r.legacy]

    def active_key(self, kas: str, algorithm: str) -> KeyRecord:
        """The first created active, non-legacy key of ``algorithm`` (``rsa:2048``,
        ``ec:secp256r1``): the bootstrap key stays the default when more keys are added."""
        name = algorithms.normalize(algorithm)
        candidates = [
            r
            for r in self.keys(kas)
            if r.alg == name and r.active and not r.legacy and r.has_private
        ]
        if not candidates:
            raise KeyAccessError(f"key access server {kas!r} has no active {name} key")
        return candidates[0]

    def private_key_for(self, kas: str, kid: str) -> PrivateKey:
        """Unwrap the private key ``kid`` of ``kas``."""
        rec = self.record(kas, kid)
        cached = self._cache.get(rec.id)
        if cached is not None:
            return cached
        row = self.policy.db.one(
            "SELECT wrapped_private FROM policy_kas_keys WHERE id = ?", [rec.id]
        )
        if row is None or not row["wrapped_private"]:
            raise KeyAccessError(f"key {kid!r} of {kas!r} has no private key here")
        key = load_private_pem(self.root.unwrap(row["wrapped_private"]))
        self._cache[rec.id] = key
        return key
