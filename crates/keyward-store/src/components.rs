//! The parts of a node's state, their schema versions, and the migrations between them.
//!
//! Each component owns some tables and has its own schema version, recorded in the
//! `components` registry. A binary knows the version it writes for each component
//! ([`COMPONENTS`]) and every step from older ones ([`MIGRATIONS`]). Opening a store whose
//! registry is older refuses with "run keyward upgrade"; newer refuses naming both versions.
//! [`plan`] and [`apply_step`] do the upgrade, one step per transaction, so an interrupted
//! upgrade resumes where it stopped.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Error, Result, db};

/// A component as this binary knows it.
#[derive(Debug, Clone, Copy)]
pub struct ComponentSpec {
    pub name: &'static str,
    /// The schema version this binary writes.
    pub version: u32,
    /// Required components are created by `init` and cannot be removed.
    pub required: bool,
    /// Upgraded after these.
    pub depends_on: &'static [&'static str],
    /// Where its data lives.
    pub tables: &'static [&'static str],
    /// For optional components: the statements that create its tables at `version`. Required
    /// components are created with the store.
    pub create: &'static str,
    /// Whether it keeps keys or certificates: removing it then needs `--force` and a backup.
    pub holds_secrets: bool,
}

/// Every component this binary knows, in dependency order.
pub const COMPONENTS: &[ComponentSpec] = &[
    ComponentSpec {
        name: "config",
        version: 2,
        required: true,
        depends_on: &[],
        tables: &["meta", "seal", "keyring", "components", "org_servers"],
        create: "",
        holds_secrets: false,
    },
    ComponentSpec {
        name: "directory",
        version: 1,
        required: true,
        depends_on: &["config"],
        tables: &["tokens"],
        create: "",
        holds_secrets: false,
    },
    ComponentSpec {
        name: "keys",
        version: 1,
        required: true,
        depends_on: &["config"],
        tables: &["objects", "key_versions"],
        create: "",
        holds_secrets: true,
    },
    ComponentSpec {
        name: "audit",
        version: 1,
        required: true,
        depends_on: &["config"],
        tables: &["audit"],
        create: "",
        holds_secrets: false,
    },
    ComponentSpec {
        name: "scheduler",
        version: 1,
        required: false,
        depends_on: &["config"],
        tables: &["backup_schedule", "backup_runs"],
        create: SCHEDULER_V1,
        holds_secrets: false,
    },
    ComponentSpec {
        name: "pki",
        version: 1,
        required: false,
        depends_on: &["config", "keys"],
        tables: &["pki_records"],
        create: PKI_V1,
        holds_secrets: true,
    },
];

/// The optional `pki` component: the certificate authority, people, certificates, escrowed
/// keys and recoveries, as records whose fields the service defines per kind (docs/pki.md).
const PKI_V1: &str = "
CREATE TABLE pki_records (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    parent     TEXT,
    lookup     TEXT,
    doc        TEXT NOT NULL,
    secret     BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX pki_records_lookup ON pki_records(kind, lookup) WHERE lookup IS NOT NULL;
CREATE INDEX pki_records_parent ON pki_records(kind, parent);
";

/// The optional `scheduler` component: the server takes backups on a schedule.
const SCHEDULER_V1: &str = "
CREATE TABLE backup_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    every_secs INTEGER NOT NULL,
    directory  TEXT NOT NULL,
    keep       INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE backup_runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    file        TEXT,
    bytes       INTEGER,
    change_seq  INTEGER,
    outcome     TEXT NOT NULL
);
";

pub fn spec(name: &str) -> Option<&'static ComponentSpec> {
    COMPONENTS.iter().find(|c| c.name == name)
}

/// One step of one component's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub component: &'static str,
    pub from: u32,
    pub to: u32,
    pub describe: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. A schema change adds one here, bumps the component's
/// version in [`COMPONENTS`], and adds a golden data directory of the old version to
/// `tests/vectors/` (see docs/upgrades.md).
pub const MIGRATIONS: &[Migration] = &[Migration {
    component: "config",
    from: 1,
    to: 2,
    describe: "the component registry records when each component was last upgraded",
    sql: "ALTER TABLE components ADD COLUMN upgraded_at TEXT;",
}];

/// A component as the registry records it, with whether its data is really there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub name: String,
    pub version: u32,
    pub installed_at: String,
    pub upgraded_at: Option<String>,
    /// Tables of the component that are missing from the store.
    pub missing_tables: Vec<String>,
}

fn table_exists(conn: &Connection, table: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", params![table], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(db("reading the schema"))?
        > 0)
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})")).map_err(db("reading the schema"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(1))
        .map_err(db("reading the schema"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db("reading the schema"))?;
    Ok(names.iter().any(|n| n == column))
}

/// The registry, read from any schema version.
pub fn registered(conn: &Connection) -> Result<Vec<Registered>> {
    let upgraded = has_column(conn, "components", "upgraded_at")?;
    let sql = if upgraded {
        "SELECT name, schema_version, installed_at, upgraded_at FROM components ORDER BY name"
    } else {
        "SELECT name, schema_version, installed_at, NULL FROM components ORDER BY name"
    };
    let mut stmt = conn.prepare(sql).map_err(db("reading the component registry"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?, r.get(3)?)))
        .map_err(db("reading the component registry"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db("reading the component registry"))?;
    let mut out = Vec::new();
    for (name, version, installed_at, upgraded_at) in rows {
        let mut missing_tables = Vec::new();
        if let Some(spec) = spec(&name) {
            for t in spec.tables {
                if !table_exists(conn, t)? {
                    missing_tables.push((*t).to_owned());
                }
            }
        }
        out.push(Registered { name, version, installed_at, upgraded_at, missing_tables });
    }
    Ok(out)
}

/// What an upgrade would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Migration>,
    /// Registered components whose data is missing: reported and skipped, not fatal.
    pub stale: Vec<Registered>,
    /// Components already at this binary's version.
    pub current: Vec<String>,
}

impl Plan {
    /// "config 1 -> 2" style summary of the whole upgrade, for file names and messages.
    pub fn summary(&self) -> String {
        self.steps.iter().map(|s| format!("{} {}->{}", s.component, s.from, s.to)).collect::<Vec<_>>().join(", ")
    }
}

/// Refuses registries this binary cannot handle: newer versions and unknown components.
pub fn check_not_newer(registry: &[Registered]) -> Result<()> {
    for r in registry {
        match spec(&r.name) {
            None => {
                return Err(Error::UnknownComponent { name: r.name.clone() });
            }
            Some(s) if r.version > s.version => {
                return Err(Error::NewerComponent { name: r.name.clone(), found: r.version, supported: s.version });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The steps that bring every present component to this binary's version, in dependency order.
pub fn plan(conn: &Connection) -> Result<Plan> {
    let registry = registered(conn)?;
    check_not_newer(&registry)?;
    let mut plan = Plan::default();
    for spec in COMPONENTS {
        let Some(r) = registry.iter().find(|r| r.name == spec.name) else { continue };
        if !r.missing_tables.is_empty() {
            plan.stale.push(r.clone());
            continue;
        }
        if r.version == spec.version {
            plan.current.push(spec.name.to_owned());
            continue;
        }
        let mut v = r.version;
        while v < spec.version {
            let step = MIGRATIONS
                .iter()
                .find(|m| m.component == spec.name && m.from == v)
                .ok_or_else(|| Error::Corrupt(format!("no migration for {} from version {v}", spec.name)))?;
            plan.steps.push(*step);
            v = step.to;
        }
    }
    Ok(plan)
}

/// Applies one step and records the new version, in one transaction: a kill -9 leaves the
/// component either at the old version or at the new one.
pub fn apply_step(conn: &mut Connection, step: &Migration, at: &str) -> Result<()> {
    let tx = conn.transaction().map_err(db("starting a migration"))?;
    let current: Option<u32> = tx
        .query_row("SELECT schema_version FROM components WHERE name = ?1", params![step.component], |r| r.get(0))
        .optional()
        .map_err(db("reading the component registry"))?;
    if current != Some(step.from) {
        // Already applied by an earlier, interrupted run.
        return Ok(());
    }
    tx.execute_batch(step.sql).map_err(db("migrating"))?;
    tx.execute("UPDATE components SET schema_version = ?1 WHERE name = ?2", params![step.to, step.component])
        .map_err(db("recording a migration"))?;
    if has_column(&tx, "components", "upgraded_at")? {
        tx.execute("UPDATE components SET upgraded_at = ?1 WHERE name = ?2", params![at, step.component])
            .map_err(db("recording a migration"))?;
    }
    tx.commit().map_err(db("committing a migration"))?;
    Ok(())
}

/// Brings a freshly created store (tables at version 1) to this binary's versions.
pub(crate) fn apply_all(conn: &Connection) -> Result<()> {
    for m in MIGRATIONS {
        conn.execute_batch(m.sql).map_err(db("creating the schema"))?;
    }
    Ok(())
}

/// Creates tables at exactly `versions` (for a rollback to an older binary's schema).
pub(crate) fn apply_up_to(conn: &Connection, versions: &[(String, u32)]) -> Result<()> {
    for m in MIGRATIONS {
        let target = versions.iter().find(|(n, _)| n == m.component).map(|(_, v)| *v).unwrap_or(0);
        if m.to <= target {
            conn.execute_batch(m.sql).map_err(db("creating the schema"))?;
        }
    }
    Ok(())
}

/// Refuses to serve on a registry that is not exactly this binary's.
pub fn check_current(conn: &Connection) -> Result<()> {
    let registry = registered(conn)?;
    check_not_newer(&registry)?;
    for r in &registry {
        if let Some(s) = spec(&r.name)
            && r.version < s.version
        {
            return Err(Error::NeedsUpgrade { name: r.name.clone(), found: r.version, current: s.version });
        }
    }
    Ok(())
}

/// An upgrade in progress on a stopped node's store (the caller holds the directory's lock).
pub struct Upgrader {
    conn: Connection,
}

impl Upgrader {
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let conn = crate::sqlite::open_connection(path)?;
        let layout = crate::sqlite::read_schema_version(&conn)?;
        if layout > crate::SCHEMA_VERSION {
            return Err(Error::NewerSchema { found: layout, supported: crate::SCHEMA_VERSION });
        }
        Ok(Upgrader { conn })
    }

    pub fn registered(&self) -> Result<Vec<Registered>> {
        registered(&self.conn)
    }

    pub fn plan(&self) -> Result<Plan> {
        plan(&self.conn)
    }

    pub fn apply(&mut self, step: &Migration, at: &str) -> Result<()> {
        apply_step(&mut self.conn, step, at)
    }

    /// Removes the registration of an optional component whose data is entirely gone: what
    /// `doctor --fix` does for a stale registration. Refuses anything else.
    pub fn forget_stale(&mut self, name: &str) -> Result<bool> {
        let Some(spec) = spec(name).filter(|s| !s.required) else { return Ok(false) };
        for t in spec.tables {
            if table_exists(&self.conn, t)? {
                return Ok(false);
            }
        }
        self.conn
            .execute("DELETE FROM components WHERE name = ?1", params![name])
            .map_err(db("updating the registry"))?;
        Ok(true)
    }
}

/// Which of `tables` exist in the store at `path`.
pub fn tables_present(path: &std::path::Path, tables: &[&str]) -> Result<Vec<String>> {
    let conn = crate::sqlite::open_connection(path)?;
    let mut out = Vec::new();
    for t in tables {
        if table_exists(&conn, t)? {
            out.push((*t).to_owned());
        }
    }
    Ok(out)
}

/// (count, lowest, highest) sequence numbers of the change log.
pub fn change_log_span(path: &std::path::Path) -> Result<(u64, u64, u64)> {
    let conn = crate::sqlite::open_connection(path)?;
    conn.query_row("SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changelog", [], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
    })
    .map_err(db("reading the change log"))
}
