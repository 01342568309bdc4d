"""The platform's policy API itself, through the same admin client the fixtures use."""

from __future__ import annotations

import uuid

import pytest

from xtdf.errors import PlatformError
from xtdf.platform.admin import PolicyAdmin, condition_set


def test_namespaces(admin: PolicyAdmin) -> None:
    name = f"ns-{uuid.uuid4().hex[:8]}.self.xtdf.example"
    created = admin.create_namespace(name)
    assert created["name"] == name
    assert name in {n["name"] for n in admin.list_namespaces()}
    with pytest.raises(PlatformError, match="already"):
        admin.create_namespace(name)


def test_attributes_and_values(admin: PolicyAdmin) -> None:
    ns = f"attr-{uuid.uuid4().hex[:8]}.self.xtdf.example"
    admin.create_namespace(ns)
    attr = admin.create_attribute(ns, "color", "any_of", ["red", "green"])
    assert [v["value"] for v in attr["values"]] == ["red", "green"]
    admin.create_value(f"https://{ns}/attr/color", "blue")
    fqn = f"https://{ns}/attr/color/value/blue"
    found = admin.values_by_fqns([fqn])
    assert found[fqn]["value"]["value"] == "blue"
    assert found[fqn]["attribute"]["rule"] == "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF"


def test_subject_condition_sets(admin: PolicyAdmin) -> None:
    scs = admin.create_condition_set(condition_set(".clientId", ["someone-else"]))
    assert scs["id"]
    assert scs["id"] in {s["id"] for s in admin.list_condition_sets()}
