"""``policy.namespaces.NamespaceService``: create, get, list; KAS grants and keys."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.namespaces import namespaces_pb2 as ns
from xtdf.platform.policy.rpc_support import Registrar, one_of, page, required, update_metadata

NAMESPACES = "policy.namespaces.NamespaceService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(NAMESPACES, "CreateNamespace", ns.CreateNamespaceRequest, ns.CreateNamespaceResponse)
    def create_namespace(req: ns.CreateNamespaceRequest) -> Message:
        return ns.CreateNamespaceResponse(namespace=store.create_namespace(req.name, req.metadata))

    @rpc(NAMESPACES, "GetNamespace", ns.GetNamespaceRequest, ns.GetNamespaceResponse, True)
    def get_namespace(req: ns.GetNamespaceRequest) -> Message:
        return ns.GetNamespaceResponse(namespace=store.get_namespace(one_of(req, "identifier")))

    @rpc(NAMESPACES, "ListNamespaces", ns.ListNamespacesRequest, ns.ListNamespacesResponse, True)
    def list_namespaces(req: ns.ListNamespacesRequest) -> Message:
        resp = ns.ListNamespacesResponse(namespaces=store.list_namespaces(req.state))
        page(resp, "namespaces", req)
        return resp

    @rpc(
        NAMESPACES,
        "AssignKeyAccessServerToNamespace",
        ns.AssignKeyAccessServerToNamespaceRequest,
        ns.AssignKeyAccessServerToNamespaceResponse,
    )
    def grant_namespace(req: ns.AssignKeyAccessServerToNamespaceRequest) -> Message:
        g = req.namespace_key_access_server
        obj, kas = store.assign_grant("namespace", g.namespace_id, g.key_access_server_id)
        return ns.AssignKeyAccessServerToNamespaceResponse(
            namespace_key_access_server=ns.NamespaceKeyAccessServer(
                namespace_id=obj, key_access_server_id=kas
            )
        )

    @rpc(
        NAMESPACES,
        "AssignPublicKeyToNamespace",
        ns.AssignPublicKeyToNamespaceRequest,
        ns.AssignPublicKeyToNamespaceResponse,
    )
    def key_namespace(req: ns.AssignPublicKeyToNamespaceRequest) -> Message:
        obj, key = store.assign_key(
            "namespace", req.namespace_key.namespace_id, req.namespace_key.key_id
        )
        return ns.AssignPublicKeyToNamespaceResponse(
            namespace_key=ns.NamespaceKey(namespace_id=obj, key_id=key)
        )

    @rpc(
        NAMESPACES,
        "RemovePublicKeyFromNamespace",
        ns.RemovePublicKeyFromNamespaceRequest,
        ns.RemovePublicKeyFromNamespaceResponse,
    )
    def unkey_namespace(req: ns.RemovePublicKeyFromNamespaceRequest) -> Message:
        obj, key = store.remove_key(
            "namespace", req.namespace_key.namespace_id, req.namespace_key.key_id
        )
        return ns.RemovePublicKeyFromNamespaceResponse(
            namespace_key=ns.NamespaceKey(namespace_id=obj, key_id=key)
        )

    @rpc(NAMESPACES, "UpdateNamespace", ns.UpdateNamespaceRequest, ns.UpdateNamespaceResponse)
    def update_namespace(req: ns.UpdateNamespaceRequest) -> Message:
        return ns.UpdateNamespaceResponse(
            namespace=store.update_namespace(req.id, *update_metadata(req))
        )

    @rpc(
        NAMESPACES,
        "DeactivateNamespace",
        ns.DeactivateNamespaceRequest,
        ns.DeactivateNamespaceResponse,
    )
    def deactivate_namespace(req: ns.DeactivateNamespaceRequest) -> Message:
        store.deactivate_namespace(req.id)
        return ns.DeactivateNamespaceResponse()  # upstream's answer is empty too

    @rpc(
        NAMESPACES,
        "RemoveKeyAccessServerFromNamespace",
        ns.RemoveKeyAccessServerFromNamespaceRequest,
        ns.RemoveKeyAccessServerFromNamespaceResponse,
    )
    def ungrant_namespace(req: ns.RemoveKeyAccessServerFromNamespaceRequest) -> Message:
        g = req.namespace_key_access_server
        obj, kas = store.remove_grant(
            "namespace",
            required("namespace_id", g.namespace_id),
            required("key_access_server_id", g.key_access_server_id),
        )
        return ns.RemoveKeyAccessServerFromNamespaceResponse(
            namespace_key_access_server=ns.NamespaceKeyAccessServer(
                namespace_id=obj, key_access_server_id=kas
            )
        )
