"""Files from independent SDKs (../shared/reference/golden) decrypt and describe offline."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from xtdf.errors import AssertionSignatureError, KeyUnwrapError
from xtdf.formats import ztdf
from xtdf.formats.inspect import describe
from xtdf.formats.ztdf.keyaccess import OfflineUnwrapper
from xtdf.formats.ztdf.manifest import parse_manifest

ZEROS = bytes(5 * 1024)
GOLDENS = {
    "small-java-4.3.0-e0f8caf.tdf": ZEROS,
    "no-splitids-java.tdf": ZEROS,
    "key-management-no-split-golden.tdf": b"hello\n",
}


def golden(reference_dir: Path, name: str) -> Path:
    path = reference_dir / "golden" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden_decrypts_offline(reference_dir, golden_key, name):
    out = io.BytesIO()
    result = ztdf.decrypt(
        golden(reference_dir, name), out, unwrapper=OfflineUnwrapper({"golden-r1": golden_key})
    )
    assert out.getvalue() == GOLDENS[name]
    assert result.size == len(GOLDENS[name])


def test_empty_kid_falls_back_to_the_keys_we_hold(reference_dir, golden_key):
    path = golden(reference_dir, "key-management-no-split-golden.tdf")
    assert ztdf.read_manifest(path).encryption_information.key_access[0].kid == ""
    out = io.BytesIO()
    ztdf.decrypt(path, out, unwrapper=OfflineUnwrapper({"some-other-name": golden_key}))
    assert out.getvalue() == b"hello\n"


def test_no_splitids_tries_every_kao(reference_dir, golden_key):
    """Two of its three KAOs wrap junk; the reader must get past them to the good one."""
    path = golden(reference_dir, "no-splitids-java.tdf")
    kaos = ztdf.read_manifest(path).encryption_information.key_access
    assert len(kaos) == 3 and {k.split_id for k in kaos} == {""}
    tried = []
    inner = OfflineUnwrapper({"golden-r1": golden_key})

    def recording(kao, manifest):
        tried.append(kao.url)
        return inner(kao, manifest)

    out = io.BytesIO()
    ztdf.decrypt(path, out, unwrapper=recording)
    assert out.getvalue() == ZEROS
    assert tried == [kaos[0].url, kaos[1].url]  # stops at the first that works


def test_golden_without_the_key(reference_dir, ztdf_rsa_key):
    path = golden(reference_dir, "small-java-4.3.0-e0f8caf.tdf")
    with pytest.raises(KeyUnwrapError, match="split ''"):
        ztdf.decrypt(path, io.BytesIO(), unwrapper=OfflineUnwrapper({"golden-r1": ztdf_rsa_key}))


def test_golden_assertion_verifies_with_the_dek_and_detects_edits(
    reference_dir, golden_key, tmp_path
):
    path = golden(reference_dir, "no-splitids-java.tdf")
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("0.manifest.json"))
        payload = z.read("0.payload")
    manifest["assertions"][0]["statement"]["value"] = '{"ocl":"2099-01-01T00:00:00Z"}'
    edited = tmp_path / "edited.tdf"
    with zipfile.ZipFile(edited, "w") as z:
        z.writestr("0.payload", payload)
        z.writestr("0.manifest.json", json.dumps(manifest))
    unwrapper = OfflineUnwrapper({"golden-r1": golden_key})
    with pytest.raises(AssertionSignatureError, match="assertion1"):
        ztdf.decrypt(edited, io.BytesIO(), unwrapper=unwrapper)
    out = io.BytesIO()
    ztdf.decrypt(edited, out, unwrapper=unwrapper, verify_assertions=False)
    assert out.getvalue() == ZEROS


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_manifest_re_serialises_losslessly(reference_dir, name):
    with zipfile.ZipFile(golden(reference_dir, name)) as z:
        raw = json.loads(z.read("0.manifest.json"))
    assert parse_manifest(json.dumps(raw)).to_dict() == raw


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_describe_golden(reference_dir, name):
    info = describe(golden(reference_dir, name))
    assert info["format"] == "ztdf"
    assert info["plaintextSize"] == len(GOLDENS[name])
    # small-java-4.3.0 is hex-encoded despite its name (and has no schemaVersion)
    hexed = name != "key-management-no-split-golden.tdf"
    assert info["hashEncoding"] == ("hex" if hexed else "raw")
    assert "uuid" in info["policy"] and "body" in info["policy"]
    assert info["manifest"]["encryptionInformation"]["keyAccess"]
    json.dumps(info)  # JSON-ready
