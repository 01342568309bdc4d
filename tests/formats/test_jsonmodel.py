"""The manifest's declared JSON models: what they keep, what they refuse, and where."""

from __future__ import annotations

import json
from typing import Any

import pytest

from xtdf.errors import ManifestError
from xtdf.formats.ztdf.jsonmodel import FieldError
from xtdf.formats.ztdf.manifest import (
    KeyAccessObject,
    Manifest,
    PolicyBinding,
    Statement,
    parse_manifest,
)
from xtdf.formats.ztdf.policy import Policy


def _manifest_doc() -> dict:
    return {
        "encryptionInformation": {
            "type": "split",
            "policy": "e30=",
            "keyAccess": [
                {
                    "type": "wrapped",
                    "url": "http://kas",
                    "protocol": "kas",
                    "wrappedKey": "AAAA",
                    "policyBinding": {"alg": "HS256", "hash": "aGFzaA=="},
                    "x-vendor": {"kept": [1, 2]},
                }
            ],
            "method": {"algorithm": "AES-256-GCM", "iv": "", "isStreamable": True},
            "integrityInformation": {
                "rootSignature": {"alg": "HS256", "sig": "c2ln"},
                "segmentHashAlg": "GMAC",
                "segmentSizeDefault": 1048576,
                "encryptedSegmentSizeDefault": 1048604,
                "segments": [{"hash": "aA==", "segmentSize": 5, "encryptedSegmentSize": 33}],
            },
        },
        "payload": {"type": "reference", "url": "0.payload", "protocol": "zip"},
        "futureField": None,
    }


def test_round_trip_keeps_unknown_keys_and_adds_no_defaults() -> None:
    doc = _manifest_doc()
    manifest = parse_manifest(json.dumps(doc))
    # payload.mimeType and isEncrypted were absent: they read as defaults but are not written
    assert manifest.payload.mime_type == "application/octet-stream"
    assert manifest.to_dict() == doc
    kao = manifest.encryption_information.key_access[0]
    assert kao.extra == {"x-vendor": {"kept": [1, 2]}}
    assert isinstance(kao.policy_binding, PolicyBinding)


def test_string_policy_binding_and_null_lists() -> None:
    kao = KeyAccessObject.parse({"url": "u", "policyBinding": "b64hmac", "sid": None})
    assert kao.policy_binding == "b64hmac" and kao.binding_value() == "b64hmac"
    assert kao.split_id == ""
    policy = Policy.from_json({"uuid": "u1", "body": {"dataAttributes": None, "dissem": None}})
    assert policy.attributes == []


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (
            lambda d: d["encryptionInformation"].pop("policy"),
            "encryptionInformation.policy",
            "Field required",
        ),
        (
            lambda d: d["encryptionInformation"]["keyAccess"][0].update(url=7),
            "encryptionInformation.keyAccess[0].url",
            "valid string",
        ),
        (
            lambda d: d["encryptionInformation"]["integrityInformation"]["segments"][0].update(
                segmentSize="five"
            ),
            "encryptionInformation.integrityInformation.segments[0].segmentSize",
            "valid integer",
        ),
        (
            lambda d: d["encryptionInformation"]["integrityInformation"].update(
                segmentSizeDefault=1.5
            ),
            "encryptionInformation.integrityInformation.segmentSizeDefault",
            "valid integer",
        ),
        (
            lambda d: d["encryptionInformation"].update(keyAccess={}),
            "encryptionInformation.keyAccess",
            "valid list",
        ),
        (lambda d: d.update(payload=[]), "payload", "valid dictionary"),
        (lambda d: d["payload"].update(isEncrypted="no!"), "payload.isEncrypted", "valid boolean"),
    ],
)
def test_bad_field_is_named_with_its_path(edit: Any, where: str, message: str) -> None:
    doc = _manifest_doc()
    edit(doc)
    with pytest.raises(ManifestError) as exc:
        parse_manifest(json.dumps(doc))
    assert f"field {where}: " in str(exc.value)
    assert message in str(exc.value)


def test_policy_errors_name_the_policy() -> None:
    with pytest.raises(ManifestError, match=r"encryptionInformation.policy is not a policy"):
        Policy.from_b64("bm90IGpzb24=")  # "not json"
    with pytest.raises(ManifestError, match=r"field body.dataAttributes\[0\].attribute"):
        Policy.from_json({"body": {"dataAttributes": [{}]}})


def test_assignment_counts_as_set_and_copies_are_independent() -> None:
    statement = Statement(format="json")
    assert statement.to_dict(exclude_unset=True) == {"format": "json"}
    twin = statement.copy()
    twin.value = {"a": 1}
    assert twin.to_dict(exclude_unset=True) == {"format": "json", "value": {"a": 1}}
    assert statement.to_dict(exclude_unset=True) == {"format": "json"}
    assert twin != statement
    with pytest.raises(AttributeError):
        statement.not_a_field = 1  # type: ignore[attr-defined]


def test_exclude_none_and_constructor_by_key_or_attribute() -> None:
    a = KeyAccessObject(url="u", wrapped_key="k")
    b = KeyAccessObject(url="u", wrappedKey="k")
    assert a == b
    assert a.to_dict(exclude_none=True) == {
        "type": "wrapped",
        "url": "u",
        "protocol": "kas",
        "wrappedKey": "k",
    }
    with pytest.raises(TypeError, match="needs hash"):
        PolicyBinding(alg="HS256")


def test_not_an_object_at_the_top() -> None:
    with pytest.raises(FieldError) as exc:
        Manifest.parse([])
    assert exc.value.path == ()
    with pytest.raises(ManifestError, match="not a JSON object"):
        parse_manifest("[]")


def test_a_python_name_beside_its_json_key_is_kept_as_unknown() -> None:
    doc = {"type": "reference", "mimeType": "a/b", "mime_type": "t/x"}
    from xtdf.formats.ztdf.manifest import Payload

    payload = Payload.parse(doc)
    assert payload.mime_type == "a/b"
    assert payload.to_dict(exclude_unset=True) == doc


def test_lax_numbers_and_booleans_are_read_as_before() -> None:
    """Values pydantic's lax mode accepted in other SDKs' manifests still read."""
    doc = _manifest_doc()
    doc["encryptionInformation"]["integrityInformation"]["segments"][0]["segmentSize"] = "5"
    doc["encryptionInformation"]["method"]["isStreamable"] = "false"
    doc["payload"]["isEncrypted"] = 1
    manifest = parse_manifest(json.dumps(doc))
    assert manifest.integrity.segments[0].segment_size == 5
    assert manifest.encryption_information.method.is_streamable is False
    assert manifest.payload.is_encrypted is True
