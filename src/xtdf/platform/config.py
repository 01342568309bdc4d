"""What the local platform serves and where: ports, realm, OAuth clients, limits.

Defaults reproduce the addresses upstream's cross-SDK suite assumes (its ``xtest/test.env``:
platform ``localhost:8080``, Keycloak ``localhost:8888`` realm ``opentdf``, client
``opentdf``/``secret``; the extra KAS ports of its multi-KAS tests), so SDKs configured for
upstream run against us unchanged. Every port may be ``0`` (pick a free one), which is
what the tests use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xtdf.errors import UsageError
from xtdf.platform.lifecycle import default_state_dir

#: extra KAS instances of upstream's multi-KAS tests and their ports
DEFAULT_KAS_PORTS: dict[str, int] = {
    "value1": 8181,
    "value2": 8282,
    "attr": 8383,
    "ns": 8484,
    "km1": 8585,
    "km2": 8686,
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class OAuthClient(BaseModel):
    """One confidential client of the IdP (client-credentials grant only)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str
    secret: str
    #: extra claims copied into every access token of this client (entitlement tests)
    claims: dict[str, Any] = Field(default_factory=dict)


def default_clients() -> list[OAuthClient]:
    """``opentdf`` (admin) / ``opentdf-sdk`` as upstream's realm, plus two clients with
    user-like claims that entitlement tests can map to different attributes."""
    return [
        OAuthClient(
            client_id="opentdf",
            secret="secret",
            claims={"realm_access": {"roles": ["opentdf-admin", "opentdf-standard"]}},
        ),
        OAuthClient(
            client_id="opentdf-sdk",
            secret="secret",
            claims={"realm_access": {"roles": ["opentdf-standard"]}},
        ),
        OAuthClient(
            client_id="xtdf-alice",
            secret="secret",
            claims={
                "email": "alice@example.com",
                "preferred_username": "alice",
                "groups": ["engineering"],
            },
        ),
        OAuthClient(
            client_id="xtdf-bob",
            secret="secret",
            claims={
                "email": "bob@example.org",
                "preferred_username": "bob",
                "groups": ["sales"],
            },
        ),
    ]


class PlatformConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state_dir: Path = Field(default_factory=lambda: default_state_dir())
    #: interface the sockets bind to
    bind_host: str = "127.0.0.1"
    #: host name that URLs handed to clients use (issuer, token endpoint, KAS URLs)
    public_host: str = "localhost"
    platform_port: int = 8080
    idp_port: int = 8888
    kas_ports: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_KAS_PORTS))
    realm: str = "opentdf"
    #: access-token audience; empty means the platform's URL, as upstream's dev config
    audience: str = ""
    #: more audiences for every access token (``aud`` becomes a list): another platform that
    #: trusts this IdP, as OpenTDF's Go platform checks ``aud`` for its own URL
    extra_audiences: list[str] = Field(default_factory=list)
    clients: list[OAuthClient] = Field(default_factory=default_clients)
    token_lifetime_s: int = Field(default=300, ge=1)
    #: accepted clock skew on token ``exp``/``nbf``/``iat`` (upstream: 1m)
    token_skew_s: int = Field(default=60, ge=0)
    #: how old a DPoP proof may be (upstream ``dpopskew``: 1h)
    dpop_skew_s: int = Field(default=3600, ge=1)
    #: require DPoP-bound tokens everywhere (upstream ``server.auth.dpop.enforce``)
    enforce_dpop: bool = False
    #: refuse path-only DPoP ``htu`` values (upstream ``server.auth.dpop.strict_htu``)
    strict_htu: bool = False
    #: where a token's role names are (dot path), as upstream's ``groups_claim``
    roles_claim: str = "realm_access.roles"
    #: extra casbin lines (``p, role:standard, RESOURCE, ACTION, allow`` or
    #: ``g, TOKEN-ROLE, role:admin``) added to the built-in role policy (roles_policy.csv)
    role_policy_extension: str = ""
    #: largest request body the transports read, after decompression
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    #: request line plus headers of one request (Go's net/http allows 1 MiB, Node 16 KiB;
    #: the largest an SDK sends is a DPoP proof beside a token, a few KiB)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    #: header fields in one request
    max_headers: int = Field(default=100, ge=8)
    #: how long a request's headers may take to arrive (Go's ReadHeaderTimeout)
    header_timeout_s: float = Field(default=10.0, gt=0)
    #: connections open at once across every port and event loop; more are answered 503
    max_connections: int = Field(default=2048, ge=8)
    #: asyncio event loops, each on its own thread, all serving every port: the Python parts
    #: of a request hold the GIL, but RSA and EC operations and socket I/O release it, so a
    #: second loop keeps a second core busy while the first waits on OpenSSL
    event_loops: int = Field(default=2, ge=1, le=16)
    #: upstream ``extra-keys.json`` files (``[{kid, alg, privateKey, cert}]``) imported at
    #: start into every KAS instance as legacy keys: they decrypt, never encrypt new files
    extra_keys: list[Path] = Field(default_factory=list)
    #: where to write the default KAS's public keys as self-signed certificates at start
    #: (``kas-cert.pem`` RSA, ``kas-ec-cert.pem`` EC), as upstream's suite reads them from
    #: its ``PLATFORM_DIR``
    platform_dir: Path | None = None
    #: which service packages to load (``xtdf.platform.<name>``)
    services: list[str] = Field(default_factory=lambda: ["kas", "policy", "authz"])

    @field_validator("platform_port", "idp_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError(f"port {v} out of range 0..65535")
        return v

    @field_validator("kas_ports")
    @classmethod
    def _kas_ports(cls, v: dict[str, int]) -> dict[str, int]:
        for name, port in v.items():
            if not _NAME.match(name) or name == "default":
                raise ValueError(f"invalid KAS instance name {name!r}")
            if not 0 <= port <= 65535:
                raise ValueError(f"port {port} of KAS {name!r} out of range 0..65535")
        return v

    # -- derived addresses --------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.state_dir / "platform.db"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "platform.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "platform.pid"

    def url(self, port: int) -> str:
        return f"http://{self.public_host}:{port}"

    @property
    def platform_url(self) -> str:
        return self.url(self.platform_port)

    @property
    def idp_url(self) -> str:
        return self.url(self.idp_port)

    @property
    def issuer(self) -> str:
        """The realm URL on the IdP port, whichever port minted the token."""
        return f"{self.idp_url}/auth/realms/{self.realm}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def token_audience(self) -> str:
        return self.audience or self.platform_url

    def kas_url(self, instance: str = "default") -> str:
        if instance == "default":
            return self.platform_url + "/kas"
        return self.url(self.kas_ports[instance]) + "/kas"

    def client(self, client_id: str) -> OAuthClient | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def parse_kas_ports(specs: list[str] | None) -> dict[str, int] | None:
    """``NAME=PORT`` options -> mapping; ``none`` alone means no extra KAS."""
    if not specs:
        return None
    if specs == ["none"]:
        return {}
    out = dict(DEFAULT_KAS_PORTS)
    for spec in specs:
        name, sep, port = spec.partition("=")
        if not sep or not port.isdigit():
            raise UsageError(f"--kas expects NAME=PORT, got {spec!r}")
        out[name] = int(port)
    return out
