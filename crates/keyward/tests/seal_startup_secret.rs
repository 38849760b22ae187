// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! The startup secret: every kind unseals, wrong secrets are refused and change nothing,
//! repeated failures are slowed, and rekey changes the secret without touching the keys.

mod common;

use common::*;
use serde_json::json;

#[test]
fn sealed_server_refuses_work_and_wrong_passphrase_changes_nothing() {
    let node = Node::init_passphrase();
    let server = Server::start(&node.data, &[]).expect("start sealed");
    let t = node.token.as_str();
    let (code, health) = http("GET", &format!("{}/v1/sys/health", server.addr), None, None);
    assert_eq!(code, 200);
    assert_eq!(health["initialized"], true);
    assert_eq!(health["sealed"], true);
    assert_eq!(health["organization"], "acme");

    let (code, body) =
        http("POST", &format!("{}/v1/keys", server.addr), Some(t), Some(r#"{"name":"a","type":"aes-256"}"#));
    assert_eq!(code, 503);
    assert_eq!(body["error"]["code"], "sealed");

    let wrong = node.path("wrong");
    std::fs::write(&wrong, "not the passphrase at all").unwrap();
    let w = wrong.display().to_string();
    let o = server.cli(t, &["operator", "unseal", "--passphrase-file", &w], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("startup secret is wrong"), "{}", stderr(&o));
    let (_, health) = http("GET", &format!("{}/v1/sys/health", server.addr), None, None);
    assert_eq!(health["sealed"], true, "a wrong secret must not unseal");

    let p = node.passphrase_file().display().to_string();
    let o = ok(server.cli(t, &["operator", "unseal", "--passphrase-file", &p], None));
    assert_eq!(stdout(&o).trim(), "unsealed");
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "a"], None));
    ok(server.cli(t, &["operator", "seal"], None));
    let (code, _) =
        http("POST", &format!("{}/v1/keys/a/encrypt", server.addr), Some(t), Some(r#"{"plaintext":"aGk="}"#));
    assert_eq!(code, 503);
}

#[test]
fn repeated_failures_are_throttled() {
    let node = Node::init_passphrase();
    let server = Server::start(&node.data, &[]).expect("start sealed");
    let url = format!("{}/v1/sys/unseal", server.addr);
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (code, body) = http("POST", &url, None, Some(r#"{"passphrase":"guess guess guess"}"#));
        codes.push((code, body["error"]["code"].as_str().unwrap_or_default().to_owned()));
    }
    assert_eq!(codes[0], (400, "wrong_secret".into()));
    assert_eq!(codes[3], (429, "throttled".into()), "{codes:?}");
    // Even the right secret waits out the penalty; afterwards it works.
    let right = json!({"passphrase": PASSPHRASE}).to_string();
    let (code, _) = http("POST", &url, None, Some(&right));
    assert_eq!(code, 429);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, body) = http("POST", &url, None, Some(&right));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["sealed"], false);
}

#[test]
fn key_file_startup_disk() {
    let node = Node::init(|dir| vec!["--key-file".into(), dir.join("startup.key").display().to_string()]);
    let key = node.path("startup.key");
    let meta = std::fs::metadata(&key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "the key file is private");
    assert_eq!(meta.len(), 32);

    // A wrong key file is refused at start, and the server does not run.
    let wrong = node.path("wrong.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    let err = Server::start(&node.data, &["--unseal-key-file", &wrong.display().to_string()]).err().expect("refused");
    assert!(err.contains("startup secret is wrong"), "{err}");

    let server = Server::start(&node.data, &["--unseal-key-file", &key.display().to_string()]).expect("start");
    ok(server.cli(&node.token, &["key", "create", "--type", "aes-128", "--name", "k"], None));
    // init never overwrites an existing key file.
    let again = run(
        &["init", "--data-dir", &node.path("other").display().to_string(), "--key-file", &key.display().to_string()],
        &[],
        None,
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    assert!(!node.path("other").join("keyward.db").exists(), "a refused init leaves no node behind");
}

#[test]
fn shamir_shares_with_progress_and_foreign_shares() {
    let node = Node::init(|dir| {
        vec![
            "--shares".into(),
            "5".into(),
            "--threshold".into(),
            "3".into(),
            "--shares-dir".into(),
            dir.join("shares").display().to_string(),
        ]
    });
    let other = Node::init(|dir| {
        vec![
            "--shares".into(),
            "2".into(),
            "--threshold".into(),
            "2".into(),
            "--shares-dir".into(),
            dir.join("shares").display().to_string(),
        ]
    });
    let share = |n: &Node, i: u32| n.path("shares").join(format!("share-{i}.txt")).display().to_string();
    let server = Server::start(&node.data, &[]).expect("start sealed");
    let t = node.token.as_str();

    let o = ok(server.cli(t, &["operator", "unseal", "--share-file", &share(&node, 2)], None));
    assert_eq!(stdout(&o).trim(), "sealed: 1 of 3 shares given");
    // The same share twice does not count twice.
    let o = ok(server.cli(t, &["operator", "unseal", "--share-file", &share(&node, 2)], None));
    assert_eq!(stdout(&o).trim(), "sealed: 1 of 3 shares given");
    // A share of another node is refused by name and not counted.
    let o = server.cli(t, &["operator", "unseal", "--share-file", &share(&other, 1)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("belongs to another node"), "{}", stderr(&o));
    let o = ok(server.cli(t, &["operator", "unseal", "--share-file", &share(&node, 5)], None));
    assert_eq!(stdout(&o).trim(), "sealed: 2 of 3 shares given");
    let o = ok(server.cli(t, &["operator", "unseal", "--share-file", &share(&node, 4)], None));
    assert_eq!(stdout(&o).trim(), "unsealed");

    // Too few shares at start: the server refuses to pretend it is unsealed.
    drop(server);
    let two = node.path("two");
    std::fs::create_dir(&two).unwrap();
    for i in [1, 3] {
        std::fs::copy(share(&node, i), two.join(format!("share-{i}.txt"))).unwrap();
    }
    let err = Server::start(&node.data, &["--unseal-shares-dir", &two.display().to_string()]).err().expect("refused");
    assert!(err.contains("fewer than the threshold"), "{err}");
    let all = node.path("shares").display().to_string();
    let server = Server::start(&node.data, &["--unseal-shares-dir", &all]).expect("all shares unseal");
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "k"], None));
}

#[test]
fn rekey_changes_the_secret_and_keeps_the_keys() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.as_str();
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "k"], None));
    let ct = stdout(&ok(server.cli(t, &["key", "encrypt", "k"], Some(b"kept"))));

    // passphrase -> shares
    let p = node.passphrase_file().display().to_string();
    let shares = node.path("new-shares").display().to_string();
    let o = ok(server.cli(
        t,
        &[
            "operator",
            "rekey",
            "--passphrase-file",
            &p,
            "--new-shares",
            "3",
            "--new-threshold",
            "2",
            "--new-shares-dir",
            &shares,
            "--format",
            "json",
        ],
        None,
    ));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["secret_files"].as_array().unwrap().len(), 3);
    // shares -> key file, proving the shares with a threshold of them
    let key = node.path("new.key").display().to_string();
    let s1 = node.path("new-shares/share-1.txt").display().to_string();
    let s3 = node.path("new-shares/share-3.txt").display().to_string();
    ok(server.cli(t, &["operator", "rekey", "--share-file", &s1, "--share-file", &s3, "--new-key-file", &key], None));
    // Only administrators change the secret.
    let (code, _) = http("POST", &format!("{}/v1/tokens", server.addr), Some(t), Some(r#"{"role":"operator"}"#));
    assert_eq!(code, 201);

    drop(server);
    let err = Server::start(&node.data, &["--unseal-passphrase-file", &p]).err().expect("old secret refused");
    assert!(err.contains("sealed with a key file"), "{err}");
    let server = Server::start(&node.data, &["--unseal-key-file", &key]).expect("new key file unseals");
    assert_eq!(ok(server.cli(t, &["key", "decrypt", "k"], Some(ct.as_bytes()))).stdout, b"kept");
}
