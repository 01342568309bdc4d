"""Golden files: ciphertexts made long ago (or by other SDKs) must still decrypt.

Two sets: xtdf's own, made by ``golden/make_golden.py`` and committed with their test keys,
and the independent ones in ``../shared/reference/golden`` (Java SDK, Go key management),
wrapped with ``golden-r1`` from ``../shared/reference/extra-keys.json``. The keys are
imported into the platform's KAS as legacy keys once per run, shared by all workers.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from xtdf.harness import limits
from xtdf.harness.cells import require, require_container, skip_unless_in_focus
from xtdf.harness.ciphertexts import CipherTexts
from xtdf.harness.sdks import SDK
from xtdf.platform.admin import PolicyAdmin

HERE = Path(__file__).resolve().parent
OURS = HERE / "golden"
REFERENCE = HERE.parent.parent / "shared" / "reference"

OUR_GOLDENS = {
    "xtdf-4.2.2-rsa.tdf": ("ztdf", ["hexaflexible"]),
    "xtdf-4.3.0-rsa.tdf": ("ztdf", ["hexless"]),
    "xtdf-4.3.0-ec.tdf": ("ztdf-ecwrap", ["hexless"]),
    "xtdf-gmac.ntdf": ("nano", []),
}
REFERENCE_GOLDENS = {
    "small-java-4.3.0-e0f8caf.tdf": (bytes(5 * 1024), ["hexaflexible"]),
    "no-splitids-java.tdf": (bytes(5 * 1024), ["hexaflexible"]),
    "key-management-no-split-golden.tdf": (b"hello\n", ["hexless", "key_management"]),
}


def _import(admin: PolicyAdmin, kas: str, keys: list[dict[str, Any]]) -> list[str]:
    if kas == "default" and os.environ.get("XTDF_PLATFORM") == "go":
        # the Go platform's default KAS has no key management: the suite starts it with
        # these keys in its configuration (harness/go_platform.py, extra_keys)
        return [entry["kid"] for entry in keys]
    have = {k.get("key", {}).get("keyId") for k in admin.list_keys(kas)}
    done = []
    for entry in keys:
        if entry["kid"] not in have:
            admin.import_key(
                kas,
                entry["kid"],
                entry["alg"],
                entry["privateKey"],
                entry.get("cert"),
                legacy=True,
                # the Go platform takes only keys wrapped with its root key (OT_ROOT_KEY)
                wrapping_key=os.environ.get("OT_ROOT_KEY") or None,
            )
        done.append(entry["kid"])
    return done


@pytest.fixture(scope="session")
def golden_keys(admin: PolicyAdmin, ciphertexts: CipherTexts) -> dict[str, Any]:
    """Import the golden keys once per run (one worker does it; the others wait)."""

    def produce() -> dict[str, Any]:
        out: dict[str, Any] = {
            "ours": _import(
                admin, "default", json.loads((OURS / "xtdf-golden-keys.json").read_text())
            )
        }
        extra = REFERENCE / "extra-keys.json"
        if extra.is_file():
            keys = json.loads(extra.read_text())
            out["reference"] = {kas: _import(admin, kas, keys) for kas in ("default", "km2")}
        return out

    return ciphertexts.shared_value("golden-keys", {}, produce)  # type: ignore[return-value]


@pytest.mark.parametrize("name", sorted(OUR_GOLDENS))
def test_our_goldens(
    request: pytest.FixtureRequest,
    decrypt_sdk: SDK,
    name: str,
    tmp_dir: Path,
    in_focus: set[SDK],
    golden_keys: dict,
) -> None:
    skip_unless_in_focus(in_focus, decrypt_sdk)
    container, features = OUR_GOLDENS[name]
    require_container(decrypt_sdk, container)
    for feature in features:
        require(decrypt_sdk, feature)
    writer = SDK("py", "golden", OURS / "make_golden.py")  # who wrote them, for known limits
    limits.xfail_if_known(request, "roundtrip", writer, decrypt_sdk, container)
    rt = tmp_dir / f"{name}-{decrypt_sdk}.untdf"
    decrypt_sdk.decrypt(OURS / name, rt, container)
    assert rt.read_bytes() == (OURS / "xtdf-golden.txt").read_bytes()


@pytest.mark.parametrize("name", sorted(REFERENCE_GOLDENS))
def test_independent_goldens(
    decrypt_sdk: SDK, name: str, tmp_dir: Path, in_focus: set[SDK], golden_keys: dict
) -> None:
    skip_unless_in_focus(in_focus, decrypt_sdk)
    path = REFERENCE / "golden" / name
    if not path.is_file():
        pytest.skip(f"independent golden files not present at {path.parent}")
    expected, features = REFERENCE_GOLDENS[name]
    for feature in features:
        require(decrypt_sdk, feature)
    with zipfile.ZipFile(path) as z:
        has_assertions = bool(json.loads(z.read("0.manifest.json")).get("assertions"))
    rt = tmp_dir / f"{name}-{decrypt_sdk}.untdf"
    decrypt_sdk.decrypt(path, rt, "ztdf", verify_assertions=has_assertions)
    assert rt.read_bytes() == expected
