// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! A full disk: the write is refused with a clear error, nothing acknowledged is lost, the
//! server keeps serving, and it writes again once space is freed. The data directory is put on
//! a small tmpfs this test mounts itself (CI runs as root).

mod common;

use common::*;
use serde_json::json;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_refuses_writes_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        // Mounting needs root, which CI has; a developer without it is told, not misled.
        eprintln!("SKIPPED full_disk_refuses_writes_and_recovers: cannot mount a tmpfs (needs root)");
        return;
    }
    let _mount = Mount(mnt.clone());
    let data = mnt.join("data");
    let pass = dir.path().join("pass");
    std::fs::write(&pass, PASSPHRASE).unwrap();
    let p = pass.display().to_string();
    let out = ok(run(
        &["init", "--data-dir", &data.display().to_string(), "--passphrase-file", &p, "--format", "json"],
        &[],
        None,
    ));
    let token =
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["root_token"].as_str().unwrap().to_owned();
    let server = Server::start(&data, &["--unseal-passphrase-file", &p]).unwrap();
    ok(server.cli(&token, &["key", "create", "--type", "aes-256", "--name", "before"], None));
    let ct = stdout(&ok(server.cli(&token, &["key", "encrypt", "before"], Some(b"kept"))));

    // Leave almost no room, then write until the disk is full.
    let filler = mnt.join("filler");
    let free = || {
        let o = std::process::Command::new("df").args(["--output=avail", "-B1"]).arg(&mnt).output().unwrap();
        String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap().trim().parse::<u64>().unwrap()
    };
    std::fs::write(&filler, vec![0u8; free().saturating_sub(64 * 1024) as usize]).unwrap();
    let url = format!("{}/v1/keys", server.addr);
    let mut acked = Vec::new();
    let mut refusal = None;
    for i in 0..5000 {
        let name = format!("fill-{i}");
        let (status, body) =
            http("POST", &url, Some(&token), Some(&json!({"name": name, "type": "aes-256"}).to_string()));
        if status == 201 {
            acked.push(name);
        } else {
            refusal = Some((status, body));
            break;
        }
    }
    let (status, body) = refusal.expect("the disk never filled up");
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "disk_full");
    assert!(body["error"]["message"].as_str().unwrap().contains("Free space"), "{body}");

    // Still serving: health, and reading what is there.
    let (s, _) = http("GET", &format!("{}/v1/sys/health", server.addr), None, None);
    assert_eq!(s, 200);
    // Free the space: writes work again, and everything acknowledged survives a restart.
    std::fs::remove_file(&filler).unwrap();
    ok(server.cli(&token, &["key", "create", "--type", "aes-256", "--name", "after"], None));
    drop(server);
    let server = Server::start(&data, &["--unseal-passphrase-file", &p]).unwrap();
    assert_eq!(ok(server.cli(&token, &["key", "decrypt", "before"], Some(ct.as_bytes()))).stdout, b"kept");
    for name in acked.iter().chain(std::iter::once(&"after".to_string())) {
        ok(server.cli(&token, &["key", "show", name], None));
    }
    ok(server.cli(&token, &["audit", "verify"], None));
}
