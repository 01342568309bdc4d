"""The models of ``0.manifest.json`` (field names as the Go SDK's ``sdk/manifest.go``).

Every model keeps unknown fields and serialises only the fields that were present
(``exclude_unset``), so a manifest read from another SDK and written back loses nothing
and gains nothing. :mod:`.jsonmodel` says why these are not pydantic models.
"""

from __future__ import annotations

import json
from typing import Any

from xtdf.errors import ManifestError
from xtdf.formats import jsonlimits
from xtdf.formats.ztdf.jsonmodel import (
    Field,
    FieldError,
    JsonModel,
    anything,
    boolean,
    either,
    integer,
    list_of,
    optional,
    string,
)

MANIFEST_NAME = "0.manifest.json"
PAYLOAD_NAME = "0.payload"
DEFAULT_MIME_TYPE = "application/octet-stream"
KAO_SCHEMA_VERSION = "1.0"

_str = optional(string)


class PolicyBinding(JsonModel):
    FIELDS = (Field("alg", string, default="HS256"), Field("hash", string))
    alg: str
    hash: str


class KeyAccessObject(JsonModel):
    FIELDS = (
        Field("type", string, default="wrapped"),
        Field("url", string, default=""),
        Field("protocol", string, default="kas"),
        Field("wrapped_key", string, key="wrappedKey", default=""),
        Field(
            "policy_binding",
            optional(either(PolicyBinding.parse, string)),
            key="policyBinding",
            default=None,
        ),
        Field("encrypted_metadata", _str, key="encryptedMetadata", default=None),
        Field("kid", _str, default=None),
        Field("sid", _str, default=None),
        Field("schema_version", _str, key="schemaVersion", default=None),
        Field("ephemeral_public_key", _str, key="ephemeralPublicKey", default=None),
    )
    type: str
    url: str
    protocol: str
    wrapped_key: str
    policy_binding: PolicyBinding | str | None
    encrypted_metadata: str | None
    kid: str | None
    sid: str | None
    schema_version: str | None
    ephemeral_public_key: str | None

    @property
    def split_id(self) -> str:
        """Missing and empty ``sid`` both mean the one default split."""
        return self.sid or ""

    def binding_value(self) -> Any:
        """The ``policyBinding`` as plain JSON (object or string)."""
        if isinstance(self.policy_binding, PolicyBinding):
            return self.policy_binding.to_dict()
        return self.policy_binding


class Method(JsonModel):
    FIELDS = (
        Field("algorithm", string, default="AES-256-GCM"),
        Field("iv", _str, default=None),
        Field("is_streamable", boolean, key="isStreamable", default=True),
    )
    algorithm: str
    iv: str | None
    is_streamable: bool


class RootSignature(JsonModel):
    FIELDS = (Field("alg", string, default="HS256"), Field("sig", string))
    alg: str
    sig: str


class Segment(JsonModel):
    FIELDS = (
        Field("hash", string),
        Field("segment_size", optional(integer), key="segmentSize", default=None),
        Field(
            "encrypted_segment_size", optional(integer), key="encryptedSegmentSize", default=None
        ),
    )
    hash: str
    segment_size: int | None
    encrypted_segment_size: int | None


class IntegrityInformation(JsonModel):
    FIELDS = (
        Field("root_signature", RootSignature.parse, key="rootSignature"),
        Field("segment_hash_alg", string, key="segmentHashAlg", default="GMAC"),
        Field("segment_size_default", integer, key="segmentSizeDefault"),
        Field("encrypted_segment_size_default", integer, key="encryptedSegmentSizeDefault"),
        Field("segments", list_of(Segment.parse), factory=list),
    )
    root_signature: RootSignature
    segment_hash_alg: str
    segment_size_default: int
    encrypted_segment_size_default: int
    segments: list[Segment]


class EncryptionInformation(JsonModel):
    FIELDS = (
        Field("type", string, default="split"),
        Field("policy", string),
        Field("key_access", list_of(KeyAccessObject.parse), key="keyAccess"),
        Field("method", Method.parse, factory=Method),
        Field("integrity_information", IntegrityInformation.parse, key="integrityInformation"),
    )
    type: str
    policy: str
    key_access: list[KeyAccessObject]
    method: Method
    integrity_information: IntegrityInformation


class Payload(JsonModel):
    FIELDS = (
        Field("type", string, default="reference"),
        Field("url", string, default=PAYLOAD_NAME),
        Field("protocol", string, default="zip"),
        Field("mime_type", _str, key="mimeType", default=DEFAULT_MIME_TYPE),
        Field("is_encrypted", boolean, key="isEncrypted", default=True),
    )
    type: str
    url: str
    protocol: str
    mime_type: str | None
    is_encrypted: bool


class Statement(JsonModel):
    FIELDS = (
        Field("format", _str, default=None),
        Field("schema_", _str, key="schema", default=None),
        Field("value", anything, default=None),
    )
    format: str | None
    schema_: str | None
    value: Any


class Binding(JsonModel):
    FIELDS = (Field("method", string, default="jws"), Field("signature", string))
    method: str
    signature: str


class Assertion(JsonModel):
    FIELDS = (
        Field("id", string),
        Field("type", string),
        Field("scope", string),
        Field("applies_to_state", _str, key="appliesToState", default=None),
        Field("statement", Statement.parse),
        Field("binding", optional(Binding.parse), default=None),
    )
    id: str
    type: str
    scope: str
    applies_to_state: str | None
    statement: Statement
    binding: Binding | None


class Manifest(JsonModel):
    FIELDS = (
        Field("encryption_information", EncryptionInformation.parse, key="encryptionInformation"),
        Field("payload", Payload.parse),
        Field("assertions", optional(list_of(Assertion.parse)), default=None),
        Field("schema_version", _str, key="schemaVersion", default=None),
    )
    encryption_information: EncryptionInformation
    payload: Payload
    assertions: list[Assertion] | None
    schema_version: str | None

    def to_dict(self, *, exclude_unset: bool = True, exclude_none: bool = False) -> dict[str, Any]:
        """The manifest as written: only the fields that were given or read."""
        return super().to_dict(exclude_unset=exclude_unset, exclude_none=exclude_none)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def integrity(self) -> IntegrityInformation:
        return self.encryption_information.integrity_information


def parse_manifest(data: bytes | str) -> Manifest:
    """Parse manifest JSON; :class:`ManifestError` names the first bad or missing field.

    Its depth and number of values are bounded (:mod:`xtdf.formats.jsonlimits`) before
    anything is decoded; its size is bounded by the reader (``container.MAX_MANIFEST_SIZE``).
    """
    obj = jsonlimits.loads(data, MANIFEST_NAME, error=ManifestError)
    if not isinstance(obj, dict):
        raise ManifestError(f"{MANIFEST_NAME} is not a JSON object")
    try:
        return Manifest.parse(obj)
    except FieldError as exc:
        raise ManifestError(f"{MANIFEST_NAME}: field {exc.where()}: {exc.message}") from exc
