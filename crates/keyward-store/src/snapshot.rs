//! A consistent point-in-time read of the whole store, taken while the server keeps writing.
//!
//! A SQLite read transaction in WAL mode sees the database as of its first read, whatever
//! commits after it; the snapshot holds one open for as long as it lives, so every table is
//! read at the same change-log sequence number.

use std::path::Path;

use rusqlite::Connection;

use crate::rows::*;
use crate::sqlite::{
    OBJECT_COLUMNS, open_connection, read_components, read_identity, read_keyring, read_schedule, read_schema_version,
    read_seal_config, read_servers, token_row,
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

    /// `lanes` snapshots of the same instant on as many connections, so that several threads can
    /// read one consistent state at once. Every connection starts its read transaction while
    /// a gate connection holds the write lock: no commit can land between them. If the gate
    /// cannot be taken (a writer holding the lock for the whole busy timeout), one snapshot.
    pub(crate) fn open_lanes(path: &Path, lanes: usize) -> Result<Vec<Self>> {
        if lanes <= 1 {
            return Ok(vec![Self::open(path)?]);
        }
        let conns = (0..lanes).map(|_| open_connection(path)).collect::<Result<Vec<_>>>()?;
        let gate = open_connection(path)?;
        if gate.execute_batch("BEGIN IMMEDIATE").is_err() {
            let first = conns.into_iter().next().ok_or_else(|| Error::Corrupt("no connection".into()))?;
            return Ok(vec![Self::begin(first)?]);
        }
        let snapshots = conns.into_iter().map(Self::begin).collect::<Result<Vec<_>>>();
        let _ = gate.execute_batch("ROLLBACK");
        // Opening by path, a connection can land on another file if a restore swaps the store
        // in meanwhile: keep only the lanes that see what the first one sees.
        let mut snapshots = snapshots?.into_iter();
        let first = snapshots.next().ok_or_else(|| Error::Corrupt("no connection".into()))?;
        let instant = first.instant()?;
        let mut same = vec![first];
        for s in snapshots {
            if s.instant()? == instant {
                same.push(s);
            }
        }
        Ok(same)
    }

    /// What tells two snapshots' instants apart: the store's identity and incarnation (a
    /// restore changes them), its change-log position and its last audit record.
    fn instant(&self) -> Result<(String, u64, u64, Option<Vec<u8>>)> {
        let last_audit = self
            .conn
            .query_row("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| r.get::<_, Vec<u8>>(0))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
            .map_err(db("starting a snapshot"))?;
        let i = &self.info;
        Ok((i.identity.server_id.clone(), i.identity.incarnation, i.change_seq, last_audit))
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

    /// Every object, each followed by its versions, as owned rows (see
    /// [`for_each_key_ref`](Self::for_each_key_ref), which it reads through).
    pub fn for_each_key<E: From<Error>>(
        &self,
        mut f: impl FnMut(ObjectRow, Vec<KeyVersionRow>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut current: Option<(ObjectRow, Vec<KeyVersionRow>)> = None;
        self.for_each_key_ref(|o, v| -> Result<(), E> {
            if current.as_ref().is_none_or(|(c, _)| c.id != o.id) {
                if let Some((c, versions)) = current.take() {
                    f(c, versions)?;
                }
                current = Some((o.to_row(), Vec::new()));
            }
            if let (Some(v), Some((_, versions))) = (v, current.as_mut()) {
                versions.push(v.to_row());
            }
            Ok(())
        })?;
        if let Some((c, versions)) = current {
            f(c, versions)?;
        }
        Ok(())
    }

    /// Every object and key version as borrowed views of SQLite's own row buffers, objects in
    /// the order they were stored (a plain table scan: no index lookups, no sort), each with its
    /// versions in order: `f(object, version)` once per version (once with
    /// `None` for an object without versions), `object` repeated for each of its versions. No
    /// row is copied: for a backup, which encodes each row once and forgets it.
    pub fn for_each_key_ref<E: From<Error>>(
        &self,
        f: impl FnMut(&ObjectRef<'_>, Option<&VersionRef<'_>>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.for_each_key_ref_in(i64::MIN..=i64::MAX, f)
    }

    /// The objects' storage order as row ids (`None` for no objects): for splitting a read of
    /// every key into ranges.
    pub fn key_rows(&self) -> Result<Option<std::ops::RangeInclusive<i64>>> {
        // Two subqueries: SQLite answers a lone min() or max() from the b-tree's edge, but
        // scans the whole table for both in one select.
        self.bounds("SELECT (SELECT min(rowid) FROM objects), (SELECT max(rowid) FROM objects)")
    }

    /// The audit log's sequence numbers (`None` for an empty log).
    pub fn audit_seqs(&self) -> Result<Option<std::ops::RangeInclusive<i64>>> {
        self.bounds("SELECT (SELECT min(seq) FROM audit), (SELECT max(seq) FROM audit)")
    }

    fn bounds(&self, sql: &str) -> Result<Option<std::ops::RangeInclusive<i64>>> {
        let (lo, hi) = self
            .conn
            .query_row(sql, [], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)))
            .map_err(db("reading the store's extent"))?;
        Ok(lo.zip(hi).map(|(lo, hi)| lo..=hi))
    }

    /// [`for_each_key_ref`](Self::for_each_key_ref) for the objects whose row ids are in `rows`
    /// (see [`key_rows`](Self::key_rows)).
    pub fn for_each_key_ref_in<E: From<Error>>(
        &self,
        rows: std::ops::RangeInclusive<i64>,
        mut f: impl FnMut(&ObjectRef<'_>, Option<&VersionRef<'_>>) -> Result<(), E>,
    ) -> Result<(), E> {
        let columns: String = OBJECT_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {columns}, v.version, v.material, v.public_key, v.created_at
                 FROM objects o LEFT JOIN key_versions v ON v.object_id = o.id
                 WHERE o.rowid BETWEEN ?1 AND ?2
                 ORDER BY o.rowid, v.version"
            ))
            .map_err(db("reading keys"))?;
        let mut rows = stmt.query([rows.start(), rows.end()]).map_err(db("reading keys"))?;
        while let Some(r) = rows.next().map_err(db("reading keys"))? {
            let object = ObjectRef {
                id: text(r, 0)?,
                name: text(r, 1)?,
                key_type: text(r, 2)?,
                state: text(r, 3)?,
                enabled: int(r, 4)? != 0,
                exportable: int(r, 5)? != 0,
                current_version: u32::try_from(int(r, 6)?).map_err(|_| corrupt_row("current_version"))?,
                created_at: text(r, 7)?,
                updated_at: text(r, 8)?,
                activated_at: opt_text(r, 9)?,
                deactivated_at: opt_text(r, 10)?,
                destroyed_at: opt_text(r, 11)?,
                attributes: text(r, 12)?,
            };
            // The join makes a version's object id the object's own: not read twice.
            let version = match opt_int(r, 13)? {
                Some(version) => Some(VersionRef {
                    object_id: object.id,
                    version: u32::try_from(version).map_err(|_| corrupt_row("version"))?,
                    material: opt_blob(r, 14)?,
                    public_key: opt_blob(r, 15)?,
                    created_at: text(r, 16)?,
                }),
                None => None,
            };
            f(&object, version.as_ref())?;
        }
        Ok(())
    }

    /// Every audit record as a borrowed view, in sequence order (see
    /// [`for_each_key_ref`](Self::for_each_key_ref)).
    pub fn for_each_audit_ref<E: From<Error>>(&self, f: impl FnMut(&AuditRef<'_>) -> Result<(), E>) -> Result<(), E> {
        self.for_each_audit_ref_in(i64::MIN..=i64::MAX, f)
    }

    /// [`for_each_audit_ref`](Self::for_each_audit_ref) for the records whose sequence numbers
    /// are in `seqs` (see [`audit_seqs`](Self::audit_seqs)).
    pub fn for_each_audit_ref_in<E: From<Error>>(
        &self,
        seqs: std::ops::RangeInclusive<i64>,
        mut f: impl FnMut(&AuditRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash FROM audit
                 WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
            )
            .map_err(db("reading the audit log"))?;
        let mut rows = stmt.query([seqs.start(), seqs.end()]).map_err(db("reading the audit log"))?;
        while let Some(r) = rows.next().map_err(db("reading the audit log"))? {
            let hash = |i| -> Result<&[u8; 32]> {
                opt_blob(r, i)?.and_then(|b| <&[u8; 32]>::try_from(b).ok()).ok_or_else(|| corrupt_row("audit hash"))
            };
            let record = AuditRef {
                seq: u64::try_from(int(r, 0)?).map_err(|_| corrupt_row("seq"))?,
                at: text(r, 1)?,
                actor: text(r, 2)?,
                action: text(r, 3)?,
                target: text(r, 4)?,
                outcome: text(r, 5)?,
                detail: text(r, 6)?,
                prev_hash: hash(7)?,
                hash: hash(8)?,
            };
            f(&record)?;
        }
        Ok(())
    }

    pub fn for_each_audit<E: From<Error>>(&self, mut f: impl FnMut(AuditRow) -> Result<(), E>) -> Result<(), E> {
        self.for_each_audit_ref(|a| f(a.to_row()))
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}

/// An object row as SQLite holds it, borrowed for the duration of one callback.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub key_type: &'a str,
    pub state: &'a str,
    pub enabled: bool,
    pub exportable: bool,
    pub current_version: u32,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub activated_at: Option<&'a str>,
    pub deactivated_at: Option<&'a str>,
    pub destroyed_at: Option<&'a str>,
    /// The attributes' JSON text.
    pub attributes: &'a str,
}

impl ObjectRef<'_> {
    pub fn to_row(&self) -> ObjectRow {
        ObjectRow {
            id: self.id.into(),
            name: self.name.into(),
            key_type: self.key_type.into(),
            state: self.state.into(),
            enabled: self.enabled,
            exportable: self.exportable,
            current_version: self.current_version,
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            activated_at: self.activated_at.map(Into::into),
            deactivated_at: self.deactivated_at.map(Into::into),
            destroyed_at: self.destroyed_at.map(Into::into),
            attributes: self.attributes.into(),
        }
    }
}

/// A key version row, borrowed; `material` is the barrier blob.
#[derive(Clone, Copy)]
pub struct VersionRef<'a> {
    pub object_id: &'a str,
    pub version: u32,
    pub material: Option<&'a [u8]>,
    pub public_key: Option<&'a [u8]>,
    pub created_at: &'a str,
}

impl VersionRef<'_> {
    pub fn to_row(&self) -> KeyVersionRow {
        KeyVersionRow {
            object_id: self.object_id.into(),
            version: self.version,
            material: self.material.map(<[u8]>::to_vec),
            public_key: self.public_key.map(<[u8]>::to_vec),
            created_at: self.created_at.into(),
        }
    }
}

/// An audit record, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct AuditRef<'a> {
    pub seq: u64,
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a [u8; 32],
    pub hash: &'a [u8; 32],
}

fn corrupt_row(what: &str) -> Error {
    Error::Corrupt(format!("a row has an invalid {what}"))
}

fn text<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> Result<&'a str> {
    opt_text(r, i)?.ok_or_else(|| corrupt_row("empty text column"))
}

fn opt_text<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> Result<Option<&'a str>> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i).map_err(db("reading a row"))? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t).map(Some).map_err(|_| corrupt_row("text (not UTF-8)")),
        _ => Err(corrupt_row("text column")),
    }
}

fn opt_blob<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> Result<Option<&'a [u8]>> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i).map_err(db("reading a row"))? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => Ok(Some(b)),
        _ => Err(corrupt_row("blob column")),
    }
}

fn opt_int(r: &rusqlite::Row<'_>, i: usize) -> Result<Option<i64>> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i).map_err(db("reading a row"))? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(n) => Ok(Some(n)),
        _ => Err(corrupt_row("integer column")),
    }
}

fn int(r: &rusqlite::Row<'_>, i: usize) -> Result<i64> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i).map_err(db("reading a row"))? {
        ValueRef::Integer(n) => Ok(n),
        _ => Err(corrupt_row("integer column")),
    }
}

impl AuditRef<'_> {
    pub fn to_row(&self) -> AuditRow {
        AuditRow {
            seq: self.seq,
            entry: AuditEntry {
                at: self.at.into(),
                actor: self.actor.into(),
                action: self.action.into(),
                target: self.target.into(),
                outcome: self.outcome.into(),
                detail: self.detail.into(),
            },
            prev_hash: *self.prev_hash,
            hash: *self.hash,
        }
    }
}
