// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Backup, verify and restore, driven through the real binary: the rebuild after a disaster,
//! damaged archives, kill -9 midway, and the refusals.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};

fn json_out(o: std::process::Output) -> Value {
    serde_json::from_slice(&ok(o).stdout).expect("JSON output")
}

/// Every file of a directory with its length and a hash of its bytes, to prove a refused command
/// changed nothing. Unless `strict`, SQLite's shared-memory index (`-shm`) is left out (it holds
/// no data and any reader rewrites it) and an empty WAL counts as no WAL.
fn dir_state(dir: &Path, strict: bool) -> BTreeMap<String, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "keyward.lock" || (!strict && name.ends_with("-shm")) {
            continue; // the lock is rewritten with the holder's pid by every command that takes it
        }
        let bytes = std::fs::read(e.path()).unwrap();
        if !strict && name.ends_with("-wal") && bytes.is_empty() {
            continue;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        out.insert(name, (bytes.len(), h.finish()));
    }
    out
}

/// A small deterministic generator, so a failing offset can be reproduced.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const TYPES: &[&str] =
    &["aes-128", "aes-256", "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "hmac-sha256"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rebuild_restores_every_key_under_the_original_secret() {
    let node = Node::init_passphrase();
    let t = node.token.clone();
    let mut server = node.start_unsealed();
    let client = server.client(&t);
    // Keys of every type, with data protected before the disaster.
    let mut samples = Vec::new();
    for ty in TYPES {
        let name = format!("pre-{ty}");
        ok(server.cli(&t, &["key", "create", "--type", ty, "--name", &name], None));
        let msg = format!("protected by {ty}");
        let out = if ty.starts_with("aes") || ty.starts_with("rsa") {
            Some(("encrypt", stdout(&ok(server.cli(&t, &["key", "encrypt", &name], Some(msg.as_bytes()))))))
        } else if ty.starts_with("hmac") {
            Some(("hmac", stdout(&ok(server.cli(&t, &["key", "hmac", &name], Some(msg.as_bytes()))))))
        } else {
            None
        };
        let sig = (ty.starts_with("rsa") || ty.starts_with("ec") || *ty == "ed25519")
            .then(|| stdout(&ok(server.cli(&t, &["key", "sign", &name], Some(msg.as_bytes())))).trim().to_owned());
        samples.push((name, msg, out, sig));
    }
    // A client keeps creating keys and encrypting while the backup is taken.
    let acked_before: Vec<String> = (0..20)
        .map(|i| {
            let name = format!("acked-{i}");
            ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", &name], None));
            name
        })
        .collect();
    let ids_seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = {
        let client = client.clone();
        let ids_seen = ids_seen.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                if let Ok(v) = client.post("/v1/keys", &json!({"name": format!("during-{i}"), "type": "aes-256"})).await
                {
                    ids_seen.lock().unwrap().insert(v["id"].as_str().unwrap().to_owned());
                }
                let _ = client.post("/v1/keys/pre-aes-256/encrypt", &json!({"plaintext": "aGk="})).await;
            }
            i
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let backup = node.path("node.kwb");
    let b = backup.display().to_string();
    let created = json_out(server.cli(&t, &["backup", "create", "--out", &b, "--format", "json"], None));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let during = busy.await.unwrap();
    assert!(during > 5, "the client kept working during the backup ({during} rounds)");
    assert_eq!(created["taken"], "online");
    assert_eq!(created["authenticated"], true);

    // Verify before the disaster: without and with the secret.
    let v = json_out(run(&["backup", "verify", &b, "--format", "json"], &[], None));
    assert_eq!(v["ok"], true);
    let p = node.passphrase_file().display().to_string();
    let v = json_out(run(&["backup", "verify", &b, "--passphrase-file", &p, "--format", "json"], &[], None));
    assert_eq!(v["ok"], true);
    assert!(v["round_trips"].as_u64().unwrap() >= TYPES.len() as u64 + 20, "{v}");

    // The disaster: the data directory is lost; the rebuilt machine gets a fresh node.
    server.kill9();
    std::fs::remove_dir_all(&node.data).unwrap();
    let s2 = node.path("second-passphrase");
    std::fs::write(&s2, "a brand new passphrase").unwrap();
    let s2s = s2.display().to_string();
    let d = node.data.display().to_string();
    ok(run(&["init", "--data-dir", &d, "--passphrase-file", &s2s, "--format", "json"], &[], None));
    let refused = run(&["restore", &b, "--data-dir", &d], &[], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("--erase"), "{}", stderr(&refused));
    let restored = json_out(run(&["restore", &b, "--data-dir", &d, "--erase", "--format", "json"], &[], None));
    assert_eq!(restored["incarnation"], 2, "a restore bumps the incarnation");

    // The fresh node's secret no longer opens it; the original one does.
    let err = Server::start(&node.data, &["--unseal-passphrase-file", &s2s]).err().expect("S2 must fail");
    assert!(err.contains("startup secret is wrong"), "{err}");
    let server = node.start_unsealed();
    for (name, msg, out, sig) in &samples {
        match out {
            Some(("encrypt", ct)) => {
                assert_eq!(ok(server.cli(&t, &["key", "decrypt", name], Some(ct.as_bytes()))).stdout, msg.as_bytes())
            }
            Some((_, mac)) => {
                ok(server.cli(&t, &["key", "hmac-verify", name, "--hmac", mac.trim()], Some(msg.as_bytes())));
            }
            None => {}
        }
        if let Some(sig) = sig {
            ok(server.cli(&t, &["key", "verify", name, "--signature", sig], Some(msg.as_bytes())));
        }
    }
    for name in &acked_before {
        ok(server.cli(&t, &["key", "show", name], None));
    }
    // Nothing issued after the restore reuses an id issued before it, even by keys the
    // restore rolled back.
    let health: Value = serde_json::from_slice(
        &ok(run(&["operator", "status", "--format", "json"], &[("KEYWARD_ADDR", &server.addr)], None)).stdout,
    )
    .unwrap();
    assert_eq!(health["incarnation"], 2);
    let before = ids_seen.lock().unwrap().clone();
    for i in 0..20 {
        let v = json_out(server.cli(
            &t,
            &["key", "create", "--type", "aes-256", "--name", &format!("after-{i}"), "--format", "json"],
            None,
        ));
        assert!(!before.contains(v["id"].as_str().unwrap()), "an id was issued twice");
    }
    ok(server.cli(&t, &["audit", "verify"], None));
}

/// A node with a few keys and an offline backup of it.
fn node_with_backup() -> (Node, std::path::PathBuf) {
    let node = Node::init_passphrase();
    {
        let server = node.start_unsealed();
        for (i, ty) in ["aes-256", "ec-p256", "hmac-sha256"].iter().enumerate() {
            ok(server.cli(&node.token, &["key", "create", "--type", ty, "--name", &format!("k{i}")], None));
        }
    }
    let backup = node.path("offline.kwb");
    let p = node.passphrase_file().display().to_string();
    let d = node.data.display().to_string();
    let b = backup.display().to_string();
    let v = json_out(run(
        &["backup", "create", "--data-dir", &d, "--out", &b, "--passphrase-file", &p, "--format", "json"],
        &[],
        None,
    ));
    assert_eq!(v["taken"], "offline");
    assert_eq!(v["authenticated"], true);
    (node, backup)
}

#[test]
fn damaged_archives_are_reported_and_refused_without_touching_the_target() {
    let (node, backup) = node_with_backup();
    let good = std::fs::read(&backup).unwrap();
    // The target: another node, whose directory must stay byte-for-byte as it is.
    let target = Node::init_passphrase();
    let before = dir_state(&target.data, true);
    let d = target.data.display().to_string();
    let bad = node.path("bad.kwb");
    let b = bad.display().to_string();
    let check = |bytes: &[u8], what: &str| {
        std::fs::write(&bad, bytes).unwrap();
        let v = run(&["backup", "verify", &b], &[], None);
        assert_ne!(v.status.code(), Some(0), "verify accepted {what}");
        let r = run(&["restore", &b, "--data-dir", &d, "--erase"], &[], None);
        assert_ne!(r.status.code(), Some(0), "restore accepted {what}");
        assert!(!stderr(&r).is_empty(), "restore of {what} gave no reason");
    };
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    for _ in 0..200 {
        let offset = (rng.next() % good.len() as u64) as usize;
        let mut bytes = good.clone();
        bytes[offset] ^= 1 << (rng.next() % 8);
        check(&bytes, &format!("a flipped bit at offset {offset}"));
    }
    for _ in 0..20 {
        let len = (rng.next() % good.len() as u64) as usize;
        check(&good[..len], &format!("a truncation to {len} bytes"));
    }
    let mut appended = good.clone();
    appended.extend_from_slice(b"trailing garbage");
    check(&appended, "appended garbage");
    let mut future = good.clone();
    future[9] = 9;
    std::fs::write(&bad, &future).unwrap();
    let v = run(&["backup", "verify", &b], &[], None);
    assert!(stderr(&v).contains("format version 9") && stderr(&v).contains("newer keyward"), "{}", stderr(&v));
    check(&future, "a future format version");
    check(b"not a backup at all", "a foreign file");
    assert_eq!(dir_state(&target.data, true), before, "a refused restore changed the target directory");
    // The intact archive still restores.
    ok(run(&["restore", &backup.display().to_string(), "--data-dir", &d, "--erase"], &[], None));
}

#[test]
fn wrong_secrets_running_servers_and_partial_restores() {
    let (node, backup) = node_with_backup();
    let b = backup.display().to_string();
    let wrong = node.path("wrong");
    std::fs::write(&wrong, "definitely not the passphrase").unwrap();
    let o = run(&["backup", "verify", &b, "--passphrase-file", &wrong.display().to_string()], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("startup secret is wrong"), "{}", stderr(&o));

    // A running server's directory is refused (its lock), and nothing changes.
    let server = node.start_unsealed();
    let d = node.data.display().to_string();
    let o = run(&["restore", &b, "--data-dir", &d, "--erase"], &[], None);
    assert!(stderr(&o).contains("in use by another keyward process"), "{}", stderr(&o));

    // Changes after the backup: a new key and a new token.
    ok(server.cli(&node.token, &["key", "create", "--type", "aes-256", "--name", "later"], None));
    let tok = json_out(server.cli(&node.token, &["token", "create", "--role", "backup", "--format", "json"], None));
    drop(server);

    // --dry-run says what would change and changes nothing.
    let before = dir_state(&node.data, false);
    let v = json_out(run(&["restore", &b, "--data-dir", &d, "--erase", "--dry-run", "--format", "json"], &[], None));
    assert_eq!(v["keys_removed"], json!(["later"]));
    assert_eq!(dir_state(&node.data, false), before);

    // Restoring only the keys component rolls keys back and keeps the directory (the token).
    let v = json_out(run(
        &["restore", &b, "--data-dir", &d, "--erase", "--components", "keys", "--format", "json"],
        &[],
        None,
    ));
    assert_eq!(v["keys_removed"], json!(["later"]));
    let server = node.start_unsealed();
    let o = server.cli(&node.token, &["key", "show", "later"], None);
    assert!(stderr(&o).contains("no key named"), "{}", stderr(&o));
    ok(server.cli(tok["token"].as_str().unwrap(), &["key", "show", "k0"], None));
    drop(server);

    // A backup of another node cannot be restored by component: its keys need their own secret.
    let (_other, other_backup) = node_with_backup();
    let o = run(
        &["restore", &other_backup.display().to_string(), "--data-dir", &d, "--erase", "--components", "keys"],
        &[],
        None,
    );
    assert!(stderr(&o).contains("another master key"), "{}", stderr(&o));
}

#[test]
fn kill9_during_backup_leaves_no_complete_looking_file() {
    let node = Node::init_passphrase();
    {
        let server = node.start_unsealed();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = server.client(&node.token);
        rt.block_on(async {
            let mut tasks = Vec::new();
            for w in 0..8 {
                let client = client.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..250 {
                        client
                            .post("/v1/keys", &json!({"name": format!("bulk-{w}-{i}"), "type": "aes-256"}))
                            .await
                            .unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
    }
    let d = node.data.display().to_string();
    for (round, delay_ms) in [0u64, 5, 10, 20, 40, 80, 160].iter().enumerate() {
        let out = node.path(&format!("killed-{round}.kwb"));
        let mut child = std::process::Command::new(bin())
            .args(["backup", "create", "--data-dir", &d, "--out", &out.display().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(*delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if out.exists() {
            // Only a finished, verified backup may carry the name.
            let v = run(&["backup", "verify", &out.display().to_string()], &[], None);
            assert!(
                v.status.success(),
                "round {round}: a file named {} exists but does not verify (exit {status:?})",
                out.display()
            );
        }
    }
}

#[test]
fn kill9_during_restore_leaves_old_or_new_never_a_mix() {
    let (node, backup) = node_with_backup();
    {
        let server = node.start_unsealed();
        ok(server.cli(&node.token, &["key", "create", "--type", "aes-256", "--name", "only-in-live"], None));
    }
    let names = |dir: &Path| -> Vec<String> {
        let c = rusqlite::Connection::open(dir.join("keyward.db")).unwrap();
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        let mut s = c.prepare("SELECT name FROM objects ORDER BY name").unwrap();
        s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let old = names(&node.data);
    assert!(old.contains(&"only-in-live".to_string()));
    let d = node.data.display().to_string();
    let b = backup.display().to_string();
    let mut saw_new = false;
    for delay_ms in [0u64, 2, 5, 10, 20, 40, 80, 200] {
        let mut child = std::process::Command::new(bin())
            .args(["restore", &b, "--data-dir", &d, "--erase"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let now = names(&node.data);
        let new: Vec<String> = old.iter().filter(|n| *n != "only-in-live").cloned().collect();
        assert!(now == old || now == new, "after kill at {delay_ms} ms the store is a mix: {now:?}");
        saw_new |= now == new;
        if saw_new {
            break;
        }
    }
    // Whatever happened, the node opens and serves.
    let server = node.start_unsealed();
    ok(server.cli(&node.token, &["key", "show", "k0"], None));
}

#[test]
fn drills_report_recovery_time_and_point() {
    let (node, backup) = node_with_backup();
    let b = backup.display().to_string();
    let p = node.passphrase_file().display().to_string();
    let v = json_out(run(&["drill", &b, "--passphrase-file", &p, "--format", "json"], &[], None));
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["rto_s"].as_f64().unwrap() > 0.0);
    assert!(v["rpo_s"].as_f64().is_some());
    assert_eq!(v["keys_exercised_via_api"], 3, "{v}");
    assert_eq!(v["records"]["keys"], 6);
    let wrong = node.path("wrong");
    std::fs::write(&wrong, "definitely not the passphrase").unwrap();
    let o = run(&["drill", &b, "--passphrase-file", &wrong.display().to_string()], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("startup secret is wrong"), "{}", stderr(&o));

    // A node sealed with shares drills with its shares directory.
    let shares = Node::init(|dir| {
        vec![
            "--shares".into(),
            "3".into(),
            "--threshold".into(),
            "2".into(),
            "--shares-dir".into(),
            dir.join("shares").display().to_string(),
        ]
    });
    let sd = shares.path("shares").display().to_string();
    let out = shares.path("s.kwb").display().to_string();
    let d = shares.data.display().to_string();
    ok(run(&["backup", "create", "--data-dir", &d, "--out", &out, "--shares-dir", &sd], &[], None));
    let v = json_out(run(&["drill", &out, "--shares-dir", &sd, "--format", "json"], &[], None));
    assert_eq!(v["ok"], true, "{v}");
}

#[test]
fn merge_adds_what_is_missing_keeps_what_is_newer_and_reports_conflicts() {
    let node = Node::init_passphrase();
    let t = node.token.clone();
    let d = node.data.display().to_string();
    let p = node.passphrase_file().display().to_string();
    let backup = |name: &str| {
        let b = node.path(name).display().to_string();
        ok(run(&["backup", "create", "--data-dir", &d, "--out", &b, "--passphrase-file", &p], &[], None));
        b
    };
    {
        let server = node.start_unsealed();
        ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", "k0"], None));
    }
    let a = backup("a.kwb");
    {
        let server = node.start_unsealed();
        ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", "extra"], None));
        ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", "dup"], None));
    }
    let b = backup("b.kwb");
    // Roll the node back to A, then change it: k0 newer locally, "dup" re-created under a new id.
    ok(run(&["restore", &a, "--data-dir", &d, "--erase"], &[], None));
    let ct = {
        let server = node.start_unsealed();
        ok(server.cli(&t, &["key", "rotate", "k0"], None));
        ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", "dup"], None));
        stdout(&ok(server.cli(&t, &["key", "encrypt", "k0"], Some(b"after rotation"))))
    };
    let v = json_out(run(&["restore", &b, "--data-dir", &d, "--merge", "--format", "json"], &[], None));
    assert_eq!(v["keys_added"], json!(["extra"]), "{v}");
    let conflicts = v["conflicts"].as_array().unwrap();
    let about =
        |name: &str| conflicts.iter().find(|c| c["name"] == name).map(|c| c["resolution"].as_str().unwrap().to_owned());
    assert!(about("k0").unwrap().contains("kept the local state"), "{v}");
    assert!(about("dup").unwrap().contains("name is taken locally"), "{v}");
    assert!(about("audit").unwrap().contains("local audit chain"), "{v}");
    let server = node.start_unsealed();
    ok(server.cli(&t, &["key", "show", "extra"], None));
    let k0 = json_out(server.cli(&t, &["key", "show", "k0", "--format", "json"], None));
    assert_eq!(k0["current_version"], 2, "the local, newer k0 is kept");
    assert_eq!(ok(server.cli(&t, &["key", "decrypt", "k0"], Some(ct.as_bytes()))).stdout, b"after rotation");
    ok(server.cli(&t, &["audit", "verify"], None));
    drop(server);

    // A backup of another organisation is refused, and nothing changes.
    let other = Node::init(|dir| {
        let pf = dir.join("passphrase");
        std::fs::write(&pf, PASSPHRASE).unwrap();
        vec!["--passphrase-file".into(), pf.display().to_string()]
    });
    let od = other.data.display().to_string();
    let ob = other.path("other.kwb").display().to_string();
    ok(run(&["backup", "create", "--data-dir", &od, "--out", &ob], &[], None));
    // Same organisation name but another node's master key: refused for its keyring.
    let o = run(&["restore", &ob, "--data-dir", &d, "--merge"], &[], None);
    assert!(stderr(&o).contains("another master key"), "{}", stderr(&o));
    let foreign = Node::init(|dir| {
        let pf = dir.join("passphrase");
        std::fs::write(&pf, PASSPHRASE).unwrap();
        vec!["--passphrase-file".into(), pf.display().to_string(), "--org".into(), "globex".into()]
    });
    let fd = foreign.data.display().to_string();
    let fb = foreign.path("f.kwb").display().to_string();
    ok(run(&["backup", "create", "--data-dir", &fd, "--out", &fb], &[], None));
    let o = run(&["restore", &fb, "--data-dir", &d, "--merge"], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("organisation") && stderr(&o).contains("globex"), "{}", stderr(&o));
}

#[test]
fn restoring_to_another_server_retires_the_old_identity() {
    let (node, backup) = node_with_backup();
    let old_id = node.init["server_id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kms-2");
    let d = data.display().to_string();
    let v = json_out(run(
        &["restore", &backup.display().to_string(), "--data-dir", &d, "--destination", "kms-2", "--format", "json"],
        &[],
        None,
    ));
    let new_id = v["server_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    assert_eq!(v["server_name"], "kms-2");
    let p = node.passphrase_file().display().to_string();
    let server = Server::start(&data, &["--unseal-passphrase-file", &p]).unwrap();
    let list = json_out(server.cli(&node.token, &["org", "list", "--format", "json"], None));
    let servers = list["servers"].as_array().unwrap();
    let old = servers.iter().find(|s| s["server_id"] == old_id.as_str()).expect("the old server is listed");
    assert_eq!(old["status"], "retired");
    assert_eq!(old["replaced_by"], new_id.as_str());
    let new = servers.iter().find(|s| s["server_id"] == new_id.as_str()).expect("the new server is listed");
    assert_eq!(new["status"], "active");
    assert_eq!(servers.iter().filter(|s| s["status"] == "active").count(), 1, "no ghost: {list}");
    ok(server.cli(&node.token, &["key", "show", "k0"], None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn online_restore_goes_through_maintenance_and_comes_back() {
    let node = Node::init_passphrase();
    let t = node.token.clone();
    let server = node.start_unsealed();
    for i in 0..200 {
        ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", &format!("k{i}")], None));
        if i == 0 {
            continue;
        }
    }
    let b = node.path("online.kwb").display().to_string();
    ok(server.cli(&t, &["backup", "create", "--out", &b], None));
    ok(server.cli(&t, &["key", "create", "--type", "aes-256", "--name", "after-backup"], None));

    // Only administrators restore.
    let backup_token = json_out(server.cli(&t, &["token", "create", "--role", "backup", "--format", "json"], None));
    let o = server.cli(backup_token["token"].as_str().unwrap(), &["restore", &b, "--erase"], None);
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    // Without --erase or --merge a running (initialised) node refuses.
    let o = server.cli(&t, &["restore", &b], None);
    assert!(stderr(&o).contains("--erase"), "{}", stderr(&o));

    // Clients keep calling during the restore: they get answers or a clear 503, nothing else.
    let client = server.client(&t);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut codes: BTreeMap<String, u64> = BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let code = match client.post("/v1/keys/k1/encrypt", &json!({"plaintext": "aGk="})).await {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.code().unwrap_or("unreachable").to_owned(),
                };
                *codes.entry(code).or_default() += 1;
            }
            codes
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let v = json_out(server.cli(&t, &["restore", &b, "--erase", "--format", "json"], None));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let codes = load.await.unwrap();
    assert_eq!(v["sealed"], false, "the same master key: the node stays unsealed ({v})");
    assert_eq!(v["keys_removed"], json!(["after-backup"]));
    assert!(codes.keys().all(|c| c == "ok" || c == "maintenance"), "unexpected answers during the restore: {codes:?}");
    assert!(codes.get("ok").copied().unwrap_or(0) > 0);
    let o = server.cli(&t, &["key", "show", "after-backup"], None);
    assert!(stderr(&o).contains("no key named"), "{}", stderr(&o));
    ok(server.cli(&t, &["key", "encrypt", "k199"], Some(b"x")));

    // Another node's backup comes back sealed: only its own secret opens it.
    let (other, other_backup) = node_with_backup();
    let v = json_out(server.cli(
        &t,
        &["restore", &other_backup.display().to_string(), "--erase", "--format", "json"],
        None,
    ));
    assert_eq!(v["sealed"], true, "{v}");
    let err = server.client(&other.token).post("/v1/keys/k0/encrypt", &json!({"plaintext": "aGk="})).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(503), Some("sealed")));
    let op = other.passphrase_file().display().to_string();
    ok(server.cli(&other.token, &["operator", "unseal", "--passphrase-file", &op], None));
    ok(server.cli(&other.token, &["key", "encrypt", "k0"], Some(b"x")));
}

#[test]
fn restore_can_start_the_server_when_done() {
    let (node, backup) = node_with_backup();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rebuilt");
    let d = data.display().to_string();
    let b = backup.display().to_string();
    let server = Server::spawn(&["restore", &b, "--data-dir", &d, "--start", "--listen", "127.0.0.1:0"], &data)
        .expect("restore --start serves");
    let status = json_out(run(&["operator", "status", "--format", "json"], &[("KEYWARD_ADDR", &server.addr)], None));
    assert_eq!(status["sealed"], true, "it starts sealed");
    let p = node.passphrase_file().display().to_string();
    ok(server.cli(&node.token, &["operator", "unseal", "--passphrase-file", &p], None));
    ok(server.cli(&node.token, &["key", "encrypt", "k0"], Some(b"back in service")));
}

#[test]
fn age_encrypted_backups_for_off_site_copies() {
    let (node, _) = node_with_backup();
    let d = node.data.display().to_string();
    let p = node.passphrase_file().display().to_string();
    let age_pass = node.path("age-pass");
    std::fs::write(&age_pass, "an off-site passphrase\n").unwrap();
    let ap = age_pass.display().to_string();
    let out = node.path("offsite.kwb.age");
    let o = out.display().to_string();
    let v = json_out(run(
        &["backup", "create", "--data-dir", &d, "--out", &o, "--age-passphrase-file", &ap, "--format", "json"],
        &[],
        None,
    ));
    assert_eq!(v["age_encrypted"], true);
    assert!(std::fs::read(&out).unwrap().starts_with(b"age-encryption.org/v1\n"));
    let refused = run(&["backup", "verify", &o], &[], None);
    assert!(stderr(&refused).contains("encrypted with age"), "{}", stderr(&refused));
    let v = json_out(run(
        &["backup", "verify", &o, "--age-passphrase-file", &ap, "--passphrase-file", &p, "--format", "json"],
        &[],
        None,
    ));
    assert_eq!(v["ok"], true, "{v}");
    let wrong = node.path("wrong-age");
    std::fs::write(&wrong, "not it").unwrap();
    let o2 = run(&["backup", "verify", &o, "--age-passphrase-file", &wrong.display().to_string()], &[], None);
    assert_eq!(o2.status.code(), Some(1));

    // To an X25519 recipient, and opened by the standard age tool.
    let identity = node.path("age-identity.txt");
    let keygen = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen (scripts/test installs age)");
    assert!(keygen.status.success());
    let recipient = String::from_utf8_lossy(&keygen.stderr).split_whitespace().last().unwrap().to_owned();
    assert!(recipient.starts_with("age1"), "{recipient}");
    let out2 = node.path("to-recipient.kwb.age");
    let o2 = out2.display().to_string();
    ok(run(&["backup", "create", "--data-dir", &d, "--out", &o2, "--age-recipient", &recipient], &[], None));
    let plain = node.path("opened-by-age.kwb");
    let age = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg("-o")
        .arg(&plain)
        .arg(&out2)
        .output()
        .unwrap();
    assert!(age.status.success(), "{}", String::from_utf8_lossy(&age.stderr));
    ok(run(&["backup", "verify", &plain.display().to_string(), "--passphrase-file", &p], &[], None));
    // And restored straight from the encrypted file.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("r").display().to_string();
    ok(run(&["restore", &o2, "--data-dir", &target, "--age-identity", &identity.display().to_string()], &[], None));
}
