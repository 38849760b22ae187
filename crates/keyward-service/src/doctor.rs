//! `keyward doctor`: finds inconsistent or risky state and repairs what is safe to repair.
//!
//! Each check yields findings with a severity, what is wrong, and the fix. `--fix` repairs only
//! what cannot lose data (stale registrations of optional components, a stale lock, file
//! permissions); everything else says what to run.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use keyward_store::components::{COMPONENTS, Upgrader};
use keyward_store::{DataDir, Snapshot};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub severity: Severity,
    pub message: String,
    pub fix: String,
    /// Set when `--fix` repaired it.
    pub fixed: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    pub fix: bool,
    /// Secret-bearing files to check besides the data directory's own (key files, shares).
    pub secret_paths: Vec<PathBuf>,
    /// Directories where backups are kept (besides `<data dir>/backups`).
    pub backup_dirs: Vec<PathBuf>,
    /// A warning when the newest verified backup is older than this.
    pub max_backup_age: Duration,
    /// The TLS certificate to check for expiry.
    pub tls_cert: Option<PathBuf>,
    /// The lock text read before the caller took the lock (offline doctor); `None` online.
    pub previous_lock_text: Option<String>,
}

fn finding(check: &'static str, severity: Severity, message: String, fix: impl Into<String>) -> Finding {
    Finding { check, severity, message, fix: fix.into(), fixed: None }
}

/// Runs every check on the node in `dir`. Offline, the caller holds the directory's lock.
pub fn examine(dir: &DataDir, opts: &DoctorOptions) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    check_lock(dir, opts, &mut out);
    let db = dir.db_path();
    let mut upgrader = Upgrader::open(&db)?;
    let registry = upgrader.registered()?;
    check_components(&registry, &db, &mut out)?;
    if opts.fix {
        // A stale registration of an optional component whose data is entirely gone loses
        // nothing when it is forgotten.
        for f in out.iter_mut().filter(|f| f.check == "stale-registration") {
            if let Some(name) = f.message.split('"').nth(1)
                && upgrader.forget_stale(name)?
            {
                f.fixed = Some(format!("removed the registration of {name}"));
            }
        }
    }
    check_permissions(dir, opts, &mut out);
    if let Ok(snap) = Snapshot::open_read_only(&db) {
        check_change_log(&db, &mut out)?;
        check_audit(&snap, &mut out);
        check_pki(&snap, &mut out);
    }
    check_disk(dir, &mut out);
    check_tls(opts, &mut out);
    check_backups(dir, opts, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(out)
}

fn check_lock(dir: &DataDir, opts: &DoctorOptions, out: &mut Vec<Finding>) {
    let Some(text) = &opts.previous_lock_text else { return };
    if text.is_empty() {
        return;
    }
    let pid = text.split_whitespace().find_map(|w| w.strip_prefix("pid=")).and_then(|p| p.parse::<u32>().ok());
    let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
    if alive {
        return;
    }
    let mut f = finding(
        "stale-lock",
        Severity::Warning,
        format!(
            "the lock file of {} names a process that is gone ({text}): it was killed or lost power",
            dir.root().display()
        ),
        "none needed: the lock itself was released with the process; doctor --fix clears the stale note",
    );
    if opts.fix {
        // Taking the lock (as the caller did) rewrote the note; releasing it clears it.
        f.fixed = Some("cleared the stale holder note".into());
    }
    out.push(f);
}

fn check_components(
    registry: &[keyward_store::components::Registered],
    db: &Path,
    out: &mut Vec<Finding>,
) -> Result<()> {
    for r in registry {
        match keyward_store::components::spec(&r.name) {
            None => out.push(finding(
                "schema",
                Severity::Error,
                format!("component {:?} is registered but unknown to this binary: a newer keyward wrote it", r.name),
                "run the newer keyward that wrote it",
            )),
            Some(s) if r.version > s.version => out.push(finding(
                "schema",
                Severity::Error,
                format!(
                    "component {:?} is at schema version {}, newer than this binary ({})",
                    r.name, r.version, s.version
                ),
                "run a newer keyward",
            )),
            Some(s) if r.version < s.version => out.push(finding(
                "schema",
                Severity::Error,
                format!("component {:?} is at schema version {}; this binary writes {}", r.name, r.version, s.version),
                "keyward upgrade --data-dir <dir> (it takes a verified backup first)",
            )),
            Some(_) => {}
        }
        if !r.missing_tables.is_empty() {
            out.push(finding(
                "stale-registration",
                Severity::Error,
                format!(
                    "component {:?} is registered but its data is missing (tables {})",
                    r.name,
                    r.missing_tables.join(", ")
                ),
                match keyward_store::components::spec(&r.name) {
                    Some(s) if !s.required => format!(
                        "keyward doctor --fix removes the registration (the data is already gone); keyward component add {} installs it afresh",
                        r.name
                    ),
                    _ => format!("restore it: keyward restore FILE --data-dir <dir> --erase --components {}", r.name),
                },
            ));
        }
    }
    // Orphaned data: tables of a known component that is not registered.
    for spec in COMPONENTS {
        if registry.iter().any(|r| r.name == spec.name) {
            continue;
        }
        let present = keyward_store::components::tables_present(db, spec.tables)?;
        if !present.is_empty() {
            out.push(finding(
                "orphaned-data",
                Severity::Warning,
                format!(
                    "tables {} of component {:?} exist but the component is not registered",
                    present.join(", "),
                    spec.name
                ),
                format!("keyward component add {} adopts them; data is never removed automatically", spec.name),
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

#[cfg(unix)]
fn check_permissions(dir: &DataDir, opts: &DoctorOptions, out: &mut Vec<Finding>) {
    use std::os::unix::fs::PermissionsExt;
    let mut paths: Vec<(PathBuf, u32)> = vec![(dir.root().to_owned(), 0o700), (dir.db_path(), 0o600)];
    let backups = dir.root().join("backups");
    if backups.is_dir() {
        paths.push((backups.clone(), 0o700));
        for e in std::fs::read_dir(&backups).into_iter().flatten().flatten() {
            paths.push((e.path(), 0o600));
        }
    }
    for p in &opts.secret_paths {
        if p.is_dir() {
            paths.push((p.clone(), 0o700));
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                paths.push((e.path(), 0o600));
            }
        } else {
            paths.push((p.clone(), 0o600));
        }
    }
    for (path, want) in paths {
        let Some(have) = mode(&path) else { continue };
        if have & 0o077 == 0 {
            continue;
        }
        let mut f = finding(
            "permissions",
            Severity::Error,
            format!("{} is readable by others (mode {have:o}); it holds secrets or sealed data", path.display()),
            format!("chmod {want:o} {}", path.display()),
        );
        if opts.fix && std::fs::set_permissions(&path, std::fs::Permissions::from_mode(want)).is_ok() {
            f.fixed = Some(format!("set mode {want:o}"));
        }
        out.push(f);
    }
}

#[cfg(not(unix))]
fn check_permissions(_: &DataDir, _: &DoctorOptions, _: &mut Vec<Finding>) {}

fn check_change_log(db: &Path, out: &mut Vec<Finding>) -> Result<()> {
    let (count, min, max) = keyward_store::components::change_log_span(db)?;
    if count > 0 && max - min + 1 != count {
        out.push(finding(
            "change-log",
            Severity::Error,
            format!("the change log has gaps: {count} records between {min} and {max}"),
            "restore the node from its newest backup; replication and incremental backups cannot trust it",
        ));
    }
    Ok(())
}

fn check_audit(snap: &Snapshot, out: &mut Vec<Finding>) {
    let mut prev = [0u8; 32];
    let mut expected = 1u64;
    let mut broken = None;
    let _ = snap.for_each_audit(|row| -> std::result::Result<(), keyward_store::Error> {
        if broken.is_some() {
            return Ok(());
        }
        let ok = row.seq == expected
            && row.prev_hash == prev
            && crate::audit_chain_hash(&prev, &keyward_store::AuditRow::canonical_bytes(row.seq, &row.entry))
                == row.hash;
        if !ok {
            broken = Some(row.seq.min(expected));
        }
        prev = row.hash;
        expected = row.seq + 1;
        Ok(())
    });
    if let Some(seq) = broken {
        out.push(finding(
            "audit-chain",
            Severity::Error,
            format!("the audit log's hash chain is broken at record {seq}: a record was altered or removed"),
            "keep this data directory as evidence; compare with the audit log in your backups",
        ));
    }
}

/// The certificate authority of the `pki` component: a CA that can issue, CA certificates not
/// about to expire, CRLs that are current.
fn check_pki(snap: &Snapshot, out: &mut Vec<Finding>) {
    if !snap.info().components.iter().any(|c| c.name == "pki") {
        return;
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut active = 0;
    let mut rows = Vec::new();
    let _ = snap.for_each_pki(|r| -> std::result::Result<(), keyward_store::Error> {
        if r.kind == "ca" || r.kind == "crl" {
            rows.push(r);
        }
        Ok(())
    });
    for r in rows {
        let doc: serde_json::Value = serde_json::from_str(&r.doc).unwrap_or_default();
        match r.kind.as_str() {
            "ca" => {
                let generation = &doc["generation"];
                match doc["status"].as_str() {
                    Some("pending") => out.push(finding(
                        "pki-ca",
                        Severity::Warning,
                        format!("CA generation {generation} is an intermediate waiting for its certificate"),
                        "have the external root sign its CSR (keyward pki ca show), then keyward pki ca import",
                    )),
                    Some("active") => {
                        active += 1;
                        let info = doc["cert"]
                            .as_str()
                            .and_then(|c| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, c).ok())
                            .and_then(|der| keyward_pki::cert_info(&der).ok());
                        match info {
                            None => out.push(finding(
                                "pki-ca",
                                Severity::Error,
                                format!("the certificate of CA generation {generation} cannot be read"),
                                "restore the pki component from a backup (keyward restore --components pki)",
                            )),
                            Some(i) if i.not_after <= now => out.push(finding(
                                "pki-ca",
                                Severity::Error,
                                format!("the CA certificate (generation {generation}) has expired: nothing it issued validates"),
                                "start a new CA generation: keyward pki ca rotate",
                            )),
                            Some(i) if i.not_after - now < 90 * 86_400 => out.push(finding(
                                "pki-ca",
                                Severity::Warning,
                                format!(
                                    "the CA certificate (generation {generation}) expires in {} days",
                                    (i.not_after - now) / 86_400
                                ),
                                "start a new CA generation before it expires: keyward pki ca rotate",
                            )),
                            Some(_) => {}
                        }
                    }
                    _ => {}
                }
            }
            _ => {
                let stale = doc["next_update"]
                    .as_str()
                    .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                    .is_none_or(|t| t <= SystemTime::now());
                if stale {
                    out.push(finding(
                        "pki-crl",
                        Severity::Error,
                        format!("the CRL of CA {} is past its next update: relying parties reject it", r.id),
                        "run the server unsealed: it re-signs CRLs when half their validity has passed",
                    ));
                }
            }
        }
    }
    if active == 0 {
        out.push(finding(
            "pki-ca",
            Severity::Error,
            "the pki component has no active CA: no certificate can be issued".into(),
            "import the pending intermediate's certificate (keyward pki ca import) or keyward pki ca rotate",
        ));
    }
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn check_disk(dir: &DataDir, out: &mut Vec<Finding>) {
    let Ok(st) = rustix::fs::statvfs(dir.root()) else { return };
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    let store = dir_size(dir.root());
    if free < store.saturating_mul(2) {
        out.push(finding(
            "disk-space",
            Severity::Warning,
            format!(
                "{} MB free, less than twice the store's {} MB: a backup, restore or upgrade may not fit",
                free >> 20,
                store >> 20
            ),
            "free space on the data directory's filesystem, or move old backups elsewhere",
        ));
    }
}

fn check_tls(opts: &DoctorOptions, out: &mut Vec<Finding>) {
    let Some(path) = &opts.tls_cert else { return };
    let Ok(pem) = std::fs::read(path) else {
        out.push(finding(
            "tls",
            Severity::Error,
            format!("cannot read the TLS certificate {}", path.display()),
            "fix [tls] cert in keyward.toml",
        ));
        return;
    };
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&pem) else {
        out.push(finding(
            "tls",
            Severity::Error,
            format!("{} is not a PEM certificate", path.display()),
            "fix [tls] cert in keyward.toml",
        ));
        return;
    };
    let Ok(cert) = pem.parse_x509() else {
        out.push(finding(
            "tls",
            Severity::Error,
            format!("{} does not parse as X.509", path.display()),
            "fix [tls] cert in keyward.toml",
        ));
        return;
    };
    let not_after = cert.validity().not_after.timestamp();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let days = (not_after - now) / 86_400;
    if not_after <= now {
        out.push(finding(
            "tls",
            Severity::Error,
            format!("the TLS certificate {} has expired", path.display()),
            "install a renewed certificate and restart",
        ));
    } else if days < 30 {
        out.push(finding(
            "tls",
            Severity::Warning,
            format!("the TLS certificate {} expires in {days} days", path.display()),
            "renew it before it expires",
        ));
    }
}

fn check_backups(dir: &DataDir, opts: &DoctorOptions, out: &mut Vec<Finding>) {
    let mut dirs = vec![dir.root().join("backups")];
    dirs.extend(opts.backup_dirs.iter().cloned());
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for d in &dirs {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "kwb") {
                continue;
            }
            // When the manifest is unreadable the file still counts (it will fail verification),
            // dated by its modification time.
            let from_manifest = std::fs::File::open(&p)
                .ok()
                .and_then(|f| keyward_backup::read_manifest(f).ok())
                .and_then(|m| humantime::parse_rfc3339_weak(&m.created_at).ok());
            let Some(created) = from_manifest.or_else(|| std::fs::metadata(&p).and_then(|m| m.modified()).ok()) else {
                continue;
            };
            if newest.as_ref().is_none_or(|(t, _)| created > *t) {
                newest = Some((created, p));
            }
        }
    }
    let Some((created, path)) = newest else {
        out.push(finding(
            "backups",
            Severity::Error,
            format!(
                "no backup found (looked in {})",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            "keyward backup create --out FILE, and point doctor at where backups are kept with --backup-dir",
        ));
        return;
    };
    // The newest one must also verify, or it does not count.
    let verified = std::fs::File::open(&path)
        .ok()
        .map(|f| keyward_backup::ArchiveReader::new(std::io::BufReader::new(f)).check().is_ok())
        .unwrap_or(false);
    if !verified {
        out.push(finding(
            "backups",
            Severity::Error,
            format!("the newest backup, {}, does not verify", path.display()),
            "take a new backup now and find out what damaged this one",
        ));
        return;
    }
    let age = SystemTime::now().duration_since(created).unwrap_or_default();
    if age > opts.max_backup_age {
        out.push(finding(
            "backups",
            Severity::Warning,
            format!(
                "the newest verified backup, {}, is {} old",
                path.display(),
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            ),
            "take a backup (keyward backup create --out FILE) and schedule them",
        ));
    }
}
