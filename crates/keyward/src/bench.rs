//! `keyward bench`: drives a running server with N concurrent connections and reports throughput
//! and latency per workload, over REST (HTTP/JSON, the default) or over KMIP (`--kmip HOST:PORT`:
//! TTLV over TLS with a client certificate, one connection per worker). The KMIP mode speaks
//! plain KMIP and so measures other KMIP servers too (`scripts/bench-kmip` runs it against
//! PyKMIP's server). A measurement tool, not a test: it asserts nothing, but every failed
//! operation is counted as an error and the first failure of each workload is shown.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation, PaddingMethod, ResultReason, ResultStatus,
};
use keyward_kmip::{Item, Limits, Tag, decode, encode, message_length};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{BenchArgs, Format, Global};
use crate::client_cmds::client;

struct Outcome {
    ops: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    elapsed: Duration,
    first_error: Option<String>,
}

/// What one worker measured.
#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl WorkerResult {
    fn ok(&mut self, started: Instant) {
        self.latencies_us.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }

    fn failed(&mut self, why: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why());
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted.get(idx).copied().unwrap_or(0)) / 1000.0
}

/// Waits for every worker and folds their results into one outcome.
async fn gather(tasks: Vec<tokio::task::JoinHandle<WorkerResult>>, started: Instant) -> anyhow::Result<Outcome> {
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let w = t.await?;
        all.extend(w.latencies_us);
        errors += w.errors;
        if first_error.is_none() {
            first_error = w.first_error;
        }
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    Ok(Outcome { ops: all.len() as u64, errors, latencies_us: all, elapsed, first_error })
}

pub async fn run(global: &Global, args: BenchArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.kmip.is_some() {
        return kmip::run(global, args).await;
    }
    let c = client(global)?;
    let ops = if args.ops.is_empty() { vec!["health".into(), "encrypt".into(), "create".into()] } else { args.ops };
    let run_id: String = keyward_crypto::random_array::<4>()?.iter().map(|b| format!("{b:02x}")).collect();
    let mut results = Vec::new();
    for op in &ops {
        let (path, body, is_get): (String, Option<Value>, bool) = match op.as_str() {
            "health" => ("/v1/sys/health".into(), None, true),
            "encrypt" => {
                let name = format!("bench-{run_id}-aes");
                c.post("/v1/keys", &json!({"name": name, "type": "aes-256"})).await?;
                let pt = B64.encode(vec![0x5au8; 1024]);
                (keyward_client::Client::key_path(&name, "/encrypt"), Some(json!({"plaintext": pt})), false)
            }
            "create" => ("/v1/keys".into(), None, false),
            other => bail!("unknown workload {other:?}: use health, encrypt or create"),
        };
        let deadline = Instant::now() + Duration::from_secs(args.duration);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..args.concurrency {
            // A client, and so a connection, per worker: over HTTPS one shared client would
            // multiplex every worker's requests over a single HTTP/2 connection.
            let c = client(global)?;
            let path = path.clone();
            let body = body.clone();
            let op = op.clone();
            let run_id = run_id.clone();
            tasks.push(tokio::spawn(async move {
                let mut w = WorkerResult::default();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = if is_get {
                        c.get(&path).await
                    } else if op == "create" {
                        i += 1;
                        c.post(&path, &json!({"name": format!("bench-{run_id}-{worker}-{i}"), "type": "aes-256"})).await
                    } else {
                        c.post(&path, body.as_ref().unwrap_or(&Value::Null)).await
                    };
                    match r {
                        Ok(_) => w.ok(t),
                        Err(e) => w.failed(|| e.to_string()),
                    }
                }
                w
            }));
        }
        results.push((op.clone(), gather(tasks, started).await?));
    }
    let reported = report(global, args.concurrency, "rest", &results);
    if global.format == Format::Table {
        println!("(keys created by this run are named bench-{run_id}-*)");
    }
    reported
}

/// Prints the results; an error (exit status 1, after the report) if any operation failed.
fn report(global: &Global, concurrency: usize, protocol: &str, results: &[(String, Outcome)]) -> anyhow::Result<()> {
    let rows: Vec<Value> = results
        .iter()
        .map(|(op, o)| {
            json!({
                "protocol": protocol,
                "workload": op,
                "concurrency": concurrency,
                "ops": o.ops,
                "errors": o.errors,
                "ops_per_sec": (o.ops as f64 / o.elapsed.as_secs_f64()).round(),
                "p50_ms": (percentile(&o.latencies_us, 0.50) * 100.0).round() / 100.0,
                "p99_ms": (percentile(&o.latencies_us, 0.99) * 100.0).round() / 100.0,
                "first_error": o.first_error,
            })
        })
        .collect();
    let whole = json!({"results": rows});
    crate::output::print_rows(
        global.format,
        &whole,
        &rows,
        &["protocol", "workload", "concurrency", "ops", "errors", "ops_per_sec", "p50_ms", "p99_ms"],
    );
    if global.format == Format::Table {
        for (op, o) in results {
            if let Some(e) = &o.first_error {
                println!("{op}: {} operations failed; the first: {e}", o.errors);
            }
        }
    }
    if results.iter().any(|(_, o)| o.errors > 0) {
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

/// The KMIP mode. Requests are built once per workload and sent as the same bytes each time
/// (the CBC workload writes a fresh IV into its copy), so the client spends its share of the
/// machine on TLS and framing, not on encoding.
mod kmip {
    use super::*;

    /// One request/response round trip longer than this counts as a failure (and the
    /// connection is replaced).
    const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
    const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
    const PLAINTEXT_LEN: usize = 1024;
    /// Encrypt | Decrypt.
    const USAGE_MASK: i32 = 0x4 | 0x8;

    type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

    /// Where and how to connect.
    struct Target {
        addr: String,
        server_name: ServerName<'static>,
        connector: tokio_rustls::TlsConnector,
    }

    impl Target {
        async fn connect(&self) -> anyhow::Result<Tls> {
            let attempt = async {
                let tcp = tokio::net::TcpStream::connect(&self.addr).await?;
                tcp.set_nodelay(true)?;
                let mut tls = self.connector.connect(self.server_name.clone(), tcp).await?;
                tls.flush().await?;
                anyhow::Ok(tls)
            };
            tokio::time::timeout(CONNECT_TIMEOUT, attempt)
                .await
                .map_err(|_| anyhow::anyhow!("no TLS connection to {} within {CONNECT_TIMEOUT:?}", self.addr))?
                .with_context(|| format!("cannot open a TLS connection to the KMIP server at {}", self.addr))
        }
    }

    fn read_certs(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("cannot read the {what} {}", path.display()))?;
        if certs.is_empty() {
            bail!("the {what} {} holds no PEM certificate", path.display());
        }
        Ok(certs)
    }

    fn target(args: &BenchArgs, addr: &str) -> anyhow::Result<Target> {
        let (Some(cert), Some(key), Some(ca)) = (&args.kmip_cert, &args.kmip_key, &args.kmip_ca) else {
            bail!("--kmip needs --kmip-cert, --kmip-key and --kmip-ca");
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(ca, "CA certificate file")? {
            roots.add(c).with_context(|| format!("cannot use the CA certificate in {}", ca.display()))?;
        }
        let chain = read_certs(cert, "client certificate")?;
        let key = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("cannot read the client private key {}", key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // TLS 1.2 too: KMIP servers (PyKMIP's among them) often speak nothing newer.
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .context("the client certificate and key do not make a TLS identity")?;
        let host = match &args.kmip_server_name {
            Some(n) => n.clone(),
            None => {
                let (host, _port) = addr.rsplit_once(':').context("--kmip takes HOST:PORT")?;
                host.trim_start_matches('[').trim_end_matches(']').to_owned()
            }
        };
        let server_name =
            ServerName::try_from(host.clone()).with_context(|| format!("{host:?} is not a valid server name"))?;
        Ok(Target { addr: addr.to_owned(), server_name, connector: tokio_rustls::TlsConnector::from(Arc::new(config)) })
    }

    fn parse_version(s: &str) -> anyhow::Result<(i32, i32)> {
        let parsed = s.split_once('.').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        match parsed {
            Some(v @ ((1, 0..=4) | (2, 0))) => Ok(v),
            _ => bail!("--kmip-version {s:?}: use 1.0 to 1.4 or 2.0"),
        }
    }

    /// One request message of one batch item.
    fn request(version: (i32, i32), operation: Operation, payload: Vec<Item>) -> Vec<u8> {
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
                Item::integer(Tag::BATCH_COUNT, 1),
            ],
        );
        let item = Item::structure(
            Tag::BATCH_ITEM,
            vec![Item::enumeration(Tag::OPERATION, operation), Item::structure(Tag::REQUEST_PAYLOAD, payload)],
        );
        encode(&Item::structure(Tag::REQUEST_MESSAGE, vec![header, item]))
    }

    /// An attribute as `version` carries it: 1.x names it in an `Attribute`; 2.0 tags it.
    fn attribute(version: (i32, i32), value: Item) -> Item {
        if version.0 >= 2 {
            return value;
        }
        let name = value.tag.name().unwrap_or_default();
        Item::structure(
            Tag::ATTRIBUTE,
            vec![Item::text(Tag::ATTRIBUTE_NAME, name), Item { tag: Tag::ATTRIBUTE_VALUE, value: value.value }],
        )
    }

    /// Create: an AES-256 key that may encrypt and decrypt.
    fn create_request(version: (i32, i32)) -> Vec<u8> {
        let attributes = vec![
            attribute(version, Item::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::Aes)),
            attribute(version, Item::integer(Tag::CRYPTOGRAPHIC_LENGTH, 256)),
            attribute(version, Item::integer(Tag::CRYPTOGRAPHIC_USAGE_MASK, USAGE_MASK)),
        ];
        let container = if version.0 >= 2 { Tag::ATTRIBUTES } else { Tag::TEMPLATE_ATTRIBUTE };
        request(
            version,
            Operation::Create,
            vec![Item::enumeration(Tag::OBJECT_TYPE, ObjectType::SymmetricKey), Item::structure(container, attributes)],
        )
    }

    /// The byte offset of the 16-byte IV value in an encoded Encrypt request.
    fn iv_offset(bytes: &[u8]) -> Option<usize> {
        // Tag 0x42003D (IV/Counter/Nonce), type 0x08 (Byte String), length 16.
        const IV_HEADER: [u8; 8] = [0x42, 0x00, 0x3D, 0x08, 0, 0, 0, 16];
        bytes.windows(IV_HEADER.len()).position(|w| w == IV_HEADER).map(|at| at + IV_HEADER.len())
    }

    /// Encrypt 1 KiB with the key `uid`: the request and, for CBC, where its IV goes.
    fn encrypt_request(version: (i32, i32), uid: &str, cipher: &str) -> anyhow::Result<(Vec<u8>, Option<usize>)> {
        // In the order KMIP defines for the structure: some servers (PyKMIP's) read it in order.
        let cbc = cipher == "cbc";
        let aes = Item::enumeration(Tag::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::Aes);
        let params = if cbc {
            vec![
                Item::enumeration(Tag::BLOCK_CIPHER_MODE, BlockCipherMode::Cbc),
                Item::enumeration(Tag::PADDING_METHOD, PaddingMethod::Pkcs5),
                aes,
            ]
        } else {
            // Servers that implement GCM to the letter (PyKMIP's) want the tag length named.
            vec![
                Item::enumeration(Tag::BLOCK_CIPHER_MODE, BlockCipherMode::Gcm),
                aes,
                Item::integer(Tag::TAG_LENGTH, 16),
            ]
        };
        let mut payload = vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, uid),
            Item::structure(Tag::CRYPTOGRAPHIC_PARAMETERS, params),
            Item::bytes(Tag::DATA, vec![0x5au8; PLAINTEXT_LEN]),
        ];
        if cbc {
            payload.push(Item::bytes(Tag::IV_COUNTER_NONCE, [0u8; 16]));
        }
        let bytes = request(version, Operation::Encrypt, payload);
        let iv_at = if cbc { Some(iv_offset(&bytes).context("the encoded request has no IV")?) } else { None };
        Ok((bytes, iv_at))
    }

    /// Sends one request and reads one response message.
    async fn exchange(tls: &mut Tls, request: &[u8], buf: &mut Vec<u8>) -> anyhow::Result<Item> {
        tls.write_all(request).await?;
        let mut header = [0u8; keyward_kmip::HEADER_LEN];
        tls.read_exact(&mut header).await?;
        let len = message_length(&header, &Limits::default())
            .context("the server's response cannot be framed")?
            .context("short response header")?;
        buf.clear();
        buf.extend_from_slice(&header);
        buf.resize(len, 0);
        tls.read_exact(buf.get_mut(header.len()..).unwrap_or_default()).await?;
        decode(buf, &Limits::default()).context("the server's response is not valid TTLV")
    }

    /// The response payload of a one-item response, or why the operation failed.
    fn success(response: &Item) -> Result<&Item, String> {
        let Some(item) = response.child(Tag::BATCH_ITEM) else {
            return Err(format!("the response holds no batch item: {response}"));
        };
        let status = item.child(Tag::RESULT_STATUS).and_then(Item::as_kmip_enum::<ResultStatus>);
        if status != Some(ResultStatus::Success) {
            let reason = item
                .child(Tag::RESULT_REASON)
                .and_then(Item::as_kmip_enum::<ResultReason>)
                .map(ResultReason::name)
                .unwrap_or("no reason");
            let message = item.child(Tag::RESULT_MESSAGE).and_then(Item::as_text).unwrap_or_default();
            let status = status.map(ResultStatus::name).unwrap_or("no status");
            return Err(format!("{status}: {reason}: {message}"));
        }
        item.child(Tag::RESPONSE_PAYLOAD).ok_or_else(|| "a successful response without a payload".to_owned())
    }

    /// Checks what a workload's successful response must carry.
    fn check(workload: &str, response: &Item) -> Result<(), String> {
        let payload = success(response)?;
        match workload {
            "encrypt" => match payload.child(Tag::DATA).and_then(Item::as_bytes) {
                Some(ct) if ct.len() >= PLAINTEXT_LEN => Ok(()),
                Some(ct) => Err(format!("Encrypt returned {} bytes for {PLAINTEXT_LEN}", ct.len())),
                None => Err("Encrypt returned no Data".into()),
            },
            "create" => match payload.child(Tag::UNIQUE_IDENTIFIER).and_then(Item::as_text) {
                Some(_) => Ok(()),
                None => Err("Create returned no Unique Identifier".into()),
            },
            _ => Ok(()),
        }
    }

    /// One setup operation whose failure stops the benchmark.
    async fn setup(tls: &mut Tls, bytes: &[u8], what: &str) -> anyhow::Result<Item> {
        let mut buf = Vec::new();
        let response = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(tls, bytes, &mut buf))
            .await
            .map_err(|_| anyhow::anyhow!("{what}: no answer within {EXCHANGE_TIMEOUT:?}"))??;
        let payload = success(&response).map_err(|e| anyhow::anyhow!("{what} failed: {e}"))?;
        Ok(payload.clone())
    }

    /// Creates and activates the AES-256 key the encrypt workload uses; returns its identifier.
    async fn encryption_key(target: &Target, version: (i32, i32)) -> anyhow::Result<String> {
        let mut tls = target.connect().await?;
        let created = setup(&mut tls, &create_request(version), "Create of the benchmark key").await?;
        let uid = created
            .child(Tag::UNIQUE_IDENTIFIER)
            .and_then(Item::as_text)
            .context("Create of the benchmark key returned no Unique Identifier")?
            .to_owned();
        let activate = request(version, Operation::Activate, vec![Item::text(Tag::UNIQUE_IDENTIFIER, uid.clone())]);
        setup(&mut tls, &activate, "Activate of the benchmark key").await?;
        let _ = tls.shutdown().await;
        Ok(uid)
    }

    pub async fn run(global: &Global, args: BenchArgs) -> anyhow::Result<()> {
        let addr = args.kmip.clone().unwrap_or_default();
        let version = parse_version(&args.kmip_version)?;
        let target = Arc::new(target(&args, &addr)?);
        let ops = if args.ops.is_empty() { vec!["encrypt".into(), "create".into()] } else { args.ops.clone() };
        let mut results = Vec::new();
        for op in &ops {
            let (label, bytes, iv_at) = match op.as_str() {
                "encrypt" => {
                    let uid = encryption_key(&target, version).await?;
                    let (bytes, iv_at) = encrypt_request(version, &uid, &args.kmip_cipher)?;
                    (format!("encrypt aes-256-{}", args.kmip_cipher), bytes, iv_at)
                }
                "create" => ("create aes-256".into(), create_request(version), None),
                "discover" => ("discover versions".into(), request(version, Operation::DiscoverVersions, vec![]), None),
                other => bail!("unknown KMIP workload {other:?}: use encrypt, create or discover"),
            };
            // Every worker connects before the clock starts: handshakes are not measured.
            let mut conns = Vec::with_capacity(args.concurrency);
            for pending in (0..args.concurrency).map(|_| {
                let target = target.clone();
                tokio::spawn(async move { target.connect().await })
            }) {
                conns.push(pending.await??);
            }
            let bytes = Arc::new(bytes);
            let deadline = Instant::now() + Duration::from_secs(args.duration);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for conn in conns {
                let (target, bytes, workload) = (target.clone(), bytes.clone(), op.clone());
                tasks.push(tokio::spawn(worker(target, conn, bytes, iv_at, workload, deadline)));
            }
            results.push((label, gather(tasks, started).await?));
        }
        report(global, args.concurrency, &format!("kmip {}.{}", version.0, version.1), &results)
    }

    async fn worker(
        target: Arc<Target>,
        conn: Tls,
        template: Arc<Vec<u8>>,
        iv_at: Option<usize>,
        workload: String,
        deadline: Instant,
    ) -> WorkerResult {
        let mut w = WorkerResult::default();
        let mut conn = Some(conn);
        let mut request = template.to_vec();
        let mut buf = Vec::new();
        while Instant::now() < deadline {
            let Some(tls) = conn.as_mut() else {
                // The previous exchange broke the connection: a new one, or a pause before retrying.
                match target.connect().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        w.failed(|| format!("{e:#}"));
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                    }
                }
                continue;
            };
            if let Some(at) = iv_at {
                match (keyward_crypto::random_array::<16>(), request.get_mut(at..at + 16)) {
                    (Ok(iv), Some(slot)) => slot.copy_from_slice(&iv),
                    _ => {
                        w.failed(|| "cannot make an IV".into());
                        continue;
                    }
                }
            }
            let t = Instant::now();
            match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(tls, &request, &mut buf)).await {
                Ok(Ok(response)) => match check(&workload, &response) {
                    Ok(()) => w.ok(t),
                    Err(e) => w.failed(|| e),
                },
                Ok(Err(e)) => {
                    w.failed(|| format!("connection failed: {e:#}"));
                    conn = None;
                }
                Err(_) => {
                    w.failed(|| format!("no response within {EXCHANGE_TIMEOUT:?}"));
                    conn = None;
                }
            }
            if conn.is_none() {
                // A server that refuses every connection (a certificate it rejects only after the
                // handshake, as TLS 1.3 allows) is not hammered: pause before reconnecting.
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
        if let Some(mut tls) = conn {
            let _ = tls.shutdown().await;
        }
        w
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]
        use super::*;

        #[test]
        fn requests_decode_and_the_cbc_iv_is_found() {
            for version in [(1, 2), (1, 4), (2, 0)] {
                let create = decode(&create_request(version), &Limits::default()).unwrap();
                let payload = create.child(Tag::BATCH_ITEM).unwrap().child(Tag::REQUEST_PAYLOAD).unwrap();
                let container = if version.0 >= 2 { Tag::ATTRIBUTES } else { Tag::TEMPLATE_ATTRIBUTE };
                assert_eq!(payload.child(container).unwrap().as_struct().unwrap().len(), 3);

                let (gcm, iv) = encrypt_request(version, "k1", "gcm").unwrap();
                assert!(iv.is_none());
                decode(&gcm, &Limits::default()).unwrap();
                let (mut cbc, iv) = encrypt_request(version, "k1", "cbc").unwrap();
                let at = iv.unwrap();
                cbc[at..at + 16].copy_from_slice(&[7u8; 16]);
                let m = decode(&cbc, &Limits::default()).unwrap();
                let payload = m.child(Tag::BATCH_ITEM).unwrap().child(Tag::REQUEST_PAYLOAD).unwrap();
                assert_eq!(payload.child(Tag::IV_COUNTER_NONCE).unwrap().as_bytes().unwrap(), &[7u8; 16]);
                assert_eq!(payload.child(Tag::DATA).unwrap().as_bytes().unwrap().len(), PLAINTEXT_LEN);
            }
            assert!(parse_version("1.5").is_err());
            assert_eq!(parse_version("2.0").unwrap(), (2, 0));
        }
    }
}
