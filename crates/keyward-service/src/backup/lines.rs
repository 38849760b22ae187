//! The three records a backup holds by the hundred thousand (`object`, `key_version`,
//! `audit`), written as JSON text straight from borrowed store rows into the chunk buffer.
//!
//! They come out byte for byte as serde writes the same [`Record`](keyward_backup::Record)
//! (the tests below hold them to it), but the attributes of an object, copied as the store
//! keeps their JSON. Serde spent a fifth of a backup's time escaping strings one byte at a
//! time; almost every string here (ids, names, timestamps) needs no escaping, and base64 and
//! hex never do, so strings are checked in one pass and copied, and escaped by serde_json only
//! when they must be.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyward_store::{AuditRef, ObjectRef, VersionRef};

use crate::{Error, Result};

/// An object's attributes as they go into the archive: the store's JSON text, checked (a
/// damaged column must not make a damaged archive) and kept on one line.
pub(super) fn attributes<'a>(o: &ObjectRef<'a>) -> Result<Cow<'a, str>> {
    let damaged =
        |e: serde_json::Error| Error::Store(keyward_store::Error::Corrupt(format!("key {}: attributes: {e}", o.name)));
    let raw: &serde_json::value::RawValue = serde_json::from_str(o.attributes).map_err(damaged)?;
    if !raw.get().contains('\n') {
        return Ok(Cow::Borrowed(raw.get()));
    }
    // Pretty-printed JSON would span lines; the same value, compact.
    let value: serde_json::Value = serde_json::from_str(raw.get()).map_err(damaged)?;
    Ok(Cow::Owned(serde_json::to_string(&value).map_err(damaged)?))
}

/// `{"type":"object",…}` with `attributes` from [`attributes`].
pub(super) fn object(out: &mut Vec<u8>, o: &ObjectRef<'_>, attributes: &str) {
    out.extend_from_slice(br#"{"type":"object","id":"#);
    string(out, o.id);
    out.extend_from_slice(br#","name":"#);
    string(out, o.name);
    out.extend_from_slice(br#","key_type":"#);
    string(out, o.key_type);
    out.extend_from_slice(br#","state":"#);
    string(out, o.state);
    out.extend_from_slice(if o.enabled { br#","enabled":true"# } else { br#","enabled":false"# });
    out.extend_from_slice(if o.exportable { br#","exportable":true"# } else { br#","exportable":false"# });
    out.extend_from_slice(br#","current_version":"#);
    number(out, o.current_version.into());
    out.extend_from_slice(br#","created_at":"#);
    string(out, o.created_at);
    out.extend_from_slice(br#","updated_at":"#);
    string(out, o.updated_at);
    out.extend_from_slice(br#","activated_at":"#);
    opt_string(out, o.activated_at);
    out.extend_from_slice(br#","deactivated_at":"#);
    opt_string(out, o.deactivated_at);
    out.extend_from_slice(br#","destroyed_at":"#);
    opt_string(out, o.destroyed_at);
    out.extend_from_slice(br#","attributes":"#);
    out.extend_from_slice(attributes.as_bytes());
    out.push(b'}');
}

/// `{"type":"key_version",…}`; the barrier blobs in base64.
pub(super) fn version(out: &mut Vec<u8>, v: &VersionRef<'_>) {
    out.extend_from_slice(br#"{"type":"key_version","object_id":"#);
    string(out, v.object_id);
    out.extend_from_slice(br#","version":"#);
    number(out, v.version.into());
    out.extend_from_slice(br#","material":"#);
    opt_base64(out, v.material);
    out.extend_from_slice(br#","public_key":"#);
    opt_base64(out, v.public_key);
    out.extend_from_slice(br#","created_at":"#);
    string(out, v.created_at);
    out.push(b'}');
}

/// `{"type":"audit",…}`; the hashes in lowercase hex.
pub(super) fn audit(out: &mut Vec<u8>, a: &AuditRef<'_>) {
    out.extend_from_slice(br#"{"type":"audit","seq":"#);
    number(out, a.seq);
    out.extend_from_slice(br#","at":"#);
    string(out, a.at);
    out.extend_from_slice(br#","actor":"#);
    string(out, a.actor);
    out.extend_from_slice(br#","action":"#);
    string(out, a.action);
    out.extend_from_slice(br#","target":"#);
    string(out, a.target);
    out.extend_from_slice(br#","outcome":"#);
    string(out, a.outcome);
    out.extend_from_slice(br#","detail":"#);
    string(out, a.detail);
    out.extend_from_slice(br#","prev_hash":"#);
    hex32(out, a.prev_hash);
    out.extend_from_slice(br#","hash":"#);
    hex32(out, a.hash);
    out.push(b'}');
}

fn string(out: &mut Vec<u8>, s: &str) {
    // One branch-free pass (vectorized) over the bytes decides; JSON needs escapes only for
    // control characters, quotes and backslashes.
    let plain = !s.bytes().fold(false, |escape, b| escape | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn opt_base64(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    let Some(bytes) = bytes else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    // The slice is exactly the encoded length, so encoding cannot fail; if it somehow did,
    // the bytes left are not valid base64 and the read-back check refuses the archive.
    if let Some(dst) = out.get_mut(start..) {
        let _ = STANDARD.encode_slice(bytes, dst);
    }
    out.push(b'"');
}

fn hex32(out: &mut Vec<u8>, b: &[u8; 32]) {
    let mut hex = [0u8; 64];
    // 64 output bytes for 32 input bytes: encode_to_slice cannot fail.
    let _ = const_hex::encode_to_slice(b, &mut hex);
    out.push(b'"');
    out.extend_from_slice(&hex);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use keyward_backup::Record;
    use keyward_store::{AuditEntry, AuditRow, KeyVersionRow, ObjectRow};

    use super::*;
    use crate::backup::{audit_record, object_record, version_record};

    fn line(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn object_row(o: &ObjectRef<'_>) -> ObjectRow {
        ObjectRow {
            id: o.id.into(),
            name: o.name.into(),
            key_type: o.key_type.into(),
            state: o.state.into(),
            enabled: o.enabled,
            exportable: o.exportable,
            current_version: o.current_version,
            created_at: o.created_at.into(),
            updated_at: o.updated_at.into(),
            activated_at: o.activated_at.map(Into::into),
            deactivated_at: o.deactivated_at.map(Into::into),
            destroyed_at: o.destroyed_at.map(Into::into),
            attributes: o.attributes.into(),
        }
    }

    /// Strings that need each kind of escape, and some that need none.
    const AWKWARD: &[&str] = &[
        "",
        "plain",
        "quote\"d",
        "back\\slash",
        "tab\there",
        "nl\nand\rcr",
        "\u{1}\u{1f}",
        "é€𝄞",
        "\u{7f}",
        "</script>",
    ];

    #[test]
    fn objects_are_written_as_serde_writes_them() {
        for (i, s) in AWKWARD.iter().enumerate() {
            let o = ObjectRef {
                id: s,
                name: s,
                key_type: "aes-256",
                state: s,
                enabled: i % 2 == 0,
                exportable: i % 3 == 0,
                current_version: u32::MAX - i as u32,
                created_at: s,
                updated_at: "u",
                activated_at: (i % 2 == 0).then_some(*s),
                deactivated_at: None,
                destroyed_at: Some(s),
                attributes: "{}",
            };
            let fast = line(|out| object(out, &o, &attributes(&o).unwrap()));
            assert_eq!(fast, serde_json::to_string(&object_record(object_row(&o))).unwrap());
        }
    }

    #[test]
    fn attributes_are_kept_as_stored_on_one_line() {
        let o = |attributes| ObjectRef {
            id: "i",
            name: "n",
            key_type: "aes-256",
            state: "active",
            enabled: true,
            exportable: false,
            current_version: 1,
            created_at: "c",
            updated_at: "u",
            activated_at: None,
            deactivated_at: None,
            destroyed_at: None,
            attributes,
        };
        let kept = r#"{"x-a":["b",1],"n":"é\"q"}"#;
        assert_eq!(attributes(&o(kept)).unwrap(), kept);
        assert_eq!(attributes(&o(" {\n  \"b\": [1,\n 2]\n}\n")).unwrap(), r#"{"b":[1,2]}"#);
        let written = line(|out| object(out, &o(kept), kept));
        let record: Record = serde_json::from_str(&written).unwrap();
        assert_eq!(record, object_record(object_row(&o(kept))));
        for damaged in ["{\"x\":", "", "{} {}", "nul"] {
            assert!(attributes(&o(damaged)).is_err(), "{damaged:?}");
        }
    }

    #[test]
    fn versions_are_written_as_serde_writes_them() {
        let blobs: [Option<&[u8]>; 5] = [None, Some(b""), Some(&[0]), Some(&[1, 2]), Some(&[0xfb, 0xff, 0xbf, 250])];
        for (i, material) in blobs.into_iter().enumerate() {
            let v = VersionRef {
                object_id: AWKWARD[i],
                version: i as u32,
                material,
                public_key: blobs[4 - i],
                created_at: AWKWARD[9 - i],
            };
            let owned = KeyVersionRow {
                object_id: v.object_id.into(),
                version: v.version,
                material: v.material.map(<[u8]>::to_vec),
                public_key: v.public_key.map(<[u8]>::to_vec),
                created_at: v.created_at.into(),
            };
            assert_eq!(line(|out| version(out, &v)), serde_json::to_string(&version_record(owned)).unwrap());
        }
    }

    #[test]
    fn audit_records_are_written_as_serde_writes_them() {
        for (i, s) in AWKWARD.iter().enumerate() {
            let (prev, hash) = ([i as u8; 32], [0xab ^ i as u8; 32]);
            let a = AuditRef {
                seq: u64::MAX - i as u64,
                at: s,
                actor: "token:x",
                action: s,
                target: s,
                outcome: "200",
                detail: s,
                prev_hash: &prev,
                hash: &hash,
            };
            let owned = AuditRow {
                seq: a.seq,
                entry: AuditEntry {
                    at: a.at.into(),
                    actor: a.actor.into(),
                    action: a.action.into(),
                    target: a.target.into(),
                    outcome: a.outcome.into(),
                    detail: a.detail.into(),
                },
                prev_hash: prev,
                hash,
            };
            assert_eq!(line(|out| audit(out, &a)), serde_json::to_string(&audit_record(owned)).unwrap());
        }
    }
}
