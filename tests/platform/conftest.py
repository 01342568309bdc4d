"""Fixtures that run the real platform on loopback.

``local_platform`` (session scope) is the one to use from integration tests: it starts
:class:`xtdf.platform.server.PlatformServer` in a background thread of the test process,
with every port (platform, IdP and the six extra KAS instances) on a free ephemeral port
and a fresh temporary state directory, loading all service packages present
(``xtdf.platform.kas``, ``.policy``, ``.authz``). It yields a :class:`LocalPlatform`::

    def test_something(local_platform):
        url = local_platform.url                    # http://localhost:PORT (Connect + REST)
        kas = local_platform.kas_urls["value1"]     # http://localhost:PORT/kas
        tok = local_platform.token()                # access token for opentdf/secret
        hdrs = local_platform.headers(tok)          # {"Authorization": "Bearer ..."}
        httpx.post(url + "/kas.AccessService/Rewrap", json=..., headers=hdrs)

``local_platform.platform`` is the live :class:`~xtdf.platform.core.Platform` (config,
database, IdP, method registry); ``local_platform.token(client_id, dpop_key=key)`` returns
a DPoP-bound token, and ``dpop_proof(key, method, url, token)`` in this module makes the
matching proof header. Clients: ``opentdf``, ``opentdf-sdk``, ``xtdf-alice``, ``xtdf-bob``,
all with secret ``secret`` (see ``xtdf.platform.config.default_clients``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from xtdf.crypto.encoding import b64url_encode
from xtdf.platform.config import PlatformConfig
from xtdf.platform.core import Platform
from xtdf.platform.server import PlatformServer

DpopKey = ECKey | RSAKey


def dpop_proof(
    key: DpopKey,
    method: str,
    url: str,
    token: str | None = None,
    *,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A DPoP proof JWT (RFC 9449) signed by ``key``; keyword claims override defaults."""
    body: dict[str, Any] = {
        "jti": b64url_encode(os.urandom(12)),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if token is not None:
        body["ath"] = b64url_encode(sha256(token.encode()).digest())
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    head = {"alg": alg, "typ": "dpop+jwt", "jwk": key.as_dict(private=False)}
    head.update(header or {})
    return jwt.encode(head, body, key, algorithms=[head["alg"]])


def client_id_sets(client: str) -> list[Any]:
    """A subject condition set that holds for the token whose ``clientId`` is ``client``."""
    from xtdf._proto.policy import objects_pb2 as po

    cond = po.Condition(
        subject_external_selector_value=".clientId",
        operator=po.SUBJECT_MAPPING_OPERATOR_ENUM_IN,
        subject_external_values=[client],
    )
    group = po.ConditionGroup(conditions=[cond], boolean_operator=po.CONDITION_BOOLEAN_TYPE_ENUM_OR)
    return [po.SubjectSet(condition_groups=[group])]


@dataclass
class LocalPlatform:
    server: PlatformServer
    client_id: str = "opentdf"
    client_secret: str = "secret"
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    @property
    def platform(self) -> Platform:
        return self.server.platform

    @property
    def config(self) -> PlatformConfig:
        return self.server.config

    @property
    def url(self) -> str:
        return self.config.platform_url

    @property
    def idp_url(self) -> str:
        return self.config.idp_url

    @property
    def issuer(self) -> str:
        return self.config.issuer

    @property
    def token_url(self) -> str:
        return self.config.token_endpoint

    @property
    def kas_urls(self) -> dict[str, str]:
        """KAS URL per instance, ``default`` included (``<platform>/kas``)."""
        names = ["default", *self.config.kas_ports]
        return {n: self.config.kas_url(n) for n in names}

    def token(self, client_id: str | None = None, *, dpop_key: DpopKey | None = None) -> str:
        """A fresh access token via the real token endpoint (DPoP-bound with ``dpop_key``)."""
        cid = client_id or self.client_id
        client = self.config.client(cid)
        secret = client.secret if client else self.client_secret
        headers = {}
        if dpop_key is not None:
            headers["DPoP"] = dpop_proof(dpop_key, "POST", self.token_url)
        resp = self._http.post(
            self.token_url,
            data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
            headers=headers,
        )
        resp.raise_for_status()
        return resp.json()["access_token"]

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def start_platform(state_dir: os.PathLike[str] | str, **overrides: Any) -> PlatformServer:
    """A started server on free ports; pass config fields as ``overrides``."""
    fields: dict[str, Any] = {
        "state_dir": state_dir,
        "platform_port": 0,
        "idp_port": 0,
        "kas_ports": {n: 0 for n in ("value1", "value2", "attr", "ns", "km1", "km2")},
    }
    fields.update(overrides)
    server = PlatformServer(PlatformConfig(**fields))
    server.start_in_thread()
    return server


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """The real platform with all present services, on free loopback ports (see module doc)."""
    server = start_platform(tmp_path_factory.mktemp("xtdf-platform"))
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()


# -- a platform with only test methods: transports and auth without other services -------


def _test_messages() -> dict[str, type]:
    """Messages of a small test-only proto package, built from a descriptor (no .proto)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="xtdftest/echo.proto", package="xtdftest", syntax="proto3"
    )
    T = descriptor_pb2.FieldDescriptorProto
    specs = {
        "Echo": [
            ("text", 1, T.TYPE_STRING),
            ("number", 2, T.TYPE_INT32),
            ("flag", 3, T.TYPE_BOOL),
            ("blob", 4, T.TYPE_BYTES),
            ("long_name_field", 5, T.TYPE_STRING),
        ],
        "Caller": [
            ("client_id", 1, T.TYPE_STRING),
            ("dpop_jkt", 2, T.TYPE_STRING),
            ("instance", 3, T.TYPE_STRING),
            ("base_url", 4, T.TYPE_STRING),
            ("has_dpop_jwk", 5, T.TYPE_BOOL),
        ],
        "PublicKeyRequest": [
            ("algorithm", 1, T.TYPE_STRING),
            ("fmt", 2, T.TYPE_STRING),
            ("v", 3, T.TYPE_STRING),
        ],
        "PublicKeyResponse": [("public_key", 1, T.TYPE_STRING), ("kid", 2, T.TYPE_STRING)],
    }
    for name, fields in specs.items():
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype in fields:
            msg.field.add(name=fname, number=number, type=ftype, label=T.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"xtdftest.{name}"))
        for name in specs
    }


MESSAGES = _test_messages()
Echo = MESSAGES["Echo"]
Caller = MESSAGES["Caller"]
PublicKeyRequest = MESSAGES["PublicKeyRequest"]
PublicKeyResponse = MESSAGES["PublicKeyResponse"]
TEST_SERVICE = "xtdftest.TestService"
#: role-policy line that opens the test service to any authenticated caller
OPEN_TEST_SERVICE = f"p, role:unknown, {TEST_SERVICE}/*, *, allow"
TEST_PEM = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"


def dummy_methods() -> list:
    """Handlers that expose what the transport gave them, or fail on request."""
    import time as _time

    from xtdf.errors import AccessDeniedError
    from xtdf.platform.rpc import Method, RpcError

    def echo(req: Any, ctx: Any) -> Any:
        if req.text == "refuse":
            raise RpcError("permission_denied", "refused on request")
        if req.text == "denied":
            raise AccessDeniedError("not entitled on request")
        if req.text == "crash":
            raise RuntimeError("secret internals")
        if req.text == "wrong-type":
            return Caller()
        if req.text == "slow":
            _time.sleep(1.0)
        return req

    def whoami(_req: Any, ctx: Any) -> Any:
        claims = ctx.require_claims()
        return Caller(
            client_id=claims.get("client_id", ""),
            dpop_jkt=ctx.dpop_jkt or "",
            instance=ctx.instance,
            base_url=ctx.base_url,
            has_dpop_jwk=ctx.dpop_jwk is not None,
        )

    def thread_name(req: Any, ctx: Any) -> Any:
        import threading

        if req.text:
            return echo(req, ctx)
        return Echo(text=threading.current_thread().name)

    def public_key(req: Any, ctx: Any) -> Any:
        return PublicKeyResponse(public_key=TEST_PEM, kid=f"{ctx.instance}:{req.algorithm}")

    def rewrap(_req: Any, ctx: Any) -> Any:
        return Caller(client_id=ctx.require_claims()["client_id"], instance=ctx.instance)

    return [
        Method(TEST_SERVICE, "Echo", Echo, Echo, echo, auth_required=False, idempotent=True),
        Method(TEST_SERVICE, "AuthedEcho", Echo, Echo, echo),
        Method(TEST_SERVICE, "WhoAmI", Echo, Caller, whoami),
        Method(TEST_SERVICE, "Thread", Echo, Echo, thread_name, auth_required=False),
        Method(
            TEST_SERVICE, "InlineThread", Echo, Echo, thread_name, auth_required=False, inline=True
        ),
        Method(
            "kas.AccessService",
            "PublicKey",
            PublicKeyRequest,
            PublicKeyResponse,
            public_key,
            auth_required=False,
            idempotent=True,
        ),
        Method("kas.AccessService", "Rewrap", Echo, Caller, rewrap),
    ]


@pytest.fixture(scope="session")
def bare_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """A platform serving only :func:`dummy_methods` (no KAS/policy/authz), one extra KAS
    instance ``value1``, and a 64 KiB body limit."""
    server = start_platform(
        tmp_path_factory.mktemp("xtdf-bare"),
        services=[],
        kas_ports={"value1": 0},
        max_body_bytes=64 * 1024,
        # the test service is open to any authenticated caller; the built-in rules still
        # govern kas.AccessService (tests/platform/test_roles.py covers the policy itself)
        role_policy_extension=OPEN_TEST_SERVICE,
    )
    server.platform.register(dummy_methods())
    lp = LocalPlatform(server)
    try:
        yield lp
    finally:
        lp._http.close()
        server.stop()
