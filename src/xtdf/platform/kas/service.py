"""``kas.AccessService``: public keys and rewrap, per KAS instance.

Rewrap, for each policy and each of its key access objects (KAOs): find the private key
(by kid, else the legacy keys), unwrap the share (``wrapped``: RSA-OAEP; ``ec-wrapped``:
ECDH + HKDF + AES-GCM; a NanoTDF header: ECDH with the header's ephemeral key), verify the
policy binding with that share, ask authorization whether the caller may read data with the
policy's attributes, and only then wrap the share to the client's key: RSA-OAEP for an RSA
client key; for an EC client key AES-256-GCM under HKDF-SHA256(salt, ECDH(session key,
client key)) with one fresh KAS session key per request, whose public half is returned as
``sessionPublicKey`` (salt SHA-256("TDF") for ZTDF, SHA-256("L1L") for NanoTDF, as the
Go KAS: ``security.TDFSalt`` / ``NanoVersionSalt``). Every KAO gets its own result
(``permit`` with ``kasWrappedKey`` or ``fail`` with ``error``) and its own audit line.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.protobuf import wrappers_pb2

from xtdf._proto.kas import kas_pb2 as pb
from xtdf.crypto import ec as xec
from xtdf.crypto.keys import PublicKey, load_public_pem
from xtdf.crypto.symmetric import GCM_IV_SIZE, gcm_encrypt, random_bytes
from xtdf.errors import KeyAccessError, UnsupportedError, XtdfError
from xtdf.formats.ztdf import keywrap
from xtdf.platform.authz.engine import Authorizer
from xtdf.platform.kas import srt as srt_mod
from xtdf.platform.kas.audit import DENY, PERMIT, AuditLog
from xtdf.platform.kas.keyring import KasKey, KeyRing
from xtdf.platform.kas.request import KaoRequest, PolicyRequest, RewrapBody, parse_body
from xtdf.platform.kas.unwrap import BAD_REQUEST, KaoFailure, unwrap, verify_binding
from xtdf.platform.rpc import CallContext, RpcError

PERMIT_STATUS = "permit"
FAILED_STATUS = "fail"
#: key access result metadata the Go KAS always sets (obligations the client must honour)
OBLIGATIONS_KEY = "X-Required-Obligations"
#: algorithm answered when a request names none (upstream ``security.AlgorithmRSA2048``)
DEFAULT_ALGORITHM = "rsa:2048"
#: signed request tokens up to this size are rewrapped on the event loop: one with a few
#: key access objects is 1-3 KiB; larger ones go to a worker thread
INLINE_TOKEN_BYTES = 8 * 1024
#: ``fmt`` values of ``PublicKey``
FORMATS = ("", "pkcs8", "jwk")


@dataclass
class _Outcome:
    """What became of one KAO."""

    kao: KaoRequest
    share: bytes | None = None
    kid: str = ""
    failure: KaoFailure | None = None
    wrapped: bytes | None = None
    nano: bool = False
    #: why access was permitted (for the audit line)
    reason: str = ""


@dataclass
class _PolicyWork:
    req: PolicyRequest
    uuid: str = ""
    attributes: list[str] = field(default_factory=list)
    outcomes: list[_Outcome] = field(default_factory=list)


class _Session:
    """Wraps shares to the client's public key (one KAS session key per request for EC)."""

    def __init__(self, client_key: PublicKey) -> None:
        self.client_key = client_key
        self.session: ec.EllipticCurvePrivateKey | None = None
        self.session_pem = ""
        self._aes: dict[bytes, bytes] = {}
        if isinstance(client_key, ec.EllipticCurvePublicKey):
            self.session = xec.generate(xec.curve_name(client_key))
            from xtdf.crypto.keys import public_pem

            self.session_pem = public_pem(self.session)
            self._secret = xec.ecdh(self.session, client_key)

    def wrap(self, share: bytes, salt: bytes) -> bytes:
        if isinstance(self.client_key, rsa.RSAPublicKey):
            return keywrap.rsa_wrap(self.client_key, share)
        key = self._aes.get(salt)
        if key is None:
            key = self._aes[salt] = xec.hkdf_sha256(self._secret, salt)
        iv = random_bytes(GCM_IV_SIZE)
        return iv + gcm_encrypt(key, iv, share)


class _ClientKeys:
    """Parsed client public keys by PEM text (bounded): parsing is a measurable share of a
    rewrap, and a client often keeps its session key."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._keys: OrderedDict[str, PublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, pem: str) -> PublicKey:
        with self._lock:
            key = self._keys.get(pem)
        if key is not None:
            return key
        if "-----BEGIN" not in pem:
            raise RpcError("invalid_argument", "clientPublicKey failure: not a PEM public key")
        try:
            key = load_public_pem(pem)
            if isinstance(key, ec.EllipticCurvePublicKey):
                xec.curve_name(key)
        except UnsupportedError as exc:
            raise RpcError("invalid_argument", f"clientPublicKey unsupported type: {exc}") from None
        except XtdfError as exc:
            raise RpcError("invalid_argument", f"clientPublicKey parse failure: {exc}") from None
        with self._lock:
            self._keys[pem] = key
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
        return key


def _policy_of(body: str) -> tuple[str, list[str]]:
    """(uuid, data attribute FQNs) of a base64 policy; ValueError when it is not one."""
    doc = json.loads(base64.b64decode(body, validate=True))
    if not isinstance(doc, dict):
        raise ValueError("policy is not a JSON object")
    return _policy_fields(doc)


def _policy_fields(doc: dict[str, Any]) -> tuple[str, list[str]]:
    uuid = doc.get("uuid")
    inner = doc.get("body") or {}
    if not isinstance(inner, dict):
        raise ValueError("policy body is not an object")
    attrs = []
    for i, entry in enumerate(inner.get("dataAttributes") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("attribute"), str):
            raise ValueError(f"dataAttributes[{i}] has no attribute string")
        attrs.append(entry["attribute"])
    return (uuid if isinstance(uuid, str) else ""), attrs


class KasService:
    """The handlers of every KAS instance of one platform."""

    def __init__(
        self,
        keyring: KeyRing,
        authorizer: Authorizer,
        audit: AuditLog,
    ) -> None:
        self.keyring = keyring
        self.authorizer = authorizer
        self.audit = audit
        self._client_keys = _ClientKeys()
        self._dpop_keys = srt_mod.KeyCache()

    # -- public keys ---------------------------------------------------------------------

    def _key_for(self, instance: str, algorithm: str) -> KasKey:
        alg = algorithm or DEFAULT_ALGORITHM
        try:
            return self.keyring.active_key(instance, alg)
        except (KeyAccessError, RpcError) as exc:
            detail = exc.message if isinstance(exc, RpcError) else str(exc)
            raise RpcError(
                "not_found", f"no default key for algorithm {alg!r} at KAS {instance!r}: {detail}"
            ) from None

    def public_key(self, req: pb.PublicKeyRequest, ctx: CallContext) -> pb.PublicKeyResponse:
        fmt = req.fmt.lower()
        if fmt not in FORMATS:
            raise RpcError("not_found", f"invalid algorithm or format: unknown fmt {req.fmt!r}")
        key = self._key_for(ctx.instance, req.algorithm)
        value = key.public_pem if fmt != "jwk" else json.dumps(_jwk(key), separators=(",", ":"))
        # v=1 clients predate key ids: the Go KAS hides the kid from them
        return pb.PublicKeyResponse(public_key=value, kid="" if req.v == "1" else key.kid)

    def legacy_public_key(
        self, req: pb.LegacyPublicKeyRequest, ctx: CallContext
    ) -> wrappers_pb2.StringValue:
        return wrappers_pb2.StringValue(value=self._key_for(ctx.instance, req.algorithm).public_pem)

    # -- rewrap --------------------------------------------------------------------------

    @staticmethod
    def small_rewrap(req: pb.RewrapRequest) -> bool:
        return len(req.signed_request_token) <= INLINE_TOKEN_BYTES

    def _refuse(self, ctx: CallContext, err: RpcError) -> RpcError:
        self.audit.record(
            instance=ctx.instance, decision=DENY, reason=err.message, claims=ctx.claims
        )
        return err

    def _body(self, req: pb.RewrapRequest, ctx: CallContext) -> RewrapBody:
        if ctx.claims is None:
            raise RpcError("unauthenticated", "missing access token")
        token = srt_mod.parse(req.signed_request_token)
        if ctx.dpop_jwk is not None:
            srt_mod.verify(token, self._dpop_keys.get(ctx.dpop_jkt, ctx.dpop_jwk))
        return parse_body(token.request_body)

    def rewrap(self, req: pb.RewrapRequest, ctx: CallContext) -> pb.RewrapResponse:
        try:
            body = self._body(req, ctx)
            client_key = self._client_keys.get(body.client_public_key)
        except RpcError as err:
            raise self._refuse(ctx, err) from None
        claims = ctx.claims or {}
        work = [self._verify_policy(ctx, r) for r in body.requests]
        self._authorize(work, claims, ctx)
        session = _Session(client_key)
        for pw in work:
            for out in pw.outcomes:
                if out.failure is None and out.share is not None:
                    try:
                        salt = xec.NANO_V1_SALT if out.nano else xec.TDF_SALT
                        out.wrapped = session.wrap(out.share, salt)
                    except XtdfError as exc:
                        out.failure = KaoFailure(
                            "invalid_argument", "bad key for rewrap", f"rewrap to client: {exc}"
                        )
                self._audit(ctx, pw, out)
        return self._response(body, work, session)

    def _verify_policy(self, ctx: CallContext, req: PolicyRequest) -> _PolicyWork:
        pw = _PolicyWork(req)
        policy_error: KaoFailure | None = None
        if not req.id:
            policy_error = KaoFailure("invalid_argument", "policy id is missing")
        tdf3 = [k for k in req.kaos if not k.header]
        if tdf3 and policy_error is None:
            try:
                pw.uuid, pw.attributes = _policy_of(req.body)
            except (ValueError, TypeError, RecursionError) as exc:
                # a corrupt policy may be tampering: generic answer, as upstream
                policy_error = KaoFailure(
                    "invalid_argument", BAD_REQUEST, f"policy body is not base64 JSON: {exc}"
                )
        for kao in req.kaos:
            out = _Outcome(kao, nano=bool(kao.header))
            pw.outcomes.append(out)
            if policy_error is not None:
                out.failure = policy_error
                continue
            try:
                if out.nano:
                    from xtdf.platform.kas import nano

                    if len(req.kaos) != 1:
                        raise KaoFailure(
                            "invalid_argument", "NanoTDFs should not have multiple KAOs per Policy"
                        )
                    got = nano.unwrap(self.keyring, ctx.instance, kao)
                    out.share, out.kid = got.share, got.kid
                    pw.uuid, pw.attributes = got.uuid, got.attributes
                else:
                    got3 = unwrap(self.keyring, ctx.instance, kao)
                    out.kid = got3.kid
                    verify_binding(got3.share, req.body, kao)
                    out.share = got3.share
            except KaoFailure as exc:
                out.failure = exc
        return pw

    def _authorize(self, work: list[_PolicyWork], claims: dict[str, Any], ctx: CallContext) -> None:
        entitled: set[str] | None = None
        for pw in work:
            live = [o for o in pw.outcomes if o.failure is None]
            if not live:
                continue
            try:
                if pw.attributes:
                    if entitled is None:
                        entitled = self.authorizer.entitlements(claims, action="read")
                    decision = self.authorizer.decide_entitled(entitled, pw.attributes)
                    permit, reason = decision.permit, decision.reason
                else:
                    permit, reason = True, "no attributes on the data"
            except Exception as exc:  # the PDP failing must deny, never release
                reason = f"access evaluation failed: {exc}"
                for o in live:
                    o.failure = KaoFailure("internal", "internal: access evaluation failed", reason)
                continue
            if not permit:
                for o in live:
                    o.failure = KaoFailure("permission_denied", "forbidden", f"forbidden: {reason}")
            else:
                for o in live:
                    o.reason = reason

    def _audit(self, ctx: CallContext, pw: _PolicyWork, out: _Outcome) -> None:
        ok = out.failure is None and out.wrapped is not None
        if ok:
            reason = out.reason or "permitted"
        else:
            reason = out.failure.reason if out.failure else "not processed"

        self.audit.record(
            instance=ctx.instance,
            decision=PERMIT if ok else DENY,
            reason=reason,
            claims=ctx.claims,
            kid=out.kid or out.kao.kid,
            policy_uuid=pw.uuid,
            policy_id=pw.req.id,
            kao_id=out.kao.id,
            tdf_format="nano" if out.nano else "tdf3",
        )

    def _response(
        self, body: RewrapBody, work: list[_PolicyWork], session: _Session
    ) -> pb.RewrapResponse:
        resp = pb.RewrapResponse(session_public_key=session.session_pem)
        for pw in work:
            pr = resp.responses.add(policy_id=pw.req.id)
            for out in pw.outcomes:
                r = pr.results.add(key_access_object_id=out.kao.id)
                r.metadata[OBLIGATIONS_KEY].list_value.SetInParent()
                if out.failure is None and out.wrapped is not None:
                    r.status = PERMIT_STATUS
                    r.kas_wrapped_key = out.wrapped
                else:
                    r.status = FAILED_STATUS
                    r.error = out.failure.error_text if out.failure else "kao not processed by kas"
        if body.is_v1:
            (out,) = work[0].outcomes
            if out.failure is not None or out.wrapped is None:
                failure = out.failure or KaoFailure("internal", "kao not processed by kas")
                raise RpcError(failure.code, failure.error_text.split(": ", 1)[1])
            resp.entity_wrapped_key = out.wrapped
        return resp


def _jwk(key: KasKey) -> dict[str, str]:
    from xtdf.client.jose import public_jwk

    jwk = public_jwk(key.private)  # type: ignore[arg-type]
    return {**jwk, "kid": key.kid}
