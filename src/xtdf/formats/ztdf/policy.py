"""The ZTDF policy object: ``{uuid, body: {dataAttributes: [{attribute}], dissem: []}}``.

It travels base64-encoded in ``encryptionInformation.policy``; the policy binding is an
HMAC over that exact base64 string, so the string is kept verbatim once written.
"""

from __future__ import annotations

import json
import uuid as _uuid
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.errors import ManifestError


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class AttributeObject(_Model):
    attribute: str


class PolicyBody(_Model):
    # other SDKs write null for empty lists
    data_attributes: list[AttributeObject] | None = Field(
        default_factory=list, alias="dataAttributes"
    )
    dissem: list[str] | None = Field(default_factory=list)


class Policy(_Model):
    uuid: str = Field(default_factory=lambda: str(_uuid.uuid4()))
    body: PolicyBody = Field(default_factory=PolicyBody)

    @classmethod
    def create(cls, attributes: Iterable[str] = (), dissem: Iterable[str] = ()) -> Policy:
        body = PolicyBody(
            data_attributes=[AttributeObject(attribute=a) for a in attributes],
            dissem=list(dissem),
        )
        return cls(uuid=str(_uuid.uuid4()), body=body)

    @property
    def attributes(self) -> list[str]:
        return [a.attribute for a in self.body.data_attributes or []]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")

    def to_b64(self) -> str:
        return b64encode(json.dumps(self.to_dict(), separators=(",", ":")).encode())

    @classmethod
    def from_b64(cls, text: str) -> Policy:
        raw = b64decode(text, "encryptionInformation.policy")
        try:
            return cls.model_validate(json.loads(raw))
        except (ValueError, UnicodeDecodeError, ValidationError) as exc:
            raise ManifestError(
                f"encryptionInformation.policy is not a policy object: {exc}"
            ) from exc
