//! The embedded SQLite backend.
//!
//! One writer thread owns the only write connection and group-commits: it takes every batch
//! that is waiting, applies each in its own savepoint (so one failing batch does not sink the
//! others), commits once (WAL, `synchronous=FULL`: one fsync), then answers every caller.
//! Under load many batches share one fsync; alone, a batch costs one. Readers use a small pool
//! of connections and, thanks to WAL, never wait for the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::rows::*;
use crate::{AuditDurability, ChainHasher, Error, ObjectFilter, Result, SCHEMA_VERSION, Store, db};

/// The most jobs folded into one transaction; bounds the latency a batch can add to others.
const MAX_GROUP: usize = 1024;

/// How long a group made only of queued audit records (nobody waiting on them) may wait for
/// more work before it is committed. Saves an fsync per handful of reads under load; a crash
/// loses at most this much of such records. Any job with a waiter ends the wait at once.
const QUEUED_AUDIT_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

pub(crate) const SCHEMA_V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE seal (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL
);
CREATE TABLE keyring (
    version    INTEGER PRIMARY KEY,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE org_servers (
    server_id     TEXT PRIMARY KEY,
    organization  TEXT NOT NULL,
    site          TEXT NOT NULL,
    server_name   TEXT NOT NULL,
    status        TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    retired_at    TEXT,
    replaced_by   TEXT
);
CREATE TABLE components (
    name           TEXT PRIMARY KEY,
    schema_version INTEGER NOT NULL,
    installed_at   TEXT NOT NULL
);
CREATE TABLE objects (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    key_type        TEXT NOT NULL,
    state           TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    exportable      INTEGER NOT NULL,
    current_version INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    activated_at    TEXT,
    deactivated_at  TEXT,
    destroyed_at    TEXT,
    attributes      TEXT NOT NULL
);
CREATE TABLE key_versions (
    object_id  TEXT NOT NULL REFERENCES objects(id),
    version    INTEGER NOT NULL,
    material   BLOB,
    public_key BLOB,
    created_at TEXT NOT NULL,
    PRIMARY KEY (object_id, version)
);
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    prefixes   TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE TABLE changelog (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    payload   TEXT NOT NULL
);
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
"#;

pub(crate) const PKI_COLUMNS: &str = "kind, id, parent, lookup, doc, secret, created_at, updated_at";

pub(crate) fn pki_row(r: &Row<'_>) -> rusqlite::Result<PkiRow> {
    Ok(PkiRow {
        kind: r.get(0)?,
        id: r.get(1)?,
        parent: r.get(2)?,
        lookup: r.get(3)?,
        doc: r.get(4)?,
        secret: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

enum Job {
    Commit(Vec<Mutation>, SyncSender<Result<Committed>>),
    Audit(AuditEntry, Option<SyncSender<Result<()>>>),
}

impl Job {
    fn has_waiter(&self) -> bool {
        matches!(self, Job::Commit(..) | Job::Audit(_, Some(_)))
    }
}

pub struct SqliteStore {
    path: PathBuf,
    jobs: Mutex<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

pub(crate) fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db("opening the database"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA busy_timeout = 10000;",
    )
    .map_err(db("configuring the database"))?;
    Ok(conn)
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and starts its writer thread. The caller
    /// must hold the data directory's lock.
    pub fn open(path: &Path, hasher: ChainHasher) -> Result<Self> {
        #[cfg(unix)]
        let created = !path.exists();
        let mut conn = open_connection(path)?;
        #[cfg(unix)]
        if created {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        migrate(&mut conn)?;
        let (tx, rx) = channel();
        let chain = ChainState::load(&conn)?;
        let writer = std::thread::Builder::new()
            .name("keyward-store-writer".into())
            .spawn(move || writer_loop(conn, rx, hasher, chain))
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        Ok(SqliteStore {
            path: path.to_owned(),
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match self.readers.lock().map_err(|_| Error::WriterStopped)?.pop() {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 16
        {
            pool.push(conn);
        }
        out
    }

    fn send(&self, job: Job) -> Result<()> {
        let guard = self.jobs.lock().map_err(|_| Error::WriterStopped)?;
        guard.as_ref().ok_or(Error::WriterStopped)?.send(job).map_err(|_| Error::WriterStopped)
    }

    /// Stops the writer after it has finished what is queued, and checkpoints the WAL.
    pub fn close_writer(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Ok(mut w) = self.writer.lock()
            && let Some(handle) = w.take()
        {
            let _ = handle.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close_writer();
    }
}

pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let has_meta: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'", [], |r| r.get::<_, i64>(0))
        .map_err(db("reading the schema"))?
        > 0;
    if !has_meta {
        let tx = conn.transaction().map_err(db("creating the schema"))?;
        tx.execute_batch(SCHEMA_V1).map_err(db("creating the schema"))?;
        crate::components::apply_all(&tx)?;
        tx.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?1)", params![SCHEMA_VERSION.to_string()])
            .map_err(db("creating the schema"))?;
        tx.commit().map_err(db("creating the schema"))?;
        return Ok(());
    }
    let found = read_schema_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(Error::NewerSchema { found, supported: SCHEMA_VERSION });
    }
    crate::components::check_current(conn)
}

pub(crate) fn read_schema_version(conn: &Connection) -> Result<u32> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
        .optional()
        .map_err(db("reading the schema version"))?;
    v.ok_or_else(|| Error::Corrupt("the schema version is missing".into()))?
        .parse()
        .map_err(|_| Error::Corrupt("the schema version is not a number".into()))
}

/// The audit chain's tail, kept by the writer so it need not re-read it for every record.
struct ChainState {
    next_seq: u64,
    last_hash: [u8; 32],
}

impl ChainState {
    fn load(conn: &Connection) -> Result<Self> {
        let last: Option<(u64, Vec<u8>)> = conn
            .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .optional()
            .map_err(db("reading the audit chain"))?;
        Ok(match last {
            None => ChainState { next_seq: 1, last_hash: [0; 32] },
            Some((seq, hash)) => ChainState {
                next_seq: seq + 1,
                last_hash: hash.try_into().map_err(|_| Error::Corrupt("an audit hash is not 32 bytes".into()))?,
            },
        })
    }
}

fn writer_loop(mut conn: Connection, rx: Receiver<Job>, hasher: ChainHasher, mut chain: ChainState) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if !jobs.iter().any(Job::has_waiter) {
            let deadline = std::time::Instant::now() + QUEUED_AUDIT_DELAY;
            while jobs.len() < MAX_GROUP {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(left) {
                    Ok(j) => {
                        let urgent = j.has_waiter();
                        jobs.push(j);
                        if urgent {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        run_group(&mut conn, &mut jobs, hasher, &mut chain);
    }
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

enum Outcome {
    Committed(Committed),
    Audited,
    Failed(Error),
}

fn run_group(conn: &mut Connection, jobs: &mut Vec<Job>, hasher: ChainHasher, chain: &mut ChainState) {
    let saved_chain = (chain.next_seq, chain.last_hash);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
    let result = (|| -> Result<()> {
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db("starting a write"))?;
        for job in jobs.iter() {
            let outcome = match job {
                Job::Commit(batch, _) => apply_in_savepoint(&tx, batch),
                Job::Audit(entry, _) => match append_audit(&tx, entry, hasher, chain) {
                    Ok(()) => Outcome::Audited,
                    Err(e) => Outcome::Failed(e),
                },
            };
            outcomes.push(outcome);
        }
        tx.commit().map_err(db("committing"))
    })();
    if let Err(e) = result {
        // Nothing of this group is durable: every caller hears so, and the chain rewinds.
        chain.next_seq = saved_chain.0;
        chain.last_hash = saved_chain.1;
        let msg = e.to_string();
        let disk_full = matches!(e, Error::DiskFull);
        for job in jobs.drain(..) {
            let err = || {
                if disk_full { Error::DiskFull } else { Error::Corrupt(format!("write failed: {msg}")) }
            };
            match job {
                Job::Commit(_, reply) => {
                    let _ = reply.send(Err(err()));
                }
                Job::Audit(_, Some(reply)) => {
                    let _ = reply.send(Err(err()));
                }
                Job::Audit(_, None) => {}
            }
        }
        return;
    }
    for (job, outcome) in jobs.drain(..).zip(outcomes) {
        match (job, outcome) {
            (Job::Commit(_, reply), Outcome::Committed(c)) => {
                let _ = reply.send(Ok(c));
            }
            (Job::Commit(_, reply), Outcome::Failed(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Audit(_, Some(reply)), Outcome::Failed(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Audit(_, Some(reply)), _) => {
                let _ = reply.send(Ok(()));
            }
            _ => {}
        }
    }
}

fn apply_in_savepoint(tx: &Connection, batch: &[Mutation]) -> Outcome {
    if let Err(e) = tx.execute_batch("SAVEPOINT batch") {
        return Outcome::Failed(db("starting a batch")(e));
    }
    let mut last_seq = 0;
    for m in batch {
        match apply(tx, m) {
            Ok(seq) => last_seq = seq,
            Err(e) => {
                let _ = tx.execute_batch("ROLLBACK TO batch; RELEASE batch");
                return Outcome::Failed(e);
            }
        }
    }
    match tx.execute_batch("RELEASE batch") {
        Ok(()) => Outcome::Committed(Committed { last_seq }),
        Err(e) => Outcome::Failed(db("finishing a batch")(e)),
    }
}

/// Executes one statement through the connection's statement cache: the writer runs the same
/// few statements thousands of times a second.
fn exec(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

fn apply(tx: &Connection, m: &Mutation) -> Result<u64> {
    apply_row(tx, m)?;
    let (entity, entity_id) = m.entity();
    let payload = serde_json::to_string(m).map_err(|e| Error::Corrupt(e.to_string()))?;
    tx.prepare_cached("INSERT INTO changelog(at, entity, entity_id, payload) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut st| st.execute(params![now(), entity, entity_id, payload]))
        .map_err(db("appending to the change log"))?;
    Ok(tx.last_insert_rowid() as u64)
}

/// Applies a mutation's rows without recording it: for [`apply`] and for bulk loads.
pub(crate) fn apply_row(tx: &Connection, m: &Mutation) -> Result<()> {
    let d = |e| db("writing")(e);
    match m {
        Mutation::InsertObject(o) => {
            let taken: bool = tx
                .prepare_cached("SELECT count(*) FROM objects WHERE name = ?1")
                .and_then(|mut st| st.query_row(params![o.name], |r| r.get::<_, i64>(0)))
                .map_err(db("checking a name"))?
                > 0;
            if taken {
                return Err(Error::NameTaken { name: o.name.clone() });
            }
            upsert_object(tx, o)?;
        }
        Mutation::UpdateObject(o) => {
            let n = tx
                .query_row("SELECT count(*) FROM objects WHERE id = ?1", params![o.id], |r| r.get::<_, i64>(0))
                .map_err(d)?;
            if n == 0 {
                return Err(Error::NoSuchObject { id: o.id.clone() });
            }
            upsert_object(tx, o)?;
        }
        Mutation::PutKeyVersion(v) => {
            exec(
                tx,
                "INSERT OR REPLACE INTO key_versions(object_id, version, material, public_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![v.object_id, v.version, v.material, v.public_key, v.created_at],
            )
            .map_err(d)?;
        }
        Mutation::EraseMaterial { object_id } => {
            exec(tx, "UPDATE key_versions SET material = NULL WHERE object_id = ?1", params![object_id]).map_err(d)?;
        }
        Mutation::PutToken(t) => {
            let prefixes = serde_json::to_string(&t.prefixes).map_err(|e| Error::Corrupt(e.to_string()))?;
            exec(
                tx,
                "INSERT OR REPLACE INTO tokens(id, hash, role, prefixes, name, created_at, expires_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![t.id, t.hash, t.role, prefixes, t.name, t.created_at, t.expires_at, t.revoked_at],
            )
            .map_err(d)?;
        }
        Mutation::SetSeal { config } => {
            exec(tx, "INSERT OR REPLACE INTO seal(id, config) VALUES (1, ?1)", params![config]).map_err(d)?;
        }
        Mutation::PutKeyring(k) => {
            exec(
                tx,
                "INSERT INTO keyring(version, wrapped, created_at) VALUES (?1, ?2, ?3)",
                params![k.version, k.wrapped, k.created_at],
            )
            .map_err(d)?;
        }
        Mutation::SetIdentity(i) => {
            for (key, value) in [
                ("organization", i.organization.clone()),
                ("site", i.site.clone()),
                ("server_name", i.server_name.clone()),
                ("server_id", i.server_id.clone()),
                ("incarnation", i.incarnation.to_string()),
                ("created_at", i.created_at.clone()),
            ] {
                exec(tx, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", params![key, value]).map_err(d)?;
            }
        }
        Mutation::PutComponent(c) => {
            // An upsert that names only the columns every schema version has.
            exec(
                tx,
                "INSERT INTO components(name, schema_version, installed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET schema_version = excluded.schema_version, installed_at = excluded.installed_at",
                params![c.name, c.schema_version, c.installed_at],
            )
            .map_err(d)?;
        }
        Mutation::AddComponent { name, installed_at } => {
            let spec = crate::components::spec(name)
                .filter(|s| !s.required)
                .ok_or_else(|| Error::Corrupt(format!("{name:?} is not an optional component")))?;
            tx.execute_batch(spec.create).map_err(d)?;
            exec(
                tx,
                "INSERT INTO components(name, schema_version, installed_at) VALUES (?1, ?2, ?3)",
                params![name, spec.version, installed_at],
            )
            .map_err(d)?;
        }
        Mutation::RemoveComponent { name } => {
            let spec = crate::components::spec(name)
                .filter(|s| !s.required)
                .ok_or_else(|| Error::Corrupt(format!("{name:?} is not an optional component")))?;
            for t in spec.tables {
                tx.execute_batch(&format!("DROP TABLE IF EXISTS {t}")).map_err(d)?;
            }
            exec(tx, "DELETE FROM components WHERE name = ?1", params![name]).map_err(d)?;
        }
        Mutation::SetSchedule(r) => {
            exec(
                tx,
                "INSERT OR REPLACE INTO backup_schedule(id, every_secs, directory, keep, updated_at) VALUES (1, ?1, ?2, ?3, ?4)",
                params![r.every_secs as i64, r.directory, r.keep, r.updated_at],
            )
            .map_err(d)?;
        }
        Mutation::PutBackupRun(r) => {
            exec(
                tx,
                "INSERT OR REPLACE INTO backup_runs(id, started_at, finished_at, file, bytes, change_seq, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.id as i64,
                    r.started_at,
                    r.finished_at,
                    r.file,
                    r.bytes.map(|b| b as i64),
                    r.change_seq.map(|c| c as i64),
                    r.outcome
                ],
            )
            .map_err(d)?;
        }
        Mutation::PutPki(r) => {
            let result = exec(
                tx,
                "INSERT OR REPLACE INTO pki_records(kind, id, parent, lookup, doc, secret, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![r.kind, r.id, r.parent, r.lookup, r.doc, r.secret, r.created_at, r.updated_at],
            );
            match result {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                    return Err(Error::Duplicate {
                        what: format!("a {} with {:?}", r.kind, r.lookup.as_deref().unwrap_or_default()),
                    });
                }
                other => {
                    other.map_err(d)?;
                }
            }
        }
        Mutation::PutServer(v) => {
            exec(
                tx,
                "INSERT OR REPLACE INTO org_servers(server_id, organization, site, server_name, status, registered_at,
                    retired_at, replaced_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    v.server_id,
                    v.organization,
                    v.site,
                    v.server_name,
                    v.status,
                    v.registered_at,
                    v.retired_at,
                    v.replaced_by
                ],
            )
            .map_err(d)?;
        }
    }
    Ok(())
}

fn upsert_object(tx: &Connection, o: &ObjectRow) -> Result<()> {
    exec(
        tx,
        "INSERT OR REPLACE INTO objects(id, name, key_type, state, enabled, exportable, current_version,
            created_at, updated_at, activated_at, deactivated_at, destroyed_at, attributes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            o.id,
            o.name,
            o.key_type,
            o.state,
            o.enabled,
            o.exportable,
            o.current_version,
            o.created_at,
            o.updated_at,
            o.activated_at,
            o.deactivated_at,
            o.destroyed_at,
            o.attributes
        ],
    )
    .map_err(db("writing an object"))?;
    Ok(())
}

fn append_audit(
    tx: &rusqlite::Transaction<'_>,
    e: &AuditEntry,
    hasher: ChainHasher,
    chain: &mut ChainState,
) -> Result<()> {
    let seq = chain.next_seq;
    let hash = hasher(&chain.last_hash, &AuditRow::canonical_bytes(seq, e));
    tx.prepare_cached(
        "INSERT INTO audit(seq, at, actor, action, target, outcome, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut st| {
        st.execute(params![
            seq as i64,
            e.at,
            e.actor,
            e.action,
            e.target,
            e.outcome,
            e.detail,
            &chain.last_hash[..],
            &hash[..]
        ])
    })
    .map_err(db("appending to the audit log"))?;
    chain.next_seq = seq + 1;
    chain.last_hash = hash;
    Ok(())
}

pub(crate) const OBJECT_COLUMNS: &str = "id, name, key_type, state, enabled, exportable, current_version, created_at, updated_at, \
     activated_at, deactivated_at, destroyed_at, attributes";

pub(crate) fn object_row(r: &Row<'_>) -> rusqlite::Result<ObjectRow> {
    Ok(ObjectRow {
        id: r.get(0)?,
        name: r.get(1)?,
        key_type: r.get(2)?,
        state: r.get(3)?,
        enabled: r.get(4)?,
        exportable: r.get(5)?,
        current_version: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        activated_at: r.get(9)?,
        deactivated_at: r.get(10)?,
        destroyed_at: r.get(11)?,
        attributes: r.get(12)?,
    })
}

pub(crate) fn version_row(r: &Row<'_>) -> rusqlite::Result<KeyVersionRow> {
    Ok(KeyVersionRow {
        object_id: r.get(0)?,
        version: r.get(1)?,
        material: r.get(2)?,
        public_key: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(crate) fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    let prefixes: String = r.get(3)?;
    Ok(TokenRow {
        id: r.get(0)?,
        hash: r.get(1)?,
        role: r.get(2)?,
        prefixes: serde_json::from_str(&prefixes).unwrap_or_default(),
        name: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

/// An audit row from `SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash`.
pub(crate) fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get::<_, i64>(0)? as u64,
        entry: AuditEntry {
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
            detail: r.get(6)?,
        },
        prev_hash: hash32(r.get(7)?)?,
        hash: hash32(r.get(8)?)?,
    })
}

pub(crate) fn hash32(v: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    v.try_into().map_err(|_| rusqlite::Error::InvalidColumnType(0, "hash".into(), rusqlite::types::Type::Blob))
}

pub(crate) fn read_identity(c: &Connection) -> Result<Option<IdentityRow>> {
    let mut stmt = c.prepare_cached("SELECT key, value FROM meta").map_err(db("reading identity"))?;
    let mut map = std::collections::HashMap::new();
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(db("reading identity"))?;
    for row in rows {
        let (k, v) = row.map_err(db("reading identity"))?;
        map.insert(k, v);
    }
    let Some(server_id) = map.remove("server_id") else {
        return Ok(None);
    };
    let mut take = |k: &str| map.remove(k).unwrap_or_default();
    Ok(Some(IdentityRow {
        organization: take("organization"),
        site: take("site"),
        server_name: take("server_name"),
        server_id,
        incarnation: take("incarnation").parse().map_err(|_| Error::Corrupt("incarnation is not a number".into()))?,
        created_at: take("created_at"),
    }))
}

pub(crate) fn read_seal_config(c: &Connection) -> Result<Option<String>> {
    c.query_row("SELECT config FROM seal WHERE id = 1", [], |r| r.get(0)).optional().map_err(db("reading the seal"))
}

pub(crate) fn read_keyring(c: &Connection) -> Result<Vec<KeyringRow>> {
    let mut stmt = c
        .prepare_cached("SELECT version, wrapped, created_at FROM keyring ORDER BY version")
        .map_err(db("reading the keyring"))?;
    let rows = stmt
        .query_map([], |r| Ok(KeyringRow { version: r.get(0)?, wrapped: r.get(1)?, created_at: r.get(2)? }))
        .map_err(db("reading the keyring"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading the keyring"))
}

pub(crate) fn read_components(c: &Connection) -> Result<Vec<ComponentRow>> {
    let mut stmt = c
        .prepare_cached("SELECT name, schema_version, installed_at FROM components ORDER BY name")
        .map_err(db("reading components"))?;
    let rows = stmt
        .query_map([], |r| Ok(ComponentRow { name: r.get(0)?, schema_version: r.get(1)?, installed_at: r.get(2)? }))
        .map_err(db("reading components"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading components"))
}

pub(crate) fn read_servers(c: &Connection) -> Result<Vec<ServerRow>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT server_id, organization, site, server_name, status, registered_at, retired_at, replaced_by
             FROM org_servers ORDER BY registered_at, server_id",
        )
        .map_err(db("reading the organisation"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ServerRow {
                server_id: r.get(0)?,
                organization: r.get(1)?,
                site: r.get(2)?,
                server_name: r.get(3)?,
                status: r.get(4)?,
                registered_at: r.get(5)?,
                retired_at: r.get(6)?,
                replaced_by: r.get(7)?,
            })
        })
        .map_err(db("reading the organisation"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading the organisation"))
}

/// The `scheduler` component's schedule; `None` when the component is not installed or no
/// schedule is set.
pub(crate) fn read_schedule(conn: &Connection) -> Result<Option<ScheduleRow>> {
    let installed: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'backup_schedule'", [], |r| {
            r.get(0)
        })
        .map_err(db("reading the schema"))?;
    if installed == 0 {
        return Ok(None);
    }
    conn.query_row("SELECT every_secs, directory, keep, updated_at FROM backup_schedule WHERE id = 1", [], |r| {
        Ok(ScheduleRow {
            every_secs: r.get::<_, i64>(0)? as u64,
            directory: r.get(1)?,
            keep: r.get(2)?,
            updated_at: r.get(3)?,
        })
    })
    .optional()
    .map_err(db("reading the backup schedule"))
}

impl Store for SqliteStore {
    fn schema_version(&self) -> Result<u32> {
        self.read(read_schema_version)
    }

    fn identity(&self) -> Result<Option<IdentityRow>> {
        self.read(read_identity)
    }

    fn seal_config(&self) -> Result<Option<String>> {
        self.read(read_seal_config)
    }

    fn keyring(&self) -> Result<Vec<KeyringRow>> {
        self.read(read_keyring)
    }

    fn components(&self) -> Result<Vec<ComponentRow>> {
        self.read(read_components)
    }

    fn object(&self, id: &str) -> Result<Option<ObjectRow>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE id = ?1"))
                .and_then(|mut s| s.query_row(params![id], object_row).optional())
                .map_err(db("reading an object"))
        })
    }

    fn object_by_name(&self, name: &str) -> Result<Option<ObjectRow>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE name = ?1"))
                .and_then(|mut s| s.query_row(params![name], object_row).optional())
                .map_err(db("reading an object"))
        })
    }

    fn list_objects(&self, f: &ObjectFilter) -> Result<Vec<ObjectRow>> {
        self.read(|c| {
            let mut sql = format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE 1=1");
            let mut args: Vec<String> = Vec::new();
            if let Some(p) = &f.name_prefix {
                args.push(p.clone());
                sql.push_str(&format!(" AND substr(name, 1, length(?{n})) = ?{n}", n = args.len()));
            }
            if let Some(t) = &f.key_type {
                args.push(t.clone());
                sql.push_str(&format!(" AND key_type = ?{}", args.len()));
            }
            if let Some(s) = &f.state {
                args.push(s.clone());
                sql.push_str(&format!(" AND state = ?{}", args.len()));
            }
            if let Some(a) = &f.after {
                args.push(a.clone());
                sql.push_str(&format!(" AND name > ?{}", args.len()));
            }
            sql.push_str(&format!(" ORDER BY name LIMIT {}", f.limit.max(1)));
            let mut stmt = c.prepare(&sql).map_err(db("listing objects"))?;
            let rows =
                stmt.query_map(rusqlite::params_from_iter(args.iter()), object_row).map_err(db("listing objects"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("listing objects"))
        })
    }

    fn key_versions(&self, object_id: &str) -> Result<Vec<KeyVersionRow>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT object_id, version, material, public_key, created_at FROM key_versions
                     WHERE object_id = ?1 ORDER BY version",
                )
                .map_err(db("reading key versions"))?;
            let rows = stmt.query_map(params![object_id], version_row).map_err(db("reading key versions"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading key versions"))
        })
    }

    fn key_version(&self, object_id: &str, version: u32) -> Result<Option<KeyVersionRow>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT object_id, version, material, public_key, created_at FROM key_versions
                 WHERE object_id = ?1 AND version = ?2",
            )
            .and_then(|mut s| s.query_row(params![object_id, version], version_row).optional())
            .map_err(db("reading a key version"))
        })
    }

    fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, hash, role, prefixes, name, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?1",
            )
            .and_then(|mut s| s.query_row(params![hash], token_row).optional())
            .map_err(db("reading a token"))
        })
    }

    fn list_tokens(&self) -> Result<Vec<TokenRow>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, hash, role, prefixes, name, created_at, expires_at, revoked_at FROM tokens ORDER BY id",
                )
                .map_err(db("listing tokens"))?;
            let rows = stmt.query_map([], token_row).map_err(db("listing tokens"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("listing tokens"))
        })
    }

    fn last_change_seq(&self) -> Result<u64> {
        self.read(|c| {
            c.query_row("SELECT coalesce(max(seq), 0) FROM changelog", [], |r| r.get::<_, i64>(0))
                .map(|v| v as u64)
                .map_err(db("reading the change log"))
        })
    }

    fn changes(&self, after: u64, limit: u32) -> Result<Vec<ChangeRow>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, at, entity, entity_id, payload FROM changelog WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db("reading the change log"))?;
            let rows = stmt
                .query_map(params![after as i64, limit], |r| {
                    Ok(ChangeRow {
                        seq: r.get::<_, i64>(0)? as u64,
                        at: r.get(1)?,
                        entity: r.get(2)?,
                        entity_id: r.get(3)?,
                        payload: r.get(4)?,
                    })
                })
                .map_err(db("reading the change log"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading the change log"))
        })
    }

    fn audit_records(&self, after: u64, limit: u32) -> Result<Vec<AuditRow>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash FROM audit
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db("reading the audit log"))?;
            let rows = stmt.query_map(params![after as i64, limit], audit_row).map_err(db("reading the audit log"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading the audit log"))
        })
    }

    fn registry(&self) -> Result<Vec<crate::components::Registered>> {
        self.read(crate::components::registered)
    }

    fn pki_get(&self, kind: &str, id: &str) -> Result<Option<PkiRow>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {PKI_COLUMNS} FROM pki_records WHERE kind = ?1 AND id = ?2"))
                .and_then(|mut s| s.query_row(params![kind, id], pki_row).optional())
                .map_err(db("reading the pki component (is it installed?)"))
        })
    }

    fn pki_lookup(&self, kind: &str, lookup: &str) -> Result<Option<PkiRow>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {PKI_COLUMNS} FROM pki_records WHERE kind = ?1 AND lookup = ?2"))
                .and_then(|mut s| s.query_row(params![kind, lookup], pki_row).optional())
                .map_err(db("reading the pki component (is it installed?)"))
        })
    }

    fn pki_list(&self, kind: &str, parent: Option<&str>) -> Result<Vec<PkiRow>> {
        self.read(|c| {
            let doing = db("reading the pki component (is it installed?)");
            let rows = match parent {
                Some(p) => c
                    .prepare_cached(&format!(
                        "SELECT {PKI_COLUMNS} FROM pki_records WHERE kind = ?1 AND parent = ?2 ORDER BY created_at, id"
                    ))
                    .and_then(|mut s| s.query_map(params![kind, p], pki_row)?.collect::<rusqlite::Result<Vec<_>>>()),
                None => c
                    .prepare_cached(&format!(
                        "SELECT {PKI_COLUMNS} FROM pki_records WHERE kind = ?1 ORDER BY created_at, id"
                    ))
                    .and_then(|mut s| s.query_map(params![kind], pki_row)?.collect::<rusqlite::Result<Vec<_>>>()),
            };
            rows.map_err(doing)
        })
    }

    fn schedule(&self) -> Result<Option<ScheduleRow>> {
        self.read(read_schedule)
    }

    fn backup_runs(&self, limit: u32) -> Result<Vec<BackupRunRow>> {
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT id, started_at, finished_at, file, bytes, change_seq, outcome FROM backup_runs ORDER BY id DESC LIMIT ?1")
                .map_err(db("reading backup runs"))?;
            let rows = stmt
                .query_map(params![limit], |r| {
                    Ok(BackupRunRow {
                        id: r.get::<_, i64>(0)? as u64,
                        started_at: r.get(1)?,
                        finished_at: r.get(2)?,
                        file: r.get(3)?,
                        bytes: r.get::<_, Option<i64>>(4)?.map(|b| b as u64),
                        change_seq: r.get::<_, Option<i64>>(5)?.map(|c| c as u64),
                        outcome: r.get(6)?,
                    })
                })
                .map_err(db("reading backup runs"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading backup runs"))
        })
    }

    fn servers(&self) -> Result<Vec<ServerRow>> {
        self.read(read_servers)
    }

    fn close(&self) {
        self.close_writer();
        if let Ok(mut pool) = self.readers.lock() {
            pool.clear();
        }
    }

    fn snapshot(&self) -> Result<crate::Snapshot> {
        crate::Snapshot::open(&self.path)
    }

    fn snapshots(&self, lanes: usize) -> Result<Vec<crate::Snapshot>> {
        crate::Snapshot::open_lanes(&self.path, lanes)
    }

    fn commit(&self, batch: Vec<Mutation>) -> Result<Committed> {
        let (tx, rx) = sync_channel(1);
        self.send(Job::Commit(batch, tx))?;
        rx.recv().map_err(|_| Error::WriterStopped)?
    }

    fn audit(&self, entry: AuditEntry, durability: AuditDurability) -> Result<()> {
        match durability {
            AuditDurability::Queue => self.send(Job::Audit(entry, None)),
            AuditDurability::Wait => {
                let (tx, rx) = sync_channel(1);
                self.send(Job::Audit(entry, Some(tx)))?;
                rx.recv().map_err(|_| Error::WriterStopped)?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(prev: &[u8; 32], rec: &[u8]) -> [u8; 32] {
        // A stand-in chain function for unit tests; the service supplies SHA-256.
        let mut out = *prev;
        for (i, b) in rec.iter().enumerate() {
            out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(*b);
        }
        out
    }

    fn object(name: &str) -> ObjectRow {
        ObjectRow {
            id: format!("id-{name}"),
            name: name.into(),
            key_type: "aes-256".into(),
            state: "active".into(),
            enabled: true,
            exportable: false,
            current_version: 1,
            created_at: now(),
            updated_at: now(),
            activated_at: None,
            deactivated_at: None,
            destroyed_at: None,
            attributes: "{}".into(),
        }
    }

    #[test]
    fn commits_log_changes_and_refuse_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), hasher).unwrap();
        let c = store.commit(vec![Mutation::InsertObject(object("a"))]).unwrap();
        assert_eq!(c.last_seq, 1);
        let err = store.commit(vec![Mutation::InsertObject(ObjectRow { id: "other".into(), ..object("a") })]);
        assert!(matches!(err, Err(Error::NameTaken { .. })));
        assert_eq!(store.last_change_seq().unwrap(), 1, "a refused batch leaves no change record");
        assert_eq!(store.object_by_name("a").unwrap().unwrap().id, "id-a");
        let page = store.list_objects(&ObjectFilter { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(page.len(), 1);
    }

    #[test]
    fn concurrent_commits_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("db"), hasher).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        store.commit(vec![Mutation::InsertObject(object(&format!("k{t}-{i}")))]).unwrap();
                        store
                            .audit(
                                AuditEntry {
                                    at: now(),
                                    actor: "t".into(),
                                    action: "create".into(),
                                    target: format!("k{t}-{i}"),
                                    outcome: "ok".into(),
                                    detail: String::new(),
                                },
                                AuditDurability::Wait,
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.last_change_seq().unwrap(), 200);
        let audit = store.audit_records(0, 1000).unwrap();
        assert_eq!(audit.len(), 200);
        for pair in audit.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(SqliteStore::open(&path, hasher).unwrap());
        let c = Connection::open(&path).unwrap();
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", []).unwrap();
        drop(c);
        let err = SqliteStore::open(&path, hasher).err().unwrap().to_string();
        assert!(err.contains("99") && err.contains('1'), "{err}");
    }
}
