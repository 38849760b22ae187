//! The only crate that calls cryptographic primitives (aws-lc-rs, argon2, blahaj).
//!
//! Everything above it asks for an operation by name ("seal these bytes", "sign with this key")
//! and gets bytes back. Secret bytes travel in [`Secret`], which zeroizes on drop, prints as
//! `[redacted]` and cannot be cloned by accident. Errors are coarse on purpose: a failed
//! decryption says only that it failed, never why, so nothing above can become an oracle.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod keys;
pub mod primitives;
mod secret;

pub use keys::{LoadedKey, SignatureScheme, generate_material};
pub use secret::Secret;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{constant_time, digest, hkdf};

/// Length of every key Keyward generates for its own barrier (master key, data keys, KEKs).
pub const KEY_LEN: usize = 32;
/// AES-GCM's tag length.
pub const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authentication failed: wrong key, tampered or truncated data. Deliberately says no more.
    #[error("decryption failed: the data was altered, truncated, or belongs to another key")]
    Decrypt,
    #[error("the signature or MAC does not match")]
    BadSignature,
    #[error("key material is not valid for {key_type}")]
    BadMaterial { key_type: &'static str },
    #[error("{key_type} keys cannot {operation}")]
    Unsupported { key_type: &'static str, operation: &'static str },
    #[error("input too long: {key_type} can encrypt at most {max} bytes with OAEP")]
    TooLong { key_type: &'static str, max: usize },
    #[error("invalid parameter: {0}")]
    Parameter(&'static str),
    #[error("the system random number generator failed")]
    Random,
    #[error("the crypto library failed an internal operation")]
    Internal,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn rng() -> &'static SystemRandom {
    static RNG: std::sync::OnceLock<SystemRandom> = std::sync::OnceLock::new();
    RNG.get_or_init(SystemRandom::new)
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_secret(n: usize) -> Result<Secret> {
    let mut out = Secret::zeroed(n);
    rng().fill(out.expose_mut()).map_err(|_| Error::Random)?;
    Ok(out)
}

/// Random bytes that are not secret (salts, nonces, identifiers).
pub fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    rng().fill(&mut out).map_err(|_| Error::Random)?;
    Ok(out)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 over several parts, without copying them together.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Streaming SHA-256, for hashing archives as they are written or read.
pub struct Sha256(digest::Context);

impl Default for Sha256 {
    fn default() -> Self {
        Sha256(digest::Context::new(&digest::SHA256))
    }
}

impl Sha256 {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Checks an HMAC-SHA256 tag in constant time.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    aws_lc_rs::hmac::verify(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key), data, tag).is_ok()
}

/// Constant-time equality, for comparing token hashes and MACs.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// AES-256-GCM with a random 96-bit nonce: returns `nonce || ciphertext || tag`.
///
/// Random nonces are safe here: each barrier data key encrypts far fewer than 2^32 messages
/// before the keyring rotates it.
pub fn aead_seal(key: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Parameter("AES-256 keys are 32 bytes"))?,
    );
    let nonce_bytes: [u8; NONCE_LEN] = random_array()?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            out.get_mut(NONCE_LEN..).ok_or(Error::Internal)?,
        )
        .map_err(|_| Error::Internal)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens what [`aead_seal`] produced.
pub fn aead_open(key: &[u8], sealed: &[u8], aad: &[u8]) -> Result<Secret> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Decrypt)?);
    aead_open_with(&key, sealed, aad)
}

pub(crate) fn aead_open_with(key: &LessSafeKey, sealed: &[u8], aad: &[u8]) -> Result<Secret> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::Decrypt);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Decrypt)?;
    let mut buf = Secret::from_vec(body.to_vec());
    let len = key.open_in_place(nonce, Aad::from(aad), buf.expose_mut()).map_err(|_| Error::Decrypt)?.len();
    buf.truncate(len);
    Ok(buf)
}

/// HKDF-SHA256 (RFC 5869).
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Secret> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk.expand(&info, Len(len)).map_err(|_| Error::Parameter("HKDF output too long"))?;
    let mut out = Secret::zeroed(len);
    okm.fill(out.expose_mut()).map_err(|_| Error::Internal)?;
    Ok(out)
}

/// Argon2id cost parameters, stored beside what they protect so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Params {
    /// m = 64 MiB, t = 3, p = 1: about a quarter of a second per guess on a 2-core server,
    /// a cost paid once per unseal (OWASP's Argon2id guidance starts at m = 19 MiB, t = 2).
    pub const DEFAULT: Argon2Params = Argon2Params { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 };
}

/// Derives a 32-byte key from a passphrase with Argon2id (RFC 9106).
pub fn argon2id(passphrase: &[u8], salt: &[u8], params: Argon2Params) -> Result<Secret> {
    let p = argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(KEY_LEN))
        .map_err(|_| Error::Parameter("Argon2 parameters out of range"))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Secret::zeroed(KEY_LEN);
    a.hash_password_into(passphrase, salt, out.expose_mut())
        .map_err(|_| Error::Parameter("Argon2 rejected the passphrase or salt length"))?;
    Ok(out)
}

/// Shamir secret sharing over GF(256) (blahaj). Each share is `x || y...`.
pub fn shamir_split(secret: &[u8], threshold: u8, shares: u8) -> Result<Vec<Secret>> {
    if threshold == 0 || threshold > shares {
        return Err(Error::Parameter("the threshold must be between 1 and the number of shares"));
    }
    let dealer = blahaj::Sharks(threshold).dealer(secret);
    Ok(dealer.take(usize::from(shares)).map(|s| Secret::from_vec(Vec::from(&s))).collect())
}

/// Recombines shares; fails if fewer than `threshold` distinct shares are given. Shares from
/// another secret recombine into garbage, which the caller's authenticated unwrap rejects.
pub fn shamir_combine(threshold: u8, shares: &[&[u8]]) -> Result<Secret> {
    let parsed = shares
        .iter()
        .map(|s| blahaj::Share::try_from(*s).map_err(|_| Error::Parameter("a share is too short")))
        .collect::<Result<Vec<_>>>()?;
    blahaj::Sharks(threshold)
        .recover(&parsed)
        .map(Secret::from_vec)
        .map_err(|_| Error::Parameter("not enough distinct shares"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = random_secret(32).unwrap();
        let sealed = aead_seal(key.expose(), b"hello", b"ctx").unwrap();
        assert_eq!(aead_open(key.expose(), &sealed, b"ctx").unwrap().expose(), b"hello");
        assert_eq!(aead_open(key.expose(), &sealed, b"other"), Err(Error::Decrypt));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(aead_open(key.expose(), &bad, b"ctx"), Err(Error::Decrypt), "byte {i}");
        }
        assert_eq!(aead_open(key.expose(), &sealed[..10], b"ctx"), Err(Error::Decrypt));
    }

    #[test]
    fn shamir_threshold() {
        let secret = random_secret(32).unwrap();
        let shares = shamir_split(secret.expose(), 3, 5).unwrap();
        let pick: Vec<&[u8]> = [0, 2, 4].iter().map(|&i| shares[i].expose()).collect();
        assert_eq!(shamir_combine(3, &pick).unwrap().expose(), secret.expose());
        let two: Vec<&[u8]> = shares[..2].iter().map(|s| s.expose()).collect();
        assert!(shamir_combine(3, &two).is_err());
        assert!(shamir_split(b"x", 4, 3).is_err());
    }

    #[test]
    fn argon2_is_deterministic_and_salted() {
        let p = Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };
        let a = argon2id(b"passphrase", b"saltsaltsaltsalt", p).unwrap();
        let b = argon2id(b"passphrase", b"saltsaltsaltsalt", p).unwrap();
        let c = argon2id(b"passphrase", b"othersaltothersa", p).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
    }

    #[test]
    fn streaming_hash_and_hmac() {
        let mut h = Sha256::default();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finish(), sha256(b"abc"));
        // RFC 4231 test case 2.
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(tag[..4], [0x5b, 0xdc, 0xc1, 0x46]);
        assert!(hmac_sha256_verify(b"Jefe", b"what do ya want for nothing?", &tag));
        assert!(!hmac_sha256_verify(b"Jefe", b"what do ya want for nothing!", &tag));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::from_vec(b"top secret".to_vec());
        assert_eq!(format!("{s:?}"), "[redacted]");
    }
}
