"""The KAS handlers in-process (``xtdf.platform.kas.service``): what a rewrap releases and
to whom, the response and audit line of every key access object, and each refusal of the
whole request. Real keys and a real policy store; the ring is test_kas_nano's in-memory
one. Over HTTP, with real SDK requests: test_kas_rewrap.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.platform.conftest import client_id_sets
from tests.platform.test_kas_nano import Ring, _ec, _rsa
from xtdf._proto.kas import kas_pb2 as pb
from xtdf._proto.policy import objects_pb2 as po
from xtdf.crypto import ec as xec
from xtdf.crypto.encoding import b64url_encode
from xtdf.crypto.keys import public_pem
from xtdf.crypto.symmetric import gcm_decrypt
from xtdf.formats import nano
from xtdf.formats.ztdf import keywrap
from xtdf.formats.ztdf.policy import Policy
from xtdf.platform.authz.engine import Authorizer
from xtdf.platform.kas import service as svc
from xtdf.platform.kas.audit import AuditLog
from xtdf.platform.kas.service import KasService
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import CallContext, RpcError
from xtdf.platform.store import Database

ATTR = "https://example.com/attr/level/value/hi"
SHARE = bytes(range(32))
CLAIMS = {"client_id": "alice", "sub": "a"}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"r1": _rsa("r1"), "e1": _ec("e1")}


@pytest.fixture
def kas(tmp_path: Path, keys) -> KasService:
    db = Database(tmp_path / "xtdf.db")
    store = PolicyStore(db)
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "level", po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF, ["hi", "lo"])
    read = po.Action(standard=po.Action.STANDARD_ACTION_DECRYPT)
    store.create_subject_mapping(ATTR, [read], new_condition_set=client_id_sets("alice"))
    # carol may only create: the KAS asks for read
    create = po.Action(standard=po.Action.STANDARD_ACTION_TRANSMIT)
    store.create_subject_mapping(ATTR, [create], new_condition_set=client_id_sets("carol"))
    ring = Ring(
        keys={("default", "r1"): keys["r1"], ("default", "e1"): keys["e1"]},
        active={("default", "rsa:2048"): keys["r1"], ("default", "ec:secp256r1"): keys["e1"]},
    )
    return KasService(ring, Authorizer(db), AuditLog(None))


def _ctx(claims: dict | None = CLAIMS) -> CallContext:
    return CallContext(headers={}, claims=claims)


def _srt(body: dict | str) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    head = b64url_encode(b'{"alg":"RS256"}')
    payload = b64url_encode(json.dumps({"requestBody": text}).encode())
    return f"{head}.{payload}."


def _kao(key, share: bytes = SHARE, policy: str = "", kid: str = "r1", **extra) -> dict:
    return {
        "type": "wrapped",
        "kid": kid,
        "wrappedKey": base64.b64encode(keywrap.rsa_wrap(key.private.public_key(), share)).decode(),
        "policyBinding": keywrap.policy_binding_object(share, policy),
        **extra,
    }


def _request(policy: str, kaos: list[dict], client_pem: str, policy_id: str = "p1") -> str:
    return _srt(
        {
            "clientPublicKey": client_pem,
            "requests": [
                {
                    "policy": {"id": policy_id, "body": policy},
                    "keyAccessObjects": [
                        {"keyAccessObjectId": f"kao-{i}", "keyAccessObject": k}
                        for i, k in enumerate(kaos)
                    ],
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def client() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def _results(resp: pb.RewrapResponse) -> list[tuple[str, str, str]]:
    return [
        (r.key_access_object_id, r.status, r.error) for pr in resp.responses for r in pr.results
    ]


def test_an_entitled_caller_gets_the_share_wrapped_to_its_key(kas, keys, client) -> None:
    policy = Policy.create([ATTR]).to_b64()
    token = _request(policy, [_kao(keys["r1"], policy=policy)], public_pem(client.public_key()))
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert _results(resp) == [("kao-0", "permit", "")]
    (result,) = resp.responses[0].results
    assert keywrap.rsa_unwrap(client, result.kas_wrapped_key) == SHARE
    assert resp.responses[0].policy_id == "p1" and resp.session_public_key == ""
    assert list(result.metadata[svc.OBLIGATIONS_KEY].list_value.values) == []
    assert result.metadata[svc.OBLIGATIONS_KEY].HasField("list_value")
    (line,) = kas.audit.records()
    assert (line["decision"], line["kid"], line["keyAccessObjectId"], line["format"]) == (
        "permit",
        "r1",
        "kao-0",
        "tdf3",
    )
    assert line["policyId"] == "p1" and line["policy"] == Policy.from_b64(policy).uuid
    assert line["reason"].startswith("https://example.com/attr/level: ANY_OF")
    assert line["entity"] == {"clientId": "alice", "sub": "a"}


def test_an_ec_client_key_gets_a_session_key_and_aes_gcm(kas, keys) -> None:
    client = ec.generate_private_key(ec.SECP256R1())
    policy = Policy.create().to_b64()  # no attributes: anyone authenticated
    kaos = [_kao(keys["r1"], policy=policy), _kao(keys["r1"], share=SHARE[::-1], policy=policy)]
    token = _request(policy, kaos, public_pem(client.public_key()))
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert [r[1] for r in _results(resp)] == ["permit", "permit"]
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    session = load_pem_public_key(resp.session_public_key.encode())
    key = xec.hkdf_sha256(xec.ecdh(client, session), xec.TDF_SALT)
    shares = []
    for r in resp.responses[0].results:
        blob = r.kas_wrapped_key
        shares.append(gcm_decrypt(key, blob[:12], blob[12:]))
    assert shares == [SHARE, SHARE[::-1]]
    ivs = {r.kas_wrapped_key[:12] for r in resp.responses[0].results}
    assert len(ivs) == 2  # a fresh nonce for each share
    assert kas.audit.records()[0]["reason"] == "no attributes on the data"


def test_a_caller_without_read_is_refused_per_kao(kas, keys, client) -> None:
    policy = Policy.create([ATTR]).to_b64()
    token = _request(policy, [_kao(keys["r1"], policy=policy)], public_pem(client.public_key()))
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx({"client_id": "carol"}))
    ((kao_id, status, error),) = _results(resp)
    assert (kao_id, status) == ("kao-0", "fail")
    assert (
        error
        == "permission_denied: request error\nrpc error: code = PermissionDenied desc = forbidden"
    )
    assert not resp.responses[0].results[0].kas_wrapped_key
    (line,) = kas.audit.records()
    assert line["decision"] == "deny" and line["reason"].startswith("forbidden: ")


def test_each_kao_fails_on_its_own(kas, keys, client) -> None:
    policy = Policy.create().to_b64()
    good = _kao(keys["r1"], policy=policy)
    bad_binding = _kao(keys["r1"], policy="other")
    unknown = _kao(keys["r1"], policy=policy, kid="gone")
    token = _request(policy, [good, bad_binding, unknown], public_pem(client.public_key()))
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    got = _results(resp)
    assert [g[1] for g in got] == ["permit", "fail", "fail"]
    assert got[1][2].endswith("desc = bad request") and got[2][2].endswith("desc = key not found")
    reasons = [r["reason"] for r in kas.audit.records()]
    assert reasons[1].startswith("policy binding: ") and "unknown" in reasons[2]
    assert [r["kid"] for r in kas.audit.records()] == ["r1", "r1", "gone"]


def test_policy_level_failures_fail_every_kao(kas, keys, client) -> None:
    policy = Policy.create().to_b64()
    pem = public_pem(client.public_key())
    token = _request(policy, [_kao(keys["r1"], policy=policy)], pem, policy_id="")
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert _results(resp)[0][2].endswith("desc = policy id is missing")
    for body in (
        "%%%",
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b'{"body": 3}').decode(),
    ):
        token = _request(body, [_kao(keys["r1"], policy=body)] * 2, pem)
        resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
        assert [r[2].endswith("desc = bad request") for r in _results(resp)] == [True, True]
    reason = kas.audit.records()[-1]["reason"]
    assert reason == "policy body is not base64 JSON: policy body is not an object"
    bad_attr = base64.b64encode(
        json.dumps({"body": {"dataAttributes": [{"x": 1}]}}).encode()
    ).decode()
    token = _request(bad_attr, [_kao(keys["r1"], policy=bad_attr)], pem)
    kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert kas.audit.records()[-1]["reason"].endswith("dataAttributes[0] has no attribute string")


def test_an_unknown_attribute_or_a_failing_pdp_denies(kas, keys, client, monkeypatch) -> None:
    policy = Policy.create(["https://example.com/attr/level/value/nope"]).to_b64()
    pem = public_pem(client.public_key())
    token = _request(policy, [_kao(keys["r1"], policy=policy)], pem)
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert _results(resp)[0][1] == "fail"
    assert "unknown attribute value" in kas.audit.records()[-1]["reason"]

    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("store offline")

    monkeypatch.setattr(kas.authorizer, "entitlements", broken)
    policy = Policy.create([ATTR]).to_b64()
    token = _request(policy, [_kao(keys["r1"], policy=policy)], pem)
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    ((_, status, error),) = _results(resp)
    assert status == "fail" and error.endswith("desc = internal: access evaluation failed")
    assert kas.audit.records()[-1]["reason"] == "access evaluation failed: store offline"


def test_whole_request_refusals_are_audited(kas, keys, client) -> None:
    policy = Policy.create().to_b64()
    good = _request(policy, [_kao(keys["r1"], policy=policy)], public_pem(client.public_key()))
    cases = [
        (good, None, "unauthenticated", "missing access token"),
        ("x.y", CLAIMS, "unauthenticated", "could not parse token: not a compact JWS"),
        (
            _request(policy, [], "not pem"),
            CLAIMS,
            "invalid_argument",
            "clientPublicKey failure: not a PEM public key",
        ),
        (
            _request(policy, [], "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            CLAIMS,
            "invalid_argument",
            "clientPublicKey parse failure: ",
        ),
        (_srt("{"), CLAIMS, "invalid_argument", "invalid request body: not JSON"),
    ]
    for token, claims, code, message in cases:
        with pytest.raises(RpcError) as exc:
            kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx(claims))
        assert exc.value.code == code and exc.value.message.startswith(message), exc.value.message
        line = kas.audit.records()[-1]
        assert line["decision"] == "deny" and line["reason"] == exc.value.message


def test_the_v1_single_object_form(kas, keys, client) -> None:
    policy = Policy.create().to_b64()
    body = {
        "clientPublicKey": public_pem(client.public_key()),
        "policy": policy,
        "keyAccess": _kao(keys["r1"], policy=policy),
    }
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=_srt(body)), _ctx())
    assert keywrap.rsa_unwrap(client, resp.entity_wrapped_key) == SHARE
    body["keyAccess"] = _kao(keys["r1"], policy="altered")
    with pytest.raises(RpcError) as exc:
        kas.rewrap(pb.RewrapRequest(signed_request_token=_srt(body)), _ctx())
    assert exc.value.code == "invalid_argument"
    assert (
        exc.value.message == "request error\nrpc error: code = InvalidArgument desc = bad request"
    )


def test_a_nanotdf_is_rewrapped_with_its_own_salt(kas, keys) -> None:
    client = ec.generate_private_key(ec.SECP256R1())
    data = nano.encrypt(
        b"x", kas_url="http://kas", kas_public_key=keys["e1"].private.public_key(), kid="e1"
    )
    _, size = nano.parse_header(data)
    kao = {"type": "remote", "header": base64.b64encode(data[:size]).decode()}
    token = _request("", [kao], public_pem(client.public_key()), policy_id="nano")
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    (result,) = resp.responses[0].results
    assert result.status == "permit"
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    session = load_pem_public_key(resp.session_public_key.encode())
    key = xec.hkdf_sha256(xec.ecdh(client, session), xec.NANO_V1_SALT)
    share = gcm_decrypt(key, result.kas_wrapped_key[:12], result.kas_wrapped_key[12:])
    assert share == nano.derive_key_offline(nano.parse(data).header, keys["e1"].private)
    assert kas.audit.records()[-1]["format"] == "nano"
    token = _request("", [kao, kao], public_pem(client.public_key()), policy_id="nano")
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert all(
        r[2].endswith("desc = NanoTDFs should not have multiple KAOs per Policy")
        for r in _results(resp)
    )


def test_public_keys(kas, keys) -> None:
    ctx = _ctx(None)
    resp = kas.public_key(pb.PublicKeyRequest(), ctx)
    assert (resp.public_key, resp.kid) == (keys["r1"].public_pem, "r1")  # rsa:2048 by default
    resp = kas.public_key(pb.PublicKeyRequest(algorithm="ec:secp256r1", v="1"), ctx)
    assert (resp.public_key, resp.kid) == (keys["e1"].public_pem, "")  # v1 clients: no kid
    jwk = json.loads(
        kas.public_key(pb.PublicKeyRequest(algorithm="ec:secp256r1", fmt="JWK"), ctx).public_key
    )
    assert jwk["kty"] == "EC" and jwk["kid"] == "e1" and "d" not in jwk
    assert kas.public_key(pb.PublicKeyRequest(fmt="pkcs8"), ctx).public_key == keys["r1"].public_pem
    with pytest.raises(RpcError) as exc:
        kas.public_key(pb.PublicKeyRequest(fmt="der"), ctx)
    assert (exc.value.code, exc.value.message) == (
        "not_found",
        "invalid algorithm or format: unknown fmt 'der'",
    )
    with pytest.raises(RpcError) as exc:
        kas.public_key(pb.PublicKeyRequest(algorithm="rsa:4096"), ctx)
    assert exc.value.code == "not_found"
    assert (
        exc.value.message
        == "no default key for algorithm 'rsa:4096' at KAS 'default': no active rsa:4096 key"
    )
    legacy = kas.legacy_public_key(pb.LegacyPublicKeyRequest(), ctx)
    assert legacy.value == keys["r1"].public_pem


def test_small_rewraps_run_inline() -> None:
    limit = svc.INLINE_TOKEN_BYTES
    assert KasService.small_rewrap(pb.RewrapRequest(signed_request_token="x" * limit))
    assert not KasService.small_rewrap(pb.RewrapRequest(signed_request_token="x" * (limit + 1)))


def _two_policies(keys, first: str, second: str, pem: str, first_kid: str = "r1") -> str:
    def request(pid: str, policy: str, kid: str) -> dict:
        kao = _kao(keys["r1"], policy=policy, kid=kid)
        return {
            "policy": {"id": pid, "body": policy},
            "keyAccessObjects": [{"keyAccessObjectId": f"{pid}-kao", "keyAccessObject": kao}],
        }

    return _srt(
        {
            "clientPublicKey": pem,
            "requests": [request("p1", first, first_kid), request("p2", second, "r1")],
        }
    )


def test_a_later_policy_is_still_decided_after_an_earlier_one_failed(kas, keys, client) -> None:
    """Each policy is authorized on its own: a first policy with nothing left to decide
    (its only KAO failed) must not let the next one through undecided."""
    pem = public_pem(client.public_key())
    allowed = Policy.create().to_b64()
    guarded = Policy.create([ATTR]).to_b64()
    token = _two_policies(keys, allowed, guarded, pem, first_kid="gone")
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx({"client_id": "bob"}))
    assert [(r[0], r[1]) for r in _results(resp)] == [("p1-kao", "fail"), ("p2-kao", "fail")]
    assert _results(resp)[1][2].endswith("desc = forbidden")
    assert not any(r.kas_wrapped_key for pr in resp.responses for r in pr.results)


def test_a_failing_pdp_on_one_policy_does_not_skip_the_next(kas, keys, client, monkeypatch) -> None:
    pem = public_pem(client.public_key())
    other = "https://example.com/attr/level/value/lo"
    decide = kas.authorizer.decide_entitled

    def flaky(entitled, fqns):
        if ATTR in fqns:
            raise RuntimeError("store offline")
        return decide(entitled, fqns)

    monkeypatch.setattr(kas.authorizer, "decide_entitled", flaky)
    token = _two_policies(
        keys, Policy.create([ATTR]).to_b64(), Policy.create([other]).to_b64(), pem
    )
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx({"client_id": "bob"}))
    got = _results(resp)
    assert got[0][2].endswith("desc = internal: access evaluation failed")
    assert got[1][1] == "fail" and got[1][2].endswith("desc = forbidden")  # still decided
    assert not any(r.kas_wrapped_key for pr in resp.responses for r in pr.results)


def test_audit_names_the_instance_and_the_policy_as_written(kas, keys, client) -> None:
    pem = public_pem(client.public_key())
    with pytest.raises(RpcError):
        kas.rewrap(
            pb.RewrapRequest(signed_request_token="x.y"),
            CallContext(headers={}, claims=CLAIMS, instance="km1"),
        )
    assert kas.audit.records()[-1]["kas"] == "km1"
    odd = base64.b64encode(json.dumps({"uuid": 5, "body": {}}).encode()).decode()
    token = _request(odd, [_kao(keys["r1"], policy=odd)], pem)
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert _results(resp)[0][1] == "permit"
    line = kas.audit.records()[-1]
    assert (line["kas"], line["policy"], line["reason"]) == (
        "default",
        "",
        "no attributes on the data",
    )
    listed = base64.b64encode(b"[1]").decode()
    token = _request(listed, [_kao(keys["r1"], policy=listed)], pem)
    kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert kas.audit.records()[-1]["reason"] == (
        "policy body is not base64 JSON: policy is not a JSON object"
    )
    spaced = Policy.create().to_b64() + "!"  # a stray character is no base64
    token = _request(spaced, [_kao(keys["r1"], policy=spaced)], pem)
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    assert _results(resp)[0][2].endswith("desc = bad request")
    assert kas.audit.records()[-1]["reason"].startswith("policy body is not base64 JSON: ")


def test_a_jwk_public_key_is_compact_json(kas) -> None:
    value = kas.public_key(pb.PublicKeyRequest(algorithm="ec:secp256r1", fmt="jwk"), _ctx(None))
    assert " " not in value.public_key and json.loads(value.public_key)["crv"] == "P-256"


def test_client_keys_are_parsed_once_and_the_oldest_goes_first() -> None:
    cache = svc._ClientKeys(size=2)
    pems = [public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()) for _ in range(3)]
    first = cache.get(pems[0])
    assert cache.get(pems[0]) is first  # parsed once
    cache.get(pems[1])
    cache.get(pems[2])
    assert list(cache._keys) == pems[1:]  # bounded: the oldest went
    assert cache.get(pems[0]) is not first  # parsed again


def test_the_client_key_cache_holds_a_thousand_and_twenty_four_by_default() -> None:
    cache = svc._ClientKeys()
    pems = [public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()) for _ in range(1025)]
    for pem in pems:
        cache.get(pem)
    assert list(cache._keys) == pems[1:]


def test_a_client_rsa_key_too_small_to_wrap_to_fails_each_kao(kas, keys) -> None:
    """The key parses, so the request is read; wrapping a share to it is what fails."""
    small = rsa.generate_private_key(65537, 1024)
    policy = Policy.create().to_b64()
    token = _request(policy, [_kao(keys["r1"], policy=policy)], public_pem(small.public_key()))
    resp = kas.rewrap(pb.RewrapRequest(signed_request_token=token), _ctx())
    ((kao_id, status, error),) = _results(resp)
    assert (kao_id, status) == ("kao-0", "fail")
    assert error.endswith("desc = bad key for rewrap") and error.startswith("invalid_argument")
    assert not resp.responses[0].results[0].kas_wrapped_key
    (line,) = kas.audit.records()
    assert line["decision"] == "deny"
    assert line["reason"] == "rewrap to client: RSA key of 1024 bits; at least 2048 required"


def test_a_client_key_of_an_unsupported_curve_is_named() -> None:
    pem = public_pem(ec.generate_private_key(ec.SECP192R1()).public_key())
    with pytest.raises(RpcError) as exc:
        svc._ClientKeys().get(pem)
    assert exc.value.code == "invalid_argument"
    assert exc.value.message.startswith("clientPublicKey unsupported type: ")
