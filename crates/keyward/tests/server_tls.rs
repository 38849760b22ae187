// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! HTTPS with rustls, client-certificate callers, and the refusal of plain HTTP off loopback.
//! Certificates are made at test time with the real `openssl` command.

mod common;

use common::*;

#[test]
fn https_with_client_certificates() {
    let node = Node::init_passphrase();
    let dir = node.dir.path();
    make_pki(dir);
    std::fs::write(
        dir.join("keyward.toml"),
        r#"
data_dir = "data"
listen = "127.0.0.1:0"

[tls]
cert = "server.pem"
key = "server.key"
client_ca = "ca.pem"

[[client_cert]]
subject_cn = "orders-service"
role = "app"
prefixes = ["orders."]
"#,
    )
    .unwrap();
    let config = dir.join("keyward.toml").display().to_string();
    let pass = node.passphrase_file().display().to_string();
    let server = Server::spawn(&["server", "--config", &config, "--unseal-passphrase-file", &pass], &node.data)
        .expect("TLS server starts");
    assert!(server.addr.starts_with("https://127.0.0.1:"), "{}", server.addr);
    let ca = dir.join("ca.pem").display().to_string();
    let t = node.token.as_str();
    let env = |extra: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut v = vec![("KEYWARD_ADDR", server.addr.clone()), ("KEYWARD_CACERT", ca.clone())];
        v.extend(extra.iter().cloned());
        v
    };
    let call = |env: Vec<(&'static str, String)>, args: &[&str], stdin: Option<&[u8]>| {
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(args, &e, stdin)
    };

    for name in ["orders.db", "payroll.db"] {
        ok(call(env(&[("KEYWARD_TOKEN", t.into())]), &["key", "create", "--type", "aes-256", "--name", name], None));
    }
    // Without our CA the server's certificate is not trusted.
    let o = run(&["key", "list"], &[("KEYWARD_ADDR", &server.addr), ("KEYWARD_TOKEN", t)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    // Plain HTTP to the HTTPS port gets nowhere.
    let plain = server.addr.replace("https://", "http://");
    let o = run(&["key", "list"], &[("KEYWARD_ADDR", &plain), ("KEYWARD_TOKEN", t)], None);
    assert_eq!(o.status.code(), Some(1));

    // A mapped client certificate is a caller without any token, limited to its prefixes.
    let identity = dir.join("client-identity.pem").display().to_string();
    let with_cert = env(&[("KEYWARD_CLIENT_CERT", identity)]);
    let ct = stdout(&ok(call(with_cert.clone(), &["key", "encrypt", "orders.db"], Some(b"by certificate"))));
    assert_eq!(
        ok(call(with_cert.clone(), &["key", "decrypt", "orders.db"], Some(ct.as_bytes()))).stdout,
        b"by certificate"
    );
    let o = call(with_cert.clone(), &["key", "encrypt", "payroll.db"], Some(b"x"));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    // No certificate and no token: 401.
    let o = call(env(&[]), &["key", "list"], None);
    assert!(stderr(&o).contains("missing or invalid token"), "{}", stderr(&o));
}

#[test]
fn plain_http_only_on_loopback_and_only_in_dev() {
    let node = Node::init_passphrase();
    let d = node.data.display().to_string();
    let o = run(&["server", "--dev", "--data-dir", &d, "--listen", "0.0.0.0:0"], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only on a loopback address"), "{}", stderr(&o));
    let o = run(&["server", "--data-dir", &d], &[], None);
    assert_eq!(o.status.code(), Some(2), "neither --dev nor --config is a usage error");
    let config = node.path("no-tls.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", d)).unwrap();
    let o = run(&["server", "--config", &config.display().to_string()], &[], None);
    assert!(stderr(&o).contains("no [tls] section"), "{}", stderr(&o));
}

#[test]
fn dev_mode_initialises_an_empty_directory_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("keyward-data");
    let d = data.display().to_string();
    let mut child = std::process::Command::new(bin())
        .args(["server", "--dev", "--data-dir", &d, "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = String::new();
    let mut passphrase = String::new();
    let mut addr = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(t) = line.trim().strip_prefix("Root token:") {
            token = t.trim().into();
        }
        if let Some(p) = line.trim().strip_prefix("Unseal passphrase:") {
            passphrase = p.trim().into();
        }
        if let Some(a) = line.strip_prefix("keyward: listening on ") {
            assert!(a.contains("(unsealed)"), "{a}");
            addr = a.split_whitespace().next().unwrap().into();
            break;
        }
    }
    assert!(token.starts_with("kw.") && passphrase.len() >= 24, "{token} {passphrase}");
    ok(run(
        &["key", "create", "--type", "aes-256", "--name", "first"],
        &[("KEYWARD_ADDR", &addr), ("KEYWARD_TOKEN", &token)],
        None,
    ));
    let _ = child.kill();
    let _ = child.wait();
    // The second start does not initialise again: it starts sealed and the printed passphrase opens it.
    let server = Server::start(&data, &[]).expect("restart");
    let pf = dir.path().join("pass");
    std::fs::write(&pf, &passphrase).unwrap();
    ok(server.cli(&token, &["operator", "unseal", "--passphrase-file", &pf.display().to_string()], None));
    ok(server.cli(&token, &["key", "show", "first"], None));
}
