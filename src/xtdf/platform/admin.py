"""Administer a platform's policy over Connect JSON: what the suite's fixtures need.

The operations mirror what upstream's fixtures do with ``otdfctl`` (namespaces, attributes,
subject condition sets and mappings, KAS registration, keys, the base key). Only the
OpenTDF service and method names are used, never anything specific to xtdf's server
(except the documented PEM import form of ``CreateKey``), so the client also works against
the Go platform. Objects can be named by id or FQN; the client resolves FQNs to ids first.
Every refusal becomes a :class:`PlatformError`, :class:`AuthError` or
:class:`AccessDeniedError` naming the call and the server's reason (the client stack's mapping).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from typing import Any

from xtdf.client.auth import Token, TokenSource
from xtdf.client.config import ClientConfig
from xtdf.client.platform_client import PlatformClient
from xtdf.client.transport import Transport
from xtdf.crypto import ec as ec_crypto
from xtdf.crypto import rsa as rsa_crypto
from xtdf.crypto.keys import PrivateKey, load_private_pem, private_pem, public_pem
from xtdf.crypto.symmetric import GCM_IV_SIZE, gcm_encrypt, random_bytes
from xtdf.errors import FormatError, PlatformError

DEFAULT_URL = "http://localhost:8080"

NAMESPACES = "policy.namespaces.NamespaceService"
ATTRIBUTES = "policy.attributes.AttributesService"
KAS_REGISTRY = "policy.kasregistry.KeyAccessServerRegistryService"
SUBJECT_MAPPING = "policy.subjectmapping.SubjectMappingService"
AUTHORIZATION = "authorization.AuthorizationService"

RULES = {
    "all_of": "ATTRIBUTE_RULE_TYPE_ENUM_ALL_OF",
    "any_of": "ATTRIBUTE_RULE_TYPE_ENUM_ANY_OF",
    "hierarchy": "ATTRIBUTE_RULE_TYPE_ENUM_HIERARCHY",
}
ALGORITHMS = {
    "rsa:2048": "ALGORITHM_RSA_2048",
    "rsa:4096": "ALGORITHM_RSA_4096",
    "ec:secp256r1": "ALGORITHM_EC_P256",
    "ec:secp384r1": "ALGORITHM_EC_P384",
    "ec:secp521r1": "ALGORITHM_EC_P521",
}
OPERATORS = {
    "in": "SUBJECT_MAPPING_OPERATOR_ENUM_IN",
    "not_in": "SUBJECT_MAPPING_OPERATOR_ENUM_NOT_IN",
    "in_contains": "SUBJECT_MAPPING_OPERATOR_ENUM_IN_CONTAINS",
}
LEVELS = ("namespace", "attribute", "value")


def rule_name(rule: str) -> str:
    key = rule.strip().lower().replace("-", "_").removeprefix("attribute_rule_type_enum_")
    if key not in RULES:
        raise FormatError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    return RULES[key]


def algorithm_name(alg: str) -> str:
    key = alg.strip().lower()
    key = {"rsa": "rsa:2048", "ec": "ec:secp256r1", "ec:p256": "ec:secp256r1"}.get(key, key)
    if key not in ALGORITHMS:
        raise FormatError(f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {alg!r}")
    return ALGORITHMS[key]


def condition_set(selector: str, values: Iterable[str], operator: str = "in") -> list[dict]:
    """The common one-condition subject set: ``selector`` ``operator`` ``values``."""
    op = operator.strip().lower().replace("-", "_")
    if op not in OPERATORS:
        raise FormatError(f"operator: expected one of {', '.join(OPERATORS)}, got {operator!r}")
    return [
        {
            "conditionGroups": [
                {
                    "booleanOperator": "CONDITION_BOOLEAN_TYPE_ENUM_OR",
                    "conditions": [
                        {
                            "subjectExternalSelectorValue": selector,
                            "operator": OPERATORS[op],
                            "subjectExternalValues": list(values),
                        }
                    ],
                }
            ]
        }
    ]


def _is_fqn(ident: str) -> bool:
    return ident.startswith(("https://", "http://"))


class PolicyAdmin:
    """A logged-in admin session against one platform.

    The session is the client stack's :class:`PlatformClient`: the same token discovery,
    DPoP proofs (nonce challenges answered once) and error mapping as ``xtdf encrypt``,
    so the admin and the SDK cannot drift apart on how they talk to a platform.
    """

    def __init__(
        self,
        platform_url: str = DEFAULT_URL,
        client_id: str = "opentdf",
        client_secret: str = "secret",
        *,
        token: str | None = None,
        token_endpoint: str | None = None,
        timeout: float = 30.0,
        dpop: bool = True,
    ) -> None:
        config = ClientConfig(
            platform_url=platform_url,
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint=token_endpoint or "",
            timeout=timeout,
        )
        self.platform_url = config.platform_url
        self.client_id = client_id
        transport = Transport(timeout=timeout)
        #: sender-constrain tokens with DPoP, as otdfctl does (required when the platform
        #: enforces DPoP, harmless otherwise); a token the caller brings is a plain bearer
        given = Token(token, "Bearer", math.inf) if token else None
        tokens = TokenSource(config, transport, dpop=dpop and given is None, token=given)
        self.client = PlatformClient(config, transport=transport, tokens=tokens)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PolicyAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------

    def token(self) -> str:
        """The current access token (fetched or renewed when needed)."""
        return self.client.tokens.token().value

    @property
    def token_type(self) -> str:
        """``DPoP`` once the IdP has bound the token to our proof key, else ``Bearer``."""
        return self.client.tokens.token().token_type

    def call(self, service: str, method: str, body: Mapping[str, Any] | None = None) -> Any:
        """One unary Connect call with a JSON body; returns the decoded JSON answer."""
        data = self.client.authed_call(f"{self.platform_url}/{service}/{method}", dict(body or {}))
        if not isinstance(data, dict):
            raise PlatformError(f"{method}: response is not a JSON object")
        return data

    # --- namespaces -----------------------------------------------------------

    def create_namespace(self, name: str) -> dict:
        return self.call(NAMESPACES, "CreateNamespace", {"name": name})["namespace"]

    def get_namespace(self, ident: str) -> dict:
        key = "fqn" if _is_fqn(ident) else "namespaceId"
        return self.call(NAMESPACES, "GetNamespace", {key: ident})["namespace"]

    def list_namespaces(self) -> list[dict]:
        return self.call(NAMESPACES, "ListNamespaces").get("namespaces", [])

    def namespace_id(self, ident: str) -> str:
        """Id of a namespace named by id, FQN or bare name (``example.com``)."""
        if _is_fqn(ident):
            return self.get_namespace(ident)["id"]
        if "." in ident:
            return self.get_namespace(f"https://{ident.lower()}")["id"]
        return ident

    # --- attributes -----------------------------------------------------------

    def create_attribute(
        self, namespace: str, name: str, rule: str, values: Iterable[str] = ()
    ) -> dict:
        body = {
            "namespaceId": self.namespace_id(namespace),
            "name": name,
            "rule": rule_name(rule),
            "values": list(values),
        }
        return self.call(ATTRIBUTES, "CreateAttribute", body)["attribute"]

    def get_attribute(self, ident: str) -> dict:
        key = "fqn" if _is_fqn(ident) else "attributeId"
        return self.call(ATTRIBUTES, "GetAttribute", {key: ident})["attribute"]

    def list_attributes(self, namespace: str | None = None) -> list[dict]:
        body = {"namespace": self.namespace_id(namespace)} if namespace else {}
        return self.call(ATTRIBUTES, "ListAttributes", body).get("attributes", [])

    def create_value(self, attribute: str, value: str) -> dict:
        attr_id = self.get_attribute(attribute)["id"] if _is_fqn(attribute) else attribute
        body = {"attributeId": attr_id, "value": value}
        return self.call(ATTRIBUTES, "CreateAttributeValue", body)["value"]

    def get_value(self, ident: str) -> dict:
        key = "fqn" if _is_fqn(ident) else "valueId"
        return self.call(ATTRIBUTES, "GetAttributeValue", {key: ident})["value"]

    def values_by_fqns(self, fqns: Iterable[str]) -> dict:
        body = {"fqns": list(fqns)}
        return self.call(ATTRIBUTES, "GetAttributeValuesByFqns", body).get("fqnAttributeValues", {})

    # --- subject condition sets and mappings ----------------------------------

    def create_condition_set(self, subject_sets: list[dict]) -> dict:
        body = {"subjectConditionSet": {"subjectSets": subject_sets}}
        return self.call(SUBJECT_MAPPING, "CreateSubjectConditionSet", body)["subjectConditionSet"]

    def list_condition_sets(self) -> list[dict]:
        return self.call(SUBJECT_MAPPING, "ListSubjectConditionSets").get(
            "subjectConditionSets", []
        )

    def create_subject_mapping(
        self,
        value: str,
        condition_set_id: str | None = None,
        subject_sets: list[dict] | None = None,
        actions: Iterable[str] = ("read",),
    ) -> dict:
        """Entitle who matches the condition set to ``value`` (id or FQN)."""
        value_id = self.get_value(value)["id"] if _is_fqn(value) else value
        body: dict[str, Any] = {
            "attributeValueId": value_id,
            "actions": [
                {"standard": "STANDARD_ACTION_DECRYPT", "name": a}
                if a in ("read", "decrypt")
                else {"custom": a, "name": a}
                for a in actions
            ],
        }
        if condition_set_id:
            body["existingSubjectConditionSetId"] = condition_set_id
        elif subject_sets is not None:
            body["newSubjectConditionSet"] = {"subjectSets": subject_sets}
        else:
            raise FormatError("subject mapping: a condition set id or subject sets is required")
        return self.call(SUBJECT_MAPPING, "CreateSubjectMapping", body)["subjectMapping"]

    def list_subject_mappings(self) -> list[dict]:
        return self.call(SUBJECT_MAPPING, "ListSubjectMappings").get("subjectMappings", [])

    # --- KAS registry and keys ------------------------------------------------

    def register_kas(self, uri: str, name: str | None = None) -> dict:
        body = {"uri": uri, **({"name": name} if name else {})}
        return self.call(KAS_REGISTRY, "CreateKeyAccessServer", body)["keyAccessServer"]

    def list_kas(self) -> list[dict]:
        return self.call(KAS_REGISTRY, "ListKeyAccessServers").get("keyAccessServers", [])

    def get_kas(self, ident: str) -> dict:
        key = "uri" if _is_fqn(ident) else "kasId" if _looks_like_id(ident) else "name"
        return self.call(KAS_REGISTRY, "GetKeyAccessServer", {key: ident})["keyAccessServer"]

    def kas_id(self, ident: str) -> str:
        return ident if _looks_like_id(ident) else self.get_kas(ident)["id"]

    def create_key(
        self,
        kas: str,
        kid: str,
        algorithm: str,
        *,
        legacy: bool = False,
        wrapping_key: str | None = None,
    ) -> dict:
        """A new key pair wrapped by the platform's root key.

        Without ``wrapping_key`` the platform generates it; with the root key (hex, as
        upstream's ``OT_ROOT_KEY``) the pair is generated and wrapped here, as otdfctl's
        ``key create --mode local`` does, which also works against the Go platform."""
        if wrapping_key is None:
            body = {
                "kasId": self.kas_id(kas),
                "keyId": kid,
                "keyAlgorithm": algorithm_name(algorithm),
                "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
                "legacy": legacy,
            }
            return self.call(KAS_REGISTRY, "CreateKey", body)["kasKey"]
        key = _generate(algorithm)
        return self.import_key(
            kas, kid, algorithm, private_pem(key), None, legacy=legacy, wrapping_key=wrapping_key
        )

    def create_public_key(self, kas: str, kid: str, algorithm: str, pem: str) -> dict:
        """Register a public key whose private half lives elsewhere (``--mode public_key``)."""
        body = {
            "kasId": self.kas_id(kas),
            "keyId": kid,
            "keyAlgorithm": algorithm_name(algorithm),
            "keyMode": "KEY_MODE_PUBLIC_KEY_ONLY",
            "publicKeyCtx": {"pem": _b64(pem)},
        }
        return self.call(KAS_REGISTRY, "CreateKey", body)["kasKey"]

    def import_key(
        self,
        kas: str,
        kid: str,
        algorithm: str,
        private_pem_text: str,
        public_pem_text: str | None = None,
        *,
        legacy: bool = False,
        wrapping_key: str | None = None,
    ) -> dict:
        """Import an existing pair. With ``wrapping_key`` (root key, hex) the private key is
        wrapped here as upstream does; without it the platform wraps it on arrival."""
        if wrapping_key is None:
            wrapped = _b64(private_pem_text)
        else:
            wrapped = wrap_with_root_key(wrapping_key, private_pem_text.encode())
        public = public_pem_text or public_pem(load_private_pem(private_pem_text))
        body: dict[str, Any] = {
            "kasId": self.kas_id(kas),
            "keyId": kid,
            "keyAlgorithm": algorithm_name(algorithm),
            "keyMode": "KEY_MODE_CONFIG_ROOT_KEY",
            "privateKeyCtx": {"keyId": "root", "wrappedKey": wrapped},
            "publicKeyCtx": {"pem": _b64(public)},
            "legacy": legacy,
        }
        return self.call(KAS_REGISTRY, "CreateKey", body)["kasKey"]

    def list_keys(self, kas: str | None = None, *, legacy: bool | None = None) -> list[dict]:
        body: dict[str, Any] = {}
        if kas:
            body["kasId"] = self.kas_id(kas)
        if legacy is not None:
            body["legacy"] = legacy
        return self.call(KAS_REGISTRY, "ListKeys", body).get("kasKeys", [])

    def key_id(self, kas: str, kid: str) -> str:
        """Row id of key ``kid`` of ``kas``."""
        body = {"key": {"kasId": self.kas_id(kas), "kid": kid}}
        return self.call(KAS_REGISTRY, "GetKey", body)["kasKey"]["key"]["id"]

    def assign_key(self, level: str, target: str, kas: str, kid: str) -> dict:
        """Map key ``kid`` of ``kas`` to a namespace, attribute or value (id or FQN)."""
        key_id = self.key_id(kas, kid)
        if level == "namespace":
            body = {"namespaceKey": {"namespaceId": self.namespace_id(target), "keyId": key_id}}
            return self.call(NAMESPACES, "AssignPublicKeyToNamespace", body)["namespaceKey"]
        if level == "attribute":
            attr_id = self.get_attribute(target)["id"] if _is_fqn(target) else target
            body = {"attributeKey": {"attributeId": attr_id, "keyId": key_id}}
            return self.call(ATTRIBUTES, "AssignPublicKeyToAttribute", body)["attributeKey"]
        if level == "value":
            value_id = self.get_value(target)["id"] if _is_fqn(target) else target
            body = {"valueKey": {"valueId": value_id, "keyId": key_id}}
            return self.call(ATTRIBUTES, "AssignPublicKeyToValue", body)["valueKey"]
        raise FormatError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")

    def grant_kas(self, level: str, target: str, kas: str) -> dict:
        """Legacy KAS grant on a namespace, attribute or value."""
        kas_id = self.kas_id(kas)
        if level == "namespace":
            body = {
                "namespaceKeyAccessServer": {
                    "namespaceId": self.namespace_id(target),
                    "keyAccessServerId": kas_id,
                }
            }
            return self.call(NAMESPACES, "AssignKeyAccessServerToNamespace", body)
        if level == "attribute":
            attr_id = self.get_attribute(target)["id"] if _is_fqn(target) else target
            body = {
                "attributeKeyAccessServer": {"attributeId": attr_id, "keyAccessServerId": kas_id}
            }
            return self.call(ATTRIBUTES, "AssignKeyAccessServerToAttribute", body)
        if level == "value":
            value_id = self.get_value(target)["id"] if _is_fqn(target) else target
            body = {"valueKeyAccessServer": {"valueId": value_id, "keyAccessServerId": kas_id}}
            return self.call(ATTRIBUTES, "AssignKeyAccessServerToValue", body)
        raise FormatError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")

    def set_base_key(self, kas: str, kid: str) -> dict:
        body = {"key": {"kasId": self.kas_id(kas), "kid": kid}}
        return self.call(KAS_REGISTRY, "SetBaseKey", body)

    def get_base_key(self) -> dict | None:
        return self.call(KAS_REGISTRY, "GetBaseKey").get("baseKey")

    # --- authorization --------------------------------------------------------

    def entitlements(self, client_id: str) -> list[str]:
        body = {"entities": [{"id": "e1", "clientId": client_id}]}
        ents = self.call(AUTHORIZATION, "GetEntitlements", body).get("entitlements", [])
        return ents[0].get("attributeValueFqns", []) if ents else []


def wrap_with_root_key(root_key_hex: str, plaintext: bytes) -> str:
    """``base64(nonce || AES-256-GCM(root, plaintext))``: upstream's wrapped-key form."""
    try:
        root = bytes.fromhex(root_key_hex.strip())
    except ValueError as exc:
        raise FormatError("wrapping key: not hex") from exc
    if len(root) != 32:
        raise FormatError(f"wrapping key: must be 32 bytes (64 hex digits), got {len(root)}")
    nonce = random_bytes(GCM_IV_SIZE)
    return base64.b64encode(nonce + gcm_encrypt(root, nonce, plaintext)).decode()


def _generate(algorithm: str) -> PrivateKey:
    wire = algorithm_name(algorithm)
    kind, _, param = next(k for k, v in ALGORITHMS.items() if v == wire).partition(":")
    if kind == "rsa":
        return rsa_crypto.generate(int(param))
    return ec_crypto.generate(param)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _looks_like_id(ident: str) -> bool:
    parts = ident.split("-")
    return len(parts) == 5 and all(c in "0123456789abcdef-" for c in ident.lower())
