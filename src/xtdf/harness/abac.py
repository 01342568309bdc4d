"""The attribute fixture the ABAC and policy-type tests share, created once per platform.

Names are stable (not per run) and creation is idempotent, so the FQNs that go into
cache keys stay the same from run to run and a warm rerun finds every ciphertext. Which
KAS each value routes to, and which values the suite's client is entitled to, is laid
out in :data:`LAYOUT`: the tests read their expectations from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xtdf.errors import PlatformError
from xtdf.platform.admin import PolicyAdmin, condition_set

NAMESPACE = "abac.xtdf.example"
NS_GRANT_NAMESPACE = "nsgrant.xtdf.example"


@dataclass(frozen=True)
class AttrSpec:
    namespace: str
    name: str
    rule: str
    values: tuple[str, ...]
    #: value -> KAS instance granted at value level
    value_grants: dict[str, str] = field(default_factory=dict)
    #: KAS instance granted at attribute level
    attribute_grant: str | None = None
    #: values the suite's client is entitled to
    entitled: tuple[str, ...] = ()

    def fqn(self, value: str) -> str:
        return f"https://{self.namespace}/attr/{self.name}/value/{value}"


LAYOUT: dict[str, AttrSpec] = {
    "letter": AttrSpec(
        NAMESPACE,
        "letter",
        "any_of",
        ("alpha", "beta", "gamma"),
        {"alpha": "value1", "beta": "value2", "gamma": "value1"},
        entitled=("alpha", "beta"),
    ),
    "pair": AttrSpec(
        NAMESPACE,
        "pair",
        "all_of",
        ("one", "two", "three"),
        {"one": "value1", "two": "value2", "three": "value2"},
        entitled=("one", "two"),
    ),
    "level": AttrSpec(
        NAMESPACE,
        "level",
        "hierarchy",
        ("top", "mid", "low"),
        {"top": "value1", "mid": "value1", "low": "value1"},
        entitled=("mid",),
    ),
    "attrgrant": AttrSpec(
        NAMESPACE, "attrgrant", "any_of", ("x",), attribute_grant="attr", entitled=("x",)
    ),
    "nsgrant": AttrSpec(NS_GRANT_NAMESPACE, "nsgrant", "any_of", ("y",), entitled=("y",)),
}
#: namespace -> KAS instance granted at namespace level
NAMESPACE_GRANTS = {NS_GRANT_NAMESPACE: "ns"}


def _exists(fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except PlatformError as exc:
        if "not_found" in str(exc) or "not found" in str(exc).lower():
            return False
        raise
    return True


def ensure(admin: PolicyAdmin, client_id: str) -> dict[str, Any]:
    """Create whatever of the layout is missing; return a JSON-able description."""
    for ns in {spec.namespace for spec in LAYOUT.values()}:
        if not _exists(admin.get_namespace, f"https://{ns}"):
            admin.create_namespace(ns)
            if ns in NAMESPACE_GRANTS:
                admin.grant_kas("namespace", f"https://{ns}", NAMESPACE_GRANTS[ns])
    mapped = {m.get("attributeValue", {}).get("fqn") for m in admin.list_subject_mappings()}
    for spec in LAYOUT.values():
        attr_fqn = f"https://{spec.namespace}/attr/{spec.name}"
        if not _exists(admin.get_attribute, attr_fqn):
            admin.create_attribute(f"https://{spec.namespace}", spec.name, spec.rule, spec.values)
            if spec.attribute_grant:
                admin.grant_kas("attribute", attr_fqn, spec.attribute_grant)
            for value, kas in spec.value_grants.items():
                admin.grant_kas("value", spec.fqn(value), kas)
        for value in spec.entitled:
            if spec.fqn(value) not in mapped:
                admin.create_subject_mapping(
                    spec.fqn(value), subject_sets=condition_set(".clientId", [client_id])
                )
    return {
        name: {"fqns": {v: spec.fqn(v) for v in spec.values}, "entitled": list(spec.entitled)}
        for name, spec in LAYOUT.items()
    }
