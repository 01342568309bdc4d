"""KAS decisions that a one-line slip would turn into a key release: the action a subject
mapping grants, and the NanoTDF policy binding. Each case has its permitted twin, so the
refusal is known to come from the check under test.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator

import pytest
from joserfc.jwk import ECKey

from tests.platform.test_kas_rewrap import (
    BOB,
    Kas,
    kao_for,
    request_body,
    results_of,
    sign_srt,
)
from xtdf._proto.policy import objects_pb2 as po
from xtdf.client import kas as client_kas
from xtdf.client.nano import rewrap_request
from xtdf.crypto import ec as xec
from xtdf.crypto.keys import load_public_pem, public_pem
from xtdf.formats import nano
from xtdf.formats.ztdf.policy import Policy
from xtdf.platform import kas
from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform
from xtdf.platform.policy.keys import KeyStore
from xtdf.platform.policy.store import PolicyStore

KAS_URL = "http://localhost:8080/kas"
DRAFT = "https://decisions.example/attr/stage/value/draft"
FINAL = "https://decisions.example/attr/stage/value/final"


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kas]:
    platform = Platform(PlatformConfig(state_dir=tmp_path_factory.mktemp("kas-decisions")))
    methods = {m.name: m for m in kas.methods(platform)}
    store = PolicyStore(platform.db)
    ns = store.create_namespace("decisions.example")
    store.create_attribute(ns.id, "stage", po.ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF, ["draft", "final"])
    bob = po.Condition(
        subject_external_selector_value=".clientId",
        operator=po.SUBJECT_MAPPING_OPERATOR_ENUM_IN,
        subject_external_values=["xtdf-bob"],
    )
    group = po.ConditionGroup(conditions=[bob], boolean_operator=po.CONDITION_BOOLEAN_TYPE_ENUM_OR)
    subjects = [po.SubjectSet(condition_groups=[group])]
    # bob may create and update drafts but not read them; he may read finals
    store.create_subject_mapping(
        DRAFT, [po.Action(name="create"), po.Action(name="update")], new_condition_set=subjects
    )
    store.create_subject_mapping(FINAL, [po.Action(name="read")], new_condition_set=subjects)
    yield Kas(platform, methods, KeyStore.for_platform(platform))
    kas.service_for(platform).audit.close()


@pytest.fixture(scope="module")
def dpop() -> ECKey:
    return ECKey.generate_key("P-256")


def _rewrap_as_bob(k: Kas, dpop: ECKey, attribute: str):
    share = os.urandom(32)
    policy = Policy.create([attribute]).to_b64()
    body = request_body(xec.generate(), [("p", policy, [("a", kao_for(k, share, policy))])])
    (res,) = results_of(k.rewrap(sign_srt(dpop, body), k.ctx(BOB, dpop=dpop))).values()
    return res


def test_a_mapping_without_read_releases_nothing(k: Kas, dpop: ECKey) -> None:
    res = _rewrap_as_bob(k, dpop, DRAFT)
    assert res.status == "fail" and not res.kas_wrapped_key
    assert "desc = forbidden" in res.error
    line = k.audit()[-1]
    assert line["decision"] == "deny" and "not entitled" in line["reason"]
    assert line["entity"]["clientId"] == "xtdf-bob"


def test_a_mapping_with_read_releases(k: Kas, dpop: ECKey) -> None:
    res = _rewrap_as_bob(k, dpop, FINAL)
    assert res.status == "permit", res.error
    assert res.kas_wrapped_key


# -- NanoTDF policy binding -------------------------------------------------------------


def _nano(k: Kas, binding: str) -> bytes:
    pub = k.public_key(algorithm="ec:secp256r1")
    return nano.encrypt(
        b"nano plaintext",
        kas_url=KAS_URL,
        kas_public_key=load_public_pem(pub.public_key),
        kid=pub.kid,
        policy=nano.policy_object(),
        binding=binding,  # type: ignore[arg-type]
    )


def _with_binding(data: bytes, change) -> bytes:
    header, size = nano.parse_header(data)
    tampered = dataclasses.replace(header, binding=change(header))
    return tampered.encode() + data[size:]


def _rewrap_nano(k: Kas, dpop: ECKey, data: bytes):
    _, request = rewrap_request(data)
    session = xec.generate()
    body = json.loads(json.dumps(client_kas.unsigned_request(public_pem(session), [request])))
    (res,) = results_of(k.rewrap(sign_srt(dpop, body), k.ctx(dpop=dpop))).values()
    return res


def _flip_last(b: bytes) -> bytes:
    return b[:-1] + bytes([b[-1] ^ 0x01])


def _altered(h: nano.header.Header) -> bytes:
    """The binding with one bit of its MAC (GMAC) or of its ECDSA ``s`` changed."""
    if not h.ecdsa_binding:
        return _flip_last(h.binding)
    r, s = nano.header.split_ecdsa_binding(h.binding, h.curve)
    return nano.header.join_ecdsa_binding(r, _flip_last(s))


@pytest.mark.parametrize("binding", ["gmac", "ecdsa"])
def test_nano_with_its_binding_is_rewrapped(k: Kas, dpop: ECKey, binding: str) -> None:
    res = _rewrap_nano(k, dpop, _nano(k, binding))
    assert res.status == "permit", res.error
    assert res.kas_wrapped_key


@pytest.mark.parametrize("binding", ["gmac", "ecdsa"])
def test_nano_with_an_altered_binding_releases_nothing(k: Kas, dpop: ECKey, binding: str) -> None:
    res = _rewrap_nano(k, dpop, _with_binding(_nano(k, binding), _altered))
    assert res.status == "fail" and not res.kas_wrapped_key
    assert res.error.endswith("desc = bad request")
    line = k.audit()[-1]
    assert line["decision"] == "deny" and "binding" in line["reason"], line
