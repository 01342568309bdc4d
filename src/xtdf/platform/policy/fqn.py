"""Names and fully qualified names (FQNs) of policy objects, as the Go platform forms them.

Namespace ``https://<ns>``, definition ``https://<ns>/attr/<name>``, value
``https://<ns>/attr/<name>/value/<value>``; every part is stored and compared lower-cased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xtdf.platform.rpc import RpcError

#: a DNS-style namespace name, e.g. ``example.com``
NAMESPACE_RE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
#: attribute and value names: alphanumerics, ``_`` and ``-`` (not first or last)
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
VALUE_FQN_RE = re.compile(r"^https?://([^/]+)/attr/([^/]+)/value/([^/]+)$")
ATTR_FQN_RE = re.compile(r"^https?://([^/]+)/attr/([^/]+)$")
NS_FQN_RE = re.compile(r"^https?://([^/]+)$")


def namespace_fqn(name: str) -> str:
    return f"https://{name}"


def attribute_fqn(ns: str, name: str) -> str:
    return f"https://{ns}/attr/{name}"


def value_fqn(ns: str, attr: str, value: str) -> str:
    return f"https://{ns}/attr/{attr}/value/{value}"


@dataclass(frozen=True)
class ValueFqn:
    namespace: str
    attribute: str
    value: str

    @property
    def fqn(self) -> str:
        return value_fqn(self.namespace, self.attribute, self.value)

    @property
    def attribute_fqn(self) -> str:
        return attribute_fqn(self.namespace, self.attribute)


def parse_value_fqn(fqn: str) -> ValueFqn:
    """Split ``https://<ns>/attr/<name>/value/<value>``; names compare case-insensitively."""
    m = VALUE_FQN_RE.match(fqn.strip().lower())
    if not m:
        raise RpcError(
            "invalid_argument",
            f"fqns: {fqn!r} is not an attribute value FQN (https://<ns>/attr/<name>/value/<v>)",
        )
    return ValueFqn(*m.groups())


def check_name(field: str, name: str, pattern: re.Pattern[str] = NAME_RE) -> str:
    norm = name.strip().lower()
    if not norm or len(norm) > 253 or not pattern.match(norm):
        raise RpcError("invalid_argument", f"{field}: invalid name {name!r}")
    return norm
