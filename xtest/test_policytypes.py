"""Policy types: OR (ANY_OF), AND (ALL_OF) and HIERARCHY, permitted and refused, in ZTDF;
and NanoTDF's policy modes (plaintext and encrypted embedded policies)."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from abac_cases import fqns, run_case
from xtdf.formats import nano
from xtdf.formats.nano import PolicyMode
from xtdf.harness import limits
from xtdf.harness.cells import require, require_container, skip_unless_in_focus
from xtdf.harness.ciphertexts import CipherTexts
from xtdf.harness.platform_env import PlatformEnv
from xtdf.harness.refusals import Refusal
from xtdf.harness.sdks import SDK

CASES = {
    "or-one-value": ([("letter", "alpha")], {"value1"}, True, 1),
    "or-two-values": ([("letter", "alpha"), ("letter", "beta")], {"value1", "value2"}, True, 1),
    "or-unentitled-value": ([("letter", "alpha"), ("letter", "gamma")], {"value1"}, True, 1),
    "and-all-entitled": ([("pair", "one"), ("pair", "two")], {"value1", "value2"}, True, 2),
    "and-one-missing": ([("pair", "one"), ("pair", "three")], {"value1", "value2"}, False, 2),
    "hierarchy-below": ([("level", "low")], {"value1"}, True, 1),
    "hierarchy-equal": ([("level", "mid")], {"value1"}, True, 1),
    "hierarchy-above": ([("level", "top")], {"value1"}, False, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_policy_types(
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


@pytest.mark.parametrize("policy_mode", ["plaintext", "encrypted"])
@pytest.mark.parametrize(
    ("attr", "permit"), [(("letter", "alpha"), True), (("level", "top"), False)]
)
def test_nano_policy_modes(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    policy_mode: str,
    attr: tuple[str, str],
    permit: bool,
    in_focus: set[SDK],
    ciphertexts: CipherTexts,
    abac_layout: dict,
) -> None:
    skip_unless_in_focus(in_focus, encrypt_sdk, decrypt_sdk)
    require_container(encrypt_sdk, "nano")
    require_container(decrypt_sdk, "nano")
    if policy_mode == "plaintext":
        require(encrypt_sdk, "nano_policymode_plaintext")
    limits.xfail_if_known(request, f"nano_policy:{policy_mode}", encrypt_sdk, decrypt_sdk, "nano")
    if permit:
        limits.xfail_if_known(request, "nano_policy", encrypt_sdk, decrypt_sdk, "nano")
    else:
        limits.skip_if_unusable("nano_policy", encrypt_sdk, decrypt_sdk, "nano")
    ct = ciphertexts.encrypt(
        encrypt_sdk, pt_file, "nano", attr_values=fqns([attr]), policy_mode=policy_mode
    )
    header, _ = nano.parse_header(ct.read_bytes())
    expected = {
        "plaintext": PolicyMode.EMBEDDED_PLAINTEXT,
        "encrypted": PolicyMode.EMBEDDED_ENCRYPTED,
    }[policy_mode]
    assert header.policy.mode is expected
    rt = tmp_dir / f"nano-{policy_mode}-{attr[1]}-{encrypt_sdk}-{decrypt_sdk}.untdf"
    if permit:
        decrypt_sdk.decrypt(ct, rt, "nano")
        assert filecmp.cmp(pt_file, rt, shallow=False)
    else:
        decrypt_sdk.decrypt(ct, rt, "nano", expect_error=Refusal.NOT_ENTITLED)
