"""Every encrypt option is part of the ciphertext cache key.

Upstream's in-memory cache keys by SDK and container only, so a cell asking for target
mode 4.2.2 can be handed the 4.3.0 file an earlier cell made. Here an SDK whose ``cli.sh``
writes the ``XT_WITH_*`` variables it was given into its output (a real process on the
cli.sh contract) encrypts through the shared cache with each option varied alone: every
cell must get a file made for exactly its own options, and the key must take every option
``SDK.encrypt`` has.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from xtdf.harness.cache import SharedCache
from xtdf.harness.ciphertexts import CipherTexts
from xtdf.harness.sdks import SDK

RECORDER = """#!/bin/sh
# encrypt SRC DST FMT: DST gets FMT, then the XT_WITH_* variables, sorted
[ "$1" = encrypt ] || exit 2
{ echo "fmt=$4"; env | grep '^XT_WITH_' | sort; } > "$3"
"""

#: each option with the values cells ask for (the first is the default)
VARIANTS: dict[str, list[Any]] = {
    "mime_type": ["", "text/plain", "application/pdf"],
    "attr_values": [None, ["https://e.com/attr/a/value/x"], ["https://e.com/attr/a/value/y"]],
    "assert_value": ["", '[{"id":"a1"}]', '[{"id":"a2"}]'],
    "policy_mode": ["encrypted", "plaintext"],
    "target_mode": [None, "4.2.2", "4.3.0"],
}
NOT_OPTIONS = {"self", "pt_file", "ct_file", "container", "expect_error"}


@pytest.fixture
def texts(tmp_path: Path) -> tuple[CipherTexts, SDK, Path]:
    dist = tmp_path / "sdk" / "rec" / "dist" / "1"
    dist.mkdir(parents=True)
    cli = dist / "cli.sh"
    cli.write_text(RECORDER)
    cli.chmod(0o755)
    pt = tmp_path / "pt.txt"
    pt.write_bytes(b"plaintext\n")
    cache = SharedCache(tmp_path / "cache", run_id="r")
    return CipherTexts(cache, "kas-keys", tmp_path / "private"), SDK("rec", "1", cli), pt


def test_the_key_takes_every_option_encrypt_has() -> None:
    encrypt = set(inspect.signature(SDK.encrypt).parameters) - NOT_OPTIONS
    key = set(inspect.signature(CipherTexts.key).parameters) - {"self", "sdk", "pt_file"}
    assert encrypt <= key | {"container"}, f"not in the cache key: {encrypt - key}"
    assert encrypt == set(VARIANTS), "add the new option's values to VARIANTS"


@pytest.mark.parametrize("container", ["ztdf", "nano"])
def test_each_option_varied_alone_gets_its_own_file(
    texts: tuple[CipherTexts, SDK, Path], container: str
) -> None:
    ct, sdk, pt = texts
    seen: dict[str, dict[str, Any]] = {}
    for option, values in VARIANTS.items():
        for value in values:
            options = {option: value}
            got = ct.encrypt(sdk, pt, container, **options).read_text()
            direct = pt.parent / "direct.out"
            sdk.encrypt(pt, direct, container=container, **options)
            assert got == direct.read_text(), f"{options} was served another cell's file"
            seen.setdefault(got, options)
    # the options that reach the SDK differently made distinct files (nano ignores the
    # target mode, as SDK.encrypt does not send it for nano)
    assert len(seen) == (10 if container == "ztdf" else 8)


def test_target_mode_after_another_target_mode_is_not_reused(
    texts: tuple[CipherTexts, SDK, Path],
) -> None:
    """Upstream's bug, as a sequence: 4.3.0 first, then 4.2.2, then no mode."""
    ct, sdk, pt = texts
    first = ct.encrypt(sdk, pt, "ztdf", target_mode="4.3.0").read_text()
    second = ct.encrypt(sdk, pt, "ztdf", target_mode="4.2.2").read_text()
    third = ct.encrypt(sdk, pt, "ztdf").read_text()
    assert "XT_WITH_TARGET_MODE=4.3.0" in first
    assert "XT_WITH_TARGET_MODE=4.2.2" in second
    assert "XT_WITH_TARGET_MODE" not in third
    assert ct.cache.stats.hits == 0
    again = ct.encrypt(sdk, pt, "ztdf", target_mode="4.2.2").read_text()
    assert again == second and ct.cache.stats.hits == 1
