//! Keyward's operations: what a caller may do to a node, independent of transport.
//!
//! REST (and, later, KMIP) translate requests into calls on [`Service`] and its answers back
//! into their wire formats. Every call takes the authenticated [`Caller`]; authorization is
//! checked here, in [`authz`], so every transport enforces the same rules.
//!
//! **Invariant:** plaintext key material exists only inside [`keyward_crypto::LoadedKey`] and
//! [`keyward_crypto::Secret`] values held while unsealed; sealing drops all of them.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
pub mod authz;
mod crypto_ops;
mod error;
mod init;
mod keys;
mod seal_ops;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

pub use audit::{AuditReport, verify_chain};
pub use authz::Caller;
pub use crypto_ops::{Export, ImportMaterial};
pub use error::Error;
pub use init::{InitOptions, InitOutcome, initialize};
pub use keys::{CreateKey, KeyInfo, ListKeys, VersionInfo};
pub use seal_ops::{SealStatus, UnsealInput};
pub use tokens::{NewToken, TokenInfo};

use keyward_crypto::LoadedKey;
use keyward_seal::{Keyring, ShareFile};
use keyward_store::{IdentityRow, Store};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The version of this build, reported by health and recorded in backups.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The SHA-256 chain function for the audit log, handed to the store at open.
pub fn audit_chain_hash(prev: &[u8; 32], record: &[u8]) -> [u8; 32] {
    keyward_crypto::sha256_parts(&[prev, record])
}

enum SealState {
    Sealed { pending_shares: Vec<ShareFile> },
    Unsealed { keyring: Arc<Keyring> },
}

/// One node's operations over its store.
pub struct Service {
    store: Arc<dyn Store>,
    identity: RwLock<IdentityRow>,
    seal: RwLock<SealState>,
    throttle: Mutex<seal_ops::Throttle>,
    /// Parsed customer keys by (object id, version); cleared on seal.
    loaded: RwLock<HashMap<(String, u32), Arc<LoadedKey>>>,
}

impl Service {
    /// Wraps an initialised store. The node starts sealed.
    pub fn new(store: Arc<dyn Store>) -> Result<Self> {
        let identity = store.identity()?.ok_or(Error::NotInitialized)?;
        Ok(Service {
            store,
            identity: RwLock::new(identity),
            seal: RwLock::new(SealState::Sealed { pending_shares: Vec::new() }),
            throttle: Mutex::new(seal_ops::Throttle::default()),
            loaded: RwLock::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn identity(&self) -> IdentityRow {
        match self.identity.read() {
            Ok(i) => i.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn is_sealed(&self) -> bool {
        !matches!(self.seal.read().as_deref(), Ok(SealState::Unsealed { .. }))
    }

    /// The keyring, or `Sealed`.
    fn keyring(&self) -> Result<Arc<Keyring>> {
        match self.seal.read().as_deref() {
            Ok(SealState::Unsealed { keyring, .. }) => Ok(keyring.clone()),
            _ => Err(Error::Sealed),
        }
    }
}
