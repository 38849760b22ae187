// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! A second, independently written KMIP client against the real server: NLnet Labs'
//! `kmip-protocol` 0.4.3 (Rust, its own TTLV serde, OpenSSL for TLS), verifying the server
//! against the test CA and presenting a client certificate mapped to `admin`. It drives Query,
//! Discover Versions, Create (AES-256), Get, Create Key Pair (RSA-2048), Activate, Sign
//! (PKCS#1 v1.5 and PSS, checked with the `openssl` CLI), Revoke and Destroy.
//!
//! The client picks the protocol version per operation (1.0 for most, 1.1 for Discover
//! Versions, 1.2 for Query and Sign). The same exchanges are then repeated with the version in
//! every request header rewritten to each of 1.0–1.4, so the client's messages and its parsing
//! of the answers are checked at every 1.x version the server speaks. (Its payloads are 1.x
//! shaped: template attributes, so 2.0 is not tried.) The server does not tie operations to
//! the version they appeared in, so Sign (KMIP 1.2) is answered at 1.0 and 1.1 too.
//!
//! A [`Tap`] between the client and its TLS stream keeps the last request and response bytes:
//! when a step fails, the panic message shows both, decoded by `keyward-kmip`.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use keyward_kmip::{Limits, Tag, decode, encode, message_length};
use kmip_protocol::Config;
use kmip_protocol::client::{Client, ClientBuilder, ClientCertificate, ConnectionSettings, Error};
use kmip_protocol::types::common::{
    AttributeIndex, AttributeName, AttributeValue, CryptographicAlgorithm, CryptographicParameters, Data,
    HashingAlgorithm, KeyFormatType, KeyMaterial, ObjectType, Operation, PaddingMethod, UniqueIdentifier,
};
use kmip_protocol::types::request::{Attribute, RequestPayload, TemplateAttribute};
use kmip_protocol::types::response::{KeyBlock, ManagedObject, ResponsePayload};

/// The CN of the certificate kmip-protocol presents; `[[client_cert]]` maps it to `admin`.
const CN: &str = "kmip-protocol-interop";

/// What the test signs.
const MESSAGE: &[u8] = b"signed by keyward, asked by kmip-protocol";

/// A stream between the client and TLS that keeps the last exchange and can rewrite the
/// protocol version of each request.
struct Tap<S> {
    inner: S,
    /// Rewrites every request header's Protocol Version to this, if set.
    version: Option<(i32, i32)>,
    /// Bytes of a request not yet complete (the client writes one message at a time).
    pending: Vec<u8>,
    /// The last request as sent, after any rewrite.
    sent: Vec<u8>,
    /// The bytes read since that request.
    received: Vec<u8>,
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let total = message_length(&self.pending, &Limits::default()).map_err(std::io::Error::other)?;
        if let Some(total) = total.filter(|t| self.pending.len() >= *t) {
            let mut message: Vec<u8> = self.pending.drain(..total).collect();
            if let Some(v) = self.version {
                message = with_version(&message, v);
            }
            self.inner.write_all(&message)?;
            self.sent = message;
            self.received.clear();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<S: Read> Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.received.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// `message` (a request) with its header's Protocol Version set to `v`.
fn with_version(message: &[u8], (major, minor): (i32, i32)) -> Vec<u8> {
    let mut request = decode(message, &Limits::default()).unwrap();
    let version = request.child_mut(Tag::REQUEST_HEADER).unwrap().child_mut(Tag::PROTOCOL_VERSION).unwrap();
    *version.child_mut(Tag::PROTOCOL_VERSION_MAJOR).unwrap() =
        keyward_kmip::Item::integer(Tag::PROTOCOL_VERSION_MAJOR, major);
    *version.child_mut(Tag::PROTOCOL_VERSION_MINOR).unwrap() =
        keyward_kmip::Item::integer(Tag::PROTOCOL_VERSION_MINOR, minor);
    encode(&request)
}

/// TTLV bytes decoded by keyward-kmip, every value shown; hex if they do not decode.
fn show(bytes: &[u8]) -> String {
    match decode(bytes, &Limits::default()) {
        Ok(item) => item.unredacted().to_string(),
        Err(e) => format!("({e}) {}", hex::encode(bytes)),
    }
}

type Kmip<S> = Client<Tap<S>>;

/// The last request and response on `client`'s connection, for a failure's message.
fn last_exchange<S: Read + Write>(client: &Kmip<S>) -> String {
    let stream = client.inner();
    let tap = stream.lock().unwrap();
    format!("request sent:\n{}\nresponse received:\n{}", show(&tap.sent), show(&tap.received))
}

/// `result`, or a panic naming the step and showing the exchange.
#[track_caller]
fn step<S: Read + Write, R>(client: &Kmip<S>, what: &str, result: Result<R, Error>) -> R {
    result.unwrap_or_else(|e| panic!("{what}: {e}\n{}", last_exchange(client)))
}

/// The response status of the last exchange, as the server sent it.
fn last_result<S: Read + Write>(client: &Kmip<S>) -> (Option<u32>, Option<u32>) {
    let stream = client.inner();
    let tap = stream.lock().unwrap();
    let response = decode(&tap.received, &Limits::default()).unwrap();
    let item = response.child(Tag::BATCH_ITEM).unwrap();
    (
        item.child(Tag::RESULT_STATUS).and_then(keyward_kmip::Item::as_enum),
        item.child(Tag::RESULT_REASON).and_then(keyward_kmip::Item::as_enum),
    )
}

/// A kmip-protocol client over OpenSSL TLS to `kmip`, with the `interop` certificate, verifying
/// the server against `ca.pem`.
fn connect(dir: &Path, kmip: &str, version: Option<(i32, i32)>) -> Kmip<impl Read + Write> {
    let (host, port) = kmip.rsplit_once(':').unwrap();
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let settings = ConnectionSettings {
        host: host.to_owned(),
        port: port.parse().unwrap(),
        client_cert: Some(ClientCertificate::SeparatePem {
            cert_bytes: read("interop.pem"),
            key_bytes: Some(read("interop.key")),
        }),
        ca_cert: Some(read("ca.pem")),
        connect_timeout: Some(Duration::from_secs(5)),
        read_timeout: Some(Duration::from_secs(10)),
        write_timeout: Some(Duration::from_secs(10)),
        max_response_bytes: Some(1 << 20),
        ..Default::default()
    };
    let client = kmip_protocol::client::tls::openssl::connect(&settings).unwrap();
    // Take the TLS stream back out of the client and put the tap in front of it.
    let stream = client.inner();
    drop(client);
    let tls = Arc::try_unwrap(stream).ok().unwrap().into_inner().unwrap();
    let tap = Tap { inner: tls, version, pending: Vec::new(), sent: Vec::new(), received: Vec::new() };
    ClientBuilder::new(tap).with_reader_config(Config::default().with_max_bytes(1 << 20)).build()
}

fn attribute(name: &str, value: AttributeValue) -> Attribute {
    Attribute(AttributeName(name.into()), Option::<AttributeIndex>::None, value)
}

fn key_block(object: &ManagedObject) -> &KeyBlock {
    match object {
        ManagedObject::SymmetricKey(k) => &k.key_block,
        ManagedObject::PublicKey(k) => &k.key_block,
        ManagedObject::PrivateKey(k) => &k.key_block,
        other => panic!("not a key: {other:?}"),
    }
}

fn material(block: &KeyBlock) -> &[u8] {
    match &block.key_value.key_material {
        KeyMaterial::Bytes(b) => b,
        other => panic!("key material not as bytes: {other:?}"),
    }
}

/// `openssl args...` in `dir`: whether it succeeded.
fn openssl_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl").args(args).current_dir(dir).output().unwrap().status.success()
}

/// The whole sequence on one connection; `label` names the run (files, key names).
fn lifecycle(dir: &Path, kmip: &str, label: &str, version: Option<(i32, i32)>) {
    let client = connect(dir, kmip, version);

    // Query: operations, object types, server information. The operations listed are those of
    // the request's version (the client sends Query at 1.2 unless rewritten): a list with a
    // later operation (Set Attribute, 2.0) would not even parse here, as kmip-protocol knows
    // operations up to KMIP 1.2 only.
    let query_version = version.unwrap_or((1, 2));
    let q = match client.query() {
        Ok(q) => q,
        Err(e) => panic!("Query: {e}\n{}", last_exchange(&client)),
    };
    let ops = q.operations.clone().unwrap_or_default();
    let mut wanted = vec![
        Operation::Create,
        Operation::CreateKeyPair,
        Operation::Get,
        Operation::Activate,
        Operation::Revoke,
        Operation::Destroy,
        Operation::Query,
    ];
    if query_version >= (1, 1) {
        wanted.push(Operation::DiscoverVersions);
    }
    if query_version >= (1, 2) {
        wanted.push(Operation::Sign);
    } else {
        assert!(!ops.contains(&Operation::Sign), "{label}: Sign is a KMIP 1.2 operation: {q:?}");
    }
    for op in wanted {
        assert!(ops.contains(&op), "{label}: Query lists no {op:?}: {q:?}");
    }
    let types = q.object_types.clone().unwrap_or_default();
    for t in [ObjectType::SymmetricKey, ObjectType::PublicKey, ObjectType::PrivateKey] {
        assert!(types.contains(&t), "{label}: Query lists no {t:?}: {q:?}");
    }
    assert!(q.vendor_identification.as_deref().is_some_and(|v| !v.is_empty()), "{q:?}");

    // Discover Versions: every 1.x version is offered.
    let r = step(&client, "Discover Versions", client.do_request(RequestPayload::DiscoverVersions(vec![])));
    let ResponsePayload::DiscoverVersions(r) = r else { panic!("{r:?}") };
    let versions: Vec<(i32, i32)> =
        r.supported_versions.unwrap_or_default().iter().map(|v| (v.major, v.minor)).collect();
    for v in [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4)] {
        assert!(versions.contains(&v), "{label}: {versions:?}");
    }

    // Create: an AES-256 key, named, for encryption and decryption.
    let create = RequestPayload::Create(
        ObjectType::SymmetricKey,
        TemplateAttribute::unnamed(vec![
            Attribute::CryptographicAlgorithm(CryptographicAlgorithm::AES),
            Attribute::CryptographicLength(256),
            Attribute::Name(format!("interop.aes-{label}")),
            attribute("Cryptographic Usage Mask", AttributeValue::Integer(0x4 | 0x8)),
        ]),
    );
    let r = step(&client, "Create", client.do_request(create));
    let ResponsePayload::Create(created) = r else { panic!("{r:?}") };
    assert_eq!(created.object_type, ObjectType::SymmetricKey);
    let aes = created.unique_identifier.0;
    assert!(!aes.is_empty());

    // Get: 32 bytes of raw key material, AES, 256 bits.
    let got = step(&client, "Get (AES)", client.get_key(&aes));
    assert_eq!(got.object_type, ObjectType::SymmetricKey);
    assert_eq!(got.unique_identifier.0, aes);
    let block = key_block(&got.cryptographic_object);
    assert!(matches!(got.cryptographic_object, ManagedObject::SymmetricKey(_)));
    assert_eq!(block.key_format_type, KeyFormatType::Raw);
    assert_eq!(material(block).len(), 32);
    assert_eq!(block.cryptographic_algorithm, Some(CryptographicAlgorithm::AES));
    assert_eq!(block.cryptographic_length, Some(256));

    // Create Key Pair: RSA-2048, the private key for signing, the public one for verifying.
    let (private, public) = step(
        &client,
        "Create Key Pair",
        client.create_rsa_key_pair(2048, format!("interop.rsa-{label}"), format!("interop.rsa-{label}.pub")),
    );
    assert!(!private.is_empty() && !public.is_empty() && private != public);

    // A pre-active key does not sign; Activate it.
    let refused = client.sign(&private, MESSAGE);
    assert!(matches!(refused, Err(Error::ServerError(_))), "{label}: a pre-active key: {refused:?}");
    step(&client, "Activate", client.activate_key(&private));

    // The public key, as the client gets it: PKCS#1 for RSA.
    let got = step(&client, "Get (public key)", client.get_key(&public));
    assert_eq!(got.object_type, ObjectType::PublicKey);
    assert!(matches!(got.cryptographic_object, ManagedObject::PublicKey(_)));
    let block = key_block(&got.cryptographic_object);
    assert_eq!(block.key_format_type, KeyFormatType::PKCS1);
    assert_eq!(block.cryptographic_algorithm, Some(CryptographicAlgorithm::RSA));
    assert_eq!(block.cryptographic_length, Some(2048));
    let (pub_der, pub_pem) = (format!("{label}-pub.der"), format!("{label}-pub.pem"));
    std::fs::write(dir.join(&pub_der), material(block)).unwrap();
    openssl(dir, &["rsa", "-RSAPublicKey_in", "-inform", "DER", "-in", &pub_der, "-pubout", "-out", &pub_pem]);
    let data = format!("{label}-data.bin");
    std::fs::write(dir.join(&data), MESSAGE).unwrap();

    // Sign as the client does it: RSA, PKCS#1 v1.5, SHA-256.
    let signed = step(&client, "Sign (PKCS#1 v1.5)", client.sign(&private, MESSAGE));
    assert_eq!(signed.unique_identifier.0, private);
    assert_eq!(signed.signature_data.len(), 256);
    let sig = format!("{label}-pkcs1.sig");
    std::fs::write(dir.join(&sig), &signed.signature_data).unwrap();
    openssl(dir, &["dgst", "-sha256", "-verify", &pub_pem, "-signature", &sig, &data]);
    let tampered = format!("{label}-tampered.bin");
    std::fs::write(dir.join(&tampered), b"not what was signed").unwrap();
    assert!(!openssl_ok(dir, &["dgst", "-sha256", "-verify", &pub_pem, "-signature", &sig, &tampered]));

    // And with PSS, the request composed with the client's types.
    let request = RequestPayload::Sign(
        Some(UniqueIdentifier(private.clone())),
        Some(
            CryptographicParameters::default()
                .with_padding_method(PaddingMethod::PSS)
                .with_hashing_algorithm(HashingAlgorithm::SHA256)
                .with_cryptographic_algorithm(CryptographicAlgorithm::RSA),
        ),
        Data(MESSAGE.to_vec()),
    );
    let r = step(&client, "Sign (PSS)", client.do_request(request));
    let ResponsePayload::Sign(signed) = r else { panic!("{r:?}") };
    let sig = format!("{label}-pss.sig");
    std::fs::write(dir.join(&sig), &signed.signature_data).unwrap();
    let pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"];
    openssl(dir, &[&["dgst", "-sha256"][..], &pss, &["-verify", &pub_pem, "-signature", &sig, &data]].concat());

    // Revoke (Cessation of Operation): the key no longer signs.
    step(&client, "Revoke", client.revoke_key(&private));
    let refused = client.sign(&private, MESSAGE);
    assert!(matches!(refused, Err(Error::ServerError(_))), "{label}: a revoked key: {refused:?}");

    // Destroy all three; Get then finds nothing.
    for (what, id) in [("private key", &private), ("public key", &public), ("AES key", &aes)] {
        step(&client, &format!("Destroy ({what})"), client.destroy_key(id));
    }
    for id in [&private, &public, &aes] {
        match client.get_key(id) {
            Err(Error::ItemNotFound(_)) => {}
            other => panic!("{label}: Get after Destroy: {other:?}\n{}", last_exchange(&client)),
        }
    }
    // Item Not Found, status Operation Failed, as the server sent it.
    assert_eq!(last_result(&client), (Some(1), Some(1)));
}

#[test]
fn kmip_protocol_client_drives_the_key_lifecycle() {
    let started = Instant::now();
    let node = Node::init_passphrase();
    let dir = node.dir.path();
    make_pki(dir);
    client_cert(dir, "interop", CN);
    let roles = format!("[[client_cert]]\nsubject_cn = \"{CN}\"\nrole = \"admin\"\n");
    let (_server, kmip) = spawn_kmip_server(&node, "keyward.toml", "data", &roles);

    // The client's own choice of versions, then every 1.x version forced.
    lifecycle(dir, &kmip, "default", None);
    for v in [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4)] {
        lifecycle(dir, &kmip, &format!("v{}.{}", v.0, v.1), Some(v));
    }
    eprintln!("kmip-protocol interop: {:?}", started.elapsed());
}
