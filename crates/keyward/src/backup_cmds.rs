//! `keyward backup create|verify` and `keyward restore`.
//!
//! A backup file is written under a temporary name beside its destination, fsynced, read back
//! and checked in full, and only then renamed into place: a killed or failed backup never leaves
//! a file under the name the operator asked for.

use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use keyward_seal::{ShareFile, StartupSecret};
use keyward_service::backup::{self, BackupOptions, RestoreMode, RestoreOptions};
use keyward_store::{DataDir, Store};
use keyward_types::Component;
use serde_json::{Value, json};

use crate::cli::{AgeArgs, BackupCmd, Format, Global, RestoreArgs, SecretArgs};
use crate::local;
use crate::output::{print_json, print_object};
use crate::progress::Meter;

fn parse_components(names: &[String]) -> anyhow::Result<Option<Vec<Component>>> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|n| n.trim().parse::<Component>().map_err(anyhow::Error::from))
        .collect::<anyhow::Result<_>>()
        .map(Some)
}

/// The startup secret given by flags, if any.
pub fn startup_secret(args: &SecretArgs) -> anyhow::Result<Option<StartupSecret>> {
    if let Some(p) = &args.passphrase_file {
        return Ok(Some(StartupSecret::Passphrase(local::read_passphrase(p)?)));
    }
    if let Some(k) = &args.key_file {
        return Ok(Some(StartupSecret::KeyFile(local::read_secret_file(k, "key file")?)));
    }
    let mut texts = Vec::new();
    for p in &args.share_file {
        texts.push((p.clone(), local::read_secret_file(p, "share file")?));
    }
    if let Some(d) = &args.shares_dir {
        for (i, t) in local::read_shares_dir(d)?.into_iter().enumerate() {
            texts.push((d.join(format!("#{}", i + 1)), t));
        }
    }
    if texts.is_empty() {
        return Ok(None);
    }
    let shares = texts
        .iter()
        .map(|(p, t)| {
            let text = std::str::from_utf8(t.expose()).with_context(|| format!("{} is not text", p.display()))?;
            ShareFile::parse(text).with_context(|| format!("{} is not a Keyward share", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(StartupSecret::Shares(shares)))
}

/// The archive to read: `path` itself, or (for an age-encrypted file) its decryption into a
/// private temporary directory that lives as long as the returned guard.
pub fn plain_archive(path: &Path, age: &AgeArgs) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    if !crate::age_layer::is_age_file(path)? {
        return Ok((path.to_owned(), None));
    }
    if age.age_identity.is_empty() && age.age_passphrase_file.is_none() {
        bail!(
            "{} is encrypted with age: pass --age-identity FILE or --age-passphrase-file FILE to open it",
            path.display()
        );
    }
    let passphrase = age.age_passphrase_file.as_deref().map(local::read_passphrase).transpose()?;
    let dir = tempfile::Builder::new().prefix("keyward-age-").tempdir().context("cannot make a temporary directory")?;
    let plain = dir.path().join("archive.kwb");
    crate::age_layer::decrypt_file(path, &plain, &age.age_identity, passphrase.as_ref().map(|p| p.expose()))?;
    Ok((plain, Some(dir)))
}

fn partial_path(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn sync_parent(path: &Path) {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
}

pub async fn backup(global: &Global, cmd: BackupCmd) -> anyhow::Result<()> {
    match cmd {
        BackupCmd::Create { out, components, data_dir, secret, age } => {
            let components = parse_components(&components)?;
            if out.exists() {
                bail!("{} already exists: choose a new file name (a backup never overwrites another)", out.display());
            }
            let encrypt = !age.age_recipient.is_empty() || age.age_passphrase_file.is_some();
            if !age.age_identity.is_empty() {
                bail!("--age-identity decrypts; to encrypt a new backup give --age-recipient or --age-passphrase-file");
            }
            let tmp = partial_path(&out);
            let sealed = PathBuf::from(format!("{}.age", tmp.display()));
            let result = async {
                let summary = create(global, &tmp, components, data_dir, &secret).await?;
                let last = if encrypt {
                    let passphrase = age.age_passphrase_file.as_deref().map(local::read_passphrase).transpose()?;
                    crate::age_layer::encrypt_file(
                        &tmp,
                        &sealed,
                        &age.age_recipient,
                        passphrase.as_ref().map(|p| p.expose()),
                    )?;
                    std::fs::remove_file(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
                    sealed.clone()
                } else {
                    tmp.clone()
                };
                std::fs::rename(&last, &out)
                    .with_context(|| format!("cannot rename the backup to {}", out.display()))?;
                sync_parent(&out);
                anyhow::Ok(summary)
            }
            .await;
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
                let _ = std::fs::remove_file(&sealed);
            }
            let summary = result?;
            report_created(global.format, &out, &summary, encrypt);
            Ok(())
        }
        BackupCmd::Verify { file, secret, age } => {
            let secret = startup_secret(&secret)?;
            let (file_plain, _guard) = plain_archive(&file, &age)?;
            let f = std::fs::File::open(&file_plain).with_context(|| format!("cannot open {}", file.display()))?;
            let total = keyward_backup::read_manifest(std::fs::File::open(&file_plain)?).map(|m| m.record_count()).ok();
            let meter = Meter::new(global.format, "verify", total, "records");
            let report = backup::verify_archive(BufReader::new(f), secret.as_ref(), &meter.progress());
            meter.finish();
            let report = report?;
            report_verified(global.format, &file, &report)
        }
    }
}

async fn create(
    global: &Global,
    tmp: &Path,
    components: Option<Vec<Component>>,
    data_dir: Option<PathBuf>,
    secret: &SecretArgs,
) -> anyhow::Result<keyward_backup::ReadSummary> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o600));
    }
    // Checked as it is written (see keyward_backup::CheckingWriter), not read back afterwards.
    // Beside a running server the check yields the CPU to it, as the server's backup lanes do.
    let online = data_dir.is_none();
    let writer = keyward_backup::CheckingWriter::with_checker_setup(BufWriter::new(file), move || {
        if online {
            backup::lower_this_thread_priority();
        }
    })?;
    let writer = match data_dir {
        Some(dir) => {
            let data = DataDir::new(&dir);
            if !data.is_initialized() {
                bail!("{} holds no Keyward node", dir.display());
            }
            let (_lock, store) = local::open_store(&data, "backup")?;
            let mac_key = match startup_secret(secret)? {
                Some(s) => {
                    let json = store.seal_config()?.context("the node has no seal configuration")?;
                    let config = keyward_seal::SealConfig::from_json(&json)?;
                    let master = keyward_seal::unseal(&config, &s).context("cannot authenticate the backup")?;
                    Some(master.derive(backup::MANIFEST_MAC_INFO)?)
                }
                None => None,
            };
            let meter = Meter::new(global.format, "backup", None, "records");
            let opts = BackupOptions { components: components.clone(), taken: "offline", progress: meter.progress() };
            let written = backup::write_backup(store.as_ref(), writer, &opts, mac_key.as_ref());
            meter.finish();
            let (writer, _) = written?;
            store.close();
            writer
        }
        None => {
            let mut writer = writer;
            let c = crate::client_cmds::client(global)?;
            let body =
                json!({"components": components.as_ref().map(|cs| cs.iter().map(|c| c.as_str()).collect::<Vec<_>>())});
            let meter = Meter::new(global.format, "backup", None, "bytes");
            let downloaded = c.download("/v1/sys/backup", &body, &mut writer, &|n| meter.add(n)).await;
            meter.finish();
            if let Err(e) = downloaded {
                // A check that fails midway stops the download; its finding says more.
                if writer.check_failed() {
                    let found = writer.finish().err().map(anyhow::Error::from).unwrap_or(e.into());
                    return Err(found.context("the backup failed its check as it was written; nothing was kept"));
                }
                return Err(e.into());
            }
            writer
        }
    };
    let (buffered, summary, streamed) =
        writer.finish().context("the backup failed its check as it was written; nothing was kept")?;
    let file = buffered.into_inner().map_err(|e| e.into_error()).context("cannot write the backup")?;
    file.sync_all().context("cannot fsync the backup")?;
    drop(file);
    // The file as it reached the disk must be, byte for byte, what was checked.
    if file_sha256(tmp).context("cannot read the backup back")? != streamed {
        bail!("the backup file differs from what was written to it (a failing disk?); nothing was kept");
    }
    Ok(summary)
}

fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut hash = keyward_crypto::Sha256::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match std::io::Read::read(&mut f, &mut buf)? {
            0 => return Ok(hash.finish()),
            n => hash.update(buf.get(..n).unwrap_or_default()),
        }
    }
}

fn components_json(m: &keyward_backup::Manifest) -> Value {
    Value::Object(m.components.iter().map(|c| (c.name.clone(), json!(c.records))).collect())
}

fn report_created(format: Format, out: &Path, s: &keyward_backup::ReadSummary, age: bool) {
    let m = &s.manifest;
    let v = json!({
        "file": out,
        "age_encrypted": age,
        "bytes": s.bytes,
        "records": m.record_count(),
        "components": components_json(m),
        "change_seq": m.change_seq,
        "taken": m.taken,
        "authenticated": m.authenticated,
        "server": format!("{} ({})", m.identity.server_name, m.identity.server_id),
        "created_at": m.created_at,
    });
    print_object(format, &v);
    if format == Format::Table && !m.authenticated {
        println!("warning: taken offline without the startup secret, so the manifest is not authenticated");
    }
}

fn report_verified(format: Format, file: &Path, r: &backup::VerifyReport) -> anyhow::Result<()> {
    let m = &r.manifest;
    let ok = r.problems.is_empty();
    let v = json!({
        "file": file,
        "format": m.format,
        "ok": ok,
        "bytes": r.bytes,
        "components": components_json(m),
        "complete": m.complete,
        "change_seq": m.change_seq,
        "created_at": m.created_at,
        "server": format!("{} ({})", m.identity.server_name, m.identity.server_id),
        "organization": m.identity.organization,
        "with_secret": r.with_secret,
        "authenticated": m.authenticated,
        "keys_decrypted": r.keys_decrypted,
        "round_trips": r.round_trips,
        "problems": r.problems,
        "warnings": r.warnings,
    });
    if format == Format::Json {
        print_json(&v);
    } else {
        println!(
            "{}: structure, checksums and counts verified ({} bytes, {} records)",
            file.display(),
            r.bytes,
            m.record_count()
        );
        if r.with_secret {
            println!("with the secret: {} key versions decrypted, {} round trips", r.keys_decrypted, r.round_trips);
        } else {
            println!(
                "without the secret: key material not checked (give --passphrase-file, --key-file or --shares-dir)"
            );
        }
        for w in &r.warnings {
            println!("warning: {w}");
        }
        for p in &r.problems {
            println!("DEFECT: {p}");
        }
        println!("{}", if ok { "OK" } else { "FAILED" });
    }
    if ok { Ok(()) } else { Err(crate::Exit(1).into()) }
}

pub async fn restore(global: &Global, args: RestoreArgs) -> anyhow::Result<()> {
    let components = parse_components(&args.components)?;
    let (archive, _guard) = plain_archive(&args.file, &args.age)?;
    let mode = match (args.erase, args.merge) {
        (true, _) => RestoreMode::Erase,
        (_, true) => RestoreMode::Merge,
        _ => RestoreMode::Fresh,
    };
    let (v, target) = match &args.data_dir {
        Some(data_dir) => {
            let dir = DataDir::new(data_dir);
            let _lock = dir.lock("restore")?;
            dir.clean_abandoned_restores();
            let total = keyward_backup::read_manifest(std::fs::File::open(&archive)?).map(|m| m.record_count()).ok();
            let meter = Meter::new(global.format, "restore", total, "records");
            let opts = RestoreOptions {
                mode,
                components,
                destination: args.destination.clone(),
                dry_run: args.dry_run,
                progress: meter.progress(),
                keep_schema_versions: false,
            };
            let report = backup::restore_archive(&dir, &archive, &opts);
            meter.finish();
            let report = report?;
            if !args.dry_run {
                let store = keyward_store::SqliteStore::open(&dir.db_path(), keyward_service::audit_chain_hash)?;
                store.audit(
                    keyward_store::AuditEntry {
                        at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                        actor: "local".into(),
                        action: "restore".into(),
                        target: report.server_id.clone(),
                        outcome: "ok".into(),
                        detail: format!(
                            "from {} ({mode:?} mode), incarnation {}",
                            args.file.display(),
                            report.incarnation
                        ),
                    },
                    keyward_store::AuditDurability::Wait,
                )?;
                store.close();
            }
            (keyward_server::rest::restore_report_json(&report), data_dir.display().to_string())
        }
        None => {
            let bytes = std::fs::read(&archive).with_context(|| format!("cannot read {}", args.file.display()))?;
            let mut query = vec![
                format!("erase={}", args.erase),
                format!("merge={}", args.merge),
                format!("dry_run={}", args.dry_run),
            ];
            if !args.components.is_empty() {
                query.push(format!("components={}", args.components.join(",")));
            }
            if let Some(d) = &args.destination {
                query.push(format!("destination={d}"));
            }
            let c = crate::client_cmds::client(global)?;
            let v = c.post_bytes(&format!("/v1/sys/restore?{}", query.join("&")), bytes).await?;
            (v, global.addr.clone())
        }
    };
    if global.format == Format::Json {
        print_json(&v);
    } else {
        print_restore_report(&args, &v, &target);
    }
    if args.start {
        let server = crate::cli::ServerArgs {
            dev: args.config.is_none(),
            config: args.config.clone(),
            data_dir: args.data_dir.clone(),
            listen: args.listen,
            unseal: Default::default(),
            upgrade: false,
        };
        return crate::server_cmd::run(server).await;
    }
    Ok(())
}

fn print_restore_report(args: &RestoreArgs, v: &Value, target: &str) {
    let dry = v["dry_run"] == json!(true);
    let verb = if dry { "Would restore" } else { "Restored" };
    println!(
        "{verb} {} into {target}: node {} ({}), incarnation {}",
        args.file.display(),
        v["server_name"].as_str().unwrap_or("?"),
        v["server_id"].as_str().unwrap_or("?"),
        v["incarnation"]
    );
    if let Some(restored) = v["restored"].as_object() {
        for (c, n) in restored {
            println!("  {c}: {n} records from the backup");
        }
    }
    let list = |v: &Value| {
        let items: Vec<&str> = v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if items.is_empty() { "none".to_owned() } else { items.join(", ") }
    };
    println!("  keys added: {}", list(&v["keys_added"]));
    println!("  keys removed: {}", list(&v["keys_removed"]));
    println!("  keys replaced by their backed-up state: {}", v["keys_replaced"]);
    for c in v["pki_cancelled"].as_array().cloned().unwrap_or_default() {
        println!("  {}", c.as_str().unwrap_or(""));
    }
    for c in v["conflicts"].as_array().cloned().unwrap_or_default() {
        println!(
            "  conflict {} {}: {}",
            c["object_id"].as_str().unwrap_or(""),
            c["name"],
            c["resolution"].as_str().unwrap_or("")
        );
    }
    if let Some(old) = v["retired_server"].as_str() {
        println!("  restored as a new server; the old identity {old} is recorded as retired");
    }
    if dry {
        println!("Nothing was changed (--dry-run).");
        return;
    }
    if let Some(old) = v["kept_old_store"].as_str() {
        println!("The previous store is kept at {old}.");
    }
    match v["sealed"].as_bool() {
        Some(true) => println!("The server is serving again, sealed: unseal it with the backup's startup secret."),
        Some(false) => println!("The server is serving again, unsealed."),
        None if args.start => {
            println!(
                "Starting the server, sealed: unseal it with the startup secret in force when the backup was taken."
            )
        }
        None => println!(
            "Start the server; it is sealed and opens with the startup secret that was in force when the backup was taken."
        ),
    }
}
