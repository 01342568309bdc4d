"""The ZTDF policy object: ``{uuid, body: {dataAttributes: [{attribute}], dissem: []}}``.

It travels base64-encoded in ``encryptionInformation.policy``; the policy binding is an
HMAC over that exact base64 string, so the string is kept verbatim once written.
"""

from __future__ import annotations

import json
import uuid as _uuid
from collections.abc import Iterable
from typing import Any

from xtdf.crypto.encoding import b64decode, b64encode
from xtdf.errors import ManifestError
from xtdf.formats import jsonlimits
from xtdf.formats.ztdf.jsonmodel import Field, FieldError, JsonModel, list_of, optional, string


class AttributeObject(JsonModel):
    FIELDS = (Field("attribute", string),)
    attribute: str


class PolicyBody(JsonModel):
    # other SDKs write null for empty lists
    FIELDS = (
        Field(
            "data_attributes",
            optional(list_of(AttributeObject.parse)),
            key="dataAttributes",
            factory=list,
        ),
        Field("dissem", optional(list_of(string)), factory=list),
    )
    data_attributes: list[AttributeObject] | None
    dissem: list[str] | None


class Policy(JsonModel):
    FIELDS = (
        Field("uuid", string, factory=lambda: str(_uuid.uuid4())),
        Field("body", PolicyBody.parse, factory=PolicyBody),
    )
    uuid: str
    body: PolicyBody

    @classmethod
    def create(cls, attributes: Iterable[str] = (), dissem: Iterable[str] = ()) -> Policy:
        body = PolicyBody(
            data_attributes=[AttributeObject(attribute=a) for a in attributes],
            dissem=list(dissem),
        )
        return cls(body=body)  # the uuid field's factory gives each a fresh one

    @property
    def attributes(self) -> list[str]:
        return [a.attribute for a in self.body.data_attributes or []]

    def to_b64(self) -> str:
        return b64encode(json.dumps(self.to_dict(), separators=(",", ":")).encode())

    @classmethod
    def from_json(cls, doc: Any, name: str = "policy") -> Policy:
        """A policy object from decoded JSON; :class:`ManifestError` names the bad field."""
        try:
            return cls.parse(doc)
        except FieldError as exc:
            where = f" field {exc.where()}:" if exc.path else ""
            raise ManifestError(f"{name} is not a policy object:{where} {exc.message}") from exc

    @classmethod
    def from_b64(cls, text: str) -> Policy:
        name = "encryptionInformation.policy"
        raw = b64decode(text, name)
        jsonlimits.check(raw, name, error=ManifestError)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ManifestError(f"{name} is not a policy object: {exc}") from exc
        return cls.from_json(doc, name)
