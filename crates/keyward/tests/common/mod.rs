//! Shared helpers for the integration tests: they run the real `keyward` binary on loopback
//! ports, in temporary directories, as an operator would.
#![allow(dead_code)] // Each test file uses a different subset of these helpers.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyward")
}

/// Runs `keyward args...` with the given environment and stdin.
pub fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env_remove("KEYWARD_ADDR").env_remove("KEYWARD_TOKEN").env_remove("KEYWARD_CACERT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn keyward");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait keyward")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "command failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    o
}

/// A node's directory with its secret files.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub token: String,
    pub init: Value,
}

impl Node {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn passphrase_file(&self) -> PathBuf {
        self.path("passphrase")
    }

    /// `keyward init` with a passphrase.
    pub fn init_passphrase() -> Node {
        Node::init(|dir| {
            let p = dir.join("passphrase");
            std::fs::write(&p, format!("{PASSPHRASE}\n")).expect("write passphrase");
            vec!["--passphrase-file".into(), p.display().to_string()]
        })
    }

    pub fn init(secret_args: impl FnOnce(&Path) -> Vec<String>) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut args: Vec<String> = vec!["init".into(), "--data-dir".into(), data.display().to_string()];
        args.extend(secret_args(dir.path()));
        if !args.iter().any(|a| a == "--org") {
            args.extend(["--org".into(), "acme".into(), "--site".into(), "paris".into()]);
        }
        args.extend(["--format".into(), "json".into()]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ok(run(&argv, &[], None));
        let init: Value = serde_json::from_slice(&out.stdout).expect("init prints JSON");
        let token = init["root_token"].as_str().expect("root_token").to_owned();
        assert!(init["server_id"].as_str().is_some_and(|s| s.len() == 36));
        Node { dir, data, token, init }
    }

    /// Starts a dev server on this node, unsealed with the passphrase.
    pub fn start_unsealed(&self) -> Server {
        let p = self.passphrase_file().display().to_string();
        Server::start(&self.data, &["--unseal-passphrase-file", &p]).expect("server starts")
    }
}

/// A running `keyward server`, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    /// What the server printed before it listened (e.g. the KMIP address).
    pub banner: Vec<String>,
}

impl Server {
    /// `keyward server --dev --data-dir D --listen 127.0.0.1:0 extra...`; waits for it to listen.
    pub fn start(data: &Path, extra: &[&str]) -> Result<Server, String> {
        let d = data.display().to_string();
        let mut args = vec!["server", "--dev", "--data-dir", &d, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Server::spawn(&args, data)
    }

    pub fn spawn(args: &[&str], data: &Path) -> Result<Server, String> {
        let mut child = Command::new(bin())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(Ok(line));
            }
        });
        std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
            }
            let _ = tx2.send(Err(all));
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut banner = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("keyward: listening on ") {
                        let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                        return Ok(Server { child, addr, data: data.to_owned(), banner });
                    }
                    banner.push(line);
                }
                Ok(Err(stderr)) => {
                    let _ = child.wait();
                    return Err(stderr);
                }
                Err(_) => {
                    let _ = child.kill();
                    return Err("server did not start within 60 s".into());
                }
            }
        }
    }

    /// Runs a client command against this server.
    pub fn cli(&self, token: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(args, &[("KEYWARD_ADDR", &self.addr), ("KEYWARD_TOKEN", token)], stdin)
    }

    pub fn client(&self, token: &str) -> keyward_client::Client {
        keyward_client::Client::new(&keyward_client::Settings {
            addr: self.addr.clone(),
            token: Some(token.to_owned()),
            ..Default::default()
        })
        .expect("client")
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A blocking HTTP call with a raw body, for malformed-input tests.
pub fn http(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut req = c.request(method.parse().expect("method"), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (scripts/test installs it)");
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// A test-only CA, a server certificate for 127.0.0.1 and a client certificate.
pub fn make_pki(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=keyward-test-ca"]);
    openssl(dir, &a);
    issue_cert(dir, "server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    client_cert(dir, "client", "orders-service");
    let identity =
        [std::fs::read(dir.join("client.pem")).unwrap(), std::fs::read(dir.join("client.key")).unwrap()].concat();
    std::fs::write(dir.join("client-identity.pem"), identity).unwrap();
}

/// A client certificate `<name>.pem`/`<name>.key` for `cn`, signed by `make_pki`'s CA.
pub fn client_cert(dir: &Path, name: &str, cn: &str) {
    issue_cert(dir, name, cn, "extendedKeyUsage=clientAuth\n");
}

/// A P-256 key and a certificate with extensions `ext`, signed by `make_pki`'s CA.
pub fn issue_cert(dir: &Path, name: &str, cn: &str, ext: &str) {
    let (key, csr, pem, extfile) =
        (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
    let subj = format!("/CN={cn}");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
    openssl(dir, &a);
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ],
    );
}

/// Starts `node` with a TLS REST listener and a KMIP listener on loopback ports, the data in
/// `data_dir` (relative to the node's directory) and `client_certs` appended as the
/// `[[client_cert]]` table (make_pki's certificates must exist). Returns the KMIP address too.
pub fn spawn_kmip_server(node: &Node, config_name: &str, data_dir: &str, client_certs: &str) -> (Server, String) {
    let dir = node.dir.path();
    std::fs::write(
        dir.join(config_name),
        format!(
            "data_dir = \"{data_dir}\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
             client_ca = \"ca.pem\"\n[kmip]\nlisten = \"127.0.0.1:0\"\n{client_certs}"
        ),
    )
    .unwrap();
    let config = dir.join(config_name).display().to_string();
    let pass = node.passphrase_file().display().to_string();
    let server =
        Server::spawn(&["server", "--config", &config, "--unseal-passphrase-file", &pass], &dir.join(data_dir))
            .expect("the KMIP server starts");
    let kmip = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("keyward: KMIP listening on ").map(str::to_owned))
        .expect("the server prints its KMIP address");
    (server, kmip)
}
