//! Client commands: they talk to a running server over its REST API.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_client::{Client, Settings};
use serde_json::{Value, json};

use crate::cli::{Format, Global, KeyCmd, OperatorCmd, RekeyArgs, SecretArgs, TokenCmd};
use crate::local;
use crate::output::{print_json, print_object, print_rows};

pub fn client(global: &Global) -> anyhow::Result<Client> {
    Ok(Client::new(&Settings {
        addr: global.addr.clone(),
        token: global.token.clone(),
        cacert: global.cacert.clone(),
        client_identity: global.client_cert.clone(),
    })?)
}

fn stdin_bytes() -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).context("cannot read standard input")?;
    Ok(buf)
}

fn stdin_text() -> anyhow::Result<String> {
    let bytes = stdin_bytes()?;
    Ok(String::from_utf8(bytes).context("standard input is not text")?.trim().to_owned())
}

/// Prints one string result: the bare value for people and pipes, an object for `--format json`.
fn print_value(format: Format, field: &str, v: &Value) {
    if format == Format::Json {
        print_json(v);
    } else {
        println!("{}", v[field].as_str().unwrap_or_default());
    }
}

fn status_line(v: &Value) -> String {
    if v["sealed"].as_bool() == Some(false) {
        return "unsealed".into();
    }
    match (v["threshold"].as_u64(), v["progress"].as_u64()) {
        (Some(t), Some(p)) => format!("sealed: {p} of {t} shares given"),
        _ => "sealed".into(),
    }
}

pub async fn operator(global: &Global, cmd: OperatorCmd) -> anyhow::Result<()> {
    let c = client(global)?;
    match cmd {
        OperatorCmd::Status => {
            let v = c.get("/v1/sys/status").await?;
            print_object(global.format, &v);
        }
        OperatorCmd::Seal => {
            let v = c.post("/v1/sys/seal", &json!({})).await?;
            if global.format == Format::Json {
                print_json(&v);
            } else {
                println!("sealed");
            }
        }
        OperatorCmd::Unseal(args) => {
            let bodies = unseal_bodies(&args)?;
            let mut last = Value::Null;
            for body in bodies {
                last = c.post("/v1/sys/unseal", &body).await?;
            }
            if global.format == Format::Json {
                print_json(&last);
            } else {
                println!("{}", status_line(&last));
            }
        }
        OperatorCmd::Rekey(args) => rekey(global, &c, args).await?,
    }
    Ok(())
}

fn text(secret: &keyward_crypto::Secret) -> String {
    String::from_utf8_lossy(secret.expose()).into_owned()
}

fn unseal_bodies(args: &SecretArgs) -> anyhow::Result<Vec<Value>> {
    if let Some(p) = &args.passphrase_file {
        return Ok(vec![json!({"passphrase": text(&local::read_passphrase(p)?)})]);
    }
    if let Some(k) = &args.key_file {
        return Ok(vec![json!({"key_file": B64.encode(local::read_secret_file(k, "key file")?.expose())})]);
    }
    let mut shares = Vec::new();
    for p in &args.share_file {
        shares.push(local::read_secret_file(p, "share file")?);
    }
    if let Some(d) = &args.shares_dir {
        shares.extend(local::read_shares_dir(d)?);
    }
    if shares.is_empty() {
        eprintln!(
            "error: give the secret: --passphrase-file F, --key-file F, --share-file F (repeatable) or --shares-dir S"
        );
        return Err(crate::Exit(2).into());
    }
    Ok(shares.iter().map(|s| json!({"share": text(s)})).collect())
}

async fn rekey(global: &Global, c: &Client, args: RekeyArgs) -> anyhow::Result<()> {
    let current = {
        let bodies = unseal_bodies(&args.current)?;
        let mut merged = json!({});
        let shares: Vec<Value> = bodies.iter().filter_map(|b| b.get("share").cloned()).collect();
        if shares.is_empty() {
            merged = bodies.into_iter().next().unwrap_or_default();
        } else {
            merged["shares"] = Value::Array(shares);
        }
        merged
    };
    let new = if let Some(p) = &args.new_passphrase_file {
        json!({"kind": "passphrase", "passphrase": text(&local::read_passphrase(p)?)})
    } else if args.new_key_file.is_some() {
        json!({"kind": "key-file"})
    } else if let (Some(n), Some(t)) = (args.new_shares, args.new_threshold) {
        json!({"kind": "shares", "shares": n, "threshold": t})
    } else {
        eprintln!(
            "error: choose the new secret: --new-passphrase-file F, --new-key-file F, or --new-shares N --new-threshold M --new-shares-dir S"
        );
        return Err(crate::Exit(2).into());
    };
    local::check_secret_destination(args.new_key_file.as_deref(), args.new_shares_dir.as_deref())?;
    let v = c.post("/v1/sys/rekey", &json!({"current": current, "new": new})).await?;
    let mut written = Vec::new();
    if let (Some(path), Some(k)) = (&args.new_key_file, v["key_file"].as_str()) {
        local::write_secret_file(path, &B64.decode(k).context("the server sent a malformed key file")?)?;
        written.push(path.display().to_string());
    }
    if let (Some(dir), Some(shares)) = (&args.new_shares_dir, v["shares"].as_array()) {
        local::create_private_dir(dir)?;
        for (i, s) in shares.iter().enumerate() {
            let path = dir.join(format!("share-{}.txt", i + 1));
            local::write_secret_file(&path, s.as_str().unwrap_or_default().as_bytes())?;
            written.push(path.display().to_string());
        }
    }
    if global.format == Format::Json {
        print_json(&json!({"rekeyed": true, "kind": v["kind"], "secret_files": written}));
    } else {
        println!("The startup secret is now a {}.", v["kind"].as_str().unwrap_or("new secret"));
        for w in written {
            println!("  wrote {w}");
        }
        println!("The old secret no longer unseals this node.");
    }
    Ok(())
}

const KEY_COLUMNS: &[&str] = &["name", "type", "state", "enabled", "current_version", "created_at"];

pub async fn key(global: &Global, cmd: KeyCmd) -> anyhow::Result<()> {
    let c = client(global)?;
    let f = global.format;
    let path = Client::key_path;
    match cmd {
        KeyCmd::Create { key_type, name, exportable, pre_active } => {
            let v = c
                .post(
                    "/v1/keys",
                    &json!({"name": name, "type": key_type, "exportable": exportable, "pre_active": pre_active}),
                )
                .await?;
            print_object(f, &v);
        }
        KeyCmd::List { prefix, key_type, state, limit, after } => {
            let mut q = vec![format!("limit={limit}")];
            for (k, v) in [("prefix", prefix), ("type", key_type), ("state", state), ("after", after)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", urlencode(&v)));
                }
            }
            let v = c.get(&format!("/v1/keys?{}", q.join("&"))).await?;
            let rows = v["keys"].as_array().cloned().unwrap_or_default();
            print_rows(f, &v, &rows, KEY_COLUMNS);
            if f == Format::Table
                && let Some(next) = v["next"].as_str()
            {
                println!("more: --after {next}");
            }
        }
        KeyCmd::Show { name } => {
            let v = c.get(&path(&name, "")).await?;
            print_object(f, &v);
            if f == Format::Table
                && let Some(versions) = v["versions"].as_array()
            {
                print_rows(f, &v, versions, &["version", "created_at", "destroyed"]);
            }
        }
        KeyCmd::Rotate { name } => print_object(f, &c.post(&path(&name, "/rotate"), &json!({})).await?),
        KeyCmd::Disable { name } => print_object(f, &c.post(&path(&name, "/disable"), &json!({})).await?),
        KeyCmd::Enable { name } => print_object(f, &c.post(&path(&name, "/enable"), &json!({})).await?),
        KeyCmd::Activate { name } => {
            print_object(f, &c.post(&path(&name, "/state"), &json!({"state": "active"})).await?)
        }
        KeyCmd::Deactivate { name } => {
            print_object(f, &c.post(&path(&name, "/state"), &json!({"state": "deactivated"})).await?)
        }
        KeyCmd::Compromise { name } => {
            print_object(f, &c.post(&path(&name, "/state"), &json!({"state": "compromised"})).await?)
        }
        KeyCmd::Destroy { name, force } => {
            print_object(f, &c.post(&path(&name, "/destroy"), &json!({"force": force})).await?)
        }
        KeyCmd::Encrypt { name, aad } => {
            let pt = stdin_bytes()?;
            let mut body = json!({"plaintext": B64.encode(&pt)});
            if let Some(a) = aad {
                body["aad"] = json!(B64.encode(a.as_bytes()));
            }
            print_value(f, "ciphertext", &c.post(&path(&name, "/encrypt"), &body).await?);
        }
        KeyCmd::Decrypt { name, aad } => {
            let ct = stdin_text()?;
            let mut body = json!({"ciphertext": ct});
            if let Some(a) = aad {
                body["aad"] = json!(B64.encode(a.as_bytes()));
            }
            let v = c.post(&path(&name, "/decrypt"), &body).await?;
            if f == Format::Json {
                print_json(&v);
            } else {
                let pt = B64
                    .decode(v["plaintext"].as_str().unwrap_or_default())
                    .context("the server sent malformed plaintext")?;
                std::io::stdout().write_all(&pt).context("cannot write standard output")?;
            }
        }
        KeyCmd::Sign { name, algorithm } => {
            let msg = stdin_bytes()?;
            let body = json!({"message": B64.encode(&msg), "algorithm": algorithm});
            print_value(f, "signature", &c.post(&path(&name, "/sign"), &body).await?);
        }
        KeyCmd::Verify { name, signature } => {
            let msg = stdin_bytes()?;
            let v =
                c.post(&path(&name, "/verify"), &json!({"message": B64.encode(&msg), "signature": signature})).await?;
            return report_valid(f, &v);
        }
        KeyCmd::Hmac { name } => {
            let msg = stdin_bytes()?;
            print_value(f, "hmac", &c.post(&path(&name, "/hmac"), &json!({"message": B64.encode(&msg)})).await?);
        }
        KeyCmd::HmacVerify { name, hmac } => {
            let msg = stdin_bytes()?;
            let v = c.post(&path(&name, "/hmac/verify"), &json!({"message": B64.encode(&msg), "hmac": hmac})).await?;
            return report_valid(f, &v);
        }
        KeyCmd::Datakey { name, bits } => {
            let v = c.post(&path(&name, "/datakey"), &json!({"bits": bits})).await?;
            if f == Format::Json {
                print_json(&v);
            } else {
                println!("plaintext:  {}", v["plaintext"].as_str().unwrap_or_default());
                println!("ciphertext: {}", v["ciphertext"].as_str().unwrap_or_default());
            }
        }
        KeyCmd::Export { name, wrapping_key, plaintext } => {
            if wrapping_key.is_none() && !plaintext {
                bail!("choose --wrapping-key KEY (wrapped with AES key wrap) or --plaintext (administrators only)");
            }
            let v =
                c.post(&path(&name, "/export"), &json!({"wrapping_key": wrapping_key, "plaintext": plaintext})).await?;
            if f == Format::Json {
                print_json(&v);
            } else {
                println!("{}", v["material"].as_str().or(v["wrapped"].as_str()).unwrap_or_default());
            }
        }
        KeyCmd::Import { name, key_type, material_file, wrapped_file, wrapping_key, exportable } => {
            let mut body = json!({"name": name, "type": key_type, "exportable": exportable});
            match (material_file, wrapped_file) {
                (Some(m), None) => {
                    body["material"] = json!(B64.encode(local::read_secret_file(&m, "material file")?.expose()))
                }
                (None, Some(w)) => {
                    body["wrapped"] =
                        json!(B64.encode(std::fs::read(&w).with_context(|| format!("cannot read {}", w.display()))?));
                    body["wrapping_key"] = json!(wrapping_key);
                }
                _ => bail!("give --material-file F, or --wrapped-file F with --wrapping-key K"),
            }
            print_object(f, &c.post("/v1/keys/import", &body).await?);
        }
        KeyCmd::Public { name } => {
            let v = c.get(&path(&name, "/public")).await?;
            if f == Format::Json {
                print_json(&v);
            } else {
                print!("{}", v["public_key_pem"].as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

fn report_valid(f: Format, v: &Value) -> anyhow::Result<()> {
    let valid = v["valid"].as_bool() == Some(true);
    if f == Format::Json {
        print_json(v);
    } else {
        println!("{}", if valid { "valid" } else { "invalid" });
    }
    if valid { Ok(()) } else { Err(crate::Exit(1).into()) }
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub async fn token(global: &Global, cmd: TokenCmd) -> anyhow::Result<()> {
    let c = client(global)?;
    let f = global.format;
    match cmd {
        TokenCmd::Create { role, prefixes, name, ttl } => {
            let v = c
                .post("/v1/tokens", &json!({"role": role, "prefixes": prefixes, "name": name, "ttl_seconds": ttl}))
                .await?;
            if f == Format::Json {
                print_json(&v);
            } else {
                print_object(f, &v);
                println!("The token is shown only once.");
            }
        }
        TokenCmd::List => {
            let v = c.get("/v1/tokens").await?;
            let rows = v["tokens"].as_array().cloned().unwrap_or_default();
            print_rows(f, &v, &rows, &["id", "role", "prefixes", "name", "created_at", "expires_at", "revoked_at"]);
        }
        TokenCmd::Revoke { id } => print_object(f, &c.delete(&format!("/v1/tokens/{}", urlencode(&id))).await?),
    }
    Ok(())
}

pub async fn audit_verify(global: &Global) -> anyhow::Result<()> {
    let v = client(global)?.post("/v1/audit/verify", &json!({})).await?;
    report_audit(global.format, &v)
}

pub fn report_audit(format: Format, v: &Value) -> anyhow::Result<()> {
    let intact = v["intact"].as_bool() == Some(true);
    if format == Format::Json {
        print_json(v);
    } else if intact {
        println!("audit log intact: {} records, chain verified", v["records"]);
    } else {
        println!(
            "audit log BROKEN at record {}: {} ({} records before it verified)",
            v["first_broken"],
            v["problem"].as_str().unwrap_or("?"),
            v["records"]
        );
    }
    if intact { Ok(()) } else { Err(crate::Exit(1).into()) }
}

pub async fn org_list(global: &Global) -> anyhow::Result<()> {
    let v = client(global)?.get("/v1/org/servers").await?;
    let rows = v["servers"].as_array().cloned().unwrap_or_default();
    print_rows(
        global.format,
        &v,
        &rows,
        &["server_name", "server_id", "site", "status", "registered_at", "retired_at", "replaced_by"],
    );
    Ok(())
}

pub async fn component(global: &Global, cmd: crate::cli::ComponentCmd) -> anyhow::Result<()> {
    use crate::cli::ComponentCmd;
    let c = client(global)?;
    match cmd {
        ComponentCmd::List => {
            let v = c.get("/v1/components").await?;
            let rows = v["components"].as_array().cloned().unwrap_or_default();
            print_rows(
                global.format,
                &v,
                &rows,
                &["name", "required", "installed", "version", "binary_version", "tables", "health", "upgraded_at"],
            );
        }
        ComponentCmd::Add { name, ca } => {
            let body = if name == "pki" { crate::pki_cmds::ca_body(&ca) } else { json!({}) };
            print_object(global.format, &c.post(&format!("/v1/components/{}", urlencode(&name)), &body).await?);
            if name == "pki" && ca.intermediate && global.format == Format::Table {
                let v = c.get("/v1/pki/ca").await?;
                if let Some(csr) = v["cas"][0]["csr"].as_str() {
                    println!("\nHave your root CA sign this request, then run keyward pki ca import:\n{csr}");
                }
            }
        }
        ComponentCmd::Remove { name, force } => {
            let q = if force { "?force=true" } else { "" };
            let v = c.delete(&format!("/v1/components/{}{q}", urlencode(&name))).await?;
            if global.format == Format::Json {
                print_json(&v);
            } else {
                println!("removed {name}: its data and its registration");
                if let Some(b) = v["backup"].as_str() {
                    println!("a verified backup taken first: {b}");
                }
            }
        }
    }
    Ok(())
}

pub async fn schedule(global: &Global, cmd: crate::cli::ScheduleCmd) -> anyhow::Result<()> {
    use crate::cli::ScheduleCmd;
    let c = client(global)?;
    let v = match cmd {
        ScheduleCmd::Set { every, dir, keep } => {
            let every = humantime::parse_duration(&every)
                .with_context(|| format!("{every:?} is not an interval (try 6h, 1d, 30m)"))?;
            c.put("/v1/schedule", &json!({"every_secs": every.as_secs(), "directory": dir, "keep": keep})).await?
        }
        ScheduleCmd::Show => c.get("/v1/schedule").await?,
    };
    if global.format == Format::Json {
        print_json(&v);
        return Ok(());
    }
    match v["schedule"].as_object() {
        Some(s) => println!(
            "every {} into {}, keeping {}",
            humantime::format_duration(std::time::Duration::from_secs(s["every_secs"].as_u64().unwrap_or(0))),
            s["directory"].as_str().unwrap_or("?"),
            s["keep"]
        ),
        None => println!("no schedule set: keyward schedule set --every 1d --dir /backups --keep 7"),
    }
    let runs = v["runs"].as_array().cloned().unwrap_or_default();
    if !runs.is_empty() {
        print_rows(global.format, &v, &runs, &["id", "started_at", "outcome", "file", "bytes"]);
    }
    Ok(())
}
