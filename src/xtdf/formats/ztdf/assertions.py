"""Assertions: statements bound to one TDF with a JWS (HS256 with the DEK, or RS256).

Facts (opentdf/platform ``sdk/assertion.go`` and ``sdk/tdf.go``; opentdf/java-sdk
``Manifest.java``):

- the assertion hash is SHA-256 (hex) of the RFC 8785 (JCS) canonical JSON of the
  assertion without ``binding``; empty optional fields are omitted;
- a statement value that is a JSON object is hashed as a *string* holding that object's
  compact JSON (Go re-marshals it with sorted keys, Java keeps the file's order);
- the JWS payload holds two claims: ``assertionHash`` (that hex string) and
  ``assertionSig`` = base64(aggregate segment hashes || hash), where the hash is appended
  as its hex text in the hexed (4.2.2) layout and as 32 raw bytes in 4.3.0;
- upstream's verification-keys JSON is ``{"keys": {ID: {"alg", "key"}}}``; an HS256 key
  is the UTF-8 bytes of the string (as otdfctl reads it), an RS256 key is a PEM.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, RSAKey

from xtdf.crypto.encoding import b64decode, b64encode, b64url_decode
from xtdf.crypto.keys import load_private_pem, load_public_pem, private_pem, public_pem
from xtdf.errors import AssertionSignatureError, FormatError, UsageError
from xtdf.formats import jsonlimits
from xtdf.formats.ztdf.manifest import Assertion, Binding, Statement

HS256 = "HS256"
RS256 = "RS256"
ASSERTION_HASH = "assertionHash"
ASSERTION_SIG = "assertionSig"


# --- keys ----------------------------------------------------------------------


@dataclass(frozen=True)
class AssertionKey:
    """``alg`` HS256 with ``key`` bytes, or RS256 with an RSA key (object or PEM)."""

    alg: str
    key: bytes | str | rsa.RSAPrivateKey | rsa.RSAPublicKey

    def __post_init__(self) -> None:
        if self.alg not in (HS256, RS256):
            raise UsageError(f"assertion key algorithm {self.alg!r} is not HS256 or RS256")

    def _jwk(self, private: bool) -> OctKey | RSAKey:
        if self.alg == HS256:
            raw = self.key.encode() if isinstance(self.key, str) else self.key
            if not isinstance(raw, bytes):
                raise UsageError("an HS256 assertion key must be bytes")
            return OctKey.import_key(raw)
        key = self.key
        if isinstance(key, str | bytes):
            text = key.decode() if isinstance(key, bytes) else key
            key = load_private_pem(text) if "PRIVATE" in text else load_public_pem(text)  # type: ignore[assignment]
        if isinstance(key, rsa.RSAPrivateKey):
            return RSAKey.import_key(private_pem(key) if private else public_pem(key))
        if isinstance(key, rsa.RSAPublicKey) and not private:
            return RSAKey.import_key(public_pem(key))
        raise UsageError("an RS256 assertion key must be an RSA key (a private key to sign)")

    def signing_key(self) -> OctKey | RSAKey:
        return self._jwk(private=True)

    def verifying_key(self) -> OctKey | RSAKey:
        return self._jwk(private=False)


@dataclass
class AssertionVerificationKeys:
    """Keys per assertion id, and an optional default; absent ones use the DEK (HS256)."""

    keys: dict[str, AssertionKey] = field(default_factory=dict)
    default: AssertionKey | None = None

    def get(self, assertion_id: str) -> AssertionKey | None:
        return self.keys.get(assertion_id, self.default)


def _load_json(source: str | os.PathLike[str] | Mapping[str, Any] | list[Any]) -> Any:
    if isinstance(source, Mapping | list):
        return source
    text = os.fspath(source)
    if not text.lstrip().startswith(("{", "[")):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {text}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"assertion JSON is not valid: {exc}") from None


def _key_from_json(obj: Any, where: str) -> AssertionKey:
    if not isinstance(obj, Mapping):
        raise UsageError(f"{where} is not an object with alg and key")
    low = {str(k).lower(): v for k, v in obj.items()}
    alg, key = low.get("alg"), low.get("key")
    if not isinstance(alg, str) or not isinstance(key, str):
        raise UsageError(f"{where} needs string fields alg and key")
    return AssertionKey(alg, key.encode() if alg == HS256 else key)


def load_verification_keys(
    source: str | os.PathLike[str] | Mapping[str, Any],
) -> AssertionVerificationKeys:
    """Read upstream's ``{"keys": {ID: {alg, key}}}`` (a path, JSON text or a mapping)."""
    doc = _load_json(source)
    if not isinstance(doc, Mapping):
        raise UsageError("assertion verification keys must be a JSON object")
    low = {str(k).lower(): v for k, v in doc.items()}
    keys = low.get("keys") or {}
    if not isinstance(keys, Mapping):
        raise UsageError("assertion verification keys: 'keys' must be an object")
    out = AssertionVerificationKeys(
        {str(k): _key_from_json(v, f"keys.{k}") for k, v in keys.items()}
    )
    if low.get("defaultkey"):
        out.default = _key_from_json(low["defaultkey"], "defaultKey")
    return out


# --- configs -------------------------------------------------------------------


@dataclass
class AssertionConfig:
    """An assertion to add on encrypt; ``signing_key`` None means HS256 with the DEK."""

    id: str
    statement: Statement
    type: str = "handling"
    scope: str = "tdo"
    applies_to_state: str = "encrypted"
    signing_key: AssertionKey | None = None


def load_assertion_configs(
    source: str | os.PathLike[str] | list[Any],
) -> list[AssertionConfig]:
    """Read upstream's assertions JSON: a list of {id, type, scope, appliesToState,
    statement {format, schema, value}, signingKey {alg, key}}."""
    doc = _load_json(source)
    if not isinstance(doc, list):
        raise UsageError("assertions JSON must be a list")
    out = []
    for i, item in enumerate(doc):
        if not isinstance(item, Mapping) or not item.get("id"):
            raise UsageError(f"assertions[{i}] needs an id")
        st = item.get("statement") or {}
        signing = item.get("signingKey")
        out.append(
            AssertionConfig(
                id=str(item["id"]),
                type=str(item.get("type", "handling")),
                scope=str(item.get("scope", "tdo")),
                applies_to_state=str(item.get("appliesToState", "encrypted")),
                statement=Statement(
                    format=st.get("format"), schema_=st.get("schema"), value=st.get("value")
                ),
                signing_key=_key_from_json(signing, f"assertions[{i}].signingKey")
                if signing
                else None,
            )
        )
    return out


# --- hashing -------------------------------------------------------------------


def _jcs_number(n: int | float) -> str:
    if isinstance(n, bool):
        return "true" if n else "false"
    if isinstance(n, int):
        return str(n)
    if not math.isfinite(n):
        raise FormatError("JSON numbers must be finite")
    if n.is_integer() and abs(n) < 1e21:
        return str(int(n))
    return repr(n)


def canonical_json(value: Any) -> str:
    """RFC 8785 JSON canonicalization (keys sorted by UTF-16 code units)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _jcs_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: str(k).encode("utf-16-be"))
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(k), ensure_ascii=False)}:{canonical_json(value[k])}" for k in keys
            )
            + "}"
        )
    raise FormatError(f"cannot canonicalise a {type(value).__name__} as JSON")


def _go_escape(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _value_spellings(value: Any) -> list[Any]:
    """The statement value as each SDK hashes it: strings as-is; objects as compact JSON
    text in file order (Java), sorted (Go, also HTML-escaped), or left an object."""
    if value is None or isinstance(value, str):
        return [value]
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    ordered = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    out: list[Any] = []
    for v in (ordered, compact, _go_escape(ordered), value):
        if v not in out:
            out.append(v)
    return out


def _hash_document(a: Assertion, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": a.id, "type": a.type, "scope": a.scope}
    if a.applies_to_state:
        doc["appliesToState"] = a.applies_to_state
    st: dict[str, Any] = {}
    if a.statement.format:
        st["format"] = a.statement.format
    if a.statement.schema_:
        st["schema"] = a.statement.schema_
    if value not in (None, ""):
        st["value"] = value
    doc["statement"] = st
    return doc


def assertion_hashes(a: Assertion) -> list[str]:
    """Hex SHA-256 of every accepted spelling; the first is the one we write."""
    return [
        sha256(canonical_json(_hash_document(a, v)).encode()).hexdigest()
        for v in _value_spellings(a.statement.value)
    ]


def _bound(aggregate: bytes, hash_hex: str, hexed: bool) -> bytes:
    return aggregate + (hash_hex.encode("ascii") if hexed else bytes.fromhex(hash_hex))


# --- sign / verify -------------------------------------------------------------


def sign_assertion(config: AssertionConfig, aggregate: bytes, hexed: bool, dek: bytes) -> Assertion:
    """Build the manifest assertion for ``config``, bound to this payload's segment hashes."""
    statement = config.statement.copy()
    if isinstance(statement.value, Mapping | list):
        statement.value = json.loads(json.dumps(statement.value, sort_keys=True))
    assertion = Assertion(
        id=config.id,
        type=config.type,
        scope=config.scope,
        applies_to_state=config.applies_to_state,
        statement=statement,
    )
    hash_hex = assertion_hashes(assertion)[0]
    claims = {
        ASSERTION_HASH: hash_hex,
        ASSERTION_SIG: b64encode(_bound(aggregate, hash_hex, hexed)),
    }
    key = config.signing_key or AssertionKey(HS256, dek)
    token = jws.serialize_compact(
        {"alg": key.alg}, json.dumps(claims, separators=(",", ":")), key.signing_key()
    )
    assertion.binding = Binding(method="jws", signature=token)
    return assertion


#: a binding's JOSE header and claims are a handful of fields; the JOSE library decodes
#: them with :func:`json.loads`, so their shape is bounded first
_JWS_LIMITS = {"max_depth": 20, "max_values": 10_000}


def _check_jws_shape(token: str, name: str) -> None:
    """Bound the header and claims of a compact JWS before the JOSE library decodes them;
    anything malformed is left to it, so that its errors stay what they were."""
    for part, what in zip(token.split(".")[:2], ("header", "claims"), strict=False):
        try:
            problem = jsonlimits.excess(b64url_decode(part), **_JWS_LIMITS)
        except (FormatError, jsonlimits.ShapeError, UnicodeError):
            continue
        if problem is not None:
            raise AssertionSignatureError(f"{name}: binding {what} {problem}")


def verify_assertion(
    a: Assertion,
    aggregate: bytes,
    dek: bytes,
    keys: AssertionVerificationKeys | None = None,
) -> None:
    """Check the JWS, the statement hash and the payload binding; AssertionSignatureError."""
    name = f"assertion {a.id!r}"
    if a.binding is None or not a.binding.signature:
        raise AssertionSignatureError(f"{name} has no binding signature")
    if a.binding.method.lower() != "jws":
        raise AssertionSignatureError(f"{name}: binding method {a.binding.method!r} is not jws")
    key = (keys.get(a.id) if keys else None) or AssertionKey(HS256, dek)
    _check_jws_shape(a.binding.signature, name)
    try:
        token = jws.deserialize_compact(
            a.binding.signature, key.verifying_key(), algorithms=[key.alg]
        )
    except JoseError as exc:
        raise AssertionSignatureError(
            f"{name}: binding signature does not verify with the {key.alg} key ({exc})"
        ) from exc
    try:
        claims = jsonlimits.loads(token.payload, f"{name}: binding claims")
        claimed_hash, claimed_sig = claims[ASSERTION_HASH], claims[ASSERTION_SIG]
        if not isinstance(claimed_hash, str) or not isinstance(claimed_sig, str):
            raise TypeError("claims are not strings")
    except (FormatError, KeyError, TypeError) as exc:
        raise AssertionSignatureError(f"{name}: binding lacks assertionHash/assertionSig") from exc
    claimed_hash = claimed_hash.lower()
    if claimed_hash not in assertion_hashes(a):
        raise AssertionSignatureError(f"{name}: statement altered (assertionHash mismatch)")
    try:
        sig = b64decode(claimed_sig, "assertionSig")
        ok = sig in (_bound(aggregate, claimed_hash, True), _bound(aggregate, claimed_hash, False))
    except (FormatError, ValueError):
        ok = False
    if not ok:
        raise AssertionSignatureError(f"{name}: assertionSig does not bind it to this payload")


def verify_all(
    assertions: Iterable[Assertion],
    aggregate: bytes,
    dek: bytes,
    keys: AssertionVerificationKeys | None = None,
) -> None:
    for a in assertions:
        verify_assertion(a, aggregate, dek, keys)
