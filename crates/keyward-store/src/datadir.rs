//! The data directory: where the store lives, and the lock that keeps two processes out of it.
//!
//! The lock is an advisory `flock` on `keyward.lock`, so it disappears with its process even
//! after `kill -9`; the file's text names the holder for the error message of the next one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

const DB_FILE: &str = "keyward.db";
const LOCK_FILE: &str = "keyward.lock";

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    /// Whether this directory holds an initialised node.
    pub fn is_initialized(&self) -> bool {
        self.db_path().exists()
    }

    /// Whether the directory is missing or has no entries at all.
    pub fn is_empty(&self) -> bool {
        match std::fs::read_dir(&self.root) {
            Ok(mut entries) => entries.next().is_none(),
            Err(_) => true,
        }
    }

    /// Creates the directory (mode 0700) if needed and takes its exclusive lock for `purpose`
    /// (e.g. "server", "init"). Fails with `Locked`, naming the holder, if another process has it.
    pub fn lock(&self, purpose: &str) -> Result<DataDirLock> {
        let io = |source| Error::Io { path: self.root.display().to_string(), source };
        std::fs::create_dir_all(&self.root).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700));
        }
        let path = self.root.join(LOCK_FILE);
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
                return Err(Error::Locked {
                    path: self.root.display().to_string(),
                    holder: if holder.is_empty() { "holder unknown".into() } else { holder },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let info = format!(
            "{purpose} pid={} host={} since={}\n",
            std::process::id(),
            gethostname::gethostname().to_string_lossy(),
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(info.as_bytes()).map_err(io)?;
        Ok(DataDirLock { _file: file, note_on_release: String::new() })
    }
}

/// Held for as long as a process works on the directory; released on drop or process death.
/// On drop the holder's description is cleared, so a description left in the file means its
/// process died without letting go (kill -9, power loss): `doctor` reports that.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    /// What to leave in the lock file on release; empty by default.
    note_on_release: String,
}

impl DataDirLock {
    /// Leaves `note` in the lock file on release instead of clearing it: for a read-only look
    /// (doctor without --fix) that must not erase a stale note it only reports.
    pub fn leave_note_on_release(&mut self, note: String) {
        self.note_on_release = note;
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        let _ = self._file.set_len(0);
        if !self.note_on_release.is_empty() {
            let _ = self._file.seek(SeekFrom::Start(0));
            let _ = self._file.write_all(self.note_on_release.as_bytes());
        }
    }
}

impl DataDir {
    /// The holder description left in the lock file (empty when the last holder exited
    /// cleanly), read without taking the lock.
    pub fn lock_file_text(&self) -> String {
        std::fs::read_to_string(self.root.join(LOCK_FILE)).unwrap_or_default().trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_holder() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir::new(dir.path().join("node"));
        let held = d.lock("server").unwrap();
        let err = d.lock("init").unwrap_err().to_string();
        assert!(err.contains("in use") && err.contains(&format!("pid={}", std::process::id())), "{err}");
        drop(held);
        d.lock("init").unwrap();
    }
}
