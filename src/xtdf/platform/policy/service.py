"""The policy services over Connect, under OpenTDF's service and method names.

One ``*_rpc`` module per service registers its handlers; this module assembles them and
publishes the stored base key in the well-known configuration at startup.
"""

from __future__ import annotations

from typing import Any

from xtdf.platform.policy import (
    actions_rpc,
    attributes_rpc,
    kasregistry_rpc,
    keymanagement_rpc,
    namespaces_rpc,
    registeredresources_rpc,
    resourcemapping_rpc,
    subjectmapping_rpc,
    unsafe_rpc,
)
from xtdf.platform.policy.rpc_support import Registrar
from xtdf.platform.rpc import Method


def methods(platform: Any) -> list[Method]:
    reg = Registrar(platform)
    kasregistry_rpc.publish_base_key(platform, reg.store)
    for module in (
        namespaces_rpc,
        attributes_rpc,
        kasregistry_rpc,
        subjectmapping_rpc,
        actions_rpc,
        resourcemapping_rpc,
        registeredresources_rpc,
        keymanagement_rpc,
        unsafe_rpc,
    ):
        module.register(reg)
    return reg.methods
