"""The rewrap request body parser on its own (``xtdf.platform.kas.request``): both field
spellings (the JSON names and protobuf's snake_case ones, as SDKs send either), the v1
single-object form, the bounds, and each refusal naming the field at fault."""

from __future__ import annotations

import base64
import json

import pytest

from xtdf.platform.kas import request
from xtdf.platform.kas.request import MAX_KEY_ACCESS_OBJECTS, RequestBodyError, parse_body

WRAPPED = bytes(range(40))


def _kao(**fields) -> dict:
    base = {
        "type": "wrapped",
        "url": "http://kas",
        "kid": "r1",
        "sid": "s1",
        "wrappedKey": base64.b64encode(WRAPPED).decode(),
        "policyBinding": {"alg": "HS256", "hash": "aGFzaA=="},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _body(*kaos: dict, **extra) -> str:
    doc = {
        "clientPublicKey": "PEM",
        "requests": [
            {
                "algorithm": "rsa:2048",
                "policy": {"id": "p1", "body": "e30="},
                "keyAccessObjects": [
                    {"keyAccessObjectId": f"kao-{i}", "keyAccessObject": k}
                    for i, k in enumerate(kaos)
                ],
            }
        ],
    }
    doc.update(extra)
    return json.dumps(doc)


def _refused(text: str, message: str) -> None:
    with pytest.raises(RequestBodyError) as exc:
        parse_body(text)
    assert exc.value.code == "invalid_argument"
    assert str(exc.value) == f"invalid request body: {message}"


def test_a_v2_body_in_json_names() -> None:
    body = parse_body(_body(_kao(), _kao(kid="r2", type="ec-wrapped", ephemeralPublicKey="EPH")))
    assert body.client_public_key == "PEM" and not body.is_v1
    (req,) = body.requests
    assert (req.id, req.body, req.algorithm) == ("p1", "e30=", "rsa:2048")
    first, second = req.kaos
    assert (first.id, first.key_type, first.url, first.kid, first.sid) == (
        "kao-0",
        "wrapped",
        "http://kas",
        "r1",
        "s1",
    )
    assert first.wrapped_key == WRAPPED and first.header == b""
    assert (first.binding_alg, first.binding_hash) == ("HS256", "aGFzaA==")
    assert (second.id, second.kid, second.key_type) == ("kao-1", "r2", "ec-wrapped")
    assert second.ephemeral_public_key == "EPH"


def test_the_same_body_in_protobuf_names() -> None:
    kao = {
        "key_type": "wrapped",
        "kas_url": "http://kas",
        "kid": "r1",
        "split_id": "s1",
        "wrapped_key": base64.urlsafe_b64encode(WRAPPED).decode().rstrip("="),
        "ephemeral_public_key": "EPH",
        "policy_binding": {"algorithm": "HS256", "hash": "aGFzaA=="},
        "header": base64.b64encode(b"L1L").decode(),
    }
    doc = {
        "client_public_key": "PEM",
        "requests": [
            {
                "policy": {"id": "p1", "body": "e30="},
                "key_access_objects": [{"key_access_object_id": "k", "key_access_object": kao}],
            }
        ],
    }
    body = parse_body(json.dumps(doc))
    got = body.requests[0].kaos[0]
    assert body.client_public_key == "PEM"
    assert (got.id, got.key_type, got.url, got.sid, got.ephemeral_public_key) == (
        "k",
        "wrapped",
        "http://kas",
        "s1",
        "EPH",
    )
    assert got.wrapped_key == WRAPPED and got.header == b"L1L"  # base64url or standard
    assert (got.binding_alg, got.binding_hash) == ("HS256", "aGFzaA==")


def test_the_first_non_null_spelling_wins() -> None:
    kao = _kao(type=None, keyType=None, key_type="ec-wrapped", url=None, kasUrl="http://a")
    got = parse_body(_body(kao)).requests[0].kaos[0]
    assert (got.key_type, got.url) == ("ec-wrapped", "http://a")
    got = parse_body(_body(_kao(type="wrapped", keyType="ec-wrapped"))).requests[0].kaos[0]
    assert got.key_type == "wrapped"


def test_a_binding_as_a_string_or_left_out() -> None:
    got = parse_body(_body(_kao(policyBinding="aGFzaA=="))).requests[0].kaos[0]
    assert (got.binding_alg, got.binding_hash) == ("", "aGFzaA==")
    got = parse_body(_body(_kao(policyBinding=None))).requests[0].kaos[0]
    assert (got.binding_alg, got.binding_hash) == ("", None)


def test_the_v1_single_object_form() -> None:
    doc = {
        "clientPublicKey": "PEM",
        "policy": "e30=",
        "algorithm": "ec:secp256r1",
        "keyAccess": _kao(),
    }
    body = parse_body(json.dumps(doc))
    assert body.is_v1
    (req,) = body.requests
    assert (req.id, req.body, req.algorithm) == (request.V1_POLICY_ID, "e30=", "ec:secp256r1")
    assert req.kaos[0].id == request.V1_KAO_ID and req.kaos[0].kid == "r1"
    snake = parse_body(json.dumps({"policy": "e30=", "key_access": _kao(kid="e1")}))
    assert snake.is_v1 and snake.requests[0].kaos[0].kid == "e1"
    empty = parse_body(json.dumps({"clientPublicKey": "PEM", "requests": []}))
    assert empty.is_v1 and empty.requests[0].kaos[0].key_type == ""


def test_missing_parts_are_empty_not_errors() -> None:
    doc = {"requests": [{"keyAccessObjects": [{}]}, {"policy": None, "keyAccessObjects": None}]}
    body = parse_body(json.dumps(doc))
    assert body.client_public_key == ""
    first, second = body.requests
    assert (first.id, first.body, first.algorithm) == ("", "", "")
    assert first.kaos[0].id == "" and first.kaos[0].wrapped_key == b""
    assert second.kaos == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1))",
        ),
        ("[" * 100_000, "not JSON (nested too deeply)"),
        ("[]", "requestBody is not an object"),
        ('{"clientPublicKey": 5}', "requestBody.clientPublicKey is not a string"),
        ('{"requests": {}}', "requests is not a list"),
        ('{"requests": [5]}', "requests[0] is not an object"),
        ('{"requests": [{"policy": "p"}]}', "requests[0].policy is not an object"),
        ('{"requests": [{"policy": {"body": 1}}]}', "requests[0].policy.body is not a string"),
        ('{"requests": [{"policy": {"id": 7}}]}', "requests[0].policy.id is not a string"),
        ('{"requests": [{"algorithm": []}]}', "requests[0].algorithm is not a string"),
        (
            '{"requests": [{"keyAccessObjects": {}}]}',
            "requests[0].keyAccessObjects is not a list",
        ),
        (
            '{"requests": [{"keyAccessObjects": [7]}]}',
            "requests[0].keyAccessObjects[0] is not an object",
        ),
        (
            '{"requests": [{"keyAccessObjects": [{"keyAccessObjectId": 1}]}]}',
            "requests[0].keyAccessObjects[0].keyAccessObjectId is not a string",
        ),
        (
            '{"requests": [{"keyAccessObjects": [{"keyAccessObject": []}]}]}',
            "requests[0].keyAccessObjects[0].keyAccessObject is not an object",
        ),
        ('{"keyAccess": 3}', "keyAccess is not an object"),
        ('{"keyAccess": {"kid": 3}}', "keyAccess.kid is not a string"),
        (
            '{"keyAccess": {"policyBinding": 3}}',
            "keyAccess.policyBinding is neither a string nor an object",
        ),
        (
            '{"keyAccess": {"policyBinding": {"hash": 3}}}',
            "keyAccess.policyBinding.hash is not a string",
        ),
        ('{"keyAccess": {"wrappedKey": "!!"}}', "keyAccess.wrappedKey is not valid base64"),
        ('{"keyAccess": {"wrappedKey": 5}}', "keyAccess.wrappedKey is not a string"),
        ('{"keyAccess": {"type": 1}}', "keyAccess.type is not a string"),
        ('{"keyAccess": {"url": 1}}', "keyAccess.url is not a string"),
        ('{"keyAccess": {"sid": 1}}', "keyAccess.sid is not a string"),
        ('{"keyAccess": {"header": 1}}', "keyAccess.header is not a string"),
        (
            '{"keyAccess": {"ephemeralPublicKey": 1}}',
            "keyAccess.ephemeralPublicKey is not a string",
        ),
        (
            '{"keyAccess": {"policyBinding": {"alg": 3}}}',
            "keyAccess.policyBinding.alg is not a string",
        ),
        ('{"policy": 5}', "requestBody.policy is not a string"),
        ('{"algorithm": 5}', "requestBody.algorithm is not a string"),
    ],
)
def test_refusals_name_the_field(text: str, message: str) -> None:
    _refused(text, message)


def test_the_number_of_key_access_objects_is_bounded() -> None:
    n = MAX_KEY_ACCESS_OBJECTS
    ok = {"requests": [{"keyAccessObjects": [{}] * n}]}
    assert len(parse_body(json.dumps(ok)).requests[0].kaos) == n
    over = {"requests": [{"keyAccessObjects": [{}] * n}, {"keyAccessObjects": [{}]}]}
    _refused(json.dumps(over), f"{n + 1} key access objects; at most {n} per request")
    many = {"requests": [{}] * n}
    assert len(parse_body(json.dumps(many)).requests) == n
    _refused(
        json.dumps({"requests": [{}] * (n + 1)}),
        f"{n + 1} policy requests; at most {n} per request",
    )
    snake = {"requests": [{"key_access_objects": [{}] * (n + 1)}]}
    _refused(json.dumps(snake), f"{n + 1} key access objects; at most {n} per request")
    # a request with no list of key access objects adds none to the count
    bare = {"requests": [{"keyAccessObjects": [{}] * n}, {}, {"keyAccessObjects": "x"}]}
    _refused(json.dumps(bare), "requests[2].keyAccessObjects is not a list")
    fits = {"requests": [{"keyAccessObjects": [{}] * n}, {}]}
    assert [len(r.kaos) for r in parse_body(json.dumps(fits)).requests] == [n, 0]
    odd = {"requests": [5, {"keyAccessObjects": "x"}]}  # counted as none, refused later
    _refused(json.dumps(odd), "requests[0] is not an object")


def test_binary_fields_read_the_url_safe_alphabet_too() -> None:
    """Some clients send base64url (``-`` and ``_``) where the protocol says base64."""
    raw = bytes([0xFB, 0xFF, 0xBF]) * 8  # standard base64 of these is all '+' and '/'
    std = base64.b64encode(raw).decode()
    assert "+" in std and "/" in std
    url = base64.urlsafe_b64encode(raw).decode()
    for text in (std, url):
        body = parse_body(_body(_kao(wrappedKey=text)))
        assert body.requests[0].kaos[0].wrapped_key == raw


def test_the_camel_case_spellings_of_type_and_split_id() -> None:
    kao = _kao(type=None, sid=None, keyType="ec-wrapped", splitId="s9")
    (got,) = parse_body(_body(kao)).requests[0].kaos
    assert (got.key_type, got.sid) == ("ec-wrapped", "s9")
