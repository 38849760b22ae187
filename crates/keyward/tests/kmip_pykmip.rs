// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! PyKMIP 0.11.0's own integration suite (`kmip/tests/integration` of its source distribution,
//! 37 active tests) run by its own pytest against a real Keyward with a KMIP listener, at KMIP
//! 1.2, 1.4 and 2.0. `scripts/setup-pykmip` (called by `scripts/setup-test-deps`) builds the venv
//! and unpacks the suite under `target/pykmip`; our `tests/pykmip/conftest.py` replaces the
//! suite's own, in a scratch copy. Nothing of PyKMIP is in this repository.
//!
//! The lists below name the tests expected to pass at each version: one of them failing fails
//! this test; a test passing that is not listed yet is printed, so that the list grows as the
//! operations land (`cargo test -p keyward --test kmip_pykmip -- --nocapture` shows the table).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// What `pytest -m "not ignore"` collects from PyKMIP 0.11.0's integration suite.
const SUITE_SIZE: usize = 37;

/// Tests expected to pass, as `Class::test`, per KMIP version the clients speak.
/// Every collected test is expected to pass except these, per version, each with the reason. The
/// four at 2.0 fail inside PyKMIP's client before a request is sent, or in the test itself.
const KNOWN_FAILING_1_2: &[(&str, &str)] = &[];
const KNOWN_FAILING_1_4: &[(&str, &str)] = &[];
const KNOWN_FAILING_2_0: &[(&str, &str)] = &[
    ("TestIntegration::test_modify_delete_attribute", "the test reads a 1.x Attribute Index, which KMIP 2.0 dropped"),
    (
        "TestIntegration::test_symmetric_key_create_getattributes_locate_destroy",
        "PyKMIP's client refuses to encode Operation Policy Name at 2.0 (AttributeNotSupported)",
    ),
    (
        "TestProxyKmipClientIntegration::test_create_getattributes_locate_destroy",
        "PyKMIP's client refuses to encode Operation Policy Name at 2.0 (AttributeNotSupported)",
    ),
    (
        "TestProxyKmipClientIntegration::test_modify_delete_attribute",
        "PyKMIP's client builds a 2.0 Modify Attribute without New Attribute and refuses to send it",
    ),
];

const VERSIONS: &[(&str, &[(&str, &str)])] =
    &[("1.2", KNOWN_FAILING_1_2), ("1.4", KNOWN_FAILING_1_4), ("2.0", KNOWN_FAILING_2_0)];

/// The CN of the certificate PyKMIP presents; `[[client_cert]]` maps it to `admin`.
const PYKMIP_CN: &str = "pykmip-integration";

/// One pytest run may not take longer than this (a hung server must not hang the suite).
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// `target/pykmip` of this workspace, or `KEYWARD_PYKMIP_DIR`.
fn pykmip_dir() -> PathBuf {
    match std::env::var_os("KEYWARD_PYKMIP_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pykmip"),
    }
}

/// A fresh node serving KMIP on a loopback port, and a PyKMIP configuration file (section
/// `[keyward]`) for it.
fn pykmip_node() -> (Node, Server, PathBuf) {
    let node = Node::init_passphrase();
    let dir = node.dir.path();
    make_pki(dir);
    client_cert(dir, "pykmip", PYKMIP_CN);
    let roles = format!("[[client_cert]]\nsubject_cn = \"{PYKMIP_CN}\"\nrole = \"admin\"\n");
    let (server, kmip) = spawn_kmip_server(&node, "keyward.toml", "data", &roles);
    let (host, port) = kmip.rsplit_once(':').unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let conf = dir.join("pykmip.conf");
    std::fs::write(
        &conf,
        format!(
            "[keyward]\nhost = {host}\nport = {port}\ncertfile = {}\nkeyfile = {}\nca_certs = {}\n\
             cert_reqs = CERT_REQUIRED\nssl_version = PROTOCOL_SSLv23\ndo_handshake_on_connect = True\n\
             suppress_ragged_eofs = True\ntimeout = 20\n",
            path("pykmip.pem"),
            path("pykmip.key"),
            path("ca.pem")
        ),
    )
    .unwrap();
    (node, server, conf)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// One test case of the junit report.
#[derive(Debug, Default)]
struct Case {
    passed: bool,
    skipped: bool,
    /// The failure or error text (pytest's traceback).
    failure: String,
    /// Our conftest's properties: `kmip_trace` and `tls`.
    properties: BTreeMap<String, String>,
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of `name="…"` in an opening tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

/// The test cases of pytest's junit XML, by `Class::test` (a hand parse: pytest writes it with
/// ElementTree, which escapes `<`, `>`, `&` and `"` in attribute values and `<`, `>`, `&` in text).
fn parse_junit(xml: &str) -> BTreeMap<String, Case> {
    let mut cases: BTreeMap<String, Case> = BTreeMap::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<testcase ") {
        rest = &rest[i..];
        let open_end = rest.find('>').unwrap();
        let open = &rest[..=open_end];
        let body = if open.ends_with("/>") {
            ""
        } else {
            &rest[open_end + 1..rest.find("</testcase>").expect("a closed testcase")]
        };
        rest = &rest[open_end + 1 + body.len()..];
        let class = attr(open, "classname").unwrap_or_default();
        let class = class.rsplit('.').next().unwrap_or_default();
        let key = format!("{class}::{}", attr(open, "name").unwrap_or_default());
        let case = cases.entry(key).or_insert_with(|| Case { passed: true, ..Case::default() });
        for kind in ["<failure", "<error"] {
            let mut b = body;
            while let Some(j) = b.find(kind) {
                b = &b[j..];
                let tag_end = b.find('>').unwrap();
                let tag = &b[..=tag_end];
                let text = if tag.ends_with("/>") {
                    String::new()
                } else {
                    let close = format!("</{}>", &kind[1..]);
                    unescape(&b[tag_end + 1..b.find(&close).unwrap_or(b.len())])
                };
                case.passed = false;
                case.failure.push_str(&if text.is_empty() { attr(tag, "message").unwrap_or_default() } else { text });
                case.failure.push('\n');
                b = &b[tag_end + 1..];
            }
        }
        if body.contains("<skipped") {
            case.passed = false;
            case.skipped = true;
        }
        let mut b = body;
        while let Some(j) = b.find("<property ") {
            b = &b[j..];
            let tag = &b[..=b.find('>').unwrap()];
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                case.properties.insert(n, v);
            }
            b = &b[tag.len()..];
        }
    }
    cases
}

/// The first answer in a test's KMIP exchanges that was not a success, e.g.
/// `CREATE OPERATION_FAILED/OPERATION_NOT_SUPPORTED (operation Create is not supported yet)`.
fn first_non_success(case: &Case) -> Option<&str> {
    let trace = case.properties.get("kmip_trace")?;
    trace.split(" | ").flat_map(|exchange| exchange.split(" + ")).find(|answer| {
        let mut words = answer.split_whitespace();
        words.next();
        words.next() != Some("SUCCESS")
    })
}

/// Where a failure happened and why, in one short line: the deepest frame of a test method
/// (else of the suite's files) and the last line of the traceback.
fn short_failure(case: &Case) -> String {
    let lines: Vec<&str> = case.failure.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let in_suite = |l: &&&str| l.starts_with("File \"") && l.contains("/services/test_");
    let frame = lines.iter().rev().filter(in_suite).find(|l| l.contains(", in test_"));
    let frame = frame.or_else(|| lines.iter().rev().find(in_suite));
    let last = lines.iter().rev().find(|l| !l.starts_with("File \"") && !l.starts_with('^')).copied().unwrap_or("");
    let mut out = String::new();
    if let Some(f) = frame {
        let f = f.rsplit_once("/services/").map_or(*f, |(_, tail)| tail).replace("\", line ", ":");
        out.push_str(&format!("at {f}: "));
    }
    out.push_str(last);
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Runs the suite at one KMIP version against a fresh server; returns its cases and what pytest
/// printed last.
fn run_suite(venv_pytest: &Path, suite: &Path, version: &str) -> (BTreeMap<String, Case>, String) {
    let (node, _server, conf) = pykmip_node();
    let dir = node.dir.path();
    let scratch = dir.join("suite");
    copy_dir(suite, &scratch.join("integration"));
    std::fs::write(scratch.join("integration/conftest.py"), include_str!("pykmip/conftest.py")).unwrap();
    // Our own ini file, so that no pytest configuration above the scratch directory is used.
    std::fs::write(scratch.join("pytest.ini"), "[pytest]\n").unwrap();
    let junit = dir.join(format!("junit-{version}.xml"));
    let log = dir.join(format!("pytest-{version}.log"));
    let mut child = Command::new(venv_pytest)
        .current_dir(&scratch)
        .args([
            "integration",
            "-c",
            "pytest.ini",
            "-m",
            "not ignore",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:warnings",
            "-q",
            "-rN",
        ])
        .arg(format!("--junitxml={}", junit.display()))
        .args(["--config", "keyward", "--pykmip-conf", &conf.display().to_string(), "--kmip-version", version])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
        .spawn()
        .expect("run PyKMIP's pytest");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            let tail = output.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
            panic!(
                "KMIP {version}: PyKMIP's suite did not finish within {RUN_LIMIT:?}; it printed last:\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = output.lines().rev().take(15).collect();
    let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    // 0: all passed; 1: some failed. Anything else (usage error, internal error, nothing
    // collected) means the suite did not run as intended.
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "KMIP {version}: pytest exited with {status}; the end of its output:\n{tail}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{}: {e}\n{tail}", junit.display()));
    (parse_junit(&xml), tail)
}

#[test]
fn pykmip_integration_suite() {
    let dir = pykmip_dir();
    let pytest = dir.join("venv/bin/pytest");
    let suite = dir.join("src/kmip/tests/integration");
    assert!(
        pytest.exists() && suite.join("services").is_dir(),
        "PyKMIP 0.11.0 and its integration suite are not set up in {}: run scripts/setup-pykmip \
         (scripts/test and scripts/setup-test-deps run it)",
        dir.display()
    );

    let mut problems = Vec::new();
    for &(version, known_failing) in VERSIONS {
        let (cases, tail) = run_suite(&pytest, &suite, version);
        let expected: Vec<&str> =
            cases.keys().map(String::as_str).filter(|n| !known_failing.iter().any(|(k, _)| k == n)).collect();
        let passed: Vec<&String> = cases.iter().filter(|(_, c)| c.passed).map(|(k, _)| k).collect();
        let tls: Vec<&str> = cases.values().filter_map(|c| c.properties.get("tls").map(String::as_str)).collect();
        let tls = tls.first().copied().unwrap_or("no connection opened");
        println!("KMIP {version}: {}/{} passed; TLS {tls}", passed.len(), cases.len());
        if cases.len() != SUITE_SIZE {
            problems.push(format!(
                "KMIP {version}: pytest collected {} tests, expected {SUITE_SIZE} (the suite changed or did not \
                 load); the end of its output:\n{tail}",
                cases.len()
            ));
        }
        for name in &expected {
            match cases.get(*name) {
                None => problems.push(format!("KMIP {version}: {name} was not run")),
                Some(case) if !case.passed => {
                    let kmip = first_non_success(case).unwrap_or("no KMIP answer failed");
                    problems.push(format!(
                        "KMIP {version}: {name} failed: {}\n    first non-success KMIP answer: {kmip}",
                        short_failure(case)
                    ));
                }
                Some(_) => {}
            }
        }
        for name in passed.iter().filter(|n| !expected.contains(&n.as_str())) {
            println!("  passes but is listed in KNOWN_FAILING for {version}: \"{name}\"");
        }
        // What the failing tests met first, grouped: what to implement next.
        let mut reasons: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, case) in cases.iter().filter(|(_, c)| !c.passed) {
            let reason = match first_non_success(case) {
                Some(answer) => answer.to_owned(),
                None if case.skipped => "skipped".to_owned(),
                None => short_failure(case),
            };
            let reason = match first_non_success(case) {
                Some(_) => format!("{reason} [{}]", short_failure(case)),
                None => reason,
            };
            reasons.entry(reason).or_default().push(name);
        }
        for (reason, names) in &reasons {
            println!("  {} failing, first met {reason}: {}", names.len(), names.join(", "));
        }
    }
    assert!(problems.is_empty(), "PyKMIP's integration suite against Keyward:\n{}", problems.join("\n"));
}

#[test]
fn junit_parse_reads_cases_failures_and_properties() {
    let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="integration.services.test_integration.TestIntegration" name="test_query" time="0.004"><properties><property name="kmip_trace" value="QUERY SUCCESS | LOCATE OPERATION_FAILED/OPERATION_NOT_SUPPORTED (operation Locate is not supported yet)" /><property name="tls" value="TLSv1.3 TLS_AES_256_GCM_SHA384" /></properties></testcase>
<testcase classname="integration.services.test_proxykmipclient.TestProxyKmipClientIntegration" name="test_encrypt_decrypt" time="0.1"><properties><property name="kmip_trace" value="DISCOVER_VERSIONS SUCCESS + CREATE OPERATION_FAILED/OPERATION_NOT_SUPPORTED (operation Create is &quot;not&quot; supported yet)" /></properties><failure message="line one&#10;line two">Traceback (most recent call last):
  File "/tmp/x/integration/services/test_proxykmipclient.py", line 900, in test_encrypt_decrypt
    uid = self.client.create(
kmip.pie.exceptions.KmipOperationFailure: OPERATION_FAILED: OPERATION_NOT_SUPPORTED - a &lt;b&gt; &amp; c</failure></testcase>
<testcase classname="a.B" name="test_skip"><skipped message="no" /></testcase>
</testsuite></testsuites>"#;
    let cases = parse_junit(xml);
    assert_eq!(cases.len(), 3);
    let q = &cases["TestIntegration::test_query"];
    assert!(q.passed);
    assert_eq!(q.properties["tls"], "TLSv1.3 TLS_AES_256_GCM_SHA384");
    assert_eq!(
        first_non_success(q).unwrap(),
        "LOCATE OPERATION_FAILED/OPERATION_NOT_SUPPORTED (operation Locate is not supported yet)"
    );
    let e = &cases["TestProxyKmipClientIntegration::test_encrypt_decrypt"];
    assert!(!e.passed);
    assert_eq!(
        first_non_success(e).unwrap(),
        "CREATE OPERATION_FAILED/OPERATION_NOT_SUPPORTED (operation Create is \"not\" supported yet)"
    );
    assert_eq!(
        short_failure(e),
        "at test_proxykmipclient.py:900, in test_encrypt_decrypt: \
         kmip.pie.exceptions.KmipOperationFailure: OPERATION_FAILED: OPERATION_NOT_SUPPORTED - a <b> & c"
    );
    assert_eq!(attr(r#"<failure message="line one&#10;line two">"#, "message").unwrap(), "line one\nline two");
    assert!(cases["B::test_skip"].skipped);
}
