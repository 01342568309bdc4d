"""Manifest validation against a JSON Schema: ours by default, ``SCHEMA_FILE`` to override.

Upstream points ``SCHEMA_FILE`` at its own schema; a path that does not exist is a
configuration mistake and is reported as one rather than as a failing TDF.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

DEFAULT_SCHEMA = Path(__file__).with_name("manifest.schema.json")


class SchemaFileError(Exception):
    """``SCHEMA_FILE`` names a file that is missing or not a JSON Schema."""


def schema_path() -> Path:
    override = os.environ.get("SCHEMA_FILE")
    if not override:
        return DEFAULT_SCHEMA
    path = Path(override)
    if not path.is_file():
        raise SchemaFileError(f"SCHEMA_FILE={override} does not exist")
    return path


@cache
def _validator(path: Path) -> jsonschema.protocols.Validator:
    try:
        schema = json.loads(path.read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (ValueError, jsonschema.SchemaError) as exc:
        raise SchemaFileError(f"{path} is not a valid JSON Schema: {exc}") from exc
    return cls(schema)


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` naming the first offending field."""
    _validator(schema_path()).validate(manifest)
