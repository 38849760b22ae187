//! `keyward upgrade`: migrate a stopped node's components, a verified backup first; and
//! `--rollback` to that backup with the schema versions it had. See docs/upgrades.md.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use keyward_service::backup::{self, BackupOptions, RestoreMode, RestoreOptions};
use keyward_store::DataDir;
use keyward_store::components::{Plan, Upgrader};
use serde_json::{Value, json};

use crate::cli::{Format, Global, UpgradeArgs};
use crate::output::print_json;

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn plan_json(plan: &Plan) -> Value {
    json!({
        "steps": plan.steps.iter().map(|s| json!({"component": s.component, "from": s.from, "to": s.to, "change": s.describe})).collect::<Vec<_>>(),
        "stale": plan.stale.iter().map(|r| json!({
            "component": r.name,
            "version": r.version,
            "missing_tables": r.missing_tables,
            "fix": match keyward_store::components::spec(&r.name) {
                Some(s) if !s.required => format!(
                    "its data is gone: keyward doctor --data-dir DIR --fix removes the stale registration; keyward component add {} installs it afresh",
                    r.name
                ),
                _ => format!("its data is missing: restore it from a backup (keyward restore FILE --data-dir DIR --erase --components {})", r.name),
            },
        })).collect::<Vec<_>>(),
        "current": plan.current,
    })
}

/// Upgrades the directory (the caller holds its lock). Returns the report, and whether anything
/// was changed.
pub fn upgrade_dir(dir: &DataDir, dry_run: bool) -> anyhow::Result<Value> {
    let mut upgrader = Upgrader::open(&dir.db_path())?;
    let plan = upgrader.plan()?;
    let mut report = plan_json(&plan);
    report["dry_run"] = json!(dry_run);
    if plan.steps.is_empty() || dry_run {
        report["backup"] = Value::Null;
        return Ok(report);
    }
    let backup = pre_upgrade_backup(dir, &plan)?;
    report["backup"] = json!(backup);
    let at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    for step in &plan.steps {
        upgrader
            .apply(step, &at)
            .with_context(|| format!("migrating {} from {} to {}", step.component, step.from, step.to))?;
    }
    Ok(report)
}

/// Writes `D/backups/pre-upgrade-<steps>-<time>.kwb` under a temporary name, reads it back in
/// full, then renames it into place.
fn pre_upgrade_backup(dir: &DataDir, plan: &Plan) -> anyhow::Result<PathBuf> {
    let backups = dir.root().join("backups");
    crate::local::create_private_dir(&backups)?;
    let steps = plan.steps.iter().map(|s| format!("{}{}-{}", s.component, s.from, s.to)).collect::<Vec<_>>().join("_");
    let name = format!("pre-upgrade-{steps}-{}.kwb", now().replace([':'], ""));
    let out = backups.join(&name);
    // Partial files of earlier runs that were killed midway (we hold the lock: none is live).
    for e in std::fs::read_dir(&backups).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(".pre-upgrade-") && n.contains(".partial") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let tmp = backups.join(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut snap = keyward_store::Snapshot::open_read_only(&dir.db_path())?;
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        let opts = BackupOptions { components: None, taken: "offline", progress: Default::default() };
        let (writer, _) = backup::write_backup_of(std::slice::from_mut(&mut snap), BufWriter::new(file), &opts, None)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        keyward_backup::ArchiveReader::new(std::io::BufReader::new(std::fs::File::open(&tmp)?)).check()?;
        std::fs::rename(&tmp, &out)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context("the pre-upgrade backup failed, so nothing was upgraded"));
    }
    Ok(out)
}

fn newest_pre_upgrade_backup(dir: &DataDir) -> anyhow::Result<PathBuf> {
    let backups = dir.root().join("backups");
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(&backups).map(|it| it.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    found.retain(|p| {
        p.file_name()
            .map(|n| n.to_string_lossy().starts_with("pre-upgrade-") && n.to_string_lossy().ends_with(".kwb"))
            .unwrap_or(false)
    });
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found
        .pop()
        .with_context(|| format!("no pre-upgrade backup in {}: there is no upgrade to roll back", backups.display()))
}

pub fn run(global: &Global, args: UpgradeArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(&args.data_dir);
    if !dir.is_initialized() {
        bail!("{} holds no Keyward node", args.data_dir.display());
    }
    let _lock = dir.lock("upgrade")?;
    if args.rollback {
        let backup = newest_pre_upgrade_backup(&dir)?;
        let opts = RestoreOptions {
            mode: RestoreMode::Erase,
            components: None,
            destination: None,
            dry_run: false,
            progress: Default::default(),
            keep_schema_versions: true,
        };
        let report = backup::restore_archive(&dir, &backup, &opts)?;
        let versions = Upgrader::open(&dir.db_path())?.registered()?;
        let v = json!({
            "rolled_back_to": backup,
            "components": versions.iter().map(|r| json!({"component": r.name, "version": r.version})).collect::<Vec<_>>(),
            "incarnation": report.incarnation,
            "kept_old_store": report.kept_old_store,
        });
        if global.format == Format::Json {
            print_json(&v);
        } else {
            println!("Rolled back to {}.", backup.display());
            for r in &versions {
                println!("  {} is at schema version {}", r.name, r.version);
            }
            println!("Run the keyward version that wrote these versions against this directory.");
        }
        return Ok(());
    }
    let report = upgrade_dir(&dir, args.dry_run)?;
    print_report(global.format, &report, &args.data_dir);
    Ok(())
}

pub fn print_report(format: Format, report: &Value, data_dir: &Path) {
    if format == Format::Json {
        print_json(report);
        return;
    }
    let steps = report["steps"].as_array().cloned().unwrap_or_default();
    let dry = report["dry_run"] == json!(true);
    if steps.is_empty() {
        println!(
            "{}: every present component is at this binary's schema version; nothing to upgrade.",
            data_dir.display()
        );
    } else {
        println!("{} {}:", if dry { "Would upgrade" } else { "Upgraded" }, data_dir.display());
        for s in &steps {
            println!(
                "  {} {} -> {}: {}",
                s["component"].as_str().unwrap_or("?"),
                s["from"],
                s["to"],
                s["change"].as_str().unwrap_or("")
            );
        }
        if let Some(b) = report["backup"].as_str() {
            println!("A verified backup was taken first: {b}");
            println!("To undo: keyward upgrade --rollback --data-dir {}", data_dir.display());
        }
        if dry {
            println!("Nothing was changed (--dry-run).");
        }
    }
    for s in report["stale"].as_array().cloned().unwrap_or_default() {
        println!(
            "STALE: component {} is registered but its data is missing ({}); skipped. {}",
            s["component"].as_str().unwrap_or("?"),
            list(&s["missing_tables"]),
            s["fix"].as_str().unwrap_or("")
        );
    }
}

fn list(v: &Value) -> String {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}
