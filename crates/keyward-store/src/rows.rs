//! The records the store keeps. Secrets appear only as barrier blobs (`material`).

use serde::{Deserialize, Serialize};

/// Bytes in the change log's JSON payloads as base64, not as arrays of numbers.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(b) => super::serialize(b, s),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            Option::<String>::deserialize(d)?.map(|s| STANDARD.decode(s).map_err(serde::de::Error::custom)).transpose()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRow {
    pub organization: String,
    pub site: String,
    pub server_name: String,
    pub server_id: String,
    pub incarnation: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRow {
    pub id: String,
    pub name: String,
    pub key_type: String,
    pub state: String,
    pub enabled: bool,
    pub exportable: bool,
    pub current_version: u32,
    pub created_at: String,
    pub updated_at: String,
    pub activated_at: Option<String>,
    pub deactivated_at: Option<String>,
    pub destroyed_at: Option<String>,
    /// Free-form attributes as a JSON object (KMIP names, usage masks, custom `x-` attributes).
    pub attributes: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersionRow {
    pub object_id: String,
    pub version: u32,
    /// Barrier blob of the key material; `None` once destroyed.
    #[serde(with = "b64::option")]
    pub material: Option<Vec<u8>>,
    /// SubjectPublicKeyInfo DER for key pairs (not secret).
    #[serde(with = "b64::option")]
    pub public_key: Option<Vec<u8>>,
    pub created_at: String,
}

impl std::fmt::Debug for KeyVersionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVersionRow")
            .field("object_id", &self.object_id)
            .field("version", &self.version)
            .field("material", &self.material.as_ref().map(|m| m.len()))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    /// SHA-256 of the token; the token itself is never stored.
    #[serde(with = "b64")]
    pub hash: Vec<u8>,
    pub role: String,
    /// Key-name prefixes an `app` token is limited to.
    pub prefixes: Vec<String>,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringRow {
    pub version: u32,
    #[serde(with = "b64")]
    pub wrapped: Vec<u8>,
    pub created_at: String,
}

/// A server of the organisation, as this node knows it. A restore onto another server
/// retires the old entry so no list shows a ghost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRow {
    pub server_id: String,
    pub organization: String,
    pub site: String,
    pub server_name: String,
    /// "active" or "retired".
    pub status: String,
    pub registered_at: String,
    pub retired_at: Option<String>,
    /// The server that took over a retired one's identity.
    pub replaced_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRow {
    pub name: String,
    pub schema_version: u32,
    pub installed_at: String,
}

/// One change, as the change log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Fails with `NameTaken` when the name is in use.
    InsertObject(ObjectRow),
    UpdateObject(ObjectRow),
    PutKeyVersion(KeyVersionRow),
    /// Erases the material of every version of the object, keeping the rows as tombstones.
    EraseMaterial {
        object_id: String,
    },
    PutToken(TokenRow),
    SetSeal {
        config: String,
    },
    PutKeyring(KeyringRow),
    SetIdentity(IdentityRow),
    PutComponent(ComponentRow),
    PutServer(ServerRow),
    /// Installs an optional component: its tables and its registration, together.
    AddComponent {
        name: String,
        installed_at: String,
    },
    /// Uninstalls an optional component: drops its tables and its registration, together.
    RemoveComponent {
        name: String,
    },
    /// The `scheduler` component's schedule.
    SetSchedule(ScheduleRow),
    /// One scheduled backup, started or finished.
    PutBackupRun(BackupRunRow),
    /// A record of the optional `pki` component, inserted or replaced whole. Fails with
    /// `Duplicate` when another record of its kind has the same `lookup`.
    PutPki(PkiRow),
}

/// One record of the `pki` component: a CA, a person, an enrollment token, a certificate, an
/// escrowed key, an officer, the recovery policy, a recovery request, an approval or a CRL.
/// The service owns the meaning of `doc` (JSON) per kind; the store keeps and indexes it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkiRow {
    pub kind: String,
    pub id: String,
    /// The record it belongs to (a certificate's person, an approval's request), if any.
    pub parent: Option<String>,
    /// A second key, unique within the kind (a person's email, a token's hash).
    pub lookup: Option<String>,
    /// The record's fields as a JSON object.
    pub doc: String,
    /// A barrier blob (a CA's or an escrowed private key), if the record holds a secret.
    #[serde(with = "b64::option")]
    pub secret: Option<Vec<u8>>,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for PkiRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PkiRow")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("parent", &self.parent)
            .field("secret", &self.secret.as_ref().map(|m| m.len()))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub every_secs: u64,
    pub directory: String,
    pub keep: u32,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRunRow {
    pub id: u64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub file: Option<String>,
    pub bytes: Option<u64>,
    pub change_seq: Option<u64>,
    /// "running", "ok", or what went wrong.
    pub outcome: String,
}

impl Mutation {
    pub(crate) fn entity(&self) -> (&'static str, String) {
        match self {
            Mutation::InsertObject(o) | Mutation::UpdateObject(o) => ("object", o.id.clone()),
            Mutation::PutKeyVersion(v) => ("object", v.object_id.clone()),
            Mutation::EraseMaterial { object_id } => ("object", object_id.clone()),
            Mutation::PutToken(t) => ("token", t.id.clone()),
            Mutation::SetSeal { .. } => ("seal", String::new()),
            Mutation::PutKeyring(k) => ("keyring", k.version.to_string()),
            Mutation::SetIdentity(_) => ("identity", String::new()),
            Mutation::PutComponent(c) => ("component", c.name.clone()),
            Mutation::PutServer(v) => ("server", v.server_id.clone()),
            Mutation::AddComponent { name, .. } | Mutation::RemoveComponent { name } => ("component", name.clone()),
            Mutation::SetSchedule(_) => ("schedule", String::new()),
            Mutation::PutBackupRun(r) => ("backup_run", r.id.to_string()),
            Mutation::PutPki(r) => ("pki", format!("{}/{}", r.kind, r.id)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub seq: u64,
    pub at: String,
    pub entity: String,
    pub entity_id: String,
    /// The mutation as JSON.
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The change-log sequence number of the batch's last record (0 for an empty batch).
    pub last_seq: u64,
}

/// An audit record as the caller hands it in. Never holds secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub entry: AuditEntry,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl AuditRow {
    /// The bytes the chain hash covers: the sequence number and each field, length-prefixed so
    /// no two different records share an encoding.
    pub fn canonical_bytes(seq: u64, e: &AuditEntry) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&seq.to_be_bytes());
        for field in [&e.at, &e.actor, &e.action, &e.target, &e.outcome, &e.detail] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_payloads_round_trip_with_base64_bytes() {
        let m = Mutation::PutKeyVersion(KeyVersionRow {
            object_id: "o".into(),
            version: 2,
            material: Some(vec![1, 2, 3, 250]),
            public_key: None,
            created_at: "t".into(),
        });
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"material\":\"AQID+g==\""), "{json}");
        assert_eq!(serde_json::from_str::<Mutation>(&json).unwrap(), m);
    }
}
