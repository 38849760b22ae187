//! The one place service errors become HTTP statuses. The match is exhaustive over what the
//! service can say, so a new error kind does not compile until it has a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyward_service::Error;

/// An error as the REST API answers it: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// Stored in the response's extensions so the audit layer can record why a call failed.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let mut resp = (self.status, Json(body)).into_response();
        resp.extensions_mut().insert(ErrorCode(self.code));
        // The service's message ends "retry in N s"; the header lets HTTP clients back off.
        if self.code == "throttled"
            && let Some(secs) = self.message.split_whitespace().rev().nth(1).and_then(|s| s.parse::<u64>().ok())
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let (status, code) = match &e {
            Error::Sealed => (S::SERVICE_UNAVAILABLE, "sealed"),
            Error::Maintenance => (S::SERVICE_UNAVAILABLE, "maintenance"),
            Error::NotInitialized => (S::SERVICE_UNAVAILABLE, "not_initialized"),
            Error::AlreadyInitialized { .. } => (S::CONFLICT, "already_initialized"),
            Error::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated"),
            Error::Forbidden { .. } => (S::FORBIDDEN, "forbidden"),
            Error::NoSuchKey { .. } => (S::NOT_FOUND, "no_such_key"),
            Error::NoSuchObject { .. } => (S::NOT_FOUND, "no_such_object"),
            Error::NoSuchToken { .. } => (S::NOT_FOUND, "no_such_token"),
            Error::NoSuchVersion { .. } => (S::NOT_FOUND, "no_such_version"),
            Error::Invalid { .. } => (S::BAD_REQUEST, "invalid_input"),
            Error::NameTaken { .. } => (S::CONFLICT, "name_taken"),
            Error::KeyDisabled { .. } => (S::CONFLICT, "key_disabled"),
            Error::KeyState { .. } => (S::CONFLICT, "key_state"),
            Error::ActiveKey { .. } => (S::CONFLICT, "key_active"),
            Error::WrongKeyType { .. } => (S::BAD_REQUEST, "wrong_key_type"),
            Error::ForeignCiphertext { .. } => (S::BAD_REQUEST, "foreign_ciphertext"),
            Error::DecryptFailed => (S::BAD_REQUEST, "decrypt_failed"),
            Error::NotExportable { .. } => (S::FORBIDDEN, "not_exportable"),
            Error::Throttled { .. } => (S::TOO_MANY_REQUESTS, "throttled"),
            Error::TargetInitialized { .. } => (S::CONFLICT, "target_initialized"),
            Error::PartialBackup { .. } | Error::MissingComponent { .. } => (S::BAD_REQUEST, "incomplete_backup"),
            Error::ForeignKeyring => (S::CONFLICT, "foreign_keyring"),
            Error::ForeignOrganization { .. } => (S::CONFLICT, "foreign_organization"),
            Error::Backup(_) => (S::BAD_REQUEST, "bad_backup"),
            Error::NotFound { .. } => (S::NOT_FOUND, "not_found"),
            Error::Refused { .. } => (S::CONFLICT, "refused"),
            Error::Pki(keyward_pki::Error::WeakKey(_)) => (S::BAD_REQUEST, "weak_key"),
            Error::Pki(keyward_pki::Error::BadCsr(_)) => (S::BAD_REQUEST, "bad_csr"),
            Error::Pki(keyward_pki::Error::BadCertificate(_)) => (S::BAD_REQUEST, "bad_certificate"),
            Error::Pki(_) => (S::INTERNAL_SERVER_ERROR, "pki_error"),
            Error::Seal(s) => seal_status(s),
            Error::Store(s) => store_status(s),
            Error::Crypto(c) => crypto_status(c),
            _ => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        // The whole cause chain: each error's own message names one layer of what went wrong.
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            let text = c.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = c.source();
        }
        if status == S::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %message, "internal error");
            message = format!("internal error: {message}");
        }
        ApiError { status, code, message }
    }
}

fn seal_status(e: &keyward_seal::Error) -> (StatusCode, &'static str) {
    use StatusCode as S;
    use keyward_seal::Error as E;
    match e {
        E::WrongSecret => (S::BAD_REQUEST, "wrong_secret"),
        E::WrongKind { .. } => (S::BAD_REQUEST, "wrong_secret_kind"),
        E::ForeignShare { .. } => (S::BAD_REQUEST, "foreign_share"),
        E::BadKeyFile { .. } | E::BadShare(_) => (S::BAD_REQUEST, "bad_secret"),
        E::TooFewShares { .. } => (S::BAD_REQUEST, "too_few_shares"),
        E::WeakPassphrase { .. } | E::BadShareLayout(_) => (S::BAD_REQUEST, "invalid_input"),
        _ => (S::INTERNAL_SERVER_ERROR, "seal_error"),
    }
}

fn store_status(e: &keyward_store::Error) -> (StatusCode, &'static str) {
    use StatusCode as S;
    use keyward_store::Error as E;
    match e {
        E::NameTaken { .. } => (S::CONFLICT, "name_taken"),
        E::Duplicate { .. } => (S::CONFLICT, "duplicate"),
        E::DiskFull => (S::INSUFFICIENT_STORAGE, "disk_full"),
        _ => (S::INTERNAL_SERVER_ERROR, "store_error"),
    }
}

fn crypto_status(e: &keyward_crypto::Error) -> (StatusCode, &'static str) {
    use StatusCode as S;
    use keyward_crypto::Error as E;
    match e {
        E::Decrypt => (S::BAD_REQUEST, "decrypt_failed"),
        E::BadSignature => (S::BAD_REQUEST, "bad_signature"),
        E::BadMaterial { .. } | E::Unsupported { .. } | E::TooLong { .. } | E::Parameter(_) => {
            (S::BAD_REQUEST, "invalid_input")
        }
        _ => (S::INTERNAL_SERVER_ERROR, "crypto_error"),
    }
}
