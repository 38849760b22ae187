// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Golden TTLV vectors: the request and response bytes of PyKMIP 0.11.0's ProxyKmipClient talking
//! to Keyward at KMIP 1.2 and 2.0, in `tests/vectors/kmip/<version>/NN-name.ttlv` (made by
//! `scripts/capture-kmip-vectors`; the format is in `tests/vectors/kmip/README.md`). No Python is needed
//! here.
//!
//! 1. Every vector decodes, re-encodes to the same bytes, and its response says what its header's
//!    `# result:` lines say.
//! 2. The requests are replayed, in order, one TLS connection per version, against a fresh server.
//!    Identifiers and byte strings the golden server made (Unique Identifiers, ciphertext,
//!    signatures) are replaced in later requests by what the live server answered, and each live
//!    response must have the golden one's shape: same items, tags and types everywhere; the same
//!    operations, result statuses, reasons, enumerations, integers, booleans and texts; byte strings
//!    of the same length, and equal to the golden ones when the client itself sent them earlier
//!    (registered key material, the plaintext). Not compared: dates, big integers, result messages,
//!    vendor identification and server information. Query may list more operations and object types
//!    than it did, not fewer.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use keyward_kmip::enums::{Operation, ResultReason, ResultStatus};
use keyward_kmip::{HEADER_LEN, Item, Limits, Tag, Value, decode, encode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The CN of the certificate the replay presents; `[[client_cert]]` maps it to `admin`, as the
/// capture's was.
const CLIENT_CN: &str = "pykmip-vectors";

/// The KMIP versions that must have vectors.
const VERSIONS: &[&str] = &["1.2", "2.0"];

/// Tags whose text values are object identifiers the server chose.
const ID_TAGS: &[Tag] =
    &[Tag::UNIQUE_IDENTIFIER, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER, Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER];

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/kmip")
}

/// One `# result:` line: operation, status, reason, by their specification names.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    operation: String,
    status: String,
    reason: Option<String>,
}

/// One `.ttlv` file.
struct Vector {
    /// `1.2/05-register-secret-data.ttlv`.
    name: String,
    kmip_version: String,
    results: Vec<Outcome>,
    request: Vec<u8>,
    response: Vec<u8>,
}

fn parse_vector(name: &str, text: &str) -> Vector {
    let (mut kmip_version, mut results) = (None, Vec::new());
    let (mut request, mut response) = (String::new(), String::new());
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{name}:{}", n + 1);
        if let Some(comment) = line.strip_prefix('#') {
            assert!(section.is_none(), "{}: the # header comes before request:", at());
            if let Some(v) = comment.strip_prefix(" kmip-version: ") {
                kmip_version = Some(v.trim().to_owned());
            } else if let Some(r) = comment.strip_prefix(" result: ") {
                let (operation, outcome) = r.split_once(": ").unwrap_or_else(|| panic!("{}: result OP: STATUS", at()));
                let (status, reason) = match outcome.split_once(", ") {
                    Some((s, r)) => (s, Some(r.to_owned())),
                    None => (outcome, None),
                };
                results.push(Outcome { operation: operation.to_owned(), status: status.to_owned(), reason });
            }
            continue;
        }
        match line {
            "request:" => section = Some(0),
            "response:" => section = Some(1),
            hex_line => {
                assert!(
                    hex_line.len() <= 64 && hex_line.len() % 2 == 0 && hex_line.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}: expected a hex line of at most 64 digits, found {hex_line:?}",
                    at()
                );
                match section {
                    Some(0) => request.push_str(hex_line),
                    Some(1) => response.push_str(hex_line),
                    _ => panic!("{}: hex before request:", at()),
                }
            }
        }
    }
    assert!(!results.is_empty(), "{name}: no # result: line");
    Vector {
        name: name.to_owned(),
        kmip_version: kmip_version.unwrap_or_else(|| panic!("{name}: no # kmip-version: line")),
        results,
        request: hex::decode(&request).unwrap_or_else(|e| panic!("{name}: request: {e}")),
        response: hex::decode(&response).unwrap_or_else(|e| panic!("{name}: response: {e}")),
    }
}

/// Every version directory and its vectors in file-name order.
fn load() -> BTreeMap<String, Vec<Vector>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let version = entry.file_name().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(entry.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "ttlv"))
            .collect();
        files.sort();
        let vectors: Vec<Vector> = files
            .iter()
            .map(|p| {
                let name = format!("{version}/{}", p.file_name().unwrap().to_string_lossy());
                parse_vector(&name, &std::fs::read_to_string(p).unwrap())
            })
            .collect();
        out.insert(version, vectors);
    }
    for v in VERSIONS {
        assert!(out.get(*v).is_some_and(|x| !x.is_empty()), "no vectors for KMIP {v} in {}", vectors_dir().display());
    }
    out
}

fn protocol_version(message: &Item, header: Tag) -> String {
    let v = message.child(header).and_then(|h| h.child(Tag::PROTOCOL_VERSION)).unwrap();
    let part = |t| v.child(t).and_then(Item::as_int).unwrap();
    format!("{}.{}", part(Tag::PROTOCOL_VERSION_MAJOR), part(Tag::PROTOCOL_VERSION_MINOR))
}

/// Operation, status and reason of each batch item of a response, by specification name.
fn outcomes(response: &Item) -> Vec<Outcome> {
    response
        .children(Tag::BATCH_ITEM)
        .map(|item| Outcome {
            operation: item
                .child(Tag::OPERATION)
                .and_then(Item::as_kmip_enum::<Operation>)
                .map_or("?", Operation::name)
                .to_owned(),
            status: item
                .child(Tag::RESULT_STATUS)
                .and_then(Item::as_kmip_enum::<ResultStatus>)
                .map_or("?", ResultStatus::name)
                .to_owned(),
            reason: item
                .child(Tag::RESULT_REASON)
                .map(|r| r.as_kmip_enum::<ResultReason>().map_or("?", ResultReason::name).to_owned()),
        })
        .collect()
}

fn request_operations(request: &Item) -> Vec<Option<u32>> {
    request.children(Tag::BATCH_ITEM).map(|i| i.child(Tag::OPERATION).and_then(Item::as_enum)).collect()
}

#[test]
fn vectors_round_trip_and_match_their_headers() {
    let limits = Limits::default();
    let mut total = 0;
    for (version, vectors) in load() {
        for v in &vectors {
            total += v.request.len() + v.response.len();
            for (what, bytes) in [("request", &v.request), ("response", &v.response)] {
                let item =
                    decode(bytes, &limits).unwrap_or_else(|e| panic!("{}: the {what} does not decode: {e}", v.name));
                assert!(encode(&item) == *bytes, "{}: the {what} does not re-encode to the same bytes", v.name);
            }
            let request = decode(&v.request, &limits).unwrap();
            let response = decode(&v.response, &limits).unwrap();
            assert_eq!(request.tag, Tag::REQUEST_MESSAGE, "{}", v.name);
            assert_eq!(response.tag, Tag::RESPONSE_MESSAGE, "{}", v.name);
            assert_eq!(v.kmip_version, version, "{}: the header's kmip-version and the directory differ", v.name);
            assert_eq!(protocol_version(&request, Tag::REQUEST_HEADER), version, "{}: request version", v.name);
            assert_eq!(protocol_version(&response, Tag::RESPONSE_HEADER), version, "{}: response version", v.name);
            assert_eq!(outcomes(&response), v.results, "{}: the response and the header's result lines differ", v.name);
            let answered: Vec<Option<u32>> =
                response.children(Tag::BATCH_ITEM).map(|i| i.child(Tag::OPERATION).and_then(Item::as_enum)).collect();
            assert_eq!(answered, request_operations(&request), "{}: the response answers other operations", v.name);
        }
    }
    assert!(total < 300_000, "the vectors hold {total} bytes; keep them small");
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(dir: &Path, addr: &str, identity: &str) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs = vec![CertificateDer::from_pem_file(dir.join(format!("{identity}.pem"))).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{identity}.key"))).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Sends one request and reads one response message, as bytes.
async fn exchange(tls: &mut Tls, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    tls.write_all(bytes).await?;
    let mut header = [0u8; HEADER_LEN];
    tls.read_exact(&mut header).await?;
    let len = keyward_kmip::message_length(&header, &Limits::default())
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .ok_or_else(|| std::io::Error::other("short header"))?;
    let mut message = header.to_vec();
    message.resize(len, 0);
    tls.read_exact(&mut message[HEADER_LEN..]).await?;
    Ok(message)
}

/// What one version's replay has learnt so far.
#[derive(Default)]
struct Replay {
    /// Golden identifier -> the live server's.
    ids: HashMap<String, String>,
    /// Golden byte string the server made (ciphertext, signature, key material) -> the live one.
    bytes: HashMap<Vec<u8>, Vec<u8>>,
    /// Every byte string of the golden requests sent so far: values the client chose.
    sent: HashSet<Vec<u8>>,
}

impl Replay {
    /// The golden request with what the live server made in place of what the golden one made.
    fn substitute(&self, item: &mut Item) {
        match &mut item.value {
            Value::Structure(children) => children.iter_mut().for_each(|c| self.substitute(c)),
            Value::TextString(s) => {
                if let Some(live) = self.ids.get(s.as_str()) {
                    *s = live.clone();
                }
            }
            Value::ByteString(b) => {
                if let Some(live) = self.bytes.get(b.as_slice()) {
                    *b = live.clone();
                }
            }
            _ => {}
        }
    }

    fn remember_sent(&mut self, item: &Item) {
        match &item.value {
            Value::Structure(children) => children.iter().for_each(|c| self.remember_sent(c)),
            Value::ByteString(b) => {
                self.sent.insert(b.clone());
            }
            _ => {}
        }
    }

    /// Compares a live response item with the golden one (see the module comment), learning the
    /// live server's identifiers and byte strings on the way.
    /// `grows`: the item is the payload of a Query answer.
    fn compare(&mut self, golden: &Item, live: &Item, path: &str, grows: bool, problems: &mut Vec<String>) {
        let here = format!("{path}/{}", golden.tag);
        if golden.tag != live.tag || golden.value.item_type() != live.value.item_type() {
            problems.push(format!(
                "{here}: expected {} {}, the server answered {} {}",
                golden.tag,
                golden.value.item_type(),
                live.tag,
                live.value.item_type()
            ));
            return;
        }
        match (&golden.value, &live.value) {
            (Value::Structure(g), Value::Structure(l)) => {
                let query = golden.tag == Tag::BATCH_ITEM
                    && golden.child(Tag::OPERATION).and_then(Item::as_kmip_enum) == Some(Operation::Query);
                self.compare_children(g, l, &here, grows, query, problems)
            }
            (Value::TextString(g), Value::TextString(l)) if ID_TAGS.contains(&golden.tag) => match self.ids.get(g) {
                Some(mapped) if mapped != l => {
                    problems.push(format!("{here}: expected the object made as {mapped}, got {l}"))
                }
                Some(_) => {}
                None => {
                    if self.ids.values().any(|v| v == l) {
                        problems.push(format!("{here}: a new object was expected, got the known {l}"));
                    }
                    self.ids.insert(g.clone(), l.clone());
                }
            },
            (Value::TextString(_), Value::TextString(_))
                if [Tag::RESULT_MESSAGE, Tag::VENDOR_IDENTIFICATION].contains(&golden.tag)
                    || path.contains("/Server Information") => {}
            (Value::ByteString(g), Value::ByteString(l)) => {
                if self.sent.contains(g) {
                    if g != l {
                        problems.push(format!("{here}: expected the {} bytes the client sent, got others", g.len()));
                    }
                } else if g.len() != l.len() {
                    problems.push(format!("{here}: expected {} bytes, got {}", g.len(), l.len()));
                } else if g != l {
                    self.bytes.insert(g.clone(), l.clone());
                }
            }
            (Value::BigInteger(_), _) | (Value::DateTime(_), _) | (Value::DateTimeExtended(_), _) => {}
            (g, l) => {
                if g != l {
                    let show = |i: &Item| i.unredacted().to_string().trim().to_owned();
                    problems.push(format!("{here}: expected {}, got {}", show(golden), show(live)));
                }
            }
        }
    }

    /// `grows`: these are the items of a Query answer's payload; `query`: of a Query batch item.
    fn compare_children(
        &mut self,
        golden: &[Item],
        live: &[Item],
        path: &str,
        grows: bool,
        query: bool,
        problems: &mut Vec<String>,
    ) {
        // Query lists what the server can do: the lists may grow, but nothing may disappear.
        let (golden, live): (Vec<&Item>, Vec<&Item>) = if grows {
            let listed = |i: &&Item| i.tag == Tag::OPERATION || i.tag == Tag::OBJECT_TYPE;
            for g in golden.iter().filter(listed) {
                if !live.contains(g) {
                    problems.push(format!("{path}: Query no longer lists {}", g.unredacted().to_string().trim()));
                }
            }
            (golden.iter().filter(|i| !listed(i)).collect(), live.iter().filter(|i| !listed(i)).collect())
        } else {
            (golden.iter().collect(), live.iter().collect())
        };
        let tags = |items: &[&Item]| items.iter().map(|i| i.tag.to_string()).collect::<Vec<_>>().join(", ");
        if golden.len() != live.len() {
            problems.push(format!(
                "{path}: expected {} items [{}], the server answered {} [{}]",
                golden.len(),
                tags(&golden),
                live.len(),
                tags(&live)
            ));
            return;
        }
        for (g, l) in golden.iter().zip(&live) {
            self.compare(g, l, path, query && g.tag == Tag::RESPONSE_PAYLOAD, problems);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_requests_get_the_golden_answers() {
    let all = load();
    let node = Node::init_passphrase();
    let dir = node.dir.path();
    make_pki(dir);
    client_cert(dir, "vectors", CLIENT_CN);
    let roles = format!("[[client_cert]]\nsubject_cn = \"{CLIENT_CN}\"\nrole = \"admin\"\n");
    let (_server, kmip) = spawn_kmip_server(&node, "keyward.toml", "data", &roles);
    let limits = Limits::default();
    let mut problems = Vec::new();
    // The capture ran the versions in this order against one server, so the replay does too.
    for (version, vectors) in &all {
        let mut tls = connect(dir, &kmip, "vectors").await;
        let mut replay = Replay::default();
        for v in vectors {
            let mut request = decode(&v.request, &limits).unwrap();
            replay.remember_sent(&request);
            replay.substitute(&mut request);
            let answer = tokio::time::timeout(Duration::from_secs(20), exchange(&mut tls, &encode(&request)))
                .await
                .unwrap_or_else(|_| panic!("{}: no answer within 20 s", v.name))
                .unwrap_or_else(|e| panic!("{}: the exchange failed: {e}", v.name));
            let live =
                decode(&answer, &limits).unwrap_or_else(|e| panic!("{}: the answer does not decode: {e}", v.name));
            let golden = decode(&v.response, &limits).unwrap();
            let before = problems.len();
            let got = outcomes(&live);
            if got != v.results {
                problems.push(format!("expected {:?}, the server answered {got:?}", v.results));
            }
            let ops: Vec<String> = v.results.iter().map(|r| r.operation.to_uppercase().replace(' ', "_")).collect();
            replay.compare(&golden, &live, &ops.join("+"), false, &mut problems);
            if problems.len() > before {
                let mut lines = problems.split_off(before);
                lines.push(format!("the live answer:\n{}", live.unredacted()));
                problems.push(format!("KMIP {version}: {}:\n  {}", v.name, lines.join("\n  ")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the server's answers differ from the golden vectors in tests/vectors/kmip (if the change is intended, \
         regenerate them with scripts/capture-kmip-vectors and review the diff):\n{}",
        problems.join("\n")
    );
}

/// The comparison rules themselves, on hand-made items.
#[test]
fn replay_comparison_rules() {
    let t = |tag, s: &str| Item::text(tag, s);
    let status = Item::enumeration(Tag::RESULT_STATUS, ResultStatus::Success);
    let answer = |op: Operation, payload: Vec<Item>| {
        Item::structure(
            Tag::BATCH_ITEM,
            vec![
                Item::enumeration(Tag::OPERATION, op),
                status.clone(),
                Item::structure(Tag::RESPONSE_PAYLOAD, payload),
            ],
        )
    };
    let check = |r: &mut Replay, golden: &Item, live: &Item| {
        let mut problems = Vec::new();
        r.compare(golden, live, "T", false, &mut problems);
        problems
    };
    let mut r = Replay::default();

    // Query may list more, not less; vendor texts are not compared.
    let op = |o: Operation| Item::enumeration(Tag::OPERATION, o);
    let golden = answer(Operation::Query, vec![op(Operation::Get), t(Tag::VENDOR_IDENTIFICATION, "Keyward 0.1")]);
    let more = answer(
        Operation::Query,
        vec![op(Operation::Get), op(Operation::Hash), t(Tag::VENDOR_IDENTIFICATION, "Keyward 0.2")],
    );
    assert!(check(&mut r, &golden, &more).is_empty());
    let less = answer(Operation::Query, vec![t(Tag::VENDOR_IDENTIFICATION, "Keyward 0.1")]);
    assert_eq!(check(&mut r, &golden, &less).len(), 1);
    // Elsewhere a longer list is a different shape.
    let golden = answer(Operation::Get, vec![op(Operation::Get)]);
    assert_eq!(check(&mut r, &golden, &answer(Operation::Get, vec![op(Operation::Get), op(Operation::Hash)])).len(), 1);

    // Identifiers: learnt from the first answer, then checked and substituted.
    let uid = |s| t(Tag::UNIQUE_IDENTIFIER, s);
    assert!(
        check(&mut r, &answer(Operation::Create, vec![uid("g1")]), &answer(Operation::Create, vec![uid("l1")]))
            .is_empty()
    );
    assert!(
        check(&mut r, &answer(Operation::Get, vec![uid("g1")]), &answer(Operation::Get, vec![uid("l1")])).is_empty()
    );
    assert_eq!(
        check(&mut r, &answer(Operation::Get, vec![uid("g1")]), &answer(Operation::Get, vec![uid("l2")])).len(),
        1
    );
    assert_eq!(
        check(&mut r, &answer(Operation::Create, vec![uid("g2")]), &answer(Operation::Create, vec![uid("l1")])).len(),
        1,
        "a new object must have a new identifier"
    );
    let mut request = Item::structure(Tag::REQUEST_PAYLOAD, vec![uid("g1"), uid("unknown")]);
    r.substitute(&mut request);
    assert_eq!(request, Item::structure(Tag::REQUEST_PAYLOAD, vec![uid("l1"), uid("unknown")]));

    // Byte strings the client sent must come back as they were; the server's own may differ in value.
    let data = |b: &[u8]| Item::bytes(Tag::DATA, b.to_vec());
    r.remember_sent(&Item::structure(Tag::REQUEST_PAYLOAD, vec![data(b"plain")]));
    let (g, l) = (answer(Operation::Decrypt, vec![data(b"plain")]), answer(Operation::Decrypt, vec![data(b"plaix")]));
    assert_eq!(check(&mut r, &g, &l).len(), 1);
    let (g, l) =
        (answer(Operation::Encrypt, vec![data(b"golden-ct")]), answer(Operation::Encrypt, vec![data(b"live-ct--")]));
    assert!(check(&mut r, &g, &l).is_empty());
    let (g, l) =
        (answer(Operation::Encrypt, vec![data(b"golden-ct")]), answer(Operation::Encrypt, vec![data(b"short")]));
    assert_eq!(check(&mut r, &g, &l).len(), 1);
    let mut request = Item::structure(Tag::REQUEST_PAYLOAD, vec![data(b"golden-ct")]);
    r.substitute(&mut request);
    assert_eq!(request, Item::structure(Tag::REQUEST_PAYLOAD, vec![data(b"live-ct--")]));

    // Enumerations, integers and types are compared; dates are not.
    let e = |v: u32| Item::enumeration(Tag::STATE, v);
    assert_eq!(check(&mut r, &answer(Operation::Get, vec![e(1)]), &answer(Operation::Get, vec![e(2)])).len(), 1);
    let d = |v| Item::date_time(Tag::INITIAL_DATE, v);
    assert!(check(&mut r, &answer(Operation::Get, vec![d(1)]), &answer(Operation::Get, vec![d(2)])).is_empty());
    assert_eq!(
        check(
            &mut r,
            &answer(Operation::Get, vec![d(1)]),
            &answer(Operation::Get, vec![Item::integer(Tag::INITIAL_DATE, 1)])
        )
        .len(),
        1
    );
}
