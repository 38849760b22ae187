//! The KMIP listener: TTLV over TLS with client certificates (KMIP 1.0 to 1.4 and 2.0).
//!
//! Each connection is one authenticated client: its certificate maps to a Keyward role through
//! the same `[[client_cert]]` table as REST. Messages are framed by their TTLV header, bounded
//! by [`Limits`], and decoded by `keyward-kmip`. A malformed message whose framing is intact gets
//! an "Invalid Message" response; one that cannot be framed closes the connection. Either way
//! the server goes on serving other clients.
//!
//! [`ops`] holds the operations, [`objects`] the managed-object structures and [`attrs`] the
//! attribute model. Every batch item is authorized by the service and audited like a REST call.

mod attrs;
mod objects;
mod ops;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keyward_kmip::enums::{ObjectType, Operation, QueryFunction, ResultReason, ResultStatus};
use keyward_kmip::{Item, Limits, Tag, decode, encode, message_length};
use keyward_service::{Caller, Service};
use keyward_store::{AuditDurability, AuditEntry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::ClientCertRole;

/// Protocol versions this server speaks, newest first.
const VERSIONS: &[(i32, i32)] = &[(2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)];
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(120);
/// Connections served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 512;
/// The most a response may hold; past it the rest of the batch answers Response Too Large.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why a batch item failed: a KMIP result reason and a message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmipError {
    pub reason: ResultReason,
    pub message: String,
}

impl KmipError {
    pub fn new(reason: ResultReason, message: impl Into<String>) -> Self {
        KmipError { reason, message: message.into() }
    }

    pub fn invalid_field(message: impl Into<String>) -> Self {
        KmipError::new(ResultReason::InvalidField, message)
    }

    pub fn read_only(name: &str) -> Self {
        KmipError::new(ResultReason::PermissionDenied, format!("{name} is set by the server and cannot be changed"))
    }

    pub fn internal(message: &str) -> Self {
        KmipError::new(ResultReason::GeneralFailure, message)
    }

    pub fn crypto(e: keyward_crypto::Error) -> Self {
        use keyward_crypto::Error as E;
        let reason = match &e {
            E::Decrypt | E::BadSignature => ResultReason::CryptographicFailure,
            E::Parameter(_) | E::TooLong { .. } | E::BadMaterial { .. } => ResultReason::InvalidField,
            E::Unsupported { .. } => ResultReason::FeatureNotSupported,
            _ => ResultReason::GeneralFailure,
        };
        KmipError::new(reason, e.to_string())
    }

    pub fn service(e: keyward_service::Error) -> Self {
        use keyward_service::Error as E;
        let reason = match &e {
            E::Forbidden { .. } | E::Unauthenticated | E::NotExportable { .. } => ResultReason::PermissionDenied,
            E::NoSuchObject { .. } | E::NoSuchKey { .. } | E::NoSuchVersion { .. } => ResultReason::ItemNotFound,
            E::Invalid { .. } => ResultReason::InvalidField,
            E::KeyState { .. } | E::ActiveKey { .. } | E::KeyDisabled { .. } => ResultReason::WrongKeyLifecycleState,
            E::NameTaken { .. } => ResultReason::ObjectAlreadyExists,
            E::WrongKeyType { .. } => ResultReason::IllegalOperation,
            E::DecryptFailed => ResultReason::CryptographicFailure,
            E::Crypto(c) => return KmipError::crypto(c.clone()),
            _ => ResultReason::GeneralFailure,
        };
        KmipError::new(reason, e.to_string())
    }

    /// The reason as the client's version knows it: 2.0's finer reasons become their 1.x kin.
    fn reason_for(&self, version: (i32, i32)) -> ResultReason {
        // The version that brought each reason after 1.0 (KMIP 1.1 to 1.4 and 2.0).
        let since = match self.reason.value() {
            0x12 => (1, 1),
            0x13..=0x15 => (1, 2),
            0x16..=0x18 => (1, 4),
            0x19..=0xFF => (2, 0),
            _ => (1, 0),
        };
        if version >= since {
            return self.reason;
        }
        match self.reason {
            ResultReason::WrongKeyLifecycleState
            | ResultReason::IncompatibleCryptographicUsageMask
            | ResultReason::Sensitive
            | ResultReason::NotExtractable => ResultReason::PermissionDenied,
            ResultReason::ObjectNotFound | ResultReason::ObjectDestroyed | ResultReason::KeyValueNotPresent => {
                ResultReason::ItemNotFound
            }
            ResultReason::InvalidAttribute
            | ResultReason::InvalidAttributeValue
            | ResultReason::EncodingOptionError => ResultReason::InvalidField,
            ResultReason::ObjectAlreadyExists => ResultReason::IllegalOperation,
            _ => ResultReason::GeneralFailure,
        }
    }
}

pub struct KmipBound {
    service: Arc<Service>,
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    roles: Arc<Vec<ClientCertRole>>,
    limits: Limits,
}

impl KmipBound {
    pub async fn bind(
        service: Arc<Service>,
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        roles: Vec<ClientCertRole>,
    ) -> Result<Self, crate::Error> {
        let listener = TcpListener::bind(addr).await.map_err(|source| crate::Error::Bind { addr, source })?;
        Ok(KmipBound {
            service,
            listener,
            acceptor: tokio_rustls::TlsAcceptor::from(tls),
            roles: Arc::new(roles),
            limits: Limits::default(),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        tokio::pin!(shutdown);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let slot = tokio::select! {
                _ = &mut shutdown => return,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(s) => s,
                    Err(_) => return,
                },
            };
            let (tcp, peer) = tokio::select! {
                _ = &mut shutdown => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            let acceptor = self.acceptor.clone();
            let roles = self.roles.clone();
            let limits = self.limits;
            let service = self.service.clone();
            tokio::spawn(async move {
                let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
                    tracing::debug!(%peer, "KMIP TLS handshake failed");
                    return;
                };
                let certificate = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
                let caller = certificate.and_then(|der| crate::tls::caller_for_certificate(der, &roles));
                // Who a refused request came from, for the audit log.
                let peer: Arc<str> = match (&caller, certificate) {
                    (Some(c), _) => c.id.as_str().into(),
                    (None, Some(der)) => format!("{} (unmapped)", crate::tls::certificate_label(der)).into(),
                    (None, None) => "no certificate".into(),
                };
                connection(service, tls, caller.map(Arc::new), peer, limits).await;
                drop(slot);
            });
        }
    }
}

async fn connection(
    service: Arc<Service>,
    mut stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    caller: Option<Arc<Caller>>,
    peer: Arc<str>,
    limits: Limits,
) {
    loop {
        let mut header = [0u8; keyward_kmip::HEADER_LEN];
        match tokio::time::timeout(IDLE, stream.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let total = match message_length(&header, &limits) {
            Ok(Some(n)) => n,
            // No response can be framed for a stream we cannot frame: close.
            _ => return,
        };
        // The buffer grows as bytes arrive: announcing a large message costs the server nothing.
        let mut message = header.to_vec();
        let body = total.saturating_sub(header.len()) as u64;
        match tokio::time::timeout(IDLE, (&mut stream).take(body).read_to_end(&mut message)).await {
            Ok(Ok(_)) if message.len() == total => {}
            _ => return,
        }
        let response = match decode(&message, &limits) {
            // Key use reads cached rows and parsed keys and queues its audit record, as REST's
            // key use does on the async workers; a hand-off per message to the blocking pool
            // cost more than the work (futex wake-ups, context switches). What writes goes there.
            Ok(request) if single_key_use(&request) => respond(&service, &request, caller.as_deref(), &peer),
            Ok(request) => {
                let (service, caller, peer) = (service.clone(), caller.clone(), peer.clone());
                match tokio::task::spawn_blocking(move || respond(&service, &request, caller.as_deref(), &peer)).await {
                    Ok(r) => r,
                    Err(_) => invalid_message("the server failed while answering"),
                }
            }
            Err(e) if e.framing_intact() => invalid_message(&e.to_string()),
            Err(_) => return,
        };
        if stream.write_all(&encode(&response)).await.is_err() {
            return;
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn version_item(major: i32, minor: i32) -> Item {
    Item::structure(
        Tag::PROTOCOL_VERSION,
        vec![Item::integer(Tag::PROTOCOL_VERSION_MAJOR, major), Item::integer(Tag::PROTOCOL_VERSION_MINOR, minor)],
    )
}

fn response(version: (i32, i32), items: Vec<Item>) -> Item {
    Item::structure(
        Tag::RESPONSE_MESSAGE,
        vec![Item::structure(
            Tag::RESPONSE_HEADER,
            vec![
                version_item(version.0, version.1),
                Item::date_time(Tag::TIME_STAMP, now()),
                Item::integer(Tag::BATCH_COUNT, items.len() as i32),
            ],
        )]
        .into_iter()
        .chain(items)
        .collect(),
    )
}

fn failure(operation: Option<u32>, id: Option<&Item>, reason: ResultReason, message: &str) -> Item {
    let mut children = Vec::new();
    if let Some(op) = operation {
        children.push(Item::enumeration(Tag::OPERATION, op));
    }
    if let Some(id) = id {
        children.push(id.clone());
    }
    children.push(Item::enumeration(Tag::RESULT_STATUS, ResultStatus::OperationFailed.value()));
    children.push(Item::enumeration(Tag::RESULT_REASON, reason.value()));
    children.push(Item::text(Tag::RESULT_MESSAGE, message));
    Item::structure(Tag::BATCH_ITEM, children)
}

fn invalid_message(why: &str) -> Item {
    response((1, 0), vec![failure(None, None, ResultReason::InvalidMessage, &format!("invalid message: {why}"))])
}

fn protocol_version(header: &Item) -> Option<(i32, i32)> {
    let v = header.child(Tag::PROTOCOL_VERSION)?;
    Some((v.child(Tag::PROTOCOL_VERSION_MAJOR)?.as_int()?, v.child(Tag::PROTOCOL_VERSION_MINOR)?.as_int()?))
}

/// Whether the message is one batch item of key use or a protocol query: cheap, answered inline.
/// Longer batches go to the blocking pool, so no client can hold an async worker for long.
fn single_key_use(request: &Item) -> bool {
    request.children(Tag::BATCH_ITEM).count() == 1
        && request.children(Tag::BATCH_ITEM).all(|b| {
            b.child(Tag::OPERATION).and_then(Item::as_kmip_enum::<Operation>).is_some_and(|op| {
                matches!(
                    op,
                    Operation::Encrypt
                        | Operation::Decrypt
                        | Operation::Sign
                        | Operation::SignatureVerify
                        | Operation::Mac
                        | Operation::MacVerify
                        | Operation::DiscoverVersions
                        | Operation::Query
                )
            })
        })
}

/// Operations that change nothing: their audit records may be queued.
fn read_only(op: Operation) -> bool {
    matches!(
        op,
        Operation::DiscoverVersions
            | Operation::Query
            | Operation::Locate
            | Operation::Get
            | Operation::GetAttributes
            | Operation::GetAttributeList
            | Operation::Encrypt
            | Operation::Decrypt
            | Operation::Sign
            | Operation::SignatureVerify
            | Operation::Mac
            | Operation::MacVerify
            | Operation::Check
            | Operation::GetUsageAllocation
            | Operation::RngRetrieve
            | Operation::Hash
    )
}

/// Answers one request message.
/// `peer` names the client in audit records when it has no role.
pub fn respond(service: &Service, request: &Item, caller: Option<&Caller>, peer: &str) -> Item {
    if request.tag != Tag::REQUEST_MESSAGE {
        return invalid_message("expected a Request Message");
    }
    let header = request.child(Tag::REQUEST_HEADER);
    let Some(version) = header.and_then(protocol_version) else {
        return invalid_message("the request header has no protocol version");
    };
    // Stop (the default) skips the rest of the batch after a failure; Continue goes on.
    let continue_on_error = header
        .and_then(|h| h.child(Tag::BATCH_ERROR_CONTINUATION_OPTION))
        .and_then(Item::as_enum)
        .is_some_and(|o| o == 1);
    let mut items = Vec::new();
    let mut placeholder = None;
    let mut stopped = false;
    let mut size = 0usize;
    for batch in request.children(Tag::BATCH_ITEM) {
        let id = batch.child(Tag::UNIQUE_BATCH_ITEM_ID);
        let operation = batch.child(Tag::OPERATION).and_then(Item::as_enum);
        let Some(op_value) = operation else {
            items.push(failure(None, id, ResultReason::InvalidMessage, "the batch item names no operation"));
            continue;
        };
        if stopped {
            items.push(failure(
                operation,
                id,
                ResultReason::OperationCanceledByRequester,
                "an earlier batch item failed",
            ));
            continue;
        }
        if size > MAX_RESPONSE_BYTES {
            items.push(failure(operation, id, ResultReason::ResponseTooLarge, "the response would exceed 1 MiB"));
            continue;
        }
        let known = Operation::from_value(op_value);
        let outcome = if known != Some(Operation::DiscoverVersions) && !VERSIONS.contains(&version) {
            Err(KmipError::new(
                ResultReason::InvalidMessage,
                format!(
                    "protocol version {}.{} is not supported; Discover Versions lists what is",
                    version.0, version.1
                ),
            ))
        } else if let Some(caller) = caller {
            let empty = Item::structure(Tag::REQUEST_PAYLOAD, vec![]);
            let payload = batch.child(Tag::REQUEST_PAYLOAD).unwrap_or(&empty);
            let mut ctx = ops::Ctx { service, caller, version, placeholder: placeholder.clone() };
            let outcome = match known {
                Some(Operation::DiscoverVersions) => Ok(discover_versions(payload)),
                Some(Operation::Query) => Ok(query(payload, version)),
                Some(op) => ops::dispatch(&mut ctx, op, payload).unwrap_or_else(|| {
                    Err(KmipError::new(
                        ResultReason::OperationNotSupported,
                        format!("operation {} is not supported", op.name()),
                    ))
                }),
                None => Err(KmipError::new(
                    ResultReason::OperationNotSupported,
                    format!("operation {op_value:#x} is not supported"),
                )),
            };
            placeholder = ctx.placeholder;
            audit(service, &caller.id, known, op_value, payload, &placeholder, &outcome);
            outcome
        } else {
            let refused = Err(KmipError::new(
                ResultReason::PermissionDenied,
                "the client certificate is not mapped to a Keyward role ([[client_cert]] in keyward.toml)",
            ));
            let empty = Item::structure(Tag::REQUEST_PAYLOAD, vec![]);
            let payload = batch.child(Tag::REQUEST_PAYLOAD).unwrap_or(&empty);
            audit(service, peer, known, op_value, payload, &None, &refused);
            refused
        };
        let item = match outcome {
            Ok(children) => {
                let mut out = vec![Item::enumeration(Tag::OPERATION, op_value)];
                if let Some(id) = id {
                    out.push(id.clone());
                }
                out.push(Item::enumeration(Tag::RESULT_STATUS, ResultStatus::Success.value()));
                out.push(Item::structure(Tag::RESPONSE_PAYLOAD, children));
                Item::structure(Tag::BATCH_ITEM, out)
            }
            Err(e) => {
                stopped = !continue_on_error;
                failure(operation, id, e.reason_for(version), &e.message)
            }
        };
        size = size.saturating_add(keyward_kmip::encoded_len(&item).unwrap_or(usize::MAX));
        if size > MAX_RESPONSE_BYTES {
            items.push(failure(operation, id, ResultReason::ResponseTooLarge, "the response would exceed 1 MiB"));
        } else {
            items.push(item);
        }
    }
    if items.is_empty() {
        return invalid_message("the request holds no batch item");
    }
    let answer_version = if VERSIONS.contains(&version) { version } else { (1, 0) };
    response(answer_version, items)
}

/// One audit record per batch item, as REST writes one per call.
fn audit(
    service: &Service,
    actor: &str,
    op: Option<Operation>,
    op_value: u32,
    payload: &Item,
    placeholder: &Option<String>,
    outcome: &Result<Vec<Item>, KmipError>,
) {
    let name = op.map(|o| o.name().to_owned()).unwrap_or_else(|| format!("{op_value:#x}"));
    // The object named, else (on success) the one made or used: a failed item is not pinned on
    // an earlier item's object.
    let target = payload
        .child(Tag::UNIQUE_IDENTIFIER)
        .and_then(Item::as_text)
        .map(str::to_owned)
        .or_else(|| outcome.as_ref().ok().and(placeholder.clone()))
        .unwrap_or_default();
    let entry = AuditEntry {
        at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        actor: actor.to_owned(),
        action: format!("KMIP {name}"),
        target,
        outcome: match outcome {
            Ok(_) => "ok".into(),
            Err(e) => e.reason.name().to_owned(),
        },
        detail: String::new(),
    };
    // Get hands material out: like REST's export, it is not answered before its record is written.
    let durability = if op.is_some_and(|o| read_only(o) && o != Operation::Get) {
        AuditDurability::Queue
    } else {
        AuditDurability::Wait
    };
    if let Err(e) = service.record(entry, durability) {
        tracing::error!(error = %e, "could not write a KMIP audit record");
    }
}

fn discover_versions(payload: &Item) -> Vec<Item> {
    let payload = Some(payload);
    let asked: Vec<(i32, i32)> = payload
        .map(|p| {
            p.children(Tag::PROTOCOL_VERSION)
                .filter_map(|v| {
                    Some((
                        v.child(Tag::PROTOCOL_VERSION_MAJOR)?.as_int()?,
                        v.child(Tag::PROTOCOL_VERSION_MINOR)?.as_int()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    // KMIP: with no versions given, all supported; otherwise those of the client's we support,
    // in the client's order.
    let answer: Vec<(i32, i32)> =
        if asked.is_empty() { VERSIONS.to_vec() } else { asked.into_iter().filter(|v| VERSIONS.contains(v)).collect() };
    answer.into_iter().map(|(a, b)| version_item(a, b)).collect()
}

fn query(payload: &Item, version: (i32, i32)) -> Vec<Item> {
    let payload = Some(payload);
    let functions: Vec<QueryFunction> =
        payload.map(|p| p.children(Tag::QUERY_FUNCTION).filter_map(Item::as_kmip_enum).collect()).unwrap_or_default();
    let mut out = Vec::new();
    for f in functions {
        match f {
            QueryFunction::QueryOperations => {
                out.extend(
                    ops::OPERATIONS
                        .iter()
                        .filter(|o| ops::since(**o) <= version)
                        .map(|o| Item::enumeration(Tag::OPERATION, o.value())),
                );
            }
            QueryFunction::QueryObjects => {
                out.extend(
                    [
                        ObjectType::SymmetricKey,
                        ObjectType::PublicKey,
                        ObjectType::PrivateKey,
                        ObjectType::Certificate,
                        ObjectType::SecretData,
                        ObjectType::OpaqueObject,
                        ObjectType::SplitKey,
                    ]
                    .iter()
                    .map(|o| Item::enumeration(Tag::OBJECT_TYPE, o.value())),
                );
            }
            QueryFunction::QueryServerInformation => {
                out.push(Item::text(Tag::VENDOR_IDENTIFICATION, "Keyward"));
                out.push(Item::structure(
                    Tag::SERVER_INFORMATION,
                    vec![Item::text(Tag::VENDOR_IDENTIFICATION, format!("Keyward {}", keyward_service::VERSION))],
                ));
            }
            // Other functions have nothing to report: an empty answer, which KMIP allows.
            _ => {}
        }
    }
    out
}
