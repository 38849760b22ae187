//! `keyward.toml`: the production server's settings.
//!
//! ```toml
//! data_dir = "/var/lib/keyward"
//! listen = "0.0.0.0:7700"
//!
//! [tls]
//! cert = "/etc/keyward/server.pem"      # certificate chain, PEM
//! key = "/etc/keyward/server-key.pem"   # private key, PEM (PKCS#8, PKCS#1 or SEC1)
//! client_ca = "/etc/keyward/clients.pem" # optional: accept client certificates from this CA
//!
//! [kmip]                                # optional: the KMIP listener (needs [tls] client_ca)
//! listen = "0.0.0.0:5696"
//!
//! [[client_cert]]                       # optional: a client certificate that acts as a caller
//! subject_cn = "orders-service"         # match on the subject common name...
//! # sha256 = "ab12..."                  # ...or on the certificate's SHA-256 fingerprint
//! role = "app"
//! prefixes = ["orders."]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: PathBuf,
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub client_cert: Vec<ClientCertRole>,
    /// The KMIP listener (TTLV over TLS, client certificates required).
    pub kmip: Option<KmipConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmipConfig {
    #[serde(default = "default_kmip_listen")]
    pub listen: SocketAddr,
}

fn default_kmip_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 5696))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 7700))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// Maps a client certificate to a role, as a token would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertRole {
    pub subject_cn: Option<String>,
    pub sha256: Option<String>,
    pub role: String,
    #[serde(default)]
    pub prefixes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid Keyward config: {message}")]
    Parse { path: String, message: String },
}

impl FileConfig {
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut config: FileConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })?;
        // Relative paths are relative to the config file, not to wherever the server starts.
        let base = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let rel = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        rel(&mut config.data_dir);
        if let Some(tls) = &mut config.tls {
            rel(&mut tls.cert);
            rel(&mut tls.key);
            if let Some(ca) = &mut tls.client_ca {
                rel(ca);
            }
        }
        for c in &config.client_cert {
            if c.subject_cn.is_none() && c.sha256.is_none() {
                return Err(ConfigError::Parse {
                    path: path.display().to_string(),
                    message: "each [[client_cert]] needs subject_cn or sha256".into(),
                });
            }
            if c.role.parse::<keyward_types::Role>().is_err() {
                return Err(ConfigError::Parse {
                    path: path.display().to_string(),
                    message: format!("unknown role {:?} in [[client_cert]]", c.role),
                });
            }
        }
        Ok(config)
    }
}
