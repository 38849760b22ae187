//! The pki component end to end, checked with the real `openssl` command-line tool: people
//! enroll and redeem tokens, mail is encrypted and signed with their certificates, the node is
//! lost and rebuilt from a backup, and a quorum of officers recovers the escrowed key that reads
//! the mail sent before the disaster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

fn json_out(o: std::process::Output) -> Value {
    let o = ok(o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)))
}

/// Runs openssl and returns (success, stdout+stderr).
fn openssl_try(dir: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[track_caller]
fn refused_with(o: std::process::Output, needle: &str) {
    assert!(!o.status.success(), "expected a refusal, got: {}", stdout(&o));
    // With --format json the error is JSON on stdout; otherwise a message on stderr.
    let err = format!("{}{}", stderr(&o), stdout(&o));
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// (action, outcome, detail) of every pki audit record, read from the node's store.
fn pki_audit(data: &Path) -> Vec<(String, String, String)> {
    let db = rusqlite::Connection::open_with_flags(data.join("keyward.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the store read-only");
    let mut st =
        db.prepare("SELECT action, outcome, detail FROM audit WHERE action LIKE 'pki %' ORDER BY seq").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

#[track_caller]
fn audited(log: &[(String, String, String)], action: &str, outcome: &str, detail: &str) {
    assert!(
        log.iter().any(|(a, o, d)| a == action && o == outcome && d.contains(detail)),
        "no audit record {action} {outcome} {detail:?} in {log:#?}"
    );
}

struct Pki {
    node: Node,
    server: Server,
    officers: Vec<String>,
    /// The second administrator who registered the officers (separation of duties: officers
    /// registered by an administrator do not count for that administrator's own requests).
    security_admin: String,
}

/// A node with the pki component, three officers and a 2-of-3 recovery policy.
fn setup() -> Pki {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.clone();
    let added = json_out(server.cli(&t, &["component", "add", "pki", "--format", "json"], None));
    assert_eq!(added["health"], "ok", "{added}");
    let sec = json_out(server.cli(
        &t,
        &["token", "create", "--role", "admin", "--name", "security", "--format", "json"],
        None,
    ));
    let security_admin = sec["token"].as_str().unwrap().to_owned();
    let mut officers = Vec::new();
    for name in ["olga", "omar", "otto"] {
        let o = json_out(server.cli(&security_admin, &["pki", "officer", "add", name, "--format", "json"], None));
        officers.push(o["token"].as_str().unwrap().to_owned());
    }
    ok(server.cli(&t, &["pki", "recovery", "policy", "--threshold", "2"], None));
    Pki { node, server, officers, security_admin }
}

impl Pki {
    fn enroll(&self, email: &str, name: &str, ttl: &str) -> String {
        let v = json_out(self.server.cli(
            &self.node.token,
            &["pki", "enroll", "--email", email, "--name", name, "--ttl", ttl, "--format", "json"],
            None,
        ));
        v["token"].as_str().unwrap().to_owned()
    }

    fn password_file(&self) -> String {
        let p = self.node.path("p12-password");
        std::fs::write(&p, "mail-password-123\n").unwrap();
        p.display().to_string()
    }

    /// `keyward pki redeem` as the person runs it: no KEYWARD_TOKEN, only the enrollment token.
    fn redeem(&self, token: &str, out: &str, extra: &[&str]) -> std::process::Output {
        let pw = self.password_file();
        let mut args = vec!["pki", "redeem", "--password-file", &pw, "--out", out, "--format", "json"];
        args.extend_from_slice(extra);
        run(&args, &[("KEYWARD_ADDR", &self.server.addr), ("KEYWARD_ENROLL_TOKEN", token)], None)
    }

    fn serials(&self, email: &str) -> Vec<String> {
        let v = json_out(self.server.cli(&self.node.token, &["pki", "person", email, "--format", "json"], None));
        v["certificates"].as_array().unwrap().iter().map(|c| c["serial"].as_str().unwrap().to_owned()).collect()
    }
}

#[test]
fn mail_sent_before_a_disaster_is_read_after_it() {
    let p = setup();
    let t = p.node.token.clone();
    let dir_buf = p.node.dir.path().to_path_buf();
    let dir = dir_buf.as_path();
    let d = |n: &str| dir.join(n).display().to_string();

    // Ann enrolls and redeems; her signing key is made by the CLI on "her" machine.
    let token = p.enroll("ann@example.org", "Ann Archer", "7d");
    let redeemed = json_out(p.redeem(&token, &d("ann"), &[]));
    assert_eq!(redeemed["email"], "ann@example.org");
    for f in ["encryption.p12", "signing.p12", "signing-key.pem", "encryption.crt", "signing.crt", "chain.pem"] {
        assert!(dir.join("ann").join(f).exists(), "{f} written");
    }
    ok(p.server.cli(&t, &["pki", "ca", "pem", "--out", &d("ca.pem")], None));

    // openssl accepts both certificates under the CA, with S/MIME extensions.
    for cert in ["ann/encryption.crt", "ann/signing.crt"] {
        let (good, out) = openssl_try(dir, &["verify", "-CAfile", "ca.pem", "-purpose", "smimeencrypt", cert]);
        let signing = cert.contains("signing");
        assert_eq!(good, !signing, "{cert} for encryption: {out}");
        let (good, out) = openssl_try(dir, &["verify", "-CAfile", "ca.pem", "-purpose", "smimesign", cert]);
        assert_eq!(good, signing, "{cert} for signing: {out}");
        let (_, text) = openssl_try(dir, &["x509", "-in", cert, "-noout", "-text"]);
        assert!(text.contains("email:ann@example.org"), "{text}");
        assert!(text.contains("E-mail Protection"), "{text}");
        assert!(text.contains("CA:FALSE"), "{text}");
        if signing {
            assert!(text.contains("Digital Signature, Non Repudiation"), "{text}");
        } else {
            assert!(text.contains("Key Encipherment"), "{text}");
        }
    }
    let pw = p.password_file();
    let (good, out) =
        openssl_try(dir, &["pkcs12", "-in", "ann/encryption.p12", "-passin", &format!("file:{pw}"), "-noout"]);
    assert!(good, "openssl pkcs12 opens the person's file: {out}");

    // Mail before the disaster: encrypted to Ann, and signed by Ann.
    let message = "Quarterly figures: the vault code is 4711.\n";
    std::fs::write(dir.join("msg.txt"), message).unwrap();
    openssl(
        dir,
        &[
            "cms",
            "-encrypt",
            "-binary",
            "-aes256",
            "-in",
            "msg.txt",
            "-out",
            "msg.cms",
            "-outform",
            "DER",
            "ann/encryption.crt",
        ],
    );
    openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "msg.txt",
            "-signer",
            "ann/signing.crt",
            "-inkey",
            "ann/signing-key.pem",
            "-out",
            "signed.cms",
            "-outform",
            "DER",
        ],
    );

    // The backup, then certificates issued after it (they must never be issued again).
    // Dan's token is not used before the backup; nobody can know it was not used after it.
    let dan = p.enroll("dan@example.org", "Dan", "7d");
    let backup = d("node.kwb");
    ok(p.server.cli(&t, &["backup", "create", "--out", &backup], None));
    let verified = json_out(run(
        &[
            "backup",
            "verify",
            &backup,
            "--passphrase-file",
            &p.node.passphrase_file().display().to_string(),
            "--format",
            "json",
        ],
        &[],
        None,
    ));
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["format"], 2, "a backup with the pki component is format 2: {verified}");
    let carl = p.enroll("carl@example.org", "Carl", "7d");
    ok(p.redeem(&carl, &d("carl"), &[]));
    let between: HashSet<String> = p.serials("carl@example.org").into_iter().collect();
    let before: HashSet<String> = p.serials("ann@example.org").into_iter().collect();
    assert_eq!(between.len(), 2);

    // The disaster: the machine is rebuilt with a new secret, the backup restored, and the
    // original secret unseals it.
    let Pki { node, mut server, officers, security_admin } = p;
    server.kill9();
    std::fs::remove_dir_all(&node.data).unwrap();
    let s2 = node.path("second-passphrase");
    std::fs::write(&s2, "a brand new passphrase").unwrap();
    let dd = node.data.display().to_string();
    ok(run(&["init", "--data-dir", &dd, "--passphrase-file", &s2.display().to_string()], &[], None));
    let restored = json_out(run(&["restore", &backup, "--data-dir", &dd, "--erase", "--format", "json"], &[], None));
    let cancelled = restored["pki_cancelled"].as_array().unwrap();
    assert!(cancelled.len() == 1 && cancelled[0].as_str().unwrap().contains("dan@example.org"), "{restored}");
    let server = node.start_unsealed();
    let p = Pki { node, server, officers, security_admin };
    refused_with(p.redeem(&dan, &d("dan"), &[]), "cancelled");
    refused_with(p.server.cli(&t, &["pki", "person", "carl@example.org"], None), "does not exist");

    // New certificates after the restore: no serial repeats one issued between backup and restore.
    let bob = p.enroll("bob@example.org", "Bob", "7d");
    ok(p.redeem(&bob, &d("bob"), &[]));
    let after: HashSet<String> = p.serials("bob@example.org").into_iter().collect();
    assert_eq!(after.len(), 2);
    assert!(after.is_disjoint(&between), "a serial was issued twice: {after:?} {between:?}");
    assert!(after.is_disjoint(&before));
    assert!(after.iter().chain(&between).all(|s| s.len() >= 30), "serials are 128-bit random: {after:?}");

    // Ann's certificates are revoked (she left); the CRL says so to openssl, her escrow stays.
    let revoked = json_out(p.server.cli(
        &t,
        &["pki", "revoke", "--email", "ann@example.org", "--reason", "affiliation-changed", "--format", "json"],
        None,
    ));
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 2, "{revoked}");
    ok(p.server.cli(&t, &["pki", "crl", "--pem", "--out", &d("crl.pem")], None));
    let (good, out) =
        openssl_try(dir, &["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "ann/signing.crt"]);
    assert!(!good && out.contains("certificate revoked"), "{out}");
    let (good, out) =
        openssl_try(dir, &["verify", "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "bob/signing.crt"]);
    assert!(good, "a valid certificate passes the CRL check: {out}");
    let (status, body) = http("GET", &format!("{}/v1/pki/crl", p.server.addr), None, None);
    assert_eq!(status, 200, "the CRL is public: {body}");
    let person = json_out(p.server.cli(&t, &["pki", "person", "ann@example.org", "--format", "json"], None));
    assert_eq!(person["person"]["escrowed_keys"], 1, "{person}");
    assert!(person["certificates"].as_array().unwrap().iter().all(|c| c["status"] == "revoked"));

    // Recovery by quorum: an officer opens it, two others approve, the requester downloads once.
    let (olga, omar, otto) = (&p.officers[0], &p.officers[1], &p.officers[2]);
    let req = json_out(p.server.cli(
        olga,
        &["pki", "recovery", "request", "--email", "ann@example.org", "--reason", "read old mail", "--format", "json"],
        None,
    ));
    let id = req["id"].as_str().unwrap().to_owned();
    refused_with(p.server.cli(olga, &["pki", "recovery", "approve", &id], None), "you opened this request");
    ok(p.server.cli(omar, &["pki", "recovery", "approve", &id], None));
    refused_with(p.server.cli(omar, &["pki", "recovery", "approve", &id], None), "already approved");
    refused_with(p.server.cli(&t, &["pki", "recovery", "approve", &id], None), "not a recovery officer");
    let pw = p.password_file();
    let out = d("recovered.p12");
    refused_with(
        p.server.cli(olga, &["pki", "recovery", "download", &id, "--password-file", &pw, "--out", &out], None),
        "1 of 2",
    );
    assert!(!Path::new(&out).exists(), "nothing was handed out");
    ok(p.server.cli(otto, &["pki", "recovery", "approve", &id], None));
    refused_with(
        p.server.cli(&t, &["pki", "recovery", "download", &id, "--password-file", &pw, "--out", &out], None),
        "only the administrator who opened",
    );
    ok(p.server.cli(olga, &["pki", "recovery", "download", &id, "--password-file", &pw, "--out", &out], None));
    refused_with(
        p.server.cli(
            olga,
            &["pki", "recovery", "download", &id, "--password-file", &pw, "--out", &d("again.p12")],
            None,
        ),
        "already downloaded",
    );

    // openssl opens the recovered file, decrypts the old mail, and accepts the old signature.
    openssl(
        dir,
        &["pkcs12", "-in", "recovered.p12", "-passin", &format!("file:{pw}"), "-nodes", "-out", "recovered.pem"],
    );
    openssl(
        dir,
        &[
            "cms",
            "-decrypt",
            "-binary",
            "-in",
            "msg.cms",
            "-inform",
            "DER",
            "-inkey",
            "recovered.pem",
            "-out",
            "decrypted.txt",
        ],
    );
    assert_eq!(std::fs::read_to_string(dir.join("decrypted.txt")).unwrap(), message);
    openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-binary",
            "-in",
            "signed.cms",
            "-inform",
            "DER",
            "-CAfile",
            "ca.pem",
            "-out",
            "verified.txt",
        ],
    );
    assert_eq!(std::fs::read_to_string(dir.join("verified.txt")).unwrap(), message);

    // Every step is in the audit log.
    let history = json_out(p.server.cli(
        &t,
        &["pki", "recovery", "list", "--email", "ann@example.org", "--format", "json"],
        None,
    ));
    assert_eq!(history["recoveries"][0]["status"], "downloaded", "{history}");
    let log = pki_audit(&p.node.data);
    audited(&log, "pki enroll", "ok", "expires");
    audited(&log, "pki redeem", "ok", "bob@example.org");
    audited(&log, "pki revoke", "ok", "reason affiliation-changed");
    audited(&log, "pki recovery request", "ok", "2 approvals needed");
    audited(&log, "pki recovery approve", "ok", "approval 2 of 2");
    audited(&log, "pki recovery approve", "refused", "you opened this request");
    audited(&log, "pki recovery download", "refused", "1 of 2");
    audited(&log, "pki recovery download", "ok", "1 escrowed keys of ann@example.org");
    ok(p.server.cli(&t, &["audit", "verify"], None));
    // Neither the PKCS#12 password nor an enrollment token is stored anywhere.
    for f in ["keyward.db", "keyward.db-wal"] {
        let bytes = std::fs::read(p.node.data.join(f)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("mail-password-123") && !text.contains(&bob), "a secret reached {f}");
    }
}

#[test]
fn bad_enrollments_and_recoveries_are_refused_and_nothing_is_issued() {
    let p = setup();
    let t = p.node.token.clone();
    let dir = p.node.dir.path();
    let d = |n: &str| dir.join(n).display().to_string();

    // A CSR for another address, and one with a weak key: refused, the token stays unused.
    let token = p.enroll("dora@example.org", "Dora", "7d");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "m.key",
            "-out",
            "mallory.csr",
            "-subj",
            "/CN=Mallory/emailAddress=mallory@example.org",
        ],
    );
    refused_with(p.redeem(&token, &d("dora"), &["--csr", &d("mallory.csr")]), "names mallory@example.org");
    openssl(
        dir,
        &["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "w.key", "-out", "weak.csr", "-subj", "/CN=Dora"],
    );
    refused_with(p.redeem(&token, &d("dora"), &["--csr", &d("weak.csr")]), "RSA 1024 bits");
    assert!(p.serials("dora@example.org").is_empty(), "nothing issued");
    // Garbage instead of a CSR.
    std::fs::write(
        dir.join("junk.csr"),
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();
    refused_with(p.redeem(&token, &d("dora"), &["--csr", &d("junk.csr")]), "not a PKCS#10 request");

    // Her own CSR (made by openssl) works once; the token then is spent.
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "dora.key",
            "-out",
            "dora.csr",
            "-subj",
            "/CN=Dora/emailAddress=dora@example.org",
        ],
    );
    ok(p.redeem(&token, &d("dora"), &["--csr", &d("dora.csr")]));
    assert_eq!(p.serials("dora@example.org").len(), 2);
    refused_with(p.redeem(&token, &d("dora2"), &["--csr", &d("dora.csr")]), "already used");
    refused_with(p.redeem("kwe.not-a-real-token", &d("x"), &["--csr", &d("dora.csr")]), "not valid");
    assert_eq!(p.serials("dora@example.org").len(), 2, "nothing more issued");

    // An expired token.
    let short = p.enroll("eve@example.org", "Eve", "1s");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    refused_with(p.redeem(&short, &d("eve"), &[]), "expired");
    assert!(p.serials("eve@example.org").is_empty());
    refused_with(
        p.server.cli(&t, &["pki", "enroll", "--email", "dora@example.org", "--name", "Dora"], None),
        "already enrolled",
    );
    refused_with(
        p.server.cli(&t, &["pki", "enroll", "--email", "not an address", "--name", "X"], None),
        "not an email address",
    );

    // Recovery: too few approvals, and a request that expired.
    let req = json_out(p.server.cli(
        &t,
        &["pki", "recovery", "request", "--email", "dora@example.org", "--reason", "lost laptop", "--format", "json"],
        None,
    ));
    let id = req["id"].as_str().unwrap().to_owned();
    ok(p.server.cli(&p.officers[0], &["pki", "recovery", "approve", &id], None));
    let pw = p.password_file();
    refused_with(
        p.server.cli(&t, &["pki", "recovery", "download", &id, "--password-file", &pw, "--out", &d("r.p12")], None),
        "more officers must approve",
    );
    ok(p.server.cli(&t, &["pki", "recovery", "policy", "--threshold", "2", "--ttl", "1s"], None));
    let req = json_out(p.server.cli(
        &t,
        &["pki", "recovery", "request", "--email", "dora@example.org", "--reason", "lost laptop", "--format", "json"],
        None,
    ));
    let late = req["id"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    refused_with(p.server.cli(&p.officers[1], &["pki", "recovery", "approve", &late], None), "expired");
    refused_with(p.server.cli(&t, &["pki", "recovery", "policy", "--threshold", "1"], None), "at least 2");
    refused_with(p.server.cli(&t, &["pki", "recovery", "policy", "--threshold", "4"], None), "only 3 officers");
    // Separation of duties: an officer registered by the requester, or registered after the
    // request was opened, does not count; neither does one whose token was revoked.
    let own = json_out(p.server.cli(&t, &["pki", "officer", "add", "quinn", "--format", "json"], None));
    let quinn = own["token"].as_str().unwrap().to_owned();
    ok(p.server.cli(&t, &["pki", "recovery", "policy", "--threshold", "2", "--ttl", "1h"], None));
    let req = json_out(p.server.cli(
        &t,
        &["pki", "recovery", "request", "--email", "dora@example.org", "--reason", "again", "--format", "json"],
        None,
    ));
    let open = req["id"].as_str().unwrap().to_owned();
    refused_with(
        p.server.cli(&quinn, &["pki", "recovery", "approve", &open], None),
        "registered as an officer by its requester",
    );
    let late_officer =
        json_out(p.server.cli(&p.security_admin, &["pki", "officer", "add", "rita", "--format", "json"], None));
    let rita = late_officer["token"].as_str().unwrap().to_owned();
    refused_with(p.server.cli(&rita, &["pki", "recovery", "approve", &open], None), "after it was opened");
    let officer_list = json_out(p.server.cli(&t, &["pki", "officer", "list", "--format", "json"], None));
    let otto_id = officer_list["officers"].as_array().unwrap().iter().find(|o| o["name"] == "otto").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(p.server.cli(&t, &["token", "revoke", &otto_id], None));
    refused_with(p.server.cli(&p.officers[2], &["pki", "recovery", "approve", &open], None), "token");
    // A person's revocation cancels their unused tokens.
    let zed = p.enroll("zed@example.org", "Zed", "7d");
    ok(p.server.cli(&t, &["pki", "revoke", "--email", "zed@example.org"], None));
    refused_with(p.redeem(&zed, &d("zed"), &[]), "cancelled");

    // Officers can do nothing else: no keys, no tokens, no enrollments.
    refused_with(p.server.cli(&p.officers[0], &["key", "list"], None), "permission denied");
    refused_with(
        p.server.cli(&p.officers[0], &["pki", "enroll", "--email", "z@example.org", "--name", "Z"], None),
        "permission denied",
    );
    assert!(!dir.join("r.p12").exists());

    // The refusals were audited, naming what was wrong.
    let log = pki_audit(&p.node.data);
    audited(&log, "pki redeem", "refused", "names mallory@example.org");
    audited(&log, "pki redeem", "refused", "RSA 1024 bits");
    audited(&log, "pki redeem", "refused", "already used");
    audited(&log, "pki redeem", "refused", "is not valid");
    audited(&log, "pki redeem", "refused", "expired");
    audited(&log, "pki recovery approve", "refused", "expired");
    audited(&log, "pki recovery download", "refused", "more officers must approve");
}

#[test]
fn the_pki_component_is_removed_only_with_force_after_a_backup() {
    let p = setup();
    let t = p.node.token.clone();
    let token = p.enroll("finn@example.org", "Finn", "7d");
    ok(p.redeem(&token, &p.node.dir.path().join("finn").display().to_string(), &[]));
    refused_with(p.server.cli(&t, &["component", "remove", "pki"], None), "--force");
    let v = json_out(p.server.cli(&t, &["component", "remove", "pki", "--force", "--format", "json"], None));
    let backup = v["backup"].as_str().expect("a backup was taken").to_owned();
    assert!(backup.contains("/backups/pre-remove-pki-"), "{backup}");
    let list = json_out(p.server.cli(&t, &["component", "list", "--format", "json"], None));
    let pki = list["components"].as_array().unwrap().iter().find(|c| c["name"] == "pki").unwrap().clone();
    assert_eq!(pki["installed"], false, "{pki}");
    refused_with(p.server.cli(&t, &["pki", "people"], None), "not installed");

    // The backup taken first holds the escrowed key: verify decrypts it, and a restore of only
    // the pki component brings the person back.
    let pass = p.node.passphrase_file().display().to_string();
    let verified =
        json_out(run(&["backup", "verify", &backup, "--passphrase-file", &pass, "--format", "json"], &[], None));
    assert_eq!(verified["ok"], true, "{verified}");
    assert!(verified["keys_decrypted"].as_u64().unwrap() >= 2, "the CA key and Finn's escrowed key: {verified}");
    let Pki { node, mut server, .. } = p;
    server.stop();
    let dd = node.data.display().to_string();
    ok(run(&["restore", &backup, "--data-dir", &dd, "--erase", "--components", "pki"], &[], None));
    let server = node.start_unsealed();
    let v = json_out(server.cli(&t, &["pki", "person", "finn@example.org", "--format", "json"], None));
    assert_eq!(v["person"]["escrowed_keys"], 1, "{v}");
}

fn findings(server: &Server, token: &str, check: &str) -> Vec<Value> {
    // Doctor exits non-zero while an error-level finding remains; its JSON is the report.
    let o = server.cli(token, &["doctor", "--format", "json"], None);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("doctor JSON: {}", stdout(&o)));
    v["findings"].as_array().unwrap().iter().filter(|f| f["check"] == check).cloned().collect()
}

#[test]
fn an_intermediate_ca_under_an_external_root_then_rotated_and_drilled() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.clone();
    let dir_buf = node.dir.path().to_path_buf();
    let dir = dir_buf.as_path();
    let d = |n: &str| dir.join(n).display().to_string();
    ok(server.cli(&t, &["component", "add", "pki", "--intermediate", "--ca-key-type", "ec-p256"], None));
    let cas = json_out(server.cli(&t, &["pki", "ca", "show", "--format", "json"], None));
    assert_eq!(cas["cas"][0]["status"], "pending", "{cas}");
    std::fs::write(dir.join("int.csr"), cas["cas"][0]["csr"].as_str().unwrap()).unwrap();
    let pending = findings(&server, &t, "pki-ca");
    assert!(
        pending.iter().any(|f| f["severity"] == "error" && f["message"].as_str().unwrap().contains("no active CA")),
        "{pending:?}"
    );

    // Nothing is issued while the intermediate waits for its certificate.
    let pw = dir.join("pw");
    std::fs::write(&pw, "mail-password-123\n").unwrap();
    let pws = pw.display().to_string();
    let enroll = |email: &str| -> String {
        let v = json_out(server.cli(&t, &["pki", "enroll", "--email", email, "--name", "G", "--format", "json"], None));
        v["token"].as_str().unwrap().to_owned()
    };
    let redeem = |token: &str, out: &str| {
        run(
            &["pki", "redeem", "--password-file", &pws, "--out", out],
            &[("KEYWARD_ADDR", &server.addr), ("KEYWARD_ENROLL_TOKEN", token)],
            None,
        )
    };
    let gina = enroll("gina@example.org");
    refused_with(redeem(&gina, &d("gina")), "import the signed intermediate");

    // The organisation's own root (openssl) signs the intermediate; Keyward imports it.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Acme Root",
        ],
    );
    std::fs::write(dir.join("ca.ext"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "int.pem",
            "-days",
            "20",
            "-extfile",
            "ca.ext",
        ],
    );
    refused_with(
        server.cli(&t, &["pki", "ca", "import", "--cert", &d("root.pem"), "--chain", &d("root.pem")], None),
        "another key",
    );
    ok(server.cli(&t, &["pki", "ca", "import", "--cert", &d("int.pem"), "--chain", &d("root.pem")], None));
    ok(redeem(&gina, &d("gina")));
    openssl(dir, &["verify", "-CAfile", "root.pem", "-untrusted", "int.pem", "gina/signing.crt"]);
    openssl(dir, &["verify", "-CAfile", "root.pem", "-untrusted", "gina/chain.pem", "gina/encryption.crt"]);
    // Active now; the doctor warns that the 20-day intermediate expires soon, nothing worse.
    let f = findings(&server, &t, "pki-ca");
    assert!(f.iter().all(|f| f["severity"] == "warning"), "{f:?}");
    assert!(f.iter().any(|f| f["message"].as_str().unwrap().contains("expires in")), "{f:?}");

    // Rotation to a new root: the old CA is retired but still validates what it issued.
    let rotated = json_out(server.cli(&t, &["pki", "ca", "rotate", "--format", "json"], None));
    assert_eq!(rotated["generation"], 2, "{rotated}");
    let (status, _) = http("POST", &format!("{}/v1/pki/ca", server.addr), None, Some("{}"));
    assert_eq!(status, 401, "reading the CA is public, rotating it is not");
    let hugo = enroll("hugo@example.org");
    ok(redeem(&hugo, &d("hugo")));
    ok(server.cli(&t, &["pki", "ca", "pem", "--out", &d("bundle.pem")], None));
    openssl(dir, &["verify", "-CAfile", "bundle.pem", "gina/signing.crt"]);
    openssl(dir, &["verify", "-CAfile", "bundle.pem", "hugo/signing.crt"]);
    let (_, issuer) = openssl_try(dir, &["x509", "-in", "hugo/signing.crt", "-noout", "-issuer"]);
    assert!(issuer.contains("acme Keyward CA"), "issued by the new root: {issuer}");
    // Revoking by the serial as openssl prints it (upper case; here with colons and a leading
    // zero byte, as `openssl x509 -text` shows serials with a high first byte).
    let (_, serial) = openssl_try(dir, &["x509", "-in", "hugo/signing.crt", "-noout", "-serial"]);
    let hex = serial.trim().trim_start_matches("serial=").to_owned();
    let colons: Vec<String> = hex.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let typed = format!("00:{}", colons.join(":"));
    ok(server.cli(&t, &["pki", "revoke", &typed, "--reason", "key-compromise"], None));
    ok(server.cli(&t, &["pki", "crl", "--out", &d("g2.crl")], None));
    let (_, listed) = openssl_try(dir, &["crl", "-in", "g2.crl", "-inform", "DER", "-noout", "-text"]);
    assert!(listed.contains(&hex) && listed.contains("Key Compromise"), "{hex} in {listed}");
    ok(server.cli(&t, &["pki", "crl", "--generation", "1", "--out", &d("g1.crl")], None));
    let chain = [std::fs::read(dir.join("int.pem")).unwrap(), std::fs::read(dir.join("root.pem")).unwrap()].concat();
    std::fs::write(dir.join("int-chain.pem"), chain).unwrap();
    let (good, out) =
        openssl_try(dir, &["crl", "-in", "g1.crl", "-inform", "DER", "-CAfile", "int-chain.pem", "-noout"]);
    assert!(good && out.contains("verify OK"), "the retired CA's CRL is signed by it: {out}");

    // A drill of a backup exercises the CA too.
    let backup = d("b.kwb");
    ok(server.cli(&t, &["backup", "create", "--out", &backup], None));
    let p = node.passphrase_file().display().to_string();
    let drill = json_out(run(&["drill", &backup, "--passphrase-file", &p, "--format", "json"], &[], None));
    assert_eq!(drill["ok"], true, "{drill}");
    assert_eq!(drill["pki"]["cas"], 2, "{drill}");
    assert_eq!(drill["pki"]["people"], 2, "{drill}");
}

#[test]
fn renewal_keeps_every_escrowed_key_and_stale_crls_are_found_and_re_signed() {
    let p = setup();
    let t = p.node.token.clone();
    let dir_buf = p.node.dir.path().to_path_buf();
    let dir = dir_buf.as_path();
    let d = |n: &str| dir.join(n).display().to_string();
    let first = p.enroll("ivy@example.org", "Ivy Iverson", "7d");
    ok(p.redeem(&first, &d("ivy1"), &[]));
    let renewal = json_out(p.server.cli(&t, &["pki", "renew", "--email", "ivy@example.org", "--format", "json"], None));
    ok(p.redeem(renewal["token"].as_str().unwrap(), &d("ivy2"), &[]));
    let person = json_out(p.server.cli(&t, &["pki", "person", "ivy@example.org", "--format", "json"], None));
    assert_eq!(person["person"]["escrowed_keys"], 2, "{person}");
    assert_eq!(person["person"]["valid_certificates"], 4, "{person}");
    assert_eq!(person["enrollments"].as_array().unwrap().len(), 2);
    let found = json_out(p.server.cli(&t, &["pki", "people", "--search", "IVERSON", "--format", "json"], None));
    assert_eq!(found["people"].as_array().unwrap().len(), 1, "{found}");
    let none = json_out(p.server.cli(&t, &["pki", "people", "--search", "nobody", "--format", "json"], None));
    assert!(none["people"].as_array().unwrap().is_empty());

    // Mail to both of her encryption certificates; a recovery holds both keys.
    let message = "old and new\n";
    std::fs::write(dir.join("m.txt"), message).unwrap();
    for (i, cert) in ["ivy1/encryption.crt", "ivy2/encryption.crt"].iter().enumerate() {
        let out = format!("m{i}.cms");
        openssl(dir, &["cms", "-encrypt", "-binary", "-aes256", "-in", "m.txt", "-out", &out, cert]);
    }
    let req = json_out(p.server.cli(
        &t,
        &["pki", "recovery", "request", "--email", "ivy@example.org", "--reason", "audit", "--format", "json"],
        None,
    ));
    let id = req["id"].as_str().unwrap();
    ok(p.server.cli(&p.officers[0], &["pki", "recovery", "approve", id], None));
    ok(p.server.cli(&p.officers[1], &["pki", "recovery", "approve", id], None));
    let pw = p.password_file();
    ok(p.server.cli(&t, &["pki", "recovery", "download", id, "--password-file", &pw, "--out", &d("ivy.p12")], None));
    openssl(dir, &["pkcs12", "-in", "ivy.p12", "-passin", &format!("file:{pw}"), "-nodes", "-out", "ivy.pem"]);
    // Each message opens with exactly one of the recovered keys: both keys are there, each right.
    let pem = std::fs::read_to_string(dir.join("ivy.pem")).unwrap();
    let mut keys = Vec::new();
    for (i, block) in pem.split("-----BEGIN PRIVATE KEY-----").skip(1).enumerate() {
        let body = block.split("-----END PRIVATE KEY-----").next().unwrap();
        let file = format!("k{i}.pem");
        std::fs::write(dir.join(&file), format!("-----BEGIN PRIVATE KEY-----{body}-----END PRIVATE KEY-----\n"))
            .unwrap();
        keys.push(file);
    }
    assert_eq!(keys.len(), 2, "both escrowed keys are recovered");
    let mut used = HashSet::new();
    for i in 0..2 {
        let cms = format!("m{i}.cms");
        let out = |k: &str| format!("m{i}-{k}.txt");
        let opened: Vec<&String> = keys
            .iter()
            .filter(|k| openssl_try(dir, &["cms", "-decrypt", "-binary", "-in", &cms, "-inkey", k, "-out", &out(k)]).0)
            .collect();
        assert_eq!(opened.len(), 1, "message {i} opens with exactly one recovered key");
        assert_eq!(std::fs::read_to_string(dir.join(out(opened[0]))).unwrap(), message);
        used.insert(opened[0].clone());
    }
    assert_eq!(used.len(), 2, "each message needed its own key");

    // A CRL left past its next update (the node was down too long): the offline doctor says so,
    // and the server re-signs it once it runs unsealed.
    ok(p.server.cli(&t, &["pki", "crl", "--out", &d("before.crl")], None));
    let Pki { node, mut server, .. } = p;
    server.stop();
    let db = rusqlite::Connection::open(node.data.join("keyward.db")).unwrap();
    let n = db
        .execute(
            "UPDATE pki_records SET doc = json_set(doc, '$.next_update', '2020-01-01T00:00:00Z') WHERE kind = 'crl'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let dd = node.data.display().to_string();
    let o = run(&["doctor", "--data-dir", &dd, "--format", "json"], &[], None);
    assert!(!o.status.success(), "a stale CRL is an error");
    assert!(stdout(&o).contains("pki-crl"), "{}", stdout(&o));
    let plan = json_out(run(&["upgrade", "--data-dir", &dd, "--dry-run", "--format", "json"], &[], None));
    assert!(plan["current"].as_array().unwrap().iter().any(|c| c == "pki"), "upgrade knows the pki component: {plan}");
    let server = node.start_unsealed();
    let mut fresh = false;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        ok(server.cli(&t, &["pki", "crl", "--out", &d("now.crl")], None));
        let resigned = std::fs::read(dir.join("now.crl")).unwrap() != std::fs::read(dir.join("before.crl")).unwrap();
        if resigned && findings(&server, &t, "pki-crl").is_empty() {
            let (good, text) = openssl_try(dir, &["crl", "-in", "now.crl", "-inform", "DER", "-noout", "-nextupdate"]);
            assert!(good && text.contains("nextUpdate="), "{text}");
            fresh = true;
            break;
        }
    }
    assert!(fresh, "the server re-signed the stale CRL");
}
