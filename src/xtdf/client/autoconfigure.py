"""Autoconfigure: turn data attributes into a key split plan.

Each attribute value FQN is looked up in the policy service
(``GetAttributeValuesByFqns``). Its KASes come from the most specific level that has
any: the value, else its attribute definition, else the namespace; at each level mapped
keys (``kasKeys``) win over plain grants. Values of the same attribute form a clause
whose rule decides how their KASes combine (facts from opentdf/platform
``sdk/granter.go``):

- ``ANY_OF``: one split shared by all the clause's KASes (any one of them can unlock it);
- ``ALL_OF`` and ``HIERARCHY``: one split per KAS (every one of them is needed).

Clauses are ANDed; duplicate splits collapse. With more than one KAS in the plan every
split gets an id; with none, the default (the platform's base key, else the default KAS)
takes the whole key. Mapped keys name an exact key (KAS URL, kid, PEM); legacy grants name
only a KAS, whose current key for the wanted algorithm the client fetches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xtdf.errors import KeyAccessError, UsageError

ANY_OF = "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF"
ALL_OF = "ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF"
HIERARCHY = "ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY"
_RULE_NUMBERS = {1: ALL_OF, 2: ANY_OF, 3: HIERARCHY}

#: policy ``Algorithm`` / ``KasPublicKeyAlgEnum`` names (or numbers) -> KAS algorithm names
_ALGORITHMS: dict[str, str] = {
    "ALGORITHM_RSA_2048": "rsa:2048",
    "ALGORITHM_RSA_4096": "rsa:4096",
    "ALGORITHM_EC_P256": "ec:secp256r1",
    "ALGORITHM_EC_P384": "ec:secp384r1",
    "ALGORITHM_EC_P521": "ec:secp521r1",
    "KAS_PUBLIC_KEY_ALG_ENUM_RSA_2048": "rsa:2048",
    "KAS_PUBLIC_KEY_ALG_ENUM_RSA_4096": "rsa:4096",
    "KAS_PUBLIC_KEY_ALG_ENUM_EC_SECP256R1": "ec:secp256r1",
    "KAS_PUBLIC_KEY_ALG_ENUM_EC_SECP384R1": "ec:secp384r1",
    "KAS_PUBLIC_KEY_ALG_ENUM_EC_SECP521R1": "ec:secp521r1",
}
_SIMPLE_ALG_NUMBERS = {
    1: "rsa:2048",
    2: "rsa:4096",
    3: "ec:secp256r1",
    4: "ec:secp384r1",
    5: "ec:secp521r1",
}
_KAS_ALG_NUMBERS = {
    1: "rsa:2048",
    2: "rsa:4096",
    5: "ec:secp256r1",
    6: "ec:secp384r1",
    7: "ec:secp521r1",
}


@dataclass(frozen=True, order=True)
class KeyRef:
    """A KAS, and optionally the exact key the policy service assigned there."""

    kas_url: str
    kid: str = ""
    pem: str = ""
    algorithm: str = ""


@dataclass(frozen=True)
class SplitStep:
    """One key access object to write: the share for ``split_id`` wrapped for ``key``."""

    key: KeyRef
    split_id: str = ""


@dataclass(frozen=True)
class AttributeValueFqn:
    """``https://<namespace>/attr/<name>/value/<value>``, compared case-insensitively."""

    fqn: str

    def __post_init__(self) -> None:
        low = self.fqn.lower()
        if (
            not low.startswith(("https://", "http://"))
            or "/attr/" not in low
            or "/value/" not in low
        ):
            raise UsageError(
                f"not an attribute value FQN (https://NS/attr/NAME/value/VALUE): {self.fqn!r}"
            )

    @property
    def key(self) -> str:
        return self.fqn.lower()

    @property
    def attribute(self) -> str:
        return self.key.rsplit("/value/", 1)[0]


def parse_fqns(text: str) -> list[AttributeValueFqn]:
    """``XT_WITH_ATTRIBUTES`` / ``--attr``: comma-separated value FQNs."""
    return [AttributeValueFqn(part.strip()) for part in text.split(",") if part.strip()]


def _algorithm(value: Any, numbers: Mapping[int, str]) -> str:
    if isinstance(value, int):
        return numbers.get(value, "")
    text = str(value)
    return text if text in _ALGORITHMS.values() else _ALGORITHMS.get(text, "")


def simple_key(sk: Mapping[str, Any]) -> KeyRef | None:
    """A ``SimpleKasKey`` (JSON; algorithm as enum name, number or ``rsa:2048``)."""
    return _simple_key(sk)


def _simple_key(sk: Mapping[str, Any]) -> KeyRef | None:
    uri = sk.get("kasUri") or sk.get("kas_uri")
    if not isinstance(uri, str) or not uri:
        return None
    pk = sk.get("publicKey") or sk.get("public_key") or {}
    return KeyRef(
        uri,
        str(pk.get("kid", "")),
        str(pk.get("pem", "")),
        _algorithm(pk.get("algorithm", ""), _SIMPLE_ALG_NUMBERS),
    )


def _keys_at(level: Mapping[str, Any] | None) -> list[KeyRef]:
    """The KASes (and keys) one level grants; mapped keys first, then legacy grants."""
    if not level:
        return []
    mapped = [k for sk in level.get("kasKeys") or [] if (k := _simple_key(sk))]
    if mapped:
        return mapped
    # a legacy grant names a KAS only; any keys it lists are a cache, and the client
    # picks the KAS's current key for its preferred algorithm (as the Go SDK's plan does)
    urls = [
        g["uri"] for g in level.get("grants") or [] if isinstance(g.get("uri"), str) and g["uri"]
    ]
    return [KeyRef(u) for u in dict.fromkeys(urls)]


def _rule(value: Any) -> str:
    if isinstance(value, int):
        return _RULE_NUMBERS.get(value, "")
    return str(value or "")


@dataclass
class _Clause:
    rule: str
    keys: list[KeyRef]


def clauses(fqns: Sequence[AttributeValueFqn], answer: Mapping[str, Any]) -> list[_Clause]:
    """Group the values by attribute, with each value's KASes, from the policy answer."""
    table = answer.get("fqnAttributeValues") or answer.get("fqn_attribute_values") or {}
    by_key = {str(k).lower(): v for k, v in table.items()}
    grouped: dict[str, _Clause] = {}
    for fqn in fqns:
        pair = by_key.get(fqn.key)
        if not pair:
            raise KeyAccessError(f"attribute value not found in the policy service: {fqn.fqn}")
        attr = pair.get("attribute") or {}
        value = pair.get("value") or {}
        keys = _keys_at(value) or _keys_at(attr) or _keys_at(attr.get("namespace"))
        clause = grouped.setdefault(fqn.attribute, _Clause(_rule(attr.get("rule")), []))
        clause.keys.extend(keys)
    return list(grouped.values())


def plan(
    fqns: Sequence[AttributeValueFqn],
    answer: Mapping[str, Any],
    default: KeyRef | str,
    new_split_id: Callable[[], str] | None = None,
) -> list[SplitStep]:
    """The key access objects to write for these attribute values."""
    if new_split_id is None:
        import uuid

        def new_split_id() -> str:
            return str(uuid.uuid4())

    conjunction: list[tuple[KeyRef, ...]] = []
    for clause in clauses(fqns, answer):
        if clause.rule == ANY_OF:
            terms = [tuple(sorted(set(clause.keys)))] if clause.keys else []
        else:
            terms = [(k,) for k in clause.keys]
        for term in terms:
            if term not in conjunction:
                conjunction.append(term)
    total = sum(len(t) for t in conjunction)
    if total == 0:
        return [SplitStep(default if isinstance(default, KeyRef) else KeyRef(default))]
    steps: list[SplitStep] = []
    for term in conjunction:
        split_id = new_split_id() if total > 1 else ""
        steps.extend(SplitStep(key, split_id) for key in term)
    return steps
