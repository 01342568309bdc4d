"""Authorization: entitlements from token claims and access decisions.

The KAS calls it in-process for every policy it rewraps::

    from xtdf.platform.authz import Authorizer
    authz = Authorizer.for_platform(platform)
    d = authz.decide(claims, ["https://ex.com/attr/a/value/b"], action="read")
    if not d.permit: refuse(d.reason)

``action="read"`` is upstream's name for decrypt (the v2 KAS checks it); ``None`` accepts
a subject mapping with any action.

``methods(platform)`` serves the same engine as ``authorization.AuthorizationService``
(v1, :mod:`.service`) and ``authorization.v2.AuthorizationService`` (:mod:`.service_v2`).
"""

from __future__ import annotations

from typing import Any

from xtdf.platform.authz import service, service_v2
from xtdf.platform.authz.engine import Authorizer, Decision, decide
from xtdf.platform.rpc import Method

__all__ = ["Authorizer", "Decision", "decide", "methods"]


def methods(platform: Any) -> list[Method]:
    return service.methods(platform) + service_v2.methods(platform)
