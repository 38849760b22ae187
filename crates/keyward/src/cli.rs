//! The command line, as clap parses it. Flag names follow the interface contract in
//! PRODUCT.md; acceptance checks drive them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

// No `Debug` here or on `Global`: the parsed flags hold the API token.
#[derive(Parser)]
#[command(
    name = "keyward",
    version,
    about = "Keyward: a key management server with backup, recovery and upgrades built in"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Output format: human-readable tables, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: Format,
    /// Server address for client commands.
    #[arg(long, global = true, env = "KEYWARD_ADDR", default_value = "http://127.0.0.1:7700")]
    pub addr: String,
    /// API token for client commands.
    #[arg(long, global = true, env = "KEYWARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// CA certificate (PEM) that issued the server's certificate.
    #[arg(long, global = true, env = "KEYWARD_CACERT")]
    pub cacert: Option<PathBuf>,
    /// Client certificate and key (one PEM file) for mutual TLS.
    #[arg(long, global = true, env = "KEYWARD_CLIENT_CERT")]
    pub client_cert: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Server(ServerArgs),
    /// Initialise a new node in a data directory.
    Init(InitArgs),
    /// Seal, unseal, status and startup-secret changes.
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Create, manage and use keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Check the audit log's hash chain.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Take and check backups.
    #[command(subcommand)]
    Backup(BackupCmd),
    /// Restore a backup into a data directory (the server must be stopped).
    Restore(RestoreArgs),
    /// Disaster drill: verify a backup with the secret, restore it into a scratch directory,
    /// start a throwaway server, use keys through its API, and report recovery time and point.
    Drill(DrillArgs),
    /// The organisation's servers as this node knows them.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Migrate a stopped node's components to this binary's schema versions (a verified backup
    /// is taken first), or roll the last upgrade back.
    Upgrade(UpgradeArgs),
    /// Find inconsistent or risky state (stale registrations, orphaned data, schema versions,
    /// a stale lock, permissions, change log, audit chain, disk space, TLS expiry, backup age)
    /// and repair what is safe with --fix. Offline with --data-dir, else asks the server.
    Doctor(DoctorArgs),
    /// List, add and remove components (a running server).
    #[command(subcommand)]
    Component(ComponentCmd),
    /// Scheduled backups, taken by the server (needs the scheduler component).
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Measure a running server over HTTP, or any KMIP server over TTLV/TLS (--kmip).
    Bench(BenchArgs),
    /// Certificates and key escrow (the pki component): enroll people, redeem tokens, revoke,
    /// publish CRLs, and recover escrowed keys with a quorum of officers.
    #[command(subcommand)]
    Pki(PkiCmd),
}

#[derive(Subcommand, Debug)]
pub enum PkiCmd {
    /// The certificate authority: show, download, rotate, import an intermediate's certificate.
    #[command(subcommand)]
    Ca(PkiCaCmd),
    /// Enroll a person: prints a one-time token to hand over out of band.
    Enroll {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// How long the token stays valid.
        #[arg(long, default_value = "7d")]
        ttl: String,
    },
    /// A renewal token for an enrolled person (new key pairs; old encryption keys stay escrowed).
    Renew {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "7d")]
        ttl: String,
    },
    /// Redeem an enrollment token (run by the person): makes a signing key here, sends its CSR,
    /// and writes the certificates, the escrowed encryption key's PKCS#12 and a signing PKCS#12.
    Redeem {
        #[arg(long, env = "KEYWARD_ENROLL_TOKEN", hide_env_values = true)]
        token: String,
        /// Send this CSR (PEM) instead of making a signing key here.
        #[arg(long)]
        csr: Option<PathBuf>,
        /// File whose first line is the password for the PKCS#12 files.
        #[arg(long)]
        password_file: PathBuf,
        /// Directory to write the files into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Revoke a certificate by serial, or every valid certificate of a person (--email).
    Revoke {
        serial: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// unspecified, key-compromise, ca-compromise, affiliation-changed, superseded,
        /// cessation-of-operation, privilege-withdrawn.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Download the CRL (DER, or PEM with --pem).
    Crl {
        #[arg(long)]
        pem: bool,
        /// CA generation (default: the current CA).
        #[arg(long)]
        generation: Option<u32>,
        #[arg(long)]
        out: PathBuf,
    },
    /// List and search people.
    People {
        #[arg(long)]
        search: Option<String>,
    },
    /// One person: certificates (valid, expired, revoked), enrollments and recoveries.
    Person { email: String },
    /// Recovery officers.
    #[command(subcommand)]
    Officer(PkiOfficerCmd),
    /// Recovery of escrowed keys by a quorum of officers.
    #[command(subcommand)]
    Recovery(PkiRecoveryCmd),
}

#[derive(Subcommand, Debug)]
pub enum PkiCaCmd {
    /// Every CA generation.
    Show,
    /// Write every CA certificate (PEM) to a file, for `openssl verify -CAfile` and mail clients.
    Pem {
        #[arg(long)]
        out: PathBuf,
    },
    /// Start a new CA generation; the old one is kept so what it issued still validates.
    Rotate(CaOptions),
    /// Import the certificate the external root issued for the pending intermediate CA.
    Import {
        #[arg(long)]
        cert: PathBuf,
        /// The issuer's certificate and any above it (PEM), nearest first.
        #[arg(long)]
        chain: PathBuf,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct CaOptions {
    /// The CA's common name (default: "<organisation> Keyward CA").
    #[arg(long)]
    pub ca_common_name: Option<String>,
    /// rsa-2048, rsa-3072 (default), rsa-4096, ec-p256, ec-p384.
    #[arg(long)]
    pub ca_key_type: Option<String>,
    /// Make an intermediate CA: prints a CSR for the external root to sign.
    #[arg(long)]
    pub intermediate: bool,
    /// Validity of people's certificates, days.
    #[arg(long)]
    pub cert_days: Option<u32>,
    /// Validity of each CRL, days (re-signed at half of it).
    #[arg(long)]
    pub crl_days: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum PkiOfficerCmd {
    /// Add an officer: prints their own token once.
    Add {
        name: String,
    },
    List,
    /// Remove an officer (their token is revoked).
    Remove {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PkiRecoveryCmd {
    /// Set the quorum: M officers must approve each recovery.
    Policy {
        #[arg(long)]
        threshold: u32,
        /// How long a request stays open.
        #[arg(long, default_value = "24h")]
        ttl: String,
    },
    /// Open a recovery request for a person's escrowed keys (an administrator).
    Request {
        #[arg(long)]
        email: String,
        #[arg(long)]
        reason: String,
    },
    /// Approve a request (an officer, with their own token).
    Approve { id: String },
    /// Requests, newest first.
    List {
        #[arg(long)]
        email: Option<String>,
    },
    /// Download the recovered keys once approved (the administrator who asked), as PKCS#12.
    Download {
        id: String,
        #[arg(long)]
        password_file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ComponentCmd {
    /// Every component with its version, where its data lives, and its health.
    List,
    /// Install an optional component (its tables and registration together). `pki` comes
    /// with its CA, set with the --ca-* options.
    Add {
        name: String,
        #[command(flatten)]
        ca: CaOptions,
    },
    /// Uninstall an optional component: its data and registration go together.
    Remove {
        name: String,
        /// Needed for a component that holds keys or certificates; a verified backup is
        /// written into the data directory's backups/ first.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// Set the schedule: the server writes a verified backup into DIR every interval.
    Set {
        /// Interval, e.g. 6h, 1d, 30m.
        #[arg(long)]
        every: String,
        /// Absolute directory on the server's machine.
        #[arg(long)]
        dir: PathBuf,
        /// How many scheduled backups to keep there.
        #[arg(long, default_value_t = 7)]
        keep: u32,
    },
    /// The schedule and the latest runs.
    Show,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Repair what cannot lose data, and say what was changed.
    #[arg(long, requires = "data_dir")]
    pub fix: bool,
    /// A key file or shares directory whose permissions to check; repeatable.
    #[arg(long = "secret-path")]
    pub secret_paths: Vec<PathBuf>,
    /// Where backups are kept (besides <data dir>/backups); repeatable.
    #[arg(long = "backup-dir")]
    pub backup_dirs: Vec<PathBuf>,
    /// Warn when the newest verified backup is older than this many days.
    #[arg(long, default_value_t = 7)]
    pub max_backup_age_days: u64,
    /// keyward.toml, to check the TLS certificate's expiry.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UpgradeArgs {
    #[arg(long)]
    pub data_dir: PathBuf,
    /// List the steps and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore the newest pre-upgrade backup, with the schema versions it had.
    #[arg(long, conflicts_with = "dry_run")]
    pub rollback: bool,
}

#[derive(Subcommand, Debug)]
pub enum OrgCmd {
    /// List the servers: active, and retired ones with what replaced them.
    List,
}

#[derive(Args, Debug)]
pub struct DrillArgs {
    pub file: PathBuf,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub age: AgeArgs,
    /// Where to restore (default: a new temporary directory, removed afterwards).
    #[arg(long)]
    pub scratch_dir: Option<PathBuf>,
    /// How many keys to exercise through the API.
    #[arg(long, default_value_t = 20)]
    pub sample: usize,
}

#[derive(Subcommand, Debug)]
pub enum BackupCmd {
    /// Write a backup: online from the running server, or offline from a stopped --data-dir.
    Create {
        #[arg(long)]
        out: PathBuf,
        /// Only these components (comma-separated): config, directory, keys, audit. Default: all.
        #[arg(long, value_delimiter = ',')]
        components: Vec<String>,
        /// Back up this stopped node's directory instead of asking the server.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Offline only: the startup secret, to authenticate the manifest.
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        age: AgeArgs,
    },
    /// Check a backup: structure and checksums always; with the secret, that every key decrypts.
    Verify {
        file: PathBuf,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        age: AgeArgs,
    },
}

/// Optional age encryption of the whole backup file, for off-site copies.
#[derive(Args, Debug, Default, Clone)]
pub struct AgeArgs {
    /// Encrypt the backup file with age to this recipient (age1...); repeatable.
    #[arg(long)]
    pub age_recipient: Vec<String>,
    /// age passphrase file: encrypts a new backup, or decrypts an age-encrypted one.
    #[arg(long)]
    pub age_passphrase_file: Option<PathBuf>,
    /// age identity file (as written by age-keygen) to decrypt an age-encrypted backup; repeatable.
    #[arg(long)]
    pub age_identity: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    pub file: PathBuf,
    #[command(flatten)]
    pub age: AgeArgs,
    /// The stopped node's data directory. Without it, the running server (KEYWARD_ADDR)
    /// restores online: it goes into maintenance, restores, and serves again.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Replace an initialised node's data with the backup.
    #[arg(long, conflicts_with = "merge")]
    pub erase: bool,
    /// Add what is missing locally, keep what is newer locally, and report every conflict.
    #[arg(long)]
    pub merge: bool,
    /// Restore the backup as another server with this name: a new server id, and the old
    /// identity retired in the organisation.
    #[arg(long)]
    pub destination: Option<String>,
    /// Restore only these components (comma-separated), keeping the others as they are.
    #[arg(long, value_delimiter = ',')]
    pub components: Vec<String>,
    /// Print what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start the server on the restored directory when the restore has finished (sealed: unseal
    /// it with the backup's startup secret). With --config it serves as configured; without, a
    /// dev server on loopback.
    #[arg(long, requires = "data_dir", conflicts_with = "dry_run")]
    pub start: bool,
    #[arg(long, requires = "start")]
    pub config: Option<PathBuf>,
    #[arg(long, requires = "start")]
    pub listen: Option<SocketAddr>,
}

#[derive(Args, Debug, Default)]
#[group(multiple = false)]
pub struct UnsealAtStart {
    /// Unseal at start with the passphrase in this file.
    #[arg(long)]
    pub unseal_passphrase_file: Option<PathBuf>,
    /// Unseal at start with this key file.
    #[arg(long)]
    pub unseal_key_file: Option<PathBuf>,
    /// Unseal at start with the share files in this directory.
    #[arg(long)]
    pub unseal_shares_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Development mode: plain HTTP on loopback; an empty data directory is initialised and
    /// unsealed, and its root token and passphrase are printed once.
    #[arg(long)]
    pub dev: bool,
    /// Production configuration file (TLS, listen address, data directory).
    #[arg(long, conflicts_with = "dev")]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub unseal: UnsealAtStart,
    /// Upgrade the store first if it is older than this binary (a verified backup is taken).
    #[arg(long)]
    pub upgrade: bool,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Seal with the passphrase in this file (at least 12 characters).
    #[arg(long, group = "secret")]
    pub passphrase_file: Option<PathBuf>,
    /// Seal with a new random key file written here (mode 0600): the "startup disk".
    #[arg(long, group = "secret")]
    pub key_file: Option<PathBuf>,
    /// Seal with N Shamir shares, written one file per custodian into --shares-dir.
    #[arg(long, group = "secret", requires_all = ["threshold", "shares_dir"])]
    pub shares: Option<u8>,
    /// How many shares unseal (with --shares).
    #[arg(long, requires = "shares")]
    pub threshold: Option<u8>,
    #[arg(long, requires = "shares")]
    pub shares_dir: Option<PathBuf>,
    #[arg(long, default_value = "default")]
    pub org: String,
    #[arg(long, default_value = "default")]
    pub site: String,
    /// Defaults to the host name.
    #[arg(long)]
    pub server_name: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum OperatorCmd {
    /// Submit the startup secret (or one share) to a sealed server.
    Unseal(SecretArgs),
    /// Seal the server: it forgets its master key until unsealed again.
    Seal,
    /// Show whether the server is sealed, and unseal progress.
    Status,
    /// Change the startup secret (any kind to any kind).
    Rekey(RekeyArgs),
}

#[derive(Args, Debug, Default)]
pub struct SecretArgs {
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// One share file; repeat to give several.
    #[arg(long)]
    pub share_file: Vec<PathBuf>,
    /// Every share file in this directory.
    #[arg(long)]
    pub shares_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub current: SecretArgs,
    #[arg(long, group = "new")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Write a new key file here.
    #[arg(long, group = "new")]
    pub new_key_file: Option<PathBuf>,
    #[arg(long, group = "new", requires_all = ["new_threshold", "new_shares_dir"])]
    pub new_shares: Option<u8>,
    #[arg(long, requires = "new_shares")]
    pub new_threshold: Option<u8>,
    #[arg(long, requires = "new_shares")]
    pub new_shares_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create a key: aes-128 aes-256 rsa-2048 rsa-3072 rsa-4096 ec-p256 ec-p384 ed25519 hmac-sha256.
    Create {
        #[arg(long = "type")]
        key_type: String,
        #[arg(long)]
        name: String,
        /// Allow export (wrapped, or in plaintext by an administrator).
        #[arg(long)]
        exportable: bool,
        /// Create in the pre-active state.
        #[arg(long)]
        pre_active: bool,
    },
    /// List keys.
    List {
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long = "type")]
        key_type: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Start after this name (paging).
        #[arg(long)]
        after: Option<String>,
    },
    /// Show a key's metadata and versions.
    Show {
        name: String,
    },
    /// Add a new version; older versions keep decrypting and verifying.
    Rotate {
        name: String,
    },
    Disable {
        name: String,
    },
    Enable {
        name: String,
    },
    /// Pre-active to active.
    Activate {
        name: String,
    },
    /// Active to deactivated: decrypt and verify only.
    Deactivate {
        name: String,
    },
    /// Mark compromised: decrypt and verify only.
    Compromise {
        name: String,
    },
    /// Erase the material; a tombstone with the metadata stays.
    Destroy {
        name: String,
        /// Deactivate an active key first.
        #[arg(long)]
        force: bool,
    },
    /// Encrypt stdin; print the ciphertext.
    Encrypt {
        name: String,
        /// Associated data (text) bound to the ciphertext.
        #[arg(long)]
        aad: Option<String>,
    },
    /// Decrypt the ciphertext on stdin; write the plaintext.
    Decrypt {
        name: String,
        #[arg(long)]
        aad: Option<String>,
    },
    /// Sign stdin; print the signature.
    Sign {
        name: String,
        /// rsa-pss-sha256 (RSA default), rsa-pkcs1-sha256, ecdsa-sha256, ecdsa-sha384, ed25519.
        #[arg(long)]
        algorithm: Option<String>,
    },
    /// Verify a signature of stdin: exit 0 when valid, 1 when not.
    Verify {
        name: String,
        #[arg(long)]
        signature: String,
    },
    /// HMAC of stdin.
    Hmac {
        name: String,
    },
    /// Verify an HMAC of stdin: exit 0 when valid, 1 when not.
    HmacVerify {
        name: String,
        #[arg(long)]
        hmac: String,
    },
    /// A new data key: plaintext (base64) and a copy encrypted under NAME.
    Datakey {
        name: String,
        #[arg(long, default_value_t = 256)]
        bits: u32,
    },
    /// Export a key wrapped under another key (or in plaintext, administrators only).
    Export {
        name: String,
        #[arg(long, conflicts_with = "plaintext")]
        wrapping_key: Option<String>,
        #[arg(long)]
        plaintext: bool,
    },
    /// Import key material (raw for symmetric keys, PKCS#8 DER for key pairs).
    Import {
        #[arg(long)]
        name: String,
        #[arg(long = "type")]
        key_type: String,
        #[arg(long, conflicts_with = "wrapped_file")]
        material_file: Option<PathBuf>,
        #[arg(long, requires = "wrapping_key")]
        wrapped_file: Option<PathBuf>,
        #[arg(long)]
        wrapping_key: Option<String>,
        #[arg(long)]
        exportable: bool,
    },
    /// Print a key pair's public key (PEM).
    Public {
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    Create {
        /// admin, operator, backup or app.
        #[arg(long)]
        role: String,
        /// Key-name prefix an app token may use; repeat for several.
        #[arg(long = "prefix")]
        prefixes: Vec<String>,
        #[arg(long, default_value = "")]
        name: String,
        /// Lifetime in seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },
    List,
    Revoke {
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check the chain (online, or offline with --data-dir on a stopped node).
    Verify {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Concurrent connections (one worker each).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds per workload.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Workloads to run, comma-separated. REST: health, encrypt, create (default: all three).
    /// KMIP: encrypt, create (default: both), and discover (Discover Versions: the ceiling of the
    /// KMIP stack, no key involved).
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    /// Drive the KMIP server at HOST:PORT instead of the REST API: TTLV over TLS with a client
    /// certificate, one connection per worker. Works against any KMIP server.
    #[arg(long, value_name = "HOST:PORT", requires_all = ["kmip_cert", "kmip_key", "kmip_ca"])]
    pub kmip: Option<String>,
    /// The KMIP client certificate (PEM; a chain may follow it).
    #[arg(long, value_name = "PEM", requires = "kmip")]
    pub kmip_cert: Option<PathBuf>,
    /// The KMIP client certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "kmip")]
    pub kmip_key: Option<PathBuf>,
    /// The CA certificate(s) the KMIP server's certificate must chain to (PEM).
    #[arg(long, value_name = "PEM", requires = "kmip")]
    pub kmip_ca: Option<PathBuf>,
    /// The name the KMIP server's certificate must carry; default: the host part of --kmip.
    #[arg(long, requires = "kmip")]
    pub kmip_server_name: Option<String>,
    /// KMIP protocol version of the requests: 1.0 to 1.4 (attributes in a Template-Attribute;
    /// Encrypt exists from 1.2) or 2.0 (Attributes).
    #[arg(long, default_value = "1.4", requires = "kmip")]
    pub kmip_version: String,
    /// AES-256 mode of the KMIP encrypt workload: gcm (the server generates the IV; 16-byte tag)
    /// or cbc (PKCS5 padding, a random IV from the client in every request).
    #[arg(long, default_value = "gcm", value_parser = ["gcm", "cbc"], requires = "kmip")]
    pub kmip_cipher: String,
}
