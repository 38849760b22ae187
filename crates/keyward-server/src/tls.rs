//! TLS for the REST listener (rustls with the aws-lc-rs provider) and the mapping of client
//! certificates to callers.

use std::sync::Arc;

use keyward_service::Caller;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::config::{ClientCertRole, TlsConfig};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read the certificate chain {path}: {message}")]
    Cert { path: String, message: String },
    #[error("cannot read the private key {path}: {message}")]
    Key { path: String, message: String },
    #[error("cannot read the client CA {path}: {message}")]
    ClientCa { path: String, message: String },
    #[error("the TLS configuration is invalid: {0}")]
    Config(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

pub fn server_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    build(tls, false)
}

/// The KMIP listener's TLS: a client certificate from `client_ca` is required (KMIP clients
/// authenticate by certificate).
pub fn kmip_server_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    if tls.client_ca.is_none() {
        return Err(TlsError::ClientCa {
            path: "(none)".into(),
            message: "KMIP needs [tls] client_ca: its clients authenticate with certificates".into(),
        });
    }
    build(tls, true)
}

fn build(tls: &TlsConfig, require_client_cert: bool) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let path = |p: &std::path::Path| p.display().to_string();
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert { path: path(&tls.cert), message: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::Cert { path: path(&tls.cert), message: "no PEM certificate found".into() });
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| TlsError::Key { path: path(&tls.key), message: e.to_string() })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TlsError::ClientCa { path: path(ca), message: e.to_string() })?;
            for c in cas {
                roots.add(c).map_err(|e| TlsError::ClientCa { path: path(ca), message: e.to_string() })?;
            }
            // For REST, client certificates are optional: callers without one still use tokens.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if require_client_cert { verifier } else { verifier.allow_unauthenticated() };
            let verifier =
                verifier.build().map_err(|e| TlsError::ClientCa { path: path(ca), message: e.to_string() })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key)?;
    if !require_client_cert {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    Ok(Arc::new(config))
}

/// The caller a verified client certificate stands for, if the config maps it.
pub fn caller_for_certificate(der: &[u8], roles: &[ClientCertRole]) -> Option<Caller> {
    let (fingerprint, cn) = fingerprint_and_cn(der);
    let hit = roles.iter().find(|r| {
        r.sha256.as_deref().is_some_and(|f| f.replace(':', "").eq_ignore_ascii_case(&fingerprint))
            || (r.subject_cn.is_some() && r.subject_cn == cn)
    })?;
    Some(Caller { id: label(&fingerprint, cn), role: hit.role.parse().ok()?, prefixes: hit.prefixes.clone() })
}

fn fingerprint_and_cn(der: &[u8]) -> (String, Option<String>) {
    let fingerprint: String = keyward_crypto::sha256(der).iter().map(|b| format!("{b:02x}")).collect();
    let cn = x509_parser::parse_x509_certificate(der).ok().and_then(|(_, cert)| {
        cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned)
    });
    (fingerprint, cn)
}

/// How the audit log names a client certificate: `cert:<CN>`, or `cert:<fingerprint prefix>`.
pub fn certificate_label(der: &[u8]) -> String {
    let (fingerprint, cn) = fingerprint_and_cn(der);
    label(&fingerprint, cn)
}

fn label(fingerprint: &str, cn: Option<String>) -> String {
    format!("cert:{}", cn.unwrap_or_else(|| fingerprint.chars().take(16).collect()))
}
