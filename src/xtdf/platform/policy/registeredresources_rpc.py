"""``policy.registeredresources.RegisteredResourcesService``: resources and their values."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.registeredresources import registered_resources_pb2 as rr
from xtdf.platform.policy.rpc_support import Registrar, page, update_metadata
from xtdf.platform.rpc import RpcError

REGISTERED = "policy.registeredresources.RegisteredResourcesService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    def identifier(req: Message) -> tuple[str, str]:
        which = req.WhichOneof("identifier")
        if which is None:
            raise RpcError("invalid_argument", "identifier: an id or a name/fqn is required")
        return which, getattr(req, which)

    @rpc(REGISTERED, "CreateRegisteredResource", rr.CreateRegisteredResourceRequest,
         rr.CreateRegisteredResourceResponse)  # fmt: skip
    def create_resource(req: rr.CreateRegisteredResourceRequest) -> Message:
        metadata = req.metadata if req.HasField("metadata") else None
        return rr.CreateRegisteredResourceResponse(
            resource=store.create_resource(req.name, req.values, metadata)
        )

    @rpc(REGISTERED, "GetRegisteredResource", rr.GetRegisteredResourceRequest,
         rr.GetRegisteredResourceResponse, True)  # fmt: skip
    def get_resource(req: rr.GetRegisteredResourceRequest) -> Message:
        which, ident = identifier(req)
        return rr.GetRegisteredResourceResponse(
            resource=store.get_resource(ident, by_name=which == "name")
        )

    @rpc(REGISTERED, "ListRegisteredResources", rr.ListRegisteredResourcesRequest,
         rr.ListRegisteredResourcesResponse, True)  # fmt: skip
    def list_resources(req: rr.ListRegisteredResourcesRequest) -> Message:
        resp = rr.ListRegisteredResourcesResponse(resources=store.list_resources())
        page(resp, "resources", req)
        return resp

    @rpc(REGISTERED, "UpdateRegisteredResource", rr.UpdateRegisteredResourceRequest,
         rr.UpdateRegisteredResourceResponse)  # fmt: skip
    def update_resource(req: rr.UpdateRegisteredResourceRequest) -> Message:
        return rr.UpdateRegisteredResourceResponse(
            resource=store.update_resource(req.id, req.name, *update_metadata(req))
        )

    @rpc(REGISTERED, "DeleteRegisteredResource", rr.DeleteRegisteredResourceRequest,
         rr.DeleteRegisteredResourceResponse)  # fmt: skip
    def delete_resource(req: rr.DeleteRegisteredResourceRequest) -> Message:
        return rr.DeleteRegisteredResourceResponse(resource=store.delete_resource(req.id))

    @rpc(REGISTERED, "CreateRegisteredResourceValue", rr.CreateRegisteredResourceValueRequest,
         rr.CreateRegisteredResourceValueResponse)  # fmt: skip
    def create_value(req: rr.CreateRegisteredResourceValueRequest) -> Message:
        metadata = req.metadata if req.HasField("metadata") else None
        value = store.create_resource_value(
            req.resource_id, req.value, list(req.action_attribute_values), metadata
        )
        return rr.CreateRegisteredResourceValueResponse(value=value)

    @rpc(REGISTERED, "GetRegisteredResourceValue", rr.GetRegisteredResourceValueRequest,
         rr.GetRegisteredResourceValueResponse, True)  # fmt: skip
    def get_value(req: rr.GetRegisteredResourceValueRequest) -> Message:
        _, ident = identifier(req)
        return rr.GetRegisteredResourceValueResponse(value=store.get_resource_value(ident))

    @rpc(REGISTERED, "GetRegisteredResourceValuesByFQNs",
         rr.GetRegisteredResourceValuesByFQNsRequest,
         rr.GetRegisteredResourceValuesByFQNsResponse, True)  # fmt: skip
    def values_by_fqns(req: rr.GetRegisteredResourceValuesByFQNsRequest) -> Message:
        if not req.fqns:
            raise RpcError("invalid_argument", "fqns: at least one FQN is required")
        resp = rr.GetRegisteredResourceValuesByFQNsResponse()
        for fqn, value in store.resource_values_by_fqns(req.fqns).items():
            resp.fqn_value_map[fqn].CopyFrom(value)
        return resp

    @rpc(REGISTERED, "ListRegisteredResourceValues", rr.ListRegisteredResourceValuesRequest,
         rr.ListRegisteredResourceValuesResponse, True)  # fmt: skip
    def list_values(req: rr.ListRegisteredResourceValuesRequest) -> Message:
        resp = rr.ListRegisteredResourceValuesResponse(
            values=store.list_resource_values(req.resource_id)
        )
        page(resp, "values", req)
        return resp

    @rpc(REGISTERED, "UpdateRegisteredResourceValue", rr.UpdateRegisteredResourceValueRequest,
         rr.UpdateRegisteredResourceValueResponse)  # fmt: skip
    def update_value(req: rr.UpdateRegisteredResourceValueRequest) -> Message:
        value = store.update_resource_value(
            req.id, req.value, list(req.action_attribute_values), *update_metadata(req)
        )
        return rr.UpdateRegisteredResourceValueResponse(value=value)

    @rpc(REGISTERED, "DeleteRegisteredResourceValue", rr.DeleteRegisteredResourceValueRequest,
         rr.DeleteRegisteredResourceValueResponse)  # fmt: skip
    def delete_value(req: rr.DeleteRegisteredResourceValueRequest) -> Message:
        return rr.DeleteRegisteredResourceValueResponse(value=store.delete_resource_value(req.id))
