//! `keyward doctor`: offline on a stopped node's directory (with --fix), or online through
//! `GET /v1/sys/doctor`. Exits non-zero while an error-level finding remains.

use std::time::Duration;

use anyhow::bail;
use keyward_service::doctor::{self, DoctorOptions};
use keyward_store::DataDir;
use serde_json::json;

use crate::cli::{DoctorArgs, Format, Global};
use crate::output::{print_json, print_rows};

pub async fn run(global: &Global, args: DoctorArgs) -> anyhow::Result<()> {
    let tls_cert = match &args.config {
        Some(c) => keyward_server::FileConfig::load(c)?.tls.map(|t| t.cert),
        None => None,
    };
    let report = match &args.data_dir {
        Some(d) => {
            let dir = DataDir::new(d);
            if !dir.is_initialized() {
                bail!("{} holds no Keyward node", d.display());
            }
            // Read the note a previous holder left before taking the lock rewrites it.
            let previous = dir.lock_file_text();
            let mut lock = dir.lock("doctor")?;
            if !args.fix {
                // Only --fix clears a stale note; a plain look changes nothing.
                lock.leave_note_on_release(previous.clone());
            }
            let opts = DoctorOptions {
                fix: args.fix,
                secret_paths: args.secret_paths.clone(),
                backup_dirs: args.backup_dirs.clone(),
                max_backup_age: Duration::from_secs(args.max_backup_age_days * 86_400),
                tls_cert,
                previous_lock_text: Some(previous),
            };
            keyward_server::rest::doctor_report_json(&doctor::examine(&dir, &opts)?)
        }
        None => {
            let mut q = vec![format!("max_backup_age_days={}", args.max_backup_age_days)];
            for b in &args.backup_dirs {
                q.push(format!("backup_dir={}", b.display()));
            }
            crate::client_cmds::client(global)?.get(&format!("/v1/sys/doctor?{}", q.join("&"))).await?
        }
    };
    let healthy = report["healthy"] == json!(true);
    if global.format == Format::Json {
        print_json(&report);
    } else {
        let rows = report["findings"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            println!("No findings: the node is healthy.");
        } else {
            print_rows(global.format, &report, &rows, &["severity", "check", "message", "fix", "fixed"]);
            println!("{}", if healthy { "No error-level findings remain." } else { "Error-level findings remain." });
        }
    }
    if healthy { Ok(()) } else { Err(crate::Exit(1).into()) }
}
