"""``policy.unsafe.UnsafeService``: renames, reordering, reactivation and deletion (the
rules are in :mod:`.unsafe`; every method's action is ``unsafe``: admin only)."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.unsafe import unsafe_pb2 as us
from xtdf.platform.policy.rpc_support import Registrar, required

UNSAFE = "policy.unsafe.UnsafeService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(UNSAFE, "UnsafeUpdateNamespace", us.UnsafeUpdateNamespaceRequest,
         us.UnsafeUpdateNamespaceResponse)  # fmt: skip
    def update_namespace(req: us.UnsafeUpdateNamespaceRequest) -> Message:
        ns_id = store.unsafe_rename_namespace(req.id, required("name", req.name))
        return us.UnsafeUpdateNamespaceResponse(namespace=store.get_namespace(ns_id))

    @rpc(UNSAFE, "UnsafeReactivateNamespace", us.UnsafeReactivateNamespaceRequest,
         us.UnsafeReactivateNamespaceResponse)  # fmt: skip
    def reactivate_namespace(req: us.UnsafeReactivateNamespaceRequest) -> Message:
        ns_id = store.unsafe_reactivate_namespace(req.id)
        return us.UnsafeReactivateNamespaceResponse(namespace=store.get_namespace(ns_id))

    @rpc(UNSAFE, "UnsafeDeleteNamespace", us.UnsafeDeleteNamespaceRequest,
         us.UnsafeDeleteNamespaceResponse)  # fmt: skip
    def delete_namespace(req: us.UnsafeDeleteNamespaceRequest) -> Message:
        ns = store.get_namespace(required("id", req.id))
        store.unsafe_delete_namespace(ns.id, req.fqn, ns.fqn)
        return us.UnsafeDeleteNamespaceResponse(namespace=ns)

    @rpc(UNSAFE, "UnsafeUpdateAttribute", us.UnsafeUpdateAttributeRequest,
         us.UnsafeUpdateAttributeResponse)  # fmt: skip
    def update_attribute(req: us.UnsafeUpdateAttributeRequest) -> Message:
        attr_id = store.unsafe_update_attribute(req.id, req.name, req.rule, list(req.values_order))
        return us.UnsafeUpdateAttributeResponse(attribute=store.get_attribute(attr_id))

    @rpc(UNSAFE, "UnsafeReactivateAttribute", us.UnsafeReactivateAttributeRequest,
         us.UnsafeReactivateAttributeResponse)  # fmt: skip
    def reactivate_attribute(req: us.UnsafeReactivateAttributeRequest) -> Message:
        attr_id = store.unsafe_reactivate_attribute(req.id)
        return us.UnsafeReactivateAttributeResponse(attribute=store.get_attribute(attr_id))

    @rpc(UNSAFE, "UnsafeDeleteAttribute", us.UnsafeDeleteAttributeRequest,
         us.UnsafeDeleteAttributeResponse)  # fmt: skip
    def delete_attribute(req: us.UnsafeDeleteAttributeRequest) -> Message:
        attr = store.get_attribute(required("id", req.id))
        store.unsafe_delete_attribute(attr.id, req.fqn, attr.fqn)
        return us.UnsafeDeleteAttributeResponse(attribute=attr)

    @rpc(UNSAFE, "UnsafeUpdateAttributeValue", us.UnsafeUpdateAttributeValueRequest,
         us.UnsafeUpdateAttributeValueResponse)  # fmt: skip
    def update_value(req: us.UnsafeUpdateAttributeValueRequest) -> Message:
        value_id = store.unsafe_rename_value(req.id, required("value", req.value))
        return us.UnsafeUpdateAttributeValueResponse(value=store.get_value(value_id))

    @rpc(UNSAFE, "UnsafeReactivateAttributeValue", us.UnsafeReactivateAttributeValueRequest,
         us.UnsafeReactivateAttributeValueResponse)  # fmt: skip
    def reactivate_value(req: us.UnsafeReactivateAttributeValueRequest) -> Message:
        value_id = store.unsafe_reactivate_value(req.id)
        return us.UnsafeReactivateAttributeValueResponse(value=store.get_value(value_id))

    @rpc(UNSAFE, "UnsafeDeleteAttributeValue", us.UnsafeDeleteAttributeValueRequest,
         us.UnsafeDeleteAttributeValueResponse)  # fmt: skip
    def delete_value(req: us.UnsafeDeleteAttributeValueRequest) -> Message:
        value = store.get_value(required("id", req.id))
        store.unsafe_delete_value(value.id, req.fqn, value.fqn)
        return us.UnsafeDeleteAttributeValueResponse(value=value)
