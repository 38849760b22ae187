// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Optional components: install and remove with their data, scheduled backups, and the field
//! failure of PRODUCT.md row 4 reproduced: a component's data deleted behind Keyward's back.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

fn json_out(o: std::process::Output) -> Value {
    serde_json::from_slice(&ok(o).stdout).expect("JSON output")
}

fn component<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

#[test]
fn the_scheduler_component_takes_prunes_and_is_removed_with_its_data() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.as_str();
    let list = json_out(server.cli(t, &["component", "list", "--format", "json"], None));
    assert_eq!(component(&list, "scheduler")["installed"], false);
    assert_eq!(component(&list, "keys")["health"], "ok");
    let o = server.cli(t, &["schedule", "show"], None);
    assert!(stderr(&o).contains("not installed"), "{}", stderr(&o));

    ok(server.cli(t, &["component", "add", "scheduler"], None));
    let list = json_out(server.cli(t, &["component", "list", "--format", "json"], None));
    assert_eq!(component(&list, "scheduler")["health"], "ok");
    let o = server.cli(t, &["component", "remove", "keys"], None);
    assert!(stderr(&o).contains("required"), "{}", stderr(&o));

    let dir = node.path("scheduled");
    let d = dir.display().to_string();
    ok(server.cli(t, &["schedule", "set", "--every", "1s", "--dir", &d, "--keep", "2"], None));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs = loop {
        let v = json_out(server.cli(t, &["schedule", "show", "--format", "json"], None));
        let ok_runs = v["runs"].as_array().unwrap().iter().filter(|r| r["outcome"] == "ok").count();
        if ok_runs >= 3 || std::time::Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(runs["runs"].as_array().unwrap().iter().filter(|r| r["outcome"] == "ok").count() >= 3, "{runs}");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kwb"))
        .collect();
    assert_eq!(files.len(), 2, "older scheduled backups are pruned to --keep: {files:?}");
    let p = node.passphrase_file().display().to_string();
    for f in &files {
        let v = json_out(run(
            &["backup", "verify", &f.display().to_string(), "--passphrase-file", &p, "--format", "json"],
            &[],
            None,
        ));
        assert_eq!(v["authenticated"], true);
    }

    ok(server.cli(t, &["component", "remove", "scheduler"], None));
    let o = server.cli(t, &["schedule", "show"], None);
    assert!(stderr(&o).contains("not installed"), "{}", stderr(&o));
    drop(server);
    let c = rusqlite::Connection::open(node.data.join("keyward.db")).unwrap();
    let tables: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master WHERE name IN ('backup_schedule', 'backup_runs')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(tables, 0, "removing the component removes its data");
}

#[test]
fn a_backed_up_schedule_comes_back_with_its_component() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.as_str();
    ok(server.cli(t, &["component", "add", "scheduler"], None));
    let d = node.path("nightly").display().to_string();
    ok(server.cli(t, &["schedule", "set", "--every", "1d", "--dir", &d, "--keep", "9"], None));
    let b = node.path("with-schedule.kwb").display().to_string();
    ok(server.cli(t, &["backup", "create", "--out", &b], None));
    drop(server);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("restored");
    ok(run(&["restore", &b, "--data-dir", &data.display().to_string()], &[], None));
    let p = node.passphrase_file().display().to_string();
    let server = Server::start(&data, &["--unseal-passphrase-file", &p]).unwrap();
    let v = json_out(server.cli(t, &["schedule", "show", "--format", "json"], None));
    assert_eq!(v["schedule"]["keep"], 9, "{v}");
}

#[test]
fn the_field_failure_reproduced_stale_component_skipped_reported_and_fixed() {
    // An older node (the golden v1 directory) on which an optional component was installed.
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/datadir-v1");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(golden.join("keyward.db"), data.join("keyward.db")).unwrap();
    let pass = golden.join("passphrase").display().to_string();
    let token = std::fs::read_to_string(golden.join("token")).unwrap().trim().to_owned();
    let d = data.display().to_string();
    let c = rusqlite::Connection::open(data.join("keyward.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE backup_schedule (id INTEGER PRIMARY KEY, every_secs INTEGER NOT NULL, directory TEXT NOT NULL, keep INTEGER NOT NULL, updated_at TEXT NOT NULL);
         CREATE TABLE backup_runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, file TEXT, bytes INTEGER, change_seq INTEGER, outcome TEXT NOT NULL);
         INSERT INTO components(name, schema_version, installed_at) VALUES ('scheduler', 1, '2026-01-01T00:00:00Z');",
    )
    .unwrap();
    // The uninstall by hand: its data deleted behind Keyward's back, its registration left.
    c.execute_batch("DROP TABLE backup_schedule; DROP TABLE backup_runs;").unwrap();
    drop(c);

    let report = json_out(run(&["upgrade", "--data-dir", &d, "--format", "json"], &[], None));
    let steps = report["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["component"] == "config"), "the other components upgrade: {report}");
    let stale = report["stale"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{report}");
    assert_eq!(stale[0]["component"], "scheduler");
    assert!(stale[0]["fix"].as_str().unwrap().contains("doctor"), "the report says what to run: {report}");

    let doctor = run(&["doctor", "--data-dir", &d, "--format", "json"], &[], None);
    assert_eq!(doctor.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["check"] == "stale-registration"), "{v}");
    // The doctor still exits 1 for other findings (this node has no backup); its JSON is what counts.
    let fixed: Value =
        serde_json::from_slice(&run(&["doctor", "--data-dir", &d, "--fix", "--format", "json"], &[], None).stdout)
            .unwrap();
    assert!(fixed.to_string().contains("removed the registration of scheduler"), "{fixed}");

    let again = json_out(run(&["upgrade", "--data-dir", &d, "--format", "json"], &[], None));
    assert_eq!(again["steps"].as_array().unwrap().len(), 0);
    assert_eq!(again["stale"].as_array().unwrap().len(), 0, "a second upgrade is clean: {again}");
    let server = Server::start(&data, &["--unseal-passphrase-file", &pass]).unwrap();
    ok(server.cli(&token, &["key", "encrypt", "golden-aes-256"], Some(b"still works")));
}
