// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! The KMIP listener over real TLS with client certificates: version discovery, Query, answers
//! for operations not yet supported, and malformed input that never stops the server.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use keyward_kmip::enums::{ObjectType, Operation, QueryFunction, ResultReason, ResultStatus};
use keyward_kmip::{Item, Limits, Tag, decode, encode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An app certificate scoped to `orders.`, and an admin one.
const ROLES: &str = "[[client_cert]]\nsubject_cn = \"orders-service\"\nrole = \"app\"\nprefixes = [\"orders.\"]\n\
                     [[client_cert]]\nsubject_cn = \"kmip-admin\"\nrole = \"admin\"\n";

fn kmip_node() -> (Node, Server, String) {
    let node = Node::init_passphrase();
    let dir = node.dir.path();
    make_pki(dir);
    // A second client certificate that no [[client_cert]] entry maps, and one for an admin.
    client_cert(dir, "stranger", "stranger");
    client_cert(dir, "kmip-admin", "kmip-admin");
    let (server, kmip) = spawn_kmip_server(&node, "keyward.toml", "data", ROLES);
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
    assert_eq!(versions, vec![(2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)]);

    // Two operations in one batch, on the same connection.
    let query = op(
        Operation::Query,
        vec![
            Item::enumeration(Tag::QUERY_FUNCTION, QueryFunction::QueryOperations.value()),
            Item::enumeration(Tag::QUERY_FUNCTION, QueryFunction::QueryServerInformation.value()),
        ],
    );
    let archive = op(Operation::Archive, vec![]);
    let r = exchange(&mut tls, &request((1, 4), vec![query, archive])).await.unwrap();
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

    // Refused and served items are both in the audit log, naming the certificate and the outcome.
    drop(stranger);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let db =
        rusqlite::Connection::open_with_flags(node.data.join("keyward.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let rows: Vec<(String, String, String)> = db
        .prepare("SELECT actor, action, outcome FROM audit WHERE action LIKE 'KMIP %' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        rows.iter()
            .any(|(a, act, o)| a == "cert:stranger (unmapped)" && act == "KMIP Query" && o == "Permission Denied"),
        "{rows:?}"
    );
    assert!(rows.iter().any(|(a, act, o)| a == "cert:orders-service" && act == "KMIP Query" && o == "ok"), "{rows:?}");
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

    // A certificate from another CA, with a CN the table maps: untrusted, so never served.
    let other = dir.join("other");
    std::fs::create_dir(&other).unwrap();
    openssl(
        &other,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=some-other-ca",
        ],
    );
    client_cert(&other, "kmip-admin", "kmip-admin");
    for f in ["kmip-admin.pem", "kmip-admin.key"] {
        std::fs::copy(other.join(f), dir.join(format!("forged-{f}"))).unwrap();
    }
    let refused = match connect(dir, &kmip, Some("forged-kmip-admin")).await {
        Err(_) => true,
        Ok(mut tls) => exchange(&mut tls, &request((1, 4), vec![op(Operation::Query, vec![])])).await.is_err(),
    };
    assert!(refused, "a certificate from an untrusted CA must not be served");

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

fn text_attr(name: &str, value: Item) -> Item {
    Item::structure(
        Tag::ATTRIBUTE,
        vec![Item::text(Tag::ATTRIBUTE_NAME, name), Item { tag: Tag::ATTRIBUTE_VALUE, value: value.value }],
    )
}

fn name_attr(name: &str) -> Item {
    text_attr(
        "Name",
        Item::structure(
            Tag::ATTRIBUTE_VALUE,
            vec![Item::text(Tag::NAME_VALUE, name), Item::enumeration(Tag::NAME_TYPE, 1u32)],
        ),
    )
}

fn create_aes(name: &str) -> Item {
    op(
        Operation::Create,
        vec![
            Item::enumeration(Tag::OBJECT_TYPE, ObjectType::SymmetricKey.value()),
            Item::structure(
                Tag::TEMPLATE_ATTRIBUTE,
                vec![
                    text_attr("Cryptographic Algorithm", Item::enumeration(Tag::ATTRIBUTE_VALUE, 3u32)),
                    text_attr("Cryptographic Length", Item::integer(Tag::ATTRIBUTE_VALUE, 256)),
                    name_attr(name),
                ],
            ),
        ],
    )
}

fn payload_text(item: &Item, tag: Tag) -> Option<String> {
    item.child(Tag::RESPONSE_PAYLOAD)?.child(tag)?.as_text().map(str::to_owned)
}

fn gcm_params() -> Item {
    aes_params(keyward_kmip::enums::BlockCipherMode::Gcm)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_object_model_for_kmip_and_rest_with_the_same_authorization() {
    let (node, server, kmip) = kmip_node();
    let dir = node.dir.path().to_owned();
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();

    // Create and Activate in one batch: Activate names no object and uses the ID Placeholder.
    let r =
        exchange(&mut admin, &request((1, 4), vec![create_aes("orders.kmip-made"), op(Operation::Activate, vec![])]))
            .await
            .unwrap();
    let items = batch_items(&r);
    assert!(items.iter().all(|i| status(i).0 == Some(ResultStatus::Success)), "{r}");
    let uid = payload_text(items[0], Tag::UNIQUE_IDENTIFIER).unwrap();
    assert_eq!(payload_text(items[1], Tag::UNIQUE_IDENTIFIER).as_deref(), Some(uid.as_str()));

    // The same key over REST: listed, active, and it encrypts and decrypts.
    let ca = dir.join("ca.pem").display().to_string();
    let (addr, token) = (server.addr.clone(), node.token.clone());
    let cli = move |args: Vec<String>, stdin: Option<Vec<u8>>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &[("KEYWARD_ADDR", &addr), ("KEYWARD_TOKEN", &token), ("KEYWARD_CACERT", &ca)], stdin.as_deref())
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cli2 = cli.clone();
    let listed = tokio::task::spawn_blocking(move || {
        let list = stdout(&ok(cli2(args(&["key", "list", "--format", "json"]), None)));
        let ct = stdout(&ok(cli2(args(&["key", "encrypt", "orders.kmip-made"]), Some(b"over rest".to_vec()))));
        let pt = ok(cli2(args(&["key", "decrypt", "orders.kmip-made"]), Some(ct.into_bytes()))).stdout;
        ok(cli2(args(&["key", "create", "--type", "aes-256", "--name", "orders.rest-made"]), None));
        ok(cli2(args(&["key", "create", "--type", "aes-256", "--name", "payroll.db"]), None));
        (list, pt)
    })
    .await
    .unwrap();
    assert!(listed.0.contains("orders.kmip-made") && listed.0.contains("\"active\""), "{}", listed.0);
    assert_eq!(listed.1, b"over rest");

    // A key made over REST is found by name over KMIP and used there; not being exportable, its
    // material does not leave the server.
    let locate = op(Operation::Locate, vec![name_attr("orders.rest-made")]);
    let r = exchange(&mut admin, &request((1, 4), vec![locate])).await.unwrap();
    let rest_uid = payload_text(batch_items(&r)[0], Tag::UNIQUE_IDENTIFIER).unwrap_or_else(|| panic!("{r}"));
    let encrypt = op(
        Operation::Encrypt,
        vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, &rest_uid),
            gcm_params(),
            Item::bytes(Tag::DATA, b"over kmip".to_vec()),
        ],
    );
    let get = op(Operation::Get, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &rest_uid)]);
    let mut continue_header = request((1, 4), vec![encrypt, get]);
    // Batch Error Continuation Option is not needed here: Get is last.
    let r = exchange(&mut admin, &continue_header).await.unwrap();
    let items = batch_items(&r);
    assert_eq!(status(items[0]).0, Some(ResultStatus::Success), "{r}");
    let p = items[0].child(Tag::RESPONSE_PAYLOAD).unwrap();
    let (ct, iv, tag) = (
        p.child(Tag::DATA).unwrap().as_bytes().unwrap().to_vec(),
        p.child(Tag::IV_COUNTER_NONCE).unwrap().as_bytes().unwrap().to_vec(),
        p.child(Tag::AUTHENTICATED_ENCRYPTION_TAG).unwrap().as_bytes().unwrap().to_vec(),
    );
    assert_eq!(status(items[1]), (Some(ResultStatus::OperationFailed), Some(ResultReason::PermissionDenied)), "{r}");
    let decrypt = op(
        Operation::Decrypt,
        vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, &rest_uid),
            gcm_params(),
            Item::bytes(Tag::DATA, ct),
            Item::bytes(Tag::IV_COUNTER_NONCE, iv),
            Item::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, tag),
        ],
    );
    continue_header = request((1, 4), vec![decrypt]);
    let r = exchange(&mut admin, &continue_header).await.unwrap();
    let p = batch_items(&r)[0].child(Tag::RESPONSE_PAYLOAD).unwrap_or_else(|| panic!("{r}"));
    assert_eq!(p.child(Tag::DATA).unwrap().as_bytes().unwrap(), b"over kmip");

    // Destroying an active key fails, as KMIP requires; after a failure the batch stops.
    let destroy = op(Operation::Destroy, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &uid)]);
    let r = exchange(&mut admin, &request((1, 4), vec![destroy, op(Operation::Query, vec![])])).await.unwrap();
    let items = batch_items(&r);
    assert_eq!(status(items[0]).0, Some(ResultStatus::OperationFailed), "{r}");
    assert_eq!(status(items[1]).1, Some(ResultReason::OperationCanceledByRequester), "{r}");

    // An app certificate scoped to `orders.`: no Create, Get within its scope, Locate sees only it.
    let mut app = connect(&dir, &kmip, Some("client")).await.unwrap();
    let r = exchange(&mut app, &request((1, 4), vec![create_aes("orders.by-app")])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).1, Some(ResultReason::PermissionDenied), "{r}");
    let get = op(Operation::Get, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &uid)]);
    let r = exchange(&mut app, &request((1, 4), vec![get, op(Operation::Locate, vec![])])).await.unwrap();
    let items = batch_items(&r);
    assert_eq!(status(items[0]).0, Some(ResultStatus::Success), "{r}");
    let key = items[0].child(Tag::RESPONSE_PAYLOAD).unwrap().child(Tag::SYMMETRIC_KEY).unwrap();
    let material = key.child(Tag::KEY_BLOCK).unwrap().child(Tag::KEY_VALUE).unwrap().child(Tag::KEY_MATERIAL).unwrap();
    assert_eq!(material.as_bytes().unwrap().len(), 32);
    let seen: Vec<&str> = items[1]
        .child(Tag::RESPONSE_PAYLOAD)
        .unwrap()
        .children(Tag::UNIQUE_IDENTIFIER)
        .filter_map(Item::as_text)
        .collect();
    assert_eq!(seen.len(), 2, "the app sees orders.kmip-made and orders.rest-made only: {r}");
    assert!(seen.contains(&uid.as_str()) && seen.contains(&rest_uid.as_str()));
}

fn register(object_type: ObjectType, object: Item, attributes: Vec<Item>) -> Item {
    op(
        Operation::Register,
        vec![
            Item::enumeration(Tag::OBJECT_TYPE, object_type.value()),
            Item::structure(Tag::TEMPLATE_ATTRIBUTE, attributes),
            object,
        ],
    )
}

fn get_payload(r: &Item) -> &Item {
    batch_items(r)[0].child(Tag::RESPONSE_PAYLOAD).unwrap_or_else(|| panic!("{r}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmip_objects_and_their_attributes_survive_backup_verify_and_restore() {
    let (node, server, kmip) = kmip_node();
    let dir = node.dir.path().to_owned();
    openssl(&dir, &["x509", "-in", "ca.pem", "-outform", "der", "-out", "ca.der"]);
    let cert_der = std::fs::read(dir.join("ca.der")).unwrap();
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();
    let seed = register(
        ObjectType::SecretData,
        Item::structure(
            Tag::SECRET_DATA,
            vec![
                Item::enumeration(Tag::SECRET_DATA_TYPE, 2u32),
                Item::structure(
                    Tag::KEY_BLOCK,
                    vec![
                        Item::enumeration(Tag::KEY_FORMAT_TYPE, 2u32),
                        Item::structure(Tag::KEY_VALUE, vec![Item::bytes(Tag::KEY_MATERIAL, b"seed bytes".to_vec())]),
                    ],
                ),
            ],
        ),
        vec![name_attr("Database TDE seed"), text_attr("x-purpose", Item::text(Tag::ATTRIBUTE_VALUE, "tde"))],
    );
    let cert = register(
        ObjectType::Certificate,
        Item::structure(
            Tag::CERTIFICATE,
            vec![Item::enumeration(Tag::CERTIFICATE_TYPE, 1u32), Item::bytes(Tag::CERTIFICATE_VALUE, cert_der.clone())],
        ),
        vec![],
    );
    let r = exchange(&mut admin, &request((1, 2), vec![seed, cert])).await.unwrap();
    let uids: Vec<String> = batch_items(&r)
        .iter()
        .map(|i| payload_text(i, Tag::UNIQUE_IDENTIFIER).unwrap_or_else(|| panic!("{r}")))
        .collect();
    drop(admin);

    // An online backup, verified with the secret, restored onto a new data directory.
    let ca = dir.join("ca.pem").display().to_string();
    let backup = dir.join("kmip.kwb").display().to_string();
    let pass = node.passphrase_file().display().to_string();
    let env = [("KEYWARD_ADDR", server.addr.as_str()), ("KEYWARD_TOKEN", node.token.as_str()), ("KEYWARD_CACERT", &ca)];
    ok(run(&["backup", "create", "--out", &backup], &env, None));
    let v = ok(run(&["backup", "verify", &backup, "--passphrase-file", &pass, "--format", "json"], &[], None));
    let v: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    drop(server);
    let restored = dir.join("restored").display().to_string();
    ok(run(&["restore", &backup, "--data-dir", &restored], &[], None));
    let (_server, kmip) = spawn_kmip_server(&node, "restored.toml", "restored", ROLES);
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();

    let get = |id: &str| op(Operation::Get, vec![Item::text(Tag::UNIQUE_IDENTIFIER, id)]);
    let r = exchange(&mut admin, &request((1, 2), vec![get(&uids[0])])).await.unwrap();
    let secret = get_payload(&r).child(Tag::SECRET_DATA).unwrap();
    let block = secret.child(Tag::KEY_BLOCK).unwrap();
    let material = block.child(Tag::KEY_VALUE).unwrap().child(Tag::KEY_MATERIAL).unwrap();
    assert_eq!(material.as_bytes().unwrap(), b"seed bytes");
    assert_eq!(secret.child(Tag::SECRET_DATA_TYPE).unwrap().as_enum(), Some(2));
    let r = exchange(&mut admin, &request((1, 2), vec![get(&uids[1])])).await.unwrap();
    let value = get_payload(&r).child(Tag::CERTIFICATE).unwrap().child(Tag::CERTIFICATE_VALUE).unwrap();
    assert_eq!(value.as_bytes().unwrap(), cert_der.as_slice());
    let attrs = op(
        Operation::GetAttributes,
        vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, &uids[0]),
            Item::text(Tag::ATTRIBUTE_NAME, "x-purpose"),
            Item::text(Tag::ATTRIBUTE_NAME, "Name"),
        ],
    );
    let r = exchange(&mut admin, &request((1, 2), vec![attrs])).await.unwrap();
    let got: Vec<&Item> = get_payload(&r).children(Tag::ATTRIBUTE).collect();
    assert_eq!(got.len(), 2, "{r}");
    assert_eq!(got[0].child(Tag::ATTRIBUTE_VALUE).unwrap().as_text(), Some("tde"));
    let name = got[1].child(Tag::ATTRIBUTE_VALUE).unwrap().child(Tag::NAME_VALUE).unwrap().as_text();
    assert_eq!(name, Some("Database TDE seed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_check_hash_and_rng() {
    let (node, _server, kmip) = kmip_node();
    let dir = node.dir.path().to_owned();
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();
    let r =
        exchange(&mut admin, &request((1, 4), vec![create_aes("orders.rotating"), op(Operation::Activate, vec![])]))
            .await
            .unwrap();
    let old = payload_text(batch_items(&r)[0], Tag::UNIQUE_IDENTIFIER).unwrap();

    // Re-key: a new active key that links back to the old one, which links forward to it.
    let rekey = op(Operation::ReKey, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &old)]);
    let r = exchange(&mut admin, &request((1, 4), vec![rekey])).await.unwrap();
    let new = payload_text(batch_items(&r)[0], Tag::UNIQUE_IDENTIFIER).unwrap_or_else(|| panic!("{r}"));
    assert_ne!(new, old);
    let attrs = |id: &str| {
        op(
            Operation::GetAttributes,
            vec![
                Item::text(Tag::UNIQUE_IDENTIFIER, id),
                Item::text(Tag::ATTRIBUTE_NAME, "State"),
                Item::text(Tag::ATTRIBUTE_NAME, "Link"),
                Item::text(Tag::ATTRIBUTE_NAME, "Cryptographic Length"),
            ],
        )
    };
    let r = exchange(&mut admin, &request((1, 4), vec![attrs(&new), attrs(&old)])).await.unwrap();
    let items = batch_items(&r);
    let values = |i: usize| -> Vec<Item> {
        items[i]
            .child(Tag::RESPONSE_PAYLOAD)
            .unwrap()
            .children(Tag::ATTRIBUTE)
            .map(|a| a.child(Tag::ATTRIBUTE_VALUE).unwrap().clone())
            .collect()
    };
    let (n, o) = (values(0), values(1));
    assert_eq!(n[0].as_enum(), Some(2), "the replacement is active: {r}");
    assert_eq!(n[1].child(Tag::LINKED_OBJECT_IDENTIFIER).unwrap().as_text(), Some(old.as_str()));
    assert_eq!(n[2].as_int(), Some(256));
    assert_eq!(o[1].child(Tag::LINKED_OBJECT_IDENTIFIER).unwrap().as_text(), Some(new.as_str()));
    // The Name moved to the replacement, which keeps the old key's prefix (an app scope on
    // `orders.` still covers it).
    let names = |id: &str| {
        op(
            Operation::GetAttributes,
            vec![Item::text(Tag::UNIQUE_IDENTIFIER, id), Item::text(Tag::ATTRIBUTE_NAME, "Name")],
        )
    };
    let r = exchange(&mut admin, &request((1, 4), vec![names(&new), names(&old)])).await.unwrap();
    let count = |i: usize| batch_items(&r)[i].child(Tag::RESPONSE_PAYLOAD).unwrap().children(Tag::ATTRIBUTE).count();
    assert_eq!((count(0), count(1)), (1, 0), "{r}");
    let mut app = connect(&dir, &kmip, Some("client")).await.unwrap();
    let get = op(Operation::Get, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &new)]);
    let r = exchange(&mut app, &request((1, 4), vec![get])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).0, Some(ResultStatus::Success), "{r}");

    // Check: an AES key allows encryption but not signing.
    let check = |mask: i32| {
        op(
            Operation::Check,
            vec![Item::text(Tag::UNIQUE_IDENTIFIER, &new), Item::integer(Tag::CRYPTOGRAPHIC_USAGE_MASK, mask)],
        )
    };
    // Continue past the failing Check so both answers come back.
    let r = exchange(&mut admin, &with_continue(request((1, 4), vec![check(0x4), check(0x1)]))).await.unwrap();
    let items = batch_items(&r);
    assert_eq!(status(items[0]).0, Some(ResultStatus::Success), "{r}");
    assert_eq!(status(items[1]).0, Some(ResultStatus::OperationFailed), "{r}");

    // A usage mask set by the client is enforced: a decrypt-only key does not encrypt.
    let decrypt_only = create_aes_with("orders.decrypt-only", vec![mask_attr(0x8)]);
    let encrypt = op(Operation::Encrypt, vec![gcm_params(), Item::bytes(Tag::DATA, b"no".to_vec())]);
    let r = exchange(&mut admin, &request((2, 0), vec![decrypt_only, op(Operation::Activate, vec![]), encrypt]))
        .await
        .unwrap();
    let items = batch_items(&r);
    assert_eq!(status(items[1]).0, Some(ResultStatus::Success), "{r}");
    assert_eq!(
        status(items[2]),
        (Some(ResultStatus::OperationFailed), Some(ResultReason::IncompatibleCryptographicUsageMask)),
        "{r}"
    );

    // Hash and RNG Retrieve.
    let hash = op(
        Operation::Hash,
        vec![
            Item::structure(
                Tag::CRYPTOGRAPHIC_PARAMETERS,
                vec![Item::enumeration(Tag::HASHING_ALGORITHM, keyward_kmip::enums::HashingAlgorithm::Sha256.value())],
            ),
            Item::bytes(Tag::DATA, b"abc".to_vec()),
        ],
    );
    let rng = op(Operation::RngRetrieve, vec![Item::integer(Tag::DATA_LENGTH, 32)]);
    let r = exchange(&mut admin, &request((1, 4), vec![hash, rng])).await.unwrap();
    let items = batch_items(&r);
    let digest = items[0].child(Tag::RESPONSE_PAYLOAD).unwrap().child(Tag::DATA).unwrap().as_bytes().unwrap();
    assert_eq!(digest[..4], [0xba, 0x78, 0x16, 0xbf], "SHA-256(\"abc\")");
    let random = items[1].child(Tag::RESPONSE_PAYLOAD).unwrap().child(Tag::DATA).unwrap().as_bytes().unwrap();
    assert_eq!(random.len(), 32);
}

fn create_key_pair(algorithm: u32, length: i32) -> Item {
    op(
        Operation::CreateKeyPair,
        vec![Item::structure(
            Tag::COMMON_TEMPLATE_ATTRIBUTE,
            vec![
                text_attr("Cryptographic Algorithm", Item::enumeration(Tag::ATTRIBUTE_VALUE, algorithm)),
                text_attr("Cryptographic Length", Item::integer(Tag::ATTRIBUTE_VALUE, length)),
            ],
        )],
    )
}

fn get_as(id: &str, format: keyward_kmip::enums::KeyFormatType) -> Item {
    op(
        Operation::Get,
        vec![Item::text(Tag::UNIQUE_IDENTIFIER, id), Item::enumeration(Tag::KEY_FORMAT_TYPE, format.value())],
    )
}

/// The Key Block of a Get answer's object.
fn key_block_of(r: &Item, i: usize) -> Item {
    let payload = batch_items(r)[i].child(Tag::RESPONSE_PAYLOAD).unwrap_or_else(|| panic!("{r}"));
    let object = payload.as_struct().unwrap().iter().find(|c| c.child(Tag::KEY_BLOCK).is_some()).unwrap();
    object.child(Tag::KEY_BLOCK).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transparent_key_formats_round_trip() {
    use keyward_kmip::enums::KeyFormatType as F;
    let (node, _server, kmip) = kmip_node();
    let dir = node.dir.path().to_owned();
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();
    let r = exchange(&mut admin, &request((1, 4), vec![create_key_pair(4, 2048), create_key_pair(0x1A, 256)]))
        .await
        .unwrap();
    let ids = |i: usize| {
        (
            payload_text(batch_items(&r)[i], Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER).unwrap_or_else(|| panic!("{r}")),
            payload_text(batch_items(&r)[i], Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER).unwrap(),
        )
    };
    let ((rsa, rsa_pub), (ec, ec_pub)) = (ids(0), ids(1));
    let gets = vec![
        get_as(&rsa, F::TransparentRsaPrivateKey),
        get_as(&rsa_pub, F::TransparentRsaPublicKey),
        get_as(&rsa, F::Pkcs8),
        get_as(&ec, F::TransparentEcPrivateKey),
        get_as(&ec_pub, F::TransparentEcPublicKey),
        get_as(&ec, F::TransparentRsaPrivateKey),
    ];
    let r = exchange(&mut admin, &with_continue(request((1, 4), gets))).await.unwrap();
    let rsa_private = key_block_of(&r, 0);
    let material = rsa_private.child(Tag::KEY_VALUE).unwrap().child(Tag::KEY_MATERIAL).unwrap().clone();
    let modulus = material.child(Tag::MODULUS).unwrap().as_big_int().unwrap();
    assert!(modulus.len() >= 256 && modulus.len() <= 264, "a 2048-bit modulus: {}", modulus.len());
    for tag in
        [Tag::PRIVATE_EXPONENT, Tag::P, Tag::Q, Tag::PRIME_EXPONENT_P, Tag::PRIME_EXPONENT_Q, Tag::CRT_COEFFICIENT]
    {
        assert!(material.child(tag).is_some(), "{tag} missing");
    }
    let public = key_block_of(&r, 1);
    let public_material = public.child(Tag::KEY_VALUE).unwrap().child(Tag::KEY_MATERIAL).unwrap();
    assert_eq!(public_material.child(Tag::MODULUS).unwrap().as_big_int(), Some(modulus));
    let pkcs8 = key_block_of(&r, 2)
        .child(Tag::KEY_VALUE)
        .unwrap()
        .child(Tag::KEY_MATERIAL)
        .unwrap()
        .as_bytes()
        .unwrap()
        .to_vec();
    let ec_material = key_block_of(&r, 3).child(Tag::KEY_VALUE).unwrap().child(Tag::KEY_MATERIAL).unwrap().clone();
    assert_eq!(ec_material.child(Tag::D).unwrap().as_big_int().unwrap().len() % 8, 0);
    let q = key_block_of(&r, 4)
        .child(Tag::KEY_VALUE)
        .unwrap()
        .child(Tag::KEY_MATERIAL)
        .unwrap()
        .child(Tag::Q_STRING)
        .unwrap()
        .clone();
    assert_eq!(q.as_bytes().unwrap().len(), 65);
    assert_eq!(q.as_bytes().unwrap()[0], 0x04, "uncompressed point");
    assert_eq!(
        status(batch_items(&r)[5]),
        (Some(ResultStatus::OperationFailed), Some(ResultReason::KeyFormatTypeNotSupported)),
        "an EC key has no RSA form: {r}"
    );

    // Registering the transparent RSA key gives back the same key (compared as PKCS#8).
    let reg = register(
        ObjectType::PrivateKey,
        Item::structure(Tag::PRIVATE_KEY, vec![rsa_private]),
        vec![name_attr("orders.transparent")],
    );
    let r = exchange(&mut admin, &request((1, 4), vec![reg])).await.unwrap();
    let copy = payload_text(batch_items(&r)[0], Tag::UNIQUE_IDENTIFIER).unwrap_or_else(|| panic!("{r}"));
    let r = exchange(
        &mut admin,
        &request(
            (1, 4),
            vec![get_as(&copy, F::Pkcs8), op(Operation::Get, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &copy)])],
        ),
    )
    .await
    .unwrap();
    let again = key_block_of(&r, 0)
        .child(Tag::KEY_VALUE)
        .unwrap()
        .child(Tag::KEY_MATERIAL)
        .unwrap()
        .as_bytes()
        .unwrap()
        .to_vec();
    assert_eq!(again, pkcs8);
    assert_eq!(
        key_block_of(&r, 1).child(Tag::KEY_FORMAT_TYPE).unwrap().as_enum(),
        Some(F::TransparentRsaPrivateKey.value()),
        "by default Get answers in the registered format"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attribute_changes_are_not_lost() {
    let (node, _server, kmip) = kmip_node();
    let dir = node.dir.path().to_owned();
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();
    let r = exchange(&mut admin, &request((1, 4), vec![create_aes("orders.busy")])).await.unwrap();
    let uid = payload_text(batch_items(&r)[0], Tag::UNIQUE_IDENTIFIER).unwrap();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (dir, kmip, uid) = (dir.clone(), kmip.clone(), uid.clone());
        tasks.push(tokio::spawn(async move {
            let mut tls = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();
            for i in 0..5 {
                let add = op(
                    Operation::AddAttribute,
                    vec![
                        Item::text(Tag::UNIQUE_IDENTIFIER, &uid),
                        text_attr("x-writer", Item::text(Tag::ATTRIBUTE_VALUE, format!("{worker}-{i}"))),
                    ],
                );
                let r = exchange(&mut tls, &request((1, 4), vec![add])).await.unwrap();
                assert_eq!(status(batch_items(&r)[0]).0, Some(ResultStatus::Success), "{r}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let get = op(
        Operation::GetAttributes,
        vec![Item::text(Tag::UNIQUE_IDENTIFIER, &uid), Item::text(Tag::ATTRIBUTE_NAME, "x-writer")],
    );
    let r = exchange(&mut admin, &request((1, 4), vec![get])).await.unwrap();
    let values = batch_items(&r)[0].child(Tag::RESPONSE_PAYLOAD).unwrap().children(Tag::ATTRIBUTE).count();
    assert_eq!(values, 40, "every concurrent Add Attribute is kept");
}

/// Create of an AES-256 key with extra template attributes.
fn create_aes_with(name: &str, extra: Vec<Item>) -> Item {
    let mut create = create_aes(name);
    let template = create.child_mut(Tag::REQUEST_PAYLOAD).unwrap().child_mut(Tag::TEMPLATE_ATTRIBUTE).unwrap();
    template.as_struct_mut().unwrap().extend(extra);
    create
}

fn with_continue(bytes: Vec<u8>) -> Vec<u8> {
    let mut msg = decode(&bytes, &Limits::default()).unwrap();
    let header = msg.child_mut(Tag::REQUEST_HEADER).unwrap();
    header.as_struct_mut().unwrap().push(Item::enumeration(Tag::BATCH_ERROR_CONTINUATION_OPTION, 1u32));
    encode(&msg)
}

fn aes_params(mode: keyward_kmip::enums::BlockCipherMode) -> Item {
    Item::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, vec![Item::enumeration(Tag::BLOCK_CIPHER_MODE, mode.value())])
}

fn mask_attr(mask: i32) -> Item {
    text_attr("Cryptographic Usage Mask", Item::integer(Tag::ATTRIBUTE_VALUE, mask))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_nothing_they_should_not() {
    use keyward_kmip::enums::BlockCipherMode as M;
    let (node, _server, kmip) = kmip_node();
    let dir = node.dir.path().to_owned();
    let mut admin = connect(&dir, &kmip, Some("kmip-admin")).await.unwrap();
    let uid_of =
        |r: &Item, i: usize| payload_text(batch_items(r)[i], Tag::UNIQUE_IDENTIFIER).unwrap_or_else(|| panic!("{r}"));
    let reason = |r: &Item, i: usize| status(batch_items(r)[i]).1;

    // 1. A key that may wrap keys (AES without a narrower mask) is used with GCM only: ECB or
    //    CBC decryption would undo an AES key wrap block by block.
    let r = exchange(&mut admin, &request((1, 4), vec![create_aes("orders.kek"), op(Operation::Activate, vec![])]))
        .await
        .unwrap();
    let kek = uid_of(&r, 0);
    let ecb = op(
        Operation::Decrypt,
        vec![Item::text(Tag::UNIQUE_IDENTIFIER, &kek), aes_params(M::Ecb), Item::bytes(Tag::DATA, vec![0u8; 16])],
    );
    let r = exchange(&mut admin, &request((2, 0), vec![ecb])).await.unwrap();
    assert_eq!(reason(&r, 0), Some(ResultReason::IncompatibleCryptographicUsageMask), "{r}");

    // 2. A deactivated key decrypts with GCM but not with CTR (a CTR "decryption" encrypts).
    let r = exchange(
        &mut admin,
        &request(
            (1, 4),
            vec![create_aes_with("orders.old", vec![mask_attr(0x4 | 0x8)]), op(Operation::Activate, vec![])],
        ),
    )
    .await
    .unwrap();
    let old = uid_of(&r, 0);
    let revoke = op(
        Operation::Revoke,
        vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, &old),
            Item::structure(Tag::REVOCATION_REASON, vec![Item::enumeration(Tag::REVOCATION_REASON_CODE, 5u32)]),
        ],
    );
    let decrypt = |mode, tag: bool| {
        let mut p = vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, &old),
            aes_params(mode),
            Item::bytes(Tag::DATA, vec![0u8; 16]),
            Item::bytes(Tag::IV_COUNTER_NONCE, vec![0u8; if mode == M::Gcm { 12 } else { 16 }]),
        ];
        if tag {
            p.push(Item::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, vec![0u8; 16]));
        }
        op(Operation::Decrypt, p)
    };
    let r = exchange(
        &mut admin,
        &with_continue(request((2, 0), vec![revoke, decrypt(M::Ctr, false), decrypt(M::Gcm, true)])),
    )
    .await
    .unwrap();
    assert_eq!(status(batch_items(&r)[0]).0, Some(ResultStatus::Success), "{r}");
    assert_eq!(reason(&r, 1), Some(ResultReason::WrongKeyLifecycleState), "{r}");
    assert_eq!(reason(&r, 2), Some(ResultReason::CryptographicFailure), "GCM still decrypts (and checks the tag): {r}");

    // 2b. ...and a key that may run raw modes (its mask excludes Wrap Key) is no REST
    //     wrapping key: wrapping under it and then ECB-decrypting would give the key away.
    let raw = create_aes_with("orders.raw", vec![mask_attr(0x4 | 0x8)]);
    let r = exchange(&mut admin, &request((1, 4), vec![raw, op(Operation::Activate, vec![])])).await.unwrap();
    assert_eq!(status(batch_items(&r)[1]).0, Some(ResultStatus::Success), "{r}");
    let (addr, token, ca) = (_server.addr.clone(), node.token.clone(), dir.join("ca.pem").display().to_string());
    let refused = tokio::task::spawn_blocking(move || {
        let env = [("KEYWARD_ADDR", addr.as_str()), ("KEYWARD_TOKEN", token.as_str()), ("KEYWARD_CACERT", ca.as_str())];
        run(&["key", "export", "orders.kek", "--wrapping-key", "orders.raw"], &env, None)
    })
    .await
    .unwrap();
    assert!(!refused.status.success(), "export under a raw-mode key must be refused");
    assert!(stderr(&refused).contains("usage mask"), "{}", stderr(&refused));

    // 3. What is derived from a non-exportable key is not exportable either.
    let locked = create_aes_with(
        "orders.locked",
        vec![mask_attr(0x200), text_attr("Extractable", Item::boolean(Tag::ATTRIBUTE_VALUE, false))],
    );
    let derive = op(
        Operation::DeriveKey,
        vec![
            Item::enumeration(Tag::OBJECT_TYPE, ObjectType::SecretData.value()),
            Item::enumeration(Tag::DERIVATION_METHOD, 2u32),
            Item::structure(
                Tag::DERIVATION_PARAMETERS,
                vec![
                    Item::structure(
                        Tag::CRYPTOGRAPHIC_PARAMETERS,
                        vec![Item::enumeration(
                            Tag::HASHING_ALGORITHM,
                            keyward_kmip::enums::HashingAlgorithm::Sha256.value(),
                        )],
                    ),
                    Item::bytes(Tag::DERIVATION_DATA, b"x".to_vec()),
                ],
            ),
            Item::structure(
                Tag::TEMPLATE_ATTRIBUTE,
                vec![text_attr("Cryptographic Length", Item::integer(Tag::ATTRIBUTE_VALUE, 256))],
            ),
        ],
    );
    let r =
        exchange(&mut admin, &request((1, 4), vec![locked, op(Operation::Activate, vec![]), derive])).await.unwrap();
    let derived = uid_of(&r, 2);
    let r = exchange(
        &mut admin,
        &request((1, 4), vec![op(Operation::Get, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &derived)])]),
    )
    .await
    .unwrap();
    assert_eq!(reason(&r, 0), Some(ResultReason::PermissionDenied), "{r}");

    // 4. An absurd PBKDF2 iteration count is refused before any work.
    let pbkdf2 = op(
        Operation::DeriveKey,
        vec![
            Item::enumeration(Tag::OBJECT_TYPE, ObjectType::SecretData.value()),
            Item::text(Tag::UNIQUE_IDENTIFIER, &kek),
            Item::enumeration(Tag::DERIVATION_METHOD, 1u32),
            Item::structure(
                Tag::DERIVATION_PARAMETERS,
                vec![Item::bytes(Tag::SALT, b"salt".to_vec()), Item::integer(Tag::ITERATION_COUNT, i32::MAX)],
            ),
            Item::structure(
                Tag::TEMPLATE_ATTRIBUTE,
                vec![text_attr("Cryptographic Length", Item::integer(Tag::ATTRIBUTE_VALUE, 8192))],
            ),
        ],
    );
    let r = exchange(&mut admin, &request((1, 4), vec![pbkdf2])).await.unwrap();
    assert_eq!(status(batch_items(&r)[0]).0, Some(ResultStatus::OperationFailed), "{r}");

    // 5. A Sensitive key leaves only wrapped.
    let sensitive =
        create_aes_with("orders.sensitive", vec![text_attr("Sensitive", Item::boolean(Tag::ATTRIBUTE_VALUE, true))]);
    let r = exchange(&mut admin, &request((1, 4), vec![sensitive, op(Operation::Get, vec![])])).await.unwrap();
    assert_eq!(reason(&r, 1), Some(ResultReason::Sensitive), "{r}");

    // 6. An app certificate scoped to `orders.` cannot tell a `payroll.` key from a missing one,
    //    and cannot make objects (no RSA key is generated for it).
    let r = exchange(&mut admin, &request((1, 4), vec![create_aes("payroll.db")])).await.unwrap();
    let payroll = uid_of(&r, 0);
    let mut app = connect(&dir, &kmip, Some("client")).await.unwrap();
    let attrs = op(Operation::GetAttributes, vec![Item::text(Tag::UNIQUE_IDENTIFIER, &payroll)]);
    let r = exchange(&mut app, &request((1, 4), vec![attrs])).await.unwrap();
    assert_eq!(reason(&r, 0), Some(ResultReason::ItemNotFound), "{r}");
    let message = batch_items(&r)[0].child(Tag::RESULT_MESSAGE).unwrap().as_text().unwrap().to_owned();
    assert!(!message.contains("payroll"), "the name leaked: {message}");
    let r = exchange(&mut app, &request((1, 4), vec![create_key_pair(4, 4096)])).await.unwrap();
    assert_eq!(reason(&r, 0), Some(ResultReason::PermissionDenied), "{r}");

    // 7a. A Register template cannot relabel the key in the Key Block (AES-128 as HMAC-SHA512).
    let block = Item::structure(
        Tag::KEY_BLOCK,
        vec![
            Item::enumeration(Tag::KEY_FORMAT_TYPE, 1u32),
            Item::structure(Tag::KEY_VALUE, vec![Item::bytes(Tag::KEY_MATERIAL, vec![7u8; 16])]),
            Item::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, 3u32),
            Item::integer(Tag::CRYPTOGRAPHIC_LENGTH, 128),
        ],
    );
    let relabel = register(
        ObjectType::SymmetricKey,
        Item::structure(Tag::SYMMETRIC_KEY, vec![block]),
        vec![text_attr("Cryptographic Algorithm", Item::enumeration(Tag::ATTRIBUTE_VALUE, 0x0Bu32))],
    );
    let r = exchange(&mut admin, &request((1, 4), vec![relabel])).await.unwrap();
    assert_eq!(reason(&r, 0), Some(ResultReason::InvalidField), "{r}");

    // 7. A response is bounded: 40 RNG Retrieves of 64 KiB exceed 1 MiB, the rest is refused.
    let rng: Vec<Item> =
        (0..40).map(|_| op(Operation::RngRetrieve, vec![Item::integer(Tag::DATA_LENGTH, 65536)])).collect();
    let r = exchange(&mut admin, &with_continue(request((1, 4), rng))).await.unwrap();
    let items = batch_items(&r);
    assert_eq!(items.len(), 40);
    assert_eq!(status(items[0]).0, Some(ResultStatus::Success));
    assert_eq!(status(items[39]).1, Some(ResultReason::ResponseTooLarge), "the last items are refused");
}
