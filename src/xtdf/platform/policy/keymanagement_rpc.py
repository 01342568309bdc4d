"""``policy.keymanagement.KeyManagementService``: key provider configurations."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.keymanagement import key_management_pb2 as km
from xtdf.platform.policy.rpc_support import Registrar, page, update_metadata
from xtdf.platform.rpc import RpcError

KEY_MANAGEMENT = "policy.keymanagement.KeyManagementService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(KEY_MANAGEMENT, "CreateProviderConfig", km.CreateProviderConfigRequest,
         km.CreateProviderConfigResponse)  # fmt: skip
    def create(req: km.CreateProviderConfigRequest) -> Message:
        metadata = req.metadata if req.HasField("metadata") else None
        return km.CreateProviderConfigResponse(
            provider_config=store.create_provider(
                req.name, req.config_json, metadata, manager=req.manager
            )
        )

    @rpc(KEY_MANAGEMENT, "GetProviderConfig", km.GetProviderConfigRequest,
         km.GetProviderConfigResponse, True)  # fmt: skip
    def get(req: km.GetProviderConfigRequest) -> Message:
        which = req.WhichOneof("identifier")
        if which is None:
            raise RpcError(
                "invalid_argument", "identifier: an id, a name or a name_manager is required"
            )
        if which == "name_manager":
            pair = req.name_manager
            if not pair.manager.strip():
                raise RpcError("invalid_argument", "name_manager.manager: required")
            provider = store.get_provider(pair.name, by_name=True, manager=pair.manager)
        else:
            provider = store.get_provider(
                getattr(req, which), by_name=which == "name", manager=req.manager
            )
        return km.GetProviderConfigResponse(provider_config=provider)

    @rpc(KEY_MANAGEMENT, "ListProviderConfigs", km.ListProviderConfigsRequest,
         km.ListProviderConfigsResponse, True)  # fmt: skip
    def list_(req: km.ListProviderConfigsRequest) -> Message:
        resp = km.ListProviderConfigsResponse(provider_configs=store.list_providers())
        page(resp, "provider_configs", req)
        return resp

    @rpc(KEY_MANAGEMENT, "UpdateProviderConfig", km.UpdateProviderConfigRequest,
         km.UpdateProviderConfigResponse)  # fmt: skip
    def update(req: km.UpdateProviderConfigRequest) -> Message:
        provider = store.update_provider(
            req.id, req.name, req.config_json, *update_metadata(req), manager=req.manager
        )
        return km.UpdateProviderConfigResponse(provider_config=provider)

    @rpc(KEY_MANAGEMENT, "DeleteProviderConfig", km.DeleteProviderConfigRequest,
         km.DeleteProviderConfigResponse)  # fmt: skip
    def delete(req: km.DeleteProviderConfigRequest) -> Message:
        return km.DeleteProviderConfigResponse(provider_config=store.delete_provider(req.id))
