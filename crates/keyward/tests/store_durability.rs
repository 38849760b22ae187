// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Faults at rest: kill -9 in a burst of writes, a second server on the same directory, key
//! material searched for on disk, and a tampered audit log.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_during_concurrent_creates_loses_nothing_acknowledged() {
    let node = Node::init_passphrase();
    let mut server = node.start_unsealed();
    let client = server.client(&node.token);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..16 {
        let client = client.clone();
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("burst-{w}-{i}");
                match client.post("/v1/keys", &json!({"name": name, "type": "aes-256"})).await {
                    Ok(_) => acked.lock().unwrap().push(name),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Let the burst run, then kill the server without warning.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill9();
    for w in workers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "the burst should have created keys before the kill ({})", acked.len());

    let server = node.start_unsealed();
    let client = server.client(&node.token);
    for name in &acked {
        let v = client
            .post(&keyward_client::Client::key_path(name, "/encrypt"), &json!({"plaintext": "aGk="}))
            .await
            .unwrap_or_else(|e| panic!("acknowledged key {name} is missing or unusable after kill -9: {e}"));
        assert!(v["ciphertext"].as_str().is_some());
    }
    // Nothing is half-written: every key that exists (acknowledged or not) is whole and usable.
    let mut after: Option<String> = None;
    let mut total = 0;
    loop {
        let q = after.as_ref().map(|a| format!("&after={a}")).unwrap_or_default();
        let page = client.get(&format!("/v1/keys?limit=500{q}")).await.unwrap();
        for k in page["keys"].as_array().unwrap() {
            let name = k["name"].as_str().unwrap();
            client
                .post(&keyward_client::Client::key_path(name, "/encrypt"), &json!({"plaintext": "aGk="}))
                .await
                .unwrap_or_else(|e| panic!("key {name} exists but is not usable: {e}"));
            total += 1;
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert!(total >= acked.len());
}

#[test]
fn second_server_on_the_same_directory_is_refused() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let err = Server::start(&node.data, &[]).err().expect("second server must be refused");
    assert!(err.contains("in use by another keyward process"), "{err}");
    assert!(err.contains(&format!("pid={}", server.child.id())), "the message names the holder: {err}");
    // Offline commands are refused too.
    let o = run(&["audit", "verify", "--data-dir", &node.data.display().to_string()], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("in use"), "{}", stderr(&o));
}

/// The 16-byte windows of a key's material that are its own secret: not in its public key (which
/// is stored in clear on purpose) and not in another key of the same type (PKCS#8 framing).
fn secret_windows(material: &[u8], public: &[u8], twin: &[u8]) -> Vec<Vec<u8>> {
    let shared: HashSet<&[u8]> = public.windows(WINDOW).chain(twin.windows(WINDOW)).collect();
    material.windows(WINDOW).filter(|w| !shared.contains(w)).map(<[u8]>::to_vec).collect()
}

const WINDOW: usize = 16;

#[test]
fn key_material_never_reaches_the_disk_in_clear() {
    let node = Node::init_passphrase();
    let mut server = node.start_unsealed();
    let t = node.token.as_str();
    let export = |name: &str| -> Vec<u8> {
        let out = ok(server.cli(t, &["key", "export", name, "--plaintext", "--format", "json"], None));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        B64.decode(v["material"].as_str().unwrap()).unwrap()
    };
    let mut secrets = Vec::new();
    for (i, ty) in ["aes-256", "aes-128", "hmac-sha256", "ec-p256", "ec-p384", "rsa-2048", "ed25519"].iter().enumerate()
    {
        let name = format!("secret-{i}");
        let twin = format!("twin-{i}");
        ok(server.cli(t, &["key", "create", "--type", ty, "--name", &name, "--exportable"], None));
        ok(server.cli(t, &["key", "rotate", &name], None));
        ok(server.cli(t, &["key", "create", "--type", ty, "--name", &twin, "--exportable"], None));
        let public = if ty.starts_with("aes") || ty.starts_with("hmac") {
            Vec::new()
        } else {
            let out = ok(server.cli(t, &["key", "public", &name, "--format", "json"], None));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            B64.decode(v["public_key_der"].as_str().unwrap()).unwrap()
        };
        let windows = secret_windows(&export(&name), &public, &export(&twin));
        assert!(!windows.is_empty(), "{ty}: no secret bytes to look for");
        secrets.push((name, windows));
    }
    // Read the files while the server runs (WAL not yet checkpointed), then after it stops.
    let mut snapshots = Vec::new();
    for round in 0..2 {
        for suffix in ["", "-wal"] {
            let p = node.data.join(format!("keyward.db{suffix}"));
            if let Ok(bytes) = std::fs::read(&p) {
                snapshots.push((format!("round {round} keyward.db{suffix}"), bytes));
            }
        }
        server.stop();
    }
    assert!(snapshots.iter().any(|(_, b)| !b.is_empty()));
    for (file, bytes) in &snapshots {
        let on_disk: HashSet<&[u8]> = bytes.windows(WINDOW).collect();
        for (name, windows) in &secrets {
            let found = windows.iter().any(|w| on_disk.contains(w.as_slice()));
            assert!(!found, "material of {name} found in clear in {file}");
        }
    }
}

#[test]
fn audit_log_is_hash_chained_and_tampering_is_found() {
    let node = Node::init_passphrase();
    let mut server = node.start_unsealed();
    let t = node.token.as_str();
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "audited"], None));
    ok(server.cli(t, &["key", "encrypt", "audited"], Some(b"x")));
    let _ = server.cli(t, &["key", "encrypt", "missing"], Some(b"x"));
    let o = ok(server.cli(t, &["audit", "verify", "--format", "json"], None));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert!(v["records"].as_u64().unwrap() >= 4);
    server.stop();

    let db = rusqlite::Connection::open(node.data.join("keyward.db")).unwrap();
    let rows: Vec<(i64, String, String, String)> = db
        .prepare("SELECT seq, actor, action, outcome FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // Who, what, which key, outcome — and never a token or secret.
    assert!(rows.iter().any(|r| r.2.contains("/encrypt") && r.3.starts_with("404")), "{rows:?}");
    assert!(rows.iter().all(|r| !r.1.contains(t)));
    let victim = rows[2].0;
    db.execute("UPDATE audit SET outcome = '200' WHERE seq = ?1", [victim]).unwrap();
    drop(db);

    let o = run(&["audit", "verify", "--data-dir", &node.data.display().to_string()], &[], None);
    assert_eq!(o.status.code(), Some(1), "a broken chain must fail verification");
    assert!(stdout(&o).contains(&format!("BROKEN at record {victim}")), "{}", stdout(&o));
}
