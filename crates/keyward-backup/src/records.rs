//! The records a component chunk holds: one JSON object per line, tagged by `type`. Byte
//! fields are base64; barrier blobs are copied exactly as the store holds them.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// `config`: the node's place in the organisation.
    Identity {
        organization: String,
        site: String,
        server_name: String,
        server_id: String,
        incarnation: u64,
        created_at: String,
    },
    /// `config`: one registered component.
    Component { name: String, schema_version: u32, installed_at: String },
    /// `config`: a server of the organisation as this node knows it; `status` is `active` or
    /// `retired` (then `retired_at` and `replaced_by` say when and by which server).
    Server {
        server_id: String,
        organization: String,
        site: String,
        server_name: String,
        status: String,
        registered_at: String,
        retired_at: Option<String>,
        replaced_by: Option<String>,
    },
    /// `config`: the optional `scheduler` component's backup schedule.
    Schedule { every_secs: u64, directory: String, keep: u32, updated_at: String },
    /// `keys`: a key's metadata.
    Object {
        id: String,
        name: String,
        key_type: String,
        state: String,
        enabled: bool,
        exportable: bool,
        current_version: u32,
        created_at: String,
        updated_at: String,
        activated_at: Option<String>,
        deactivated_at: Option<String>,
        destroyed_at: Option<String>,
        attributes: serde_json::Value,
    },
    /// `keys`: one version of a key; `material` is a barrier blob (base64), absent once destroyed.
    KeyVersion {
        object_id: String,
        version: u32,
        material: Option<String>,
        public_key: Option<String>,
        created_at: String,
    },
    /// `directory`: an API token (its SHA-256 hash; never the token).
    Token {
        id: String,
        hash: String,
        role: String,
        prefixes: Vec<String>,
        name: String,
        created_at: String,
        expires_at: Option<String>,
        revoked_at: Option<String>,
    },
    /// `pki` (format 2): one record of the certificate authority component; `doc` is the
    /// record's fields by kind (docs/pki.md), `secret` a barrier blob (base64) or `null`.
    Pki {
        kind: String,
        id: String,
        parent: Option<String>,
        lookup: Option<String>,
        doc: serde_json::Value,
        secret: Option<String>,
        created_at: String,
        updated_at: String,
    },
    /// `audit`: one record of the hash chain, hashes in hex.
    Audit {
        seq: u64,
        at: String,
        actor: String,
        action: String,
        target: String,
        outcome: String,
        detail: String,
        prev_hash: String,
        hash: String,
    },
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::KeyVersion { object_id, version, material, .. } => f
                .debug_struct("KeyVersion")
                .field("object_id", object_id)
                .field("version", version)
                .field("material", &material.as_ref().map(|m| m.len()))
                .finish_non_exhaustive(),
            Record::Pki { kind, id, secret, .. } => f
                .debug_struct("Pki")
                .field("kind", kind)
                .field("id", id)
                .field("secret", &secret.as_ref().map(|m| m.len()))
                .finish_non_exhaustive(),
            other => write!(f, "{}", serde_json::to_string(other).unwrap_or_default()),
        }
    }
}

impl Record {
    /// The component a record belongs to.
    pub fn component(&self) -> &'static str {
        match self {
            Record::Identity { .. } | Record::Component { .. } | Record::Server { .. } | Record::Schedule { .. } => {
                "config"
            }
            Record::Object { .. } | Record::KeyVersion { .. } => "keys",
            Record::Token { .. } => "directory",
            Record::Audit { .. } => "audit",
            Record::Pki { .. } => "pki",
        }
    }
}
