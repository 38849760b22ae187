//! The service's error: every way an operation can be refused, with enough typed detail for
//! each transport to pick its status code and for an operator to act on the message.

use keyward_types::Role;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the node is sealed: unseal it with its startup secret (keyward operator unseal)")]
    Sealed,
    #[error("maintenance: a restore is replacing this node's data; retry in a few seconds")]
    Maintenance,
    #[error("the data directory holds no initialised node: run keyward init first")]
    NotInitialized,
    #[error("the data directory already holds an initialised node ({server_name}, {server_id})")]
    AlreadyInitialized { server_name: String, server_id: String },
    #[error("missing or invalid token: pass a valid token (KEYWARD_TOKEN or --token)")]
    Unauthenticated,
    #[error("permission denied: the {role} role cannot {action}")]
    Forbidden { role: Role, action: String },
    #[error("no key named {name:?}")]
    NoSuchKey { name: String },
    #[error("no object with identifier {id:?}")]
    NoSuchObject { id: String },
    #[error("no token with id {id}")]
    NoSuchToken { id: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("a key named {name:?} already exists")]
    NameTaken { name: String },
    #[error("key {name:?} is disabled: enable it first (keyward key enable {name})")]
    KeyDisabled { name: String },
    #[error("key {name:?} is {state} and cannot {operation}")]
    KeyState { name: String, state: &'static str, operation: &'static str },
    #[error("key {name:?} is active: deactivate it first, or destroy with --force to do both")]
    ActiveKey { name: String },
    #[error("key {name:?} is of type {key_type}, which cannot {operation}")]
    WrongKeyType { name: String, key_type: &'static str, operation: &'static str },
    #[error("key {name:?} has no version {version}")]
    NoSuchVersion { name: String, version: u32 },
    #[error("the ciphertext was made by key {expected_id}, not by {name:?}")]
    ForeignCiphertext { name: String, expected_id: String },
    #[error("decryption failed: the ciphertext was altered or truncated, or the associated data does not match")]
    DecryptFailed,
    #[error("key {name:?} was not created exportable")]
    NotExportable { name: String },
    #[error("too many failed unseal attempts: retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("{what} does not exist")]
    NotFound { what: String },
    #[error("refused: {reason}")]
    Refused { reason: String },
    #[error(transparent)]
    Pki(#[from] keyward_pki::Error),
    #[error(transparent)]
    Seal(#[from] keyward_seal::Error),
    #[error(transparent)]
    Store(#[from] keyward_store::Error),
    #[error(transparent)]
    Crypto(#[from] keyward_crypto::Error),
    #[error(transparent)]
    Backup(#[from] keyward_backup::Error),
    #[error(
        "{path} already holds a node: pass --erase to replace it with the backup (or restore into an empty directory)"
    )]
    TargetInitialized { path: String },
    #[error(
        "the backup holds only some components ({present}); a whole-node restore needs a full backup, or choose components with --components"
    )]
    PartialBackup { present: String },
    #[error("the backup has no {component:?} component to restore")]
    MissingComponent { component: String },
    #[error(
        "the backup's keys are sealed under another master key than this node's: restore it with --erase (the backup's own startup secret then unseals the node), not by component"
    )]
    ForeignKeyring,
    #[error(
        "the backup belongs to organisation {backup:?}, this node to {local:?}: a merge or partial restore across organisations is refused"
    )]
    ForeignOrganization { backup: String, local: String },
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid { field, reason: reason.into() }
    }
}
