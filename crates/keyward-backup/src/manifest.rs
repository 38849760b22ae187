//! The manifest: what the archive holds, where each chunk is, and the seal metadata needed to
//! unseal it. JSON, so that a reader in any language can use it.

use serde::{Deserialize, Serialize};

/// The node the backup was taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub organization: String,
    pub site: String,
    pub server_name: String,
    pub server_id: String,
    pub incarnation: u64,
}

/// One keyring data key, wrapped by the master key (see `docs/seal.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringEntry {
    pub version: u32,
    /// Base64.
    pub wrapped: String,
    pub created_at: String,
}

/// Everything needed to unseal, given the startup secret. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealEntry {
    /// The node's seal configuration (`docs/seal.md`): kind, KDF parameters, wrapped master key.
    pub config: serde_json::Value,
    pub keyring: Vec<KeyringEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkEntry {
    /// Byte offset of the chunk's section from the start of the archive.
    pub offset: u64,
    pub records: u64,
    pub raw_bytes: u64,
    /// Hex SHA-256 of the chunk's uncompressed records.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentEntry {
    pub name: String,
    pub schema_version: u32,
    pub records: u64,
    /// Hex SHA-256 over the binary SHA-256 values of the component's chunks, in order: one
    /// checksum that covers every record of the component.
    pub sha256: String,
    pub chunks: Vec<ChunkEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u16,
    pub keyward_version: String,
    pub created_at: String,
    /// "online" (from a running server) or "offline" (from a stopped data directory).
    pub taken: String,
    pub identity: Identity,
    /// The change-log sequence number the snapshot is consistent at.
    pub change_seq: u64,
    /// The store's schema version.
    pub schema_version: u32,
    /// Whether every component of a full backup is present.
    pub complete: bool,
    pub components: Vec<ComponentEntry>,
    pub seal: SealEntry,
    /// Whether the trailer holds an HMAC of this manifest under a key derived from the master
    /// key. Offline backups taken without the startup secret cannot be authenticated.
    pub authenticated: bool,
}

impl Manifest {
    pub fn component(&self, name: &str) -> Option<&ComponentEntry> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn record_count(&self) -> u64 {
        self.components.iter().map(|c| c.records).sum()
    }
}
