"""ZTDF encrypt/decrypt round trips across sizes, modes, wraps and key splits."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xtdf.errors import KeyAccessError, KeyUnwrapError, UsageError
from xtdf.formats import ztdf
from xtdf.formats.ztdf import integrity
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper
from xtdf.formats.ztdf.policy import Policy

SEG = 1024  # small segments keep multi-segment cases fast


def seal(data: bytes, targets, **kw) -> bytes:
    out = io.BytesIO()
    ztdf.encrypt(io.BytesIO(data), out, key_access=targets, **kw)
    return out.getvalue()


def open_tdf(blob: bytes, unwrapper, **kw) -> bytes:
    out = io.BytesIO()
    ztdf.decrypt(io.BytesIO(blob), out, unwrapper=unwrapper, **kw)
    return out.getvalue()


def manifest_of(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return json.loads(z.read("0.manifest.json"))


@pytest.fixture
def rsa_target(ztdf_rsa_key):
    return KeyAccessTarget("https://kas.example/kas", ztdf_rsa_key.public_key(), kid="r1")


@pytest.fixture
def rsa_unwrapper(ztdf_rsa_key):
    return OfflineUnwrapper({"r1": ztdf_rsa_key})


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 17])
@pytest.mark.parametrize("mode", ["4.3.0", "4.2.2"])
def test_sizes_and_modes(size, mode, rsa_target, rsa_unwrapper):
    data = os.urandom(size)
    blob = seal(data, [rsa_target], segment_size=SEG, target_mode=mode)
    assert open_tdf(blob, rsa_unwrapper) == data
    m = manifest_of(blob)
    segs = m["encryptionInformation"]["integrityInformation"]["segments"]
    assert len(segs) == max(1, -(-size // SEG))
    assert sum(s["segmentSize"] for s in segs) == size
    assert all(s["encryptedSegmentSize"] == s["segmentSize"] + 28 for s in segs)


def test_4_3_0_layout_is_hexless(rsa_target):
    m = manifest_of(seal(b"abc", [rsa_target], target_mode="4.3.0"))
    assert m["schemaVersion"] == "4.3.0"
    info = m["encryptionInformation"]["integrityInformation"]
    assert len(base64.b64decode(info["segments"][0]["hash"])) == 16  # raw GMAC tag
    assert len(base64.b64decode(info["rootSignature"]["sig"])) == 32  # raw HMAC
    assert info["segmentHashAlg"] == "GMAC" and info["rootSignature"]["alg"] == "HS256"
    assert info["segmentSizeDefault"] == 2 * 1024 * 1024
    assert info["encryptedSegmentSizeDefault"] == 2 * 1024 * 1024 + 28


def test_4_2_2_layout_is_hexed_without_schema_version(rsa_target):
    m = manifest_of(seal(b"abc", [rsa_target], target_mode="4.2.2"))
    assert "schemaVersion" not in m
    info = m["encryptionInformation"]["integrityInformation"]
    seg_hash = base64.b64decode(info["segments"][0]["hash"])
    root = base64.b64decode(info["rootSignature"]["sig"])
    assert len(seg_hash) == 32 and bytes.fromhex(seg_hash.decode())
    assert len(root) == 64 and bytes.fromhex(root.decode())


def test_manifest_fields(rsa_target):
    policy = Policy.create(["https://example.com/attr/a/value/b"], dissem=["x@example.com"])
    m = manifest_of(
        seal(b"hi", [rsa_target], policy=policy, mime_type="text/plain", metadata="meta!")
    )
    payload = m["payload"]
    assert payload == {
        "type": "reference",
        "url": "0.payload",
        "protocol": "zip",
        "mimeType": "text/plain",
        "isEncrypted": True,
    }
    enc = m["encryptionInformation"]
    assert enc["type"] == "split"
    assert enc["method"]["algorithm"] == "AES-256-GCM" and enc["method"]["isStreamable"] is True
    body = json.loads(base64.b64decode(enc["policy"]))
    assert body["uuid"] == policy.uuid
    assert body["body"]["dataAttributes"] == [{"attribute": "https://example.com/attr/a/value/b"}]
    assert body["body"]["dissem"] == ["x@example.com"]
    kao = enc["keyAccess"][0]
    assert kao["type"] == "wrapped" and kao["protocol"] == "kas" and kao["kid"] == "r1"
    assert kao["url"] == "https://kas.example/kas" and kao["schemaVersion"] == "1.0"
    assert kao["policyBinding"]["alg"] == "HS256"
    meta = json.loads(base64.b64decode(kao["encryptedMetadata"]))
    assert set(meta) == {"ciphertext", "iv"}
    assert base64.b64decode(meta["ciphertext"])[:12] == base64.b64decode(meta["iv"])


def test_metadata_round_trip(rsa_target, rsa_unwrapper):
    out = io.BytesIO()
    blob = seal(b"x", [rsa_target], metadata="some metadata")
    result = ztdf.decrypt(io.BytesIO(blob), out, unwrapper=rsa_unwrapper)
    assert result.metadata == ["some metadata"] and result.size == 1


def test_zip_layout_payload_first_and_stored(rsa_target):
    blob = seal(os.urandom(3000), [rsa_target], segment_size=SEG)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert [i.filename for i in z.infolist()] == ["0.payload", "0.manifest.json"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        assert z.testzip() is None  # CRCs are right


def test_manifest_matches_upstream_schema(reference_dir, rsa_target):
    import jsonschema

    schema = json.loads((reference_dir / "xtest-manifest.schema.json").read_text())
    for mode in ("4.2.2", "4.3.0"):
        jsonschema.validate(manifest_of(seal(b"abc", [rsa_target], target_mode=mode)), schema)


@pytest.mark.parametrize("alg", ["GMAC", "HS256"])
def test_segment_hash_algorithms(alg, rsa_target, rsa_unwrapper):
    data = os.urandom(2 * SEG + 5)
    blob = seal(data, [rsa_target], segment_size=SEG, segment_hash_alg=alg)
    assert (
        manifest_of(blob)["encryptionInformation"]["integrityInformation"]["segmentHashAlg"] == alg
    )
    assert open_tdf(blob, rsa_unwrapper) == data


@pytest.mark.parametrize("curve", ["secp256r1", "secp384r1", "secp521r1"])
def test_ec_wrapped(curve, ztdf_ec_keys):
    key = ztdf_ec_keys[curve]
    blob = seal(b"ec data", [KeyAccessTarget("https://kas/ec", key.public_key(), kid="e1")])
    kao = manifest_of(blob)["encryptionInformation"]["keyAccess"][0]
    assert kao["type"] == "ec-wrapped"
    assert kao["ephemeralPublicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert open_tdf(blob, OfflineUnwrapper({"e1": key})) == b"ec data"


def test_paths_and_file_objects(tmp_path: Path, rsa_target, rsa_unwrapper):
    data = os.urandom(5000)
    src, tdf, back = tmp_path / "p.bin", tmp_path / "c.tdf", tmp_path / "b.bin"
    src.write_bytes(data)
    ztdf.encrypt(src, tdf, key_access=[rsa_target], segment_size=SEG)
    ztdf.decrypt(str(tdf), str(back), unwrapper=rsa_unwrapper)
    assert back.read_bytes() == data
    assert ztdf.read_manifest(tdf).encryption_information.key_access[0].kid == "r1"


class _Pipe(io.RawIOBase):
    """An unseekable source, like stdin: the writer cannot know the size up front."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(b), 700))
        b[: len(chunk)] = chunk
        return len(chunk)


def test_unseekable_source_uses_zip64(rsa_target, rsa_unwrapper):
    data = os.urandom(3 * SEG)
    out = io.BytesIO()
    ztdf.encrypt(_Pipe(data), out, key_access=[rsa_target], segment_size=SEG)
    assert _local_extra_ids(out.getvalue(), "0.payload") == [1]  # size unknown up front
    assert _eocd_directory_offset(out.getvalue()) == 0xFFFFFFFF
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert z.getinfo("0.payload").file_size == 3 * (SEG + 28)
        assert z.testzip() is None
    assert open_tdf(out.getvalue(), rsa_unwrapper) == data


def test_key_split_three_shares(ztdf_rsa_key, ztdf_ec_keys, ztdf_other_rsa_key):
    targets = [
        KeyAccessTarget("https://a/kas", ztdf_rsa_key.public_key(), "a", split_id="s1"),
        KeyAccessTarget("https://b/kas", ztdf_ec_keys["secp256r1"].public_key(), "b", "s2"),
        KeyAccessTarget("https://c/kas", ztdf_other_rsa_key.public_key(), "c", split_id="s3"),
    ]
    blob = seal(b"split secret", targets)
    kaos = manifest_of(blob)["encryptionInformation"]["keyAccess"]
    assert [k["sid"] for k in kaos] == ["s1", "s2", "s3"]
    shares = {k["policyBinding"]["hash"] for k in kaos}
    assert len(shares) == 3  # one share per split, so three different bindings
    everything = OfflineUnwrapper(
        {"a": ztdf_rsa_key, "b": ztdf_ec_keys["secp256r1"], "c": ztdf_other_rsa_key}
    )
    assert open_tdf(blob, everything) == b"split secret"
    # two of three shares are not enough; the error names the missing split
    partial = OfflineUnwrapper({"a": ztdf_rsa_key, "b": ztdf_ec_keys["secp256r1"]})
    with pytest.raises(KeyUnwrapError, match="split 's3'"):
        open_tdf(blob, partial)


def test_several_kaos_in_one_split_any_one_suffices(ztdf_rsa_key, ztdf_other_rsa_key):
    targets = [
        KeyAccessTarget("https://a/kas", ztdf_other_rsa_key.public_key(), "a", split_id="s"),
        KeyAccessTarget("https://b/kas", ztdf_rsa_key.public_key(), "b", split_id="s"),
    ]
    blob = seal(b"either", targets)
    only_b = OfflineUnwrapper({"b": ztdf_rsa_key})
    assert open_tdf(blob, only_b) == b"either"


def test_unwrapper_failures_are_reported_per_kao(rsa_target):
    blob = seal(b"x", [rsa_target, KeyAccessTarget("https://other", rsa_target.public_key)])

    def refuse(kao, manifest):
        if kao.url == "https://other":
            raise KeyAccessError("KAS unreachable")
        raise KeyUnwrapError("wrong key")

    with pytest.raises(KeyAccessError) as err:
        open_tdf(blob, refuse)
    msg = str(err.value)
    assert "keyAccess[0]" in msg and "wrong key" in msg
    assert "keyAccess[1]" in msg and "KAS unreachable" in msg


def test_writer_options_are_checked(rsa_target):
    with pytest.raises(UsageError, match="target mode"):
        seal(b"x", [rsa_target], target_mode="four")
    with pytest.raises(UsageError, match="segment size"):
        seal(b"x", [rsa_target], segment_size=0)
    with pytest.raises(UsageError, match="at least one"):
        seal(b"x", [])


def test_failed_encrypt_removes_only_its_own_output(tmp_path: Path, rsa_target):
    from xtdf.errors import FormatError
    from xtdf.formats.ztdf.assertions import AssertionConfig, AssertionKey
    from xtdf.formats.ztdf.manifest import Statement

    existing = tmp_path / "existing.tdf"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileNotFoundError):  # fails before opening dst: dst untouched
        ztdf.encrypt(tmp_path / "missing", existing, key_access=[rsa_target])
    assert existing.read_bytes() == b"keep me"
    src, dst = tmp_path / "plain", tmp_path / "out.tdf"
    src.write_bytes(b"data")
    bad = AssertionConfig("a", Statement(value="v"), signing_key=AssertionKey("RS256", b"junk"))
    with pytest.raises(FormatError):  # fails after the payload: the partial file goes
        ztdf.encrypt(src, dst, key_access=[rsa_target], assertions=[bad])
    assert not dst.exists()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=4 * 300),
    seg=st.integers(min_value=1, max_value=300),
    mode=st.sampled_from(["4.2.2", "4.3.0"]),
    alg=st.sampled_from([integrity.GMAC, integrity.HS256]),
)
def test_round_trip_property(data, seg, mode, alg, rsa_target, rsa_unwrapper):
    blob = seal(data, [rsa_target], segment_size=seg, target_mode=mode, segment_hash_alg=alg)
    assert open_tdf(blob, rsa_unwrapper) == data


def _local_extra_ids(blob: bytes, name: str) -> list[int]:
    import struct

    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        offset = z.getinfo(name).header_offset
    name_len, extra_len = struct.unpack_from("<2H", blob, offset + 26)
    extra = blob[offset + 30 + name_len : offset + 30 + name_len + extra_len]
    ids = []
    while extra:
        field_id, size = struct.unpack_from("<2H", extra)
        ids.append(field_id)
        extra = extra[4 + size :]
    return ids


def _eocd_directory_offset(blob: bytes) -> int:
    import struct

    assert blob[-22:-18] == b"PK\x05\x06"
    return struct.unpack_from("<L", blob, len(blob) - 6)[0]


def test_small_files_have_no_zip64(rsa_target):
    blob = seal(os.urandom(100), [rsa_target])
    assert _local_extra_ids(blob, "0.payload") == []
    assert b"PK\x06\x06" not in blob  # no ZIP64 end of central directory record
    assert _eocd_directory_offset(blob) < len(blob)


def test_zip64_structures_at_a_small_scale(monkeypatch, rsa_target, rsa_unwrapper):
    """Pretend the 4 GiB limit is 1000 bytes: sizes, offsets and the end record all take
    their ZIP64 forms, exactly as for a 5 GiB payload, and both readers still agree."""
    from xtdf.formats.ztdf import container, writer

    monkeypatch.setattr(container, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(writer, "ZIP64_LIMIT", 1000)
    data = os.urandom(3 * SEG)
    blob = seal(data, [rsa_target], segment_size=SEG)
    assert _local_extra_ids(blob, "0.payload") == [1]
    assert b"PK\x06\x06" in blob and b"PK\x06\x07" in blob
    assert _eocd_directory_offset(blob) == 0xFFFFFFFF  # what the Go and Java readers test
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert z.testzip() is None
        assert z.getinfo("0.payload").file_size == 3 * (SEG + 28)
        assert z.getinfo("0.manifest.json").header_offset > 1000
    assert open_tdf(blob, rsa_unwrapper) == data


def test_unzip_accepts_our_files(tmp_path: Path, rsa_target):
    import shutil
    import subprocess

    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("unzip is not installed")
    small = tmp_path / "small.tdf"
    small.write_bytes(seal(os.urandom(5000), [rsa_target], segment_size=SEG))
    piped = tmp_path / "piped.tdf"  # unknown input size: ZIP64 data descriptor
    out = io.BytesIO()
    ztdf.encrypt(_Pipe(os.urandom(5000)), out, key_access=[rsa_target], segment_size=SEG)
    piped.write_bytes(out.getvalue())
    for path in (small, piped):
        proc = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No errors detected" in proc.stdout


def _upstream_style_entries(blob: bytes) -> dict[str, tuple[int, int]]:
    """Locate entries the way the Go SDK's zipstream reader and the Java SDK's ZipReader
    do (opentdf/platform sdk/internal/zipstream/reader.go): ZIP64 only when the classic
    end record's directory offset is 0xFFFFFFFF, then the first extra field of each
    central header is taken as the ZIP64 one. Returns name -> (data offset, length)."""
    import struct

    magic = 0xFFFFFFFF
    eocd = len(blob) - 22
    count, _, cd_start = struct.unpack_from("<HLL", blob, eocd + 10)
    zip64 = cd_start == magic
    if zip64:
        locator = eocd - 20
        assert blob[locator : locator + 4] == b"PK\x06\x07"
        (record,) = struct.unpack_from("<Q", blob, locator + 8)
        assert blob[record : record + 4] == b"PK\x06\x06"
        count, cd_start = struct.unpack_from("<Q8xQ", blob, record + 32)
    out = {}
    pos = cd_start
    for _ in range(count):
        assert blob[pos : pos + 4] == b"PK\x01\x02"
        comp, uncomp, name_len, extra_len = struct.unpack_from("<LL2H", blob, pos + 20)
        (offset,) = struct.unpack_from("<L", blob, pos + 42)
        name = blob[pos + 46 : pos + 46 + name_len].decode()
        length = comp
        if zip64:
            extra = pos + 46 + name_len
            tag, _ = struct.unpack_from("<2H", blob, extra)
            field = extra + 4
            if tag == 1:  # 64-bit values follow for each 32-bit field set to the marker
                values = {"comp": comp, "uncomp": uncomp, "offset": offset}
                for key in ("comp", "uncomp", "offset"):
                    if values[key] == magic:
                        (values[key],) = struct.unpack_from("<Q", blob, field)
                        field += 8
                length, offset = values["comp"], values["offset"]
        assert blob[offset : offset + 4] == b"PK\x03\x04"
        lname, lextra = struct.unpack_from("<2H", blob, offset + 26)
        out[name] = (offset + 30 + lname + lextra, length)
        pos += 46 + name_len + extra_len
    return out


@pytest.mark.parametrize("limit", [None, 1000])
@pytest.mark.parametrize("piped", [False, True])
def test_upstream_readers_find_the_entries(monkeypatch, rsa_target, limit, piped):
    from xtdf.formats.ztdf import container, writer

    if limit is not None:
        monkeypatch.setattr(container, "ZIP64_LIMIT", limit)
        monkeypatch.setattr(writer, "ZIP64_LIMIT", limit)
    data = os.urandom(3 * SEG + 7)
    out = io.BytesIO()
    src = _Pipe(data) if piped else io.BytesIO(data)
    ztdf.encrypt(src, out, key_access=[rsa_target], segment_size=SEG)
    blob = out.getvalue()
    found = _upstream_style_entries(blob)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        for name in ("0.payload", "0.manifest.json"):
            start, length = found[name]
            assert blob[start : start + length] == z.read(name)
