// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Bad input over the REST API: every one gets a 4xx that names the problem, changes nothing,
//! and the server keeps serving.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::{Value, json};

#[test]
fn bad_requests_are_named_and_harmless() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let t = Some(node.token.as_str());
    let url = |p: &str| format!("{}{p}", server.addr);
    let post = |p: &str, body: &str| http("POST", &url(p), t, Some(body));

    assert_eq!(post("/v1/keys", r#"{"name":"aes","type":"aes-256"}"#).0, 201);
    assert_eq!(post("/v1/keys", r#"{"name":"ed","type":"ed25519"}"#).0, 201);

    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        ("/v1/keys", r#"{"name":"x","type":"aes-256""#.into(), 400, "invalid_json", "malformed"),
        ("/v1/keys", r#"{"name":"x"}"#.into(), 400, "invalid_json", "type"),
        ("/v1/keys", r#"{"name":"x","type":"aes-512"}"#.into(), 400, "invalid_input", "aes-512"),
        ("/v1/keys", r#"{"name":"bad name","type":"aes-256"}"#.into(), 400, "invalid_input", "key name"),
        ("/v1/keys", r#"{"name":"aes","type":"aes-256"}"#.into(), 409, "name_taken", "already exists"),
        ("/v1/keys/nope/encrypt", r#"{"plaintext":"aGk="}"#.into(), 404, "no_such_key", "nope"),
        ("/v1/keys/ed/encrypt", r#"{"plaintext":"aGk="}"#.into(), 400, "wrong_key_type", "ed25519"),
        ("/v1/keys/aes/sign", r#"{"message":"aGk="}"#.into(), 400, "wrong_key_type", "aes-256"),
        ("/v1/keys/aes/encrypt", r#"{"plaintext":"%%%"}"#.into(), 400, "invalid_input", "base64"),
        ("/v1/keys/aes/decrypt", r#"{"ciphertext":"hello"}"#.into(), 400, "invalid_input", "keyward:v1"),
        ("/v1/keys/aes/state", r#"{"state":"sleepy"}"#.into(), 400, "invalid_input", "sleepy"),
    ];
    for (path, body, status, code, needle) in cases {
        let (s, v) = post(path, &body);
        assert_eq!(s, status, "{path} {body}: {v}");
        assert_eq!(v["error"]["code"], code, "{path} {body}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{path} {body}: message {msg:?} should mention {needle:?}");
    }

    // A ciphertext with one bit flipped anywhere in its payload is refused.
    let (_, v) = post(
        "/v1/keys/aes/encrypt",
        &json!({"plaintext": B64.encode(b"attack at dawn"), "aad": B64.encode(b"ctx")}).to_string(),
    );
    let ct = v["ciphertext"].as_str().unwrap().to_owned();
    let (head, payload) = ct.rsplit_once(':').unwrap();
    let raw = B64.decode(payload).unwrap();
    for i in [0, raw.len() / 2, raw.len() - 1] {
        let mut bad = raw.clone();
        bad[i] ^= 0x01;
        let tampered = format!("{head}:{}", B64.encode(&bad));
        let (s, v) =
            post("/v1/keys/aes/decrypt", &json!({"ciphertext": tampered, "aad": B64.encode(b"ctx")}).to_string());
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some("decrypt_failed")), "bit flip at {i}");
    }
    let (s, v) = post("/v1/keys/aes/decrypt", &json!({"ciphertext": ct, "aad": B64.encode(b"other")}).to_string());
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("decrypt_failed")));
    // A ciphertext of one key presented to another is named as such.
    assert_eq!(post("/v1/keys", r#"{"name":"aes2","type":"aes-256"}"#).0, 201);
    let (s, v) = post("/v1/keys/aes2/decrypt", &json!({"ciphertext": ct}).to_string());
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("foreign_ciphertext")));
    let (s, v) = post("/v1/keys/aes/decrypt", &json!({"ciphertext": ct, "aad": B64.encode(b"ctx")}).to_string());
    assert_eq!(s, 200, "{v}");
    assert_eq!(B64.decode(v["plaintext"].as_str().unwrap()).unwrap(), b"attack at dawn");

    // Disabled and destroyed keys.
    assert_eq!(post("/v1/keys/aes/disable", "{}").0, 200);
    let (s, v) = post("/v1/keys/aes/encrypt", r#"{"plaintext":"aGk="}"#);
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("key_disabled")));
    assert_eq!(post("/v1/keys/aes/destroy", r#"{"force":true}"#).0, 200);
    let (s, v) = post("/v1/keys/aes/decrypt", &json!({"ciphertext": ct}).to_string());
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("key_state")), "{v}");

    let (s, v) = http("GET", &url("/v1/nowhere"), t, None);
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("no_such_route")));
    let (s, _) = http("GET", &url("/v1/sys/health"), None, None);
    assert_eq!(s, 200, "the server keeps serving");
}

#[test]
fn tokens_and_roles() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    let root = node.token.as_str();
    let url = |p: &str| format!("{}{p}", server.addr);
    for name in ["orders.db", "payroll.db"] {
        assert_eq!(
            http("POST", &url("/v1/keys"), Some(root), Some(&json!({"name": name, "type": "aes-256"}).to_string())).0,
            201
        );
    }
    let token = |body: Value| -> String {
        let (s, v) = http("POST", &url("/v1/tokens"), Some(root), Some(&body.to_string()));
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_owned()
    };
    let app = token(json!({"role": "app", "prefixes": ["orders."], "name": "orders-service"}));
    let backup = token(json!({"role": "backup"}));
    let operator = token(json!({"role": "operator"}));
    let enc = json!({"plaintext": "aGk="}).to_string();

    // No token, a made-up token: 401.
    assert_eq!(http("GET", &url("/v1/keys"), None, None).0, 401);
    assert_eq!(http("GET", &url("/v1/keys"), Some("kw.madeup"), None).0, 401);
    // The app token works inside its prefix only, and lists only its keys.
    assert_eq!(http("POST", &url("/v1/keys/orders.db/encrypt"), Some(&app), Some(&enc)).0, 200);
    let (s, v) = http("POST", &url("/v1/keys/payroll.db/encrypt"), Some(&app), Some(&enc));
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
    let (_, v) = http("GET", &url("/v1/keys"), Some(&app), None);
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    assert_eq!(http("POST", &url("/v1/keys"), Some(&app), Some(r#"{"name":"orders.x","type":"aes-256"}"#)).0, 403);
    // Backup reads metadata but cannot use keys; operators manage keys but not tokens.
    assert_eq!(http("GET", &url("/v1/keys/payroll.db"), Some(&backup), None).0, 200);
    assert_eq!(http("POST", &url("/v1/keys/payroll.db/encrypt"), Some(&backup), Some(&enc)).0, 403);
    assert_eq!(http("POST", &url("/v1/keys/payroll.db/rotate"), Some(&operator), Some("{}")).0, 200);
    assert_eq!(http("POST", &url("/v1/tokens"), Some(&operator), Some(r#"{"role":"admin"}"#)).0, 403);
    assert_eq!(http("POST", &url("/v1/keys/payroll.db/export"), Some(&operator), Some(r#"{"plaintext":true}"#)).0, 403);

    // Revoked tokens stop working at once; tokens are listed without their secret.
    let (_, list) = http("GET", &url("/v1/tokens"), Some(root), None);
    let app_id = list["tokens"].as_array().unwrap().iter().find(|t| t["name"] == "orders-service").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!list.to_string().contains(&app));
    assert_eq!(http("DELETE", &url(&format!("/v1/tokens/{app_id}")), Some(root), None).0, 200);
    assert_eq!(http("POST", &url("/v1/keys/orders.db/encrypt"), Some(&app), Some(&enc)).0, 401);
    // An expired token is refused too.
    let short = token(json!({"role": "admin", "ttl_seconds": 1}));
    assert_eq!(http("GET", &url("/v1/keys"), Some(&short), None).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(http("GET", &url("/v1/keys"), Some(&short), None).0, 401);
}

#[test]
fn metrics_are_exposed() {
    let node = Node::init_passphrase();
    let server = node.start_unsealed();
    http("GET", &format!("{}/v1/keys", server.addr), Some(&node.token), None);
    let (s, body) = http("GET", &format!("{}/metrics", server.addr), None, None);
    assert_eq!(s, 200);
    let text = body.as_str().unwrap_or_default();
    assert!(text.contains("keyward_http_requests_total"), "{text}");
    assert!(text.contains("keyward_sealed 0"), "{text}");
}
