"""The running platform's state: config, database, IdP, authenticator and the RPC registry.

Services plug in by exposing ``methods(platform) -> list[Method]`` at the top of their
package (``xtdf.platform.kas``, ``.policy``, ``.authz``). They may also publish entries of
the well-known configuration (as the Go services do, e.g. ``base_key``) with
:meth:`Platform.register_wellknown`. A service package that does not exist yet is skipped
with a log line; any error raised while importing one that exists is not hidden.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from typing import Any

from xtdf.platform.auth import Authenticator
from xtdf.platform.config import PlatformConfig
from xtdf.platform.idp.provider import IdentityProvider
from xtdf.platform.roles import RolePolicy
from xtdf.platform.rpc import Method
from xtdf.platform.store import Database

log = logging.getLogger("xtdf.platform")


class Platform:
    def __init__(self, config: PlatformConfig, db: Database | None = None) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.db = db if db is not None else Database(config.db_path)
        self.idp = IdentityProvider(config, self.db)
        self.auth = Authenticator(config, self.idp)
        self.roles = RolePolicy(config.role_policy_extension, config.roles_claim)
        self.methods: dict[str, Method] = {}
        self.services: list[str] = []
        self.skipped: list[str] = []
        self._wellknown: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- registration ------------------------------------------------------------------

    def register(self, methods: list[Method]) -> None:
        for m in methods:
            if not isinstance(m, Method):
                raise TypeError(f"not an xtdf.platform.rpc.Method: {m!r}")
            if m.path in self.methods:
                raise ValueError(f"RPC {m.path} registered twice")
            self.methods[m.path] = m

    def register_wellknown(self, namespace: str, value: Any) -> None:
        """Publish ``value`` under ``namespace`` in the well-known configuration."""
        with self._lock:
            self._wellknown[namespace] = value

    def wellknown_extra(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._wellknown)

    def load_services(self) -> None:
        """Import each configured service package and register its methods."""
        from xtdf.platform import wellknown

        self.register(wellknown.methods(self))
        for name in self.config.services:
            module_name = f"xtdf.platform.{name}"
            if importlib.util.find_spec(module_name) is None:
                log.warning("service %s not present yet; not served", module_name)
                self.skipped.append(name)
                continue
            module = importlib.import_module(module_name)
            factory = getattr(module, "methods", None)
            if not callable(factory):
                log.warning("service %s has no methods(platform); not served", module_name)
                self.skipped.append(name)
                continue
            self.register(list(factory(self)))
            self.services.append(name)
            log.info("service %s registered", module_name)

    def method(self, path: str) -> Method | None:
        return self.methods.get(path)
