//! The barrier: the startup secret, the master key, the keyring, and sealing of everything
//! the store keeps.
//!
//! ```text
//! startup secret ──KDF──▶ KEK ──AES-256-GCM──▶ master key ──AES-256-GCM──▶ keyring data keys
//!   (passphrase: Argon2id, key file: HKDF,                                   │
//!    shares: Shamir-combine to the KEK)                                       ▼
//!                                                          barrier blobs of every stored secret
//! ```
//!
//! Only [`SealConfig`] is stored in clear (the secret kind, KDF parameters and wrapped master
//! key). The startup secret is never stored. Changing it re-wraps the master key and nothing
//! else. See `docs/seal.md` for the formats.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod share;

pub use share::ShareFile;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_crypto::{Argon2Params, KEY_LEN, Secret};
use serde::{Deserialize, Serialize};

const MASTER_KEY_AAD: &[u8] = b"keyward/master-key/v1";
const KEY_FILE_INFO: &[u8] = b"keyward/key-file-kek/v1";
/// Key files are exactly this many random bytes.
pub const KEY_FILE_LEN: usize = 32;
/// The first byte of every barrier blob; a future format bumps it.
const BARRIER_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Coarse on purpose: the caller learns only that the secret did not open this node.
    #[error("the startup secret is wrong: it does not unlock this node's master key")]
    WrongSecret,
    #[error("this node is sealed with a {expected}, but a {given} was given")]
    WrongKind { expected: &'static str, given: &'static str },
    #[error(
        "this share belongs to another node or to an older secret (share set {given}); this node's shares are from set {expected}"
    )]
    ForeignShare { given: String, expected: String },
    #[error("not a Keyward key file: expected {KEY_FILE_LEN} bytes, found {len}")]
    BadKeyFile { len: usize },
    #[error("not a Keyward share: {0}")]
    BadShare(&'static str),
    #[error("{given} shares given, but {needed} are needed")]
    TooFewShares { given: usize, needed: u8 },
    #[error("the passphrase is too short: use at least {min} characters")]
    WeakPassphrase { min: usize },
    #[error("invalid share layout: {0}")]
    BadShareLayout(&'static str),
    #[error("the seal metadata is unreadable: {0}")]
    BadConfig(String),
    #[error("stored data failed to decrypt: it was altered, or belongs to another node")]
    Corrupt,
    #[error("no data key with version {0} in the keyring")]
    UnknownDataKey(u32),
    #[error(transparent)]
    Crypto(#[from] keyward_crypto::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The minimum passphrase length `init` and `rekey` accept.
pub const MIN_PASSPHRASE: usize = 12;

/// What unseals the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    Passphrase,
    KeyFile,
    Shares,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Passphrase => "passphrase",
            SecretKind::KeyFile => "key file",
            SecretKind::Shares => "set of shares",
        }
    }
}

/// Argon2id parameters as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl From<KdfParams> for Argon2Params {
    fn from(p: KdfParams) -> Self {
        Argon2Params { memory_kib: p.memory_kib, iterations: p.iterations, parallelism: p.parallelism }
    }
}

/// Shamir layout as stored: which set of shares this node expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLayout {
    pub set_id: String,
    pub threshold: u8,
    pub shares: u8,
}

/// The seal metadata: everything needed to unseal given the secret, nothing that helps
/// without it. Stored in clear and included in backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    pub format: u32,
    pub kind: SecretKind,
    /// Base64 of the 16-byte KDF salt.
    pub salt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<KdfParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<ShareLayout>,
    /// Base64 of `nonce || AES-256-GCM(KEK, master key) || tag`.
    pub wrapped_master_key: String,
}

impl SealConfig {
    pub fn to_json(&self) -> String {
        // Serialising this plain struct cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> Result<Self> {
        let c: SealConfig = serde_json::from_str(s).map_err(|e| Error::BadConfig(e.to_string()))?;
        if c.format != 1 {
            return Err(Error::BadConfig(format!("seal format {} is not supported by this version", c.format)));
        }
        Ok(c)
    }
}

/// The 256-bit key that wraps the keyring. Lives only in memory while unsealed.
pub struct MasterKey(Secret);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// A 32-byte key for one purpose, derived with HKDF-SHA256 (`info` names the purpose), so
    /// the master key itself is only ever used to wrap the keyring.
    pub fn derive(&self, info: &[u8]) -> Result<Secret> {
        Ok(keyward_crypto::hkdf_sha256(self.0.expose(), b"", info, KEY_LEN)?)
    }
}

/// The secret the operator chooses at `init` or `rekey`.
pub enum NewSecret {
    Passphrase(Secret),
    KeyFile,
    Shares { threshold: u8, shares: u8 },
}

/// What `init` or `rekey` hands out for the operator to keep: nothing for a passphrase, the key
/// file's bytes, or one share text per custodian.
pub enum Issued {
    Nothing,
    KeyFile(Secret),
    Shares(Vec<ShareFile>),
}

/// A startup secret presented to unseal.
pub enum StartupSecret {
    Passphrase(Secret),
    KeyFile(Secret),
    Shares(Vec<ShareFile>),
}

impl StartupSecret {
    pub fn kind(&self) -> SecretKind {
        match self {
            StartupSecret::Passphrase(_) => SecretKind::Passphrase,
            StartupSecret::KeyFile(_) => SecretKind::KeyFile,
            StartupSecret::Shares(_) => SecretKind::Shares,
        }
    }
}

fn b64_decode(s: &str) -> Result<Vec<u8>> {
    B64.decode(s).map_err(|_| Error::BadConfig("a base64 field is malformed".into()))
}

/// Creates a new master key and seals it under a new secret.
pub fn create(new: NewSecret) -> Result<(SealConfig, MasterKey, Issued)> {
    let master = MasterKey(keyward_crypto::random_secret(KEY_LEN)?);
    let (config, issued) = wrap_master(&master, new)?;
    Ok((config, master, issued))
}

/// Seals the existing master key under a new secret. The keyring and everything behind the
/// barrier stay as they are.
pub fn rekey(master: &MasterKey, new: NewSecret) -> Result<(SealConfig, Issued)> {
    wrap_master(master, new)
}

fn wrap_master(master: &MasterKey, new: NewSecret) -> Result<(SealConfig, Issued)> {
    let salt: [u8; 16] = keyward_crypto::random_array()?;
    let (kind, kdf, layout, kek, issued) = match new {
        NewSecret::Passphrase(p) => {
            if std::str::from_utf8(p.expose()).map(|s| s.chars().count()).unwrap_or(0) < MIN_PASSPHRASE {
                return Err(Error::WeakPassphrase { min: MIN_PASSPHRASE });
            }
            let params = Argon2Params::DEFAULT;
            let kek = keyward_crypto::argon2id(p.expose(), &salt, params)?;
            let kdf = KdfParams {
                memory_kib: params.memory_kib,
                iterations: params.iterations,
                parallelism: params.parallelism,
            };
            (SecretKind::Passphrase, Some(kdf), None, kek, Issued::Nothing)
        }
        NewSecret::KeyFile => {
            let file = keyward_crypto::random_secret(KEY_FILE_LEN)?;
            let kek = keyward_crypto::hkdf_sha256(file.expose(), &salt, KEY_FILE_INFO, KEY_LEN)?;
            (SecretKind::KeyFile, None, None, kek, Issued::KeyFile(file))
        }
        NewSecret::Shares { threshold, shares } => {
            if threshold < 1 || shares < 1 || threshold > shares {
                return Err(Error::BadShareLayout("the threshold must be at least 1 and at most the number of shares"));
            }
            let kek = keyward_crypto::random_secret(KEY_LEN)?;
            let set_id = hex_id(&keyward_crypto::random_array::<8>()?);
            let parts = keyward_crypto::shamir_split(kek.expose(), threshold, shares)?;
            let files = parts
                .into_iter()
                .map(|p| ShareFile::new(set_id.clone(), threshold, shares, p))
                .collect::<Result<Vec<_>>>()?;
            let layout = ShareLayout { set_id, threshold, shares };
            (SecretKind::Shares, None, Some(layout), kek, Issued::Shares(files))
        }
    };
    let wrapped = keyward_crypto::aead_seal(kek.expose(), master.0.expose(), MASTER_KEY_AAD)?;
    let config =
        SealConfig { format: 1, kind, salt: B64.encode(salt), kdf, layout, wrapped_master_key: B64.encode(wrapped) };
    Ok((config, issued))
}

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a single share against this node's layout before it is kept for unsealing, so a
/// share of another node is refused by name and not counted toward the threshold.
pub fn check_share(config: &SealConfig, share: &ShareFile) -> Result<()> {
    let layout = match (&config.kind, &config.layout) {
        (SecretKind::Shares, Some(l)) => l,
        _ => {
            return Err(Error::WrongKind { expected: config.kind.as_str(), given: SecretKind::Shares.as_str() });
        }
    };
    if share.set_id() != layout.set_id {
        return Err(Error::ForeignShare { given: share.set_id().to_owned(), expected: layout.set_id.clone() });
    }
    Ok(())
}

/// Unwraps the master key with the presented secret.
pub fn unseal(config: &SealConfig, secret: &StartupSecret) -> Result<MasterKey> {
    if secret.kind() != config.kind {
        return Err(Error::WrongKind { expected: config.kind.as_str(), given: secret.kind().as_str() });
    }
    let salt = b64_decode(&config.salt)?;
    let kek = match secret {
        StartupSecret::Passphrase(p) => {
            let kdf = config.kdf.ok_or_else(|| Error::BadConfig("passphrase seal without KDF parameters".into()))?;
            keyward_crypto::argon2id(p.expose(), &salt, kdf.into())?
        }
        StartupSecret::KeyFile(file) => {
            if file.len() != KEY_FILE_LEN {
                return Err(Error::BadKeyFile { len: file.len() });
            }
            keyward_crypto::hkdf_sha256(file.expose(), &salt, KEY_FILE_INFO, KEY_LEN)?
        }
        StartupSecret::Shares(shares) => {
            let layout = config.layout.as_ref().ok_or_else(|| Error::BadConfig("share seal without layout".into()))?;
            for s in shares {
                check_share(config, s)?;
            }
            let mut distinct: Vec<&ShareFile> = Vec::new();
            for s in shares {
                if !distinct.iter().any(|d| d.index() == s.index()) {
                    distinct.push(s);
                }
            }
            if distinct.len() < usize::from(layout.threshold) {
                return Err(Error::TooFewShares { given: distinct.len(), needed: layout.threshold });
            }
            let parts: Vec<&[u8]> = distinct.iter().map(|s| s.bytes()).collect();
            keyward_crypto::shamir_combine(layout.threshold, &parts).map_err(|_| Error::WrongSecret)?
        }
    };
    let wrapped = b64_decode(&config.wrapped_master_key)?;
    let master = keyward_crypto::aead_open(kek.expose(), &wrapped, MASTER_KEY_AAD).map_err(|_| Error::WrongSecret)?;
    if master.len() != KEY_LEN {
        return Err(Error::WrongSecret);
    }
    Ok(MasterKey(master))
}

/// One barrier data key, wrapped by the master key, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    pub version: u32,
    pub wrapped: Vec<u8>,
}

fn data_key_aad(version: u32) -> Vec<u8> {
    format!("keyward/keyring/v1/{version}").into_bytes()
}

/// Makes a new data key for the keyring, wrapped under `master`.
pub fn new_data_key(master: &MasterKey, version: u32) -> Result<WrappedDataKey> {
    let key = keyward_crypto::random_secret(KEY_LEN)?;
    let wrapped = keyward_crypto::aead_seal(master.0.expose(), key.expose(), &data_key_aad(version))?;
    Ok(WrappedDataKey { version, wrapped })
}

/// The unwrapped keyring: what encrypts and decrypts every stored secret.
pub struct Keyring {
    keys: Vec<(u32, Secret)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} data keys, [redacted])", self.keys.len())
    }
}

impl Keyring {
    pub fn open(master: &MasterKey, wrapped: &[WrappedDataKey]) -> Result<Self> {
        let mut keys = Vec::with_capacity(wrapped.len());
        for w in wrapped {
            let k = keyward_crypto::aead_open(master.0.expose(), &w.wrapped, &data_key_aad(w.version))
                .map_err(|_| Error::Corrupt)?;
            keys.push((w.version, k));
        }
        if keys.is_empty() {
            return Err(Error::BadConfig("the keyring is empty".into()));
        }
        keys.sort_by_key(|(v, _)| *v);
        Ok(Keyring { keys })
    }

    pub fn current_version(&self) -> u32 {
        self.keys.last().map(|(v, _)| *v).unwrap_or(0)
    }

    /// Seals `plaintext` under the newest data key: `0x01 || version(u32 BE) || nonce || ct || tag`.
    /// `context` is authenticated, binding the blob to the row that holds it.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let (version, key) = self.keys.last().ok_or(Error::UnknownDataKey(0))?;
        let body = keyward_crypto::aead_seal(key.expose(), plaintext, context)?;
        let mut out = Vec::with_capacity(5 + body.len());
        out.push(BARRIER_VERSION);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn open_blob(&self, context: &[u8], blob: &[u8]) -> Result<Secret> {
        let (header, body) = blob.split_at_checked(5).ok_or(Error::Corrupt)?;
        let (&format, version) = header.split_first().ok_or(Error::Corrupt)?;
        if format != BARRIER_VERSION {
            return Err(Error::Corrupt);
        }
        let version = u32::from_be_bytes(version.try_into().map_err(|_| Error::Corrupt)?);
        let key =
            self.keys.iter().find(|(v, _)| *v == version).map(|(_, k)| k).ok_or(Error::UnknownDataKey(version))?;
        keyward_crypto::aead_open(key.expose(), body, context).map_err(|_| Error::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Secret {
        Secret::copy_from(s.as_bytes())
    }

    #[test]
    fn passphrase_seal_round_trip() {
        let (cfg, master, _) = create(NewSecret::Passphrase(pass("correct horse battery"))).unwrap();
        let cfg = SealConfig::from_json(&cfg.to_json()).unwrap();
        let again = unseal(&cfg, &StartupSecret::Passphrase(pass("correct horse battery"))).unwrap();
        assert_eq!(again.0, master.0);
        assert!(matches!(
            unseal(&cfg, &StartupSecret::Passphrase(pass("wrong horse battery"))),
            Err(Error::WrongSecret)
        ));
        assert!(matches!(unseal(&cfg, &StartupSecret::KeyFile(Secret::zeroed(32))), Err(Error::WrongKind { .. })));
        assert!(matches!(create(NewSecret::Passphrase(pass("short"))), Err(Error::WeakPassphrase { .. })));
    }

    #[test]
    fn key_file_and_rekey() {
        let (cfg, master, issued) = create(NewSecret::KeyFile).unwrap();
        let Issued::KeyFile(file) = issued else { panic!("no key file") };
        unseal(&cfg, &StartupSecret::KeyFile(file.duplicate())).unwrap();
        let mut other = file.duplicate();
        other.expose_mut()[0] ^= 1;
        assert!(matches!(unseal(&cfg, &StartupSecret::KeyFile(other)), Err(Error::WrongSecret)));
        // Rekey to shares keeps the same master key.
        let (cfg2, issued) = rekey(&master, NewSecret::Shares { threshold: 2, shares: 3 }).unwrap();
        let Issued::Shares(shares) = issued else { panic!("no shares") };
        let m2 = unseal(&cfg2, &StartupSecret::Shares(vec![shares[2].clone(), shares[0].clone()])).unwrap();
        assert_eq!(m2.0, master.0);
        assert!(matches!(
            unseal(&cfg2, &StartupSecret::Shares(vec![shares[1].clone(), shares[1].clone()])),
            Err(Error::TooFewShares { given: 1, needed: 2 })
        ));
    }

    #[test]
    fn foreign_shares_are_named() {
        let (cfg_a, _, _) = create(NewSecret::Shares { threshold: 2, shares: 2 }).unwrap();
        let (_, _, issued_b) = create(NewSecret::Shares { threshold: 2, shares: 2 }).unwrap();
        let Issued::Shares(b) = issued_b else { panic!() };
        assert!(matches!(check_share(&cfg_a, &b[0]), Err(Error::ForeignShare { .. })));
    }

    #[test]
    fn barrier_binds_context_and_detects_tampering() {
        let (_, master, _) = create(NewSecret::KeyFile).unwrap();
        let ring = Keyring::open(&master, &[new_data_key(&master, 1).unwrap()]).unwrap();
        let blob = ring.seal(b"row-1", b"secret material").unwrap();
        assert_eq!(ring.open_blob(b"row-1", &blob).unwrap().expose(), b"secret material");
        assert!(ring.open_blob(b"row-2", &blob).is_err());
        let mut bad = blob.clone();
        bad[7] ^= 0x80;
        assert!(ring.open_blob(b"row-1", &bad).is_err());
        let (_, other_master, _) = create(NewSecret::KeyFile).unwrap();
        assert!(Keyring::open(&other_master, &[new_data_key(&master, 1).unwrap()]).is_err());
    }
}
