//! Keyward's domain vocabulary: identifiers, key types, the key lifecycle, roles and the
//! organisation tree. Pure data: no IO, no crypto, no wire format.
//!
//! Other crates turn these into rows, JSON or TTLV; this crate only says what the words mean
//! and which transitions are legal, so the rules live in one place.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

/// The error for a word that is not part of the vocabulary (an unknown key type, state or role).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("unknown {what} {given:?}; expected one of: {expected}")]
    Unknown { what: &'static str, given: String, expected: &'static str },
    #[error("invalid key name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
}

/// A time-ordered random identifier (UUIDv7) for every object, token and server.
///
/// Time ordering keeps B-tree inserts local; the 74 random bits mean an id issued after a
/// backup cannot collide with one issued after that backup is restored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(uuid::Uuid);

impl Id {
    pub fn new() -> Self {
        Id(uuid::Uuid::now_v7())
    }
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl Default for Id {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Id {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        uuid::Uuid::parse_str(s).map(Id).map_err(|_| Error::Unknown {
            what: "id",
            given: s.chars().take(64).collect(),
            expected: "a UUID such as 0192e4c0-7d3a-7cc2-9a1e-3f9c5d2b8a10",
        })
    }
}

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::Unknown {
                        what: $what,
                        given: s.chars().take(64).collect(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}

vocabulary! {
    /// The kinds of object Keyward keeps. The first nine are keys Keyward creates and uses; the
    /// rest are objects KMIP clients register (or derive) and fetch: their algorithm and length
    /// are attributes of the object, and Keyward stores them without using them itself.
    KeyType, "key type" {
        Aes128 => "aes-128",
        Aes256 => "aes-256",
        Rsa2048 => "rsa-2048",
        Rsa3072 => "rsa-3072",
        Rsa4096 => "rsa-4096",
        EcP256 => "ec-p256",
        EcP384 => "ec-p384",
        Ed25519 => "ed25519",
        HmacSha256 => "hmac-sha256",
        Symmetric => "symmetric",
        PrivateKey => "private-key",
        PublicKey => "public-key",
        Certificate => "certificate",
        SecretData => "secret-data",
        Opaque => "opaque",
        SplitKey => "split-key",
    }
}

/// What a key type is able to do. Operations check this before touching material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Encrypt,
    Sign,
    Mac,
    /// Wrap other keys (export/import) and data keys.
    Wrap,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Encrypt => "encrypt/decrypt",
            Capability::Sign => "sign/verify",
            Capability::Mac => "hmac",
            Capability::Wrap => "wrap",
        }
    }
}

impl KeyType {
    pub fn can(self, capability: Capability) -> bool {
        use KeyType::*;
        match capability {
            Capability::Encrypt => matches!(self, Aes128 | Aes256 | Rsa2048 | Rsa3072 | Rsa4096),
            Capability::Sign => matches!(self, Rsa2048 | Rsa3072 | Rsa4096 | EcP256 | EcP384 | Ed25519),
            Capability::Mac => matches!(self, HmacSha256),
            Capability::Wrap => matches!(self, Aes128 | Aes256),
        }
    }

    /// The key types `keyward key create` makes: the ones Keyward itself uses.
    pub fn is_usable(self) -> bool {
        !matches!(
            self,
            KeyType::Symmetric
                | KeyType::PrivateKey
                | KeyType::PublicKey
                | KeyType::Certificate
                | KeyType::SecretData
                | KeyType::Opaque
                | KeyType::SplitKey
        )
    }

    /// Whether the object has secret material (everything but public keys and certificates).
    pub fn is_secret(self) -> bool {
        !matches!(self, KeyType::PublicKey | KeyType::Certificate)
    }

    pub fn is_symmetric(self) -> bool {
        matches!(self, KeyType::Aes128 | KeyType::Aes256 | KeyType::HmacSha256)
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    /// The key length in bits, as KMIP's Cryptographic Length reports it; 0 for the kinds whose
    /// length is an attribute of each object.
    pub fn bits(self) -> u32 {
        match self {
            KeyType::Symmetric
            | KeyType::PrivateKey
            | KeyType::PublicKey
            | KeyType::Certificate
            | KeyType::SecretData
            | KeyType::Opaque
            | KeyType::SplitKey => 0,
            KeyType::Aes128 => 128,
            KeyType::Aes256 | KeyType::HmacSha256 | KeyType::EcP256 | KeyType::Ed25519 => 256,
            KeyType::EcP384 => 384,
            KeyType::Rsa2048 => 2048,
            KeyType::Rsa3072 => 3072,
            KeyType::Rsa4096 => 4096,
        }
    }
}

vocabulary! {
    /// The KMIP object lifecycle (KMIP 1.4 §3.22). Keyward keeps a separate `enabled` flag for
    /// an operator's temporary "stop using this key", because KMIP's Deactivated is one-way.
    KeyState, "key state" {
        PreActive => "pre-active",
        Active => "active",
        Deactivated => "deactivated",
        Compromised => "compromised",
        Destroyed => "destroyed",
        DestroyedCompromised => "destroyed-compromised",
    }
}

/// Whether an operation produces new protected data (encrypt, sign) or only processes
/// existing data (decrypt, verify). KMIP lets deactivated and compromised keys do the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Protect,
    Process,
}

impl KeyState {
    /// Whether KMIP allows moving from `self` to `to`.
    pub fn can_become(self, to: KeyState) -> bool {
        use KeyState::*;
        matches!(
            (self, to),
            (PreActive, Active)
                | (Active, Deactivated)
                | (PreActive | Active | Deactivated, Compromised)
                | (PreActive | Deactivated, Destroyed)
                | (Compromised | Destroyed, DestroyedCompromised)
        )
    }

    pub fn allows(self, usage: Usage) -> bool {
        match self {
            KeyState::Active => true,
            KeyState::Deactivated | KeyState::Compromised => usage == Usage::Process,
            KeyState::PreActive | KeyState::Destroyed | KeyState::DestroyedCompromised => false,
        }
    }

    pub fn is_destroyed(self) -> bool {
        matches!(self, KeyState::Destroyed | KeyState::DestroyedCompromised)
    }
}

vocabulary! {
    /// What a token (or a mapped client certificate) may do.
    Role, "role" {
        Admin => "admin",
        Operator => "operator",
        Backup => "backup",
        App => "app",
        Officer => "officer",
    }
}

vocabulary! {
    /// The parts of a node's state that are registered, versioned, backed up and restored
    /// separately.
    Component, "component" {
        Keys => "keys",
        Directory => "directory",
        Config => "config",
        Audit => "audit",
        Pki => "pki",
    }
}

impl Component {
    /// Whether every node has it; optional components are in a backup only when installed.
    pub fn is_required(self) -> bool {
        !matches!(self, Component::Pki)
    }
}

/// A validated key name: 1 to 128 characters from `A-Z a-z 0-9 . _ - :` and starting with a
/// letter or digit, so it is safe in URL paths, file names and shell commands alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(name: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidName { name: name.chars().take(140).collect(), reason };
        if name.is_empty() || name.len() > 128 {
            return Err(invalid("a key name has 1 to 128 characters"));
        }
        if !name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid("a key name starts with a letter or digit"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')) {
            return Err(invalid("a key name may contain only letters, digits and . _ - :"));
        }
        Ok(KeyName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a node sits in the organisation tree, and which life of it this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    pub organization: String,
    pub site: String,
    pub server_name: String,
    pub server_id: Id,
    /// Bumped by every restore, so anything issued by this node can be told apart from what
    /// an earlier life of it issued.
    pub incarnation: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips() {
        for t in KeyType::ALL {
            assert_eq!(t.as_str().parse::<KeyType>(), Ok(*t));
        }
        for s in KeyState::ALL {
            assert_eq!(s.as_str().parse::<KeyState>(), Ok(*s));
        }
        let err = "aes-512".parse::<KeyType>().unwrap_err().to_string();
        assert!(err.contains("aes-512") && err.contains("aes-256"), "{err}");
    }

    #[test]
    fn lifecycle_follows_kmip() {
        use KeyState::*;
        assert!(PreActive.can_become(Active));
        assert!(!Active.can_become(Destroyed), "KMIP: an active key must be deactivated first");
        assert!(!Deactivated.can_become(Active));
        assert!(Compromised.can_become(DestroyedCompromised));
        assert!(Deactivated.allows(Usage::Process) && !Deactivated.allows(Usage::Protect));
        assert!(!Destroyed.allows(Usage::Process));
    }

    #[test]
    fn key_names_are_validated() {
        assert!(KeyName::parse("app1.orders-2024:v1").is_ok());
        for bad in ["", "-x", "a/b", "a b", "ключ", &"x".repeat(129)] {
            assert!(KeyName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn capabilities() {
        assert!(KeyType::Rsa2048.can(Capability::Encrypt));
        assert!(!KeyType::EcP256.can(Capability::Encrypt));
        assert!(!KeyType::Aes256.can(Capability::Sign));
        assert!(KeyType::HmacSha256.can(Capability::Mac));
    }
}
