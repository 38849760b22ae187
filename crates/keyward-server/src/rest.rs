//! The REST API: routes, JSON shapes, authentication and the audit of every call.
//!
//! Binary values travel as standard base64 in JSON. Handlers do no work of their own: they
//! decode, call the service on the blocking pool (the store fsyncs), and encode.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_crypto::Secret;
use keyward_seal::{Issued, NewSecret, ShareFile, StartupSecret};
use keyward_service::{
    Caller, CreateKey, ImportMaterial, KeyInfo, ListKeys, NewToken, Service, TokenInfo, UnsealInput,
};
use keyward_store::{AuditDurability, AuditEntry};
use keyward_types::{KeyState, KeyType, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorCode};

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub data_dir: std::path::PathBuf,
}

/// The caller a verified client certificate maps to, set per connection by the TLS listener.
#[derive(Clone, Debug)]
pub struct CertCaller(pub Option<Caller>);

type ApiResult = Result<Json<Value>, ApiError>;

/// `Json<T>` whose rejection is our error shape, naming what was wrong with the body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(match e {
                JsonRejection::MissingJsonContentType(_) => ApiError {
                    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    code: "invalid_json",
                    message: "send the body as JSON with Content-Type: application/json".into(),
                },
                other => {
                    ApiError::bad_request("invalid_json", format!("malformed request body: {}", other.body_text()))
                }
            }),
        }
    }
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Service) -> Result<T, keyward_service::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let svc = state.service.clone();
    tokio::task::spawn_blocking(move || f(&svc))
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("worker failed: {e}"),
        })?
        .map_err(ApiError::from)
}

/// Runs a service call on the async worker itself. Only for calls that never wait on the disk:
/// key use and reads, whose only IO is an indexed read on a cache miss (WAL readers never wait
/// for the writer). Handing them to the blocking pool cost more in thread wake-ups than the
/// work itself: encrypt ran at ~10,000/s that way and ~20,000/s inline (docs/performance.md).
/// The heaviest such call, an RSA-4096 private-key operation, holds a worker for a few ms.
fn inline<T>(state: &AppState, f: impl FnOnce(&Service) -> Result<T, keyward_service::Error>) -> Result<T, ApiError> {
    f(&state.service).map_err(ApiError::from)
}

fn b64(field: &'static str, s: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(s.trim()).map_err(|_| ApiError::bad_request("invalid_input", format!("{field} is not valid base64")))
}

fn opt_b64(field: &'static str, s: &Option<String>) -> Result<Vec<u8>, ApiError> {
    s.as_deref().map(|s| b64(field, s)).transpose().map(Option::unwrap_or_default)
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/sys/seal", post(seal))
        .route("/v1/sys/rekey", post(rekey))
        .route("/v1/keys", post(create_key).get(list_keys))
        .route("/v1/keys/import", post(import_key))
        .route("/v1/keys/{name}", get(show_key).delete(destroy_key_delete))
        .route("/v1/keys/{name}/rotate", post(rotate_key))
        .route("/v1/keys/{name}/enable", post(enable_key))
        .route("/v1/keys/{name}/disable", post(disable_key))
        .route("/v1/keys/{name}/state", post(set_state))
        .route("/v1/keys/{name}/destroy", post(destroy_key))
        .route("/v1/keys/{name}/encrypt", post(encrypt))
        .route("/v1/keys/{name}/decrypt", post(decrypt))
        .route("/v1/keys/{name}/sign", post(sign))
        .route("/v1/keys/{name}/verify", post(verify))
        .route("/v1/keys/{name}/hmac", post(hmac))
        .route("/v1/keys/{name}/hmac/verify", post(hmac_verify))
        .route("/v1/keys/{name}/datakey", post(datakey))
        .route("/v1/keys/{name}/export", post(export))
        .route("/v1/keys/{name}/public", get(public_key))
        .route("/v1/tokens", post(create_token).get(list_tokens))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/audit/verify", post(audit_verify))
        .route("/v1/sys/backup", post(backup))
        .route("/v1/org/servers", get(org_servers))
        .route("/v1/sys/restore", post(restore))
        .route("/v1/sys/doctor", get(doctor))
        .route("/v1/components", get(list_components))
        .route("/v1/components/{name}", post(add_component).delete(remove_component))
        .route("/v1/schedule", get(show_schedule).put(set_schedule))
        .route("/v1/pki/ca", post(pki_ca_rotate))
        .route("/v1/pki/ca/import", post(pki_ca_import))
        .route("/v1/pki/people", get(pki_people).post(pki_enroll))
        .route("/v1/pki/people/{email}", get(pki_person))
        .route("/v1/pki/people/{email}/renew", post(pki_renew))
        .route("/v1/pki/people/{email}/revoke", post(pki_revoke_person))
        .route("/v1/pki/certificates/{serial}/revoke", post(pki_revoke))
        .route("/v1/pki/officers", get(pki_officers).post(pki_officer_add))
        .route("/v1/pki/officers/{id}", delete(pki_officer_remove))
        .route("/v1/pki/policy", get(pki_policy).put(pki_policy_set))
        .route("/v1/pki/recoveries", get(pki_recoveries).post(pki_recovery_request))
        .route("/v1/pki/recoveries/{id}/approve", post(pki_recovery_approve))
        .route("/v1/pki/recoveries/{id}/download", post(pki_recovery_download));
    Router::new()
        .route("/v1/sys/health", get(health))
        .route("/v1/sys/status", get(status))
        .route("/v1/sys/unseal", post(unseal))
        .route("/metrics", get(metrics))
        .route("/v1/pki/ca", get(pki_ca))
        .route("/v1/pki/ca.pem", get(pki_ca_pem))
        .route("/v1/pki/crl", get(pki_crl))
        .route("/v1/pki/redeem", post(pki_redeem))
        .merge(api)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "no_such_route",
        message: format!("no API route {method} {}", uri.path()),
    }
}

fn is_public(method: &Method, path: &str) -> bool {
    // The CA certificates and CRLs are public by nature (reading them; rotating the CA is
    // not); redeeming authenticates with the one-time enrollment token in the body and audits
    // itself in the service.
    matches!(path, "/v1/sys/health" | "/v1/sys/status" | "/v1/sys/unseal" | "/metrics" | "/v1/pki/redeem")
        || (method == Method::GET && matches!(path, "/v1/pki/ca" | "/v1/pki/ca.pem" | "/v1/pki/crl"))
}

/// Operations that only read or use keys: audited without waiting for the fsync, so the
/// audit trail does not cap their throughput. Everything else waits.
fn is_read_only(method: &Method, path: &str) -> bool {
    method == Method::GET
        || ["/encrypt", "/decrypt", "/sign", "/verify", "/hmac", "/hmac/verify", "/datakey"]
            .iter()
            .any(|s| path.ends_with(s))
}

fn bearer(req: &Request) -> Option<String> {
    let h = req.headers();
    if let Some(v) = h.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    h.get("x-keyward-token").and_then(|v| v.to_str().ok()).map(|t| t.trim().to_owned())
}

/// Authenticates every non-public route, then audits the call with its outcome.
async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let target =
        path.strip_prefix("/v1/keys/").map(|r| r.split('/').next().unwrap_or("").to_owned()).unwrap_or_default();
    let public = is_public(&method, &path);
    let mut actor = "anonymous".to_owned();
    let response = if public {
        next.run(req).await
    } else {
        let token = bearer(&req);
        let cert = req.extensions().get::<CertCaller>().and_then(|c| c.0.clone());
        let caller = match (token, cert) {
            (Some(t), _) => inline(&state, |svc| svc.authenticate(&t)),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(ApiError::from(keyward_service::Error::Unauthenticated)),
        };
        match caller {
            Ok(c) => {
                actor = c.id.clone();
                req.extensions_mut().insert(c);
                next.run(req).await
            }
            Err(e) => e.into_response(),
        }
    };
    let status = response.status();
    metrics::counter!("keyward_http_requests_total", "route" => route.clone(), "status" => status.as_u16().to_string())
        .increment(1);
    metrics::histogram!("keyward_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    if public {
        // Health, status and metrics are polled constantly; unseal audits itself in the service.
        return response;
    }
    let outcome = match response.extensions().get::<ErrorCode>() {
        Some(ErrorCode(code)) => format!("{} {code}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    let durability = if is_read_only(&method, &path) { AuditDurability::Queue } else { AuditDurability::Wait };
    let entry = AuditEntry {
        at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        actor,
        action: format!("{method} {route}"),
        target,
        outcome,
        detail: String::new(),
    };
    let audited = match durability {
        AuditDurability::Queue => state.service.record(entry, durability).map_err(ApiError::from),
        AuditDurability::Wait => blocking(&state, move |svc| svc.record(entry, durability)).await,
    };
    match audited {
        Ok(()) => response,
        // A call whose audit record could not be written is not acknowledged as done.
        Err(e) => e.into_response(),
    }
}

fn caller(ext: &Option<Extension<Caller>>) -> Result<Caller, ApiError> {
    ext.as_ref().map(|Extension(c)| c.clone()).ok_or_else(|| keyward_service::Error::Unauthenticated.into())
}

type CallerExt = Option<Extension<Caller>>;

fn key_json(k: &KeyInfo) -> Value {
    let mut v = json!({
        "id": k.id,
        "name": k.name,
        "type": k.key_type.as_str(),
        "state": k.state.as_str(),
        "enabled": k.enabled,
        "exportable": k.exportable,
        "current_version": k.current_version,
        "created_at": k.created_at,
        "updated_at": k.updated_at,
        "activated_at": k.activated_at,
        "deactivated_at": k.deactivated_at,
        "destroyed_at": k.destroyed_at,
    });
    if !k.versions.is_empty() {
        v["versions"] = k
            .versions
            .iter()
            .map(|ver| json!({"version": ver.version, "created_at": ver.created_at, "destroyed": ver.destroyed}))
            .collect();
    }
    v
}

fn token_json(t: &TokenInfo) -> Value {
    json!({
        "id": t.id, "role": t.role.as_str(), "prefixes": t.prefixes, "name": t.name,
        "created_at": t.created_at, "expires_at": t.expires_at, "revoked_at": t.revoked_at,
    })
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let id = state.service.identity();
    Json(json!({
        "initialized": true,
        "sealed": state.service.is_sealed(),
        "version": keyward_service::VERSION,
        "organization": id.organization,
        "site": id.site,
        "server_name": id.server_name,
        "server_id": id.server_id,
        "incarnation": id.incarnation,
    }))
}

fn status_json(state: &AppState, s: &keyward_service::SealStatus) -> Value {
    let id = state.service.identity();
    json!({
        "initialized": true,
        "sealed": s.sealed,
        "secret_kind": s.kind,
        "threshold": s.threshold,
        "shares": s.shares,
        "progress": s.progress,
        "version": keyward_service::VERSION,
        "organization": id.organization,
        "site": id.site,
        "server_name": id.server_name,
        "server_id": id.server_id,
        "incarnation": id.incarnation,
    })
}

async fn status(State(state): State<AppState>) -> ApiResult {
    let s = blocking(&state, |svc| svc.seal_status()).await?;
    Ok(Json(status_json(&state, &s)))
}

async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("keyward_sealed").set(if state.service.is_sealed() { 1.0 } else { 0.0 });
    match &state.metrics {
        Some(h) => ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    passphrase: Option<String>,
    /// Base64 of the key file's bytes.
    key_file: Option<String>,
    /// The text of one share file (unseal) or of several (rekey).
    share: Option<String>,
    #[serde(default)]
    shares: Vec<String>,
}

impl SecretBody {
    fn given(&self) -> usize {
        [self.passphrase.is_some(), self.key_file.is_some(), self.share.is_some(), !self.shares.is_empty()]
            .iter()
            .filter(|b| **b)
            .count()
    }

    fn startup_secret(self) -> Result<StartupSecret, ApiError> {
        if self.given() != 1 {
            return Err(ApiError::bad_request("invalid_input", "give exactly one of passphrase, key_file, shares"));
        }
        if let Some(p) = self.passphrase {
            return Ok(StartupSecret::Passphrase(Secret::from_vec(p.into_bytes())));
        }
        if let Some(k) = self.key_file {
            return Ok(StartupSecret::KeyFile(Secret::from_vec(b64("key_file", &k)?)));
        }
        let texts: Vec<String> = self.share.into_iter().chain(self.shares).collect();
        let shares = texts
            .iter()
            .map(|t| ShareFile::parse(t).map_err(|e| ApiError::from(keyward_service::Error::from(e))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StartupSecret::Shares(shares))
    }
}

async fn unseal(State(state): State<AppState>, ApiJson(body): ApiJson<SecretBody>) -> ApiResult {
    if body.given() != 1 || !body.shares.is_empty() {
        return Err(ApiError::bad_request("invalid_input", "give exactly one of passphrase, key_file, share"));
    }
    let input = if let Some(p) = body.passphrase {
        UnsealInput::Passphrase(Secret::from_vec(p.into_bytes()))
    } else if let Some(k) = body.key_file {
        UnsealInput::KeyFile(Secret::from_vec(b64("key_file", &k)?))
    } else {
        UnsealInput::Share(Secret::from_vec(body.share.unwrap_or_default().into_bytes()))
    };
    let s = blocking(&state, move |svc| svc.unseal(input)).await?;
    Ok(Json(status_json(&state, &s)))
}

async fn seal(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    blocking(&state, move |svc| svc.seal(&c)).await?;
    Ok(Json(json!({"sealed": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSecretBody {
    kind: String,
    passphrase: Option<String>,
    threshold: Option<u8>,
    shares: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekeyBody {
    current: SecretBody,
    new: NewSecretBody,
}

async fn rekey(State(state): State<AppState>, c: CallerExt, ApiJson(body): ApiJson<RekeyBody>) -> ApiResult {
    let c = caller(&c)?;
    let current = body.current.startup_secret()?;
    let new = match body.new.kind.as_str() {
        "passphrase" => NewSecret::Passphrase(Secret::from_vec(
            body.new
                .passphrase
                .ok_or_else(|| ApiError::bad_request("invalid_input", "new.passphrase is missing"))?
                .into_bytes(),
        )),
        "key-file" => NewSecret::KeyFile,
        "shares" => NewSecret::Shares {
            threshold: body
                .new
                .threshold
                .ok_or_else(|| ApiError::bad_request("invalid_input", "new.threshold is missing"))?,
            shares: body.new.shares.ok_or_else(|| ApiError::bad_request("invalid_input", "new.shares is missing"))?,
        },
        other => {
            return Err(ApiError::bad_request(
                "invalid_input",
                format!("unknown secret kind {other:?}: use passphrase, key-file or shares"),
            ));
        }
    };
    let issued = blocking(&state, move |svc| svc.rekey(&c, current, new)).await?;
    let id = state.service.identity();
    Ok(Json(match issued {
        Issued::Nothing => json!({"kind": "passphrase"}),
        Issued::KeyFile(k) => json!({"kind": "key-file", "key_file": B64.encode(k.expose())}),
        Issued::Shares(files) => {
            let n = files.len();
            let texts: Vec<String> = files
                .iter()
                .map(|f| {
                    let header = share_header(&id, f.index(), f.threshold(), n);
                    String::from_utf8_lossy(f.to_text(&header).expose()).into_owned()
                })
                .collect();
            json!({"kind": "shares", "shares": texts})
        }
    }))
}

/// The comment block at the top of every share file.
pub fn share_header(id: &keyward_store::IdentityRow, index: u8, threshold: u8, shares: usize) -> String {
    format!(
        "Keyward unseal share {index} of {shares} ({threshold} needed to unseal)\nserver {} ({}) of {}/{}\nKeep this file secret and offline; give each share to a different custodian.",
        id.server_name, id.server_id, id.organization, id.site
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    name: String,
    #[serde(rename = "type")]
    key_type: String,
    #[serde(default)]
    exportable: bool,
    #[serde(default)]
    pre_active: bool,
}

fn parse_type(s: &str) -> Result<KeyType, ApiError> {
    s.parse().map_err(|e: keyward_types::Error| ApiError::bad_request("invalid_input", e.to_string()))
}

async fn create_key(
    State(state): State<AppState>,
    c: CallerExt,
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = caller(&c)?;
    let key_type = parse_type(&body.key_type)?;
    let req = CreateKey { name: body.name, key_type, exportable: body.exportable, pre_active: body.pre_active };
    let k = blocking(&state, move |svc| svc.key_create(&c, req)).await?;
    Ok((StatusCode::CREATED, Json(key_json(&k))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    prefix: Option<String>,
    #[serde(rename = "type")]
    key_type: Option<String>,
    state: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

async fn list_keys(
    State(state): State<AppState>,
    c: CallerExt,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let c = caller(&c)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_input", e.body_text()))?;
    let key_type = q.key_type.as_deref().map(parse_type).transpose()?;
    let key_state = q
        .state
        .as_deref()
        .map(|s| s.parse::<KeyState>().map_err(|e| ApiError::bad_request("invalid_input", e.to_string())))
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    let req = ListKeys { prefix: q.prefix, key_type, state: key_state, after: q.after, limit };
    let keys = inline(&state, |svc| svc.key_list(&c, req))?;
    let next = if keys.len() as u32 >= limit.clamp(1, 1000) { keys.last().map(|k| k.name.clone()) } else { None };
    Ok(Json(json!({"keys": keys.iter().map(key_json).collect::<Vec<_>>(), "next": next})))
}

async fn show_key(State(state): State<AppState>, c: CallerExt, Path(name): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let k = inline(&state, |svc| svc.key_show(&c, &name))?;
    Ok(Json(key_json(&k)))
}

async fn rotate_key(State(state): State<AppState>, c: CallerExt, Path(name): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let k = blocking(&state, move |svc| svc.key_rotate(&c, &name)).await?;
    Ok(Json(key_json(&k)))
}

async fn enable_key(State(state): State<AppState>, c: CallerExt, Path(name): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let k = blocking(&state, move |svc| svc.key_set_enabled(&c, &name, true)).await?;
    Ok(Json(key_json(&k)))
}

async fn disable_key(State(state): State<AppState>, c: CallerExt, Path(name): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let k = blocking(&state, move |svc| svc.key_set_enabled(&c, &name, false)).await?;
    Ok(Json(key_json(&k)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: String,
}

async fn set_state(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<StateBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let to: KeyState =
        body.state.parse().map_err(|e: keyward_types::Error| ApiError::bad_request("invalid_input", e.to_string()))?;
    let k = blocking(&state, move |svc| svc.key_set_state(&c, &name, to)).await?;
    Ok(Json(key_json(&k)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DestroyBody {
    #[serde(default)]
    force: bool,
}

async fn destroy_key(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<DestroyBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let k = blocking(&state, move |svc| svc.key_destroy(&c, &name, body.force)).await?;
    Ok(Json(key_json(&k)))
}

async fn destroy_key_delete(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    Query(q): Query<DestroyBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let k = blocking(&state, move |svc| svc.key_destroy(&c, &name, q.force)).await?;
    Ok(Json(key_json(&k)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptBody {
    plaintext: String,
    aad: Option<String>,
}

async fn encrypt(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<EncryptBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let pt = Secret::from_vec(b64("plaintext", &body.plaintext)?);
    let aad = opt_b64("aad", &body.aad)?;
    let ct = inline(&state, |svc| svc.encrypt(&c, &name, pt.expose(), &aad))?;
    Ok(Json(json!({"ciphertext": ct})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecryptBody {
    ciphertext: String,
    aad: Option<String>,
}

async fn decrypt(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<DecryptBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let aad = opt_b64("aad", &body.aad)?;
    let pt = inline(&state, |svc| svc.decrypt(&c, &name, &body.ciphertext, &aad))?;
    Ok(Json(json!({"plaintext": B64.encode(pt.expose())})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    message: String,
    algorithm: Option<String>,
}

async fn sign(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SignBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let msg = b64("message", &body.message)?;
    let sig = inline(&state, |svc| svc.sign(&c, &name, &msg, body.algorithm.as_deref()))?;
    Ok(Json(json!({"signature": sig})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    message: String,
    signature: String,
}

async fn verify(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let msg = b64("message", &body.message)?;
    let valid = inline(&state, |svc| svc.verify(&c, &name, &msg, &body.signature))?;
    Ok(Json(json!({"valid": valid})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HmacBody {
    message: String,
}

async fn hmac(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<HmacBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let msg = b64("message", &body.message)?;
    let mac = inline(&state, |svc| svc.hmac(&c, &name, &msg))?;
    Ok(Json(json!({"hmac": mac})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HmacVerifyBody {
    message: String,
    hmac: String,
}

async fn hmac_verify(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<HmacVerifyBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let msg = b64("message", &body.message)?;
    let valid = inline(&state, |svc| svc.hmac_verify(&c, &name, &msg, &body.hmac))?;
    Ok(Json(json!({"valid": valid})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DatakeyBody {
    bits: Option<u32>,
    aad: Option<String>,
}

async fn datakey(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<DatakeyBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let aad = opt_b64("aad", &body.aad)?;
    let bits = body.bits.unwrap_or(256);
    let (pt, ct) = inline(&state, |svc| svc.datakey(&c, &name, bits, &aad))?;
    Ok(Json(json!({"plaintext": B64.encode(pt.expose()), "ciphertext": ct})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    wrapping_key: Option<String>,
    #[serde(default)]
    plaintext: bool,
}

async fn export(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ExportBody>,
) -> ApiResult {
    let c = caller(&c)?;
    if body.wrapping_key.is_none() && !body.plaintext {
        return Err(ApiError::bad_request(
            "invalid_input",
            "name a wrapping_key, or ask for \"plaintext\": true (administrators only)",
        ));
    }
    let e = blocking(&state, move |svc| svc.export(&c, &name, body.wrapping_key.as_deref())).await?;
    let mut v = json!({"key": key_json(&e.key), "version": e.version, "format": e.format});
    if let Some(p) = &e.plaintext {
        v["material"] = json!(B64.encode(p.expose()));
    }
    if let (Some(w), Some((wk, wv))) = (&e.wrapped, &e.wrapping_key) {
        v["wrapped"] = json!(B64.encode(w));
        v["wrapping_key"] = json!(wk);
        v["wrapping_version"] = json!(wv);
        v["wrapping_algorithm"] = json!("aes-kwp");
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    name: String,
    #[serde(rename = "type")]
    key_type: String,
    material: Option<String>,
    wrapped: Option<String>,
    wrapping_key: Option<String>,
    #[serde(default)]
    exportable: bool,
}

async fn import_key(
    State(state): State<AppState>,
    c: CallerExt,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = caller(&c)?;
    let key_type = parse_type(&body.key_type)?;
    let material = match (body.material, body.wrapped, body.wrapping_key) {
        (Some(m), None, None) => ImportMaterial::Plain(Secret::from_vec(b64("material", &m)?)),
        (None, Some(w), Some(k)) => ImportMaterial::Wrapped { wrapping_key: k, wrapped: b64("wrapped", &w)? },
        _ => {
            return Err(ApiError::bad_request(
                "invalid_input",
                "give either material, or wrapped together with wrapping_key",
            ));
        }
    };
    let k = blocking(&state, move |svc| svc.import(&c, &body.name, key_type, material, body.exportable)).await?;
    Ok((StatusCode::CREATED, Json(key_json(&k))))
}

async fn public_key(State(state): State<AppState>, c: CallerExt, Path(name): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let (k, der) = inline(&state, |svc| svc.public_key(&c, &name))?;
    let b64 = B64.encode(&der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    Ok(Json(json!({"key": key_json(&k), "public_key_der": b64, "public_key_pem": pem})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    role: String,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    name: String,
    ttl_seconds: Option<u64>,
}

async fn create_token(
    State(state): State<AppState>,
    c: CallerExt,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = caller(&c)?;
    let role: Role =
        body.role.parse().map_err(|e: keyward_types::Error| ApiError::bad_request("invalid_input", e.to_string()))?;
    let new = NewToken { role, prefixes: body.prefixes, name: body.name, ttl_secs: body.ttl_seconds };
    let (token, info) = blocking(&state, move |svc| svc.token_create(&c, new)).await?;
    let mut v = token_json(&info);
    v["token"] = json!(String::from_utf8_lossy(token.expose()));
    Ok((StatusCode::CREATED, Json(v)))
}

async fn list_tokens(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let tokens = blocking(&state, move |svc| svc.token_list(&c)).await?;
    Ok(Json(json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()})))
}

async fn revoke_token(State(state): State<AppState>, c: CallerExt, Path(id): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let t = blocking(&state, move |svc| svc.token_revoke(&c, &id)).await?;
    Ok(Json(token_json(&t)))
}

async fn audit_verify(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let r = blocking(&state, move |svc| svc.audit_verify(&c)).await?;
    Ok(Json(
        json!({"records": r.records, "intact": r.first_broken.is_none(), "first_broken": r.first_broken, "problem": r.problem}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BackupBody {
    components: Option<Vec<String>>,
}

/// Feeds what the archive writer produces, on a blocking thread, into the response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// `POST /v1/sys/backup`: streams an online backup (archive format v1) of one consistent
/// snapshot. A failure midway ends the stream early, so the client never gets a complete-looking
/// archive.
async fn backup(
    State(state): State<AppState>,
    c: CallerExt,
    ApiJson(body): ApiJson<BackupBody>,
) -> Result<Response, ApiError> {
    let c = caller(&c)?;
    let components = body
        .components
        .map(|cs| {
            cs.iter()
                .map(|s| s.parse::<keyward_types::Component>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::bad_request("invalid_input", e.to_string()))
        })
        .transpose()?;
    inline(&state, |svc| svc.backup_precheck(&c))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(8);
    let svc = state.service.clone();
    tokio::task::spawn_blocking(move || {
        // The archive writer flushes its output when it finishes.
        let writer = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(256 * 1024) };
        if let Err(e) = svc.backup_online(&c, writer, components) {
            tracing::warn!(error = %e, "online backup failed");
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/vnd.keyward.backup")
        .body(axum::body::Body::from_stream(stream))
        .map_err(|e| ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal", message: e.to_string() })
}

async fn org_servers(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let servers = inline(&state, |svc| svc.org_servers(&c))?;
    let rows: Vec<Value> = servers
        .iter()
        .map(|s| {
            json!({
                "server_id": s.server_id, "organization": s.organization, "site": s.site,
                "server_name": s.server_name, "status": s.status, "registered_at": s.registered_at,
                "retired_at": s.retired_at, "replaced_by": s.replaced_by,
            })
        })
        .collect();
    Ok(Json(json!({"servers": rows})))
}

/// The JSON shape of a restore report, shared by the API and the CLI's offline restore.
pub fn restore_report_json(r: &keyward_service::backup::RestoreReport) -> Value {
    json!({
        "dry_run": r.dry_run,
        "server_id": r.server_id,
        "server_name": r.server_name,
        "incarnation": r.incarnation,
        "change_seq": r.change_seq,
        "restored": Value::Object(r.restored.iter().map(|(c, n)| (c.clone(), json!(n))).collect()),
        "keys_added": r.keys_added,
        "keys_removed": r.keys_removed,
        "keys_replaced": r.keys_replaced.len(),
        "conflicts": r.conflicts.iter().map(|c| json!({"object_id": c.object_id, "name": c.name, "resolution": c.resolution})).collect::<Vec<_>>(),
        "retired_server": r.retired_server,
        "pki_cancelled": r.pki_cancelled,
        "kept_old_store": r.kept_old_store,
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RestoreQuery {
    #[serde(default)]
    erase: bool,
    #[serde(default)]
    merge: bool,
    components: Option<String>,
    destination: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /v1/sys/restore`: the body is a backup archive. The node goes into maintenance while
/// it restores, then serves again (sealed if the backup's master key is not the one it holds).
async fn restore(
    State(state): State<AppState>,
    c: CallerExt,
    q: Result<Query<RestoreQuery>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Body,
) -> ApiResult {
    use futures_util::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    let c = caller(&c)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_input", e.body_text()))?;
    keyward_service::authz::authorize(&c, keyward_service::authz::Action::Restore).map_err(ApiError::from)?;
    let mode = match (q.erase, q.merge) {
        (true, true) => return Err(ApiError::bad_request("invalid_input", "choose erase or merge, not both")),
        (true, false) => keyward_service::backup::RestoreMode::Erase,
        (false, true) => keyward_service::backup::RestoreMode::Merge,
        // A running node is initialised: without erase or merge the restore would be refused.
        (false, false) => keyward_service::backup::RestoreMode::Fresh,
    };
    let components = q
        .components
        .as_deref()
        .map(|cs| {
            cs.split(',')
                .map(|s| s.trim().parse::<keyward_types::Component>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::bad_request("invalid_input", e.to_string()))
        })
        .transpose()?;
    let upload = state.data_dir.join(format!(".upload-{}.kwb", keyward_types::Id::new()));
    let io_err = |e: std::io::Error| ApiError {
        status: StatusCode::INSUFFICIENT_STORAGE,
        code: "upload_failed",
        message: format!("cannot store the uploaded backup: {e}"),
    };
    let written: Result<(), ApiError> = async {
        let mut file = tokio::fs::File::create(&upload).await.map_err(io_err)?;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::bad_request("upload_failed", format!("the upload broke off: {e}")))?;
            file.write_all(&chunk).await.map_err(io_err)?;
        }
        file.sync_all().await.map_err(io_err)
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&upload).await;
        return Err(e);
    }
    let opts = keyward_service::backup::RestoreOptions {
        mode,
        components,
        destination: q.destination,
        dry_run: q.dry_run,
        progress: Default::default(),
        keep_schema_versions: false,
    };
    let dir = keyward_store::DataDir::new(&state.data_dir);
    let path = upload.clone();
    let result = blocking(&state, move |svc| svc.restore_online(&c, &dir, &path, &opts)).await;
    let _ = tokio::fs::remove_file(&upload).await;
    let report = result?;
    let mut v = restore_report_json(&report);
    v["sealed"] = json!(state.service.is_sealed());
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
struct DoctorQuery {
    max_backup_age_days: Option<u64>,
    #[serde(default)]
    backup_dir: Vec<String>,
}

/// `GET /v1/sys/doctor` (admin): the doctor's checks on the running node, without repairs.
async fn doctor(State(state): State<AppState>, c: CallerExt, Query(q): Query<DoctorQuery>) -> ApiResult {
    let c = caller(&c)?;
    keyward_service::authz::authorize(&c, keyward_service::authz::Action::Doctor).map_err(ApiError::from)?;
    let dir = keyward_store::DataDir::new(&state.data_dir);
    let opts = keyward_service::doctor::DoctorOptions {
        fix: false,
        secret_paths: Vec::new(),
        backup_dirs: q.backup_dir.into_iter().map(std::path::PathBuf::from).collect(),
        max_backup_age: std::time::Duration::from_secs(q.max_backup_age_days.unwrap_or(7) * 86_400),
        tls_cert: None,
        previous_lock_text: None,
    };
    let findings = blocking(&state, move |_| keyward_service::doctor::examine(&dir, &opts)).await?;
    Ok(Json(doctor_report_json(&findings)))
}

/// The JSON shape of the doctor's findings, shared by the API and the CLI's offline doctor.
pub fn doctor_report_json(findings: &[keyward_service::doctor::Finding]) -> Value {
    use keyward_service::doctor::Severity;
    let errors = findings.iter().filter(|f| f.severity == Severity::Error && f.fixed.is_none()).count();
    json!({
        "healthy": errors == 0,
        "errors": errors,
        "findings": findings.iter().map(|f| json!({
            "check": f.check, "severity": f.severity.as_str(), "message": f.message, "fix": f.fix, "fixed": f.fixed,
        })).collect::<Vec<_>>(),
    })
}

fn component_json(c: &keyward_service::components::ComponentInfo) -> Value {
    json!({
        "name": c.name, "required": c.required, "installed": c.installed, "version": c.version,
        "binary_version": c.binary_version, "tables": c.tables, "missing_tables": c.missing_tables,
        "installed_at": c.installed_at, "upgraded_at": c.upgraded_at, "health": c.health(),
    })
}

async fn list_components(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let list = inline(&state, |svc| svc.component_list(&c))?;
    Ok(Json(json!({"components": list.iter().map(component_json).collect::<Vec<_>>()})))
}

async fn add_component(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let c = caller(&c)?;
    // The pki component comes with its CA, whose options the body may set.
    let ca = match body.iter().all(u8::is_ascii_whitespace) {
        true => None,
        false => Some(
            serde_json::from_slice::<CaBody>(&body)
                .map_err(|e| ApiError::bad_request("invalid_input", format!("the CA options are not valid JSON: {e}")))?
                .init(),
        ),
    };
    let info = blocking(&state, move |svc| svc.component_add(&c, &name, ca.as_ref())).await?;
    Ok(Json(component_json(&info)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

async fn remove_component(
    State(state): State<AppState>,
    c: CallerExt,
    Path(name): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> ApiResult {
    let c = caller(&c)?;
    let removed = name.clone();
    let backups = state.data_dir.join("backups");
    let backup = blocking(&state, move |svc| svc.component_remove(&c, &name, q.force, &backups)).await?;
    Ok(Json(json!({"removed": removed, "backup": backup.map(|b| b.display().to_string())})))
}

// ---- pki --------------------------------------------------------------------------------------

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CaBody {
    common_name: Option<String>,
    key_type: Option<String>,
    days: Option<u32>,
    cert_days: Option<u32>,
    crl_days: Option<u32>,
    #[serde(default)]
    intermediate: bool,
}

impl CaBody {
    fn init(self) -> keyward_service::pki::CaInit {
        let d = keyward_service::pki::CaInit::default();
        keyward_service::pki::CaInit {
            common_name: self.common_name,
            key_type: self.key_type.unwrap_or(d.key_type),
            days: self.days.unwrap_or(d.days),
            cert_days: self.cert_days.unwrap_or(d.cert_days),
            crl_days: self.crl_days.unwrap_or(d.crl_days),
            intermediate: self.intermediate,
        }
    }
}

async fn pki_ca(State(state): State<AppState>) -> ApiResult {
    let cas = blocking(&state, |svc| svc.pki_cas()).await?;
    Ok(Json(json!({"cas": to_json(&cas)})))
}

async fn pki_ca_pem(State(state): State<AppState>) -> Result<Response, ApiError> {
    let pem = blocking(&state, |svc| svc.pki_ca_bundle()).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/pem-certificate-chain")], pem).into_response())
}

/// Adds a CA generation (the first CA comes with `POST /v1/components/pki`).
async fn pki_ca_rotate(State(state): State<AppState>, c: CallerExt, ApiJson(b): ApiJson<CaBody>) -> ApiResult {
    let c = caller(&c)?;
    let info = blocking(&state, move |svc| svc.pki_ca_rotate(&c, &b.init())).await?;
    Ok(Json(to_json(&info)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaImportBody {
    certificate: String,
    chain: String,
}

async fn pki_ca_import(State(state): State<AppState>, c: CallerExt, ApiJson(b): ApiJson<CaImportBody>) -> ApiResult {
    let c = caller(&c)?;
    let info = blocking(&state, move |svc| svc.pki_ca_import(&c, &b.certificate, &b.chain)).await?;
    Ok(Json(to_json(&info)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CrlQuery {
    format: Option<String>,
    generation: Option<u32>,
}

async fn pki_crl(State(state): State<AppState>, Query(q): Query<CrlQuery>) -> Result<Response, ApiError> {
    let der = blocking(&state, move |svc| svc.pki_crl(q.generation)).await?;
    Ok(match q.format.as_deref() {
        Some("pem") => {
            ([(axum::http::header::CONTENT_TYPE, "application/x-pem-file")], keyward_pki::pem("X509 CRL", &der))
                .into_response()
        }
        None | Some("der") => ([(axum::http::header::CONTENT_TYPE, "application/pkix-crl")], der).into_response(),
        Some(other) => {
            return Err(ApiError::bad_request("invalid_input", format!("format {other:?}: use der or pem")));
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollBody {
    email: String,
    name: String,
    ttl_secs: Option<u64>,
}

fn enrollment_json(e: &keyward_service::pki::Enrollment) -> Value {
    json!({
        "token": String::from_utf8_lossy(e.token.expose()),
        "id": e.id,
        "email": e.email,
        "expires_at": e.expires_at,
    })
}

const ENROLL_TTL: u64 = 7 * 24 * 3600;

async fn pki_enroll(State(state): State<AppState>, c: CallerExt, ApiJson(b): ApiJson<EnrollBody>) -> ApiResult {
    let c = caller(&c)?;
    let e =
        blocking(&state, move |svc| svc.pki_enroll(&c, &b.email, &b.name, b.ttl_secs.unwrap_or(ENROLL_TTL))).await?;
    Ok(Json(enrollment_json(&e)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    ttl_secs: Option<u64>,
}

async fn pki_renew(
    State(state): State<AppState>,
    c: CallerExt,
    Path(email): Path<String>,
    ApiJson(b): ApiJson<RenewBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let e = blocking(&state, move |svc| svc.pki_renew(&c, &email, b.ttl_secs.unwrap_or(ENROLL_TTL))).await?;
    Ok(Json(enrollment_json(&e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    token: String,
    /// The person's PKCS#10 request for their signing key, PEM.
    csr: String,
    /// Protects the returned PKCS#12.
    password: String,
}

async fn pki_redeem(State(state): State<AppState>, ApiJson(b): ApiJson<RedeemBody>) -> ApiResult {
    let password = zeroize::Zeroizing::new(b.password);
    let r = blocking(&state, move |svc| svc.pki_redeem(&b.token, b.csr.as_bytes(), &password)).await?;
    Ok(Json(json!({
        "email": r.email,
        "pkcs12": B64.encode(&*r.pkcs12),
        "encryption_certificate": r.encryption_certificate,
        "signing_certificate": r.signing_certificate,
        "chain": r.chain,
        "encryption_serial": r.encryption_serial,
        "signing_serial": r.signing_serial,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PeopleQuery {
    q: Option<String>,
}

async fn pki_people(State(state): State<AppState>, c: CallerExt, Query(q): Query<PeopleQuery>) -> ApiResult {
    let c = caller(&c)?;
    let people = blocking(&state, move |svc| svc.pki_people(&c, q.q.as_deref())).await?;
    Ok(Json(json!({"people": to_json(&people)})))
}

async fn pki_person(State(state): State<AppState>, c: CallerExt, Path(email): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let p = blocking(&state, move |svc| svc.pki_person(&c, &email)).await?;
    Ok(Json(to_json(&p)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

async fn pki_revoke(
    State(state): State<AppState>,
    c: CallerExt,
    Path(serial): Path<String>,
    ApiJson(b): ApiJson<RevokeBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let v = blocking(&state, move |svc| svc.pki_revoke(&c, &serial, &b.reason)).await?;
    Ok(Json(to_json(&v)))
}

async fn pki_revoke_person(
    State(state): State<AppState>,
    c: CallerExt,
    Path(email): Path<String>,
    ApiJson(b): ApiJson<RevokeBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let v = blocking(&state, move |svc| svc.pki_revoke_person(&c, &email, &b.reason)).await?;
    Ok(Json(json!({"revoked": to_json(&v)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficerBody {
    name: String,
}

async fn pki_officer_add(State(state): State<AppState>, c: CallerExt, ApiJson(b): ApiJson<OfficerBody>) -> ApiResult {
    let c = caller(&c)?;
    let (token, o) = blocking(&state, move |svc| svc.pki_officer_add(&c, &b.name)).await?;
    let mut v = to_json(&o);
    v["token"] = json!(String::from_utf8_lossy(token.expose()));
    Ok(Json(v))
}

async fn pki_officer_remove(State(state): State<AppState>, c: CallerExt, Path(id): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let o = blocking(&state, move |svc| svc.pki_officer_remove(&c, &id)).await?;
    Ok(Json(to_json(&o)))
}

async fn pki_officers(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let o = blocking(&state, move |svc| svc.pki_officers(&c)).await?;
    Ok(Json(json!({"officers": to_json(&o)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    threshold: u32,
    request_ttl_secs: Option<u64>,
}

async fn pki_policy_set(State(state): State<AppState>, c: CallerExt, ApiJson(b): ApiJson<PolicyBody>) -> ApiResult {
    let c = caller(&c)?;
    let p = blocking(&state, move |svc| svc.pki_policy_set(&c, b.threshold, b.request_ttl_secs.unwrap_or(24 * 3600)))
        .await?;
    Ok(Json(to_json(&p)))
}

async fn pki_policy(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let p = blocking(&state, move |svc| svc.pki_policy(&c)).await?;
    Ok(Json(json!({"policy": to_json(&p)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoveryBody {
    email: String,
    reason: String,
}

async fn pki_recovery_request(
    State(state): State<AppState>,
    c: CallerExt,
    ApiJson(b): ApiJson<RecoveryBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let r = blocking(&state, move |svc| svc.pki_recovery_request(&c, &b.email, &b.reason)).await?;
    Ok(Json(to_json(&r)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RecoveriesQuery {
    email: Option<String>,
}

async fn pki_recoveries(State(state): State<AppState>, c: CallerExt, Query(q): Query<RecoveriesQuery>) -> ApiResult {
    let c = caller(&c)?;
    let r = blocking(&state, move |svc| svc.pki_recoveries(&c, q.email.as_deref())).await?;
    Ok(Json(json!({"recoveries": to_json(&r)})))
}

async fn pki_recovery_approve(State(state): State<AppState>, c: CallerExt, Path(id): Path<String>) -> ApiResult {
    let c = caller(&c)?;
    let r = blocking(&state, move |svc| svc.pki_recovery_approve(&c, &id)).await?;
    Ok(Json(to_json(&r)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadBody {
    password: String,
}

async fn pki_recovery_download(
    State(state): State<AppState>,
    c: CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DownloadBody>,
) -> ApiResult {
    let c = caller(&c)?;
    let password = zeroize::Zeroizing::new(b.password);
    let p12 = blocking(&state, move |svc| svc.pki_recovery_download(&c, &id, &password)).await?;
    Ok(Json(json!({"pkcs12": B64.encode(&*p12)})))
}

fn schedule_json(s: &Option<keyward_store::ScheduleRow>, runs: &[keyward_store::BackupRunRow]) -> Value {
    json!({
        "schedule": s.as_ref().map(|s| json!({"every_secs": s.every_secs, "directory": s.directory, "keep": s.keep, "updated_at": s.updated_at})),
        "runs": runs.iter().map(|r| json!({
            "id": r.id, "started_at": r.started_at, "finished_at": r.finished_at, "file": r.file,
            "bytes": r.bytes, "change_seq": r.change_seq, "outcome": r.outcome,
        })).collect::<Vec<_>>(),
    })
}

async fn show_schedule(State(state): State<AppState>, c: CallerExt) -> ApiResult {
    let c = caller(&c)?;
    let (s, runs) = inline(&state, |svc| svc.schedule_show(&c))?;
    Ok(Json(schedule_json(&s, &runs)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    every_secs: u64,
    directory: String,
    keep: u32,
}

async fn set_schedule(State(state): State<AppState>, c: CallerExt, ApiJson(body): ApiJson<ScheduleBody>) -> ApiResult {
    let c = caller(&c)?;
    let s = blocking(&state, move |svc| {
        svc.schedule_set(&c, body.every_secs, std::path::Path::new(&body.directory), body.keep)
    })
    .await?;
    Ok(Json(schedule_json(&Some(s), &[])))
}
