"""The key access service (KAS): ``kas.AccessService`` for every KAS instance.

``methods(platform)`` gives each instance (``default`` under ``/kas`` on the platform port,
and one per extra KAS port) its default keys on first start (RSA-2048 ``r1``, P-256
``ec1``, kept by the policy key store) and returns the three RPCs. Which instance a call
reached is ``CallContext.instance``. :func:`service_for` returns the running service (its
audit log, its key ring) and :func:`import_extra_keys` loads upstream's ``extra-keys.json``
(as legacy keys by default, so that files wrapped with them decrypt whatever their kid).
"""

from __future__ import annotations

from xtdf.platform.kas.platform import import_extra_keys, methods, service_for

__all__ = ["import_extra_keys", "methods", "service_for"]
