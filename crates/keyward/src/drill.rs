//! `keyward drill`: a full trial restore, timed. Proves a backup and a secret bring back a
//! serving node, and reports the recovery time (RTO) and the recovery point (RPO: the backup's
//! age) for monitoring.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use base64::Engine as _;
use keyward_service::backup::{self, RestoreMode, RestoreOptions};
use keyward_store::{DataDir, Store};
use keyward_types::Role;
use serde_json::{Value, json};

use crate::backup_cmds::startup_secret;
use crate::cli::{DrillArgs, Format, Global};
use crate::local;

/// The throwaway server, stopped on drop.
struct Throwaway(Child);

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(data: &Path, unseal: &[String]) -> anyhow::Result<(Throwaway, String)> {
    let exe = std::env::current_exe().context("cannot find the keyward binary")?;
    let mut child = Command::new(exe)
        .args(["server", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(unseal)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the throwaway server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let guard = Throwaway(child);
    for line in lines.by_ref() {
        let line = line.context("reading the throwaway server's output")?;
        if let Some(rest) = line.strip_prefix("keyward: listening on ") {
            let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
            // Keep draining its output so it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok((guard, addr));
        }
    }
    bail!("the throwaway server stopped before serving (is the secret right for this backup?)")
}

pub async fn run(global: &Global, args: DrillArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let secret = startup_secret(&args.secret)?
        .context("a drill needs the startup secret: --passphrase-file, --key-file or --shares-dir")?;
    let (archive, _guard) = crate::backup_cmds::plain_archive(&args.file, &args.age)?;
    let f = std::fs::File::open(&archive).with_context(|| format!("cannot open {}", args.file.display()))?;
    let total = keyward_backup::read_manifest(std::fs::File::open(&archive)?).map(|m| m.record_count()).ok();
    let meter = crate::progress::Meter::new(global.format, "verify", total, "records");
    let report = backup::verify_archive(std::io::BufReader::new(f), Some(&secret), &meter.progress());
    meter.finish();
    let report = report?;
    if !report.problems.is_empty() {
        bail!("the backup failed verification: {}", report.problems.join("; "));
    }
    let verified_s = started.elapsed().as_secs_f64();

    let temp;
    let scratch = match &args.scratch_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile_dir()?;
            temp.join("data")
        }
    };
    let dir = DataDir::new(&scratch);
    let restore = {
        let _lock = dir.lock("drill")?;
        backup::restore_archive(
            &dir,
            &archive,
            &RestoreOptions {
                mode: RestoreMode::Fresh,
                components: None,
                destination: None,
                dry_run: false,
                progress: Default::default(),
                keep_schema_versions: false,
            },
        )?
    };
    let token = {
        let (_lock, store) = local::open_store(&dir, "drill")?;
        let t = keyward_service::bootstrap_token(store.as_ref(), Role::Admin, "disaster drill")?;
        store.close();
        String::from_utf8_lossy(t.expose()).into_owned()
    };
    let restored_s = started.elapsed().as_secs_f64();

    let unseal = match (&args.secret.passphrase_file, &args.secret.key_file, &args.secret.shares_dir) {
        (Some(p), _, _) => vec!["--unseal-passphrase-file".to_owned(), p.display().to_string()],
        (_, Some(k), _) => vec!["--unseal-key-file".to_owned(), k.display().to_string()],
        (_, _, Some(s)) => vec!["--unseal-shares-dir".to_owned(), s.display().to_string()],
        _ => bail!("a drill needs --passphrase-file, --key-file or --shares-dir"),
    };
    let (server, addr) = start_server(&scratch, &unseal)?;
    let client = keyward_client::Client::new(&keyward_client::Settings {
        addr: addr.clone(),
        token: Some(token),
        ..Default::default()
    })?;
    let health = client.get("/v1/sys/health").await?;
    if health["sealed"] != json!(false) {
        bail!("the restored node did not unseal");
    }
    let rto_s = started.elapsed().as_secs_f64();

    // Use a sample of keys through the API, as applications would.
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    let page = client.get(&format!("/v1/keys?limit={}&state=active", args.sample.clamp(1, 1000))).await?;
    for k in page["keys"].as_array().cloned().unwrap_or_default() {
        let name = k["name"].as_str().unwrap_or_default().to_owned();
        let key_type = k["type"].as_str().unwrap_or_default().to_owned();
        if k["enabled"] != json!(true) {
            continue;
        }
        match exercise(&client, &name, &key_type).await {
            Ok(()) => checked.push(name),
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    // The certificate authority, when the backup has one: its CA and CRL are served and the
    // CRL is signed and current.
    let mut pki = Value::Null;
    if report.manifest.component("pki").is_some() {
        match drill_pki(&client).await {
            Ok(v) => pki = v,
            Err(e) => failures.push(format!("pki: {e:#}")),
        }
    }
    drop(server);
    if args.scratch_dir.is_none() {
        let _ = std::fs::remove_dir_all(scratch.parent().unwrap_or(&scratch));
    }

    let backup_age_s = humantime::parse_rfc3339_weak(&report.manifest.created_at)
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs_f64());
    let counts: Value = report
        .manifest
        .components
        .iter()
        .map(|c| (c.name.clone(), json!(c.records)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let ok = failures.is_empty();
    let v = json!({
        "ok": ok,
        "file": args.file,
        "server": format!("{} ({})", report.manifest.identity.server_name, report.manifest.identity.server_id),
        "verified_after_s": round(verified_s),
        "restored_after_s": round(restored_s),
        "rto_s": round(rto_s),
        "rpo_s": backup_age_s.map(round),
        "backup_created_at": report.manifest.created_at,
        "change_seq": report.manifest.change_seq,
        "records": counts,
        "keys_decrypted": report.keys_decrypted,
        "round_trips_offline": report.round_trips,
        "keys_exercised_via_api": checked.len(),
        "pki": pki,
        "failures": failures,
        "incarnation": restore.incarnation,
    });
    if global.format == Format::Json {
        crate::output::print_json(&v);
    } else {
        println!("Disaster drill of {}", args.file.display());
        println!(
            "  verified with the secret: {} key versions decrypted, {} round trips ({:.2} s)",
            report.keys_decrypted, report.round_trips, verified_s
        );
        println!("  restored into a scratch directory ({:.2} s)", restored_s);
        println!("  RTO: serving, unsealed, {:.2} s after the drill started", rto_s);
        if let Some(age) = backup_age_s {
            println!(
                "  RPO: the backup is {} old (taken {})",
                humantime::format_duration(Duration::from_secs(age as u64)),
                report.manifest.created_at
            );
        }
        println!("  {} keys used through the API", checked.len());
        if !pki.is_null() {
            println!(
                "  pki: {} CA generations, {} people, CRL valid until {}",
                pki["cas"],
                pki["people"],
                pki["crl_next_update"].as_str().unwrap_or("?")
            );
        }
        for f in &failures {
            println!("  FAILED: {f}");
        }
        println!("{}", if ok { "DRILL PASSED" } else { "DRILL FAILED" });
    }
    if ok { Ok(()) } else { Err(crate::Exit(1).into()) }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "keyward-drill-{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

async fn drill_pki(c: &keyward_client::Client) -> anyhow::Result<Value> {
    let cas = c.get("/v1/pki/ca").await?;
    let cas = cas["cas"].as_array().cloned().unwrap_or_default();
    if !cas.iter().any(|ca| ca["status"] == "active") {
        bail!("no active CA after the restore");
    }
    let crl = c.get_raw("/v1/pki/crl").await?;
    let (_, next, revoked) = keyward_pki::crl_info(&crl)?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let next = next.context("the CRL has no next update")?;
    if next <= now {
        bail!("the CRL is stale");
    }
    let people = c.get("/v1/pki/people").await?;
    let next = humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(next as u64)).to_string();
    Ok(json!({
        "cas": cas.len(),
        "people": people["people"].as_array().map(Vec::len).unwrap_or(0),
        "revoked": revoked.len(),
        "crl_next_update": next,
    }))
}

async fn exercise(c: &keyward_client::Client, name: &str, key_type: &str) -> anyhow::Result<()> {
    let probe = base64::engine::general_purpose::STANDARD.encode(b"keyward drill probe");
    let path = |s: &str| keyward_client::Client::key_path(name, s);
    if key_type.starts_with("aes") || key_type.starts_with("rsa") {
        let ct = c.post(&path("/encrypt"), &json!({"plaintext": probe})).await?;
        let pt = c.post(&path("/decrypt"), &json!({"ciphertext": ct["ciphertext"]})).await?;
        if pt["plaintext"] != json!(probe) {
            bail!("decrypt returned something else");
        }
    }
    if key_type.starts_with("rsa") || key_type.starts_with("ec") || key_type == "ed25519" {
        let sig = c.post(&path("/sign"), &json!({"message": probe})).await?;
        let v = c.post(&path("/verify"), &json!({"message": probe, "signature": sig["signature"]})).await?;
        if v["valid"] != json!(true) {
            bail!("its own signature does not verify");
        }
    }
    if key_type.starts_with("hmac") {
        let mac = c.post(&path("/hmac"), &json!({"message": probe})).await?;
        let v = c.post(&path("/hmac/verify"), &json!({"message": probe, "hmac": mac["hmac"]})).await?;
        if v["valid"] != json!(true) {
            bail!("its own HMAC does not verify");
        }
    }
    Ok(())
}
