// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Every doctor finding, produced by a test that creates its condition.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use serde_json::Value;

fn doctor(data: &Path, extra: &[&str]) -> (i32, Value) {
    let d = data.display().to_string();
    let mut args = vec!["doctor", "--data-dir", &d, "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(&args, &[], None);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("doctor output: {}", stderr(&o)));
    (o.status.code().unwrap(), v)
}

fn has(v: &Value, check: &str, severity: &str) -> bool {
    v["findings"].as_array().unwrap().iter().any(|f| f["check"] == check && f["severity"] == severity)
}

/// A node with a backup in its backups directory, so the backup check is quiet.
fn healthy_node() -> Node {
    let node = Node::init_passphrase();
    let backups = node.data.join("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o700)).unwrap();
    let d = node.data.display().to_string();
    let p = node.passphrase_file().display().to_string();
    let out = backups.join("b.kwb").display().to_string();
    ok(run(&["backup", "create", "--data-dir", &d, "--out", &out, "--passphrase-file", &p], &[], None));
    node
}

fn sql(data: &Path, statement: &str) {
    rusqlite::Connection::open(data.join("keyward.db")).unwrap().execute_batch(statement).unwrap();
}

#[test]
fn a_fresh_node_with_a_backup_is_healthy() {
    let node = healthy_node();
    let (code, v) = doctor(&node.data, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v}");
}

#[test]
fn stale_lock_after_kill9_is_reported_and_cleared() {
    let node = healthy_node();
    let mut server = node.start_unsealed();
    server.kill9();
    let note = std::fs::read_to_string(node.data.join("keyward.lock")).unwrap();
    assert!(note.contains(&format!("pid={}", server.child.id())), "the killed server's note: {note:?}");
    assert!(!Path::new(&format!("/proc/{}", server.child.id())).exists(), "the server process is gone");
    let (_, v) = doctor(&node.data, &[]);
    assert!(has(&v, "stale-lock", "warning"), "{v}");
    let (_, v) = doctor(&node.data, &[]);
    assert!(has(&v, "stale-lock", "warning"), "a look without --fix changes nothing: {v}");
    let (_, v) = doctor(&node.data, &["--fix"]);
    assert!(v["findings"][0]["fixed"].is_string(), "{v}");
    let (code, v) = doctor(&node.data, &[]);
    assert_eq!(code, 0, "{v}");
    assert!(!has(&v, "stale-lock", "warning"), "a clean exit leaves no note: {v}");
}

#[test]
fn permissions_of_secret_files_are_found_and_fixed() {
    let node = Node::init(|dir| vec!["--key-file".into(), dir.join("startup.key").display().to_string()]);
    let key = node.path("startup.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(node.data.join("keyward.db"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let k = key.display().to_string();
    let (code, v) = doctor(&node.data, &["--secret-path", &k]);
    assert_eq!(code, 1);
    let perms: Vec<&Value> = v["findings"].as_array().unwrap().iter().filter(|f| f["check"] == "permissions").collect();
    assert_eq!(perms.len(), 2, "{v}");
    doctor(&node.data, &["--secret-path", &k, "--fix"]);
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let (_, v) = doctor(&node.data, &["--secret-path", &k]);
    assert!(!has(&v, "permissions", "error"), "{v}");
}

#[test]
fn schema_registry_change_log_and_audit_problems() {
    // Each condition on its own node, each found by its own check.
    let node = healthy_node();
    sql(&node.data, "UPDATE components SET schema_version = 1 WHERE name = 'config'");
    let (_, v) = doctor(&node.data, &[]);
    assert!(has(&v, "schema", "error"), "{v}");
    assert!(v.to_string().contains("keyward upgrade"), "{v}");

    let node = healthy_node();
    sql(&node.data, "DROP TABLE tokens");
    let (code, v) = doctor(&node.data, &[]);
    assert_eq!(code, 1);
    assert!(has(&v, "stale-registration", "error"), "{v}");
    // upgrade reports the stale component and does not fail on it.
    let d = node.data.display().to_string();
    let o = ok(run(&["upgrade", "--data-dir", &d], &[], None));
    assert!(stdout(&o).contains("STALE: component directory"), "{}", stdout(&o));

    let node = healthy_node();
    sql(&node.data, "DELETE FROM components WHERE name = 'audit'");
    let (_, v) = doctor(&node.data, &[]);
    assert!(has(&v, "orphaned-data", "warning"), "{v}");

    let node = healthy_node();
    sql(&node.data, "DELETE FROM changelog WHERE seq = 2");
    let (_, v) = doctor(&node.data, &[]);
    assert!(has(&v, "change-log", "error"), "{v}");

    let node = healthy_node();
    sql(&node.data, "UPDATE audit SET actor = 'someone else' WHERE seq = 1");
    let (_, v) = doctor(&node.data, &[]);
    assert!(has(&v, "audit-chain", "error"), "{v}");
}

#[test]
fn backups_missing_damaged_or_old() {
    let node = Node::init_passphrase();
    let (code, v) = doctor(&node.data, &[]);
    assert_eq!(code, 1);
    assert!(has(&v, "backups", "error"), "{v}");
    let node = healthy_node();
    let (_, v) = doctor(&node.data, &["--max-backup-age-days", "0"]);
    assert!(has(&v, "backups", "warning"), "an old backup is a warning: {v}");
    let b = node.data.join("backups").join("b.kwb");
    let mut bytes = std::fs::read(&b).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&b, bytes).unwrap();
    let (code, v) = doctor(&node.data, &[]);
    assert_eq!(code, 1);
    assert!(v.to_string().contains("does not verify"), "{v}");
}

#[test]
fn tls_certificate_expiry_and_the_online_doctor() {
    let node = healthy_node();
    let dir = node.dir.path();
    let o = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "5"])
        .args(["-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=localhost"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::write(dir.join("keyward.toml"), "data_dir = \"data\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n")
        .unwrap();
    let config = dir.join("keyward.toml").display().to_string();
    let (_, v) = doctor(&node.data, &["--config", &config]);
    assert!(has(&v, "tls", "warning") && v.to_string().contains("expires in"), "{v}");

    let server = node.start_unsealed();
    let o = ok(server.cli(&node.token, &["doctor", "--format", "json"], None));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], true, "{v}");
    let app = serde_json::from_slice::<Value>(
        &ok(server.cli(&node.token, &["token", "create", "--role", "app", "--prefix", "x", "--format", "json"], None))
            .stdout,
    )
    .unwrap();
    let o = server.cli(app["token"].as_str().unwrap(), &["doctor"], None);
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
}

#[test]
fn low_disk_space_is_a_warning() {
    struct Mount(std::path::PathBuf);
    impl Drop for Mount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("SKIPPED low_disk_space_is_a_warning: cannot mount a tmpfs (needs root; CI has it)");
        return;
    }
    let _mount = Mount(mnt.clone());
    let data = mnt.join("data");
    let pass = dir.path().join("pass");
    std::fs::write(&pass, PASSPHRASE).unwrap();
    ok(run(
        &["init", "--data-dir", &data.display().to_string(), "--passphrase-file", &pass.display().to_string()],
        &[],
        None,
    ));
    let (_, v) = doctor(&data, &[]);
    assert!(!has(&v, "disk-space", "warning"), "{v}");
    // Leave less free space than the store's size.
    let store: u64 = std::fs::read_dir(&data).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
    let o = std::process::Command::new("df").args(["--output=avail", "-B1"]).arg(&mnt).output().unwrap();
    let free: u64 = String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap().trim().parse().unwrap();
    std::fs::write(mnt.join("filler"), vec![0u8; (free - store) as usize]).unwrap();
    let (_, v) = doctor(&data, &[]);
    assert!(has(&v, "disk-space", "warning"), "{v}");
}
