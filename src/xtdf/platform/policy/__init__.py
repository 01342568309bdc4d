"""Policy: namespaces, attributes, the KAS registry and keys, subject mappings.

``methods(platform)`` returns the Connect methods of the four OpenTDF policy services
(:mod:`.service`). Storage is :class:`~.store.PolicyStore` (namespaces, definitions and
values), with its KAS registry (:mod:`.registry`) and subject mapping (:mod:`.subjects`)
parts; :mod:`.keys` is the API the KAS uses for its private keys.
"""

from __future__ import annotations

from typing import Any

from xtdf.platform.rpc import Method


def methods(platform: Any) -> list[Method]:
    from xtdf.platform.policy.service import methods as policy_methods

    return policy_methods(platform)
