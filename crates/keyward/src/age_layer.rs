//! Optional age (<https://age-encryption.org/v1>) encryption around Keyward backup files.
//!
//! Files are streamed through age's STREAM writer/reader, so memory use does not grow with
//! the file size. Supported: X25519 recipients (`age1...`) and identity files written by
//! `age-keygen` (`AGE-SECRET-KEY-1...`), or one scrypt passphrase. Not supported: SSH keys,
//! plugins, ASCII armor (`age -a`) and passphrase-protected identity files.
//!
//! Outputs are created new with mode 0600, fsynced, and removed again on any failure, so a
//! decryption that fails its authentication part way never leaves partial plaintext behind.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom};
use std::iter;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use age::{DecryptError, Decryptor, EncryptError, Encryptor};
use anyhow::{Context, anyhow, bail};
use zeroize::Zeroizing;

/// The first line of every binary age v1 file.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The first line of an ASCII-armored age file (`age -a`), which this module does not read.
const ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
/// An identity file is a few lines; anything bigger is not one.
const IDENTITY_FILE_LIMIT: u64 = 1 << 20;
/// The highest scrypt work factor (log2 N) accepted when decrypting: the age reference tool's
/// limit (2^22 needs 4 GiB and several seconds). age's own default limit is "what takes ~1 s
/// here, plus 4", measured at run time: a debug build, a loaded or a slower machine would then
/// refuse a backup that a fast machine encrypted. A fixed limit keeps restores predictable.
const MAX_SCRYPT_LOG_N: u8 = 22;
/// scrypt work factor (log2 N) used by this module's own unit tests only, to keep them fast.
#[cfg(test)]
const TEST_SCRYPT_LOG_N: u8 = 10;

/// Whether the file at `path` starts with the age v1 header ("age-encryption.org/v1\n").
pub fn is_age_file(path: &Path) -> anyhow::Result<bool> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let head = read_head(&mut file, AGE_MAGIC.len()).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(head == AGE_MAGIC)
}

/// Encrypts `src` into a new file `dst` (must not exist; create with mode 0600), to every
/// recipient given (age X25519 public keys "age1..."), or to a passphrase (scrypt) when
/// `passphrase` is Some. Exactly one of: non-empty `recipients`, or `passphrase`. fsyncs dst.
pub fn encrypt_file(src: &Path, dst: &Path, recipients: &[String], passphrase: Option<&[u8]>) -> anyhow::Result<()> {
    // Cheap checks first: the scrypt work below takes about a second.
    refuse_existing(dst)?;
    let mut input = File::open(src).with_context(|| format!("cannot open {} to encrypt it", src.display()))?;
    let encryptor = match (recipients.is_empty(), passphrase) {
        (false, Some(_)) => bail!(
            "give either age recipients or a passphrase, not both: age cannot encrypt one file to both \
             (use recipients for unattended backups, a passphrase for a human-held key)"
        ),
        (true, None) => bail!("nothing to encrypt to: give at least one age recipient (age1...) or a passphrase"),
        (false, None) => {
            let parsed = parse_recipients(recipients)?;
            Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient)).map_err(encrypt_error)?
        }
        (true, Some(p)) => {
            let recipient = passphrase_recipient(secret_passphrase(p)?);
            Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient)).map_err(encrypt_error)?
        }
    };

    let (file, guard) = create_output(dst)?;
    let mut writer = encryptor
        .wrap_output(BufWriter::new(file))
        .with_context(|| format!("cannot write the age header to {}", dst.display()))?;
    let mut reader = ErrorTracking::new(&mut input);
    if let Err(e) = io::copy(&mut reader, &mut writer) {
        if reader.failed {
            return Err(e).with_context(|| format!("cannot read {} (nothing was kept)", src.display()));
        }
        return Err(e).with_context(|| format!("cannot write {} (nothing was kept)", dst.display()));
    }
    // finish() writes the final STREAM chunk: without it the file would be truncated.
    let buffered = writer.finish().with_context(|| format!("cannot write {} (nothing was kept)", dst.display()))?;
    finish_output(buffered, dst)?;
    guard.keep();
    Ok(())
}

/// Decrypts an age file into a new file `dst` (must not exist; mode 0600) with either identity
/// files (age X25519 identity files as written by `age-keygen`, lines starting AGE-SECRET-KEY-1,
/// comments with #) or a passphrase. Errors clearly: wrong passphrase / no matching identity /
/// not an age file / truncated or tampered (age's MAC).
pub fn decrypt_file(
    src: &Path,
    dst: &Path,
    identity_files: &[PathBuf],
    passphrase: Option<&[u8]>,
) -> anyhow::Result<()> {
    let key = match (identity_files.is_empty(), passphrase) {
        (false, Some(_)) => bail!("give either age identity files or a passphrase, not both"),
        (true, None) => bail!(
            "nothing to decrypt with: give the age identity file (from age-keygen) whose public key the \
             file was encrypted to, or the passphrase it was encrypted with"
        ),
        (false, None) => Key::Identities(load_identities(identity_files)?),
        (true, Some(p)) => Key::Passphrase(secret_passphrase(p)?),
    };
    refuse_existing(dst)?;

    let mut file = File::open(src).with_context(|| format!("cannot open {} to decrypt it", src.display()))?;
    check_age_header(&mut file, src)?;
    let decryptor = Decryptor::new_buffered(BufReader::new(file)).map_err(|e| header_error(e, src))?;

    // Unwrap the file key (the slow scrypt step for passphrases) before creating dst.
    let mut reader = match key {
        Key::Identities(identities) => {
            if decryptor.is_scrypt() {
                bail!(
                    "{} is encrypted with a passphrase, not to an age public key: decrypt it with the passphrase \
                     instead of identity files",
                    src.display()
                );
            }
            let count = identities.len();
            decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity)).map_err(|e| match e {
                DecryptError::NoMatchingKeys => anyhow!(
                    "none of the {count} identities in {} can decrypt {}: it was encrypted to other recipients \
                     (or its header was damaged). Use the identity file whose public key (age-keygen -y FILE \
                     prints it) was a recipient",
                    join_paths(identity_files),
                    src.display()
                ),
                other => key_error(other, src),
            })?
        }
        Key::Passphrase(secret) => {
            if !decryptor.is_scrypt() {
                bail!(
                    "{} is encrypted to age public keys, not with a passphrase: decrypt it with an identity file \
                     (from age-keygen) instead of a passphrase",
                    src.display()
                );
            }
            let mut identity = age::scrypt::Identity::new(secret);
            identity.set_max_work_factor(MAX_SCRYPT_LOG_N);
            decryptor.decrypt(iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
                DecryptError::DecryptionFailed => anyhow!(
                    "wrong passphrase for {}: it does not decrypt the file (check the passphrase and try again)",
                    src.display()
                ),
                DecryptError::ExcessiveWork { required, .. } => anyhow!(
                    "{} asks for scrypt work factor 2^{required}, above the limit of 2^{MAX_SCRYPT_LOG_N}; refusing \
                     to spend that much time and memory on it. If the file is trusted, decrypt it with a tool that \
                     allows a higher limit",
                    src.display()
                ),
                other => key_error(other, src),
            })?
        }
    };

    let (out, guard) = create_output(dst)?;
    let mut writer = BufWriter::new(out);
    let mut tracked = ErrorTracking::new(&mut reader);
    if let Err(e) = io::copy(&mut tracked, &mut writer) {
        if !tracked.failed {
            return Err(e).with_context(|| format!("cannot write {} (nothing was kept)", dst.display()));
        }
        return Err(match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => anyhow!(
                "{} failed age's authentication: the file is truncated or was modified (corrupted or tampered \
                 with) after it was encrypted. Nothing was kept; use another copy of the file",
                src.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot read {} (nothing was kept)", src.display())),
        });
    }
    finish_output(writer, dst)?;
    guard.keep();
    Ok(())
}

/// What `decrypt_file` unlocks the file key with.
enum Key {
    Identities(Vec<age::x25519::Identity>),
    Passphrase(SecretString),
}

/// Reads up to `len` bytes from the start of `file` (fewer only at end of file).
fn read_head(file: &mut File, len: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Fails unless `file` starts with the binary age v1 header; leaves it rewound to the start.
fn check_age_header(file: &mut File, src: &Path) -> anyhow::Result<()> {
    let head = read_head(file, ARMOR_MAGIC.len()).with_context(|| format!("cannot read {}", src.display()))?;
    if head.starts_with(ARMOR_MAGIC) {
        bail!(
            "{} is an ASCII-armored age file (age -a), which is not supported: convert it with \
             `age -d ... | age -r ... -o FILE` or re-encrypt without -a",
            src.display()
        );
    }
    if !head.starts_with(AGE_MAGIC) {
        bail!(
            "{} is not an age-encrypted file (it does not start with \"age-encryption.org/v1\"): \
             check the file name, or use it as it is if it was never encrypted",
            src.display()
        );
    }
    file.seek(SeekFrom::Start(0)).with_context(|| format!("cannot read {}", src.display()))?;
    Ok(())
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Copies the passphrase once, straight into a `SecretString`, which zeroizes it on drop.
fn secret_passphrase(passphrase: &[u8]) -> anyhow::Result<SecretString> {
    if passphrase.is_empty() {
        bail!("the passphrase is empty: give a non-empty passphrase");
    }
    let text = std::str::from_utf8(passphrase)
        .map_err(|_| anyhow!("the passphrase is not valid UTF-8 text, which age requires: use a text passphrase"))?;
    // Box<str>::from allocates exactly once with the exact length, so no reallocation leaves
    // an unzeroized copy behind.
    Ok(SecretString::from(Box::<str>::from(text)))
}

/// The scrypt recipient. Its work factor is age's own (~1 s on this machine) except in this
/// module's unit tests.
fn passphrase_recipient(secret: SecretString) -> age::scrypt::Recipient {
    #[cfg_attr(not(test), allow(unused_mut))]
    let mut recipient = age::scrypt::Recipient::new(secret);
    #[cfg(test)]
    recipient.set_work_factor(TEST_SCRYPT_LOG_N);
    recipient
}

fn parse_recipients(recipients: &[String]) -> anyhow::Result<Vec<age::x25519::Recipient>> {
    recipients
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let n = i + 1;
            let text = text.trim();
            if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
                // Never echo it: it is a private key.
                bail!(
                    "recipient #{n} is an age secret key (AGE-SECRET-KEY-1...), not a public key: give its public \
                     key instead (`age-keygen -y IDENTITY_FILE` prints it) and keep the secret key off command lines"
                );
            }
            if !text.starts_with("age1") {
                bail!(
                    "recipient #{n} is not an age X25519 public key: expected \"age1...\" as printed by age-keygen \
                     (SSH keys and plugin recipients are not supported)"
                );
            }
            text.parse::<age::x25519::Recipient>().map_err(|reason| {
                anyhow!(
                    "recipient #{n} ({text}) is not a valid age X25519 public key ({reason}): check it was copied \
                     whole; only \"age1...\" keys from age-keygen are supported"
                )
            })
        })
        .collect()
}

/// Parses identity files as written by `age-keygen`: `AGE-SECRET-KEY-1...` lines, `#` comments
/// and blank lines. File contents are held in zeroizing buffers and never put in errors.
fn load_identities(files: &[PathBuf]) -> anyhow::Result<Vec<age::x25519::Identity>> {
    let mut identities = Vec::new();
    for path in files {
        let mut file = File::open(path).with_context(|| format!("cannot open identity file {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0).min(IDENTITY_FILE_LIMIT);
        let capacity = usize::try_from(size).unwrap_or(0) + 1;
        let mut data = Zeroizing::new(Vec::with_capacity(capacity));
        (&mut file)
            .take(IDENTITY_FILE_LIMIT + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("cannot read identity file {}", path.display()))?;
        if data.len() as u64 > IDENTITY_FILE_LIMIT {
            bail!("{} is too large to be an age identity file: give the file written by age-keygen", path.display());
        }
        if data.starts_with(AGE_MAGIC) || data.starts_with(ARMOR_MAGIC) {
            bail!(
                "identity file {} is itself age-encrypted (passphrase-protected), which is not supported: \
                 decrypt it first (age -d -o PLAIN_IDENTITY_FILE {}) and keep the result private",
                path.display(),
                path.display()
            );
        }
        let text = std::str::from_utf8(&data).map_err(|_| {
            anyhow!(
                "{} is not an age identity file (it is not UTF-8 text): give the file written by age-keygen",
                path.display()
            )
        })?;
        let before = identities.len();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = index + 1;
            match line.parse::<age::x25519::Identity>() {
                Ok(identity) => identities.push(identity),
                Err(_) if line.starts_with("age1") => bail!(
                    "line {n} of identity file {} is a public key (age1...), not an identity: give the file from \
                     age-keygen that holds the AGE-SECRET-KEY-1... line",
                    path.display()
                ),
                Err(_) if line.starts_with("AGE-PLUGIN-") => bail!(
                    "line {n} of identity file {} is an age plugin identity, which is not supported: use an X25519 \
                     identity from age-keygen",
                    path.display()
                ),
                Err(_) if line.starts_with("-----BEGIN") || line.starts_with("ssh-") => bail!(
                    "identity file {} holds an SSH key, which is not supported: use an X25519 identity from \
                     age-keygen",
                    path.display()
                ),
                // Never echo the line: it may be a damaged secret key.
                Err(_) => bail!(
                    "line {n} of identity file {} is not an age identity: expected AGE-SECRET-KEY-1... lines as \
                     written by age-keygen (check the key was copied whole)",
                    path.display()
                ),
            }
        }
        if identities.len() == before {
            bail!(
                "identity file {} holds no age identity: expected an AGE-SECRET-KEY-1... line as written by \
                 age-keygen",
                path.display()
            );
        }
    }
    Ok(identities)
}

fn encrypt_error(e: EncryptError) -> anyhow::Error {
    match e {
        EncryptError::MissingRecipients => {
            anyhow!("nothing to encrypt to: give at least one age recipient (age1...) or a passphrase")
        }
        other => anyhow!("cannot set up age encryption: {other}"),
    }
}

/// Errors from reading the age header (before any key is tried).
fn header_error(e: DecryptError, src: &Path) -> anyhow::Error {
    match e {
        DecryptError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            anyhow!("{} is truncated: it ends inside the age header. Use another copy of the file", src.display())
        }
        DecryptError::Io(io) => anyhow::Error::new(io).context(format!("cannot read {}", src.display())),
        // The "age-encryption.org/v1" line was checked already: age reports a v1 header it
        // cannot parse as an unknown format.
        DecryptError::UnknownFormat | DecryptError::InvalidHeader => anyhow!(
            "{} has a malformed age header: the file is corrupted or was modified (tampered with). Use another \
             copy of the file",
            src.display()
        ),
        other => anyhow!("cannot read the age header of {}: {other}", src.display()),
    }
}

/// Errors from unwrapping the file key that are the same for identities and passphrases.
fn key_error(e: DecryptError, src: &Path) -> anyhow::Error {
    match e {
        DecryptError::InvalidMac => anyhow!(
            "the age header of {} failed its MAC check: the file was modified (corrupted or tampered with) after \
             it was encrypted. Use another copy of the file",
            src.display()
        ),
        DecryptError::InvalidHeader => anyhow!(
            "{} has a malformed age header: the file is corrupted or was modified (tampered with). Use another \
             copy of the file",
            src.display()
        ),
        DecryptError::Io(io) => anyhow::Error::new(io).context(format!("cannot read {}", src.display())),
        other => anyhow!("cannot decrypt {}: {other}", src.display()),
    }
}

/// Fails early (before slow work) when `dst` exists; `create_new` stays the real check.
fn refuse_existing(dst: &Path) -> anyhow::Result<()> {
    if dst.symlink_metadata().is_ok() {
        bail!("{} already exists: choose a new output file name (this never overwrites a file)", dst.display());
    }
    Ok(())
}

/// Creates `dst` new with mode 0600, with a guard that removes it unless kept.
fn create_output(dst: &Path) -> anyhow::Result<(File, RemoveUnlessKept<'_>)> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(dst).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            anyhow!("{} already exists: choose a new output file name (this never overwrites a file)", dst.display())
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", dst.display()))
        }
    })?;
    Ok((file, RemoveUnlessKept { path: dst, keep: false }))
}

/// Flushes and fsyncs `dst` and (best effort) its directory.
fn finish_output(writer: BufWriter<File>, dst: &Path) -> anyhow::Result<()> {
    let file = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {} (nothing was kept)", dst.display()))?;
    file.sync_all().with_context(|| format!("cannot fsync {} (nothing was kept)", dst.display()))?;
    drop(file);
    let parent = dst.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes a half-written output (e.g. partial plaintext before a failed MAC) on drop.
struct RemoveUnlessKept<'a> {
    path: &'a Path,
    keep: bool,
}

impl RemoveUnlessKept<'_> {
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for RemoveUnlessKept<'_> {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// A reader that remembers whether it failed, so `io::copy` errors can be told apart as
/// read-side (input, or age authentication) or write-side (output).
struct ErrorTracking<R> {
    inner: R,
    failed: bool,
}

impl<R> ErrorTracking<R> {
    fn new(inner: R) -> Self {
        Self { inner, failed: false }
    }
}

impl<R: Read> Read for ErrorTracking<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.inner.read(buf);
        if let Err(e) = &result
            && e.kind() != io::ErrorKind::Interrupted
        {
            self.failed = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use std::process::Command;

    /// age's STREAM chunk size (plaintext bytes per chunk).
    const CHUNK: usize = 64 * 1024;

    /// Deterministic pseudo-random bytes (xorshift), so payloads do not compress or repeat.
    fn payload(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ len as u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// A fresh identity written like age-keygen does; returns (identity file, public key).
    fn new_identity(dir: &Path, name: &str) -> (PathBuf, String) {
        let identity = age::x25519::Identity::generate();
        let public = identity.to_public().to_string();
        let path = dir.join(name);
        let text = format!("# created: by a test\n# public key: {public}\n{}\n", identity.to_string().expose_secret());
        std::fs::write(&path, text).unwrap();
        (path, public)
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn err_text(e: anyhow::Error) -> String {
        format!("{e:#}")
    }

    #[test]
    fn round_trip_with_recipients_various_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let (id1, pk1) = new_identity(dir.path(), "id1.txt");
        let (id2, pk2) = new_identity(dir.path(), "id2.txt");
        // Sizes around STREAM chunk boundaries, including an exact multiple of the chunk size.
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17] {
            let data = payload(len);
            let src = write(dir.path(), &format!("plain-{len}"), &data);
            let enc = dir.path().join(format!("enc-{len}.age"));
            encrypt_file(&src, &enc, &[pk1.clone(), format!("  {pk2}\n")], None).unwrap();
            assert!(is_age_file(&enc).unwrap());
            // Either recipient's identity decrypts it.
            for (i, id) in [&id1, &id2].into_iter().enumerate() {
                let out = dir.path().join(format!("out-{len}-{i}"));
                decrypt_file(&enc, &out, std::slice::from_ref(id), None).unwrap();
                assert_eq!(std::fs::read(&out).unwrap(), data, "len {len}");
            }
        }
    }

    #[test]
    fn round_trip_with_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let data = payload(CHUNK * 2 + 5);
        let src = write(dir.path(), "plain", &data);
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[], Some("correct horse battery staple".as_bytes())).unwrap();
        assert!(is_age_file(&enc).unwrap());
        let out = dir.path().join("out");
        decrypt_file(&enc, &out, &[], Some("correct horse battery staple".as_bytes())).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), data);
    }

    #[cfg(unix)]
    #[test]
    fn outputs_are_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = write(dir.path(), "plain", b"secret backup");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[], Some(b"pw")).unwrap();
        let out = dir.path().join("out");
        decrypt_file(&enc, &out, &[], Some(b"pw")).unwrap();
        for path in [&enc, &out] {
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
        }
    }

    #[test]
    fn wrong_passphrase_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = write(dir.path(), "plain", b"secret backup");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[], Some(b"right passphrase")).unwrap();
        let out = dir.path().join("out");
        let msg = err_text(decrypt_file(&enc, &out, &[], Some(b"wrong passphrase")).unwrap_err());
        assert!(msg.contains("wrong passphrase"), "{msg}");
        assert!(!msg.contains("right passphrase") && !msg.contains("wrong passphrase for wrong"), "{msg}");
        assert!(!out.exists());
    }

    #[test]
    fn wrong_identity_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, pk) = new_identity(dir.path(), "right.txt");
        let (other, _) = new_identity(dir.path(), "other.txt");
        let src = write(dir.path(), "plain", b"secret backup");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[pk], None).unwrap();
        let out = dir.path().join("out");
        let msg = err_text(decrypt_file(&enc, &out, &[other], None).unwrap_err());
        assert!(msg.contains("none of the 1 identities"), "{msg}");
        assert!(!msg.contains("AGE-SECRET-KEY"), "{msg}");
        assert!(!out.exists());
    }

    #[test]
    fn mismatched_key_kind_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (id, pk) = new_identity(dir.path(), "id.txt");
        let src = write(dir.path(), "plain", b"secret backup");
        let by_key = dir.path().join("key.age");
        let by_pass = dir.path().join("pass.age");
        encrypt_file(&src, &by_key, &[pk], None).unwrap();
        encrypt_file(&src, &by_pass, &[], Some(b"pw")).unwrap();
        let out = dir.path().join("out");
        let msg = err_text(decrypt_file(&by_key, &out, &[], Some(b"pw")).unwrap_err());
        assert!(msg.contains("not with a passphrase"), "{msg}");
        let msg = err_text(decrypt_file(&by_pass, &out, &[id], None).unwrap_err());
        assert!(msg.contains("encrypted with a passphrase"), "{msg}");
        assert!(!out.exists());
    }

    #[test]
    fn truncated_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (id, pk) = new_identity(dir.path(), "id.txt");
        let data = payload(2 * CHUNK + 100);
        let src = write(dir.path(), "plain", &data);
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[pk], None).unwrap();
        let full = std::fs::read(&enc).unwrap();
        let payload_start = full.len() - (data.len() + 3 * 16); // 3 chunks, 16-byte tag each
        let cuts = [
            ("last byte", full.len() - 1),
            ("at a chunk boundary", payload_start + CHUNK + 16),
            ("inside the first chunk", payload_start + 100),
            ("after the nonce", payload_start),
            ("inside the header", 40),
        ];
        for (what, len) in cuts {
            let cut = write(dir.path(), "cut.age", &full[..len]);
            let out = dir.path().join("out");
            let msg = err_text(decrypt_file(&cut, &out, std::slice::from_ref(&id), None).unwrap_err());
            assert!(msg.contains("truncated"), "{what}: {msg}");
            assert!(!out.exists(), "{what}: partial plaintext must not be left behind");
            std::fs::remove_file(&cut).unwrap();
        }
    }

    #[test]
    fn flipped_byte_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (id, pk) = new_identity(dir.path(), "id.txt");
        let data = payload(2 * CHUNK + 100);
        let src = write(dir.path(), "plain", &data);
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[pk], None).unwrap();
        let full = std::fs::read(&enc).unwrap();
        // In the last chunk: the first chunks decrypt (and are written) before the failure.
        for (what, at) in [("payload", full.len() - 50), ("first chunk", full.len() - data.len() - 10)] {
            let mut bad = full.clone();
            bad[at] ^= 0x01;
            let bad_path = write(dir.path(), "bad.age", &bad);
            let out = dir.path().join("out");
            let msg = err_text(decrypt_file(&bad_path, &out, std::slice::from_ref(&id), None).unwrap_err());
            assert!(msg.contains("tampered"), "{what}: {msg}");
            assert!(!out.exists(), "{what}: partial plaintext must not be left behind");
            std::fs::remove_file(&bad_path).unwrap();
        }
        // Any flipped bit in the header after the version line is refused too.
        let header_end = full.windows(4).position(|w| w == b"\n---").unwrap() + 1 + "--- ".len() + 43 + 1;
        assert_eq!(full[header_end - 1], b'\n');
        for at in AGE_MAGIC.len()..header_end {
            let mut bad = full.clone();
            bad[at] ^= 0x01;
            let bad_path = write(dir.path(), "badhdr.age", &bad);
            let out = dir.path().join("out");
            let msg = err_text(decrypt_file(&bad_path, &out, std::slice::from_ref(&id), None).unwrap_err());
            assert!(
                ["tampered", "header was damaged", "truncated"].iter().any(|w| msg.contains(w)),
                "header byte {at}: {msg}"
            );
            assert!(!out.exists());
            std::fs::remove_file(&bad_path).unwrap();
        }
    }

    #[test]
    fn excessive_scrypt_work_factor_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = write(dir.path(), "plain", b"secret backup");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[], Some(b"pw")).unwrap();
        // Raise the stanza's work factor to 2^23: refused before any scrypt work is done.
        let full = std::fs::read(&enc).unwrap();
        let stanza = format!(" {TEST_SCRYPT_LOG_N}\n");
        let at = full.windows(stanza.len()).position(|w| w == stanza.as_bytes()).unwrap();
        let mut bad = full[..at].to_vec();
        bad.extend_from_slice(b" 23\n");
        bad.extend_from_slice(&full[at + stanza.len()..]);
        let bad_path = write(dir.path(), "bad.age", &bad);
        let out = dir.path().join("out");
        let msg = err_text(decrypt_file(&bad_path, &out, &[], Some(b"pw")).unwrap_err());
        assert!(msg.contains("2^23") && msg.contains("2^22"), "{msg}");
        assert!(!out.exists());
    }

    #[test]
    fn existing_dst_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (id, pk) = new_identity(dir.path(), "id.txt");
        let src = write(dir.path(), "plain", b"secret backup");
        let taken = write(dir.path(), "taken", b"keep me");
        let msg = err_text(encrypt_file(&src, &taken, std::slice::from_ref(&pk), None).unwrap_err());
        assert!(msg.contains("already exists"), "{msg}");
        let msg = err_text(encrypt_file(&src, &taken, &[], Some(b"pw")).unwrap_err());
        assert!(msg.contains("already exists"), "{msg}");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[pk], None).unwrap();
        let msg = err_text(decrypt_file(&enc, &taken, &[id], None).unwrap_err());
        assert!(msg.contains("already exists"), "{msg}");
        assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");
        // Encrypting a file onto itself is the same case.
        let msg = err_text(encrypt_file(&src, &src, &[], Some(b"pw")).unwrap_err());
        assert!(msg.contains("already exists"), "{msg}");
        assert_eq!(std::fs::read(&src).unwrap(), b"secret backup");
    }

    #[test]
    fn is_age_file_true_and_false() {
        let dir = tempfile::tempdir().unwrap();
        let src = write(dir.path(), "plain", b"not encrypted");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[], Some(b"pw")).unwrap();
        assert!(is_age_file(&enc).unwrap());
        assert!(!is_age_file(&src).unwrap());
        assert!(!is_age_file(&write(dir.path(), "empty", b"")).unwrap());
        assert!(!is_age_file(&write(dir.path(), "short", b"age-encryption.org/v1")).unwrap());
        assert!(!is_age_file(&write(dir.path(), "v2", b"age-encryption.org/v2\n")).unwrap());
        let armored = b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n";
        assert!(!is_age_file(&write(dir.path(), "armored", armored)).unwrap());
        assert!(is_age_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn not_an_age_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (id, _) = new_identity(dir.path(), "id.txt");
        let plain = write(dir.path(), "plain", b"KWBACKUP plaintext");
        let out = dir.path().join("out");
        let msg = err_text(decrypt_file(&plain, &out, std::slice::from_ref(&id), None).unwrap_err());
        assert!(msg.contains("not an age-encrypted file"), "{msg}");
        let armored = write(dir.path(), "armored", b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n");
        let msg = err_text(decrypt_file(&armored, &out, &[id], None).unwrap_err());
        assert!(msg.contains("ASCII-armored"), "{msg}");
        assert!(!out.exists());
    }

    #[test]
    fn argument_errors_are_clear_and_leak_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (id, pk) = new_identity(dir.path(), "id.txt");
        let src = write(dir.path(), "plain", b"x");
        let dst = dir.path().join("dst");
        let msg = err_text(encrypt_file(&src, &dst, &[], None).unwrap_err());
        assert!(msg.contains("nothing to encrypt to"), "{msg}");
        let msg = err_text(encrypt_file(&src, &dst, std::slice::from_ref(&pk), Some(b"pw")).unwrap_err());
        assert!(msg.contains("not both"), "{msg}");
        let msg = err_text(encrypt_file(&src, &dst, &[], Some(b"")).unwrap_err());
        assert!(msg.contains("passphrase is empty"), "{msg}");
        let msg = err_text(encrypt_file(&src, &dst, &[], Some(&[0xff, 0xfe])).unwrap_err());
        assert!(msg.contains("not valid UTF-8"), "{msg}");
        // A secret key given as a recipient is refused without being echoed.
        let secret_line = std::fs::read_to_string(&id).unwrap().lines().last().unwrap().to_owned();
        let msg = err_text(encrypt_file(&src, &dst, std::slice::from_ref(&secret_line), None).unwrap_err());
        assert!(msg.contains("secret key") && !msg.contains(&secret_line[20..]), "{msg}");
        let msg = err_text(encrypt_file(&src, &dst, &["ssh-ed25519 AAAA".to_owned()], None).unwrap_err());
        assert!(msg.contains("not an age X25519 public key"), "{msg}");
        let msg = err_text(encrypt_file(&src, &dst, &[format!("{pk}x")], None).unwrap_err());
        assert!(msg.contains("not a valid age X25519 public key"), "{msg}");
        let msg = err_text(decrypt_file(&src, &dst, &[], None).unwrap_err());
        assert!(msg.contains("nothing to decrypt with"), "{msg}");
        let msg = err_text(decrypt_file(&src, &dst, std::slice::from_ref(&id), Some(b"pw")).unwrap_err());
        assert!(msg.contains("not both"), "{msg}");
        // A damaged identity line is reported by line number, never echoed.
        let damaged = format!("# comment\n{}\n", &secret_line[..secret_line.len() - 3]);
        let bad_id = write(dir.path(), "bad-id.txt", damaged.as_bytes());
        let msg = err_text(decrypt_file(&src, &dst, &[bad_id], None).unwrap_err());
        assert!(msg.contains("line 2") && !msg.contains(&secret_line[20..40]), "{msg}");
        let pub_id = write(dir.path(), "pub.txt", format!("{pk}\n").as_bytes());
        let msg = err_text(decrypt_file(&src, &dst, &[pub_id], None).unwrap_err());
        assert!(msg.contains("is a public key"), "{msg}");
        let empty_id = write(dir.path(), "empty.txt", b"# nothing here\n\n");
        let msg = err_text(decrypt_file(&src, &dst, &[empty_id], None).unwrap_err());
        assert!(msg.contains("holds no age identity"), "{msg}");
        assert!(!dst.exists());
    }

    #[test]
    fn identity_file_with_crlf_and_several_keys() {
        let dir = tempfile::tempdir().unwrap();
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let text =
            format!("# a\r\n{}\r\n\r\n# b\r\n{}\r\n", a.to_string().expose_secret(), b.to_string().expose_secret());
        let id = write(dir.path(), "ids.txt", text.as_bytes());
        let src = write(dir.path(), "plain", b"data");
        let enc = dir.path().join("enc.age");
        encrypt_file(&src, &enc, &[b.to_public().to_string()], None).unwrap();
        let out = dir.path().join("out");
        decrypt_file(&enc, &out, &[id], None).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"data");
    }

    fn age_cli_available() -> bool {
        let ok = |cmd: &str| Command::new(cmd).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
        ok("age") && ok("age-keygen")
    }

    fn run(cmd: &mut Command) {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Interop with the reference `age` command-line tool, both directions (skipped if absent).
    #[test]
    fn interop_with_age_cli() {
        if !age_cli_available() {
            println!("SKIPPED interop_with_age_cli: the `age` and `age-keygen` commands are not installed");
            eprintln!("SKIPPED interop_with_age_cli: the `age` and `age-keygen` commands are not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // A real age-keygen identity file (comments and all), generated now, never stored.
        let id = dir.path().join("identity.txt");
        run(Command::new("age-keygen").arg("-o").arg(&id));
        let out = Command::new("age-keygen").arg("-y").arg(&id).output().unwrap();
        assert!(out.status.success());
        let recipient = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(recipient.starts_with("age1"));

        for len in [0, 5, CHUNK, 2 * CHUNK + 333] {
            let data = payload(len);
            let src = write(dir.path(), &format!("plain-{len}"), &data);

            // Ours -> age CLI.
            let ours = dir.path().join(format!("ours-{len}.age"));
            encrypt_file(&src, &ours, std::slice::from_ref(&recipient), None).unwrap();
            let by_cli = dir.path().join(format!("cli-dec-{len}"));
            run(Command::new("age").arg("-d").arg("-i").arg(&id).arg("-o").arg(&by_cli).arg(&ours));
            // age 1.1's `-o` opens its output lazily: an empty plaintext leaves no file at all.
            let got = if len == 0 && !by_cli.exists() { Vec::new() } else { std::fs::read(&by_cli).unwrap() };
            assert_eq!(got, data, "ours -> age, len {len}");

            // age CLI -> ours.
            let theirs = dir.path().join(format!("cli-{len}.age"));
            run(Command::new("age").arg("-r").arg(&recipient).arg("-o").arg(&theirs).arg(&src));
            assert!(is_age_file(&theirs).unwrap());
            let by_us = dir.path().join(format!("our-dec-{len}"));
            decrypt_file(&theirs, &by_us, std::slice::from_ref(&id), None).unwrap();
            assert_eq!(std::fs::read(&by_us).unwrap(), data, "age -> ours, len {len}");
        }
        println!("interop_with_age_cli: ran against the installed age CLI");
    }
}
