"""One entity-to-claims mapping for authorization v1 and v2 (their Entity messages differ:
only v1's has ``uuid``)."""

from __future__ import annotations

import pytest
from google.protobuf import any_pb2, struct_pb2

from xtdf._proto.authorization import authorization_pb2 as v1
from xtdf._proto.authorization.entity import entity_pb2 as v2
from xtdf.platform.authz.entities import entity_claims
from xtdf.platform.rpc import RpcError


@pytest.mark.parametrize("proto", [v1.Entity, v2.Entity])
def test_identifiers_become_the_claims_that_name_them(proto) -> None:
    assert entity_claims(proto(client_id="c"), "e") == {"client_id": "c", "azp": "c"}
    assert entity_claims(proto(email_address="a@b"), "e") == {"email": "a@b"}
    assert entity_claims(proto(user_name="al"), "e") == {"preferred_username": "al"}
    packed = any_pb2.Any()
    packed.Pack(struct_pb2.Struct(fields={"groups": struct_pb2.Value(string_value="x")}))
    assert entity_claims(proto(claims=packed), "e") == {"groups": "x"}


def test_v1_uuid_is_the_subject() -> None:
    assert entity_claims(v1.Entity(uuid="u-1"), "entities") == {"sub": "u-1"}


@pytest.mark.parametrize("proto", [v1.Entity, v2.Entity])
def test_empty_or_foreign_claims_are_refused(proto) -> None:
    with pytest.raises(RpcError, match=r"where\.entity_type: none is not supported"):
        entity_claims(proto(), "where")
    packed = any_pb2.Any()
    packed.Pack(struct_pb2.Value(string_value="not a struct"))
    with pytest.raises(RpcError, match=r"where\.claims: must be a google.protobuf.Struct"):
        entity_claims(proto(claims=packed), "where")
