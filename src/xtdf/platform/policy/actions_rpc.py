"""``policy.actions.ActionService``: the standard actions and custom ones."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.actions import actions_pb2 as ac
from xtdf.platform.policy.rpc_support import DEFAULT_LIMIT, Registrar, required, update_metadata
from xtdf.platform.rpc import RpcError

ACTIONS = "policy.actions.ActionService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(ACTIONS, "GetAction", ac.GetActionRequest, ac.GetActionResponse, True)
    def get_action(req: ac.GetActionRequest) -> Message:
        which = req.WhichOneof("identifier")
        if which is None:
            raise RpcError("invalid_argument", "identifier: an action id or name is required")
        action = store.get_action(getattr(req, which), by_name=which == "name")
        # the subject mappings that grant it
        used = [
            m
            for m in store.list_subject_mappings()
            if any((a.name or a.custom).lower() == action.name for a in m.actions)
        ]
        return ac.GetActionResponse(action=action, subject_mappings=used)

    @rpc(ACTIONS, "ListActions", ac.ListActionsRequest, ac.ListActionsResponse, True)
    def list_actions(req: ac.ListActionsRequest) -> Message:
        listed = store.list_actions()
        # one page over both lists, standard first, as upstream pages its one query
        offset = max(req.pagination.offset, 0)
        limit = req.pagination.limit if req.pagination.limit > 0 else DEFAULT_LIMIT
        resp = ac.ListActionsResponse()
        for action, standard in listed[offset : offset + limit]:
            (resp.actions_standard if standard else resp.actions_custom).append(action)
        resp.pagination.current_offset = offset
        resp.pagination.total = len(listed)
        if offset + limit < len(listed):
            resp.pagination.next_offset = offset + limit
        return resp

    @rpc(ACTIONS, "CreateAction", ac.CreateActionRequest, ac.CreateActionResponse)
    def create_action(req: ac.CreateActionRequest) -> Message:
        metadata = req.metadata if req.HasField("metadata") else None
        return ac.CreateActionResponse(
            action=store.create_action(required("name", req.name), metadata)
        )

    @rpc(ACTIONS, "UpdateAction", ac.UpdateActionRequest, ac.UpdateActionResponse)
    def update_action(req: ac.UpdateActionRequest) -> Message:
        action = store.update_action(required("id", req.id), req.name, *update_metadata(req))
        return ac.UpdateActionResponse(action=action)

    @rpc(ACTIONS, "DeleteAction", ac.DeleteActionRequest, ac.DeleteActionResponse)
    def delete_action(req: ac.DeleteActionRequest) -> Message:
        return ac.DeleteActionResponse(action=store.delete_action(required("id", req.id)))
