"""The rewrap request body (the SRT's ``requestBody``) as plain data.

Field names are the proto3 JSON names of ``kas.UnsignedRewrapRequest`` (``clientPublicKey``,
``requests[].policy.{id,body}``, ``requests[].keyAccessObjects[].{keyAccessObjectId,
keyAccessObject}``, ``KeyAccess.{type,url,kid,sid,wrappedKey,header,policyBinding,
ephemeralPublicKey}``); proto field names are accepted too, as protojson does. A body with no
``requests`` is the single-object form older clients send (``keyAccess``, ``policy``,
``algorithm``, ``clientPublicKey``; the JS CLI), turned into one request with policy id
``policy-1`` and key access object id ``kao-0`` as the Go KAS does. Its ``policyBinding``
may be a bare string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from xtdf.crypto.encoding import b64decode
from xtdf.errors import FormatError
from xtdf.platform.rpc import RpcError

#: key access objects one rewrap request may carry, over all its policies: a TDF with many
#: splits or a bulk decrypt of a few dozen files stays far below it, while each one costs
#: an RSA or EC operation (thousands would hold the server for seconds)
MAX_KEY_ACCESS_OBJECTS = 256

#: ids the Go KAS gives the single-object form
V1_POLICY_ID = "policy-1"
V1_KAO_ID = "kao-0"


class RequestBodyError(RpcError):
    """The request body is malformed; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_argument", f"invalid request body: {message}")


@dataclass
class KaoRequest:
    """One key access object to rewrap."""

    id: str
    key_type: str = ""
    url: str = ""
    kid: str = ""
    sid: str = ""
    wrapped_key: bytes = b""
    header: bytes = b""
    ephemeral_public_key: str = ""
    binding_alg: str = ""
    binding_hash: str | None = None


@dataclass
class PolicyRequest:
    """A policy and the key access objects bound to it."""

    id: str
    body: str
    algorithm: str = ""
    kaos: list[KaoRequest] = field(default_factory=list)


@dataclass
class RewrapBody:
    client_public_key: str
    requests: list[PolicyRequest]
    #: the single-object form: answered with ``entityWrappedKey`` and a top-level error
    is_v1: bool = False


def _get(obj: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in obj and obj[name] is not None:
            return obj[name]
    return None


def _str(obj: dict[str, Any], where: str, *names: str) -> str:
    value = _get(obj, *names)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestBodyError(f"{where}.{names[0]} is not a string")
    return value


def _bytes(obj: dict[str, Any], where: str, *names: str) -> bytes:
    text = _str(obj, where, *names)
    if not text:
        return b""
    try:
        return b64decode(text.replace("-", "+").replace("_", "/"), f"{where}.{names[0]}")
    except FormatError as exc:
        raise RequestBodyError(str(exc)) from None


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestBodyError(f"{where} is not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RequestBodyError(f"{where} is not a list")
    return value


def key_access(obj: Any, kao_id: str, where: str) -> KaoRequest:
    kao = _object(obj, where)
    binding = _get(kao, "policyBinding", "policy_binding")
    alg: str
    hash_: str | None
    if binding is None:
        alg, hash_ = "", None
    elif isinstance(binding, str):
        alg, hash_ = "", binding
    elif isinstance(binding, dict):
        alg = _str(binding, f"{where}.policyBinding", "alg", "algorithm")
        hash_ = _str(binding, f"{where}.policyBinding", "hash")
    else:
        raise RequestBodyError(f"{where}.policyBinding is neither a string nor an object")
    return KaoRequest(
        id=kao_id,
        key_type=_str(kao, where, "type", "keyType", "key_type"),
        url=_str(kao, where, "url", "kasUrl", "kas_url"),
        kid=_str(kao, where, "kid"),
        sid=_str(kao, where, "sid", "splitId", "split_id"),
        wrapped_key=_bytes(kao, where, "wrappedKey", "wrapped_key"),
        header=_bytes(kao, where, "header"),
        ephemeral_public_key=_str(kao, where, "ephemeralPublicKey", "ephemeral_public_key"),
        binding_alg=alg,
        binding_hash=hash_,
    )


def _policy_request(obj: Any, where: str) -> PolicyRequest:
    req = _object(obj, where)
    policy = _get(req, "policy")
    policy = {} if policy is None else _object(policy, f"{where}.policy")
    kaos = []
    entries = _list(
        _get(req, "keyAccessObjects", "key_access_objects"), f"{where}.keyAccessObjects"
    )
    for i, entry in enumerate(entries):
        w = f"{where}.keyAccessObjects[{i}]"
        entry = _object(entry, w)
        kao_id = _str(entry, w, "keyAccessObjectId", "key_access_object_id")
        inner = _get(entry, "keyAccessObject", "key_access_object")
        kaos.append(key_access({} if inner is None else inner, kao_id, f"{w}.keyAccessObject"))
    return PolicyRequest(
        id=_str(policy, f"{where}.policy", "id"),
        body=_str(policy, f"{where}.policy", "body"),
        algorithm=_str(req, where, "algorithm"),
        kaos=kaos,
    )


def _check_count(entries: list[Any]) -> None:
    """Refuse an oversized request before building anything from it."""
    if len(entries) > MAX_KEY_ACCESS_OBJECTS:
        raise RequestBodyError(
            f"{len(entries)} policy requests; at most {MAX_KEY_ACCESS_OBJECTS} per request"
        )
    total = 0
    for entry in entries:
        kaos = (
            _get(entry, "keyAccessObjects", "key_access_objects")
            if isinstance(entry, dict)
            else None
        )
        total += len(kaos) if isinstance(kaos, list) else 0
    if total > MAX_KEY_ACCESS_OBJECTS:
        raise RequestBodyError(
            f"{total} key access objects; at most {MAX_KEY_ACCESS_OBJECTS} per request"
        )


def parse_body(text: str) -> RewrapBody:
    """Parse the ``requestBody`` JSON text; :class:`RequestBodyError` names what is wrong."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise RequestBodyError("not JSON (nested too deeply)") from None
    except ValueError as exc:
        raise RequestBodyError(f"not JSON ({exc})") from None
    doc = _object(doc, "requestBody")
    client_key = _str(doc, "requestBody", "clientPublicKey", "client_public_key")
    entries = _list(_get(doc, "requests"), "requests")
    _check_count(entries)
    if entries:
        requests = [_policy_request(e, f"requests[{i}]") for i, e in enumerate(entries)]
        return RewrapBody(client_key, requests)
    inner = _get(doc, "keyAccess", "key_access")
    kao = key_access({} if inner is None else inner, V1_KAO_ID, "keyAccess")
    single = PolicyRequest(
        id=V1_POLICY_ID,
        body=_str(doc, "requestBody", "policy"),
        algorithm=_str(doc, "requestBody", "algorithm"),
        kaos=[kao],
    )
    return RewrapBody(client_key, [single], is_v1=True)
