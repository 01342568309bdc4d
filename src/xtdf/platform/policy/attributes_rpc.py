"""``policy.attributes.AttributesService``: definitions, values, FQN lookups, grants and keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from xtdf._proto.policy.attributes import attributes_pb2 as at
from xtdf.platform.policy.rpc_support import Registrar, one_of, page, required, update_metadata
from xtdf.platform.rpc import RpcError

ATTRIBUTES = "policy.attributes.AttributesService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(ATTRIBUTES, "CreateAttribute", at.CreateAttributeRequest, at.CreateAttributeResponse)
    def create_attribute(req: at.CreateAttributeRequest) -> Message:
        attr = store.create_attribute(
            req.namespace_id,
            req.name,
            req.rule,
            req.values,
            req.metadata,
            allow_traversal=req.allow_traversal.value,
        )
        return at.CreateAttributeResponse(attribute=attr)

    @rpc(ATTRIBUTES, "GetAttribute", at.GetAttributeRequest, at.GetAttributeResponse, True)
    def get_attribute(req: at.GetAttributeRequest) -> Message:
        return at.GetAttributeResponse(attribute=store.get_attribute(one_of(req, "identifier")))

    @rpc(ATTRIBUTES, "ListAttributes", at.ListAttributesRequest, at.ListAttributesResponse, True)
    def list_attributes(req: at.ListAttributesRequest) -> Message:
        resp = at.ListAttributesResponse(attributes=store.list_attributes(req.namespace, req.state))
        page(resp, "attributes", req)
        return resp

    @rpc(
        ATTRIBUTES,
        "CreateAttributeValue",
        at.CreateAttributeValueRequest,
        at.CreateAttributeValueResponse,
    )
    def create_value(req: at.CreateAttributeValueRequest) -> Message:
        return at.CreateAttributeValueResponse(
            value=store.create_value(req.attribute_id, req.value, req.metadata)
        )

    @rpc(
        ATTRIBUTES,
        "GetAttributeValue",
        at.GetAttributeValueRequest,
        at.GetAttributeValueResponse,
        True,
    )
    def get_value(req: at.GetAttributeValueRequest) -> Message:
        return at.GetAttributeValueResponse(value=store.get_value(one_of(req, "identifier")))

    @rpc(
        ATTRIBUTES,
        "GetAttributeValuesByFqns",
        at.GetAttributeValuesByFqnsRequest,
        at.GetAttributeValuesByFqnsResponse,
        True,
    )
    def values_by_fqns(req: at.GetAttributeValuesByFqnsRequest) -> Message:
        if not req.fqns:
            raise RpcError("invalid_argument", "fqns: at least one FQN is required")
        resp = at.GetAttributeValuesByFqnsResponse()
        for fqn, (attr, value) in store.values_by_fqns(req.fqns).items():
            entry = resp.fqn_attribute_values[fqn]
            entry.attribute.CopyFrom(attr)
            if value is not None:
                entry.value.CopyFrom(value)
        return resp

    @rpc(
        ATTRIBUTES,
        "GetKeyMappingsByFqns",
        at.GetKeyMappingsByFqnsRequest,
        at.GetKeyMappingsByFqnsResponse,
        True,
    )
    def key_mappings_by_fqns(req: at.GetKeyMappingsByFqnsRequest) -> Message:
        resp = at.GetKeyMappingsByFqnsResponse()
        for fqn, (attr, value) in store.values_by_fqns(req.fqns).items():
            entry = resp.fqn_key_mappings[fqn]
            entry.rule = attr.rule
            # the most specific level that has keys wins: value, then definition, namespace
            value_keys = value.kas_keys if value is not None else []
            entry.keys.extend(value_keys or attr.kas_keys or attr.namespace.kas_keys)
        return resp

    def _grant(
        kind: str, resp_t: type[Message], field: str, id_field: str
    ) -> Callable[[Any], Message]:
        def fn(req: Any) -> Message:
            g = getattr(req, field)
            obj, kas = store.assign_grant(kind, getattr(g, id_field), g.key_access_server_id)
            resp = resp_t()
            getattr(resp, field).CopyFrom(type(g)(**{id_field: obj, "key_access_server_id": kas}))
            return resp

        return fn

    def _assign(
        kind: str, resp_t: type[Message], field: str, id_field: str
    ) -> Callable[[Any], Message]:
        def fn(req: Any) -> Message:
            k = getattr(req, field)
            obj, key = store.assign_key(kind, getattr(k, id_field), k.key_id)
            resp = resp_t()
            getattr(resp, field).CopyFrom(type(k)(**{id_field: obj, "key_id": key}))
            return resp

        return fn

    rpc(
        ATTRIBUTES,
        "AssignKeyAccessServerToAttribute",
        at.AssignKeyAccessServerToAttributeRequest,
        at.AssignKeyAccessServerToAttributeResponse,
    )(
        _grant(
            "attribute",
            at.AssignKeyAccessServerToAttributeResponse,
            "attribute_key_access_server",
            "attribute_id",
        )
    )
    rpc(
        ATTRIBUTES,
        "AssignKeyAccessServerToValue",
        at.AssignKeyAccessServerToValueRequest,
        at.AssignKeyAccessServerToValueResponse,
    )(
        _grant(
            "value", at.AssignKeyAccessServerToValueResponse, "value_key_access_server", "value_id"
        )
    )
    rpc(
        ATTRIBUTES,
        "AssignPublicKeyToAttribute",
        at.AssignPublicKeyToAttributeRequest,
        at.AssignPublicKeyToAttributeResponse,
    )(_assign("attribute", at.AssignPublicKeyToAttributeResponse, "attribute_key", "attribute_id"))
    rpc(
        ATTRIBUTES,
        "AssignPublicKeyToValue",
        at.AssignPublicKeyToValueRequest,
        at.AssignPublicKeyToValueResponse,
    )(_assign("value", at.AssignPublicKeyToValueResponse, "value_key", "value_id"))

    @rpc(
        ATTRIBUTES,
        "ListAttributeValues",
        at.ListAttributeValuesRequest,
        at.ListAttributeValuesResponse,
        True,
    )
    def list_values(req: at.ListAttributeValuesRequest) -> Message:
        resp = at.ListAttributeValuesResponse(values=store.list_values(req.attribute_id, req.state))
        page(resp, "values", req)
        return resp

    @rpc(ATTRIBUTES, "UpdateAttribute", at.UpdateAttributeRequest, at.UpdateAttributeResponse)
    def update_attribute(req: at.UpdateAttributeRequest) -> Message:
        return at.UpdateAttributeResponse(
            attribute=store.update_attribute(req.id, *update_metadata(req))
        )

    @rpc(
        ATTRIBUTES,
        "DeactivateAttribute",
        at.DeactivateAttributeRequest,
        at.DeactivateAttributeResponse,
    )
    def deactivate_attribute(req: at.DeactivateAttributeRequest) -> Message:
        return at.DeactivateAttributeResponse(attribute=store.deactivate_attribute(req.id))

    @rpc(
        ATTRIBUTES,
        "UpdateAttributeValue",
        at.UpdateAttributeValueRequest,
        at.UpdateAttributeValueResponse,
    )
    def update_value(req: at.UpdateAttributeValueRequest) -> Message:
        return at.UpdateAttributeValueResponse(
            value=store.update_value(req.id, *update_metadata(req))
        )

    @rpc(
        ATTRIBUTES,
        "DeactivateAttributeValue",
        at.DeactivateAttributeValueRequest,
        at.DeactivateAttributeValueResponse,
    )
    def deactivate_value(req: at.DeactivateAttributeValueRequest) -> Message:
        return at.DeactivateAttributeValueResponse(value=store.deactivate_value(req.id))

    def _ungrant(
        kind: str, resp_t: type[Message], field: str, id_field: str
    ) -> Callable[[Any], Message]:
        def fn(req: Any) -> Message:
            g = getattr(req, field)
            obj, kas = store.remove_grant(
                kind,
                required(id_field, getattr(g, id_field)),
                required("key_access_server_id", g.key_access_server_id),
            )
            resp = resp_t()
            getattr(resp, field).CopyFrom(type(g)(**{id_field: obj, "key_access_server_id": kas}))
            return resp

        return fn

    def _unassign(
        kind: str, resp_t: type[Message], field: str, id_field: str
    ) -> Callable[[Any], Message]:
        def fn(req: Any) -> Message:
            k = getattr(req, field)
            obj, key = store.remove_key(
                kind, required(id_field, getattr(k, id_field)), required("key_id", k.key_id)
            )
            resp = resp_t()
            getattr(resp, field).CopyFrom(type(k)(**{id_field: obj, "key_id": key}))
            return resp

        return fn

    rpc(
        ATTRIBUTES,
        "RemoveKeyAccessServerFromAttribute",
        at.RemoveKeyAccessServerFromAttributeRequest,
        at.RemoveKeyAccessServerFromAttributeResponse,
    )(
        _ungrant(
            "attribute",
            at.RemoveKeyAccessServerFromAttributeResponse,
            "attribute_key_access_server",
            "attribute_id",
        )
    )
    rpc(
        ATTRIBUTES,
        "RemoveKeyAccessServerFromValue",
        at.RemoveKeyAccessServerFromValueRequest,
        at.RemoveKeyAccessServerFromValueResponse,
    )(
        _ungrant(
            "value",
            at.RemoveKeyAccessServerFromValueResponse,
            "value_key_access_server",
            "value_id",
        )
    )
    rpc(
        ATTRIBUTES,
        "RemovePublicKeyFromAttribute",
        at.RemovePublicKeyFromAttributeRequest,
        at.RemovePublicKeyFromAttributeResponse,
    )(
        _unassign(
            "attribute", at.RemovePublicKeyFromAttributeResponse, "attribute_key", "attribute_id"
        )
    )
    rpc(
        ATTRIBUTES,
        "RemovePublicKeyFromValue",
        at.RemovePublicKeyFromValueRequest,
        at.RemovePublicKeyFromValueResponse,
    )(_unassign("value", at.RemovePublicKeyFromValueResponse, "value_key", "value_id"))
