//! A typed client for Keyward's REST API, used by the CLI, the benchmark and the tests.
//!
//! Errors keep the server's code and message, so the CLI can show operators exactly what the
//! server said.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot reach the Keyward server at {addr}: {message}. Is it running? (set KEYWARD_ADDR or --addr)")]
    Connect { addr: String, message: String },
    #[error("{message}")]
    Api { status: u16, code: String, message: String },
    #[error("the server's answer was not valid JSON: {0}")]
    Decode(String),
    #[error("cannot read {path}: {message}")]
    Config { path: String, message: String },
}

impl Error {
    /// The server's error code, e.g. `sealed`, `no_such_key`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and how to reach a server.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub addr: String,
    pub token: Option<String>,
    /// PEM file of the CA that issued the server's certificate (only it is trusted).
    pub cacert: Option<std::path::PathBuf>,
    /// PEM file holding a client certificate and its private key.
    pub client_identity: Option<std::path::PathBuf>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })
}

impl Client {
    pub fn new(settings: &Settings) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .no_proxy();
        if let Some(ca) = &settings.cacert {
            let pem = read(ca)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Config { path: ca.display().to_string(), message: e.to_string() })?;
            builder = builder.tls_certs_only(certs);
        }
        if let Some(id) = &settings.client_identity {
            let pem = read(id)?;
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| Error::Config { path: id.display().to_string(), message: e.to_string() })?;
            builder = builder.identity(identity);
        }
        let http =
            builder.build().map_err(|e| Error::Config { path: "TLS settings".into(), message: e.to_string() })?;
        Ok(Client { http, base: settings.addr.trim_end_matches('/').to_owned(), token: settings.token.clone() })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.map_err(|e| Error::Connect { addr: self.base.clone(), message: root_cause(&e) })?;
        let status = resp.status();
        let bytes =
            resp.bytes().await.map_err(|e| Error::Connect { addr: self.base.clone(), message: root_cause(&e) })?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|_| Error::Decode(String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()))?
        };
        if status.is_success() {
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("error").to_owned();
        let message = body["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}"));
        Err(Error::Api { status: status.as_u16(), code, message })
    }

    /// GETs a non-JSON body (a CRL, a PEM bundle); errors are still the server's JSON errors.
    pub async fn get_raw(&self, path: &str) -> Result<Vec<u8>> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| Error::Connect { addr: self.base.clone(), message: root_cause(&e) })?;
        let status = resp.status();
        let bytes =
            resp.bytes().await.map_err(|e| Error::Connect { addr: self.base.clone(), message: root_cause(&e) })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("error").to_owned();
        let message = body["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}"));
        Err(Error::Api { status: status.as_u16(), code, message })
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// POSTs raw bytes (an archive upload) and returns the JSON answer.
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> Result<Value> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/vnd.keyward.backup")
                .body(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base))).await
    }

    /// POSTs `body` and writes the response body to `out` as it arrives; returns the byte
    /// count. A stream cut short by the server surfaces as an error, never as a short success.
    pub async fn download(
        &self,
        path: &str,
        body: &Value,
        out: &mut impl std::io::Write,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<u64> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let mut resp =
            req.send().await.map_err(|e| Error::Connect { addr: self.base.clone(), message: root_cause(&e) })?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            return Err(Error::Api {
                status,
                code: v["error"]["code"].as_str().unwrap_or("error").to_owned(),
                message: v["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}")),
            });
        }
        let mut total = 0u64;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    out.write_all(&chunk)
                        .map_err(|e| Error::Config { path: "the output file".into(), message: e.to_string() })?;
                    total += chunk.len() as u64;
                    on_bytes(chunk.len() as u64);
                }
                Ok(None) => return Ok(total),
                Err(e) => {
                    return Err(Error::Api {
                        status: 500,
                        code: "stream_failed".into(),
                        message: format!("the server stopped sending midway: {}", root_cause(&e)),
                    });
                }
            }
        }
    }

    /// `path` segment for a key name; names are restricted to URL-safe characters, but a user
    /// may still type anything, so encode what is not.
    pub fn key_path(name: &str, suffix: &str) -> String {
        let mut out = String::from("/v1/keys/");
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out.push_str(suffix);
        out
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
