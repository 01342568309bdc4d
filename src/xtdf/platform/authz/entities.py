"""Claims for an entity named in an authorization request, as the claims-mode entity
resolution does: each identifier becomes the token claim that names it. v1 and v2 have
different ``Entity`` messages with the same oneof names (v1 adds ``uuid``), so both go
through this one mapping."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct

from xtdf.platform.rpc import RpcError

#: identifier -> the claim it stands for
_CLAIM = {
    "email_address": "email",
    "user_name": "preferred_username",
    "uuid": "sub",
}


def entity_claims(entity: Message, where: str) -> dict[str, Any]:
    kind = entity.WhichOneof("entity_type")
    if kind == "client_id":
        return {"client_id": entity.client_id, "azp": entity.client_id}  # type: ignore[attr-defined]
    if kind in _CLAIM:
        return {_CLAIM[kind]: getattr(entity, kind)}
    if kind == "claims":
        st = Struct()
        if not entity.claims.Unpack(st):  # type: ignore[attr-defined]
            raise RpcError("invalid_argument", f"{where}.claims: must be a google.protobuf.Struct")
        return json_format.MessageToDict(st)
    raise RpcError("invalid_argument", f"{where}.entity_type: {kind or 'none'} is not supported")
