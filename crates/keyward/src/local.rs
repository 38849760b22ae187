//! Commands that work on a data directory directly (the server must not be running there):
//! `init` and offline `audit verify`. Also the helpers that read and write secret files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use keyward_crypto::Secret;
use keyward_seal::{Issued, NewSecret};
use keyward_service::{InitOptions, InitOutcome};
use keyward_store::{DataDir, DataDirLock, SqliteStore, Store};
use serde_json::json;

use crate::cli::{Format, Global, InitArgs};

/// Reads a passphrase file; one trailing newline (as editors and `echo` add) is not part of it.
pub fn read_passphrase(path: &Path) -> anyhow::Result<Secret> {
    let mut bytes =
        std::fs::read(path).with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        bail!("the passphrase file {} is empty", path.display());
    }
    Ok(Secret::from_vec(bytes))
}

pub fn read_secret_file(path: &Path, what: &str) -> anyhow::Result<Secret> {
    Ok(Secret::from_vec(std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))?))
}

/// Every regular file in `dir`, sorted by name, as share texts.
pub fn read_shares_dir(dir: &Path) -> anyhow::Result<Vec<Secret>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the shares directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("the shares directory {} holds no share files", dir.display());
    }
    paths.iter().map(|p| read_secret_file(p, "share file")).collect()
}

/// Creates `path` with mode 0600, refusing to overwrite, and fsyncs it.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f =
        options.open(path).with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Checks that secret output can be written before anything is changed, so a node is never
/// left sealed under a secret nobody received.
pub fn check_secret_destination(key_file: Option<&Path>, shares_dir: Option<&Path>) -> anyhow::Result<()> {
    if let Some(p) = key_file {
        if p.exists() {
            bail!(
                "the key file {} already exists: choose a new path (an existing key file is never overwritten)",
                p.display()
            );
        }
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!("the directory {} for the key file does not exist", parent.display());
        }
    }
    if let Some(d) = shares_dir
        && d.exists()
        && std::fs::read_dir(d).map(|mut e| e.next().is_some()).unwrap_or(true)
    {
        bail!("the shares directory {} is not empty: choose a new, empty directory", d.display());
    }
    Ok(())
}

/// Writes what `init` or `rekey` issued; returns the paths written.
pub fn write_issued(
    issued: &Issued,
    key_file: Option<&Path>,
    shares_dir: Option<&Path>,
    identity: &keyward_store::IdentityRow,
) -> anyhow::Result<Vec<PathBuf>> {
    match issued {
        Issued::Nothing => Ok(Vec::new()),
        Issued::KeyFile(bytes) => {
            let path = key_file.context("a key file was issued but no path was given")?;
            write_secret_file(path, bytes.expose())?;
            Ok(vec![path.to_owned()])
        }
        Issued::Shares(files) => {
            let dir = shares_dir.context("shares were issued but no directory was given")?;
            create_private_dir(dir)?;
            let mut written = Vec::new();
            for f in files {
                let path = dir.join(format!("share-{}.txt", f.index()));
                let header = keyward_server::share_header(identity, f.index(), f.threshold(), files.len());
                write_secret_file(&path, f.to_text(&header).expose())?;
                written.push(path);
            }
            Ok(written)
        }
    }
}

pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

pub fn open_store(dir: &DataDir, purpose: &str) -> anyhow::Result<(DataDirLock, Arc<SqliteStore>)> {
    let lock = dir.lock(purpose)?;
    let store = SqliteStore::open(&dir.db_path(), keyward_service::audit_chain_hash)
        .with_context(|| format!("cannot open the store in {}", dir.root().display()))?;
    Ok((lock, Arc::new(store)))
}

/// Initialises `dir` and writes the issued secret; on failure to write the secret, removes the
/// half-made node so the operator can simply retry.
pub fn initialize_dir(
    dir: &DataDir,
    options: InitOptions,
    key_file: Option<&Path>,
    shares_dir: Option<&Path>,
) -> anyhow::Result<(InitOutcome, Vec<PathBuf>)> {
    check_secret_destination(key_file, shares_dir)?;
    let (_lock, store) = open_store(dir, "init")?;
    if store.identity()?.is_some() {
        bail!("{} already holds an initialised node; use another --data-dir", dir.root().display());
    }
    let outcome = keyward_service::initialize(store.as_ref(), options)?;
    store.close();
    match write_issued(&outcome.issued, key_file, shares_dir, &outcome.identity) {
        Ok(paths) => Ok((outcome, paths)),
        Err(e) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", dir.db_path().display()));
            }
            Err(e.context("the node was not initialised"))
        }
    }
}

pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

pub fn init(global: &Global, args: InitArgs) -> anyhow::Result<()> {
    let secret = if let Some(p) = &args.passphrase_file {
        NewSecret::Passphrase(read_passphrase(p)?)
    } else if args.key_file.is_some() {
        NewSecret::KeyFile
    } else if let (Some(shares), Some(threshold)) = (args.shares, args.threshold) {
        NewSecret::Shares { threshold, shares }
    } else {
        eprintln!(
            "error: choose the startup secret: --passphrase-file F, --key-file F, or --shares N --threshold M --shares-dir S"
        );
        return Err(crate::Exit(2).into());
    };
    let kind = match &secret {
        NewSecret::Passphrase(_) => "passphrase",
        NewSecret::KeyFile => "key-file",
        NewSecret::Shares { .. } => "shares",
    };
    let dir = DataDir::new(&args.data_dir);
    let options = InitOptions {
        organization: args.org,
        site: args.site,
        server_name: args.server_name.unwrap_or_else(hostname),
        secret,
    };
    let (outcome, paths) = initialize_dir(&dir, options, args.key_file.as_deref(), args.shares_dir.as_deref())?;
    let token = String::from_utf8_lossy(outcome.root_token.expose()).into_owned();
    let id = &outcome.identity;
    if global.format == Format::Json {
        crate::output::print_json(&json!({
            "root_token": token,
            "server_id": id.server_id,
            "organization": id.organization,
            "site": id.site,
            "server_name": id.server_name,
            "incarnation": id.incarnation,
            "secret_kind": kind,
            "secret_files": paths,
            "data_dir": args.data_dir,
        }));
    } else {
        println!(
            "Initialised node {} ({}) of {}/{} in {}",
            id.server_name,
            id.server_id,
            id.organization,
            id.site,
            args.data_dir.display()
        );
        match kind {
            "key-file" => println!(
                "Startup key file: {} (mode 0600; keep a copy offline: it is the only way to unseal)",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            "shares" => {
                println!("Shares written (give each to a different custodian, then delete them here):");
                for p in &paths {
                    println!("  {}", p.display());
                }
            }
            _ => println!(
                "Sealed with the passphrase from {}",
                args.passphrase_file.as_deref().unwrap_or(Path::new("?")).display()
            ),
        }
        println!("Root token (shown once; store it safely): {token}");
        println!(
            "Start it: keyward server --config keyward.toml   (or --dev --data-dir {} for a local test)",
            args.data_dir.display()
        );
    }
    Ok(())
}

pub fn audit_verify(global: &Global, dir: &Path) -> anyhow::Result<()> {
    let data_dir = DataDir::new(dir);
    if !data_dir.is_initialized() {
        bail!("{} holds no Keyward node", dir.display());
    }
    let (_lock, store) = open_store(&data_dir, "audit verify")?;
    let report = keyward_service::verify_chain(store.as_ref())?;
    let v = json!({"records": report.records, "intact": report.first_broken.is_none(), "first_broken": report.first_broken, "problem": report.problem});
    crate::client_cmds::report_audit(global.format, &v)
}
