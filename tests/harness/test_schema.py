"""Our manifest schema against real manifests from other SDKs, and SCHEMA_FILE handling."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from xtdf.harness import schema


def _manifests(reference_dir: Path) -> list[dict]:
    return [
        json.loads(zipfile.ZipFile(f).read("0.manifest.json"))
        for f in sorted((reference_dir / "golden").glob("*.tdf"))
    ]


def test_independent_manifests_validate(reference_dir: Path) -> None:
    manifests = _manifests(reference_dir)
    assert len(manifests) == 3
    for m in manifests:
        schema.validate_manifest(m)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("encryptionInformation", "keyAccess"), []),
        (("encryptionInformation", "integrityInformation", "segmentHashAlg"), "MD5"),
        (("payload", "isEncrypted"), "yes"),
        (("encryptionInformation", "policy"), "not base64!"),
    ],
)
def test_broken_manifest_is_rejected_naming_the_field(
    reference_dir: Path, path: tuple[str, ...], value: object
) -> None:
    m = copy.deepcopy(_manifests(reference_dir)[0])
    node = m
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError) as err:
        schema.validate_manifest(m)
    assert path[-1] in "/".join(str(p) for p in err.value.absolute_path)


def test_schema_file_override(reference_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMA_FILE", str(reference_dir / "xtest-manifest.schema.json"))
    for m in _manifests(reference_dir):
        schema.validate_manifest(m)


def test_missing_schema_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEMA_FILE", str(tmp_path / "nope.json"))
    with pytest.raises(schema.SchemaFileError, match=r"SCHEMA_FILE=.*nope.json does not exist"):
        schema.validate_manifest({})


def test_schema_file_that_is_not_a_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": 12}')
    monkeypatch.setenv("SCHEMA_FILE", str(bad))
    with pytest.raises(schema.SchemaFileError, match="not a valid JSON Schema"):
        schema.validate_manifest({})
