// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Keys through the CLI, as the README shows them: create every type, use it, rotate, move it
//! through its lifecycle, destroy it.

mod common;

use common::*;
use serde_json::Value;

fn json(o: std::process::Output) -> Value {
    serde_json::from_slice(&ok(o).stdout).expect("JSON output")
}

#[test]
fn every_key_type_does_its_operations() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.as_str();
    for ty in ["aes-128", "aes-256", "rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "hmac-sha256"]
    {
        let name = format!("k-{ty}");
        let created = json(server.cli(t, &["key", "create", "--type", ty, "--name", &name, "--format", "json"], None));
        assert_eq!(created["type"], ty);
        assert_eq!(created["state"], "active");
        let msg = format!("message for {ty}").into_bytes();
        if ty.starts_with("aes") || ty.starts_with("rsa") {
            let ct = stdout(&ok(server.cli(t, &["key", "encrypt", &name], Some(&msg))));
            assert!(ct.starts_with("keyward:v1:"), "{ct}");
            let pt = ok(server.cli(t, &["key", "decrypt", &name], Some(ct.as_bytes()))).stdout;
            assert_eq!(pt, msg, "{ty} round trip");
        }
        if ty.starts_with("rsa") || ty.starts_with("ec") || ty == "ed25519" {
            let sig = stdout(&ok(server.cli(t, &["key", "sign", &name], Some(&msg)))).trim().to_owned();
            assert!(server.cli(t, &["key", "verify", &name, "--signature", &sig], Some(&msg)).status.success());
            let bad = server.cli(t, &["key", "verify", &name, "--signature", &sig], Some(b"another message"));
            assert_eq!(bad.status.code(), Some(1), "{ty}: a wrong message must not verify");
            // The public key is real X.509 SubjectPublicKeyInfo that openssl reads.
            let pem = stdout(&ok(server.cli(t, &["key", "public", &name], None)));
            let pem_path = node.path(&format!("{name}.pem"));
            std::fs::write(&pem_path, pem).unwrap();
            let o = std::process::Command::new("openssl")
                .args(["pkey", "-pubin", "-noout", "-in"])
                .arg(&pem_path)
                .output()
                .unwrap();
            assert!(o.status.success(), "openssl rejects the {ty} public key: {}", String::from_utf8_lossy(&o.stderr));
        }
        if ty.starts_with("rsa") {
            let sig =
                stdout(&ok(server.cli(t, &["key", "sign", &name, "--algorithm", "rsa-pkcs1-sha256"], Some(&msg))));
            assert!(sig.contains(":rsa-pkcs1-sha256:"));
            ok(server.cli(t, &["key", "verify", &name, "--signature", sig.trim()], Some(&msg)));
        }
        if ty == "hmac-sha256" {
            let mac = stdout(&ok(server.cli(t, &["key", "hmac", &name], Some(&msg))));
            ok(server.cli(t, &["key", "hmac-verify", &name, "--hmac", mac.trim()], Some(&msg)));
            assert_eq!(
                server.cli(t, &["key", "hmac-verify", &name, "--hmac", mac.trim()], Some(b"x")).status.code(),
                Some(1)
            );
        }
    }
    let list = json(server.cli(t, &["key", "list", "--format", "json", "--prefix", "k-rsa"], None));
    assert_eq!(list["keys"].as_array().unwrap().len(), 3);
    // Paging: two per page walks all nine keys exactly once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["key", "list", "--format", "json", "--limit", "2"];
        let a;
        if let Some(x) = &after {
            a = x.clone();
            args.extend(["--after", a.as_str()]);
        }
        let page = json(server.cli(t, &args, None));
        for k in page["keys"].as_array().unwrap() {
            seen.push(k["name"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 9, "{seen:?}");
}

#[test]
fn rotation_lifecycle_and_destroy() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.as_str();
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "orders"], None));
    ok(server.cli(t, &["key", "create", "--type", "ed25519", "--name", "signer"], None));
    let ct1 = stdout(&ok(server.cli(t, &["key", "encrypt", "orders", "--aad", "row-7"], Some(b"v1 secret"))));
    let sig1 = stdout(&ok(server.cli(t, &["key", "sign", "signer"], Some(b"doc")))).trim().to_owned();

    let rotated = json(server.cli(t, &["key", "rotate", "orders", "--format", "json"], None));
    assert_eq!(rotated["current_version"], 2);
    ok(server.cli(t, &["key", "rotate", "signer"], None));
    let ct2 = stdout(&ok(server.cli(t, &["key", "encrypt", "orders", "--aad", "row-7"], Some(b"v2 secret"))));
    assert!(ct2.contains(":2:"), "new ciphertexts use version 2: {ct2}");
    assert_eq!(
        ok(server.cli(t, &["key", "decrypt", "orders", "--aad", "row-7"], Some(ct1.as_bytes()))).stdout,
        b"v1 secret"
    );
    assert_eq!(
        ok(server.cli(t, &["key", "decrypt", "orders", "--aad", "row-7"], Some(ct2.as_bytes()))).stdout,
        b"v2 secret"
    );
    let wrong_aad = server.cli(t, &["key", "decrypt", "orders", "--aad", "row-8"], Some(ct1.as_bytes()));
    assert_eq!(wrong_aad.status.code(), Some(1));
    assert!(stderr(&wrong_aad).contains("associated data"), "{}", stderr(&wrong_aad));
    ok(server.cli(t, &["key", "verify", "signer", "--signature", &sig1], Some(b"doc")));

    // Disabled: refused with a message that says how to fix it; enabled again: works.
    ok(server.cli(t, &["key", "disable", "orders"], None));
    let refused = server.cli(t, &["key", "encrypt", "orders"], Some(b"x"));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("disabled"), "{}", stderr(&refused));
    ok(server.cli(t, &["key", "enable", "orders"], None));
    ok(server.cli(t, &["key", "encrypt", "orders"], Some(b"x")));

    // KMIP: an active key cannot be destroyed without deactivating it.
    let active = server.cli(t, &["key", "destroy", "orders"], None);
    assert!(stderr(&active).contains("deactivate it first"), "{}", stderr(&active));
    ok(server.cli(t, &["key", "deactivate", "orders"], None));
    let no_new = server.cli(t, &["key", "encrypt", "orders"], Some(b"x"));
    assert!(stderr(&no_new).contains("deactivated"), "{}", stderr(&no_new));
    assert_eq!(
        ok(server.cli(t, &["key", "decrypt", "orders", "--aad", "row-7"], Some(ct1.as_bytes()))).stdout,
        b"v1 secret"
    );

    let destroyed = json(server.cli(t, &["key", "destroy", "orders", "--format", "json"], None));
    assert_eq!(destroyed["state"], "destroyed");
    assert!(destroyed["versions"].as_array().unwrap().iter().all(|v| v["destroyed"] == true));
    let gone = server.cli(t, &["key", "decrypt", "orders", "--aad", "row-7"], Some(ct1.as_bytes()));
    assert!(stderr(&gone).contains("destroyed"), "{}", stderr(&gone));
    // The tombstone keeps the metadata.
    let shown = json(server.cli(t, &["key", "show", "orders", "--format", "json"], None));
    assert_eq!(shown["name"], "orders");
    // --force deactivates and destroys an active key in one step.
    let forced = json(server.cli(t, &["key", "destroy", "signer", "--force", "--format", "json"], None));
    assert_eq!(forced["state"], "destroyed");
}

#[test]
fn datakeys_export_and_import() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = node.token.as_str();
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "kek"], None));
    ok(server.cli(t, &["key", "create", "--type", "ec-p256", "--name", "portable", "--exportable"], None));
    ok(server.cli(t, &["key", "create", "--type", "aes-256", "--name", "locked"], None));

    let dk = json(server.cli(t, &["key", "datakey", "kek", "--format", "json"], None));
    let ct = dk["ciphertext"].as_str().unwrap();
    let unwrapped = ok(server.cli(t, &["key", "decrypt", "kek"], Some(ct.as_bytes()))).stdout;
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.decode(dk["plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(unwrapped, plain);
    assert_eq!(plain.len(), 32);

    // Not exportable: refused even to an administrator.
    let refused = server.cli(t, &["key", "export", "locked", "--plaintext"], None);
    assert!(stderr(&refused).contains("not created exportable"), "{}", stderr(&refused));

    // Wrapped export, then import under a new name: signatures of one verify with the other.
    let exported =
        json(server.cli(t, &["key", "export", "portable", "--wrapping-key", "kek", "--format", "json"], None));
    assert_eq!(exported["wrapping_algorithm"], "aes-kwp");
    let wrapped = base64::engine::general_purpose::STANDARD.decode(exported["wrapped"].as_str().unwrap()).unwrap();
    let wrapped_path = node.path("portable.wrapped");
    std::fs::write(&wrapped_path, wrapped).unwrap();
    let w = wrapped_path.display().to_string();
    ok(server.cli(
        t,
        &[
            "key",
            "import",
            "--name",
            "portable-copy",
            "--type",
            "ec-p256",
            "--wrapped-file",
            &w,
            "--wrapping-key",
            "kek",
        ],
        None,
    ));
    let pub1 = stdout(&ok(server.cli(t, &["key", "public", "portable"], None)));
    let pub2 = stdout(&ok(server.cli(t, &["key", "public", "portable-copy"], None)));
    assert_eq!(pub1, pub2, "the imported key is the same key");

    // Plaintext export by an administrator yields PKCS#8 that openssl parses.
    let plain = json(server.cli(t, &["key", "export", "portable", "--plaintext", "--format", "json"], None));
    assert_eq!(plain["format"], "pkcs8");
    let der = base64::engine::general_purpose::STANDARD.decode(plain["material"].as_str().unwrap()).unwrap();
    let der_path = node.path("portable.p8");
    std::fs::write(&der_path, &der).unwrap();
    let o = std::process::Command::new("openssl")
        .args(["pkey", "-inform", "DER", "-noout", "-in"])
        .arg(&der_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Importing garbage is refused and names the problem.
    let junk_path = node.path("junk");
    std::fs::write(&junk_path, b"not a key").unwrap();
    let j = junk_path.display().to_string();
    let bad = server.cli(t, &["key", "import", "--name", "junk", "--type", "rsa-2048", "--material-file", &j], None);
    assert!(stderr(&bad).contains("not valid rsa-2048 key material"), "{}", stderr(&bad));
}
