"""Shared by test_abac and test_policytypes: encrypt with attributes, then check routing."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from xtdf.harness import limits, tamper
from xtdf.harness.abac import LAYOUT
from xtdf.harness.cells import select_target_mode
from xtdf.harness.ciphertexts import CipherTexts
from xtdf.harness.platform_env import PlatformEnv
from xtdf.harness.refusals import Refusal
from xtdf.harness.sdks import SDK

#: KAS instance -> the upstream test.env variable naming its URL
KAS_VARS = {
    "default": "KASURL",
    "value1": "KASURL1",
    "value2": "KASURL2",
    "attr": "KASURL3",
    "ns": "KASURL4",
    "km1": "KASURL5",
    "km2": "KASURL6",
}


def kas_origin(url: str) -> str:
    """A KAS URL without its ``/kas`` path: upstream's ``KASURL5``/``6`` name the origin
    of the key-management KASes, while the registry (and so the KAO) has ``/kas``."""
    url = url.rstrip("/")
    return url[: -len("/kas")] if url.endswith("/kas") else url


def fqns(attrs: list[tuple[str, str]]) -> list[str]:
    return [LAYOUT[name].fqn(value) for name, value in attrs]


def run_case(
    request: pytest.FixtureRequest,
    encrypt_sdk: SDK,
    decrypt_sdk: SDK,
    pt_file: Path,
    tmp_dir: Path,
    ciphertexts: CipherTexts,
    platform: PlatformEnv,
    case: str,
    attrs: list[tuple[str, str]],
    kases: set[str],
    permit: bool,
    splits: int,
    container: str = "ztdf",
    kids: set[str] | None = None,
) -> None:
    if permit:
        limits.xfail_if_known(request, "multi_kas", encrypt_sdk, decrypt_sdk, container)
    else:
        limits.skip_if_unusable("multi_kas", encrypt_sdk, decrypt_sdk, container)
    target = select_target_mode(encrypt_sdk, decrypt_sdk) if container.startswith("ztdf") else None
    ct = ciphertexts.encrypt(
        encrypt_sdk, pt_file, container, attr_values=fqns(attrs), target_mode=target
    )
    if container.startswith("ztdf"):
        kaos = tamper.manifest_of(ct)["encryptionInformation"]["keyAccess"]
        urls = {kas_origin(k["url"]) for k in kaos}
        want = {kas_origin(platform.variables[KAS_VARS[k]]) for k in kases}
        assert urls == want, f"{case}: key split to {sorted(urls)}, expected {sorted(want)}"
        assert len({k.get("sid", "") for k in kaos}) == splits, f"{case}: wrong split count"
        if kids is not None:
            got = {k.get("kid", "") for k in kaos}
            assert got == kids, f"{case}: wrapped for kids {sorted(got)}, expected {sorted(kids)}"
    rt = tmp_dir / f"{case}-{encrypt_sdk}-{decrypt_sdk}-{container}.untdf"
    if permit:
        decrypt_sdk.decrypt(ct, rt, container)
        assert filecmp.cmp(pt_file, rt, shallow=False)
    else:
        decrypt_sdk.decrypt(ct, rt, container, expect_error=Refusal.NOT_ENTITLED)
