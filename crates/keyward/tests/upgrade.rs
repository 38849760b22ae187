// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Upgrades from golden data directories of every older schema (tests/vectors/datadir-*),
//! rollback, refusals of newer stores, and kill -9 midway.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn golden_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("datadir-"))
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no golden data directories in {}", root.display());
    dirs
}

/// A copy of a golden directory to work on; returns (tempdir guard, data dir, passphrase file, token, expectations).
fn copy_golden(golden: &Path) -> (tempfile::TempDir, PathBuf, String, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(golden.join("keyward.db"), data.join("keyward.db")).unwrap();
    let pass = dir.path().join("passphrase");
    std::fs::copy(golden.join("passphrase"), &pass).unwrap();
    let token = std::fs::read_to_string(golden.join("token")).unwrap().trim().to_owned();
    let expect: Value = serde_json::from_slice(&std::fs::read(golden.join("expect.json")).unwrap()).unwrap();
    (dir, data, pass.display().to_string(), token, expect)
}

fn check_expectations(server: &Server, token: &str, expect: &Value) {
    for (key, e) in expect.as_object().unwrap() {
        let msg = e["message"].as_str().unwrap().as_bytes();
        if let Some(ct) = e["ciphertext"].as_str() {
            assert_eq!(ok(server.cli(token, &["key", "decrypt", key], Some(ct.as_bytes()))).stdout, msg, "{key}");
            let fresh = stdout(&ok(server.cli(token, &["key", "encrypt", key], Some(msg))));
            assert_eq!(ok(server.cli(token, &["key", "decrypt", key], Some(fresh.as_bytes()))).stdout, msg);
        }
        if let Some(sig) = e["signature"].as_str() {
            ok(server.cli(token, &["key", "verify", key, "--signature", sig], Some(msg)));
            let fresh = stdout(&ok(server.cli(token, &["key", "sign", key], Some(msg))));
            ok(server.cli(token, &["key", "verify", key, "--signature", fresh.trim()], Some(msg)));
        }
        if let Some(mac) = e["hmac"].as_str() {
            ok(server.cli(token, &["key", "hmac-verify", key, "--hmac", mac], Some(msg)));
        }
    }
}

/// The content that must survive an upgrade and its rollback unchanged.
fn content(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT id || name || key_type || state || current_version FROM objects ORDER BY id",
        "SELECT object_id || version || hex(material) FROM key_versions ORDER BY object_id, version",
        "SELECT id || hex(hash) || role FROM tokens ORDER BY id",
        "SELECT seq || hex(hash) FROM audit ORDER BY seq",
        "SELECT config FROM seal",
        "SELECT version || hex(wrapped) FROM keyring ORDER BY version",
    ] {
        let mut s = c.prepare(sql).unwrap();
        out.extend(s.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap));
    }
    out
}

#[track_caller]
fn assert_same(a: &[String], b: &[String], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {} rows before, {} after", a.len(), b.len());
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("{what}: row {i} differs:\n  before: {:.200}\n  after:  {:.200}", a[i], b[i]);
    }
}

fn versions(db: &Path) -> Vec<(String, u32)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut s = c.prepare("SELECT name, schema_version FROM components ORDER BY name").unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn every_golden_directory_upgrades_works_and_rolls_back() {
    for golden in golden_dirs() {
        let (_guard, data, pass, token, expect) = copy_golden(&golden);
        let db = data.join("keyward.db");
        let before_content = content(&db);
        let before_versions = versions(&db);
        let d = data.display().to_string();
        let stale_server = Server::start(&data, &["--unseal-passphrase-file", &pass]);
        let current_schema = before_versions.iter().all(|(n, v)| !(n == "config" && *v < 2));
        if current_schema {
            // The newest golden directory is at this binary's versions: it just serves.
            drop(stale_server);
        } else {
            let err = stale_server.err().expect("an old store must be refused");
            assert!(err.contains("run keyward upgrade") || err.contains("Run keyward upgrade"), "{err}");
            assert!(err.contains("schema version 1") && err.contains("writes 2"), "{err}");
        }
        // --dry-run lists and changes nothing.
        let dry: Value = serde_json::from_slice(
            &ok(run(&["upgrade", "--data-dir", &d, "--dry-run", "--format", "json"], &[], None)).stdout,
        )
        .unwrap();
        assert_eq!(versions(&db), before_versions);
        let report: Value =
            serde_json::from_slice(&ok(run(&["upgrade", "--data-dir", &d, "--format", "json"], &[], None)).stdout)
                .unwrap();
        assert_eq!(report["steps"], dry["steps"]);
        if let Some(backup) = report["backup"].as_str() {
            ok(run(&["backup", "verify", backup, "--passphrase-file", &pass], &[], None));
        }
        assert_same(&before_content, &content(&db), "an upgrade must not change content");
        let again: Value =
            serde_json::from_slice(&ok(run(&["upgrade", "--data-dir", &d, "--format", "json"], &[], None)).stdout)
                .unwrap();
        assert_eq!(again["steps"].as_array().unwrap().len(), 0, "a second upgrade is clean");
        let server = Server::start(&data, &["--unseal-passphrase-file", &pass]).unwrap();
        check_expectations(&server, &token, &expect);
        drop(server);
        if report["backup"].is_string() {
            ok(run(&["upgrade", "--data-dir", &d, "--rollback"], &[], None));
            assert_eq!(versions(&db), before_versions, "rollback restores the old schema versions");
            assert_same(&before_content, &content(&db), "rollback restores the content");
            // And the old store upgrades again, from the rolled-back state.
            ok(run(&["upgrade", "--data-dir", &d], &[], None));
        }
    }
}

#[test]
fn server_upgrade_flag_upgrades_then_serves() {
    let golden = golden_dirs().into_iter().next().unwrap();
    let (_guard, data, pass, token, expect) = copy_golden(&golden);
    let server = Server::start(&data, &["--upgrade", "--unseal-passphrase-file", &pass]).unwrap();
    check_expectations(&server, &token, &expect);
}

#[test]
fn newer_or_unknown_stores_are_refused_and_left_alone() {
    let node = Node::init_passphrase();
    let db = node.data.join("keyward.db");
    let d = node.data.display().to_string();
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE components SET schema_version = 99 WHERE name = 'keys'", []).unwrap();
    drop(c);
    let before = std::fs::read(&db).unwrap();
    let err = Server::start(&node.data, &[]).err().unwrap();
    assert!(err.contains("version 99") && err.contains("supports (1)") && err.contains("newer keyward"), "{err}");
    let o = run(&["upgrade", "--data-dir", &d], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("version 99"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing changed");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE components SET schema_version = 1 WHERE name = 'keys'", []).unwrap();
    c.execute("INSERT INTO components(name, schema_version, installed_at) VALUES ('teleport', 1, 'x')", []).unwrap();
    drop(c);
    let err = Server::start(&node.data, &[]).err().unwrap();
    assert!(err.contains("teleport") && err.contains("newer keyward"), "{err}");
}

#[test]
fn kill9_during_upgrade_then_the_next_run_finishes() {
    let golden = golden_dirs().into_iter().next().unwrap();
    for delay_ms in [0u64, 5, 15, 30, 60, 120] {
        let (_guard, data, pass, token, expect) = copy_golden(&golden);
        let d = data.display().to_string();
        let mut child = std::process::Command::new(bin())
            .args(["upgrade", "--data-dir", &d])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Every component is at one version or the other, never half-migrated; the next run finishes.
        ok(run(&["upgrade", "--data-dir", &d], &[], None));
        let v: Value = serde_json::from_slice(
            &ok(run(&["upgrade", "--data-dir", &d, "--dry-run", "--format", "json"], &[], None)).stdout,
        )
        .unwrap();
        assert_eq!(v["steps"].as_array().unwrap().len(), 0);
        if delay_ms == 120 {
            let server = Server::start(&data, &["--unseal-passphrase-file", &pass]).unwrap();
            check_expectations(&server, &token, &expect);
        }
    }
}
