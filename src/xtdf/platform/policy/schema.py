"""SQLite tables of the policy service (created idempotently at startup).

Nested policy structures that are only ever read whole (subject sets, actions, a KAS's
explicitly registered public key) are stored as serialised protobuf blobs: they are
never queried by their parts, and the protobuf encoding is already our wire format.
"""

from __future__ import annotations

from xtdf.platform.store import Database

#: key provider configs are unique per name and manager (upstream's provider_config table)
PROVIDER_CONFIGS = """
CREATE TABLE IF NOT EXISTS policy_provider_configs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    manager TEXT NOT NULL DEFAULT 'opentdf.io/unspecified',
    config_json BLOB NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (name, manager)
);
"""

DDL = (
    """
CREATE TABLE IF NOT EXISTS policy_namespaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_attributes (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES policy_namespaces(id),
    name TEXT NOT NULL,
    rule INTEGER NOT NULL,
    allow_traversal INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (namespace_id, name)
);
CREATE TABLE IF NOT EXISTS policy_values (
    id TEXT PRIMARY KEY,
    attribute_id TEXT NOT NULL REFERENCES policy_attributes(id),
    value TEXT NOT NULL,
    position INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (attribute_id, value)
);
CREATE TABLE IF NOT EXISTS policy_kas (
    id TEXT PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    name TEXT UNIQUE,
    public_key BLOB,
    source_type INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_kas_keys (
    id TEXT PRIMARY KEY,
    kas_id TEXT NOT NULL REFERENCES policy_kas(id),
    key_id TEXT NOT NULL,
    algorithm INTEGER NOT NULL,
    status INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    public_pem TEXT NOT NULL,
    wrapped_private TEXT,
    legacy INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (kas_id, key_id)
);
CREATE TABLE IF NOT EXISTS policy_kas_grants (
    object_type TEXT NOT NULL CHECK (object_type IN ('namespace', 'attribute', 'value')),
    object_id TEXT NOT NULL,
    kas_id TEXT NOT NULL REFERENCES policy_kas(id),
    PRIMARY KEY (object_type, object_id, kas_id)
);
CREATE TABLE IF NOT EXISTS policy_key_mappings (
    object_type TEXT NOT NULL CHECK (object_type IN ('namespace', 'attribute', 'value')),
    object_id TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES policy_kas_keys(id),
    PRIMARY KEY (object_type, object_id, key_id)
);
CREATE TABLE IF NOT EXISTS policy_base_key (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    key_id TEXT NOT NULL REFERENCES policy_kas_keys(id)
);
CREATE TABLE IF NOT EXISTS policy_condition_sets (
    id TEXT PRIMARY KEY,
    namespace_id TEXT REFERENCES policy_namespaces(id),
    subject_sets BLOB NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_actions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    is_standard INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_resource_mapping_groups (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES policy_namespaces(id),
    name TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (namespace_id, name)
);
CREATE TABLE IF NOT EXISTS policy_resource_mappings (
    id TEXT PRIMARY KEY,
    value_id TEXT NOT NULL REFERENCES policy_values(id),
    terms TEXT NOT NULL,
    group_id TEXT REFERENCES policy_resource_mapping_groups(id),
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_registered_resources (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_registered_resource_values (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES policy_registered_resources(id),
    value TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (resource_id, value)
);
CREATE TABLE IF NOT EXISTS policy_registered_resource_action_values (
    id TEXT PRIMARY KEY,
    resource_value_id TEXT NOT NULL REFERENCES policy_registered_resource_values(id),
    action_id TEXT NOT NULL REFERENCES policy_actions(id),
    attribute_value_id TEXT NOT NULL REFERENCES policy_values(id),
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (resource_value_id, action_id, attribute_value_id)
);
"""
    + PROVIDER_CONFIGS
    + """CREATE TABLE IF NOT EXISTS policy_subject_mappings (
    id TEXT PRIMARY KEY,
    value_id TEXT NOT NULL REFERENCES policy_values(id),
    condition_set_id TEXT NOT NULL REFERENCES policy_condition_sets(id),
    namespace_id TEXT REFERENCES policy_namespaces(id),
    actions BLOB NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""
)

#: a state directory made before provider configs had a manager: the table is rebuilt with
#: it (each old record gets upstream's default) and with uniqueness per name and manager
PROVIDER_MANAGER_UPGRADE = (
    """
BEGIN;
ALTER TABLE policy_provider_configs RENAME TO policy_provider_configs_before_manager;
"""
    + PROVIDER_CONFIGS
    + """
INSERT INTO policy_provider_configs (id, name, config_json, labels, created_at, updated_at)
    SELECT id, name, config_json, labels, created_at, updated_at
    FROM policy_provider_configs_before_manager;
DROP TABLE policy_provider_configs_before_manager;
COMMIT;
"""
)


def migrate(db: Database) -> None:
    """Create what is missing, then bring an older state directory's tables up to date."""
    db.migrate(DDL)
    columns = {r["name"] for r in db.query("PRAGMA table_info(policy_provider_configs)")}
    if "manager" not in columns:
        db.migrate(PROVIDER_MANAGER_UPGRADE)
