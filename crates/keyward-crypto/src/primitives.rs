//! Cryptography with every parameter chosen by the caller, as KMIP clients ask for it.
//!
//! Keyward's own operations ([`crate::LoadedKey`]) pick safe parameters and bind ciphertexts to
//! the key that made them. A KMIP client instead names the mode, padding, hash and IV itself and
//! expects the plain standard result, because it decrypts or verifies elsewhere. This module
//! offers exactly those standard constructions, still only through aws-lc-rs, plus the DER
//! conversions KMIP's key formats need (PKCS#1 and PKCS#8, PKCS#1 and SubjectPublicKeyInfo).

use std::num::NonZeroU32;

use aws_lc_rs::aead::{self, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512, OaepAlgorithm,
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use aws_lc_rs::{digest, hkdf, hmac, kdf, pbkdf2};
use pkcs8::der::Decode as _;

use crate::{Error, Result, Secret, rng};

/// The hash functions KMIP's Hashing Algorithm names and aws-lc-rs provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// A block cipher mode for AES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AesMode {
    /// GCM with a 12-byte IV and a 16-byte tag.
    Gcm,
    /// CBC with a 16-byte IV, with or without PKCS#7 (KMIP: PKCS5) padding.
    Cbc { pad: bool },
    /// ECB, with or without PKCS#7 padding. Offered because KMIP clients ask for it.
    Ecb { pad: bool },
    /// CTR with a 16-byte counter block.
    Ctr,
}

/// A signature algorithm with its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    RsaPss(Hash),
    RsaPkcs1(Hash),
    Ecdsa(Hash),
    Ed25519,
}

/// The kinds of private or public key this module recognises in DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsymmetricKind {
    Rsa { bits: u32 },
    EcP256,
    EcP384,
    Ed25519,
}

/// What an encryption returns: the ciphertext, the IV when the server chose it, and the GCM tag.
#[derive(Debug)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub generated_iv: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
}

fn param(what: &'static str) -> Error {
    Error::Parameter(what)
}

fn aes_algorithm(key: &[u8]) -> Result<&'static cipher::Algorithm> {
    match key.len() {
        16 => Ok(&cipher::AES_128),
        24 => Ok(&cipher::AES_192),
        32 => Ok(&cipher::AES_256),
        _ => Err(param("an AES key is 128, 192 or 256 bits")),
    }
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey> {
    let alg = match key.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        _ => return Err(param("an AES key is 128, 192 or 256 bits")),
    };
    Ok(LessSafeKey::new(UnboundKey::new(alg, key).map_err(|_| Error::Internal)?))
}

fn iv16(iv: &[u8]) -> Result<FixedLength<16>> {
    let arr: [u8; 16] = iv.try_into().map_err(|_| param("this mode needs a 16-byte IV or counter block"))?;
    Ok(FixedLength::from(arr))
}

/// AES encryption. `iv` may be omitted for GCM, CBC and CTR: a random one is made and returned.
pub fn aes_encrypt(key: &[u8], mode: AesMode, iv: Option<&[u8]>, aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
    if let AesMode::Gcm = mode {
        let k = gcm_key(key)?;
        let (nonce, generated) = match iv {
            Some(iv) => (iv.to_vec(), None),
            None => {
                let n = crate::random_array::<12>()?.to_vec();
                (n.clone(), Some(n))
            }
        };
        let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| param("GCM needs a 12-byte IV"))?;
        let mut out = plaintext.to_vec();
        let tag = k.seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut out).map_err(|_| Error::Internal)?;
        return Ok(Sealed { ciphertext: out, generated_iv: generated, tag: Some(tag.as_ref().to_vec()) });
    }
    let alg = aes_algorithm(key)?;
    let unbound = || UnboundCipherKey::new(alg, key).map_err(|_| Error::Internal);
    let needs_iv = !matches!(mode, AesMode::Ecb { .. });
    let (context, generated) = match (needs_iv, iv) {
        (false, _) => (EncryptionContext::None, None),
        (true, Some(iv)) => (EncryptionContext::Iv128(iv16(iv)?), None),
        (true, None) => {
            let iv = crate::random_array::<16>()?;
            (EncryptionContext::Iv128(FixedLength::from(iv)), Some(iv.to_vec()))
        }
    };
    let mut out = plaintext.to_vec();
    match mode {
        AesMode::Cbc { pad: true } | AesMode::Ecb { pad: true } => {
            let k = if matches!(mode, AesMode::Cbc { .. }) {
                PaddedBlockEncryptingKey::cbc_pkcs7(unbound()?)
            } else {
                PaddedBlockEncryptingKey::ecb_pkcs7(unbound()?)
            }
            .map_err(|_| Error::Internal)?;
            k.less_safe_encrypt(&mut out, context).map_err(|_| Error::Internal)?;
        }
        AesMode::Cbc { pad: false } | AesMode::Ecb { pad: false } | AesMode::Ctr => {
            if !matches!(mode, AesMode::Ctr) && !out.len().is_multiple_of(16) {
                return Err(param("without padding the data must be a multiple of 16 bytes"));
            }
            let k = match mode {
                AesMode::Cbc { .. } => EncryptingKey::cbc(unbound()?),
                AesMode::Ecb { .. } => EncryptingKey::ecb(unbound()?),
                _ => EncryptingKey::ctr(unbound()?),
            }
            .map_err(|_| Error::Internal)?;
            k.less_safe_encrypt(&mut out, context).map_err(|_| Error::Internal)?;
        }
        AesMode::Gcm => return Err(Error::Internal),
    }
    Ok(Sealed { ciphertext: out, generated_iv: generated, tag: None })
}

/// AES decryption; GCM needs the tag.
pub fn aes_decrypt(
    key: &[u8],
    mode: AesMode,
    iv: Option<&[u8]>,
    aad: &[u8],
    ciphertext: &[u8],
    tag: Option<&[u8]>,
) -> Result<Secret> {
    if let AesMode::Gcm = mode {
        let k = gcm_key(key)?;
        let nonce = Nonce::try_assume_unique_for_key(iv.ok_or(param("GCM decryption needs the IV"))?)
            .map_err(|_| param("GCM needs a 12-byte IV"))?;
        let tag = tag.ok_or(param("GCM decryption needs the authenticated encryption tag"))?;
        let mut buf = Secret::zeroed(ciphertext.len() + tag.len());
        let (ct, t) = buf.expose_mut().split_at_mut(ciphertext.len());
        ct.copy_from_slice(ciphertext);
        t.copy_from_slice(tag);
        let len = k.open_in_place(nonce, aead::Aad::from(aad), buf.expose_mut()).map_err(|_| Error::Decrypt)?.len();
        buf.truncate(len);
        return Ok(buf);
    }
    let alg = aes_algorithm(key)?;
    let unbound = || UnboundCipherKey::new(alg, key).map_err(|_| Error::Internal);
    let context = match mode {
        AesMode::Ecb { .. } => DecryptionContext::None,
        _ => DecryptionContext::Iv128(iv16(iv.ok_or(param("this mode needs the IV"))?)?),
    };
    let mut buf = Secret::copy_from(ciphertext);
    let len = match mode {
        AesMode::Cbc { pad: true } | AesMode::Ecb { pad: true } => {
            let k = if matches!(mode, AesMode::Cbc { .. }) {
                PaddedBlockDecryptingKey::cbc_pkcs7(unbound()?)
            } else {
                PaddedBlockDecryptingKey::ecb_pkcs7(unbound()?)
            }
            .map_err(|_| Error::Internal)?;
            k.decrypt(buf.expose_mut(), context).map_err(|_| Error::Decrypt)?.len()
        }
        _ => {
            if !matches!(mode, AesMode::Ctr) && !ciphertext.len().is_multiple_of(16) {
                return Err(param("without padding the data must be a multiple of 16 bytes"));
            }
            let k = match mode {
                AesMode::Cbc { .. } => DecryptingKey::cbc(unbound()?),
                AesMode::Ecb { .. } => DecryptingKey::ecb(unbound()?),
                _ => DecryptingKey::ctr(unbound()?),
            }
            .map_err(|_| Error::Internal)?;
            k.decrypt(buf.expose_mut(), context).map_err(|_| Error::Decrypt)?.len()
        }
    };
    buf.truncate(len);
    Ok(buf)
}

fn oaep(hash: Hash) -> Result<&'static OaepAlgorithm> {
    Ok(match hash {
        Hash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        Hash::Sha256 => &OAEP_SHA256_MGF1SHA256,
        Hash::Sha384 => &OAEP_SHA384_MGF1SHA384,
        Hash::Sha512 => &OAEP_SHA512_MGF1SHA512,
        Hash::Sha224 => return Err(param("RSA-OAEP supports SHA-1, SHA-256, SHA-384 and SHA-512")),
    })
}

/// RSA-OAEP encryption with the public key (SubjectPublicKeyInfo or PKCS#1 DER).
pub fn rsa_oaep_encrypt(public_der: &[u8], hash: Hash, plaintext: &[u8]) -> Result<Vec<u8>> {
    let key =
        PublicEncryptingKey::from_der(&rsa_public_to_spki(public_der)?).map_err(|_| param("not an RSA public key"))?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| Error::Internal)?;
    let alg = oaep(hash)?;
    if plaintext.len() > key.max_plaintext_size(alg) {
        return Err(param("the data is too long for RSA-OAEP with this key and hash"));
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let len = key.encrypt(alg, plaintext, &mut out, None).map_err(|_| Error::Internal)?.len();
    out.truncate(len);
    Ok(out)
}

/// RSA-OAEP decryption with the private key (PKCS#8 DER).
pub fn rsa_oaep_decrypt(pkcs8: &[u8], hash: Hash, ciphertext: &[u8]) -> Result<Secret> {
    let key = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| param("not an RSA private key"))?;
    let key = OaepPrivateDecryptingKey::new(key).map_err(|_| Error::Internal)?;
    let mut out = Secret::zeroed(key.min_output_size());
    let len = key.decrypt(oaep(hash)?, ciphertext, out.expose_mut(), None).map_err(|_| Error::Decrypt)?.len();
    out.truncate(len);
    Ok(out)
}

fn rsa_signing(scheme: Signing) -> Result<&'static dyn signature::RsaEncoding> {
    Ok(match scheme {
        Signing::RsaPss(Hash::Sha256) => &signature::RSA_PSS_SHA256,
        Signing::RsaPss(Hash::Sha384) => &signature::RSA_PSS_SHA384,
        Signing::RsaPss(Hash::Sha512) => &signature::RSA_PSS_SHA512,
        Signing::RsaPkcs1(Hash::Sha256) => &signature::RSA_PKCS1_SHA256,
        Signing::RsaPkcs1(Hash::Sha384) => &signature::RSA_PKCS1_SHA384,
        Signing::RsaPkcs1(Hash::Sha512) => &signature::RSA_PKCS1_SHA512,
        _ => return Err(param("RSA signatures use SHA-256, SHA-384 or SHA-512")),
    })
}

/// Signs `message` with a private key in PKCS#8 DER.
pub fn sign(pkcs8: &[u8], scheme: Signing, message: &[u8]) -> Result<Vec<u8>> {
    match scheme {
        Signing::RsaPss(_) | Signing::RsaPkcs1(_) => {
            let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| param("not an RSA private key"))?;
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(rsa_signing(scheme)?, rng(), message, &mut sig).map_err(|_| Error::Internal)?;
            Ok(sig)
        }
        Signing::Ecdsa(hash) => {
            let alg = match (private_kind(pkcs8)?, hash) {
                (AsymmetricKind::EcP256, Hash::Sha256) => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                (AsymmetricKind::EcP384, Hash::Sha384) => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => return Err(param("ECDSA is offered as P-256 with SHA-256 and P-384 with SHA-384")),
            };
            let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|_| param("not an EC private key"))?;
            Ok(pair.sign(rng(), message).map_err(|_| Error::Internal)?.as_ref().to_vec())
        }
        Signing::Ed25519 => {
            let pair =
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| param("not an Ed25519 private key"))?;
            Ok(pair.sign(message).as_ref().to_vec())
        }
    }
}

/// Verifies a signature with a public key in SubjectPublicKeyInfo DER.
pub fn verify(spki: &[u8], scheme: Signing, message: &[u8], sig: &[u8]) -> Result<()> {
    let alg: &'static dyn signature::VerificationAlgorithm = match scheme {
        Signing::RsaPss(Hash::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        Signing::RsaPss(Hash::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        Signing::RsaPss(Hash::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        Signing::RsaPkcs1(Hash::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        Signing::RsaPkcs1(Hash::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        Signing::RsaPkcs1(Hash::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        Signing::Ecdsa(Hash::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
        Signing::Ecdsa(Hash::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
        Signing::Ed25519 => &signature::ED25519,
        _ => return Err(param("unsupported signature algorithm and hash combination")),
    };
    // aws-lc-rs verifies RSA against PKCS#1 and EC/Ed25519 against the raw point: take those
    // out of the SubjectPublicKeyInfo.
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki).map_err(|_| param("not a SubjectPublicKeyInfo"))?;
    let raw = info.subject_public_key.as_bytes().ok_or(param("the public key has unused bits"))?;
    signature::UnparsedPublicKey::new(alg, raw).verify(message, sig).map_err(|_| Error::BadSignature)
}

fn hmac_alg(hash: Hash) -> Result<hmac::Algorithm> {
    Ok(match hash {
        Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha224 => hmac::HMAC_SHA224,
        Hash::Sha256 => hmac::HMAC_SHA256,
        Hash::Sha384 => hmac::HMAC_SHA384,
        Hash::Sha512 => hmac::HMAC_SHA512,
    })
}

pub fn hmac(hash: Hash, key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    Ok(hmac::sign(&hmac::Key::new(hmac_alg(hash)?, key), message).as_ref().to_vec())
}

pub fn hmac_verify(hash: Hash, key: &[u8], message: &[u8], tag: &[u8]) -> Result<()> {
    hmac::verify(&hmac::Key::new(hmac_alg(hash)?, key), message, tag).map_err(|_| Error::BadSignature)
}

pub fn digest(hash: Hash, data: &[u8]) -> Vec<u8> {
    let alg = match hash {
        Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha224 => &digest::SHA224,
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
    };
    digest::digest(alg, data).as_ref().to_vec()
}

/// PBKDF2 with HMAC (RFC 8018).
pub fn pbkdf2(hash: Hash, password: &[u8], salt: &[u8], iterations: u32, len: usize) -> Result<Secret> {
    let alg = match hash {
        Hash::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        Hash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        Hash::Sha384 => pbkdf2::PBKDF2_HMAC_SHA384,
        Hash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        Hash::Sha224 => return Err(param("PBKDF2 supports SHA-1, SHA-256, SHA-384 and SHA-512")),
    };
    let iterations = NonZeroU32::new(iterations).ok_or(param("PBKDF2 needs at least one iteration"))?;
    let mut out = Secret::zeroed(len);
    pbkdf2::derive(alg, iterations, salt, password, out.expose_mut());
    Ok(out)
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF (RFC 5869): extract with `salt`, then expand with `info`.
pub fn hkdf(hash: Hash, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Secret> {
    let alg = match hash {
        Hash::Sha1 => hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha256 => hkdf::HKDF_SHA256,
        Hash::Sha384 => hkdf::HKDF_SHA384,
        Hash::Sha512 => hkdf::HKDF_SHA512,
        Hash::Sha224 => return Err(param("HKDF supports SHA-1, SHA-256, SHA-384 and SHA-512")),
    };
    let prk = hkdf::Salt::new(alg, salt).extract(ikm);
    let info = [info];
    let okm = prk.expand(&info, Len(len)).map_err(|_| param("HKDF cannot produce that many bytes"))?;
    let mut out = Secret::zeroed(len);
    okm.fill(out.expose_mut()).map_err(|_| Error::Internal)?;
    Ok(out)
}

/// NIST SP 800-108 KDF in counter mode with HMAC: a 32-bit big-endian counter before `fixed`.
pub fn kbkdf_counter_hmac(hash: Hash, key: &[u8], fixed: &[u8], len: usize) -> Result<Secret> {
    use kdf::KbkdfCtrHmacAlgorithmId as Id;
    let id = match hash {
        Hash::Sha224 => Id::Sha224,
        Hash::Sha256 => Id::Sha256,
        Hash::Sha384 => Id::Sha384,
        Hash::Sha512 => Id::Sha512,
        Hash::Sha1 => return Err(param("SP 800-108 counter mode supports SHA-224 to SHA-512")),
    };
    let alg = kdf::get_kbkdf_ctr_hmac_algorithm(id).ok_or(Error::Internal)?;
    let mut out = Secret::zeroed(len);
    kdf::kbkdf_ctr_hmac(alg, key, fixed, out.expose_mut()).map_err(|_| Error::Internal)?;
    Ok(out)
}

/// Generates an RSA key pair of `bits` (2048, 3072, 4096 or 8192) as PKCS#8.
pub fn generate_rsa(bits: u32) -> Result<Secret> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        _ => return Err(param("RSA keys are 2048, 3072, 4096 or 8192 bits")),
    };
    let pair = RsaKeyPair::generate(size).map_err(|_| Error::Internal)?;
    let der = pair.as_der().map_err(|_| Error::Internal)?;
    Ok(Secret::copy_from(der.as_ref()))
}

const RSA_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");
const P256_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");

fn kind_of(alg: &spki::AlgorithmIdentifierRef<'_>, rsa_bits: impl FnOnce() -> Option<u32>) -> Option<AsymmetricKind> {
    if alg.oid == RSA_OID {
        return rsa_bits().map(|bits| AsymmetricKind::Rsa { bits });
    }
    if alg.oid == ED25519_OID {
        return Some(AsymmetricKind::Ed25519);
    }
    if alg.oid == EC_OID {
        let curve = alg.parameters.and_then(|p| p.decode_as::<pkcs8::ObjectIdentifier>().ok())?;
        return match curve {
            c if c == P256_OID => Some(AsymmetricKind::EcP256),
            c if c == P384_OID => Some(AsymmetricKind::EcP384),
            _ => None,
        };
    }
    None
}

/// What kind of key a PKCS#8 private key is (RSA of any size that aws-lc-rs accepts, P-256,
/// P-384, Ed25519).
pub fn private_kind(pkcs8: &[u8]) -> Result<AsymmetricKind> {
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8).map_err(|_| param("not a PKCS#8 private key"))?;
    kind_of(&info.algorithm, || RsaKeyPair::from_pkcs8(pkcs8).ok().map(|p| p.public_modulus_len() as u32 * 8))
        .ok_or(param("an unsupported or invalid private key"))
}

/// What kind of key a SubjectPublicKeyInfo is.
pub fn public_kind(spki_der: &[u8]) -> Result<AsymmetricKind> {
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| param("not a public key"))?;
    kind_of(&info.algorithm, || PublicEncryptingKey::from_der(spki_der).ok().map(|k| k.key_size_bits() as u32))
        .ok_or(param("an unsupported or invalid public key"))
}

/// The SubjectPublicKeyInfo of a PKCS#8 private key.
pub fn public_of_private(pkcs8: &[u8]) -> Result<Vec<u8>> {
    let der = match private_kind(pkcs8)? {
        AsymmetricKind::Rsa { .. } => RsaKeyPair::from_pkcs8(pkcs8)
            .map_err(|_| param("not an RSA private key"))?
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec()),
        AsymmetricKind::EcP256 | AsymmetricKind::EcP384 => {
            let alg = if private_kind(pkcs8)? == AsymmetricKind::EcP256 {
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING
            };
            EcdsaKeyPair::from_pkcs8(alg, pkcs8)
                .map_err(|_| param("not an EC private key"))?
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
        }
        AsymmetricKind::Ed25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|_| param("not an Ed25519 private key"))?
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec()),
    };
    der.map_err(|_| Error::Internal)
}

/// PKCS#1 RSAPrivateKey to PKCS#8.
pub fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Result<Secret> {
    let pair = RsaKeyPair::from_der(pkcs1).map_err(|_| param("not a PKCS#1 RSA private key"))?;
    let der = pair.as_der().map_err(|_| Error::Internal)?;
    Ok(Secret::copy_from(der.as_ref()))
}

/// The PKCS#1 RSAPrivateKey inside an RSA PKCS#8 key.
pub fn rsa_pkcs8_to_pkcs1(pkcs8: &[u8]) -> Result<Secret> {
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8).map_err(|_| param("not a PKCS#8 private key"))?;
    if info.algorithm.oid != RSA_OID {
        return Err(param("only RSA keys have a PKCS#1 form"));
    }
    Ok(Secret::copy_from(info.private_key))
}

/// An RSA public key in PKCS#1 or SubjectPublicKeyInfo DER, as SubjectPublicKeyInfo.
pub fn rsa_public_to_spki(der: &[u8]) -> Result<Vec<u8>> {
    let key = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| param("not an RSA public key"))?;
    Ok(key.as_der().map_err(|_| Error::Internal)?.as_ref().to_vec())
}

/// The PKCS#1 RSAPublicKey inside an RSA SubjectPublicKeyInfo.
pub fn rsa_spki_to_pkcs1(spki_der: &[u8]) -> Result<Vec<u8>> {
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| param("not a public key"))?;
    if info.algorithm.oid != RSA_OID {
        return Err(param("only RSA keys have a PKCS#1 form"));
    }
    Ok(info.subject_public_key.raw_bytes().to_vec())
}

/// Blowfish in CBC mode with PKCS#7 padding, from RustCrypto (aws-lc-rs has no Blowfish). Only
/// KMIP's Derive Key by encryption uses it: legacy clients derive secrets this way.
pub fn blowfish_cbc_encrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockModeEncrypt as _, KeyIvInit as _};
    let enc = cbc::Encryptor::<blowfish::Blowfish>::new_from_slices(key, iv)
        .map_err(|_| param("Blowfish takes a 4 to 56-byte key and an 8-byte IV"))?;
    Ok(enc.encrypt_padded_vec::<Pkcs7>(data))
}

/// An RSA key's numbers as unsigned big-endian bytes (KMIP's Transparent RSA formats).
/// Private parts are empty for a public key.
#[derive(Default)]
pub struct RsaNumbers {
    pub modulus: Vec<u8>,
    pub public_exponent: Vec<u8>,
    pub private_exponent: Secret,
    pub p: Secret,
    pub q: Secret,
    pub dp: Secret,
    pub dq: Secret,
    pub qinv: Secret,
}

/// The numbers of an RSA private key in PKCS#8.
pub fn rsa_private_numbers(pkcs8: &[u8]) -> Result<RsaNumbers> {
    let pkcs1 = rsa_pkcs8_to_pkcs1(pkcs8)?;
    let k = pkcs1::RsaPrivateKey::from_der(pkcs1.expose()).map_err(|_| param("not an RSA private key"))?;
    Ok(RsaNumbers {
        modulus: k.modulus.as_bytes().to_vec(),
        public_exponent: k.public_exponent.as_bytes().to_vec(),
        private_exponent: Secret::copy_from(k.private_exponent.as_bytes()),
        p: Secret::copy_from(k.prime1.as_bytes()),
        q: Secret::copy_from(k.prime2.as_bytes()),
        dp: Secret::copy_from(k.exponent1.as_bytes()),
        dq: Secret::copy_from(k.exponent2.as_bytes()),
        qinv: Secret::copy_from(k.coefficient.as_bytes()),
    })
}

/// The modulus and public exponent of an RSA SubjectPublicKeyInfo.
pub fn rsa_public_numbers(spki_der: &[u8]) -> Result<RsaNumbers> {
    let pkcs1 = rsa_spki_to_pkcs1(spki_der)?;
    let k = pkcs1::RsaPublicKey::from_der(&pkcs1).map_err(|_| param("not an RSA public key"))?;
    Ok(RsaNumbers {
        modulus: k.modulus.as_bytes().to_vec(),
        public_exponent: k.public_exponent.as_bytes().to_vec(),
        ..RsaNumbers::default()
    })
}

fn uint(b: &[u8]) -> Result<pkcs8::der::asn1::UintRef<'_>> {
    pkcs8::der::asn1::UintRef::new(b).map_err(|_| param("an RSA number is not a valid integer"))
}

/// PKCS#8 for an RSA private key given by its numbers; aws-lc-rs checks the key is consistent.
pub fn rsa_private_from_numbers(n: &RsaNumbers) -> Result<Secret> {
    use pkcs8::der::Encode as _;
    let key = pkcs1::RsaPrivateKey {
        modulus: uint(&n.modulus)?,
        public_exponent: uint(&n.public_exponent)?,
        private_exponent: uint(n.private_exponent.expose())?,
        prime1: uint(n.p.expose())?,
        prime2: uint(n.q.expose())?,
        exponent1: uint(n.dp.expose())?,
        exponent2: uint(n.dq.expose())?,
        coefficient: uint(n.qinv.expose())?,
        other_prime_infos: None,
    };
    let der = Secret::from_vec(key.to_der().map_err(|_| param("the RSA numbers do not encode"))?);
    rsa_pkcs1_to_pkcs8(der.expose())
}

/// SubjectPublicKeyInfo for an RSA public key given by its modulus and exponent.
pub fn rsa_public_from_numbers(modulus: &[u8], public_exponent: &[u8]) -> Result<Vec<u8>> {
    use pkcs8::der::Encode as _;
    let key = pkcs1::RsaPublicKey { modulus: uint(modulus)?, public_exponent: uint(public_exponent)? };
    rsa_public_to_spki(&key.to_der().map_err(|_| param("the RSA numbers do not encode"))?)
}

/// The private scalar of an EC key in PKCS#8, big-endian (KMIP's Transparent EC Private Key D).
pub fn ec_private_scalar(pkcs8: &[u8]) -> Result<Secret> {
    use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
    let alg = match private_kind(pkcs8)? {
        AsymmetricKind::EcP256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        AsymmetricKind::EcP384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        _ => return Err(param("not an EC private key")),
    };
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|_| param("not an EC private key"))?;
    let bin: EcPrivateKeyBin<'_> = pair.private_key().as_be_bytes().map_err(|_| Error::Internal)?;
    Ok(Secret::copy_from(bin.as_ref()))
}

/// The public point of an EC or Ed25519 SubjectPublicKeyInfo (uncompressed for EC).
pub fn public_point(spki_der: &[u8]) -> Result<Vec<u8>> {
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| param("not a public key"))?;
    Ok(info.subject_public_key.raw_bytes().to_vec())
}

/// AES Key Wrap: RFC 3394 (`pad = false`, KMIP's NIST Key Wrap) or RFC 5649 (`pad = true`).
pub fn aes_key_wrap(kek: &[u8], key: &[u8], pad: bool) -> Result<Vec<u8>> {
    use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap as _, KeyWrapPadded as _};
    let cipher = match kek.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return Err(param("a key-wrapping key is a 128 or 256-bit AES key")),
    };
    let kek = AesKek::new(cipher, kek).map_err(|_| Error::Internal)?;
    let mut out = vec![0u8; key.len() + 16];
    let len = if pad {
        kek.wrap_with_padding(key, &mut out).map_err(|_| Error::Internal)?.len()
    } else {
        if !key.len().is_multiple_of(8) || key.len() < 16 {
            return Err(param("NIST key wrap needs a multiple of 8 bytes (16 or more); use AES key wrap with padding"));
        }
        kek.wrap(key, &mut out).map_err(|_| Error::Internal)?.len()
    };
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn aes_cbc_gcm_round_trip_and_known_answer() {
        let key = [0x11u8; 32];
        let iv = [0x22u8; 16];
        let ct = aes_encrypt(&key, AesMode::Cbc { pad: true }, Some(&iv), b"", b"hello").unwrap();
        assert_eq!(ct.ciphertext.len(), 16);
        assert!(ct.generated_iv.is_none());
        let pt = aes_decrypt(&key, AesMode::Cbc { pad: true }, Some(&iv), b"", &ct.ciphertext, None).unwrap();
        assert_eq!(pt.expose(), b"hello");
        let g = aes_encrypt(&key, AesMode::Gcm, None, b"ad", b"msg").unwrap();
        let iv = g.generated_iv.unwrap();
        let pt = aes_decrypt(&key, AesMode::Gcm, Some(&iv), b"ad", &g.ciphertext, g.tag.as_deref()).unwrap();
        assert_eq!(pt.expose(), b"msg");
        assert!(aes_decrypt(&key, AesMode::Gcm, Some(&iv), b"other", &g.ciphertext, g.tag.as_deref()).is_err());
        // NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt), first block.
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        let ct =
            aes_encrypt(&key, AesMode::Cbc { pad: false }, Some(&iv), b"", &hex("6bc1bee22e409f96e93d7e117393172a"))
                .unwrap();
        assert_eq!(ct.ciphertext, hex("f58c4c04d6e5f1ba779eabfb5f7bfbd6"));
    }

    #[test]
    fn kdfs_match_published_vectors() {
        // RFC 6070, test 2.
        let out = pbkdf2(Hash::Sha1, b"password", b"salt", 2, 20).unwrap();
        assert_eq!(out.expose(), hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957").as_slice());
        // RFC 5869, test case 1.
        let okm = hkdf(
            Hash::Sha256,
            &hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &hex("000102030405060708090a0b0c"),
            &hex("f0f1f2f3f4f5f6f7f8f9"),
            42,
        )
        .unwrap();
        assert_eq!(
            okm.expose(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865").as_slice()
        );
    }

    #[test]
    fn rsa_formats_and_operations() {
        let pkcs8 = generate_rsa(2048).unwrap();
        assert_eq!(private_kind(pkcs8.expose()).unwrap(), AsymmetricKind::Rsa { bits: 2048 });
        let pkcs1 = rsa_pkcs8_to_pkcs1(pkcs8.expose()).unwrap();
        let back = rsa_pkcs1_to_pkcs8(pkcs1.expose()).unwrap();
        assert_eq!(private_kind(back.expose()).unwrap(), AsymmetricKind::Rsa { bits: 2048 });
        let spki = public_of_private(pkcs8.expose()).unwrap();
        assert_eq!(public_kind(&spki).unwrap(), AsymmetricKind::Rsa { bits: 2048 });
        let pub1 = rsa_spki_to_pkcs1(&spki).unwrap();
        assert_eq!(rsa_public_to_spki(&pub1).unwrap(), spki);
        let sig = sign(pkcs8.expose(), Signing::RsaPss(Hash::Sha256), b"m").unwrap();
        verify(&spki, Signing::RsaPss(Hash::Sha256), b"m", &sig).unwrap();
        assert!(verify(&spki, Signing::RsaPss(Hash::Sha256), b"n", &sig).is_err());
        let numbers = rsa_private_numbers(pkcs8.expose()).unwrap();
        assert_eq!(numbers.modulus.len(), 256);
        let rebuilt = rsa_private_from_numbers(&numbers).unwrap();
        assert_eq!(public_of_private(rebuilt.expose()).unwrap(), spki);
        let public = rsa_public_numbers(&spki).unwrap();
        assert_eq!(rsa_public_from_numbers(&public.modulus, &public.public_exponent).unwrap(), spki);
        let ct = rsa_oaep_encrypt(&spki, Hash::Sha1, b"secret").unwrap();
        assert_eq!(rsa_oaep_decrypt(back.expose(), Hash::Sha1, &ct).unwrap().expose(), b"secret");
    }

    #[test]
    fn blowfish_cbc_matches_the_published_vector() {
        // Eric Young's Blowfish CBC vector; its last block is zero-padded, ours PKCS#7-padded, so
        // the three full blocks are compared.
        let key = hex("0123456789ABCDEFF0E1D2C3B4A59687");
        let iv = hex("FEDCBA9876543210");
        let data = b"7654321 Now is the time for \0";
        let ct = blowfish_cbc_encrypt(&key, &iv, data).unwrap();
        assert_eq!(ct.get(..24).unwrap(), hex("6B77B4D63006DEE605B156E27403979358DEB9E7154616D9").as_slice());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
