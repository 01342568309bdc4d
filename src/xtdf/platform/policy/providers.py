"""The key provider configuration part of the policy store.

Upstream's KAS can keep keys in an external key manager, configured by these records
(a name, the kind of key manager, and a JSON document that manager reads; names are
unique per manager). The local platform stores and serves
them, so that otdfctl's ``keymanagement provider`` commands work against it; its own KAS
keeps every key under its root key and never reads them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.policy.base import (
    StoreBase,
    labels_json,
    metadata_of,
    new_id,
    required,
)
from xtdf.platform.policy.fqn import check_name
from xtdf.platform.rpc import RpcError

#: a provider's configuration is a small JSON document; anything larger is refused
MAX_CONFIG_BYTES = 64 * 1024
#: what upstream records for a provider created without one (older clients send none)
UNSPECIFIED_MANAGER = "opentdf.io/unspecified"
MAX_MANAGER_CHARS = 253


def _manager(raw: str) -> str:
    manager = raw.strip()
    if len(manager) > MAX_MANAGER_CHARS or any(c.isspace() or not c.isprintable() for c in manager):
        raise RpcError(
            "invalid_argument",
            f"manager: at most {MAX_MANAGER_CHARS} printable characters, no spaces",
        )
    return manager


def _config(raw: bytes) -> bytes:
    if not raw:
        raise RpcError("invalid_argument", "config_json: required")
    if len(raw) > MAX_CONFIG_BYTES:
        raise RpcError("invalid_argument", f"config_json: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RpcError("invalid_argument", f"config_json: not JSON: {exc}") from None
    return raw


class ProviderConfigs(StoreBase):
    """``policy.keymanagement.KeyManagementService`` provider configurations."""

    def _provider_row(self, ident: str, *, by_name: bool = False, manager: str = "") -> sqlite3.Row:
        value = required("identifier", ident)
        if not by_name:
            return self._row(
                "SELECT * FROM policy_provider_configs WHERE id = ?",
                [value],
                f"provider config {ident!r}",
            )
        name = value.strip().lower()
        if manager:
            return self._row(
                "SELECT * FROM policy_provider_configs WHERE name = ? AND manager = ?",
                [name, _manager(manager)],
                f"provider config {ident!r} of manager {manager!r}",
            )
        rows = self.db.query("SELECT * FROM policy_provider_configs WHERE name = ?", [name])
        if not rows:
            raise RpcError("not_found", f"provider config {ident!r} not found")
        if len(rows) > 1:
            raise RpcError(
                "invalid_argument",
                f"provider config {ident!r}: {len(rows)} managers have one by that name; "
                "name the manager too",
            )
        return rows[0]

    @staticmethod
    def _provider(row: sqlite3.Row) -> po.KeyProviderConfig:
        return po.KeyProviderConfig(
            id=row["id"],
            name=row["name"],
            manager=row["manager"],
            config_json=bytes(row["config_json"]),
            metadata=metadata_of(row),
        )

    def get_provider(
        self, ident: str, *, by_name: bool = False, manager: str = ""
    ) -> po.KeyProviderConfig:
        return self._provider(self._provider_row(ident, by_name=by_name, manager=manager))

    def list_providers(self) -> list[po.KeyProviderConfig]:
        rows = self.db.query("SELECT * FROM policy_provider_configs ORDER BY name")
        return [self._provider(r) for r in rows]

    def create_provider(
        self,
        name: str,
        config: bytes,
        metadata: common_pb2.MetadataMutable | None = None,
        manager: str = "",
    ) -> po.KeyProviderConfig:
        norm = check_name("name", name)
        kind = _manager(manager) or UNSPECIFIED_MANAGER
        row_id = new_id()
        self._insert(
            "policy_provider_configs",
            {
                "id": row_id,
                "name": norm,
                "manager": kind,
                "config_json": _config(config),
                "labels": labels_json(metadata),
            },
            f"provider config {norm!r} of manager {kind!r}",
        )
        return self.get_provider(row_id)

    def update_provider(
        self,
        ident: str,
        name: str,
        config: bytes,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
        manager: str = "",
    ) -> po.KeyProviderConfig:
        row = self._provider_row(ident)
        values: dict[str, Any] = {}
        if name:
            values["name"] = check_name("name", name)
        if config:
            values["config_json"] = _config(config)
        if kind := _manager(manager):
            values["manager"] = kind
        self._apply(
            "policy_provider_configs",
            row,
            values,
            metadata,
            behavior,
            taken=f"provider config {name or row['name']!r} of manager "
            f"{manager or row['manager']!r} already exists",
        )
        return self.get_provider(row["id"])

    def delete_provider(self, ident: str) -> po.KeyProviderConfig:
        provider = self.get_provider(ident)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM policy_provider_configs WHERE id = ?", [provider.id])
        return provider
