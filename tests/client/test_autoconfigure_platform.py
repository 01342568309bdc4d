"""Autoconfigure against the real policy service: grants and mapped keys become splits."""

from __future__ import annotations

import itertools
import uuid

from tests.platform.conftest import LocalPlatform
from xtdf.client.autoconfigure import parse_fqns, plan
from xtdf.client.config import ClientConfig
from xtdf.client.platform_client import PlatformClient
from xtdf.platform.admin import PolicyAdmin


def _client(lp: LocalPlatform) -> PlatformClient:
    return PlatformClient(
        ClientConfig(platform_url=lp.url, client_id="opentdf", client_secret="secret")
    )


def _kas(admin: PolicyAdmin, url: str) -> str:
    if not any(k.get("uri") == url for k in admin.list_kas()):
        admin.register_kas(url)
    return url


def _plan(lp: LocalPlatform, fqns: list[str]) -> list[tuple[str, str, str]]:
    counter = itertools.count()
    parsed = parse_fqns(",".join(fqns))
    with _client(lp) as client:
        answer = client.attribute_values([f.fqn for f in parsed])
        steps = plan(parsed, answer, client.config.kas_url, lambda: f"s{next(counter)}")
    return [(s.key.kas_url, s.key.kid, s.split_id) for s in steps]


def test_value_grants_all_of_and_any_of(full_platform: LocalPlatform, admin: PolicyAdmin) -> None:
    k1 = _kas(admin, full_platform.kas_urls["value1"])
    k2 = _kas(admin, full_platform.kas_urls["value2"])
    ns = f"ac-{uuid.uuid4().hex[:8]}.example.com"
    admin.create_namespace(ns)
    admin.create_attribute(ns, "all", "ALL_OF", ["a", "b"])
    admin.create_attribute(ns, "any", "ANY_OF", ["a", "b"])
    fqn = f"https://{ns}/attr/{{}}/value/{{}}"
    for attr in ("all", "any"):
        admin.grant_kas("value", fqn.format(attr, "a"), k1)
        admin.grant_kas("value", fqn.format(attr, "b"), k2)
    all_of = _plan(full_platform, [fqn.format("all", "a"), fqn.format("all", "b")])
    assert all_of == [(k1, "", "s0"), (k2, "", "s1")]
    any_of = _plan(full_platform, [fqn.format("any", "a"), fqn.format("any", "b")])
    assert sorted(any_of) == sorted([(k1, "", "s0"), (k2, "", "s0")])


def test_namespace_grant_is_the_fallback(full_platform: LocalPlatform, admin: PolicyAdmin) -> None:
    k3 = _kas(admin, full_platform.kas_urls["ns"])
    ns = f"acns-{uuid.uuid4().hex[:8]}.example.com"
    admin.create_namespace(ns)
    admin.create_attribute(ns, "x", "ANY_OF", ["v"])
    admin.grant_kas("namespace", ns, k3)
    assert _plan(full_platform, [f"https://{ns}/attr/x/value/v"]) == [(k3, "", "")]


def test_mapped_keys_carry_kid_and_pem(full_platform: LocalPlatform, admin: PolicyAdmin) -> None:
    km = _kas(admin, full_platform.kas_urls["km1"])
    ns = f"ackm-{uuid.uuid4().hex[:8]}.example.com"
    kid = f"k-{uuid.uuid4().hex[:6]}"
    admin.create_key(km, kid, "rsa:2048")
    admin.create_namespace(ns)
    admin.create_attribute(ns, "x", "ALL_OF", ["v"])
    admin.assign_key("value", f"https://{ns}/attr/x/value/v", km, kid)
    fqns = parse_fqns(f"https://{ns}/attr/x/value/v")
    with _client(full_platform) as client:
        (step,) = plan(fqns, client.attribute_values([fqns[0].fqn]), client.config.kas_url)
    assert (step.key.kas_url, step.key.kid, step.key.algorithm) == (km, kid, "rsa:2048")
    assert "BEGIN PUBLIC KEY" in step.key.pem
