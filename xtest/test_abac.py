"""ABAC key routing: grants at value, attribute and namespace level split the key across
the KAS instances, and each KAS releases its share only to an entitled client."""

from __future__ import annotations

from pathlib import Path

import pytest

from abac_cases import run_case
from xtdf.harness.cells import require, skip_unless_in_focus
from xtdf.harness.ciphertexts import CipherTexts
from xtdf.harness.platform_env import PlatformEnv
from xtdf.harness.sdks import SDK

CASES = {
    # case: (attributes, KAS instances holding a share, decrypt permitted, number of splits)
    "value-grant": ([("letter", "alpha")], {"value1"}, True, 1),
    "value-grants-two-kas": ([("pair", "one"), ("pair", "two")], {"value1", "value2"}, True, 2),
    "attribute-grant": ([("attrgrant", "x")], {"attr"}, True, 1),
    "namespace-grant": ([("nsgrant", "y")], {"ns"}, True, 1),
    "not-entitled": ([("letter", "gamma")], {"value1"}, False, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_key_routing_and_entitlement(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    case: str,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
    platform: PlatformEnv,
    abac_layout: dict,
) -> None:
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require(encrypt_sdk, "autoconfigure")
    if case == "namespace-grant":
        require(encrypt_sdk, "ns_grants")
    attrs, kases, permit, splits = CASES[case]
    run_case(
        request,
        encrypt_sdk,
        decrypt_sdk,
        pt_file,
        tmp_dir,
        ciphertexts,
        platform,
        case,
        attrs,
        kases,
        permit,
        splits,
    )
