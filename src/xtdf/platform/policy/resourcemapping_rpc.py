"""``policy.resourcemapping.ResourceMappingService``: resource mappings and their groups."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.resourcemapping import resource_mapping_pb2 as rm
from xtdf.platform.policy.rpc_support import Registrar, page, update_metadata
from xtdf.platform.rpc import RpcError

RESOURCE_MAPPING = "policy.resourcemapping.ResourceMappingService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(RESOURCE_MAPPING, "ListResourceMappingGroups", rm.ListResourceMappingGroupsRequest,
         rm.ListResourceMappingGroupsResponse, True)  # fmt: skip
    def list_groups(req: rm.ListResourceMappingGroupsRequest) -> Message:
        resp = rm.ListResourceMappingGroupsResponse(
            resource_mapping_groups=store.list_groups(req.namespace_id)
        )
        page(resp, "resource_mapping_groups", req)
        return resp

    @rpc(RESOURCE_MAPPING, "GetResourceMappingGroup", rm.GetResourceMappingGroupRequest,
         rm.GetResourceMappingGroupResponse, True)  # fmt: skip
    def get_group(req: rm.GetResourceMappingGroupRequest) -> Message:
        return rm.GetResourceMappingGroupResponse(resource_mapping_group=store.get_group(req.id))

    @rpc(RESOURCE_MAPPING, "CreateResourceMappingGroup", rm.CreateResourceMappingGroupRequest,
         rm.CreateResourceMappingGroupResponse)  # fmt: skip
    def create_group(req: rm.CreateResourceMappingGroupRequest) -> Message:
        metadata = req.metadata if req.HasField("metadata") else None
        group = store.create_group(req.namespace_id, req.name, metadata)
        return rm.CreateResourceMappingGroupResponse(resource_mapping_group=group)

    @rpc(RESOURCE_MAPPING, "UpdateResourceMappingGroup", rm.UpdateResourceMappingGroupRequest,
         rm.UpdateResourceMappingGroupResponse)  # fmt: skip
    def update_group(req: rm.UpdateResourceMappingGroupRequest) -> Message:
        group = store.update_group(req.id, req.namespace_id, req.name, *update_metadata(req))
        return rm.UpdateResourceMappingGroupResponse(resource_mapping_group=group)

    @rpc(RESOURCE_MAPPING, "DeleteResourceMappingGroup", rm.DeleteResourceMappingGroupRequest,
         rm.DeleteResourceMappingGroupResponse)  # fmt: skip
    def delete_group(req: rm.DeleteResourceMappingGroupRequest) -> Message:
        return rm.DeleteResourceMappingGroupResponse(
            resource_mapping_group=store.delete_group(req.id)
        )

    @rpc(RESOURCE_MAPPING, "ListResourceMappings", rm.ListResourceMappingsRequest,
         rm.ListResourceMappingsResponse, True)  # fmt: skip
    def list_mappings(req: rm.ListResourceMappingsRequest) -> Message:
        resp = rm.ListResourceMappingsResponse(
            resource_mappings=store.list_resource_mappings(req.group_id)
        )
        page(resp, "resource_mappings", req)
        return resp

    @rpc(RESOURCE_MAPPING, "ListResourceMappingsByGroupFqns",
         rm.ListResourceMappingsByGroupFqnsRequest, rm.ListResourceMappingsByGroupFqnsResponse,
         True)  # fmt: skip
    def by_group_fqns(req: rm.ListResourceMappingsByGroupFqnsRequest) -> Message:
        if not req.fqns:
            raise RpcError("invalid_argument", "fqns: at least one group FQN is required")
        resp = rm.ListResourceMappingsByGroupFqnsResponse()
        for fqn, (group, mappings) in store.resource_mappings_by_group_fqns(req.fqns).items():
            entry = resp.fqn_resource_mapping_groups[fqn]
            entry.group.CopyFrom(group)
            entry.mappings.extend(mappings)
        return resp

    @rpc(RESOURCE_MAPPING, "GetResourceMapping", rm.GetResourceMappingRequest,
         rm.GetResourceMappingResponse, True)  # fmt: skip
    def get_mapping(req: rm.GetResourceMappingRequest) -> Message:
        return rm.GetResourceMappingResponse(resource_mapping=store.get_resource_mapping(req.id))

    @rpc(RESOURCE_MAPPING, "CreateResourceMapping", rm.CreateResourceMappingRequest,
         rm.CreateResourceMappingResponse)  # fmt: skip
    def create_mapping(req: rm.CreateResourceMappingRequest) -> Message:
        metadata = req.metadata if req.HasField("metadata") else None
        mapping = store.create_resource_mapping(
            req.attribute_value_id, req.terms, req.group_id, metadata
        )
        return rm.CreateResourceMappingResponse(resource_mapping=mapping)

    @rpc(RESOURCE_MAPPING, "UpdateResourceMapping", rm.UpdateResourceMappingRequest,
         rm.UpdateResourceMappingResponse)  # fmt: skip
    def update_mapping(req: rm.UpdateResourceMappingRequest) -> Message:
        mapping = store.update_resource_mapping(
            req.id, req.attribute_value_id, list(req.terms), req.group_id, *update_metadata(req)
        )
        return rm.UpdateResourceMappingResponse(resource_mapping=mapping)

    @rpc(RESOURCE_MAPPING, "DeleteResourceMapping", rm.DeleteResourceMappingRequest,
         rm.DeleteResourceMappingResponse)  # fmt: skip
    def delete_mapping(req: rm.DeleteResourceMappingRequest) -> Message:
        return rm.DeleteResourceMappingResponse(
            resource_mapping=store.delete_resource_mapping(req.id)
        )
