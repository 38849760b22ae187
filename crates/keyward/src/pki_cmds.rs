//! `keyward pki`: the certificate authority, enrollment, revocation and escrow recovery, as a
//! client of a running server. `redeem` also makes the person's signing key on this machine,
//! so it never travels.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_crypto::Secret;
use serde_json::{Value, json};

use crate::cli::{CaOptions, Format, Global, PkiCaCmd, PkiCmd, PkiOfficerCmd, PkiRecoveryCmd};
use crate::client_cmds::{client, urlencode};
use crate::output::{print_json, print_object, print_rows};

pub fn ca_body(o: &CaOptions) -> Value {
    json!({
        "common_name": o.ca_common_name,
        "key_type": o.ca_key_type,
        "intermediate": o.intermediate,
        "cert_days": o.cert_days,
        "crl_days": o.crl_days,
    })
}

fn secs(ttl: &str) -> anyhow::Result<u64> {
    Ok(humantime::parse_duration(ttl).with_context(|| format!("{ttl:?} is not a duration (try 7d, 24h)"))?.as_secs())
}

/// The first line of a password file; the password never appears on a command line.
fn password(path: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read the password file {}", path.display()))?,
    );
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        bail!("the password file {} is empty", path.display());
    }
    Ok(zeroize::Zeroizing::new(line.to_owned()))
}

/// Writes a file only its owner can read (keys, PKCS#12).
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn write_public(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn run(global: &Global, cmd: PkiCmd) -> anyhow::Result<()> {
    let c = client(global)?;
    let show = |v: &Value| print_object(global.format, v);
    match cmd {
        PkiCmd::Ca(PkiCaCmd::Show) => {
            let v = c.get("/v1/pki/ca").await?;
            let rows = v["cas"].as_array().cloned().unwrap_or_default();
            print_rows(
                global.format,
                &v,
                &rows,
                &["generation", "kind", "status", "key_type", "subject", "serial", "not_after"],
            );
        }
        PkiCmd::Ca(PkiCaCmd::Pem { out }) => {
            write_public(&out, &c.get_raw("/v1/pki/ca.pem").await?)?;
            println!("wrote the CA certificates to {}", out.display());
        }
        PkiCmd::Ca(PkiCaCmd::Rotate(o)) => {
            let v = c.post("/v1/pki/ca", &ca_body(&o)).await?;
            show(&v);
        }
        PkiCmd::Ca(PkiCaCmd::Import { cert, chain }) => {
            let certificate =
                std::fs::read_to_string(&cert).with_context(|| format!("cannot read {}", cert.display()))?;
            let chain = std::fs::read_to_string(&chain).with_context(|| format!("cannot read {}", chain.display()))?;
            show(&c.post("/v1/pki/ca/import", &json!({"certificate": certificate, "chain": chain})).await?);
        }
        PkiCmd::Enroll { email, name, ttl } => {
            let v = c.post("/v1/pki/people", &json!({"email": email, "name": name, "ttl_secs": secs(&ttl)?})).await?;
            enrollment(global.format, &v);
        }
        PkiCmd::Renew { email, ttl } => {
            let v = c
                .post(&format!("/v1/pki/people/{}/renew", urlencode(&email)), &json!({"ttl_secs": secs(&ttl)?}))
                .await?;
            enrollment(global.format, &v);
        }
        PkiCmd::Redeem { token, csr, password_file, out } => {
            redeem(global, &c, &token, csr.as_deref(), &password_file, &out).await?
        }
        PkiCmd::Revoke { serial, email, reason } => {
            let v = match (serial, email) {
                (Some(s), None) => {
                    c.post(&format!("/v1/pki/certificates/{}/revoke", urlencode(&s)), &json!({"reason": reason}))
                        .await?
                }
                (None, Some(e)) => {
                    c.post(&format!("/v1/pki/people/{}/revoke", urlencode(&e)), &json!({"reason": reason})).await?
                }
                _ => bail!("give either a certificate serial or --email"),
            };
            show(&v);
        }
        PkiCmd::Crl { pem, generation, out } => {
            let mut path = String::from("/v1/pki/crl?format=");
            path.push_str(if pem { "pem" } else { "der" });
            if let Some(g) = generation {
                path.push_str(&format!("&generation={g}"));
            }
            write_public(&out, &c.get_raw(&path).await?)?;
            println!("wrote the CRL to {}", out.display());
        }
        PkiCmd::People { search } => {
            let path = match search {
                Some(q) => format!("/v1/pki/people?q={}", urlencode(&q)),
                None => "/v1/pki/people".into(),
            };
            let v = c.get(&path).await?;
            let rows = v["people"].as_array().cloned().unwrap_or_default();
            print_rows(
                global.format,
                &v,
                &rows,
                &["email", "name", "valid_certificates", "escrowed_keys", "created_at"],
            );
        }
        PkiCmd::Person { email } => {
            let v = c.get(&format!("/v1/pki/people/{}", urlencode(&email))).await?;
            if global.format == Format::Json {
                print_json(&v);
            } else {
                println!(
                    "{} <{}>",
                    v["person"]["name"].as_str().unwrap_or(""),
                    v["person"]["email"].as_str().unwrap_or("")
                );
                let certs = v["certificates"].as_array().cloned().unwrap_or_default();
                print_rows(
                    global.format,
                    &v,
                    &certs,
                    &["serial", "usage", "status", "not_after", "reason", "escrowed"],
                );
                let recs = v["recoveries"].as_array().cloned().unwrap_or_default();
                if !recs.is_empty() {
                    print_rows(global.format, &v, &recs, &["id", "status", "requested_by", "created_at", "reason"]);
                }
            }
        }
        PkiCmd::Officer(PkiOfficerCmd::Add { name }) => {
            let v = c.post("/v1/pki/officers", &json!({"name": name})).await?;
            if global.format == Format::Json {
                print_json(&v);
            } else {
                println!("officer {} ({})", v["name"].as_str().unwrap_or(""), v["id"].as_str().unwrap_or(""));
                println!(
                    "their token (shown once; they approve recoveries with it):\n{}",
                    v["token"].as_str().unwrap_or("")
                );
            }
        }
        PkiCmd::Officer(PkiOfficerCmd::List) => {
            let v = c.get("/v1/pki/officers").await?;
            let rows = v["officers"].as_array().cloned().unwrap_or_default();
            print_rows(global.format, &v, &rows, &["id", "name", "added_at", "removed_at"]);
        }
        PkiCmd::Officer(PkiOfficerCmd::Remove { id }) => {
            show(&c.delete(&format!("/v1/pki/officers/{}", urlencode(&id))).await?)
        }
        PkiCmd::Recovery(PkiRecoveryCmd::Policy { threshold, ttl }) => {
            show(&c.put("/v1/pki/policy", &json!({"threshold": threshold, "request_ttl_secs": secs(&ttl)?})).await?)
        }
        PkiCmd::Recovery(PkiRecoveryCmd::Request { email, reason }) => {
            show(&c.post("/v1/pki/recoveries", &json!({"email": email, "reason": reason})).await?)
        }
        PkiCmd::Recovery(PkiRecoveryCmd::Approve { id }) => {
            show(&c.post(&format!("/v1/pki/recoveries/{}/approve", urlencode(&id)), &json!({})).await?)
        }
        PkiCmd::Recovery(PkiRecoveryCmd::List { email }) => {
            let path = match email {
                Some(e) => format!("/v1/pki/recoveries?email={}", urlencode(&e)),
                None => "/v1/pki/recoveries".into(),
            };
            let v = c.get(&path).await?;
            let rows = v["recoveries"].as_array().cloned().unwrap_or_default();
            print_rows(global.format, &v, &rows, &["id", "email", "status", "threshold", "requested_by", "expires_at"]);
        }
        PkiCmd::Recovery(PkiRecoveryCmd::Download { id, password_file, out }) => {
            let pw = password(&password_file)?;
            let v = c
                .post(&format!("/v1/pki/recoveries/{}/download", urlencode(&id)), &json!({"password": pw.as_str()}))
                .await?;
            let p12 = zeroize::Zeroizing::new(
                B64.decode(v["pkcs12"].as_str().unwrap_or_default()).context("the server sent no PKCS#12")?,
            );
            write_private(&out, &p12)?;
            println!(
                "wrote the recovered keys to {} (PKCS#12; this request cannot be downloaded again)",
                out.display()
            );
        }
    }
    Ok(())
}

fn enrollment(format: Format, v: &Value) {
    if format == Format::Json {
        print_json(v);
        return;
    }
    println!(
        "one-time token for {} (expires {}); hand it over out of band:",
        v["email"].as_str().unwrap_or(""),
        v["expires_at"].as_str().unwrap_or("")
    );
    println!("{}", v["token"].as_str().unwrap_or(""));
}

async fn redeem(
    global: &Global,
    c: &keyward_client::Client,
    token: &str,
    csr: Option<&Path>,
    password_file: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let pw = password(password_file)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // Without a CSR of their own, the person's signing key is made here and stays here.
    let (csr_pem, signing_key): (String, Option<Secret>) = match csr {
        Some(p) => (std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?, None),
        None => {
            let key = keyward_pki::KeyKind::Rsa3072.generate()?;
            // The email and name come from the server's records; the CSR proves the key only.
            let der = keyward_pki::person_csr(keyward_pki::KeyKind::Rsa3072, &key, None, "signing key")?;
            (keyward_pki::pem("CERTIFICATE REQUEST", &der), Some(key))
        }
    };
    let v = c.post("/v1/pki/redeem", &json!({"token": token, "csr": csr_pem, "password": pw.as_str()})).await?;
    let p12 = zeroize::Zeroizing::new(
        B64.decode(v["pkcs12"].as_str().unwrap_or_default()).context("the server sent no PKCS#12")?,
    );
    let text = |f: &str| v[f].as_str().unwrap_or_default().to_owned();
    write_private(&out.join("encryption.p12"), &p12)?;
    write_public(&out.join("encryption.crt"), text("encryption_certificate").as_bytes())?;
    write_public(&out.join("signing.crt"), text("signing_certificate").as_bytes())?;
    write_public(&out.join("chain.pem"), text("chain").as_bytes())?;
    if let Some(key) = &signing_key {
        write_private(&out.join("signing-key.pem"), keyward_pki::pem("PRIVATE KEY", key.expose()).as_bytes())?;
        let cert =
            keyward_pki::pem_body(&text("signing_certificate"), "CERTIFICATE").context("no signing certificate")?;
        let chain = keyward_pki::pem_bodies(&text("chain"), "CERTIFICATE");
        let alias = format!("{} (signing)", text("email"));
        let p12 =
            keyward_pki::pkcs12(&pw, &[keyward_pki::P12Entry { alias, key_pkcs8: key, cert_der: &cert }], &chain, &[])?;
        write_private(&out.join("signing.p12"), &p12)?;
    }
    if global.format == Format::Json {
        let mut v = v.clone();
        v["pkcs12"] = json!(out.join("encryption.p12").display().to_string());
        print_json(&v);
    } else {
        println!("certificates for {} written to {}:", text("email"), out.display());
        println!("  encryption.p12  encryption key (escrowed) with both certificates and the chain");
        if signing_key.is_some() {
            println!("  signing.p12     signing key (made here, never sent) with its certificate and the chain");
            println!("  signing-key.pem the signing key alone (keep it private)");
        }
        println!("  encryption.crt, signing.crt, chain.pem");
    }
    Ok(())
}
