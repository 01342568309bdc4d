"""Where the platform is and who we are: flags first, then upstream's ``test.env`` names.

Upstream's cross-SDK suite configures every SDK through ``PLATFORMURL``, ``KASURL``,
``CLIENTID``, ``CLIENTSECRET`` and ``KCFULLURL``/``TOKENENDPOINT``; using the same names
means our client runs unchanged inside that suite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from xtdf.errors import UsageError

DEFAULT_PLATFORM_URL = "http://localhost:8080"


@dataclass(frozen=True)
class ClientConfig:
    platform_url: str = DEFAULT_PLATFORM_URL
    #: the default KAS for encryption without attributes (``KASURL``)
    kas_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    #: OAuth token endpoint; discovered from the platform's well-known configuration if empty
    token_endpoint: str = ""
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.platform_url.startswith(("http://", "https://")):
            raise UsageError(
                f"platform URL must start with http:// or https://: {self.platform_url!r}"
            )
        object.__setattr__(self, "platform_url", self.platform_url.rstrip("/"))
        if not self.kas_url:
            object.__setattr__(self, "kas_url", self.platform_url + "/kas")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: str | float | None
    ) -> ClientConfig:
        """Build from the environment; non-empty ``overrides`` (from flags) win."""
        env = os.environ if env is None else env
        token_endpoint = env.get("TOKENENDPOINT", "")
        if not token_endpoint and env.get("KCFULLURL"):
            token_endpoint = env["KCFULLURL"].rstrip("/") + "/protocol/openid-connect/token"
        values: dict[str, str | float] = {
            "platform_url": env.get("PLATFORMURL") or DEFAULT_PLATFORM_URL,
            "kas_url": env.get("KASURL", ""),
            "client_id": env.get("CLIENTID", ""),
            "client_secret": env.get("CLIENTSECRET", ""),
            "token_endpoint": token_endpoint,
        }
        values.update({k: v for k, v in overrides.items() if v not in (None, "")})
        return cls(**values)  # type: ignore[arg-type]
