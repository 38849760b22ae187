// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Golden archives of every backup format version restore, forever (tests/vectors/README.md).

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

#[test]
fn every_golden_backup_restores_and_its_keys_still_work() {
    let mut found = 0;
    for entry in std::fs::read_dir(vectors()).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "kwb") {
            continue;
        }
        found += 1;
        let stem = path.with_extension("");
        let pass = PathBuf::from(format!("{}.passphrase", stem.display()));
        let expect: Value =
            serde_json::from_slice(&std::fs::read(format!("{}.expect.json", stem.display())).unwrap()).unwrap();
        let archive = path.display().to_string();
        let p = pass.display().to_string();
        ok(run(&["backup", "verify", &archive], &[], None));
        let v: Value = serde_json::from_slice(
            &ok(run(&["backup", "verify", &archive, "--passphrase-file", &p, "--format", "json"], &[], None)).stdout,
        )
        .unwrap();
        assert_eq!(v["ok"], true, "{}: {v}", path.display());

        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let d = data.display().to_string();
        ok(run(&["restore", &archive, "--data-dir", &d], &[], None));
        let token = std::fs::read_to_string(format!("{}.token", stem.display())).unwrap().trim().to_owned();
        let server = Server::start(&data, &["--unseal-passphrase-file", &p]).unwrap();
        for (entry_name, e) in expect.as_object().unwrap() {
            let key = entry_name.trim_end_matches("-sig");
            let msg = e["message"].as_str().unwrap().as_bytes();
            if let Some(ct) = e["ciphertext"].as_str() {
                assert_eq!(ok(server.cli(&token, &["key", "decrypt", key], Some(ct.as_bytes()))).stdout, msg, "{key}");
            }
            if let Some(sig) = e["signature"].as_str() {
                ok(server.cli(&token, &["key", "verify", key, "--signature", sig], Some(msg)));
            }
            if let Some(mac) = e["hmac"].as_str() {
                ok(server.cli(&token, &["key", "hmac-verify", key, "--hmac", mac], Some(msg)));
            }
        }
    }
    assert!(found >= 1, "no golden backups found in {}", vectors().display());
}
