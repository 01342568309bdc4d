"""The KAS registry part of the policy store: KASes, their keys, grants, the base key."""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

from xtdf._proto.common import common_pb2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.crypto.encoding import b64encode
from xtdf.platform.policy import algorithms
from xtdf.platform.policy.base import StoreBase, labels_json, metadata_of, new_id
from xtdf.platform.policy.fqn import attribute_fqn, check_name, namespace_fqn, value_fqn
from xtdf.platform.rpc import RpcError


class KasRegistry(StoreBase):
    """KASes, KAS keys, KAS grants and key mappings on policy objects, the base key."""

    def create_kas(
        self,
        uri: str,
        name: str = "",
        public_key: po.PublicKey | None = None,
        source_type: int = 0,
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.KeyAccessServer:
        uri = uri.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", uri):
            raise RpcError("invalid_argument", f"uri: not an http(s) URI: {uri!r}")
        norm_name = check_name("name", name) if name else None
        kas_id = new_id()
        blob = public_key.SerializeToString() if public_key and public_key.ByteSize() else None
        self._insert(
            "policy_kas",
            {
                "id": kas_id,
                "uri": uri,
                "name": norm_name,
                "public_key": blob,
                "source_type": source_type,
                "labels": labels_json(metadata),
            },
            f"key access server {uri} {norm_name or ''}".rstrip(),
        )
        return self.get_kas(kas_id)

    def move_kas(self, kas_id: str, uri: str) -> None:
        """Point a registered KAS at a new URI."""
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE policy_kas SET uri = ?, updated_at = ? WHERE id = ?",
                    [uri.strip().rstrip("/"), time.time(), kas_id],
                )
        except sqlite3.IntegrityError as exc:
            raise RpcError("already_exists", f"key access server {uri} already exists") from exc

    def kas_row(self, ident: str) -> sqlite3.Row:
        """A KAS by id, name or URI (trailing slash ignored)."""
        ident = ident.strip()
        return self._row(
            "SELECT * FROM policy_kas WHERE id = ? OR name = ? OR uri = ?",
            [ident, ident.lower(), ident.rstrip("/")],
            f"key access server {ident!r}",
        )

    def _kas(self, row: sqlite3.Row) -> po.KeyAccessServer:
        kas = po.KeyAccessServer(
            id=row["id"],
            uri=row["uri"],
            name=row["name"] or "",
            source_type=row["source_type"],
            metadata=metadata_of(row),
        )
        if row["public_key"]:
            kas.public_key.ParseFromString(row["public_key"])
        keys = self.db.query(
            "SELECT * FROM policy_kas_keys WHERE kas_id = ? ORDER BY created_at", [row["id"]]
        )
        for k in keys:
            kas.kas_keys.append(self._simple_key(k, row))
        if not row["public_key"]:
            # keys SDKs may encrypt to: legacy keys only serve to decrypt old files
            for k in keys:
                if k["status"] == po.KEY_STATUS_ACTIVE and not k["legacy"]:
                    kas.public_key.cached.keys.append(
                        po.KasPublicKey(
                            pem=k["public_pem"],
                            kid=k["key_id"],
                            alg=algorithms.ALGORITHMS[algorithms.from_enum(k["algorithm"])][1],
                        )
                    )
        return kas

    def get_kas(self, ident: str) -> po.KeyAccessServer:
        return self._kas(self.kas_row(ident))

    def list_kas(self) -> list[po.KeyAccessServer]:
        return [self._kas(r) for r in self.db.query("SELECT * FROM policy_kas ORDER BY uri")]

    def update_kas(
        self,
        ident: str,
        *,
        uri: str = "",
        name: str = "",
        public_key: po.PublicKey | None = None,
        source_type: int = 0,
        metadata: common_pb2.MetadataMutable | None = None,
        behavior: int = 0,
    ) -> po.KeyAccessServer:
        """Change what the request sets (empty fields stay as they are), as upstream."""
        if not ident.strip():
            raise RpcError("invalid_argument", "id: required")
        row = self.kas_row(ident)
        values: dict[str, Any] = {}
        if uri:
            new_uri = uri.strip().rstrip("/")
            if not re.match(r"^https?://[^/\s]+", new_uri):
                raise RpcError("invalid_argument", f"uri: not an http(s) URI: {uri!r}")
            values["uri"] = new_uri
        if name:
            values["name"] = check_name("name", name)
        if public_key is not None and public_key.ByteSize():
            values["public_key"] = public_key.SerializeToString()
        if source_type:
            values["source_type"] = source_type
        self._apply(
            "policy_kas",
            row,
            values,
            metadata,
            behavior,
            taken=f"key access server {values.get('uri') or name} exists",
        )
        return self.get_kas(row["id"])

    def delete_kas(self, ident: str) -> po.KeyAccessServer:
        """Delete a registration and its grants; one that still has keys is refused (its
        keys wrap files, and may be the base key), as upstream restricts key deletion."""
        if not ident.strip():
            raise RpcError("invalid_argument", "id: required")
        row = self.kas_row(ident)
        kas = self._kas(row)
        if kas.kas_keys:
            raise RpcError(
                "invalid_argument",
                f"key access server {row['uri']} has {len(kas.kas_keys)} key(s): "
                "it cannot be deleted while it has keys",
            )
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM policy_kas_grants WHERE kas_id = ?", [row["id"]])
            conn.execute("DELETE FROM policy_kas WHERE id = ?", [row["id"]])
        return kas

    def kas_grants(
        self, kas_id: str = "", kas_uri: str = "", kas_name: str = ""
    ) -> list[tuple[po.KeyAccessServer, dict[str, list[tuple[str, str]]]]]:
        """Per KAS (filtered by the given id, URI and name, all that are set), the
        namespaces, definitions and values it is granted on, as (id, FQN)."""
        sql, params = "SELECT * FROM policy_kas WHERE 1 = 1", []
        for column, value in (
            ("id", kas_id),
            ("uri", kas_uri.strip().rstrip("/")),
            ("name", kas_name.strip().lower()),
        ):
            if value:
                sql += f" AND {column} = ?"
                params.append(value)
        out = []
        for row in self.db.query(sql + " ORDER BY uri", params):
            grants: dict[str, list[tuple[str, str]]] = {
                "namespace": [],
                "attribute": [],
                "value": [],
            }
            for g in self.db.query(
                "SELECT g.object_type, g.object_id, n.name AS ns, a.name AS attr, v.value"
                " FROM policy_kas_grants g"
                " LEFT JOIN policy_values v ON g.object_type = 'value' AND v.id = g.object_id"
                " LEFT JOIN policy_attributes a ON a.id = CASE g.object_type"
                "   WHEN 'attribute' THEN g.object_id WHEN 'value' THEN v.attribute_id END"
                " LEFT JOIN policy_namespaces n ON n.id = CASE g.object_type"
                "   WHEN 'namespace' THEN g.object_id ELSE a.namespace_id END"
                " WHERE g.kas_id = ? ORDER BY g.object_type, n.name, a.name, v.position",
                [row["id"]],
            ):
                kind = g["object_type"]
                if g["ns"] is None:
                    continue  # the object is gone
                if kind == "namespace":
                    fqn = namespace_fqn(g["ns"])
                elif kind == "attribute":
                    fqn = attribute_fqn(g["ns"], g["attr"])
                else:
                    fqn = value_fqn(g["ns"], g["attr"], g["value"])
                grants[kind].append((g["object_id"], fqn))
            out.append((self._kas(row), grants))
        return out

    # --- KAS keys -------------------------------------------------------------

    def insert_key(
        self,
        kas_id: str,
        key_id: str,
        algorithm: str,
        mode: int,
        public_pem: str,
        wrapped_private: str | None,
        legacy: bool = False,
        metadata: common_pb2.MetadataMutable | None = None,
    ) -> po.KasKey:
        """Store a key row (the key store has validated and wrapped it)."""
        kas = self.kas_row(kas_id)
        if not key_id.strip():
            raise RpcError("invalid_argument", "key_id: required")
        row_id = new_id()
        self._insert(
            "policy_kas_keys",
            {
                "id": row_id,
                "kas_id": kas["id"],
                "key_id": key_id.strip(),
                "algorithm": algorithms.to_enum(algorithm),
                "status": po.KEY_STATUS_ACTIVE,
                "mode": mode,
                "public_pem": public_pem,
                "wrapped_private": wrapped_private,
                "legacy": int(legacy),
                "labels": labels_json(metadata),
            },
            f"key {key_id!r} of key access server {kas['uri']}",
        )
        return self.get_key(row_id)

    def key_row(self, ident: str, kas: str | None = None) -> sqlite3.Row:
        """A key by row id, or by ``kid`` within the KAS named by id, name or URI."""
        base = (
            "SELECT k.*, s.uri AS kas_uri FROM policy_kas_keys k"
            " JOIN policy_kas s ON s.id = k.kas_id"
        )
        if kas:
            kas_row = self.kas_row(kas)
            return self._row(
                base + " WHERE k.kas_id = ? AND k.key_id = ?",
                [kas_row["id"], ident],
                f"key {ident!r} of key access server {kas_row['uri']}",
            )
        return self._row(base + " WHERE k.id = ?", [ident], f"key {ident!r}")

    def _kas_key(self, row: sqlite3.Row) -> po.KasKey:
        key = po.AsymmetricKey(
            id=row["id"],
            key_id=row["key_id"],
            key_algorithm=row["algorithm"],
            key_status=row["status"],
            key_mode=row["mode"],
            public_key_ctx=po.PublicKeyCtx(pem=b64encode(row["public_pem"].encode())),
            legacy=bool(row["legacy"]),
            metadata=metadata_of(row),
        )
        if row["wrapped_private"]:
            key.private_key_ctx.CopyFrom(
                po.PrivateKeyCtx(key_id="root", wrapped_key=row["wrapped_private"])
            )
        return po.KasKey(kas_id=row["kas_id"], kas_uri=row["kas_uri"], key=key)

    def get_key(self, ident: str, kas: str | None = None) -> po.KasKey:
        return self._kas_key(self.key_row(ident, kas))

    def list_keys(
        self, kas: str | None = None, algorithm: int = 0, legacy: bool | None = None
    ) -> list[po.KasKey]:
        sql = (
            "SELECT k.*, s.uri AS kas_uri FROM policy_kas_keys k"
            " JOIN policy_kas s ON s.id = k.kas_id WHERE 1 = 1"
        )
        params: list[Any] = []
        if kas:
            sql += " AND k.kas_id = ?"
            params.append(self.kas_row(kas)["id"])
        if algorithm:
            sql += " AND k.algorithm = ?"
            params.append(algorithm)
        if legacy is not None:
            sql += " AND k.legacy = ?"
            params.append(int(legacy))
        rows = self.db.query(sql + " ORDER BY s.uri, k.created_at", params)
        return [self._kas_key(r) for r in rows]

    def relabel_key(
        self, row_id: str, metadata: common_pb2.MetadataMutable | None, behavior: int
    ) -> None:
        self._relabel("policy_kas_keys", self.key_row(row_id), metadata, behavior)

    def rotate_key(self, old_id: str, new_id: str) -> tuple[dict[str, list[tuple[str, str]]], bool]:
        """Mark ``old_id`` rotated and move its mappings (and the base key) to ``new_id``,
        in one transaction. Returns the moved objects per kind as (id, FQN), and whether
        the base key moved."""
        now = time.time()
        with self.db.transaction() as conn:
            moved_rows = conn.execute(
                "SELECT object_type, object_id FROM policy_key_mappings WHERE key_id = ?",
                [old_id],
            ).fetchall()
            conn.execute(
                "UPDATE OR IGNORE policy_key_mappings SET key_id = ? WHERE key_id = ?",
                [new_id, old_id],
            )
            conn.execute("DELETE FROM policy_key_mappings WHERE key_id = ?", [old_id])
            conn.execute(
                "UPDATE policy_kas_keys SET status = ?, updated_at = ? WHERE id = ?",
                [po.KEY_STATUS_ROTATED, now, old_id],
            )
            base = conn.execute(
                "UPDATE policy_base_key SET key_id = ? WHERE key_id = ?", [new_id, old_id]
            ).rowcount
        moved: dict[str, list[tuple[str, str]]] = {"namespace": [], "attribute": [], "value": []}
        for r in moved_rows:
            moved[r["object_type"]].append(
                (r["object_id"], self._object_fqn(r["object_type"], r["object_id"]))
            )
        return moved, bool(base)

    def _object_fqn(self, kind: str, object_id: str) -> str:
        if kind == "namespace":
            return namespace_fqn(self._namespace_row(object_id)["name"])
        if kind == "attribute":
            row = self._attribute_row(object_id)
            return attribute_fqn(row["ns_name"], row["name"])
        row = self._value_row(object_id)
        return value_fqn(row["ns_name"], row["attr_name"], row["value"])

    def _simple_key(
        self, key_row: sqlite3.Row, kas_row: sqlite3.Row | None = None
    ) -> po.SimpleKasKey:
        if kas_row is None:
            kas_row = self.kas_row(key_row["kas_id"])
        return po.SimpleKasKey(
            kas_uri=kas_row["uri"],
            kas_id=kas_row["id"],
            public_key=po.SimpleKasPublicKey(
                algorithm=key_row["algorithm"], kid=key_row["key_id"], pem=key_row["public_pem"]
            ),
        )

    # --- grants, key mappings and the base key ---------------------------------

    def _object_id(self, kind: str, ident: str) -> str:
        if kind == "namespace":
            return self._namespace_row(ident)["id"]
        if kind == "attribute":
            return self._attribute_row(ident)["id"]
        if kind == "value":
            return self._value_row(ident)["id"]
        raise RpcError("invalid_argument", f"object type {kind!r}: not namespace/attribute/value")

    def assign_grant(self, kind: str, ident: str, kas: str) -> tuple[str, str]:
        """Grant a KAS on a namespace, definition or value (legacy KAS grants)."""
        obj = self._object_id(kind, ident)
        kas_id = self.kas_row(kas)["id"]
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO policy_kas_grants (object_type, object_id, kas_id)"
                " VALUES (?, ?, ?)",
                [kind, obj, kas_id],
            )
        return obj, kas_id

    def remove_grant(self, kind: str, ident: str, kas: str) -> tuple[str, str]:
        """Take a KAS grant off a namespace, definition or value."""
        obj = self._object_id(kind, ident)
        kas_id = self.kas_row(kas)["id"]
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM policy_kas_grants WHERE object_type = ? AND object_id = ?"
                " AND kas_id = ?",
                [kind, obj, kas_id],
            )
        if cur.rowcount == 0:
            raise RpcError("not_found", f"key access server {kas} is not granted on {kind} {ident}")
        return obj, kas_id

    def grants(self, kind: str, object_id: str) -> list[po.KeyAccessServer]:
        rows = self.db.query(
            "SELECT s.* FROM policy_kas_grants g JOIN policy_kas s ON s.id = g.kas_id"
            " WHERE g.object_type = ? AND g.object_id = ? ORDER BY s.uri",
            [kind, object_id],
        )
        return [self._kas(r) for r in rows]

    def assign_key(self, kind: str, ident: str, key_id: str) -> tuple[str, str]:
        """Map a KAS key (by row id) to a namespace, definition or value."""
        obj = self._object_id(kind, ident)
        key = self.key_row(key_id)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO policy_key_mappings (object_type, object_id, key_id)"
                " VALUES (?, ?, ?)",
                [kind, obj, key["id"]],
            )
        return obj, key["id"]

    def remove_key(self, kind: str, ident: str, key_id: str) -> tuple[str, str]:
        obj = self._object_id(kind, ident)
        key = self.key_row(key_id)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM policy_key_mappings WHERE object_type = ? AND object_id = ?"
                " AND key_id = ?",
                [kind, obj, key["id"]],
            )
        if cur.rowcount == 0:
            raise RpcError("not_found", f"key {key_id} is not assigned to {kind} {ident}")
        return obj, key["id"]

    def mapped_keys(self, kind: str, object_id: str) -> list[po.SimpleKasKey]:
        rows = self.db.query(
            "SELECT k.* FROM policy_key_mappings m JOIN policy_kas_keys k ON k.id = m.key_id"
            " WHERE m.object_type = ? AND m.object_id = ? AND k.status = ? ORDER BY k.created_at",
            [kind, object_id, po.KEY_STATUS_ACTIVE],
        )
        return [self._simple_key(r) for r in rows]

    def set_base_key(self, key_id: str) -> tuple[po.SimpleKasKey | None, po.SimpleKasKey]:
        """Make a key (row id) the base key; returns (previous, new)."""
        previous = self.base_key()
        key = self.key_row(key_id)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO policy_base_key (singleton, key_id) VALUES (1, ?)"
                " ON CONFLICT (singleton) DO UPDATE SET key_id = excluded.key_id",
                [key["id"]],
            )
        return previous, self._simple_key(key)

    def base_key(self) -> po.SimpleKasKey | None:
        row = self.db.one(
            "SELECT k.* FROM policy_base_key b JOIN policy_kas_keys k ON k.id = b.key_id"
        )
        return self._simple_key(row) if row else None


def merge_keys_into_grants(obj: po.Namespace | po.Attribute | po.Value) -> None:
    """Also list mapped keys as grants with cached public keys, as upstream does, so that
    SDKs that only understand grants still find the KAS and its key."""
    by_uri = {g.uri: g for g in obj.grants}
    for key in obj.kas_keys:
        grant = by_uri.get(key.kas_uri)
        if grant is None:
            grant = obj.grants.add(id=key.kas_id, uri=key.kas_uri)
            by_uri[key.kas_uri] = grant
        if not grant.public_key.HasField("cached"):
            grant.public_key.cached.SetInParent()
            del grant.public_key.cached.keys[:]
        if any(k.kid == key.public_key.kid for k in grant.public_key.cached.keys):
            continue
        grant.public_key.cached.keys.append(
            po.KasPublicKey(
                kid=key.public_key.kid,
                pem=key.public_key.pem,
                alg=algorithms.ALGORITHMS[algorithms.from_enum(key.public_key.algorithm)][1],
            )
        )
