//! Building a restored store beside the live one, and swapping it in.
//!
//! The new database is written to a temporary file in the data directory, committed,
//! checkpointed into a single file and fsynced. Only then [`DataDir::install`] replaces the
//! live database with one `rename`, so a crash at any moment leaves either the old store or
//! the new one, never a mix.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::datadir::DataDir;
use crate::rows::*;
use crate::sqlite::{apply_row, migrate, now, open_connection};
use crate::{Error, Result, db};

/// Writes rows into a fresh store file in one transaction, without change-log records (the
/// restore itself is recorded once, by [`RestoreLoader::finish`]).
pub struct RestoreLoader {
    conn: Connection,
    path: PathBuf,
    done: bool,
}

impl RestoreLoader {
    /// Creates the file at `path`, which must not exist, at this binary's schema versions.
    pub fn create(path: &Path) -> Result<Self> {
        Self::create_at(path, None)
    }

    /// Creates the file at `path` with each component's tables at exactly the given schema
    /// versions: a rollback to the schema an older binary expects.
    pub fn create_with_versions(path: &Path, versions: &[(String, u32)]) -> Result<Self> {
        Self::create_at(path, Some(versions))
    }

    fn create_at(path: &Path, versions: Option<&[(String, u32)]>) -> Result<Self> {
        if path.exists() {
            return Err(Error::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a restore file is already there"),
            });
        }
        let mut conn = open_connection(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        match versions {
            None => migrate(&mut conn)?,
            Some(v) => {
                conn.execute_batch(crate::sqlite::SCHEMA_V1).map_err(db("creating the schema"))?;
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                    params![crate::SCHEMA_VERSION.to_string()],
                )
                .map_err(db("creating the schema"))?;
                crate::components::apply_up_to(&conn, v)?;
            }
        }
        // Bulk load: one transaction; durability comes from the checkpoint and fsync at the end.
        conn.execute_batch("PRAGMA synchronous = OFF; BEGIN IMMEDIATE").map_err(db("starting a restore"))?;
        Ok(RestoreLoader { conn, path: path.to_owned(), done: false })
    }

    pub fn put(&mut self, m: &Mutation) -> Result<()> {
        apply_row(&self.conn, m)
    }

    /// Installs an optional component (tables and registration) unless it already is.
    pub fn ensure_component(&mut self, name: &str, installed_at: &str) -> Result<()> {
        let registered: i64 = self
            .conn
            .query_row("SELECT count(*) FROM components WHERE name = ?1", params![name], |r| r.get(0))
            .map_err(db("reading the component registry"))?;
        if registered == 0 {
            apply_row(&self.conn, &Mutation::AddComponent { name: name.into(), installed_at: installed_at.into() })?;
        }
        Ok(())
    }

    pub fn put_audit(&mut self, row: &AuditRow) -> Result<()> {
        let e = &row.entry;
        self.conn
            .prepare_cached(
                "INSERT INTO audit(seq, at, actor, action, target, outcome, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    row.seq as i64,
                    e.at,
                    e.actor,
                    e.action,
                    e.target,
                    e.outcome,
                    e.detail,
                    &row.prev_hash[..],
                    &row.hash[..]
                ])
            })
            .map_err(db("restoring the audit log"))?;
        Ok(())
    }

    /// Commits, records the restore in the change log as number `change_seq + 1` (so sequence
    /// numbers continue from the backup's), and leaves one fsynced file with no WAL.
    pub fn finish(mut self, change_seq: u64, detail: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO changelog(seq, at, entity, entity_id, payload) VALUES (?1, ?2, 'restore', '', ?3)",
                params![
                    (change_seq + 1) as i64,
                    now(),
                    serde_json::json!({"op": "restore", "detail": detail}).to_string()
                ],
            )
            .map_err(db("recording the restore"))?;
        self.conn.execute_batch("COMMIT").map_err(db("committing the restore"))?;
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(db("checkpointing the restore"))?;
        self.done = true;
        let conn = std::mem::replace(&mut self.conn, Connection::open_in_memory().map_err(db("closing"))?);
        conn.close().map_err(|(_, e)| db("closing the restored store")(e))?;
        sync_file(&self.path)?;
        Ok(())
    }
}

impl Drop for RestoreLoader {
    fn drop(&mut self) {
        if !self.done {
            // An abandoned restore leaves nothing behind.
            let _ = self.conn.execute_batch("ROLLBACK");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }
}

fn sync_file(path: &Path) -> Result<()> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(io)
}

fn sync_dir(path: &Path) -> Result<()> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(io)
}

impl DataDir {
    /// A fresh path for building a restored store beside the live one.
    pub fn restore_path(&self) -> PathBuf {
        self.root().join(format!(".restore-{}-{}.db", std::process::id(), now().replace([':', '.'], "-")))
    }

    /// Removes temporary files of restores that were killed midway.
    pub fn clean_abandoned_restores(&self) {
        if let Ok(entries) = std::fs::read_dir(self.root()) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".restore-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Replaces the live store with the restored file at `new_db` in one rename. The old store
    /// is first folded into its main file (its WAL checkpointed), and kept beside it as
    /// `keyward.db.pre-restore-<time>` for the operator to roll back by hand if need be.
    /// The caller holds the directory's lock.
    pub fn install(&self, new_db: &Path) -> Result<Option<PathBuf>> {
        let live = self.db_path();
        let mut kept = None;
        if live.exists() {
            let conn = open_connection(&live)?;
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(db("checkpointing the old store"))?;
            conn.close().map_err(|(_, e)| db("closing the old store")(e))?;
            let backup = self.root().join(format!("keyward.db.pre-restore-{}", now().replace([':', '.'], "-")));
            std::fs::hard_link(&live, &backup)
                .map_err(|source| Error::Io { path: backup.display().to_string(), source })?;
            kept = Some(backup);
        }
        // The old WAL is empty after the checkpoint; removing it keeps SQLite from ever applying
        // it to the new file.
        for suffix in ["-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", live.display()));
            if p.exists() {
                std::fs::remove_file(&p).map_err(|source| Error::Io { path: p.display().to_string(), source })?;
            }
        }
        std::fs::rename(new_db, &live).map_err(|source| Error::Io { path: live.display().to_string(), source })?;
        sync_dir(self.root())?;
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteStore, Store};

    fn hasher(prev: &[u8; 32], rec: &[u8]) -> [u8; 32] {
        let mut out = *prev;
        for (i, b) in rec.iter().enumerate() {
            out[i % 32] ^= *b;
        }
        out
    }

    fn identity() -> IdentityRow {
        IdentityRow {
            organization: "o".into(),
            site: "s".into(),
            server_name: "n".into(),
            server_id: "id".into(),
            incarnation: 1,
            created_at: now(),
        }
    }

    fn token(id: &str) -> TokenRow {
        TokenRow {
            id: id.into(),
            hash: id.as_bytes().to_vec(),
            role: "admin".into(),
            prefixes: vec![],
            name: String::new(),
            created_at: now(),
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn snapshot_is_consistent_while_writes_continue() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), hasher).unwrap();
        store.commit(vec![Mutation::SetIdentity(identity()), Mutation::SetSeal { config: "{}".into() }]).unwrap();
        store.commit(vec![Mutation::PutToken(token("a"))]).unwrap();
        let snap = store.snapshot().unwrap();
        store.commit(vec![Mutation::PutToken(token("b"))]).unwrap();
        let mut seen = Vec::new();
        snap.for_each_token(|t| -> Result<()> {
            seen.push(t.id);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec!["a"], "a write after the snapshot must not show in it");
        assert_eq!(snap.info().change_seq, 3);
    }

    /// Lanes read one instant however busy the writer is: the same change-log position and the
    /// same rows on every connection (without the gate, a commit lands between two of them
    /// within a few rounds).
    #[test]
    fn snapshot_lanes_see_one_instant_while_writes_continue() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("db"), hasher).unwrap());
        store.commit(vec![Mutation::SetIdentity(identity()), Mutation::SetSeal { config: "{}".into() }]).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.commit(vec![Mutation::PutToken(token(&format!("t{i}")))]).unwrap();
                    i += 1;
                }
            })
        };
        let mut seqs = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let lanes = store.snapshots(3).unwrap();
            assert_eq!(lanes.len(), 3);
            let counts: Vec<(u64, usize)> = lanes
                .iter()
                .map(|l| {
                    let mut n = 0;
                    l.for_each_token(|_| -> Result<()> {
                        n += 1;
                        Ok(())
                    })
                    .unwrap();
                    (l.info().change_seq, n)
                })
                .collect();
            assert!(counts.iter().all(|c| *c == counts[0]), "{counts:?}");
            seqs.insert(counts[0].0);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        assert!(seqs.len() > 5, "the writer must have been committing throughout: {seqs:?}");
    }

    #[test]
    fn restored_store_replaces_the_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        {
            let live = SqliteStore::open(&data.db_path(), hasher).unwrap();
            live.commit(vec![Mutation::SetIdentity(identity()), Mutation::PutToken(token("old"))]).unwrap();
        }
        let tmp = data.restore_path();
        let mut loader = RestoreLoader::create(&tmp).unwrap();
        loader.put(&Mutation::SetIdentity(IdentityRow { incarnation: 2, ..identity() })).unwrap();
        loader.put(&Mutation::PutToken(token("new"))).unwrap();
        loader.finish(41, "test").unwrap();
        let kept = data.install(&tmp).unwrap();
        assert!(kept.is_some_and(|p| p.exists()));
        let store = SqliteStore::open(&data.db_path(), hasher).unwrap();
        let ids: Vec<String> = store.list_tokens().unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, vec!["new"]);
        assert_eq!(store.identity().unwrap().unwrap().incarnation, 2);
        assert_eq!(store.last_change_seq().unwrap(), 42, "sequence numbers continue after the backup's");
        assert!(!tmp.exists());
    }

    #[test]
    fn an_abandoned_loader_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let tmp = data.restore_path();
        let mut loader = RestoreLoader::create(&tmp).unwrap();
        loader.put(&Mutation::PutToken(token("x"))).unwrap();
        drop(loader);
        assert!(!tmp.exists());
    }
}
