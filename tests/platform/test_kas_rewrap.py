"""KAS handlers with real keys, real JWTs (joserfc) and real ZTDF key material.

Every test calls the registered ``kas.AccessService`` handlers of a real platform object
(SQLite key store, root-key wrapped private keys, the authorization engine); the client
side is computed here from the protocol (RSA-OAEP-SHA1 to an RSA client key; ECDH + HKDF +
AES-GCM ``nonce||ct||tag`` to an EC client key) so a KAS that drifts from it fails.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.protobuf import json_format
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from xtdf._proto.kas import kas_pb2 as pb
from xtdf._proto.policy import objects_pb2 as po
from xtdf.crypto import ec as xec
from xtdf.crypto import rsa as xrsa
from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.crypto.keys import load_public_pem, private_pem, public_pem
from xtdf.crypto.symmetric import gcm_decrypt
from xtdf.formats.ztdf import keywrap, read_manifest
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper, make_kao
from xtdf.formats.ztdf.policy import Policy
from xtdf.platform import kas
from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform
from xtdf.platform.policy.keys import KeyStore
from xtdf.platform.policy.store import PolicyStore
from xtdf.platform.rpc import CallContext, Method, RpcError

KAS_URL = "http://localhost:8080/kas"
ALICE = {"client_id": "xtdf-alice", "sub": "alice-sub", "email": "alice@example.com"}
BOB = {"client_id": "xtdf-bob", "sub": "bob-sub"}
SECRET_ATTR = "https://example.com/attr/project/value/secret"


# --- client-side helpers (shared with the integration tests) -----------------------------


def kao_message(kao: Any) -> dict[str, Any]:
    """A manifest KAO (model or dict) as the protojson ``KeyAccess`` clients send."""
    doc = kao if isinstance(kao, dict) else kao.to_dict(exclude_none=True)
    msg = {k: doc[k] for k in ("type", "url", "protocol", "kid", "sid") if doc.get(k)}
    msg["wrappedKey"] = doc["wrappedKey"]
    binding = doc.get("policyBinding")
    msg["policyBinding"] = binding if isinstance(binding, dict) else {"hash": binding}
    if doc.get("ephemeralPublicKey"):
        msg["ephemeralPublicKey"] = doc["ephemeralPublicKey"]
    return msg


def request_body(
    client_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    policies: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]],
) -> dict[str, Any]:
    """``UnsignedRewrapRequest`` JSON: (policy id, policy body, [(kao id, KeyAccess)])."""
    return {
        "clientPublicKey": public_pem(client_key),
        "requests": [
            {
                "policy": {"id": pid, "body": body},
                "keyAccessObjects": [
                    {"keyAccessObjectId": kid, "keyAccessObject": kao} for kid, kao in kaos
                ],
            }
            for pid, body, kaos in policies
        ],
    }


def sign_srt(key: ECKey | RSAKey, body: dict[str, Any], **claims: Any) -> str:
    now = int(time.time())
    payload = {"requestBody": json.dumps(body), "iat": now, "exp": now + 60, **claims}
    alg = "ES256" if isinstance(key, ECKey) else "RS256"
    return jwt.encode({"alg": alg, "typ": "JWT"}, payload, key)


def results_of(resp: pb.RewrapResponse) -> dict[str, pb.KeyAccessRewrapResult]:
    return {r.key_access_object_id: r for pr in resp.responses for r in pr.results}


def recover(
    resp: pb.RewrapResponse | dict[str, Any],
    client_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    wrapped: bytes,
    salt: bytes = xec.TDF_SALT,
) -> bytes:
    """What the client gets back from one ``kasWrappedKey``."""
    if isinstance(client_key, rsa.RSAPrivateKey):
        return xrsa.unwrap(client_key, wrapped)
    spk = resp["sessionPublicKey"] if isinstance(resp, dict) else resp.session_public_key
    peer = load_public_pem(spk)
    assert isinstance(peer, ec.EllipticCurvePublicKey)
    key = xec.derive_key(client_key, peer, salt)
    return gcm_decrypt(key, wrapped[:12], wrapped[12:])


# --- fixtures ----------------------------------------------------------------------------


@dataclass
class Kas:
    platform: Platform
    methods: dict[str, Method]
    store: KeyStore

    def ctx(
        self,
        claims: dict[str, Any] | None = ALICE,
        dpop: ECKey | RSAKey | None = None,
        instance: str = "default",
    ) -> CallContext:
        jwk = dpop.as_dict(private=False) if dpop is not None else None
        return CallContext(
            headers={},
            claims=claims,
            dpop_jwk=jwk,
            dpop_jkt=dpop.thumbprint() if dpop is not None else None,
            instance=instance,
        )

    def public_key(self, instance: str = "default", **fields: str) -> pb.PublicKeyResponse:
        req = pb.PublicKeyRequest(**fields)
        return self.methods["PublicKey"].handler(req, self.ctx(None, instance=instance))

    def rewrap(self, token: str, ctx: CallContext) -> pb.RewrapResponse:
        return self.methods["Rewrap"].handler(pb.RewrapRequest(signed_request_token=token), ctx)

    def audit(self) -> list[dict[str, Any]]:
        return kas.service_for(self.platform).audit.records()


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kas]:
    state = tmp_path_factory.mktemp("kas")
    platform = Platform(PlatformConfig(state_dir=state, kas_ports={"km2": 8686}))
    methods = {m.name: m for m in kas.methods(platform)}
    store = PolicyStore(platform.db)
    ns = store.create_namespace("example.com")
    store.create_attribute(ns.id, "project", po.ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF, ["secret"])
    cond = po.Condition(
        subject_external_selector_value=".clientId",
        operator=po.SUBJECT_MAPPING_OPERATOR_ENUM_IN,
        subject_external_values=["xtdf-alice"],
    )
    group = po.ConditionGroup(conditions=[cond], boolean_operator=po.CONDITION_BOOLEAN_TYPE_ENUM_OR)
    store.create_subject_mapping(
        SECRET_ATTR,
        [po.Action(name="read")],
        new_condition_set=[po.SubjectSet(condition_groups=[group])],
    )
    yield Kas(platform, methods, KeyStore.for_platform(platform))
    kas.service_for(platform).audit.close()


@pytest.fixture(scope="module")
def dpop() -> ECKey:
    return ECKey.generate_key("P-256")


def kao_for(
    k: Kas, share: bytes, policy_b64: str, alg: str = "rsa:2048", instance: str = "default"
) -> dict[str, Any]:
    pub = k.public_key(instance, algorithm=alg)
    target = KeyAccessTarget(KAS_URL, pub.public_key, pub.kid)
    return kao_message(make_kao(target, share, policy_b64))


# --- public keys ---------------------------------------------------------------------------


def test_public_keys_default_rsa_and_ec_with_kids(k: Kas) -> None:
    rsa_key = k.public_key()
    assert rsa_key.kid == "r1"
    pub = load_public_pem(rsa_key.public_key)
    assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 2048
    ec_key = k.public_key(algorithm="ec:secp256r1")
    assert ec_key.kid == "ec1"
    ec_pub = load_public_pem(ec_key.public_key)
    assert isinstance(ec_pub, ec.EllipticCurvePublicKey) and ec_pub.curve.name == "secp256r1"
    # each instance has its own keys
    assert k.public_key("km2").public_key != rsa_key.public_key


def test_public_key_jwk_format_and_v1_hides_kid(k: Kas) -> None:
    jwk = json.loads(k.public_key(algorithm="rsa:2048", fmt="jwk").public_key)
    pem_key = load_public_pem(k.public_key().public_key)
    assert isinstance(pem_key, rsa.RSAPublicKey)
    n = int.from_bytes(b64decode(jwk["n"].replace("-", "+").replace("_", "/")), "big")
    assert jwk["kty"] == "RSA" and jwk["kid"] == "r1" and n == pem_key.public_numbers().n
    assert k.public_key(v="1").kid == ""


@pytest.mark.parametrize("fields", [{"algorithm": "rsa:1024"}, {"algorithm": "dsa:2048"}])
def test_unknown_algorithm_is_not_found(k: Kas, fields: dict[str, str]) -> None:
    with pytest.raises(RpcError) as err:
        k.public_key(**fields)
    assert err.value.code == "not_found"
    assert fields["algorithm"] in err.value.message


def test_unknown_format_is_not_found(k: Kas) -> None:
    with pytest.raises(RpcError, match="fmt") as err:
        k.public_key(fmt="der")
    assert err.value.code == "not_found"


def test_legacy_public_key_is_the_bare_pem(k: Kas) -> None:
    from xtdf._proto.kas import kas_pb2

    method = k.methods["LegacyPublicKey"]
    got = method.handler(kas_pb2.LegacyPublicKeyRequest(algorithm="ec:secp256r1"), k.ctx(None))
    assert got.value == k.public_key(algorithm="ec:secp256r1").public_key


# --- rewrap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kas_alg", ["rsa:2048", "ec:secp256r1"])
@pytest.mark.parametrize("client_alg", ["rsa", "ec"])
def test_rewrap_recovers_the_exact_share(
    k: Kas, dpop: ECKey, kas_alg: str, client_alg: str
) -> None:
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    client = xrsa.generate() if client_alg == "rsa" else xec.generate()
    body = request_body(client, [("p", policy, [("kao-1", kao_for(k, share, policy, kas_alg))])])
    resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop))
    (res,) = results_of(resp).values()
    assert res.status == "permit", res.error
    assert recover(resp, client, res.kas_wrapped_key) == share
    assert bool(resp.session_public_key) is (client_alg == "ec")
    assert list(res.metadata["X-Required-Obligations"].list_value.values) == []
    line = k.audit()[-1]
    assert line["decision"] == "permit" and line["kid"] in ("r1", "ec1")
    assert line["policy"] == Policy.from_json(json.loads(b64decode(policy))).uuid
    assert line["entity"] == {"clientId": "xtdf-alice", "sub": "alice-sub"}


def test_many_policies_and_kaos_with_per_kao_errors(k: Kas, dpop: ECKey) -> None:
    s1, s2, s3 = (os.urandom(32) for _ in range(3))
    p1, p2 = Policy.create().to_b64(), Policy.create().to_b64()
    good_rsa = kao_for(k, s1, p1)
    good_ec = kao_for(k, s2, p1, "ec:secp256r1")
    tampered = kao_for(k, s3, p2)  # bound to p2, sent under p1
    unknown_kid = {**kao_for(k, s3, p2), "kid": "nope"}
    other_policy = kao_for(k, s3, p2)
    client = xec.generate()
    body = request_body(
        client,
        [
            ("p1", p1, [("a", good_rsa), ("b", good_ec), ("c", tampered)]),
            ("p2", p2, [("d", unknown_kid), ("e", other_policy)]),
        ],
    )
    before = len(k.audit())
    resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop))
    assert [pr.policy_id for pr in resp.responses] == ["p1", "p2"]
    res = results_of(resp)
    assert recover(resp, client, res["a"].kas_wrapped_key) == s1
    assert recover(resp, client, res["b"].kas_wrapped_key) == s2
    assert recover(resp, client, res["e"].kas_wrapped_key) == s3
    for failed in ("c", "d"):
        assert res[failed].status == "fail"
        assert not res[failed].kas_wrapped_key
    assert "desc = bad request" in res["c"].error
    assert "key not found" in res["d"].error
    lines = {line["keyAccessObjectId"]: line for line in k.audit()[before:]}
    assert set(lines) == {"a", "b", "c", "d", "e"}
    assert lines["c"]["decision"] == "deny" and "policy binding" in lines["c"]["reason"]
    assert lines["d"]["decision"] == "deny" and "'nope' is unknown" in lines["d"]["reason"]


def _refused(k: Kas, token: str, ctx: CallContext, code: str) -> tuple[RpcError, dict[str, Any]]:
    before = len(k.audit())
    with pytest.raises(RpcError) as err:
        k.rewrap(token, ctx)
    assert err.value.code == code, err.value.message
    lines = k.audit()[before:]
    assert len(lines) == 1 and lines[0]["decision"] == "deny"
    return err.value, lines[0]


def test_srt_signed_by_another_key_than_the_dpop_key(k: Kas, dpop: ECKey) -> None:
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    body = request_body(xec.generate(), [("p", policy, [("a", kao_for(k, share, policy))])])
    intruder = ECKey.generate_key("P-256")
    err, line = _refused(k, sign_srt(intruder, body), k.ctx(dpop=dpop), "unauthenticated")
    assert "unable to verify request token" in err.message
    assert line["entity"]["clientId"] == "xtdf-alice" and "DPoP" in line["reason"]
    # an RSA DPoP key and an ES256 token do not mix either
    rsa_dpop = RSAKey.generate_key(2048)
    _refused(k, sign_srt(dpop, body), k.ctx(dpop=rsa_dpop), "unauthenticated")


def test_rsa_dpop_key_signs_rs256(k: Kas) -> None:
    rsa_dpop = RSAKey.generate_key(2048)
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    client = xrsa.generate()
    body = request_body(client, [("p", policy, [("a", kao_for(k, share, policy))])])
    resp = k.rewrap(sign_srt(rsa_dpop, body), k.ctx(dpop=rsa_dpop))
    (res,) = results_of(resp).values()
    assert recover(resp, client, res.kas_wrapped_key) == share


def test_without_dpop_the_srt_is_not_verified_as_upstream(k: Kas) -> None:
    """The Go KAS verifies the SRT only with a DPoP key; a bearer-only call is accepted."""
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    client = xrsa.generate()
    body = request_body(client, [("p", policy, [("a", kao_for(k, share, policy))])])
    resp = k.rewrap(sign_srt(ECKey.generate_key("P-256"), body), k.ctx())
    (res,) = results_of(resp).values()
    assert recover(resp, client, res.kas_wrapped_key) == share


def test_expired_or_garbage_srt_is_unauthenticated(k: Kas, dpop: ECKey) -> None:
    body = request_body(xec.generate(), [])
    old = int(time.time()) - 3600
    expired = sign_srt(dpop, body, iat=old, exp=old + 60)
    err, _ = _refused(k, expired, k.ctx(dpop=dpop), "unauthenticated")
    assert "expired" in err.message
    err, _ = _refused(k, "not-a-jwt", k.ctx(dpop=dpop), "unauthenticated")
    assert "could not parse token" in err.message


def test_missing_token_claims_is_unauthenticated(k: Kas, dpop: ECKey) -> None:
    err, line = _refused(k, sign_srt(dpop, {}), k.ctx(claims=None), "unauthenticated")
    assert "access token" in err.message and line["entity"]["clientId"] == ""


@pytest.mark.parametrize(
    ("claims", "needle"),
    [
        ({"requestBody": "{not json"}, "not JSON"),
        ({"requestBody": json.dumps({"requests": {"a": 1}})}, "requests is not a list"),
        ({"requestBody": json.dumps({"requests": [{"policy": "x"}]})}, "policy is not an object"),
        ({"requestBody": 7}, "requestBody is not a string"),
    ],
)
def test_malformed_request_body_is_invalid_argument(
    k: Kas, dpop: ECKey, claims: dict[str, Any], needle: str
) -> None:
    now = int(time.time())
    token = jwt.encode({"alg": "ES256"}, {**claims, "iat": now}, dpop)
    err, line = _refused(k, token, k.ctx(dpop=dpop), "invalid_argument")
    assert needle in err.message and needle in line["reason"]


def test_missing_request_body_and_bad_client_key(k: Kas, dpop: ECKey) -> None:
    token = jwt.encode({"alg": "ES256"}, {"iat": int(time.time())}, dpop)
    err, _ = _refused(k, token, k.ctx(dpop=dpop), "invalid_argument")
    assert "missing request body" in err.message
    policy = Policy.create().to_b64()
    body = request_body(xec.generate(), [("p", policy, [("a", kao_for(k, b"x" * 32, policy))])])
    body["clientPublicKey"] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    err, _ = _refused(k, sign_srt(dpop, body), k.ctx(dpop=dpop), "invalid_argument")
    assert "clientPublicKey" in err.message


def test_tampered_policy_releases_nothing(k: Kas, dpop: ECKey) -> None:
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    kao = kao_for(k, share, policy)
    changed = Policy.create([SECRET_ATTR]).to_b64()
    body = request_body(xec.generate(), [("p", changed, [("a", kao)])])
    resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop))
    (res,) = results_of(resp).values()
    assert res.status == "fail" and not res.kas_wrapped_key
    assert res.error.endswith("desc = bad request")
    line = k.audit()[-1]
    assert line["decision"] == "deny" and "policy binding does not match" in line["reason"]


def test_entitlement_decides(k: Kas, dpop: ECKey) -> None:
    share = os.urandom(32)
    policy = Policy.create([SECRET_ATTR]).to_b64()
    client = xec.generate()
    body = request_body(client, [("p", policy, [("a", kao_for(k, share, policy))])])
    token = sign_srt(dpop, body)
    resp = k.rewrap(token, k.ctx(ALICE, dpop=dpop))
    (res,) = results_of(resp).values()
    assert recover(resp, client, res.kas_wrapped_key) == share
    assert "ALL_OF" in k.audit()[-1]["reason"]
    resp = k.rewrap(token, k.ctx(BOB, dpop=dpop))
    (res,) = results_of(resp).values()
    assert res.status == "fail" and not res.kas_wrapped_key
    assert "desc = forbidden" in res.error
    line = k.audit()[-1]
    assert line["decision"] == "deny" and line["entity"]["clientId"] == "xtdf-bob"
    assert "not entitled" in line["reason"]


def test_unknown_attribute_denies(k: Kas, dpop: ECKey) -> None:
    share = os.urandom(32)
    policy = Policy.create(["https://nowhere.example/attr/a/value/b"]).to_b64()
    body = request_body(xec.generate(), [("p", policy, [("a", kao_for(k, share, policy))])])
    (res,) = results_of(k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop))).values()
    assert res.status == "fail" and "forbidden" in res.error


def test_single_object_form_of_the_js_cli(k: Kas) -> None:
    """``keyAccess``/``policy``/``algorithm`` at the top, a bare-string binding, no DPoP:
    answered with ``entityWrappedKey``; a refusal becomes the call's error."""
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    pub = k.public_key()
    kao = make_kao(KeyAccessTarget(KAS_URL, pub.public_key, ""), share, policy)
    doc = kao.to_dict(exclude_none=True)
    doc["policyBinding"] = doc["policyBinding"]["hash"]
    client = xrsa.generate()
    signer = RSAKey.generate_key(2048)
    body = {
        "algorithm": "RS256",
        "keyAccess": {**doc, "kid": "r1"},
        "policy": policy,
        "clientPublicKey": public_pem(client),
    }
    resp = k.rewrap(sign_srt(signer, body), k.ctx())
    assert xrsa.unwrap(client, resp.entity_wrapped_key) == share
    as_json = json_format.MessageToDict(resp)
    assert as_json["responses"][0]["results"][0]["keyAccessObjectId"] == "kao-0"
    body["policy"] = Policy.create().to_b64()
    with pytest.raises(RpcError) as err:
        k.rewrap(sign_srt(signer, body), k.ctx())
    assert err.value.code == "invalid_argument" and "bad request" in err.value.message


def test_legacy_key_fallback(k: Kas, dpop: ECKey) -> None:
    old = xrsa.generate()
    k.store.import_key("old-1", "rsa:2048", private_pem(old), legacy=True, kas="km2")
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    made = make_kao(
        KeyAccessTarget("http://localhost:8686/kas", old.public_key(), ""), share, policy
    )
    client = xrsa.generate()
    kaos = [("no-kid", kao_message(made)), ("other-kid", {**kao_message(made), "kid": "rotated"})]
    body = request_body(client, [("p", policy, kaos)])
    resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop, instance="km2"))
    for res in results_of(resp).values():
        assert recover(resp, client, res.kas_wrapped_key) == share
    assert {line["kid"] for line in k.audit()[-2:]} == {"old-1"}
    # the default instance has no legacy key: nothing to fall back to
    resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop))
    assert all("key not found" in r.error for r in results_of(resp).values())


def test_ec_wrapped_with_unknown_kid_uses_an_ec_legacy_key(k: Kas, dpop: ECKey) -> None:
    old = xec.generate()
    k.store.import_key("old-ec", "ec:secp256r1", private_pem(old), legacy=True, kas="km2")
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    made = make_kao(KeyAccessTarget(KAS_URL, old.public_key(), "gone"), share, policy)
    client = xec.generate()
    body = request_body(client, [("p", policy, [("a", kao_message(made))])])
    resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop, instance="km2"))
    (res,) = results_of(resp).values()
    assert recover(resp, client, res.kas_wrapped_key) == share


GOLDEN = {
    "small-java-4.3.0-e0f8caf.tdf": "default",
    "no-splitids-java.tdf": "default",
    "key-management-no-split-golden.tdf": "km2",
}


def test_golden_files_rewrap_with_imported_legacy_key(
    k: Kas, dpop: ECKey, reference_dir: Path
) -> None:
    kas.import_extra_keys(k.platform, reference_dir / "extra-keys.json")
    keys = json.loads((reference_dir / "extra-keys.json").read_text())
    offline = OfflineUnwrapper({e["kid"]: e["privateKey"] for e in keys})
    for name, instance in GOLDEN.items():
        manifest = read_manifest(reference_dir / "golden" / name)
        info = manifest.encryption_information
        client = xec.generate()
        kaos = [(f"kao-{i}", kao_message(kao)) for i, kao in enumerate(info.key_access)]
        body = request_body(client, [("p", info.policy, kaos)])
        resp = k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop, instance=instance))
        res = results_of(resp)
        permitted = [i for i, r in res.items() if r.status == "permit"]
        assert permitted, (name, {i: r.error for i, r in res.items()})
        for kao_id in permitted:
            kao = info.key_access[int(kao_id.split("-")[1])]
            expected = offline(kao, manifest)
            assert recover(resp, client, res[kao_id].kas_wrapped_key) == expected
    # the same import twice is harmless
    assert kas.import_extra_keys(k.platform, reference_dir / "extra-keys.json") == []


def test_binding_is_checked_with_the_unwrapped_share(k: Kas) -> None:
    """A binding made with another key never verifies (keywrap is the one recipe)."""
    share = os.urandom(32)
    policy = Policy.create().to_b64()
    binding = keywrap.policy_binding_object(os.urandom(32), policy)
    pub = k.public_key()
    target = KeyAccessTarget(KAS_URL, pub.public_key, pub.kid)
    msg = {**kao_message(make_kao(target, share, policy)), "policyBinding": binding}
    client = xrsa.generate()
    body = request_body(client, [("p", policy, [("a", msg)])])
    (res,) = results_of(k.rewrap(sign_srt(ECKey.generate_key("P-256"), body), k.ctx())).values()
    assert res.status == "fail" and "bad request" in res.error
    assert b64encode(share) not in res.error
