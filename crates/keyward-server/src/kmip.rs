//! The KMIP listener: TTLV over TLS with client certificates (KMIP 1.0 to 1.4).
//!
//! Each connection is one authenticated client: its certificate maps to a Keyward role through
//! the same `[[client_cert]]` table as REST. Messages are framed by their TTLV header, bounded
//! by [`Limits`], and decoded by `keyward-kmip`. A malformed message whose framing is intact gets
//! an "Invalid Message" response; one that cannot be framed closes the connection. Either way
//! the server goes on serving other clients.
//!
//! This first part answers Discover Versions and Query; every other operation is answered with
//! "Operation Not Supported" (never a dropped connection) until it is implemented.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keyward_kmip::enums::{Operation, QueryFunction, ResultReason, ResultStatus};
use keyward_kmip::{Item, Limits, Tag, decode, encode, message_length};
use keyward_service::Caller;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::ClientCertRole;

/// Protocol versions this server speaks, newest first.
const VERSIONS: &[(i32, i32)] = &[(1, 4), (1, 3), (1, 2), (1, 1), (1, 0)];
/// Operations implemented so far.
const OPERATIONS: &[Operation] = &[Operation::DiscoverVersions, Operation::Query];
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(120);

pub struct KmipBound {
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    roles: Arc<Vec<ClientCertRole>>,
    limits: Limits,
}

impl KmipBound {
    pub async fn bind(
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        roles: Vec<ClientCertRole>,
    ) -> Result<Self, crate::Error> {
        let listener = TcpListener::bind(addr).await.map_err(|source| crate::Error::Bind { addr, source })?;
        Ok(KmipBound {
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
        loop {
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
            tokio::spawn(async move {
                let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
                    tracing::debug!(%peer, "KMIP TLS handshake failed");
                    return;
                };
                let caller = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|der| crate::tls::caller_for_certificate(der, &roles));
                connection(tls, caller, limits).await;
            });
        }
    }
}

async fn connection(
    mut stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    caller: Option<Caller>,
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
        let mut message = vec![0u8; total];
        if let Some(head) = message.get_mut(..header.len()) {
            head.copy_from_slice(&header);
        }
        let Some(body) = message.get_mut(header.len()..) else { return };
        match tokio::time::timeout(IDLE, stream.read_exact(body)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let response = match decode(&message, &limits) {
            Ok(request) => respond(&request, caller.as_ref()),
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

/// Answers one request message.
pub fn respond(request: &Item, caller: Option<&Caller>) -> Item {
    if request.tag != Tag::REQUEST_MESSAGE {
        return invalid_message("expected a Request Message");
    }
    let Some(version) = request.child(Tag::REQUEST_HEADER).and_then(protocol_version) else {
        return invalid_message("the request header has no protocol version");
    };
    let mut items = Vec::new();
    for batch in request.children(Tag::BATCH_ITEM) {
        let id = batch.child(Tag::UNIQUE_BATCH_ITEM_ID);
        let operation = batch.child(Tag::OPERATION).and_then(Item::as_enum);
        let Some(op_value) = operation else {
            items.push(failure(None, id, ResultReason::InvalidMessage, "the batch item names no operation"));
            continue;
        };
        let known = Operation::from_value(op_value);
        if known != Some(Operation::DiscoverVersions) && !VERSIONS.contains(&version) {
            items.push(failure(
                operation,
                id,
                ResultReason::InvalidMessage,
                &format!(
                    "protocol version {}.{} is not supported; Discover Versions lists what is",
                    version.0, version.1
                ),
            ));
            continue;
        }
        if caller.is_none() {
            items.push(failure(
                operation,
                id,
                ResultReason::PermissionDenied,
                "the client certificate is not mapped to a Keyward role ([[client_cert]] in keyward.toml)",
            ));
            continue;
        }
        let payload = batch.child(Tag::REQUEST_PAYLOAD);
        let answer = match known {
            Some(Operation::DiscoverVersions) => Ok(discover_versions(payload)),
            Some(Operation::Query) => Ok(query(payload)),
            _ => Err(format!(
                "operation {} is not supported yet",
                known.map(|o| o.name().to_owned()).unwrap_or_else(|| format!("{op_value:#x}"))
            )),
        };
        items.push(match answer {
            Ok(payload) => {
                let mut children = vec![Item::enumeration(Tag::OPERATION, op_value)];
                if let Some(id) = id {
                    children.push(id.clone());
                }
                children.push(Item::enumeration(Tag::RESULT_STATUS, ResultStatus::Success.value()));
                children.push(payload);
                Item::structure(Tag::BATCH_ITEM, children)
            }
            Err(message) => failure(operation, id, ResultReason::OperationNotSupported, &message),
        });
    }
    if items.is_empty() {
        return invalid_message("the request holds no batch item");
    }
    let answer_version = if VERSIONS.contains(&version) { version } else { (1, 0) };
    response(answer_version, items)
}

fn discover_versions(payload: Option<&Item>) -> Item {
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
    Item::structure(Tag::RESPONSE_PAYLOAD, answer.into_iter().map(|(a, b)| version_item(a, b)).collect())
}

fn query(payload: Option<&Item>) -> Item {
    let functions: Vec<QueryFunction> =
        payload.map(|p| p.children(Tag::QUERY_FUNCTION).filter_map(Item::as_kmip_enum).collect()).unwrap_or_default();
    let mut out = Vec::new();
    for f in functions {
        match f {
            QueryFunction::QueryOperations => {
                out.extend(OPERATIONS.iter().map(|o| Item::enumeration(Tag::OPERATION, o.value())));
            }
            QueryFunction::QueryServerInformation => {
                out.push(Item::text(Tag::VENDOR_IDENTIFICATION, "Keyward"));
                out.push(Item::structure(
                    Tag::SERVER_INFORMATION,
                    vec![Item::text(Tag::VENDOR_IDENTIFICATION, format!("Keyward {}", keyward_service::VERSION))],
                ));
            }
            // No managed object types over KMIP yet: an empty answer, which KMIP allows.
            _ => {}
        }
    }
    Item::structure(Tag::RESPONSE_PAYLOAD, out)
}
