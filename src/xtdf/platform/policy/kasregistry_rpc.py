"""``policy.kasregistry.KeyAccessServerRegistryService``: KASes, their keys, the base key.

``CreateKey`` in ``KEY_MODE_CONFIG_ROOT_KEY`` accepts three forms: no key material (the
platform generates the pair), ``private_key_ctx.wrapped_key`` wrapped with our root key
(upstream's form, as otdfctl sends it), or, as a local convenience for importing existing
keys, the base64 of an unencrypted PEM private key, which the platform wraps on arrival.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf._proto.policy.kasregistry import key_access_server_registry_pb2 as kr
from xtdf.crypto.encoding import b64decode
from xtdf.platform.policy import algorithms
from xtdf.platform.policy.rpc_support import (
    Registrar,
    key_row_id,
    one_of,
    page,
    required,
    update_metadata,
)
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import RpcError

KAS_REGISTRY = "policy.kasregistry.KeyAccessServerRegistryService"


def publish_base_key(platform: Any, store: PolicyStore) -> None:
    """Publish the base key in the well-known configuration as upstream does (``base_key``:
    ``kas_uri``, ``kas_id``, ``public_key`` with ``algorithm`` spelled ``rsa:2048``...);
    SDKs read it to choose their default KAS key."""
    base = store.base_key()
    register = getattr(platform, "register_wellknown", None)
    if base is None or register is None:
        return
    register(
        "base_key",
        {
            "kas_uri": base.kas_uri,
            "kas_id": base.kas_id,
            "public_key": {
                "algorithm": algorithms.from_enum(base.public_key.algorithm),
                "kid": base.public_key.kid,
                "pem": base.public_key.pem,
            },
        },
    )


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc
    keys, platform = reg.keys, reg.platform

    @rpc(
        KAS_REGISTRY,
        "CreateKeyAccessServer",
        kr.CreateKeyAccessServerRequest,
        kr.CreateKeyAccessServerResponse,
    )
    def create_kas(req: kr.CreateKeyAccessServerRequest) -> Message:
        kas = store.create_kas(
            req.uri,
            req.name,
            req.public_key if req.HasField("public_key") else None,
            req.source_type,
            req.metadata,
        )
        return kr.CreateKeyAccessServerResponse(key_access_server=kas)

    @rpc(
        KAS_REGISTRY,
        "GetKeyAccessServer",
        kr.GetKeyAccessServerRequest,
        kr.GetKeyAccessServerResponse,
        True,
    )
    def get_kas(req: kr.GetKeyAccessServerRequest) -> Message:
        return kr.GetKeyAccessServerResponse(
            key_access_server=store.get_kas(one_of(req, "identifier"))
        )

    @rpc(
        KAS_REGISTRY,
        "ListKeyAccessServers",
        kr.ListKeyAccessServersRequest,
        kr.ListKeyAccessServersResponse,
        True,
    )
    def list_kas(req: kr.ListKeyAccessServersRequest) -> Message:
        resp = kr.ListKeyAccessServersResponse(key_access_servers=store.list_kas())
        page(resp, "key_access_servers", req)
        return resp

    def store_key(
        kas_id: str,
        key_id: str,
        algorithm: int,
        mode: int,
        public_key_ctx: po.PublicKeyCtx,
        private_key_ctx: po.PrivateKeyCtx,
        legacy: bool = False,
    ) -> str:
        """Make or import one key as ``CreateKey`` (and ``RotateKey``'s new key) asks;
        returns its row id."""
        if not kas_id:
            raise RpcError("invalid_argument", "kas_id: required")
        if not key_id:
            raise RpcError("invalid_argument", "key_id: required")
        alg = algorithms.from_enum(algorithm)
        pub = (
            b64decode(public_key_ctx.pem, "public_key_ctx.pem").decode()
            if public_key_ctx.pem
            else ""
        )
        wrapped = private_key_ctx.wrapped_key
        ks = keys()
        if mode == po.KEY_MODE_PUBLIC_KEY_ONLY:
            if not pub:
                raise RpcError("invalid_argument", "public_key_ctx.pem: required")
            return ks.store_public_only(kas_id, key_id, alg, pub).id
        if mode != po.KEY_MODE_CONFIG_ROOT_KEY:
            raise RpcError(
                "invalid_argument",
                f"key_mode: {po.KeyMode.Name(mode)} is not supported here; use "
                "KEY_MODE_CONFIG_ROOT_KEY or KEY_MODE_PUBLIC_KEY_ONLY",
            )
        if not wrapped:
            return ks.create_key(kas_id, key_id, alg, legacy=legacy).id
        raw = b64decode(wrapped, "private_key_ctx.wrapped_key")
        if raw.lstrip().startswith(b"-----BEGIN"):
            return ks.import_key(
                key_id, alg, raw.decode(), pub or None, legacy=legacy, kas=kas_id
            ).id
        return ks.store_wrapped(kas_id, key_id, alg, wrapped, pub, legacy=legacy).id

    @rpc(KAS_REGISTRY, "CreateKey", kr.CreateKeyRequest, kr.CreateKeyResponse)
    def create_key(req: kr.CreateKeyRequest) -> Message:
        row_id = store_key(
            req.kas_id,
            req.key_id,
            req.key_algorithm,
            req.key_mode,
            req.public_key_ctx,
            req.private_key_ctx,
            req.legacy,
        )
        return kr.CreateKeyResponse(kas_key=store.get_key(row_id))

    @rpc(KAS_REGISTRY, "GetKey", kr.GetKeyRequest, kr.GetKeyResponse, True)
    def get_key(req: kr.GetKeyRequest) -> Message:
        return kr.GetKeyResponse(kas_key=store.get_key(key_row_id(store, req, "identifier")))

    @rpc(KAS_REGISTRY, "ListKeys", kr.ListKeysRequest, kr.ListKeysResponse, True)
    def list_keys(req: kr.ListKeysRequest) -> Message:
        which = req.WhichOneof("kas_filter")
        kas = getattr(req, which) if which else None
        legacy = req.legacy if req.HasField("legacy") else None
        resp = kr.ListKeysResponse(kas_keys=store.list_keys(kas, req.key_algorithm, legacy))
        page(resp, "kas_keys", req)
        return resp

    @rpc(KAS_REGISTRY, "SetBaseKey", kr.SetBaseKeyRequest, kr.SetBaseKeyResponse)
    def set_base_key(req: kr.SetBaseKeyRequest) -> Message:
        previous, new = store.set_base_key(key_row_id(store, req, "active_key"))
        publish_base_key(platform, store)
        resp = kr.SetBaseKeyResponse(new_base_key=new)
        if previous is not None:
            resp.previous_base_key.CopyFrom(previous)
        return resp

    @rpc(KAS_REGISTRY, "GetBaseKey", kr.GetBaseKeyRequest, kr.GetBaseKeyResponse, True)
    def get_base_key(req: kr.GetBaseKeyRequest) -> Message:
        base = store.base_key()
        return kr.GetBaseKeyResponse(base_key=base) if base else kr.GetBaseKeyResponse()

    @rpc(
        KAS_REGISTRY,
        "UpdateKeyAccessServer",
        kr.UpdateKeyAccessServerRequest,
        kr.UpdateKeyAccessServerResponse,
    )
    def update_kas(req: kr.UpdateKeyAccessServerRequest) -> Message:
        metadata, behavior = update_metadata(req)
        kas = store.update_kas(
            req.id,
            uri=req.uri,
            name=req.name,
            public_key=req.public_key if req.HasField("public_key") else None,
            source_type=req.source_type,
            metadata=metadata,
            behavior=behavior,
        )
        return kr.UpdateKeyAccessServerResponse(key_access_server=kas)

    @rpc(
        KAS_REGISTRY,
        "DeleteKeyAccessServer",
        kr.DeleteKeyAccessServerRequest,
        kr.DeleteKeyAccessServerResponse,
    )
    def delete_kas(req: kr.DeleteKeyAccessServerRequest) -> Message:
        return kr.DeleteKeyAccessServerResponse(key_access_server=store.delete_kas(req.id))

    @rpc(
        KAS_REGISTRY,
        "ListKeyAccessServerGrants",
        kr.ListKeyAccessServerGrantsRequest,
        kr.ListKeyAccessServerGrantsResponse,
        True,
    )
    def list_kas_grants(req: kr.ListKeyAccessServerGrantsRequest) -> Message:
        resp = kr.ListKeyAccessServerGrantsResponse()
        for kas, grants in store.kas_grants(req.kas_id, req.kas_uri, req.kas_name):
            entry = resp.grants.add(key_access_server=kas)
            for kind, field in (
                ("namespace", "namespace_grants"),
                ("attribute", "attribute_grants"),
                ("value", "value_grants"),
            ):
                getattr(entry, field).extend(
                    kr.GrantedPolicyObject(id=obj, fqn=fqn) for obj, fqn in grants[kind]
                )
        page(resp, "grants", req)
        return resp

    @rpc(KAS_REGISTRY, "UpdateKey", kr.UpdateKeyRequest, kr.UpdateKeyResponse)
    def update_key(req: kr.UpdateKeyRequest) -> Message:
        """Only a key's labels change: its material and mode are what files were made with."""
        row_id = store.key_row(required("id", req.id))["id"]
        store.relabel_key(row_id, *update_metadata(req))
        return kr.UpdateKeyResponse(kas_key=store.get_key(row_id))

    @rpc(KAS_REGISTRY, "RotateKey", kr.RotateKeyRequest, kr.RotateKeyResponse)
    def rotate_key(req: kr.RotateKeyRequest) -> Message:
        """Make the new key, then in one step mark the old one rotated (it still decrypts
        what was made with it), move its mappings to the new one and, if it was the base
        key, make the new one the base key; as upstream."""
        old = store.get_key(key_row_id(store, req, "active_key"))
        if old.key.key_status != po.KEY_STATUS_ACTIVE:
            raise RpcError(
                "invalid_argument",
                f"key {old.key.key_id!r} is not active: only an active key rotates",
            )
        new = req.new_key
        new_id = store_key(
            old.kas_id,
            new.key_id,
            new.algorithm,
            new.key_mode,
            new.public_key_ctx,
            new.private_key_ctx,
        )
        if new.HasField("metadata"):
            store.relabel_key(new_id, new.metadata, common_pb2.METADATA_UPDATE_ENUM_REPLACE)
        moved, base_moved = store.rotate_key(old.key.id, new_id)
        if base_moved:
            publish_base_key(platform, store)
        resp = kr.RotateKeyResponse(kas_key=store.get_key(new_id))
        rotated = resp.rotated_resources
        rotated.rotated_out_key.CopyFrom(store.get_key(old.key.id))
        for kind, field in (
            ("namespace", "namespace_mappings"),
            ("attribute", "attribute_definition_mappings"),
            ("value", "attribute_value_mappings"),
        ):
            getattr(rotated, field).extend(
                kr.ChangeMappings(id=obj, fqn=fqn) for obj, fqn in moved[kind]
            )
        return resp
