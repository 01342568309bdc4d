"""ABAC key routing: grants at value, attribute and namespace level split the key across
the KAS instances, and each KAS releases its share only to an entitled client."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from abac_cases import kas_origin, run_case
from xtdf.harness import limits, tamper
from xtdf.harness.abac import BASE_KEY
from xtdf.harness.cells import require, select_target_mode, skip_unless_in_focus
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


KEY_CASES = {
    # case: (attributes, KAS instances, decrypt permitted, splits, kids in the KAOs)
    "managed-key": ([("managed", "m1")], {"km1"}, True, 1, {"xt-km1-r1"}),
    "managed-key-not-entitled": ([("managed", "m2")], {"km1"}, False, 1, {"xt-km1-r1"}),
    "two-kids-one-kas": (
        [("kids", "k1"), ("kids", "k2")],
        {"km2"},
        True,
        2,
        {"xt-km2-r1", "xt-km2-r2"},
    ),
}


@pytest.mark.parametrize("case", sorted(KEY_CASES))
def test_mapped_keys(
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
    """Key management: values mapped to managed keys (made by the platform, wrapped by its
    root key) route to exactly those keys, two kids of one KAS split the key between them,
    and the KAS releases a managed key's share only to an entitled client."""
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require(encrypt_sdk, "autoconfigure")
    require(encrypt_sdk, "key_management")
    attrs, kases, permit, splits, kids = KEY_CASES[case]
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
        kids=kids,
    )


def test_base_key(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    in_focus: set[SDK],
) -> None:
    """With a base key set, a file without attributes is wrapped for that key (its KAS and
    kid, not the KAS's default key), and every SDK decrypts it."""
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require(encrypt_sdk, "key_management")
    limits.xfail_if_known(request, "roundtrip", encrypt_sdk, decrypt_sdk, "ztdf")
    # asked for here, not as an argument, so cells skipped above start no second platform
    env, base_cts = request.getfixturevalue("base_key_platform")
    for name, value in env.variables.items():
        monkeypatch.setenv(name, value)
    target = select_target_mode(encrypt_sdk, decrypt_sdk)
    ct = base_cts.encrypt(encrypt_sdk, pt_file, "ztdf", target_mode=target)
    (kao,) = tamper.manifest_of(ct)["encryptionInformation"]["keyAccess"]
    got = (kas_origin(kao["url"]), kao.get("kid"))
    assert got == (kas_origin(env.variables["KASURL"]), BASE_KEY.kid), f"wrapped for {got}"
    rt = tmp_dir / f"base-key-{encrypt_sdk}-{decrypt_sdk}.untdf"
    decrypt_sdk.decrypt(ct, rt, "ztdf")
    assert filecmp.cmp(pt_file, rt, shallow=False)
