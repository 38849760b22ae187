//! Using keys: encrypt/decrypt, sign/verify, HMAC, data keys, import and export.
//!
//! Outputs name the key and version that made them, so the reverse operation needs no extra
//! argument: `keyward:v1:<key id>:<version>:<base64>` for ciphertexts, and
//! `keyward:v1:<key id>:<version>:<scheme>:<base64>` for signatures and MACs.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_crypto::{LoadedKey, Secret, SignatureScheme};
use keyward_store::ObjectRow;
use keyward_types::{Capability, KeyName, KeyType, Usage};

use crate::authz::{Action, authorize};
use crate::keys::parse_row;
use crate::{Caller, Error, KeyInfo, Result, Service};

const PREFIX: &str = "keyward:v1";

/// A parsed `keyward:v1:...` string.
struct Envelope {
    key_id: String,
    version: u32,
    scheme: Option<String>,
    payload: Vec<u8>,
}

fn bad_envelope(field: &'static str) -> Error {
    Error::invalid(field, "not a Keyward value: expected keyward:v1:<key id>:<version>:...")
}

fn format_envelope(key_id: &str, version: u32, scheme: Option<&str>, payload: &[u8]) -> String {
    match scheme {
        Some(s) => format!("{PREFIX}:{key_id}:{version}:{s}:{}", B64.encode(payload)),
        None => format!("{PREFIX}:{key_id}:{version}:{}", B64.encode(payload)),
    }
}

fn parse_envelope(field: &'static str, s: &str, with_scheme: bool) -> Result<Envelope> {
    let s = s.trim();
    let rest = s.strip_prefix(PREFIX).and_then(|r| r.strip_prefix(':')).ok_or_else(|| bad_envelope(field))?;
    let mut parts = rest.splitn(if with_scheme { 4 } else { 3 }, ':');
    let key_id = parts.next().ok_or_else(|| bad_envelope(field))?.to_owned();
    let version = parts.next().and_then(|v| v.parse().ok()).ok_or_else(|| bad_envelope(field))?;
    let scheme = if with_scheme { Some(parts.next().ok_or_else(|| bad_envelope(field))?.to_owned()) } else { None };
    let payload = parts
        .next()
        .and_then(|p| B64.decode(p).ok())
        .ok_or_else(|| Error::invalid(field, "the payload is not valid base64"))?;
    Ok(Envelope { key_id, version, scheme, payload })
}

/// The associated data AES-GCM authenticates: the key and version, then the caller's AAD, so a
/// ciphertext cannot be replayed against another key or version.
fn bound_aad(key_id: &str, version: u32, aad: &[u8]) -> Vec<u8> {
    let mut out = format!("keyward/v1/{key_id}/{version}\0").into_bytes();
    out.extend_from_slice(aad);
    out
}

const WRAP_KEY: i32 = 0x10;
const UNWRAP_KEY: i32 = 0x20;

/// A key a KMIP client made with a Cryptographic Usage Mask without Wrap Key (or Unwrap Key) is
/// not a key-wrapping key over REST either: KMIP lets such keys run AES in raw modes (ECB,
/// CBC), which would undo a wrap made with them.
fn mask_allows(row: &ObjectRow, bit: i32, operation: &'static str) -> Result<()> {
    match crate::managed::stored_usage_mask(&crate::managed::attributes_of(row)) {
        Some(m) if m & bit == 0 => Err(Error::invalid(
            "wrapping_key",
            format!("key {:?} has a KMIP usage mask ({m:#x}) that does not allow it to {operation}", row.name),
        )),
        _ => Ok(()),
    }
}

/// What export returns: plaintext material (administrators only) or material wrapped with
/// AES Key Wrap with Padding (RFC 5649) under another key.
#[derive(Debug)]
pub struct Export {
    pub key: KeyInfo,
    pub version: u32,
    /// "raw" for symmetric keys, "pkcs8" for key pairs.
    pub format: &'static str,
    pub plaintext: Option<Secret>,
    pub wrapped: Option<Vec<u8>>,
    pub wrapping_key: Option<(String, u32)>,
}

/// Material handed to import.
pub enum ImportMaterial {
    Plain(Secret),
    Wrapped { wrapping_key: String, wrapped: Vec<u8> },
}

impl Service {
    /// Resolves a key for use: scope, enabled, lifecycle state and capability.
    fn usable(
        &self,
        caller: &Caller,
        name: &str,
        usage: Usage,
        capability: Capability,
        op: &'static str,
    ) -> Result<(ObjectRow, KeyType)> {
        authorize(caller, Action::UseKey(name))?;
        self.keyring()?;
        let row = self.find(name)?;
        let (key_type, state) = parse_row(&row)?;
        if !state.allows(usage) {
            return Err(Error::KeyState { name: row.name, state: state.as_str(), operation: op });
        }
        if !row.enabled {
            return Err(Error::KeyDisabled { name: row.name });
        }
        if !key_type.can(capability) {
            return Err(Error::WrongKeyType { name: row.name, key_type: key_type.as_str(), operation: op });
        }
        Ok((row, key_type))
    }

    fn envelope_key(&self, row: &ObjectRow, key_type: KeyType, env: &Envelope) -> Result<Arc<LoadedKey>> {
        if env.key_id != row.id {
            return Err(Error::ForeignCiphertext {
                name: row.name.clone(),
                expected_id: env.key_id.chars().take(64).collect(),
            });
        }
        if env.version == 0 || env.version > row.current_version {
            return Err(Error::NoSuchVersion { name: row.name.clone(), version: env.version });
        }
        self.loaded_key(row, key_type, env.version)
    }

    pub fn encrypt(&self, caller: &Caller, name: &str, plaintext: &[u8], aad: &[u8]) -> Result<String> {
        let (row, key_type) = self.usable(caller, name, Usage::Protect, Capability::Encrypt, "encrypt")?;
        let key = self.loaded_key(&row, key_type, row.current_version)?;
        let payload = if key_type.is_rsa() {
            key.encrypt(plaintext, aad)?
        } else {
            key.encrypt(plaintext, &bound_aad(&row.id, row.current_version, aad))?
        };
        Ok(format_envelope(&row.id, row.current_version, None, &payload))
    }

    pub fn decrypt(&self, caller: &Caller, name: &str, ciphertext: &str, aad: &[u8]) -> Result<Secret> {
        let (row, key_type) = self.usable(caller, name, Usage::Process, Capability::Encrypt, "decrypt")?;
        let env = parse_envelope("ciphertext", ciphertext, false)?;
        let key = self.envelope_key(&row, key_type, &env)?;
        let result = if key_type.is_rsa() {
            key.decrypt(&env.payload, aad)
        } else {
            key.decrypt(&env.payload, &bound_aad(&row.id, env.version, aad))
        };
        result.map_err(|_| Error::DecryptFailed)
    }

    pub fn sign(&self, caller: &Caller, name: &str, message: &[u8], scheme: Option<&str>) -> Result<String> {
        let (row, key_type) = self.usable(caller, name, Usage::Protect, Capability::Sign, "sign")?;
        let scheme = scheme
            .map(|s| {
                SignatureScheme::parse(s)
                    .ok_or_else(|| Error::invalid("algorithm", format!("unknown signature scheme {s:?}")))
            })
            .transpose()?;
        let key = self.loaded_key(&row, key_type, row.current_version)?;
        let (scheme, sig) = key.sign(scheme, message).map_err(|e| match e {
            keyward_crypto::Error::Unsupported { .. } => Error::WrongKeyType {
                name: row.name.clone(),
                key_type: key_type.as_str(),
                operation: "sign with that scheme",
            },
            e => e.into(),
        })?;
        Ok(format_envelope(&row.id, row.current_version, Some(scheme.as_str()), &sig))
    }

    pub fn verify(&self, caller: &Caller, name: &str, message: &[u8], signature: &str) -> Result<bool> {
        let (row, key_type) = self.usable(caller, name, Usage::Process, Capability::Sign, "verify")?;
        let env = parse_envelope("signature", signature, true)?;
        let scheme = env
            .scheme
            .as_deref()
            .and_then(SignatureScheme::parse)
            .ok_or_else(|| Error::invalid("signature", "unknown signature scheme"))?;
        let key = self.envelope_key(&row, key_type, &env)?;
        match key.verify(scheme, message, &env.payload) {
            Ok(()) => Ok(true),
            Err(keyward_crypto::Error::BadSignature) => Ok(false),
            Err(keyward_crypto::Error::Unsupported { .. }) => {
                Err(Error::invalid("signature", format!("scheme {} does not fit a {} key", scheme.as_str(), key_type)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn hmac(&self, caller: &Caller, name: &str, message: &[u8]) -> Result<String> {
        let (row, key_type) = self.usable(caller, name, Usage::Protect, Capability::Mac, "compute an HMAC")?;
        let key = self.loaded_key(&row, key_type, row.current_version)?;
        Ok(format_envelope(&row.id, row.current_version, Some("hmac-sha256"), &key.mac(message)?))
    }

    pub fn hmac_verify(&self, caller: &Caller, name: &str, message: &[u8], mac: &str) -> Result<bool> {
        let (row, key_type) = self.usable(caller, name, Usage::Process, Capability::Mac, "verify an HMAC")?;
        let env = parse_envelope("hmac", mac, true)?;
        if env.scheme.as_deref() != Some("hmac-sha256") {
            return Err(Error::invalid("hmac", "not an hmac-sha256 value"));
        }
        let key = self.envelope_key(&row, key_type, &env)?;
        Ok(key.mac_verify(message, &env.payload).is_ok())
    }

    /// Envelope encryption: a fresh data key in plaintext (use it, then forget it) and the same
    /// key encrypted under `name` (store it beside the data).
    pub fn datakey(&self, caller: &Caller, name: &str, bits: u32, aad: &[u8]) -> Result<(Secret, String)> {
        if !matches!(bits, 128 | 256 | 512) {
            return Err(Error::invalid("bits", "a data key has 128, 256 or 512 bits"));
        }
        let key = keyward_crypto::random_secret((bits / 8) as usize)?;
        let wrapped = self.encrypt(caller, name, key.expose(), aad)?;
        Ok((key, wrapped))
    }

    /// The public half of a key pair, as SubjectPublicKeyInfo DER.
    pub fn public_key(&self, caller: &Caller, name: &str) -> Result<(KeyInfo, Vec<u8>)> {
        authorize(caller, Action::ReadKey(name))?;
        let row = self.find(name)?;
        let (key_type, _) = parse_row(&row)?;
        let v = self
            .store()
            .key_version(&row.id, row.current_version)?
            .ok_or_else(|| Error::NoSuchVersion { name: row.name.clone(), version: row.current_version })?;
        let der = v.public_key.ok_or_else(|| Error::WrongKeyType {
            name: row.name.clone(),
            key_type: key_type.as_str(),
            operation: "have a public key",
        })?;
        Ok((self.key_show(caller, name)?, der))
    }

    /// Exports the current version: wrapped under `wrapping_key`, or in plaintext when
    /// `wrapping_key` is `None` (administrators only). Only for keys created exportable.
    pub fn export(&self, caller: &Caller, name: &str, wrapping_key: Option<&str>) -> Result<Export> {
        match wrapping_key {
            None => authorize(caller, Action::ExportPlaintext(name))?,
            Some(_) => authorize(caller, Action::UseKey(name))?,
        }
        self.keyring()?;
        let row = self.find(name)?;
        let (key_type, state) = parse_row(&row)?;
        if !row.exportable {
            return Err(Error::NotExportable { name: row.name });
        }
        if state.is_destroyed() {
            return Err(Error::KeyState { name: row.name, state: state.as_str(), operation: "be exported" });
        }
        let key = self.loaded_key(&row, key_type, row.current_version)?;
        let format = if key_type.is_symmetric() { "raw" } else { "pkcs8" };
        let mut out = Export {
            key: self.key_show(caller, name)?,
            version: row.current_version,
            format,
            plaintext: None,
            wrapped: None,
            wrapping_key: None,
        };
        match wrapping_key {
            None => out.plaintext = Some(key.material().duplicate()),
            Some(wk) => {
                let (wrow, wtype) = self.usable(caller, wk, Usage::Protect, Capability::Wrap, "wrap keys")?;
                mask_allows(&wrow, WRAP_KEY, "wrap keys")?;
                let kek = self.loaded_key(&wrow, wtype, wrow.current_version)?;
                out.wrapped = Some(kek.wrap(key.material().expose())?);
                out.wrapping_key = Some((wrow.name, wrow.current_version));
            }
        }
        Ok(out)
    }

    /// Imports key material (raw for symmetric keys, PKCS#8 DER for key pairs), in plaintext or
    /// wrapped under an AES key already in Keyward.
    pub fn import(
        &self,
        caller: &Caller,
        name: &str,
        key_type: KeyType,
        material: ImportMaterial,
        exportable: bool,
    ) -> Result<KeyInfo> {
        let key_name = KeyName::parse(name).map_err(|e| Error::invalid("name", e.to_string()))?;
        authorize(caller, Action::ManageKey(name))?;
        crate::keys::usable_type(key_type)?;
        self.keyring()?;
        let material = match material {
            ImportMaterial::Plain(m) => m,
            ImportMaterial::Wrapped { wrapping_key, wrapped } => {
                let (wrow, wtype) =
                    self.usable(caller, &wrapping_key, Usage::Process, Capability::Wrap, "unwrap keys")?;
                mask_allows(&wrow, UNWRAP_KEY, "unwrap keys")?;
                let kek = self.loaded_key(&wrow, wtype, wrow.current_version)?;
                kek.unwrap(&wrapped).map_err(|_| Error::DecryptFailed)?
            }
        };
        self.insert_key(key_name, key_type, material, exportable, false).map_err(|e| match e {
            Error::Crypto(keyward_crypto::Error::BadMaterial { key_type }) => Error::invalid(
                "material",
                format!("not valid {key_type} key material (raw bytes for symmetric keys, PKCS#8 DER for key pairs)"),
            ),
            e => e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_reject_garbage() {
        let s = format_envelope("id-1", 3, None, b"abc");
        let e = parse_envelope("ciphertext", &s, false).unwrap();
        assert_eq!((e.key_id.as_str(), e.version, e.payload.as_slice()), ("id-1", 3, &b"abc"[..]));
        let s = format_envelope("id-1", 2, Some("ed25519"), b"sig");
        let e = parse_envelope("signature", &s, true).unwrap();
        assert_eq!(e.scheme.as_deref(), Some("ed25519"));
        for bad in ["", "keyward:v1", "keyward:v2:id:1:AAAA", "keyward:v1:id:x:AAAA", "keyward:v1:id:1:***"] {
            assert!(parse_envelope("ciphertext", bad, false).is_err(), "{bad}");
        }
    }
}
