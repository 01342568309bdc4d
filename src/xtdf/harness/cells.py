"""Deciding whether a matrix cell runs: focus and what each SDK claims to support."""

from __future__ import annotations

import pytest

from xtdf.harness.sdks import SDK

#: what each container needs an SDK to claim, on both sides of a cell
CONTAINER_FEATURES = {
    "ztdf": None,
    "ztdf-ecwrap": "ecwrap",
    "nano": "nano",
    "nano-with-ecdsa": "nano_ecdsa",
}


def skip_unless_in_focus(in_focus: set[SDK], *sdks: SDK) -> None:
    if not in_focus.intersection(sdks):
        pytest.skip("no SDK of this cell is in --focus")


def require_container(sdk: SDK, container: str) -> None:
    """Skip when an SDK says it lacks a container's feature.

    An SDK that answers "unknown" (2) for ``nano`` predates that probe; upstream's SDKs all
    read NanoTDF, so only an explicit "no" skips.
    """
    feature = CONTAINER_FEATURES[container]
    if feature is None:
        return
    answer = sdk.answer(feature)
    if answer == 1 or (answer == 2 and feature != "nano"):
        pytest.skip(f"{sdk} does not support {feature} (needed for {container})")


def require(sdk: SDK, feature: str) -> None:
    if not sdk.supports(feature):
        pytest.skip(f"{sdk} does not support {feature}")


def select_target_mode(encrypt_sdk: SDK, decrypt_sdk: SDK) -> str:
    """The newest manifest layout both sides speak, as upstream's suite chooses it:
    4.3.0 (hexless) when the encryptor can write it and the decryptor can read it."""
    if encrypt_sdk.supports("hexless") and decrypt_sdk.supports("hexless"):
        return "4.3.0"
    return "4.2.2"
