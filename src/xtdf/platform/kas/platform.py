"""Wiring the KAS into a platform: keys per instance, the audit log, the registered RPCs."""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path
from typing import Any

from google.protobuf import wrappers_pb2

from xtdf._proto.kas import kas_pb2 as pb
from xtdf.crypto.x509 import self_signed_pem
from xtdf.errors import FormatError, XtdfError
from xtdf.platform.authz.engine import Authorizer
from xtdf.platform.kas.audit import AUDIT_FILE, AuditLog
from xtdf.platform.kas.keyring import StoreKeyRing
from xtdf.platform.kas.service import KasService
from xtdf.platform.policy.keys import KeyRecord, KeyStore, load_extra_keys
from xtdf.platform.rpc import Method

log = logging.getLogger("xtdf.platform.kas")

SERVICE = "kas.AccessService"
#: a path to an ``extra-keys.json`` imported as legacy keys into every instance at start
EXTRA_KEYS_ENV = "XTDF_KAS_EXTRA_KEYS"

_services: weakref.WeakKeyDictionary[Any, KasService] = weakref.WeakKeyDictionary()


def instances(platform: Any) -> list[str]:
    return ["default", *platform.config.kas_ports]


def import_extra_keys(
    platform: Any,
    source: str | Path | list[dict[str, Any]],
    *,
    legacy: bool = True,
    only: list[str] | None = None,
) -> list[KeyRecord]:
    """Import upstream's ``extra-keys.json`` (``[{kid, alg, privateKey, cert}]``) into each
    KAS instance (or those in ``only``); kids an instance already has are left alone."""
    store = KeyStore.for_platform(platform)
    source = load_extra_keys(source)
    out = []
    for name in only or instances(platform):
        store.ensure_kas(name, platform.config.kas_url(name))
        have = {r.kid for r in store.keys(name)}
        fresh = [e for e in source if isinstance(e, dict) and e.get("kid") not in have]
        out.extend(store.import_extra_keys(fresh, kas=name, legacy=legacy))
    # a running KAS needs no telling: only new kids are imported, and its keyring caches
    # only keys it has parsed, never a miss
    return out


#: upstream's file names for the default KAS's public keys, by algorithm
CERT_FILES = {"rsa:2048": "kas-cert.pem", "ec:secp256r1": "kas-ec-cert.pem"}


def publish_certificates(store: KeyStore, directory: Path) -> list[Path]:
    """Write the default instance's active RSA and EC keys as self-signed certificates
    (``CN=kas``, as upstream's set-up makes them), each file replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for alg, name in CERT_FILES.items():
        rec = store.active_key("default", alg)
        pem = self_signed_pem(store.private_key_for("default", rec.kid))
        path = directory / name
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        tmp.write_text(pem)
        os.replace(tmp, path)
        out.append(path)
    return out


def service_for(platform: Any) -> KasService:
    """The KAS service of a platform whose services are loaded."""
    try:
        return _services[platform]
    except KeyError:
        raise LookupError("the KAS is not loaded on this platform") from None


def methods(platform: Any) -> list[Method]:
    store = KeyStore.for_platform(platform)
    for name in instances(platform):
        store.bootstrap(name, platform.config.kas_url(name))
    extra = [*platform.config.extra_keys]
    if os.environ.get(EXTRA_KEYS_ENV):
        extra.append(Path(os.environ[EXTRA_KEYS_ENV]))
    for source in extra:
        try:
            records = import_extra_keys(platform, source)
        except (XtdfError, OSError) as exc:
            raise FormatError(f"extra keys {source}: {exc}") from None
        log.info("imported %d legacy key(s) from %s", len(records), source)
    if platform.config.platform_dir is not None:
        for path in publish_certificates(store, platform.config.platform_dir):
            log.info("wrote %s", path)
    audit = AuditLog(Path(platform.config.state_dir) / AUDIT_FILE)
    service = KasService(StoreKeyRing(store), Authorizer.for_platform(platform), audit)
    _services[platform] = service
    return [
        Method(
            SERVICE,
            "PublicKey",
            pb.PublicKeyRequest,
            pb.PublicKeyResponse,
            service.public_key,  # type: ignore[arg-type]
            auth_required=False,
            idempotent=True,
        ),
        Method(
            SERVICE,
            "LegacyPublicKey",
            pb.LegacyPublicKeyRequest,
            wrappers_pb2.StringValue,
            service.legacy_public_key,  # type: ignore[arg-type]
            auth_required=False,
            idempotent=True,
        ),
        Method(
            SERVICE,
            "Rewrap",
            pb.RewrapRequest,
            pb.RewrapResponse,
            service.rewrap,  # type: ignore[arg-type]
            inline=True,
            # one or a few key access objects: a millisecond, cheaper on the loop than the
            # thread hand-off; a larger request must not hold the loop everyone shares
            inline_if=service.small_rewrap,
        ),
    ]
