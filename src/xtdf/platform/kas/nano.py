"""NanoTDF key access: the header carries the KAS key id, the client's ephemeral key and
the (possibly encrypted) policy with its binding."""

from __future__ import annotations

from dataclasses import dataclass

from xtdf.platform.kas.keyring import KeyRing
from xtdf.platform.kas.request import KaoRequest
from xtdf.platform.kas.unwrap import KaoFailure


@dataclass(frozen=True)
class NanoUnwrapped:
    share: bytes
    kid: str
    uuid: str
    attributes: list[str]


def unwrap(ring: KeyRing, instance: str, kao: KaoRequest) -> NanoUnwrapped:
    raise KaoFailure(
        "invalid_argument", "unsupported key type", "NanoTDF header support is not available"
    )
