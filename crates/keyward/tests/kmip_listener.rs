// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! The KMIP listener over real TLS with client certificates: version discovery, Query, answers
//! for operations not yet supported, and malformed input that never stops the server.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use keyward_kmip::enums::{Operation, QueryFunction, ResultReason, ResultStatus};
use keyward_kmip::{Item, Limits, Tag, decode, encode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn kmip_node() -> (Node, Server, String) {
    let node = Node::init_passphrase();
    let dir = node.dir.path();
    make_pki(dir);
    // A second client certificate that no [[client_cert]] entry maps.
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "stranger.key",
            "-out",
            "stranger.csr",
            "-subj",
            "/CN=stranger",
        ],
    );
    std::fs::write(dir.join("stranger.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "stranger.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "stranger.pem",
            "-days",
            "2",
            "-extfile",
            "stranger.ext",
        ],
    );
    std::fs::write(
        dir.join("keyward.toml"),
        "data_dir = \"data\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"ca.pem\"\n[kmip]\nlisten = \"127.0.0.1:0\"\n[[client_cert]]\nsubject_cn = \"orders-service\"\nrole = \"app\"\nprefixes = [\"orders.\"]\n",
    )
    .unwrap();
    let config = dir.join("keyward.toml").display().to_string();
    let pass = node.passphrase_file().display().to_string();
    let server =
        Server::spawn(&["server", "--config", &config, "--unseal-passphrase-file", &pass], &node.data).unwrap();
    let kmip = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("keyward: KMIP listening on ").map(str::to_owned))
        .expect("the server prints its KMIP address");
    (node, server, kmip)
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(dir: &Path, addr: &str, identity: Option<&str>) -> std::io::Result<Tls> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(name) => {
            let certs = vec![CertificateDer::from_pem_file(dir.join(format!("{name}.pem"))).unwrap()];
            let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    // TLS 1.3 reports a refused client certificate only on the first read: probe it.
    tls.flush().await?;
    Ok(tls)
}

fn request(version: (i32, i32), batch: Vec<Item>) -> Vec<u8> {
    let header = Item::structure(
        Tag::REQUEST_HEADER,
        vec![
            Item::structure(
                Tag::PROTOCOL_VERSION,
                vec![
                    Item::integer(Tag::PROTOCOL_VERSION_MAJOR, version.0),
                    Item::integer(Tag::PROTOCOL_VERSION_MINOR, version.1),
                ],
            ),
            Item::integer(Tag::BATCH_COUNT, batch.len() as i32),
        ],
    );
    encode(&Item::structure(Tag::REQUEST_MESSAGE, std::iter::once(header).chain(batch).collect()))
}

fn op(operation: Operation, payload: Vec<Item>) -> Item {
    Item::structure(
        Tag::BATCH_ITEM,
        vec![Item::enumeration(Tag::OPERATION, operation.value()), Item::structure(Tag::REQUEST_PAYLOAD, payload)],
    )
}

async fn exchange(tls: &mut Tls, bytes: &[u8]) -> std::io::Result<Item> {
    tls.write_all(bytes).await?;
    let mut header = [0u8; 8];
    tls.read_exact(&mut header).await?;
    let len = keyward_kmip::message_length(&header, &Limits::default()).unwrap().unwrap();
    let mut message = header.to_vec();
    message.resize(len, 0);
    tls.read_exact(&mut message[8..]).await?;
    Ok(decode(&message, &Limits::default()).unwrap())
}

fn batch_items(response: &Item) -> Vec<&Item> {
    response.children(Tag::BATCH_ITEM).collect()
}

fn status(item: &Item) -> (Option<ResultStatus>, Option<ResultReason>) {
    (
        item.child(Tag::RESULT_STATUS).and_then(Item::as_kmip_enum),
        item.child(Tag::RESULT_REASON).and_then(Item::as_kmip_enum),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_versions_query_and_unsupported_operations() {
    let (node, _server, kmip) = kmip_node();
    let dir = node.dir.path();
    let mut tls = connect(dir, &kmip, Some("client")).await.unwrap();
    let r = exchange(&mut tls, &request((1, 2), vec![op(Operation::DiscoverVersions, vec![])])).await.unwrap();
    let item = batch_items(&r)[0];
    assert_eq!(status(item).0, Some(ResultStatus::Success), "{r}");
    let versions: Vec<(i32, i32)> = item
        .child(Tag::RESPONSE_PAYLOAD)
        .unwrap()
        .children(Tag::PROTOCOL_VERSION)
        .map(|v| {
            (
                v.child(Tag::PROTOCOL_VERSION_MAJOR).unwrap().as_int().unwrap(),
                v.child(Tag::PROTOCOL_VERSION_MINOR).unwrap().as_int().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, vec![(1, 4), (1, 3), (1, 2), (1, 1), (1, 0)]);

    // Two operations in one batch, on the same connection.
    let query = op(
        Operation::Query,
        vec![
            Item::enumeration(Tag::QUERY_FUNCTION, QueryFunction::QueryOperations.value()),
            Item::enumeration(Tag::QUERY_FUNCTION, QueryFunction::QueryServerInformation.value()),
        ],
    );
    let create = op(Operation::Create, vec![]);
    let r = exchange(&mut tls, &request((1, 4), vec![query, create])).await.unwrap();
    let items = batch_items(&r);
    assert_eq!(items.len(), 2);
    let ops: Vec<u32> =
        items[0].child(Tag::RESPONSE_PAYLOAD).unwrap().children(Tag::OPERATION).filter_map(Item::as_enum).collect();
    assert!(ops.contains(&Operation::Query.value()) && ops.contains(&Operation::DiscoverVersions.value()), "{r}");
    assert!(items[0].child(Tag::RESPONSE_PAYLOAD).unwrap().child(Tag::VENDOR_IDENTIFICATION).is_some());
    assert_eq!(
        status(items[1]),
        (Some(ResultStatus::OperationFailed), Some(ResultReason::OperationNotSupported)),
        "{r}"
    );

    // A protocol version the server does not speak.
    let r = exchange(&mut tls, &request((9, 9), vec![op(Operation::Query, vec![])])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).1, Some(ResultReason::InvalidMessage), "{r}");

    // A certificate the CA signed but no role maps: every operation is refused by name.
    let mut stranger = connect(dir, &kmip, Some("stranger")).await.unwrap();
    let r = exchange(&mut stranger, &request((1, 4), vec![op(Operation::Query, vec![])])).await.unwrap();
    let item = batch_items(&r)[0];
    assert_eq!(status(item).1, Some(ResultReason::PermissionDenied));
    assert!(item.child(Tag::RESULT_MESSAGE).unwrap().as_text().unwrap().contains("not mapped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_and_bad_messages_never_stop_the_server() {
    let (node, _server, kmip) = kmip_node();
    let dir = node.dir.path();
    // No client certificate: the handshake (or the first exchange) fails.
    let refused = match connect(dir, &kmip, None).await {
        Err(_) => true,
        Ok(mut tls) => exchange(&mut tls, &request((1, 4), vec![op(Operation::Query, vec![])])).await.is_err(),
    };
    assert!(refused, "a client without a certificate must not be served");

    // A structure nested deeper than the limit: framed, so answered with Invalid Message.
    let mut deep = Item::text(Tag::NAME_VALUE, "x");
    for _ in 0..40 {
        deep = Item::structure(Tag::ATTRIBUTE, vec![deep]);
    }
    let mut tls = connect(dir, &kmip, Some("client")).await.unwrap();
    let r = exchange(&mut tls, &request((1, 4), vec![op(Operation::Query, vec![deep])])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).1, Some(ResultReason::InvalidMessage), "{r}");
    // A batch item with an unknown tag and no operation.
    let odd = Item::structure(Tag::BATCH_ITEM, vec![Item::text(Tag::new(0x54_00_01).unwrap(), "vendor")]);
    let r = exchange(&mut tls, &request((1, 4), vec![odd])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).1, Some(ResultReason::InvalidMessage), "{r}");

    // An oversized message: the connection is closed, nothing else.
    let mut big = connect(dir, &kmip, Some("client")).await.unwrap();
    big.write_all(&[0x42, 0x00, 0x78, 0x01, 0x40, 0x00, 0x00, 0x00]).await.unwrap();
    let mut buf = [0u8; 8];
    assert!(matches!(big.read(&mut buf).await, Ok(0) | Err(_)), "an oversized message closes the connection");
    // A truncated message: the client gives up half way; the server drops the connection.
    let mut cut = connect(dir, &kmip, Some("client")).await.unwrap();
    let whole = request((1, 4), vec![op(Operation::Query, vec![])]);
    cut.write_all(&whole[..whole.len() / 2]).await.unwrap();
    cut.shutdown().await.unwrap();
    assert!(matches!(cut.read(&mut buf).await, Ok(0) | Err(_)));
    // Not TTLV at all.
    let mut junk = connect(dir, &kmip, Some("client")).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert!(matches!(junk.read(&mut buf).await, Ok(0) | Err(_)));

    // Through all of it, other clients are served.
    let r = exchange(&mut tls, &request((1, 4), vec![op(Operation::DiscoverVersions, vec![])])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).0, Some(ResultStatus::Success));
    let mut fresh = connect(dir, &kmip, Some("client")).await.unwrap();
    let r = exchange(&mut fresh, &request((1, 4), vec![op(Operation::Query, vec![])])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).0, Some(ResultStatus::Success));
}
