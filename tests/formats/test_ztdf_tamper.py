"""Every ZTDF integrity mechanism catches its own kind of tampering, with its own error."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xtdf.crypto.encoding import b64encode
from xtdf.crypto.symmetric import hmac_sha256
from xtdf.errors import (
    AssertionSignatureError,
    FormatError,
    IntegrityError,
    KeyUnwrapError,
    ManifestError,
    MissingEntryError,
    NotAZipError,
    PolicyBindingError,
    RootSignatureError,
    SegmentIntegrityError,
    UnknownKeyAccessTypeError,
)
from xtdf.formats import ztdf
from xtdf.formats.ztdf.assertions import AssertionConfig, AssertionKey
from xtdf.formats.ztdf.keyaccess import KeyAccessTarget, OfflineUnwrapper
from xtdf.formats.ztdf.manifest import Statement, parse_manifest
from xtdf.formats.ztdf.reader import rebuild_key

SEG = 64
DATA = bytes(range(256)) * 2  # 512 bytes: 8 segments of 64


@pytest.fixture(params=["4.3.0", "4.2.2"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def unwrapper(ztdf_rsa_key) -> OfflineUnwrapper:
    return OfflineUnwrapper({"r1": ztdf_rsa_key})


@pytest.fixture
def blob(ztdf_rsa_key, mode) -> bytes:
    out = io.BytesIO()
    ztdf.encrypt(
        io.BytesIO(DATA),
        out,
        key_access=[KeyAccessTarget("https://kas/kas", ztdf_rsa_key.public_key(), "r1")],
        segment_size=SEG,
        target_mode=mode,
        assertions=[
            AssertionConfig(
                id="a1", statement=Statement(format="string", schema_="s", value="handle")
            )
        ],
    )
    return out.getvalue()


def entries(blob: bytes) -> tuple[dict[str, Any], bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return json.loads(z.read("0.manifest.json")), z.read("0.payload")


def rebuild(
    blob: bytes,
    manifest: Callable[[dict[str, Any]], Any] | None = None,
    payload: Callable[[bytes], bytes] | None = None,
    names: tuple[str, ...] = ("0.payload", "0.manifest.json"),
) -> bytes:
    m, p = entries(blob)
    if manifest is not None:
        manifest(m)
    if payload is not None:
        p = payload(p)
    content = {"0.payload": p, "0.manifest.json": json.dumps(m).encode()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            z.writestr(name, content.get(name, b"{}"))
    return out.getvalue()


def decrypt(blob: bytes, unwrapper, **kw) -> bytes:
    out = io.BytesIO()
    ztdf.decrypt(io.BytesIO(blob), out, unwrapper=unwrapper, **kw)
    return out.getvalue()


def expect(exc_type: type[Exception], blob: bytes, unwrapper, match: str | None = None, **kw):
    with pytest.raises(exc_type, match=match) as err:
        decrypt(blob, unwrapper, **kw)
    assert type(err.value) is exc_type, f"{type(err.value).__name__}: {err.value}"
    return err.value


def dek_of(blob: bytes, unwrapper) -> bytes:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        manifest = parse_manifest(z.read("0.manifest.json"))
    return rebuild_key(manifest, unwrapper)[0]


def integrity_of(m: dict[str, Any]) -> dict[str, Any]:
    return m["encryptionInformation"]["integrityInformation"]


def test_untampered_decrypts(blob, unwrapper):
    assert decrypt(blob, unwrapper) == DATA
    assert decrypt(rebuild(blob), unwrapper) == DATA  # our rebuild helper changes nothing


def test_policy_edited(blob, unwrapper):
    def edit(m):
        pol = json.loads(base64.b64decode(m["encryptionInformation"]["policy"]))
        pol["body"]["dissem"] = ["mallory@example.com"]
        m["encryptionInformation"]["policy"] = b64encode(json.dumps(pol).encode())

    expect(PolicyBindingError, rebuild(blob, edit), unwrapper, "policy binding")


def test_policy_binding_edited(blob, unwrapper):
    def edit(m):
        m["encryptionInformation"]["keyAccess"][0]["policyBinding"]["hash"] = b64encode(
            os.urandom(32).hex().encode()
        )

    expect(PolicyBindingError, rebuild(blob, edit), unwrapper, "policy binding")


@pytest.mark.parametrize("offset", [12, 30, SEG + 27])  # iv, ciphertext, tag of segment 2
def test_payload_byte_flipped_names_the_segment(blob, unwrapper, offset):
    start = 2 * (SEG + 28)

    def flip(p: bytes) -> bytes:
        b = bytearray(p)
        b[start + offset] ^= 0x01
        return bytes(b)

    err = expect(SegmentIntegrityError, rebuild(blob, payload=flip), unwrapper, "segment 2 ")
    assert err.index == 2  # type: ignore[attr-defined]


def test_flip_with_hs256_segment_hash(ztdf_rsa_key, unwrapper):
    out = io.BytesIO()
    target = KeyAccessTarget("https://kas/kas", ztdf_rsa_key.public_key(), "r1")
    ztdf.encrypt(
        io.BytesIO(DATA), out, key_access=[target], segment_size=SEG, segment_hash_alg="HS256"
    )

    def flip(p: bytes) -> bytes:
        b = bytearray(p)
        b[5 * (SEG + 28) + 40] ^= 0x80
        return bytes(b)

    expect(
        SegmentIntegrityError, rebuild(out.getvalue(), payload=flip), unwrapper, "segment 5 .*HS256"
    )


def test_segment_hash_edited_breaks_the_root_signature(blob, unwrapper):
    def edit(m):
        seg = integrity_of(m)["segments"][3]
        raw = bytearray(base64.b64decode(seg["hash"]))
        raw[0] ^= 1
        seg["hash"] = b64encode(bytes(raw))

    expect(RootSignatureError, rebuild(blob, edit), unwrapper, "root signature")


def test_segment_hash_edited_and_root_re_signed_is_caught_per_segment(blob, unwrapper):
    """An attacker holding the DEK re-signs the root: the segment hash check still fires."""
    dek = dek_of(blob, unwrapper)

    def edit(m):
        segs = integrity_of(m)["segments"]
        raw = bytearray(base64.b64decode(segs[3]["hash"]))
        raw[-1] ^= 1
        segs[3]["hash"] = b64encode(bytes(raw))
        aggregate = b"".join(base64.b64decode(s["hash"]) for s in segs)
        root = hmac_sha256(dek, aggregate)
        hexed = len(raw) == 32  # GMAC tag spelled in hex
        integrity_of(m)["rootSignature"]["sig"] = b64encode(root.hex().encode() if hexed else root)

    expect(
        SegmentIntegrityError,
        rebuild(blob, edit),
        unwrapper,
        "segment 3 .*hash",
        verify_assertions=False,
    )


def test_root_signature_edited(blob, unwrapper):
    def edit(m):
        integrity_of(m)["rootSignature"]["sig"] = b64encode(os.urandom(32))

    expect(RootSignatureError, rebuild(blob, edit), unwrapper)


def test_segments_reordered_in_payload(blob, unwrapper):
    n = SEG + 28

    def swap(p: bytes) -> bytes:
        return p[n : 2 * n] + p[:n] + p[2 * n :]

    expect(SegmentIntegrityError, rebuild(blob, payload=swap), unwrapper, "segment 0 ")


def test_segments_reordered_in_manifest(blob, unwrapper):
    def swap(m):
        segs = integrity_of(m)["segments"]
        segs[0], segs[1] = segs[1], segs[0]

    expect(RootSignatureError, rebuild(blob, swap), unwrapper)


def test_segment_removed_everywhere(blob, unwrapper):
    n = SEG + 28

    def drop_manifest(m):
        del integrity_of(m)["segments"][4]

    def drop_payload(p: bytes) -> bytes:
        return p[: 4 * n] + p[5 * n :]

    tampered = rebuild(blob, drop_manifest, drop_payload)
    expect(RootSignatureError, tampered, unwrapper)


def test_truncated_payload(blob, unwrapper):
    err = expect(
        SegmentIntegrityError, rebuild(blob, payload=lambda p: p[:-10]), unwrapper, "truncated"
    )
    assert err.index == 7  # type: ignore[attr-defined]


def test_trailing_payload_bytes(blob, unwrapper):
    expect(
        IntegrityError, rebuild(blob, payload=lambda p: p + b"junk"), unwrapper, "after the last"
    )


def test_segment_size_edited(blob, unwrapper):
    def edit(m):
        integrity_of(m)["segments"][1]["segmentSize"] = SEG + 1

    expect(SegmentIntegrityError, rebuild(blob, edit), unwrapper, "segment 1 ")


def test_assertion_statement_edited(blob, unwrapper):
    def edit(m):
        m["assertions"][0]["statement"]["value"] = "handle carelessly"

    expect(AssertionSignatureError, rebuild(blob, edit), unwrapper, "statement altered")
    assert decrypt(rebuild(blob, edit), unwrapper, verify_assertions=False) == DATA


def test_assertion_binding_removed(blob, unwrapper):
    def edit(m):
        del m["assertions"][0]["binding"]

    expect(AssertionSignatureError, rebuild(blob, edit), unwrapper, "no binding")


def test_assertion_re_signed_with_wrong_key(blob, unwrapper, ztdf_rsa_key, mode):
    """Copy the assertion onto a payload signed with another key: the JWS no longer verifies."""
    m, _ = entries(blob)
    aggregate = b"".join(base64.b64decode(s["hash"]) for s in integrity_of(m)["segments"])
    from xtdf.formats.ztdf.assertions import sign_assertion

    forged = sign_assertion(
        AssertionConfig(id="a1", statement=Statement(format="string", schema_="s", value="handle")),
        aggregate,
        mode == "4.2.2",
        os.urandom(32),
    )

    def edit(m):
        m["assertions"][0]["binding"]["signature"] = forged.binding.signature  # type: ignore[union-attr]

    expect(AssertionSignatureError, rebuild(blob, edit), unwrapper, "does not verify")


def test_assertion_moved_to_another_tdf(blob, unwrapper, ztdf_rsa_key):
    """Same DEK, other payload: the JWS verifies but assertionSig binds the old segments."""
    dek = dek_of(blob, unwrapper)

    def edit(m):
        from xtdf.formats.ztdf.assertions import sign_assertion

        forged = sign_assertion(
            AssertionConfig(
                id="a1", statement=Statement(format="string", schema_="s", value="handle")
            ),
            b"other segments",
            True,
            dek,
        )
        m["assertions"][0]["binding"]["signature"] = forged.binding.signature  # type: ignore[union-attr]

    expect(AssertionSignatureError, rebuild(blob, edit), unwrapper, "does not bind")


def test_assertion_with_rs256_needs_the_right_key(ztdf_rsa_key, ztdf_other_rsa_key, unwrapper):
    out = io.BytesIO()
    target = KeyAccessTarget("https://kas/kas", ztdf_rsa_key.public_key(), "r1")
    cfg = AssertionConfig(
        id="rs",
        statement=Statement(format="string", value="v"),
        signing_key=AssertionKey("RS256", ztdf_other_rsa_key),
    )
    ztdf.encrypt(io.BytesIO(b"x"), out, key_access=[target], assertions=[cfg])
    expect(AssertionSignatureError, out.getvalue(), unwrapper, "does not verify")


def test_wrapped_key_corrupted(blob, unwrapper):
    def edit(m):
        raw = bytearray(base64.b64decode(m["encryptionInformation"]["keyAccess"][0]["wrappedKey"]))
        raw[10] ^= 0xFF
        m["encryptionInformation"]["keyAccess"][0]["wrappedKey"] = b64encode(bytes(raw))

    expect(KeyUnwrapError, rebuild(blob, edit), unwrapper, "split ''")


def test_unknown_kao_type(blob, unwrapper):
    def edit(m):
        m["encryptionInformation"]["keyAccess"][0]["type"] = "quantum-wrapped"

    expect(UnknownKeyAccessTypeError, rebuild(blob, edit), unwrapper, "quantum-wrapped")


def test_bad_base64_names_the_field(blob, unwrapper):
    def kao(m):
        m["encryptionInformation"]["keyAccess"][0]["wrappedKey"] = "not*base64"

    def seg(m):
        integrity_of(m)["segments"][2]["hash"] = "%%%"

    expect(FormatError, rebuild(blob, kao), unwrapper, r"keyAccess\[0\].wrappedKey")
    expect(FormatError, rebuild(blob, seg), unwrapper, r"segments\[2\].hash")


def test_manifest_missing(blob, unwrapper):
    expect(MissingEntryError, rebuild(blob, names=("0.payload",)), unwrapper, "0.manifest.json")


def test_payload_missing(blob, unwrapper):
    expect(MissingEntryError, rebuild(blob, names=("0.manifest.json",)), unwrapper, "0.payload")


def test_manifest_not_json_or_missing_fields(blob, unwrapper):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("0.payload", b"")
        z.writestr("0.manifest.json", b"{not json")
    expect(ManifestError, out.getvalue(), unwrapper, "not valid JSON")

    def drop(m):
        del integrity_of(m)["rootSignature"]

    expect(ManifestError, rebuild(blob, drop), unwrapper, "rootSignature")


def test_not_a_zip(unwrapper):
    expect(NotAZipError, b"this is plainly not a zip archive", unwrapper, "not a zip")


def test_truncated_file(blob, unwrapper):
    expect(NotAZipError, blob[: len(blob) // 2], unwrapper)


def test_nothing_written_before_root_check(tmp_path: Path, blob, unwrapper):
    def edit(m):
        integrity_of(m)["rootSignature"]["sig"] = b64encode(os.urandom(32))

    src, dst = tmp_path / "bad.tdf", tmp_path / "out.bin"
    src.write_bytes(rebuild(blob, edit))
    with pytest.raises(RootSignatureError):
        ztdf.decrypt(src, dst, unwrapper=unwrapper)
    assert not dst.exists()


def test_only_verified_segments_are_written(tmp_path: Path, blob, unwrapper):
    def flip(p: bytes) -> bytes:
        b = bytearray(p)
        b[3 * (SEG + 28) + 20] ^= 1
        return bytes(b)

    bad = rebuild(blob, payload=flip)
    out = io.BytesIO()
    with pytest.raises(SegmentIntegrityError):
        ztdf.decrypt(io.BytesIO(bad), out, unwrapper=unwrapper)
    assert out.getvalue() == DATA[: 3 * SEG]
    src, dst = tmp_path / "bad.tdf", tmp_path / "out.bin"
    src.write_bytes(bad)
    with pytest.raises(SegmentIntegrityError):
        ztdf.decrypt(src, dst, unwrapper=unwrapper)
    assert not dst.exists()  # a path output is removed when a later segment fails


def test_huge_declared_segment_is_refused_before_allocating(blob, unwrapper):
    from xtdf.errors import UnsupportedError

    def edit(m):
        info = integrity_of(m)
        info["segments"] = [{"hash": info["segments"][0]["hash"], "segmentSize": 1 << 40,
                             "encryptedSegmentSize": (1 << 40) + 28}]  # fmt: skip

    expect(UnsupportedError, rebuild(blob, edit), unwrapper, "segment 0 ")


def test_deflated_entries_still_read(blob, unwrapper):
    """No SDK compresses, but a zip tool re-packing the file might: still readable."""
    m, p = entries(blob)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("0.manifest.json", json.dumps(m))  # manifest first, as Java writes
        z.writestr("0.payload", p)
    assert decrypt(out.getvalue(), unwrapper) == DATA
