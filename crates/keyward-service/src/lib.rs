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
pub mod backup;
pub mod components;
mod crypto_ops;
pub mod doctor;
mod error;
mod init;
mod keys;
pub mod managed;
pub mod pki;
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
pub use tokens::{NewToken, TokenInfo, bootstrap_token};

use keyward_crypto::LoadedKey;
use keyward_seal::{Keyring, MasterKey, ShareFile};
use keyward_store::{Committed, IdentityRow, Mutation, ObjectRow, Store, TokenRow};

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

pub(crate) enum SealState {
    Sealed { pending_shares: Vec<ShareFile> },
    Unsealed { master: Arc<MasterKey>, keyring: Arc<Keyring> },
}

/// One node's operations over its store.
pub struct Service {
    /// Swapped only by an online restore.
    store: RwLock<Arc<dyn Store>>,
    /// Set while an online restore replaces the store: key operations answer `Maintenance`.
    maintenance: std::sync::atomic::AtomicBool,
    /// Writers (commits, audit records) hold it shared; an online restore takes it exclusively
    /// to switch maintenance on, so no write is half-way when the store closes.
    swap_gate: RwLock<()>,
    /// Audit records made while in maintenance, written to the new store once it is in place.
    held_audit: Mutex<Vec<keyward_store::AuditEntry>>,
    identity: RwLock<IdentityRow>,
    seal: RwLock<SealState>,
    throttle: Mutex<seal_ops::Throttle>,
    /// Parsed customer keys by (object id, version); cleared on seal.
    loaded: RwLock<HashMap<(String, u32), Arc<LoadedKey>>>,
    /// Rows read on every request (objects by name, tokens by hash), kept current by
    /// [`Service::commit`], the only way the service writes.
    rows: RwLock<RowCache>,
    /// Serializes read-modify-write changes of object rows (state, attributes, versions), so two
    /// concurrent changes of one object cannot lose one of them. Key use never takes it.
    row_writes: Mutex<()>,
    /// Serializes changes of `pki` records (token redemption, approvals, revocations), so a
    /// token is redeemed once and no approval or revocation is lost.
    pki_writes: Mutex<()>,
}

#[derive(Default)]
pub(crate) struct RowCache {
    /// Bumped by every commit, so a read that raced a write does not cache a stale row.
    generation: u64,
    objects: HashMap<String, Arc<ObjectRow>>,
    tokens: HashMap<[u8; 32], Arc<TokenRow>>,
    /// Object id to name, for callers (KMIP) that name objects by id.
    pub(crate) ids: HashMap<String, String>,
}

/// Bounds on the row cache: past them it starts over, which costs only store reads.
pub(crate) const MAX_CACHED_OBJECTS: usize = 100_000;
const MAX_CACHED_TOKENS: usize = 10_000;

impl Service {
    /// Wraps an initialised store. The node starts sealed.
    pub fn new(store: Arc<dyn Store>) -> Result<Self> {
        let identity = store.identity()?.ok_or(Error::NotInitialized)?;
        Ok(Service {
            store: RwLock::new(store),
            maintenance: std::sync::atomic::AtomicBool::new(false),
            swap_gate: RwLock::new(()),
            held_audit: Mutex::new(Vec::new()),
            identity: RwLock::new(identity),
            seal: RwLock::new(SealState::Sealed { pending_shares: Vec::new() }),
            throttle: Mutex::new(seal_ops::Throttle::default()),
            loaded: RwLock::new(HashMap::new()),
            rows: RwLock::new(RowCache::default()),
            row_writes: Mutex::new(()),
            pki_writes: Mutex::new(()),
        })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self.store.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn in_maintenance(&self) -> bool {
        self.maintenance.load(std::sync::atomic::Ordering::SeqCst)
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

    /// Commits through the store and brings the caches up to date with what was written.
    fn commit(&self, batch: Vec<Mutation>) -> Result<Committed> {
        let mut objects = Vec::new();
        let mut tokens = Vec::new();
        let mut erased = Vec::new();
        for m in &batch {
            match m {
                Mutation::InsertObject(o) | Mutation::UpdateObject(o) => objects.push(Arc::new(o.clone())),
                Mutation::PutToken(t) => tokens.push(Arc::new(t.clone())),
                Mutation::EraseMaterial { object_id } => erased.push(object_id.clone()),
                _ => {}
            }
        }
        let result = {
            let _gate = self.swap_gate.read();
            if self.in_maintenance() {
                return Err(Error::Maintenance);
            }
            self.store().commit(batch)
        };
        // Even a failed commit bumps the generation: what the store holds is then re-read.
        if let Ok(mut cache) = self.rows.write() {
            cache.generation += 1;
            if result.is_ok() {
                for o in objects {
                    cache.objects.insert(o.name.clone(), o);
                }
                for t in tokens {
                    if let Ok(hash) = <[u8; 32]>::try_from(t.hash.as_slice()) {
                        cache.tokens.insert(hash, t);
                    }
                }
            }
        }
        if !erased.is_empty()
            && let Ok(mut loaded) = self.loaded.write()
        {
            loaded.retain(|(id, _), _| !erased.contains(id));
        }
        Ok(result?)
    }

    /// A row from one of the row cache's maps, or loaded from the store and cached unless a
    /// commit happened meanwhile (then the loaded row may already be stale).
    fn cached<K: std::hash::Hash + Eq + Clone, V>(
        &self,
        get: fn(&RowCache) -> &HashMap<K, Arc<V>>,
        get_mut: fn(&mut RowCache) -> &mut HashMap<K, Arc<V>>,
        key: &K,
        cap: usize,
        load: impl FnOnce() -> Result<Option<V>>,
    ) -> Result<Option<Arc<V>>> {
        let generation = match self.rows.read() {
            Ok(cache) => match get(&cache).get(key) {
                Some(row) => return Ok(Some(row.clone())),
                None => cache.generation,
            },
            Err(_) => 0,
        };
        let row = load()?.map(Arc::new);
        if let (Some(row), Ok(mut cache)) = (&row, self.rows.write())
            && cache.generation == generation
        {
            let map = get_mut(&mut cache);
            if map.len() >= cap {
                map.clear();
            }
            map.insert(key.clone(), row.clone());
        }
        Ok(row)
    }

    /// An object by name, from the cache or the store.
    fn object_by_name(&self, name: &str) -> Result<Option<Arc<ObjectRow>>> {
        self.cached(
            |c| &c.objects,
            |c| &mut c.objects,
            &name.to_owned(),
            MAX_CACHED_OBJECTS,
            || Ok(self.store().object_by_name(name)?),
        )
    }

    /// A token by its hash, from the cache or the store.
    fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<Arc<TokenRow>>> {
        self.cached(|c| &c.tokens, |c| &mut c.tokens, hash, MAX_CACHED_TOKENS, || Ok(self.store().token_by_hash(hash)?))
    }

    /// The key that authenticates backup manifests, derived from the master key; `Sealed` when
    /// the node is sealed.
    pub fn backup_mac_key(&self) -> Result<keyward_crypto::Secret> {
        match self.seal.read().as_deref() {
            Ok(SealState::Unsealed { master, .. }) => Ok(master.derive(backup::MANIFEST_MAC_INFO)?),
            _ => Err(Error::Sealed),
        }
    }

    /// The organisation's servers as this node knows them.
    pub fn org_servers(&self, caller: &Caller) -> Result<Vec<keyward_store::ServerRow>> {
        authz::authorize(caller, authz::Action::ListKeys)?;
        Ok(self.store().servers()?)
    }

    /// Held while an object row is read, changed and written back.
    pub(crate) fn row_write_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.row_writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The keyring, or `Sealed`.
    fn keyring(&self) -> Result<Arc<Keyring>> {
        if self.in_maintenance() {
            return Err(Error::Maintenance);
        }
        match self.seal.read().as_deref() {
            Ok(SealState::Unsealed { keyring, .. }) => Ok(keyring.clone()),
            _ => Err(Error::Sealed),
        }
    }
}
