//! A consistent point-in-time read of the whole store, taken while the server keeps writing.
//!
//! A SQLite read transaction in WAL mode sees the database as of its first read, whatever
//! commits after it; the snapshot holds one open for as long as it lives, so every table is
//! read at the same change-log sequence number.

use std::path::Path;

use rusqlite::Connection;

use crate::rows::*;
use crate::sqlite::{
    OBJECT_COLUMNS, audit_row, object_row, open_connection, read_components, read_identity, read_keyring,
    read_schedule, read_schema_version, read_seal_config, read_servers, token_row,
};
use crate::{Error, Result, db};

/// What a snapshot holds besides its row streams.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub change_seq: u64,
    pub schema_version: u32,
    pub identity: IdentityRow,
    pub seal_config: String,
    pub keyring: Vec<KeyringRow>,
    pub components: Vec<ComponentRow>,
    pub servers: Vec<ServerRow>,
    /// The `scheduler` component's schedule, when it is installed and set.
    pub schedule: Option<ScheduleRow>,
}

pub struct Snapshot {
    conn: Connection,
    info: SnapshotInfo,
}

impl Snapshot {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        Self::begin(open_connection(path)?)
    }

    /// A snapshot through a read-only connection, for looking at a stopped node without
    /// changing a byte of its files (a read-write connection checkpoints the WAL on close).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db("opening the store read-only"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db("opening the store read-only"))?;
        Self::begin(conn)
    }

    fn begin(conn: Connection) -> Result<Self> {
        conn.execute_batch("BEGIN DEFERRED").map_err(db("starting a snapshot"))?;
        // The first read fixes the snapshot; everything below sees the same instant.
        let change_seq = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM changelog", [], |r| r.get::<_, i64>(0))
            .map_err(db("starting a snapshot"))? as u64;
        let info = SnapshotInfo {
            change_seq,
            schema_version: read_schema_version(&conn)?,
            identity: read_identity(&conn)?.ok_or_else(|| Error::Corrupt("the store has no identity".into()))?,
            seal_config: read_seal_config(&conn)?.ok_or_else(|| Error::Corrupt("the store has no seal".into()))?,
            keyring: read_keyring(&conn)?,
            components: read_components(&conn)?,
            servers: read_servers(&conn)?,
            schedule: read_schedule(&conn)?,
        };
        Ok(Snapshot { conn, info })
    }

    pub fn info(&self) -> &SnapshotInfo {
        &self.info
    }

    /// Every record of the `pki` component (none when it is not installed), by kind and id.
    pub fn for_each_pki<E: From<Error>>(&self, mut f: impl FnMut(PkiRow) -> Result<(), E>) -> Result<(), E> {
        if !self.info.components.iter().any(|c| c.name == "pki") {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {} FROM pki_records ORDER BY kind, id", crate::sqlite::PKI_COLUMNS))
            .map_err(db("reading the pki component"))?;
        let rows = stmt.query_map([], crate::sqlite::pki_row).map_err(db("reading the pki component"))?;
        for row in rows {
            f(row.map_err(db("reading the pki component"))?)?;
        }
        Ok(())
    }

    pub fn for_each_token<E: From<Error>>(&self, mut f: impl FnMut(TokenRow) -> Result<(), E>) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, hash, role, prefixes, name, created_at, expires_at, revoked_at FROM tokens ORDER BY id",
            )
            .map_err(db("reading tokens"))?;
        let rows = stmt.query_map([], token_row).map_err(db("reading tokens"))?;
        for row in rows {
            f(row.map_err(db("reading tokens"))?)?;
        }
        Ok(())
    }

    /// Every object, each followed by its versions: one ordered join, not a query per key.
    pub fn for_each_key<E: From<Error>>(
        &self,
        mut f: impl FnMut(ObjectRow, Vec<KeyVersionRow>) -> Result<(), E>,
    ) -> Result<(), E> {
        let columns: String = OBJECT_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {columns}, v.object_id, v.version, v.material, v.public_key, v.created_at
                 FROM objects o LEFT JOIN key_versions v ON v.object_id = o.id
                 ORDER BY o.id, v.version"
            ))
            .map_err(db("reading keys"))?;
        let mut rows = stmt.query([]).map_err(db("reading keys"))?;
        let mut current: Option<(ObjectRow, Vec<KeyVersionRow>)> = None;
        while let Some(row) = rows.next().map_err(db("reading keys"))? {
            let object = object_row(row).map_err(db("reading keys"))?;
            let version = match row.get::<_, Option<String>>(13).map_err(db("reading keys"))? {
                Some(object_id) => Some(KeyVersionRow {
                    object_id,
                    version: row.get(14).map_err(db("reading keys"))?,
                    material: row.get(15).map_err(db("reading keys"))?,
                    public_key: row.get(16).map_err(db("reading keys"))?,
                    created_at: row.get(17).map_err(db("reading keys"))?,
                }),
                None => None,
            };
            match &mut current {
                Some((o, versions)) if o.id == object.id => versions.extend(version),
                _ => {
                    if let Some((o, versions)) = current.take() {
                        f(o, versions)?;
                    }
                    current = Some((object, version.into_iter().collect()));
                }
            }
        }
        if let Some((o, versions)) = current {
            f(o, versions)?;
        }
        Ok(())
    }

    pub fn for_each_audit<E: From<Error>>(&self, mut f: impl FnMut(AuditRow) -> Result<(), E>) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash FROM audit ORDER BY seq")
            .map_err(db("reading the audit log"))?;
        let rows = stmt.query_map([], audit_row).map_err(db("reading the audit log"))?;
        for row in rows {
            f(row.map_err(db("reading the audit log"))?)?;
        }
        Ok(())
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}
