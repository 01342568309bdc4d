"""Pydantic models of ``0.manifest.json`` (field names as the Go SDK's ``sdk/manifest.go``).

Every model keeps unknown fields (``extra="allow"``) and serialises only the fields that
were present (``exclude_unset``), so a manifest read from another SDK and written back
loses nothing and gains nothing.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xtdf.errors import ManifestError

MANIFEST_NAME = "0.manifest.json"
PAYLOAD_NAME = "0.payload"
DEFAULT_MIME_TYPE = "application/octet-stream"
KAO_SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class PolicyBinding(_Model):
    alg: str = "HS256"
    hash: str


class KeyAccessObject(_Model):
    type: str = "wrapped"
    url: str = ""
    protocol: str = "kas"
    wrapped_key: str = Field("", alias="wrappedKey")
    policy_binding: PolicyBinding | str | None = Field(None, alias="policyBinding")
    encrypted_metadata: str | None = Field(None, alias="encryptedMetadata")
    kid: str | None = None
    sid: str | None = None
    schema_version: str | None = Field(None, alias="schemaVersion")
    ephemeral_public_key: str | None = Field(None, alias="ephemeralPublicKey")

    @property
    def split_id(self) -> str:
        """Missing and empty ``sid`` both mean the one default split."""
        return self.sid or ""

    def binding_value(self) -> Any:
        """The ``policyBinding`` as plain JSON (object or string)."""
        if isinstance(self.policy_binding, PolicyBinding):
            return self.policy_binding.model_dump(by_alias=True)
        return self.policy_binding


class Method(_Model):
    algorithm: str = "AES-256-GCM"
    iv: str | None = None
    is_streamable: bool = Field(True, alias="isStreamable")


class RootSignature(_Model):
    alg: str = "HS256"
    sig: str


class Segment(_Model):
    hash: str
    segment_size: int | None = Field(None, alias="segmentSize")
    encrypted_segment_size: int | None = Field(None, alias="encryptedSegmentSize")


class IntegrityInformation(_Model):
    root_signature: RootSignature = Field(alias="rootSignature")
    segment_hash_alg: str = Field("GMAC", alias="segmentHashAlg")
    segment_size_default: int = Field(alias="segmentSizeDefault")
    encrypted_segment_size_default: int = Field(alias="encryptedSegmentSizeDefault")
    segments: list[Segment] = Field(default_factory=list)


class EncryptionInformation(_Model):
    type: str = "split"
    policy: str
    key_access: list[KeyAccessObject] = Field(alias="keyAccess")
    method: Method = Field(default_factory=Method)
    integrity_information: IntegrityInformation = Field(alias="integrityInformation")


class Payload(_Model):
    type: str = "reference"
    url: str = PAYLOAD_NAME
    protocol: str = "zip"
    mime_type: str | None = Field(DEFAULT_MIME_TYPE, alias="mimeType")
    is_encrypted: bool = Field(True, alias="isEncrypted")


class Statement(_Model):
    format: str | None = None
    schema_: str | None = Field(None, alias="schema")
    value: Any = None


class Binding(_Model):
    method: str = "jws"
    signature: str


class Assertion(_Model):
    id: str
    type: str
    scope: str
    applies_to_state: str | None = Field(None, alias="appliesToState")
    statement: Statement
    binding: Binding | None = None


class Manifest(_Model):
    encryption_information: EncryptionInformation = Field(alias="encryptionInformation")
    payload: Payload
    assertions: list[Assertion] | None = None
    schema_version: str | None = Field(None, alias="schemaVersion")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def integrity(self) -> IntegrityInformation:
        return self.encryption_information.integrity_information


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_manifest(data: bytes | str) -> Manifest:
    """Parse manifest JSON; :class:`ManifestError` names the first bad or missing field."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{MANIFEST_NAME} is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ManifestError(f"{MANIFEST_NAME} is not a JSON object")
    try:
        return Manifest.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _location(tuple(err["loc"]))
        raise ManifestError(f"{MANIFEST_NAME}: field {where}: {err['msg']}") from exc
