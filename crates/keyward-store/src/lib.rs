//! Persistence: the [`Store`] trait, its rows, the change log, and the SQLite backend.
//!
//! The store keeps metadata in clear and secrets only as barrier blobs produced by
//! `keyward-seal`; it never sees a plaintext key and calls no cryptographic primitive (the
//! audit chain's hash function is handed in by the caller).
//!
//! **Invariant:** every acknowledged [`Store::commit`] is durable (fsynced) before it returns,
//! and every mutation appends its change-log record in the same transaction.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod components;
mod datadir;
mod restore;
mod rows;
mod snapshot;
mod sqlite;

pub use datadir::{DataDir, DataDirLock};
pub use restore::RestoreLoader;
pub use rows::*;
pub use snapshot::{AuditRef, ObjectRef, Snapshot, SnapshotInfo, VersionRef};
pub use sqlite::SqliteStore;

/// The schema version this build writes. A store with a newer one is refused.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "component {name:?} of this store is at schema version {found}, newer than this binary supports ({supported}); run a newer keyward"
    )]
    NewerComponent { name: String, found: u32, supported: u32 },
    #[error("this store has a component {name:?} that this binary does not know: it was written by a newer keyward")]
    UnknownComponent { name: String },
    #[error(
        "component {name:?} of this store is at schema version {found}; this binary writes {current}. Run keyward upgrade --data-dir <dir> first (it takes a backup), or start the server with --upgrade"
    )]
    NeedsUpgrade { name: String, found: u32, current: u32 },
    #[error("a key named {name:?} already exists")]
    NameTaken { name: String },
    #[error("{what} already exists")]
    Duplicate { what: String },
    #[error("no object with id {id}")]
    NoSuchObject { id: String },
    #[error(
        "the store's schema is version {found}, newer than this binary supports ({supported}); run a newer keyward"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("the disk is full: the write was not made. Free space on the data directory's filesystem and retry")]
    DiskFull,
    #[error("database error while {doing}")]
    Database {
        doing: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("the store's writer has stopped; restart the server")]
    WriterStopped,
    #[error(
        "the data directory {path} is in use by another keyward process ({holder}); stop it first, or use another --data-dir"
    )]
    Locked { path: String, holder: String },
    #[error("cannot use the data directory {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn db(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| match source {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull => Error::DiskFull,
        source => Error::Database { doing, source },
    }
}

/// Computes an audit record's chain hash from the previous hash and the record's canonical
/// bytes. Supplied by the caller so the store stays free of cryptography.
pub type ChainHasher = fn(prev: &[u8; 32], record: &[u8]) -> [u8; 32];

/// Whether a caller waits for its audit record to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditDurability {
    /// Returns once the record is fsynced (mutations, security events).
    Wait,
    /// Returns once the record is queued for the next group commit (high-rate reads such as
    /// encrypt); a crash can lose at most the last few milliseconds of such records.
    Queue,
}

/// Filters for listing objects. Paging is by name: pass the last name seen as `after`.
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter {
    pub name_prefix: Option<String>,
    pub key_type: Option<String>,
    pub state: Option<String>,
    pub after: Option<String>,
    pub limit: u32,
}

/// The operations every backend provides. Calls block; async callers use a blocking pool.
pub trait Store: Send + Sync + 'static {
    fn schema_version(&self) -> Result<u32>;
    fn identity(&self) -> Result<Option<IdentityRow>>;
    fn seal_config(&self) -> Result<Option<String>>;
    fn keyring(&self) -> Result<Vec<KeyringRow>>;
    fn components(&self) -> Result<Vec<ComponentRow>>;
    /// The organisation's servers as this node knows them.
    fn servers(&self) -> Result<Vec<ServerRow>>;
    /// The component registry, with whether each component's data is really there.
    fn registry(&self) -> Result<Vec<components::Registered>>;
    /// The `scheduler` component's schedule (the component must be installed).
    fn schedule(&self) -> Result<Option<ScheduleRow>>;
    /// The newest scheduled backup runs, newest first.
    fn backup_runs(&self, limit: u32) -> Result<Vec<BackupRunRow>>;

    /// A `pki` record by kind and id (the component must be installed).
    fn pki_get(&self, kind: &str, id: &str) -> Result<Option<PkiRow>>;
    /// A `pki` record by kind and its unique `lookup`.
    fn pki_lookup(&self, kind: &str, lookup: &str) -> Result<Option<PkiRow>>;
    /// Every `pki` record of a kind, or of a kind under one parent, oldest first.
    fn pki_list(&self, kind: &str, parent: Option<&str>) -> Result<Vec<PkiRow>>;

    fn object(&self, id: &str) -> Result<Option<ObjectRow>>;
    fn object_by_name(&self, name: &str) -> Result<Option<ObjectRow>>;
    fn list_objects(&self, filter: &ObjectFilter) -> Result<Vec<ObjectRow>>;
    fn key_versions(&self, object_id: &str) -> Result<Vec<KeyVersionRow>>;
    fn key_version(&self, object_id: &str, version: u32) -> Result<Option<KeyVersionRow>>;

    fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRow>>;
    fn list_tokens(&self) -> Result<Vec<TokenRow>>;

    fn last_change_seq(&self) -> Result<u64>;
    fn changes(&self, after: u64, limit: u32) -> Result<Vec<ChangeRow>>;
    fn audit_records(&self, after: u64, limit: u32) -> Result<Vec<AuditRow>>;

    /// Applies `batch` atomically with its change-log records; durable when it returns.
    /// Concurrent callers are group-committed: one fsync serves many batches.
    fn commit(&self, batch: Vec<Mutation>) -> Result<Committed>;

    /// A consistent read of the whole store at one instant, while writes continue.
    fn snapshot(&self) -> Result<Snapshot>;

    /// `lanes` snapshots of one instant, for reading it from several threads at once (fewer
    /// when the store cannot give more; never none).
    fn snapshots(&self, lanes: usize) -> Result<Vec<Snapshot>> {
        let _ = lanes;
        Ok(vec![self.snapshot()?])
    }

    /// Stops writing: waits for queued writes to finish and releases the writer. Reads still
    /// work. For shutdown and for an online restore that replaces the store.
    fn close(&self);

    /// Appends one record to the hash-chained audit log.
    fn audit(&self, entry: AuditEntry, durability: AuditDurability) -> Result<()>;
}
