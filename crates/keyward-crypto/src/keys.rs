//! Customer keys: generation, loading from stored material, and the operations each type
//! supports. Material is raw bytes for symmetric keys and PKCS#8 v1 DER for key pairs, the
//! forms every KMIP client and `openssl` understand.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{aead, hmac};
use keyward_types::KeyType;

use crate::{Error, Result, Secret, TAG_LEN, random_array, random_secret, rng};

/// How a signature was made; carried with it so verification needs no extra argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    RsaPssSha256,
    RsaPkcs1Sha256,
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    Ed25519,
}

impl SignatureScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::RsaPssSha256 => "rsa-pss-sha256",
            SignatureScheme::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            SignatureScheme::EcdsaP256Sha256 => "ecdsa-sha256",
            SignatureScheme::EcdsaP384Sha384 => "ecdsa-sha384",
            SignatureScheme::Ed25519 => "ed25519",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rsa-pss-sha256" | "pss" => SignatureScheme::RsaPssSha256,
            "rsa-pkcs1-sha256" | "pkcs1" | "pkcs1v15" => SignatureScheme::RsaPkcs1Sha256,
            "ecdsa-sha256" => SignatureScheme::EcdsaP256Sha256,
            "ecdsa-sha384" => SignatureScheme::EcdsaP384Sha384,
            "ed25519" => SignatureScheme::Ed25519,
            _ => return None,
        })
    }

    /// The scheme used when the caller names none: PSS for RSA (the modern choice), the
    /// curve's own hash for ECDSA.
    pub fn default_for(key_type: KeyType) -> Option<Self> {
        Some(match key_type {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => SignatureScheme::RsaPssSha256,
            KeyType::EcP256 => SignatureScheme::EcdsaP256Sha256,
            KeyType::EcP384 => SignatureScheme::EcdsaP384Sha384,
            KeyType::Ed25519 => SignatureScheme::Ed25519,
            _ => return None,
        })
    }

    fn fits(self, key_type: KeyType) -> bool {
        match self {
            SignatureScheme::RsaPssSha256 | SignatureScheme::RsaPkcs1Sha256 => key_type.is_rsa(),
            SignatureScheme::EcdsaP256Sha256 => key_type == KeyType::EcP256,
            SignatureScheme::EcdsaP384Sha384 => key_type == KeyType::EcP384,
            SignatureScheme::Ed25519 => key_type == KeyType::Ed25519,
        }
    }
}

/// Generates fresh material for `key_type`.
pub fn generate_material(key_type: KeyType) -> Result<Secret> {
    let pkcs8 = |doc: aws_lc_rs::pkcs8::Document| Secret::copy_from(doc.as_ref());
    match key_type {
        KeyType::Aes128 => random_secret(16),
        KeyType::Aes256 | KeyType::HmacSha256 => random_secret(32),
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
            let size = match key_type {
                KeyType::Rsa2048 => KeySize::Rsa2048,
                KeyType::Rsa3072 => KeySize::Rsa3072,
                _ => KeySize::Rsa4096,
            };
            let pair = RsaKeyPair::generate(size).map_err(|_| Error::Internal)?;
            let der = pair.as_der().map_err(|_| Error::Internal)?;
            Ok(Secret::copy_from(der.as_ref()))
        }
        KeyType::EcP256 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, rng())
            .map(pkcs8)
            .map_err(|_| Error::Internal),
        KeyType::EcP384 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, rng())
            .map(pkcs8)
            .map_err(|_| Error::Internal),
        KeyType::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(|_| Error::Internal)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair.as_der().map_err(|_| Error::Internal)?;
            Ok(Secret::copy_from(der.as_ref()))
        }
    }
}

enum Inner {
    Aes(LessSafeKey),
    // Boxed: an HMAC key holds precomputed SHA-256 state and would bloat every variant.
    Hmac(Box<hmac::Key>),
    Rsa { pair: RsaKeyPair, decrypt: OaepPrivateDecryptingKey, encrypt: OaepPublicEncryptingKey },
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A customer key ready for use: parsed once, kept in the unsealed cache, dropped on seal.
pub struct LoadedKey {
    key_type: KeyType,
    material: Secret,
    inner: Inner,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedKey({}, [redacted])", self.key_type)
    }
}

impl LoadedKey {
    /// Parses stored or imported material; rejects material of the wrong length or kind.
    pub fn load(key_type: KeyType, material: Secret) -> Result<Self> {
        let bad = || Error::BadMaterial { key_type: key_type.as_str() };
        let inner = match key_type {
            KeyType::Aes128 | KeyType::Aes256 => {
                let alg = if key_type == KeyType::Aes128 { &AES_128_GCM } else { &AES_256_GCM };
                Inner::Aes(LessSafeKey::new(UnboundKey::new(alg, material.expose()).map_err(|_| bad())?))
            }
            KeyType::HmacSha256 => {
                if material.len() < 16 {
                    return Err(bad());
                }
                Inner::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, material.expose())))
            }
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                let pair = RsaKeyPair::from_pkcs8(material.expose()).map_err(|_| bad())?;
                if pair.public_modulus_len() * 8 != key_type.bits() as usize {
                    return Err(bad());
                }
                let private = PrivateDecryptingKey::from_pkcs8(material.expose()).map_err(|_| bad())?;
                let encrypt = OaepPublicEncryptingKey::new(private.public_key()).map_err(|_| bad())?;
                let decrypt = OaepPrivateDecryptingKey::new(private).map_err(|_| bad())?;
                Inner::Rsa { pair, decrypt, encrypt }
            }
            KeyType::EcP256 => Inner::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, material.expose())
                    .map_err(|_| bad())?,
            ),
            KeyType::EcP384 => Inner::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, material.expose())
                    .map_err(|_| bad())?,
            ),
            KeyType::Ed25519 => {
                Inner::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(material.expose()).map_err(|_| bad())?)
            }
        };
        Ok(LoadedKey { key_type, material, inner })
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The stored form of the key (raw or PKCS#8), for export and wrapping only.
    pub fn material(&self) -> &Secret {
        &self.material
    }

    fn unsupported(&self, operation: &'static str) -> Error {
        Error::Unsupported { key_type: self.key_type.as_str(), operation }
    }

    /// AES-GCM: `nonce(12) || ciphertext || tag(16)` with `aad` authenticated.
    /// RSA: OAEP with SHA-256, `aad` used as the OAEP label.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Aes(key) => {
                let nonce: [u8; NONCE_LEN] = random_array()?;
                let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(plaintext);
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(aad),
                        out.get_mut(NONCE_LEN..).ok_or(Error::Internal)?,
                    )
                    .map_err(|_| Error::Internal)?;
                out.extend_from_slice(tag.as_ref());
                Ok(out)
            }
            Inner::Rsa { encrypt, .. } => {
                let max = encrypt.max_plaintext_size(&OAEP_SHA256_MGF1SHA256);
                if plaintext.len() > max {
                    return Err(Error::TooLong { key_type: self.key_type.as_str(), max });
                }
                let mut out = vec![0u8; encrypt.ciphertext_size()];
                let label = (!aad.is_empty()).then_some(aad);
                let len = encrypt
                    .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, label)
                    .map_err(|_| Error::Internal)?
                    .len();
                out.truncate(len);
                Ok(out)
            }
            _ => Err(self.unsupported("encrypt")),
        }
    }

    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Secret> {
        match &self.inner {
            Inner::Aes(key) => crate::aead_open_with(key, ciphertext, aad),
            Inner::Rsa { decrypt, .. } => {
                let mut out = Secret::zeroed(decrypt.min_output_size());
                let label = (!aad.is_empty()).then_some(aad);
                let len = decrypt
                    .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, out.expose_mut(), label)
                    .map_err(|_| Error::Decrypt)?
                    .len();
                out.truncate(len);
                Ok(out)
            }
            _ => Err(self.unsupported("decrypt")),
        }
    }

    pub fn sign(&self, scheme: Option<SignatureScheme>, message: &[u8]) -> Result<(SignatureScheme, Vec<u8>)> {
        let scheme = match scheme.or_else(|| SignatureScheme::default_for(self.key_type)) {
            Some(s) if s.fits(self.key_type) => s,
            _ => return Err(self.unsupported("sign with that scheme")),
        };
        let sig = match &self.inner {
            Inner::Rsa { pair, .. } => {
                let padding: &'static dyn signature::RsaEncoding = match scheme {
                    SignatureScheme::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
                    _ => &signature::RSA_PSS_SHA256,
                };
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, rng(), message, &mut sig).map_err(|_| Error::Internal)?;
                sig
            }
            Inner::Ecdsa(pair) => pair.sign(rng(), message).map_err(|_| Error::Internal)?.as_ref().to_vec(),
            Inner::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            _ => return Err(self.unsupported("sign")),
        };
        Ok((scheme, sig))
    }

    pub fn verify(&self, scheme: SignatureScheme, message: &[u8], sig: &[u8]) -> Result<()> {
        if !scheme.fits(self.key_type) {
            return Err(self.unsupported("verify with that scheme"));
        }
        let (alg, public): (&'static dyn signature::VerificationAlgorithm, &[u8]) = match (&self.inner, scheme) {
            (Inner::Rsa { pair, .. }, SignatureScheme::RsaPkcs1Sha256) => {
                (&signature::RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
            }
            (Inner::Rsa { pair, .. }, _) => (&signature::RSA_PSS_2048_8192_SHA256, pair.public_key().as_ref()),
            (Inner::Ecdsa(pair), SignatureScheme::EcdsaP256Sha256) => {
                (&signature::ECDSA_P256_SHA256_ASN1, pair.public_key().as_ref())
            }
            (Inner::Ecdsa(pair), _) => (&signature::ECDSA_P384_SHA384_ASN1, pair.public_key().as_ref()),
            (Inner::Ed25519(pair), _) => (&signature::ED25519, pair.public_key().as_ref()),
            _ => return Err(self.unsupported("verify")),
        };
        signature::UnparsedPublicKey::new(alg, public).verify(message, sig).map_err(|_| Error::BadSignature)
    }

    pub fn mac(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Hmac(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
            _ => Err(self.unsupported("compute an HMAC")),
        }
    }

    pub fn mac_verify(&self, message: &[u8], tag: &[u8]) -> Result<()> {
        match &self.inner {
            Inner::Hmac(key) => hmac::verify(key, message, tag).map_err(|_| Error::BadSignature),
            _ => Err(self.unsupported("verify an HMAC")),
        }
    }

    /// The public key as X.509 SubjectPublicKeyInfo DER, for key pairs.
    pub fn public_key_der(&self) -> Option<Vec<u8>> {
        match &self.inner {
            Inner::Rsa { pair, .. } => pair.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            Inner::Ecdsa(pair) => pair.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            Inner::Ed25519(pair) => pair.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            _ => None,
        }
    }

    fn kek(&self) -> Result<AesKek> {
        let cipher = match self.key_type {
            KeyType::Aes128 => &AES_128,
            KeyType::Aes256 => &AES_256,
            _ => return Err(self.unsupported("wrap keys")),
        };
        AesKek::new(cipher, self.material.expose()).map_err(|_| Error::Internal)
    }

    /// AES Key Wrap with Padding (RFC 5649), the format KMIP and PKCS#11 use.
    pub fn wrap(&self, key: &[u8]) -> Result<Vec<u8>> {
        let kek = self.kek()?;
        let mut out = vec![0u8; key.len() + 16];
        let len = kek.wrap_with_padding(key, &mut out).map_err(|_| Error::Internal)?.len();
        out.truncate(len);
        Ok(out)
    }

    pub fn unwrap(&self, wrapped: &[u8]) -> Result<Secret> {
        let kek = self.kek()?;
        let mut out = Secret::zeroed(wrapped.len());
        let len = kek.unwrap_with_padding(wrapped, out.expose_mut()).map_err(|_| Error::Decrypt)?.len();
        out.truncate(len);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(t: KeyType) -> LoadedKey {
        LoadedKey::load(t, generate_material(t).unwrap()).unwrap()
    }

    #[test]
    fn every_type_does_what_it_can() {
        for &t in KeyType::ALL {
            let k = load(t);
            if t.can(keyward_types::Capability::Encrypt) {
                let ct = k.encrypt(b"message", b"aad").unwrap();
                assert_eq!(k.decrypt(&ct, b"aad").unwrap().expose(), b"message", "{t}");
                assert!(k.decrypt(&ct, b"other").is_err(), "{t}: aad not bound");
            } else {
                assert!(k.encrypt(b"m", b"").is_err(), "{t}");
            }
            if t.can(keyward_types::Capability::Sign) {
                let (scheme, sig) = k.sign(None, b"message").unwrap();
                k.verify(scheme, b"message", &sig).unwrap();
                assert_eq!(k.verify(scheme, b"messagf", &sig), Err(Error::BadSignature), "{t}");
                assert!(k.public_key_der().is_some());
            }
            if t.is_rsa() {
                let (scheme, sig) = k.sign(Some(SignatureScheme::RsaPkcs1Sha256), b"m").unwrap();
                k.verify(scheme, b"m", &sig).unwrap();
            }
            if t.can(keyward_types::Capability::Mac) {
                let tag = k.mac(b"m").unwrap();
                k.mac_verify(b"m", &tag).unwrap();
                assert!(k.mac_verify(b"n", &tag).is_err());
            }
            if t.can(keyward_types::Capability::Wrap) {
                let w = k.wrap(b"0123456789abcdef0123").unwrap();
                assert_eq!(k.unwrap(&w).unwrap().expose(), b"0123456789abcdef0123");
            }
        }
    }

    #[test]
    fn wrong_material_is_rejected() {
        assert!(LoadedKey::load(KeyType::Aes256, Secret::copy_from(&[0u8; 16])).is_err());
        let rsa = generate_material(KeyType::Rsa2048).unwrap();
        assert!(LoadedKey::load(KeyType::Rsa3072, rsa.duplicate()).is_err());
        assert!(LoadedKey::load(KeyType::EcP256, rsa).is_err());
    }
}
