"""The key provider configuration part of the policy store.

Upstream's KAS can keep keys in an external key manager, configured by these records
(a name and a JSON document the manager reads). The local platform stores and serves
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

    def _provider_row(self, ident: str, *, by_name: bool = False) -> sqlite3.Row:
        column = "name" if by_name else "id"
        value = required("identifier", ident)
        return self._row(
            f"SELECT * FROM policy_provider_configs WHERE {column} = ?",
            [value.strip().lower() if by_name else value],
            f"provider config {ident!r}",
        )

    @staticmethod
    def _provider(row: sqlite3.Row) -> po.KeyProviderConfig:
        return po.KeyProviderConfig(
            id=row["id"],
            name=row["name"],
            config_json=bytes(row["config_json"]),
            metadata=metadata_of(row),
        )

    def get_provider(self, ident: str, *, by_name: bool = False) -> po.KeyProviderConfig:
        return self._provider(self._provider_row(ident, by_name=by_name))

    def list_providers(self) -> list[po.KeyProviderConfig]:
        rows = self.db.query("SELECT * FROM policy_provider_configs ORDER BY name")
        return [self._provider(r) for r in rows]

    def create_provider(
        self, name: str, config: bytes, metadata: common_pb2.MetadataMutable | None = None
    ) -> po.KeyProviderConfig:
        norm = check_name("name", name)
        row_id = new_id()
        self._insert(
            "policy_provider_configs",
            {
                "id": row_id,
                "name": norm,
                "config_json": _config(config),
                "labels": labels_json(metadata),
            },
            f"provider config {norm!r}",
        )
        return self.get_provider(row_id)

    def update_provider(
        self,
        ident: str,
        name: str,
        config: bytes,
        metadata: common_pb2.MetadataMutable | None,
        behavior: int,
    ) -> po.KeyProviderConfig:
        row = self._provider_row(ident)
        values: dict[str, Any] = {}
        if name:
            values["name"] = check_name("name", name)
        if config:
            values["config_json"] = _config(config)
        self._apply(
            "policy_provider_configs",
            row,
            values,
            metadata,
            behavior,
            taken=f"provider config {name!r} already exists",
        )
        return self.get_provider(row["id"])

    def delete_provider(self, ident: str) -> po.KeyProviderConfig:
        provider = self.get_provider(ident)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM policy_provider_configs WHERE id = ?", [provider.id])
        return provider
