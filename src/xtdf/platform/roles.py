"""What a caller's roles allow: the role policy every authenticated RPC passes through.

Authentication says who is calling; this says whether that caller may call this method at
all, before the handler runs. Like the Go platform, the decision is casbin's, over a
policy file (``roles_policy.csv``) in which policy writes are admin-only, reads, rewrap
and decisions are for standard clients, and any authenticated caller may rewrap (the KAS
then decides on entitlements). Roles come from the token (``realm_access.roles`` by
default); every caller also holds ``role:unknown``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from typing import Any

import casbin
from casbin.persist.adapters.string_adapter import StringAdapter

# casbin logs its whole model and policy at INFO on every enforcer it builds
logging.getLogger("casbin").setLevel(logging.WARNING)

#: the role every caller has, whatever its token says
DEFAULT_ROLE = "role:unknown"
#: where Keycloak (and our IdP) put a client's realm roles
DEFAULT_ROLES_CLAIM = "realm_access.roles"

_READ = ("List", "Get")
_WRITE = ("Create", "Update", "Assign")
_DELETE = ("Delete", "Remove", "Deactivate")
_HTTP_ACTIONS = {"GET": "read", "HEAD": "read", "POST": "write", "PUT": "write"}
_HTTP_ACTIONS |= {"PATCH": "write", "DELETE": "delete"}


def rpc_action(name: str) -> str:
    """The action a procedure name stands for, as the Go platform derives it."""
    if name.startswith(_READ):
        return "read"
    if name.startswith(_WRITE):
        return "write"
    if name.startswith(_DELETE):
        return "delete"
    if name.startswith("Unsafe"):
        return "unsafe"
    return "other"


def http_action(method: str) -> str:
    return _HTTP_ACTIONS.get(method.upper(), "unsafe")


def token_roles(claims: dict[str, Any], claim_path: str = DEFAULT_ROLES_CLAIM) -> list[str]:
    """The role names at ``claim_path`` (dot-separated) in verified claims; [] if absent or
    of the wrong type (a malformed claim gives no roles, never an error)."""
    value: Any = claims
    for part in claim_path.split("."):
        if not isinstance(value, dict):
            return []
        value = value.get(part)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [r for r in value if isinstance(r, str)]
    return []


def _default_text(name: str) -> str:
    return resources.files("xtdf.platform").joinpath(name).read_text(encoding="utf-8")


class RolePolicy:
    """One casbin enforcer over the built-in policy plus optional extra lines."""

    def __init__(self, extension: str = "", claim_path: str = DEFAULT_ROLES_CLAIM) -> None:
        model = casbin.Enforcer.new_model(text=_default_text("roles_model.conf"))
        lines = [_default_text("roles_policy.csv"), extension]
        policy = "\n".join(
            line.strip()
            for text in lines
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )
        self._enforcer = casbin.Enforcer(model, StringAdapter(policy))
        self.claim_path = claim_path
        # the policy does not change after start, so each (subjects, resource, action)
        # answer holds for the process: the rewrap path pays for casbin once
        self._decide = lru_cache(maxsize=4096)(self._decide_uncached)

    def _decide_uncached(self, subjects: tuple[str, ...], resource: str, action: str) -> bool:
        return any(self._enforcer.enforce(s, resource, action) for s in subjects)

    def subjects(self, claims: dict[str, Any]) -> tuple[str, ...]:
        return (*token_roles(claims, self.claim_path), DEFAULT_ROLE)

    def allows(self, claims: dict[str, Any], resource: str, action: str) -> bool:
        """Whether a caller with these verified claims may take ``action`` on ``resource``."""
        return self._decide(self.subjects(claims), resource, action)
