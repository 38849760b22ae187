//! Installing and removing optional components, and the scheduled backups of the `scheduler`
//! component. A component's data and its registration always change in one transaction.

use std::path::{Path, PathBuf};

use keyward_store::components::{COMPONENTS, Registered, spec};
use keyward_store::{AuditDurability, AuditEntry, BackupRunRow, Mutation, ScheduleRow};

use crate::authz::{Action, authorize};
use crate::backup::{BackupOptions, Progress, write_backup_of};
use crate::{Caller, Error, Result, Service, now};

/// A component as `keyward component list` shows it.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub name: String,
    pub required: bool,
    pub installed: bool,
    /// The registered version, when installed.
    pub version: Option<u32>,
    /// The version this binary writes.
    pub binary_version: u32,
    pub tables: Vec<String>,
    pub missing_tables: Vec<String>,
    pub installed_at: Option<String>,
    pub upgraded_at: Option<String>,
}

impl ComponentInfo {
    pub fn health(&self) -> &'static str {
        match (self.installed, self.missing_tables.is_empty(), self.version == Some(self.binary_version)) {
            (false, _, _) => "not installed",
            (true, false, _) => "stale: data missing",
            (true, true, false) => "needs upgrade",
            (true, true, true) => "ok",
        }
    }
}

fn info(registry: &[Registered]) -> Vec<ComponentInfo> {
    COMPONENTS
        .iter()
        .map(|s| {
            let r = registry.iter().find(|r| r.name == s.name);
            ComponentInfo {
                name: s.name.into(),
                required: s.required,
                installed: r.is_some(),
                version: r.map(|r| r.version),
                binary_version: s.version,
                tables: s.tables.iter().map(|t| (*t).to_owned()).collect(),
                missing_tables: r.map(|r| r.missing_tables.clone()).unwrap_or_default(),
                installed_at: r.map(|r| r.installed_at.clone()),
                upgraded_at: r.and_then(|r| r.upgraded_at.clone()),
            }
        })
        .collect()
}

impl Service {
    pub fn component_list(&self, caller: &Caller) -> Result<Vec<ComponentInfo>> {
        authorize(caller, Action::ReadAudit)?;
        Ok(info(&self.store().registry()?))
    }

    fn installed(&self, name: &str) -> Result<bool> {
        Ok(self.store().registry()?.iter().any(|r| r.name == name && r.missing_tables.is_empty()))
    }

    /// Installs an optional component; `pki` comes with its CA, made with `ca` (defaults when
    /// `None`).
    pub fn component_add(&self, caller: &Caller, name: &str, ca: Option<&crate::pki::CaInit>) -> Result<ComponentInfo> {
        authorize(caller, Action::Restore)?;
        let s = spec(name).ok_or_else(|| Error::invalid("component", format!("no component named {name:?}")))?;
        if s.required {
            return Err(Error::invalid("component", format!("{name} is required and always installed")));
        }
        if self.store().registry()?.iter().any(|r| r.name == name) {
            return Err(Error::invalid("component", format!("{name} is already installed")));
        }
        if name == "pki" {
            // The component is its CA: both arrive in one transaction.
            self.pki_install(caller, ca.unwrap_or(&crate::pki::CaInit::default()))?;
            return self
                .component_list(caller)?
                .into_iter()
                .find(|c| c.name == name)
                .ok_or_else(|| Error::invalid("component", "vanished after install"));
        }
        self.commit(vec![Mutation::AddComponent { name: name.into(), installed_at: now() }])?;
        self.component_list(caller)?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::invalid("component", "vanished after install"))
    }

    /// Uninstalls an optional component: drops its data and its registration together. One
    /// that holds keys or certificates goes only with `force`, and only after a verified full
    /// backup was written into `backup_dir` (returned).
    pub fn component_remove(
        &self,
        caller: &Caller,
        name: &str,
        force: bool,
        backup_dir: &Path,
    ) -> Result<Option<PathBuf>> {
        authorize(caller, Action::Restore)?;
        let s = spec(name).ok_or_else(|| Error::invalid("component", format!("no component named {name:?}")))?;
        if s.required {
            return Err(Error::invalid("component", format!("{name} is required and cannot be removed")));
        }
        if !self.store().registry()?.iter().any(|r| r.name == name) {
            return Err(Error::invalid("component", format!("{name} is not installed")));
        }
        let mut backup = None;
        if s.holds_secrets {
            if !force {
                return Err(Error::invalid(
                    "component",
                    format!(
                        "{name} holds keys or certificates: removing it destroys them. Pass --force to remove it; a verified backup is written first"
                    ),
                ));
            }
            std::fs::create_dir_all(backup_dir).map_err(|e| {
                Error::Backup(keyward_backup::Error::Io { doing: "create the backup directory", source: e })
            })?;
            let out = backup_dir.join(format!("pre-remove-{name}-{}.kwb", now().replace(':', "")));
            self.backup_to_file(&out)?;
            backup = Some(out);
        }
        self.commit(vec![Mutation::RemoveComponent { name: name.into() }])?;
        self.record(
            AuditEntry {
                at: now(),
                actor: caller.id.clone(),
                action: "component remove".into(),
                target: name.into(),
                outcome: "ok".into(),
                detail: backup.as_ref().map(|b| format!("backup {}", b.display())).unwrap_or_default(),
            },
            AuditDurability::Wait,
        )?;
        Ok(backup)
    }

    pub fn schedule_set(&self, caller: &Caller, every_secs: u64, directory: &Path, keep: u32) -> Result<ScheduleRow> {
        authorize(caller, Action::Restore)?;
        if !self.installed("scheduler")? {
            return Err(Error::invalid(
                "scheduler",
                "the scheduler component is not installed: keyward component add scheduler",
            ));
        }
        if every_secs == 0 || keep == 0 {
            return Err(Error::invalid("schedule", "every and keep must be at least 1"));
        }
        if !directory.is_absolute() {
            return Err(Error::invalid("directory", "give an absolute path the server can write to"));
        }
        std::fs::create_dir_all(directory)
            .map_err(|e| Error::invalid("directory", format!("cannot create {}: {e}", directory.display())))?;
        let row = ScheduleRow { every_secs, directory: directory.display().to_string(), keep, updated_at: now() };
        self.commit(vec![Mutation::SetSchedule(row.clone())])?;
        Ok(row)
    }

    pub fn schedule_show(&self, caller: &Caller) -> Result<(Option<ScheduleRow>, Vec<BackupRunRow>)> {
        authorize(caller, Action::ReadAudit)?;
        if !self.installed("scheduler")? {
            return Err(Error::invalid(
                "scheduler",
                "the scheduler component is not installed: keyward component add scheduler",
            ));
        }
        Ok((self.store().schedule()?, self.store().backup_runs(20)?))
    }

    /// Takes the scheduled backup when one is due; the server calls it every few seconds.
    /// Returns the run when one happened.
    pub fn run_scheduled_backup_if_due(&self) -> Result<Option<BackupRunRow>> {
        if self.is_sealed() || self.in_maintenance() || !self.installed("scheduler")? {
            return Ok(None);
        }
        let Some(schedule) = self.store().schedule()? else { return Ok(None) };
        let last = self.store().backup_runs(1)?.into_iter().next();
        if let Some(last) = &last {
            let started = humantime::parse_rfc3339_weak(&last.started_at).ok();
            let due = started.map(|t| t + std::time::Duration::from_secs(schedule.every_secs));
            if due.is_some_and(|d| d > std::time::SystemTime::now()) {
                return Ok(None);
            }
        }
        let mut run = BackupRunRow {
            id: last.map(|l| l.id + 1).unwrap_or(1),
            started_at: now(),
            finished_at: None,
            file: None,
            bytes: None,
            change_seq: None,
            outcome: "running".into(),
        };
        self.commit(vec![Mutation::PutBackupRun(run.clone())])?;
        match self.scheduled_backup(&schedule) {
            Ok((file, bytes, change_seq)) => {
                run.file = Some(file.display().to_string());
                run.bytes = Some(bytes);
                run.change_seq = Some(change_seq);
                run.outcome = "ok".into();
            }
            Err(e) => run.outcome = e.to_string(),
        }
        run.finished_at = Some(now());
        self.commit(vec![Mutation::PutBackupRun(run.clone())])?;
        self.record(
            AuditEntry {
                at: now(),
                actor: "scheduler".into(),
                action: "scheduled backup".into(),
                target: run.file.clone().unwrap_or_default(),
                outcome: run.outcome.clone(),
                detail: format!("run {}", run.id),
            },
            AuditDurability::Wait,
        )?;
        Ok(Some(run))
    }

    fn scheduled_backup(&self, schedule: &ScheduleRow) -> Result<(PathBuf, u64, u64)> {
        let io = |e: std::io::Error| {
            Error::Backup(keyward_backup::Error::Io { doing: "write a scheduled backup", source: e })
        };
        let dir = PathBuf::from(&schedule.directory);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let prefix = format!("{}-", self.identity().server_name);
        let name = format!("{prefix}{}.kwb", now().replace(':', ""));
        let out = dir.join(&name);
        let change_seq = self.backup_to_file(&out)?;
        let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        // Keep the newest `keep` scheduled backups of this server in the directory.
        let mut ours: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".kwb"))
            })
            .collect();
        ours.sort();
        let excess = ours.len().saturating_sub(schedule.keep as usize);
        for old in ours.iter().take(excess) {
            let _ = std::fs::remove_file(old);
        }
        Ok((out, bytes, change_seq))
    }

    /// Writes a full online backup to `out`: under a temporary name, fsynced, read back and
    /// checked, then renamed. Returns the change-log point it is consistent at.
    pub(crate) fn backup_to_file(&self, out: &Path) -> Result<u64> {
        let io = |e: std::io::Error| Error::Backup(keyward_backup::Error::Io { doing: "write a backup", source: e });
        let dir = out.parent().unwrap_or(Path::new("."));
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.partial"));
        let out = out.to_path_buf();
        let mac_key = self.backup_mac_key()?;
        let result = (|| -> Result<u64> {
            let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
            }
            let opts = BackupOptions { components: None, taken: "online", progress: Progress::default() };
            let (writer, summary) =
                write_backup_of(&mut self.online_snapshots()?, std::io::BufWriter::new(file), &opts, Some(&mac_key))?;
            let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
            drop(file);
            keyward_backup::ArchiveReader::new(std::io::BufReader::new(std::fs::File::open(&tmp).map_err(io)?))
                .check()?;
            std::fs::rename(&tmp, &out).map_err(io)?;
            Ok(summary.manifest.change_seq)
        })();
        match result {
            Ok(c) => Ok(c),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}
