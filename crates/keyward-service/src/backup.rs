//! Backups of a node and restores from them: the mapping between the store's rows and the
//! archive's records, verification with the startup secret, and building a restored store.
//!
//! The archive format itself lives in `keyward-backup`; the atomic swap in `keyward-store`.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_backup::{
    ArchiveReader, ArchiveWriter, Identity, KeyringEntry, Manifest, ReadSummary, Record, SealEntry, WriteSummary,
    WriterOptions,
};
use keyward_crypto::{LoadedKey, Secret, SignatureScheme};
use keyward_seal::{Keyring, SealConfig, StartupSecret, WrappedDataKey};
use keyward_store::{
    AuditEntry, AuditRow, ComponentRow, DataDir, IdentityRow, KeyVersionRow, KeyringRow, Mutation, ObjectRow, PkiRow,
    RestoreLoader, Store, TokenRow,
};
use keyward_types::{Capability, Component, KeyState, KeyType};

use crate::keys::material_context;
use crate::{Error, Result, now};

mod lines;

/// HKDF info for the manifest MAC key (see `docs/backup-format.md`).
pub const MANIFEST_MAC_INFO: &[u8] = b"keyward/backup-manifest-mac/v1";

fn corrupt(what: impl Into<String>) -> Error {
    Error::Store(keyward_store::Error::Corrupt(what.into()))
}

fn archive_err(e: keyward_backup::Error) -> Error {
    Error::Backup(e)
}

// ---- rows to records -----------------------------------------------------------------------

/// The owned-row mapping the fast path (`lines`) is held to by the tests.
#[cfg(test)]
fn object_record(o: ObjectRow) -> Record {
    Record::Object {
        id: o.id,
        name: o.name,
        key_type: o.key_type,
        state: o.state,
        enabled: o.enabled,
        exportable: o.exportable,
        current_version: o.current_version,
        created_at: o.created_at,
        updated_at: o.updated_at,
        activated_at: o.activated_at,
        deactivated_at: o.deactivated_at,
        destroyed_at: o.destroyed_at,
        attributes: serde_json::from_str(&o.attributes).unwrap_or(serde_json::Value::Object(Default::default())),
    }
}

/// The owned-row mapping the fast path (`lines`) is held to by the tests.
#[cfg(test)]
fn version_record(v: KeyVersionRow) -> Record {
    Record::KeyVersion {
        object_id: v.object_id,
        version: v.version,
        material: v.material.map(|m| B64.encode(m)),
        public_key: v.public_key.map(|p| B64.encode(p)),
        created_at: v.created_at,
    }
}

fn token_record(t: TokenRow) -> Record {
    Record::Token {
        id: t.id,
        hash: B64.encode(t.hash),
        role: t.role,
        prefixes: t.prefixes,
        name: t.name,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
    }
}

fn pki_record(r: PkiRow) -> Result<Record> {
    Ok(Record::Pki {
        doc: serde_json::from_str(&r.doc).map_err(|e| corrupt(format!("pki record {}/{}: {e}", r.kind, r.id)))?,
        secret: r.secret.map(|s| B64.encode(s)),
        kind: r.kind,
        id: r.id,
        parent: r.parent,
        lookup: r.lookup,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// The owned-row mapping the fast path (`lines`) is held to by the tests.
#[cfg(test)]
fn audit_record(a: AuditRow) -> Record {
    Record::Audit {
        seq: a.seq,
        at: a.entry.at,
        actor: a.entry.actor,
        action: a.entry.action,
        target: a.entry.target,
        outcome: a.entry.outcome,
        detail: a.entry.detail,
        // const-hex: a backup hex-encodes two hashes per audit record, hundreds of thousands of
        // them; the `hex` crate's char iterator showed up at 5% of a backup's time.
        prev_hash: const_hex::encode(a.prev_hash),
        hash: const_hex::encode(a.hash),
    }
}

// ---- records to rows -----------------------------------------------------------------------

fn b64(field: &str, s: &str) -> Result<Vec<u8>> {
    B64.decode(s).map_err(|_| corrupt(format!("a {field} in the backup is not base64")))
}

fn hash32(field: &str, s: &str) -> Result<[u8; 32]> {
    hex::decode(s)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| corrupt(format!("an audit {field} in the backup is not 32 hex bytes")))
}

/// What a record becomes in the store.
enum Row {
    Mutation(Mutation),
    Audit(AuditRow),
    Identity(IdentityRow),
}

fn record_row(r: Record) -> Result<Row> {
    Ok(match r {
        Record::Identity { organization, site, server_name, server_id, incarnation, created_at } => {
            Row::Identity(IdentityRow { organization, site, server_name, server_id, incarnation, created_at })
        }
        Record::Component { name, schema_version, installed_at } => {
            Row::Mutation(Mutation::PutComponent(ComponentRow { name, schema_version, installed_at }))
        }
        Record::Schedule { every_secs, directory, keep, updated_at } => {
            Row::Mutation(Mutation::SetSchedule(keyward_store::ScheduleRow { every_secs, directory, keep, updated_at }))
        }
        Record::Server {
            server_id,
            organization,
            site,
            server_name,
            status,
            registered_at,
            retired_at,
            replaced_by,
        } => Row::Mutation(Mutation::PutServer(keyward_store::ServerRow {
            server_id,
            organization,
            site,
            server_name,
            status,
            registered_at,
            retired_at,
            replaced_by,
        })),
        Record::Object {
            id,
            name,
            key_type,
            state,
            enabled,
            exportable,
            current_version,
            created_at,
            updated_at,
            activated_at,
            deactivated_at,
            destroyed_at,
            attributes,
        } => Row::Mutation(Mutation::InsertObject(ObjectRow {
            id,
            name,
            key_type,
            state,
            enabled,
            exportable,
            current_version,
            created_at,
            updated_at,
            activated_at,
            deactivated_at,
            destroyed_at,
            attributes: attributes.to_string(),
        })),
        Record::KeyVersion { object_id, version, material, public_key, created_at } => {
            Row::Mutation(Mutation::PutKeyVersion(KeyVersionRow {
                object_id,
                version,
                material: material.map(|m| b64("key material", &m)).transpose()?,
                public_key: public_key.map(|p| b64("public key", &p)).transpose()?,
                created_at,
            }))
        }
        Record::Token { id, hash, role, prefixes, name, created_at, expires_at, revoked_at } => {
            Row::Mutation(Mutation::PutToken(TokenRow {
                id,
                hash: b64("token hash", &hash)?,
                role,
                prefixes,
                name,
                created_at,
                expires_at,
                revoked_at,
            }))
        }
        Record::Pki { kind, id, parent, lookup, doc, secret, created_at, updated_at } => {
            Row::Mutation(Mutation::PutPki(PkiRow {
                doc: doc.to_string(),
                secret: secret.map(|s| b64("pki secret", &s)).transpose()?,
                kind,
                id,
                parent,
                lookup,
                created_at,
                updated_at,
            }))
        }
        Record::Audit { seq, at, actor, action, target, outcome, detail, prev_hash, hash } => Row::Audit(AuditRow {
            seq,
            entry: AuditEntry { at, actor, action, target, outcome, detail },
            prev_hash: hash32("previous hash", &prev_hash)?,
            hash: hash32("hash", &hash)?,
        }),
    })
}

// ---- progress --------------------------------------------------------------------------------

/// Told how many records have gone by, for progress bars and progress events. Cheap to clone;
/// the default tells no one.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Fn(u64) + Send + Sync>>);

impl Progress {
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(f)))
    }
    fn tick(&self) {
        self.add(1);
    }
    fn add(&self, n: u64) {
        if let Some(f) = &self.0 {
            f(n);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(on)" } else { "Progress(off)" })
    }
}

// ---- creating --------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// `None`: every component (a full backup).
    pub components: Option<Vec<Component>>,
    /// "online" or "offline".
    pub taken: &'static str,
    pub progress: Progress,
}

impl BackupOptions {
    fn wants(&self, c: Component) -> bool {
        self.components.as_ref().is_none_or(|cs| cs.contains(&c))
    }

    /// The components this backup of `info` holds: those asked for (all by default) that the
    /// node has; an optional component that is not installed is refused when asked for by name.
    fn included(&self, info: &keyward_store::SnapshotInfo) -> Result<Vec<Component>> {
        let mut out = Vec::new();
        for c in Component::ALL {
            if !self.wants(*c) {
                continue;
            }
            if !c.is_required() && !info.components.iter().any(|i| i.name == c.as_str()) {
                if self.components.is_some() {
                    return Err(Error::invalid(
                        "components",
                        format!("the {c} component is not installed on this node, so it cannot be backed up"),
                    ));
                }
                continue;
            }
            out.push(*c);
        }
        Ok(out)
    }
}

/// Writes a backup of `store` at one consistent instant to `out`. With `mac_key` (derived from
/// the master key) the manifest is authenticated.
pub fn write_backup<W: Write + Send + 'static>(
    store: &dyn Store,
    out: W,
    opts: &BackupOptions,
    mac_key: Option<&Secret>,
) -> Result<(W, WriteSummary)> {
    write_backup_of(&mut store.snapshots(lane_count())?, out, opts, mac_key)
}

/// How many threads a backup reads and encodes with: one per core, up to `MAX_LANES`.
fn lane_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_LANES))
}

/// The most threads a backup reads and encodes with: past four, the single output stream and
/// the store's page cache, not the encoding, set the pace.
const MAX_LANES: usize = 4;

/// Objects (or audit records) per part of a backup: small enough that lanes finish together,
/// large enough that a part fills a few chunks.
const ROWS_PER_PART: i64 = 16_384;

/// Writes a backup of snapshots of one instant (see [`Store::snapshots`]), one thread reading
/// and encoding through each; or of one snapshot of a store too old for this binary to serve,
/// before it is upgraded.
pub fn write_backup_of<W: Write + Send + 'static>(
    snaps: &mut [keyward_store::Snapshot],
    out: W,
    opts: &BackupOptions,
    mac_key: Option<&Secret>,
) -> Result<(W, WriteSummary)> {
    write_in_parts(snaps, out, opts, mac_key, ROWS_PER_PART)
}

fn write_in_parts<W: Write + Send + 'static>(
    snaps: &mut [keyward_store::Snapshot],
    out: W,
    opts: &BackupOptions,
    mac_key: Option<&Secret>,
    rows_per_part: i64,
) -> Result<(W, WriteSummary)> {
    let first = snaps.first().ok_or_else(|| corrupt("no snapshot to back up"))?;
    let info = first.info().clone();
    let included = opts.included(&info)?;
    // Version 1 unless a component needs a later one: older readers can read what they can.
    let format = included.iter().map(|c| keyward_backup::first_format_with(c.as_str())).max().unwrap_or(1);
    let seal_config: serde_json::Value =
        serde_json::from_str(&info.seal_config).map_err(|e| corrupt(format!("the seal configuration: {e}")))?;
    let manifest = Manifest {
        format,
        keyward_version: crate::VERSION.into(),
        created_at: now(),
        taken: opts.taken.into(),
        identity: Identity {
            organization: info.identity.organization.clone(),
            site: info.identity.site.clone(),
            server_name: info.identity.server_name.clone(),
            server_id: info.identity.server_id.clone(),
            incarnation: info.identity.incarnation,
        },
        change_seq: info.change_seq,
        schema_version: info.schema_version,
        complete: opts.components.is_none(),
        components: Vec::new(),
        seal: SealEntry {
            config: seal_config,
            keyring: info
                .keyring
                .iter()
                .map(|k| KeyringEntry {
                    version: k.version,
                    wrapped: B64.encode(&k.wrapped),
                    created_at: k.created_at.clone(),
                })
                .collect(),
        },
        authenticated: false,
    };
    // The plan: each component in parts (the keys and the audit log by ranges of the store),
    // which the lanes take in order as they come free. Each lane reads its own snapshot of the
    // same instant, encodes rows straight from SQLite's buffers and seals its own chunks; the
    // archive writer puts the parts in order (docs/performance.md).
    let mut w = ArchiveWriter::new(out, WriterOptions { format: manifest.format, ..Default::default() })
        .map_err(archive_err)?;
    let version_of =
        |name: &str| info.components.iter().find(|c| c.name == name).map(|c| c.schema_version).unwrap_or(0);
    let mut jobs = Vec::new();
    for &c in &included {
        let work = match c {
            Component::Keys => split(first.key_rows()?, rows_per_part).into_iter().map(Work::Keys).collect(),
            Component::Audit => split(first.audit_seqs()?, rows_per_part).into_iter().map(Work::Audit).collect(),
            Component::Config => vec![Work::Config],
            Component::Directory => vec![Work::Directory],
            Component::Pki => vec![Work::Pki],
        };
        let parts = w.plan_component(c.as_str(), version_of(c.as_str()), work.len() as u32).map_err(archive_err)?;
        jobs.extend(parts.into_iter().zip(work));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let run_lane = |snap: &keyward_store::Snapshot, mut lane: keyward_backup::Lane| -> Result<()> {
        let mut ticks = Ticks { progress: &opts.progress, pending: 0 };
        let done = (|| {
            use std::sync::atomic::Ordering::Relaxed;
            while !failed.load(Relaxed) {
                let Some((part, work)) = jobs.get(next.fetch_add(1, Relaxed)) else { break };
                lane.begin(part).map_err(archive_err)?;
                write_part(snap, &info, work, &mut lane, &mut ticks)?;
                lane.end().map_err(archive_err)?;
            }
            Ok(())
        })();
        ticks.flush();
        if done.is_err() {
            failed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        done
    };
    let run_lane = &run_lane;
    let lanes = snaps.iter().map(|_| w.lane()).collect::<keyward_backup::Result<Vec<_>>>().map_err(archive_err)?;
    // Every lane on a thread of its own, which ends with the backup: an online backup lowers
    // its lanes' priority for good, and must not leave a server thread lowered.
    let online = opts.taken == "online";
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let mut threads = Vec::new();
        let mut cannot_start = None;
        for (snap, l) in snaps.iter_mut().zip(lanes) {
            let started = std::thread::Builder::new().name("keyward-backup-lane".into()).spawn_scoped(s, move || {
                if online {
                    lower_this_thread_priority();
                }
                run_lane(snap, l)
            });
            // The lanes that did start take every part between them.
            match started {
                Ok(t) => threads.push(t),
                Err(source) => cannot_start = Some(source),
            }
        }
        if let (true, Some(source)) = (threads.is_empty(), cannot_start) {
            return vec![Err(Error::Backup(keyward_backup::Error::Io { doing: "start a backup thread", source }))];
        }
        threads
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Refused {
                        reason: "a backup thread stopped unexpectedly (see the server log); no backup was written"
                            .into(),
                    })
                })
            })
            .collect()
    });
    // A lane that stopped because the archive writer did says less than the writer's own error,
    // which `finish` returns.
    let stopped = |e: &Error| matches!(e, Error::Backup(keyward_backup::Error::WriterStopped));
    if let Some(e) = results.into_iter().filter_map(Result::err).min_by_key(stopped)
        && !stopped(&e)
    {
        return Err(e);
    }
    w.finish(manifest, mac_key.map(|k| k.expose())).map_err(archive_err)
}

/// Lowers the calling thread's scheduling priority by 10 (Linux nice) for the rest of its
/// life, so that its work (an online backup's lanes, a backup check beside a server) yields the
/// CPU to the requests being served and takes the idle time. Only for threads that end with
/// that work: an unprivileged process cannot raise it again.
pub fn lower_this_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = Some(rustix::thread::gettid());
        if let Ok(nice) = rustix::process::getpriority_process(tid) {
            let _ = rustix::process::setpriority_process(tid, (nice + 10).min(19));
        }
    }
}

/// What one part of a backup reads.
enum Work {
    Config,
    Directory,
    /// The objects whose row ids are in the range, each with its versions.
    Keys(std::ops::RangeInclusive<i64>),
    /// The audit records whose sequence numbers are in the range.
    Audit(std::ops::RangeInclusive<i64>),
    Pki,
}

/// Ranges about `rows_per_part` wide covering `extent` (one range, which may hold nothing,
/// when it is small or unknown) and the rest of the id space; at most 64, however sparse the
/// ids.
fn split(extent: Option<std::ops::RangeInclusive<i64>>, rows_per_part: i64) -> Vec<std::ops::RangeInclusive<i64>> {
    let Some(extent) = extent else { return vec![i64::MIN..=i64::MAX] };
    let (lo, hi) = (i128::from(*extent.start()), i128::from(*extent.end()));
    let parts = ((hi - lo + 1) / i128::from(rows_per_part.max(1))).clamp(1, 64);
    let width = (hi - lo + parts) / parts;
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    (0..parts)
        .map(|i| {
            // The first and last ranges reach the ends of the id space, so nothing falls
            // outside however the extent was rounded.
            let start = if i == 0 { i64::MIN } else { clamp(lo + i * width) };
            let end = if i == parts - 1 { i64::MAX } else { clamp(lo + (i + 1) * width - 1) };
            start..=end
        })
        .collect()
}

/// Progress told in batches: one shared counter bumped per record by every lane would bounce
/// its cache line between cores.
struct Ticks<'a> {
    progress: &'a Progress,
    pending: u64,
}

impl Ticks<'_> {
    fn tick(&mut self) {
        self.pending += 1;
        if self.pending == 1024 {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if self.pending > 0 {
            self.progress.add(std::mem::take(&mut self.pending));
        }
    }
}

fn write_part(
    snap: &keyward_store::Snapshot,
    info: &keyward_store::SnapshotInfo,
    work: &Work,
    lane: &mut keyward_backup::Lane,
    ticks: &mut Ticks<'_>,
) -> Result<()> {
    match work {
        Work::Config => {
            for r in config_records(info) {
                ticks.tick();
                lane.record(&r).map_err(archive_err)?;
            }
            Ok(())
        }
        Work::Directory => snap.for_each_token(|t| -> Result<()> {
            ticks.tick();
            lane.record(&token_record(t)).map_err(archive_err)
        }),
        Work::Keys(rows) => {
            let mut last_object = String::new();
            snap.for_each_key_ref_in(rows.clone(), |o, v| -> Result<()> {
                if o.id != last_object {
                    let attributes = lines::attributes(o)?;
                    ticks.tick();
                    lane.record_with("keys", |out| {
                        lines::object(out, o, &attributes);
                        Ok(())
                    })
                    .map_err(archive_err)?;
                    last_object.clear();
                    last_object.push_str(o.id);
                }
                if let Some(v) = v {
                    ticks.tick();
                    lane.record_with("keys", |out| {
                        lines::version(out, v);
                        Ok(())
                    })
                    .map_err(archive_err)?;
                }
                Ok(())
            })
        }
        Work::Audit(seqs) => snap.for_each_audit_ref_in(seqs.clone(), |a| -> Result<()> {
            ticks.tick();
            lane.record_with("audit", |out| {
                lines::audit(out, a);
                Ok(())
            })
            .map_err(archive_err)
        }),
        Work::Pki => snap.for_each_pki(|r| -> Result<()> {
            ticks.tick();
            lane.record(&pki_record(r)?).map_err(archive_err)
        }),
    }
}

fn config_records(info: &keyward_store::SnapshotInfo) -> Vec<Record> {
    let id = &info.identity;
    let mut out = vec![Record::Identity {
        organization: id.organization.clone(),
        site: id.site.clone(),
        server_name: id.server_name.clone(),
        server_id: id.server_id.clone(),
        incarnation: id.incarnation,
        created_at: id.created_at.clone(),
    }];
    for comp in &info.components {
        out.push(Record::Component {
            name: comp.name.clone(),
            schema_version: comp.schema_version,
            installed_at: comp.installed_at.clone(),
        });
    }
    if let Some(s) = &info.schedule {
        out.push(Record::Schedule {
            every_secs: s.every_secs,
            directory: s.directory.clone(),
            keep: s.keep,
            updated_at: s.updated_at.clone(),
        });
    }
    for server in &info.servers {
        out.push(Record::Server {
            server_id: server.server_id.clone(),
            organization: server.organization.clone(),
            site: server.site.clone(),
            server_name: server.server_name.clone(),
            status: server.status.clone(),
            registered_at: server.registered_at.clone(),
            retired_at: server.retired_at.clone(),
            replaced_by: server.replaced_by.clone(),
        });
    }
    out
}

// ---- verifying -------------------------------------------------------------------------------

/// What `backup verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub manifest: Manifest,
    pub bytes: u64,
    /// `None` when no secret was given.
    pub with_secret: bool,
    pub keys_decrypted: u64,
    pub round_trips: u64,
    /// Defects: any one makes verification fail.
    pub problems: Vec<String>,
    /// Not defects, but worth saying (an unauthenticated offline backup).
    pub warnings: Vec<String>,
}

struct Unsealed {
    keyring: Keyring,
    mac_key: Secret,
}

fn unseal_manifest(manifest: &Manifest, secret: &StartupSecret) -> Result<Unsealed> {
    let config = SealConfig::from_json(&manifest.seal.config.to_string())?;
    let master = keyward_seal::unseal(&config, secret)?;
    let wrapped = manifest
        .seal
        .keyring
        .iter()
        .map(|k| Ok(WrappedDataKey { version: k.version, wrapped: b64("keyring entry", &k.wrapped)? }))
        .collect::<Result<Vec<_>>>()?;
    let keyring = Keyring::open(&master, &wrapped)?;
    Ok(Unsealed { keyring, mac_key: master.derive(MANIFEST_MAC_INFO)? })
}

/// One round trip with a key: proves the material is whole and usable.
fn round_trip(key: &LoadedKey) -> std::result::Result<(), keyward_crypto::Error> {
    let t = key.key_type();
    let probe = b"keyward backup verify";
    if t.can(Capability::Encrypt) {
        let ct = key.encrypt(probe, b"")?;
        if key.decrypt(&ct, b"")?.expose() != probe {
            return Err(keyward_crypto::Error::Decrypt);
        }
    }
    if t.can(Capability::Sign) {
        let (scheme, sig): (SignatureScheme, Vec<u8>) = key.sign(None, probe)?;
        key.verify(scheme, probe, &sig)?;
    }
    if t.can(Capability::Mac) {
        let tag = key.mac(probe)?;
        key.mac_verify(probe, &tag)?;
    }
    Ok(())
}

/// Checks an archive: always its structure, checksums, counts and completeness; with the
/// startup secret also the manifest's authenticity, that every key decrypts, and a round trip
/// with every usable key.
pub fn verify_archive<R: Read + Seek>(
    mut input: R,
    secret: Option<&StartupSecret>,
    progress: &Progress,
) -> Result<VerifyReport> {
    let manifest = keyward_backup::read_manifest(&mut input)?;
    input.rewind().map_err(|source| keyward_backup::Error::Io { doing: "read the backup", source })?;
    let unsealed = secret.map(|s| unseal_manifest(&manifest, s)).transpose()?;
    let mut problems = Vec::new();
    let mut keys_decrypted = 0u64;
    let mut round_trips = 0u64;
    let mut objects: HashMap<String, (String, KeyType, KeyState)> = HashMap::new();
    let summary: ReadSummary = ArchiveReader::new(input).read(|_, record| {
        progress.tick();
        let Some(u) = &unsealed else { return Ok(()) };
        match record {
            Record::Object { id, name, key_type, state, .. } => {
                match (key_type.parse::<KeyType>(), state.parse::<KeyState>()) {
                    (Ok(t), Ok(s)) => {
                        objects.insert(id, (name, t, s));
                    }
                    _ => problems.push(format!("key {name:?} has an unknown type or state ({key_type}, {state})")),
                }
            }
            Record::Pki { kind, id, secret: Some(blob), .. } => {
                let opened = B64
                    .decode(&blob)
                    .ok()
                    .and_then(|b| u.keyring.open_blob(&crate::pki::secret_context(&kind, &id), &b).ok());
                match opened {
                    Some(key) if keyward_crypto::primitives::private_kind(key.expose()).is_ok() => keys_decrypted += 1,
                    Some(_) => problems.push(format!("pki {kind} {id}: its private key is not a valid PKCS#8 key")),
                    None => problems.push(format!("pki {kind} {id}: its private key does not decrypt")),
                }
            }
            Record::KeyVersion { object_id, version, material: Some(blob), .. } => {
                let Some((name, key_type, state)) = objects.get(&object_id) else {
                    problems.push(format!("key version {version} of {object_id} has no key record before it"));
                    return Ok(());
                };
                let opened = B64
                    .decode(&blob)
                    .ok()
                    .and_then(|b| u.keyring.open_blob(&material_context(&object_id, version), &b).ok());
                let Some(material) = opened else {
                    problems.push(format!("key {name:?} version {version}: its material does not decrypt"));
                    return Ok(());
                };
                keys_decrypted += 1;
                if !key_type.is_usable() {
                    // Kept for KMIP clients and never used by Keyward: decrypting is the check.
                    return Ok(());
                }
                match LoadedKey::load(*key_type, material) {
                    Ok(key) if !state.is_destroyed() => match round_trip(&key) {
                        Ok(()) => round_trips += 1,
                        Err(_) => problems.push(format!("key {name:?} version {version}: the round trip failed")),
                    },
                    Ok(_) => {}
                    Err(_) => problems
                        .push(format!("key {name:?} version {version}: its material is not a valid {key_type} key")),
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let mut warnings = Vec::new();
    match (&unsealed, summary.manifest.authenticated) {
        (Some(u), true) => {
            if summary.authenticate(u.mac_key.expose()).is_err() {
                problems.push("the manifest is not authentic: it was altered after the backup was taken".into());
            }
        }
        (_, false) => warnings
            .push("the manifest is not authenticated: this offline backup was taken without the startup secret".into()),
        (None, true) => {}
    }
    Ok(VerifyReport {
        manifest: summary.manifest,
        bytes: summary.bytes,
        with_secret: unsealed.is_some(),
        keys_decrypted,
        round_trips,
        problems,
        warnings,
    })
}

// ---- restoring -------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMode {
    /// Into an empty or never-initialised directory.
    Fresh,
    /// Replace whatever the directory holds.
    Erase,
    /// Add what is missing locally, keep what is newer locally, report every conflict.
    Merge,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub mode: RestoreMode,
    /// `None`: the whole node. Otherwise only these components come from the backup; the
    /// others stay as the live node has them.
    pub components: Option<Vec<Component>>,
    /// Restore the backup as another server: a new server id under this name, and the old
    /// identity retired in the organisation.
    pub destination: Option<String>,
    pub dry_run: bool,
    pub progress: Progress,
    /// Recreate each component's tables at the backup's schema versions (a rollback to the
    /// schema an older binary expects) instead of this binary's.
    pub keep_schema_versions: bool,
}

/// A key present on both sides of a merge, with different content, and what was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub object_id: String,
    pub name: String,
    pub resolution: String,
}

/// What a restore did, or (with `dry_run`) would do.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    pub server_id: String,
    pub server_name: String,
    pub incarnation: u64,
    pub change_seq: u64,
    /// Per component: (name, records from the backup).
    pub restored: Vec<(String, u64)>,
    pub keys_added: Vec<String>,
    pub keys_removed: Vec<String>,
    pub keys_replaced: Vec<String>,
    pub conflicts: Vec<Conflict>,
    /// Single-use things of the pki component the restore cancelled (see `pki::after_restore`).
    pub pki_cancelled: Vec<String>,
    /// The identity a `--destination` restore retired.
    pub retired_server: Option<String>,
    pub kept_old_store: Option<PathBuf>,
    pub dry_run: bool,
}

/// Merge decisions, made while the archive streams by.
#[derive(Default)]
struct Merge {
    live: HashMap<String, ObjectRow>,
    live_names: HashMap<String, String>,
    live_tokens: std::collections::HashSet<String>,
    live_servers: std::collections::HashSet<String>,
    /// Objects whose backup versions are to be written.
    take_versions: std::collections::HashSet<String>,
    live_pki: HashMap<(String, String), PkiRow>,
    skipped_audit: u64,
}

/// Restores the archive at `archive` into the data directory. The caller holds the
/// directory's lock. The new store is built beside the live one from a fully verified read of
/// the archive and swapped in with one rename; on any error the directory is as it was.
pub fn restore_archive(dir: &DataDir, archive: &Path, opts: &RestoreOptions) -> Result<RestoreReport> {
    let io = |source| keyward_backup::Error::Io { doing: "open the backup", source };
    let manifest = keyward_backup::read_manifest(std::fs::File::open(archive).map_err(io)?)?;
    let merge = opts.mode == RestoreMode::Merge;
    // A whole-node restore takes every required component and the optional ones the backup has.
    let wanted: Vec<Component> = opts.components.clone().unwrap_or_else(|| {
        Component::ALL.iter().copied().filter(|c| c.is_required() || manifest.component(c.as_str()).is_some()).collect()
    });
    for c in &wanted {
        if manifest.component(c.as_str()).is_none() {
            if opts.components.is_none() && !merge {
                let present = manifest.components.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
                return Err(Error::PartialBackup { present });
            }
            if opts.components.is_some() {
                return Err(Error::MissingComponent { component: c.as_str().into() });
            }
        }
    }
    if dir.is_initialized() && opts.mode == RestoreMode::Fresh {
        return Err(Error::TargetInitialized { path: dir.root().display().to_string() });
    }
    // A backup written by a newer binary is refused by name, before anything else.
    let backup_versions = backup_component_versions(archive)?;
    keyward_store::components::check_not_newer(&backup_versions)?;
    if merge && opts.destination.is_some() {
        return Err(Error::invalid(
            "destination",
            "a merge keeps the local node's identity; restore with --erase to change it",
        ));
    }
    // The live node is read only where needed, read-only, and (for a whole-node restore) only
    // after the archive has been read through without a fault, so a damaged archive is refused
    // without so much as opening the target's store.
    let partial = opts.components.is_some();
    let mut live = None;
    if partial || merge {
        if !dir.is_initialized() {
            return Err(Error::invalid(
                "mode",
                "--merge and --components need an initialised node to keep the rest from; restore into it without them",
            ));
        }
        let store = keyward_store::Snapshot::open_read_only(&dir.db_path())?;
        let local = &store.info().identity;
        if local.organization != manifest.identity.organization {
            return Err(Error::ForeignOrganization {
                backup: manifest.identity.organization.clone(),
                local: local.organization.clone(),
            });
        }
        let live_ring: Vec<Vec<u8>> = store.info().keyring.iter().map(|k| k.wrapped.clone()).collect();
        let backup_ring: Vec<Vec<u8>> =
            manifest.seal.keyring.iter().map(|k| b64("keyring entry", &k.wrapped)).collect::<Result<_>>()?;
        if live_ring != backup_ring {
            return Err(Error::ForeignKeyring);
        }
        live = Some(store);
    }

    let mut m = Merge::default();
    if merge && let Some(snap) = &live {
        snap.for_each_key(|o, _| -> Result<()> {
            m.live_names.insert(o.name.clone(), o.id.clone());
            m.live.insert(o.id.clone(), o);
            Ok(())
        })?;
        snap.for_each_token(|t| -> Result<()> {
            m.live_tokens.insert(t.id);
            Ok(())
        })?;
        m.live_servers = snap.info().servers.iter().map(|s| s.server_id.clone()).collect();
        snap.for_each_pki(|r| -> Result<()> {
            m.live_pki.insert((r.kind.clone(), r.id.clone()), r);
            Ok(())
        })?;
    }

    let restores = |c: &str| wanted.iter().any(|w| w.as_str() == c);
    let tmp = dir.restore_path();
    let mut loader = match (opts.dry_run, opts.keep_schema_versions) {
        (true, _) => None,
        (false, false) => Some(RestoreLoader::create(&tmp)?),
        (false, true) => {
            let versions: Vec<(String, u32)> = backup_versions.iter().map(|r| (r.name.clone(), r.version)).collect();
            Some(RestoreLoader::create_with_versions(&tmp, &versions)?)
        }
    };
    // A merge starts from everything the live node has; the backup only adds.
    if merge && let (Some(snap), Some(loader)) = (&live, loader.as_mut()) {
        let mut ignored = None;
        copy_live_components(snap, loader, &[], &mut ignored)?;
    }
    let mut report = RestoreReport { dry_run: opts.dry_run, change_seq: manifest.change_seq, ..Default::default() };
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut backup_keys: HashMap<String, String> = HashMap::new();
    let mut identity: Option<IdentityRow> = None;
    let mut backup_servers: Vec<keyward_store::ServerRow> = Vec::new();
    let file = std::fs::File::open(archive).map_err(io)?;
    let encode = |e: Error| keyward_backup::Error::Encode(e.to_string());
    ArchiveReader::new(std::io::BufReader::new(file)).read(|component, record| {
        opts.progress.tick();
        if !restores(component) {
            return Ok(());
        }
        *counts.entry(component.to_owned()).or_default() += 1;
        if let Record::Object { id, name, .. } = &record {
            backup_keys.insert(id.clone(), name.clone());
        }
        let mut row = record_row(record).map_err(encode)?;
        // Kept as they are where a merge keeps the local record anyway.
        if let Row::Mutation(Mutation::PutPki(r)) = &mut row
            && !(merge && m.live_pki.contains_key(&(r.kind.clone(), r.id.clone())))
            && let Some(what) = crate::pki::after_restore(r)
        {
            report.pki_cancelled.push(what);
        }
        let row = match row {
            Row::Identity(i) => {
                identity = Some(i);
                return Ok(());
            }
            Row::Mutation(Mutation::PutServer(v)) => {
                backup_servers.push(v.clone());
                if merge && m.live_servers.contains(&v.server_id) {
                    return Ok(());
                }
                Row::Mutation(Mutation::PutServer(v))
            }
            Row::Mutation(Mutation::InsertObject(o)) if merge => match merge_object(&mut m, &mut report, o) {
                Some(mutation) => Row::Mutation(mutation),
                None => return Ok(()),
            },
            Row::Mutation(Mutation::PutKeyVersion(v)) if merge && !m.take_versions.contains(&v.object_id) => {
                return Ok(());
            }
            Row::Mutation(Mutation::PutToken(t)) if merge && m.live_tokens.contains(&t.id) => return Ok(()),
            Row::Mutation(Mutation::PutPki(r)) if merge => match merge_pki(&mut m, &mut report, r) {
                Some(mutation) => Row::Mutation(mutation),
                None => return Ok(()),
            },
            Row::Mutation(Mutation::PutComponent(_) | Mutation::SetSchedule(_)) if merge => return Ok(()),
            // An optional component's registration brings its tables with it.
            Row::Mutation(Mutation::PutComponent(c))
                if keyward_store::components::spec(&c.name).is_some_and(|s| !s.required) =>
            {
                if let Some(loader) = loader.as_mut() {
                    loader.ensure_component(&c.name, &c.installed_at).map_err(|e| encode(e.into()))?;
                }
                return Ok(());
            }
            // The restored tables are at this binary's versions unless the versions are kept.
            Row::Mutation(Mutation::PutComponent(mut c)) if !opts.keep_schema_versions => {
                if let Some(spec) = keyward_store::components::spec(&c.name) {
                    c.schema_version = spec.version;
                }
                Row::Mutation(Mutation::PutComponent(c))
            }
            Row::Audit(_) if merge => {
                m.skipped_audit += 1;
                return Ok(());
            }
            other => other,
        };
        let Some(loader) = loader.as_mut() else { return Ok(()) };
        if let Row::Mutation(Mutation::PutPki(_)) = &row {
            // A restore of only the pki component onto a node that never had it installs it.
            loader.ensure_component("pki", &now()).map_err(|e| encode(e.into()))?;
        }
        match row {
            Row::Mutation(Mutation::PutPki(r)) if merge => match loader.put(&Mutation::PutPki(r.clone())) {
                Err(keyward_store::Error::Duplicate { what }) => {
                    report.conflicts.push(Conflict {
                        object_id: format!("pki/{}/{}", r.kind, r.id),
                        name: r.lookup.clone().unwrap_or_default(),
                        resolution: format!("not added: {what} locally under another id"),
                    });
                    Ok(())
                }
                other => other,
            },
            Row::Mutation(m) => loader.put(&m),
            Row::Audit(a) => loader.put_audit(&a),
            Row::Identity(_) => Ok(()),
        }
        .map_err(|e| encode(e.into()))
    })?;

    if live.is_none() && dir.is_initialized() {
        live = Some(keyward_store::Snapshot::open_read_only(&dir.db_path())?);
    }
    let live_identity = live.as_ref().map(|s| s.info().identity.clone());
    let mut live_keys: HashMap<String, String> = HashMap::new();
    if let Some(snap) = &live {
        snap.for_each_key(|o, _| -> Result<()> {
            live_keys.insert(o.id, o.name);
            Ok(())
        })?;
    }
    let base_incarnation =
        manifest.identity.incarnation.max(live_identity.as_ref().map(|i| i.incarnation).unwrap_or(0));

    // Components not restored come from the live node, as they are.
    if partial
        && !merge
        && let (Some(store), Some(loader)) = (&live, loader.as_mut())
    {
        copy_live_components(store, loader, &wanted, &mut identity)?;
    }
    let mut identity = match (merge, identity, live_identity.clone()) {
        (true, _, Some(local)) => local,
        (false, Some(i), _) | (false, None, Some(i)) => i,
        _ => return Err(corrupt("the backup holds no node identity")),
    };
    identity.incarnation = base_incarnation + 1;
    let mut servers: Vec<keyward_store::ServerRow> = Vec::new();
    let now_at = now();
    if let Some(dest) = &opts.destination {
        let old_id = identity.server_id.clone();
        let new_id = keyward_types::Id::new().to_string();
        let retired = backup_servers.iter().find(|s| s.server_id == old_id).cloned().unwrap_or_else(|| {
            keyward_store::ServerRow {
                server_id: old_id.clone(),
                organization: identity.organization.clone(),
                site: identity.site.clone(),
                server_name: identity.server_name.clone(),
                status: "active".into(),
                registered_at: identity.created_at.clone(),
                retired_at: None,
                replaced_by: None,
            }
        });
        servers.push(keyward_store::ServerRow {
            status: "retired".into(),
            retired_at: Some(now_at.clone()),
            replaced_by: Some(new_id.clone()),
            ..retired
        });
        report.retired_server = Some(format!("{} ({old_id})", identity.server_name));
        identity.server_id = new_id;
        identity.server_name = dest.clone();
        identity.created_at = now_at.clone();
    }
    if !merge && restores("config") {
        // This node is an active member of its organisation under its (possibly new) identity.
        servers.push(keyward_store::ServerRow {
            server_id: identity.server_id.clone(),
            organization: identity.organization.clone(),
            site: identity.site.clone(),
            server_name: identity.server_name.clone(),
            status: "active".into(),
            registered_at: backup_servers
                .iter()
                .find(|s| s.server_id == identity.server_id)
                .map(|s| s.registered_at.clone())
                .unwrap_or_else(|| now_at.clone()),
            retired_at: None,
            replaced_by: None,
        });
    }
    report.server_id = identity.server_id.clone();
    report.server_name = identity.server_name.clone();
    report.incarnation = identity.incarnation;
    for c in &wanted {
        report.restored.push((c.as_str().into(), counts.get(c.as_str()).copied().unwrap_or(0)));
    }
    if restores("keys") && !merge {
        for (id, name) in &backup_keys {
            match live_keys.get(id) {
                Some(_) => report.keys_replaced.push(name.clone()),
                None => report.keys_added.push(name.clone()),
            }
        }
        for (id, name) in &live_keys {
            if !backup_keys.contains_key(id) {
                report.keys_removed.push(name.clone());
            }
        }
    }
    for v in [&mut report.keys_added, &mut report.keys_removed, &mut report.keys_replaced] {
        v.sort();
    }
    if merge && m.skipped_audit > 0 {
        report.conflicts.push(Conflict {
            object_id: String::new(),
            name: "audit".into(),
            resolution: format!(
                "kept the local audit chain; the backup's {} audit records stay in the backup (chains cannot be merged)",
                m.skipped_audit
            ),
        });
    }
    let Some(mut loader) = loader else { return Ok(report) };
    loader.put(&Mutation::SetIdentity(identity))?;
    for s in servers {
        loader.put(&Mutation::PutServer(s))?;
    }
    if !partial && !merge {
        // Re-serialised through the seal's own type, so the stored text is exactly what init wrote.
        let config = SealConfig::from_json(&manifest.seal.config.to_string())?;
        loader.put(&Mutation::SetSeal { config: config.to_json() })?;
        for k in &manifest.seal.keyring {
            loader.put(&Mutation::PutKeyring(KeyringRow {
                version: k.version,
                wrapped: b64("keyring entry", &k.wrapped)?,
                created_at: k.created_at.clone(),
            }))?;
        }
    }
    let change_seq = manifest.change_seq.max(live.as_ref().map(|s| s.info().change_seq).unwrap_or(0));
    let components = wanted.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",");
    let how = match opts.mode {
        RestoreMode::Merge => "merged",
        _ => "restored",
    };
    loader.finish(change_seq, &format!("{how} {components} from a backup taken at change {}", manifest.change_seq))?;
    drop(live);
    report.kept_old_store = dir.install(&tmp)?;
    Ok(report)
}

/// The component registry recorded in an archive's `config` component.
fn backup_component_versions(archive: &Path) -> Result<Vec<keyward_store::components::Registered>> {
    let io = |source| keyward_backup::Error::Io { doing: "open the backup", source };
    let mut out = Vec::new();
    let file = std::fs::File::open(archive).map_err(io)?;
    // The config component comes first and is tiny: stop reading once it is done.
    let result = ArchiveReader::new(std::io::BufReader::new(file)).read(|component, record| {
        if component != "config" {
            return Err(keyward_backup::Error::Usage("done"));
        }
        if let Record::Component { name, schema_version, installed_at } = record {
            out.push(keyward_store::components::Registered {
                name,
                version: schema_version,
                installed_at,
                upgraded_at: None,
                missing_tables: Vec::new(),
            });
        }
        Ok(())
    });
    match result {
        Ok(_) | Err(keyward_backup::Error::Usage("done")) => Ok(out),
        Err(e) => Err(e.into()),
    }
}

/// Decides what a merge does with one backed-up key.
fn merge_object(m: &mut Merge, report: &mut RestoreReport, o: ObjectRow) -> Option<Mutation> {
    match m.live.get(&o.id) {
        None => {
            if let Some(other) = m.live_names.get(&o.name) {
                report.conflicts.push(Conflict {
                    object_id: o.id.clone(),
                    name: o.name.clone(),
                    resolution: format!("not added: the name is taken locally by key {other}"),
                });
                return None;
            }
            report.keys_added.push(o.name.clone());
            m.take_versions.insert(o.id.clone());
            Some(Mutation::InsertObject(o))
        }
        Some(local) if *local == o => None,
        Some(local) if local.updated_at >= o.updated_at => {
            report.conflicts.push(Conflict {
                object_id: o.id.clone(),
                name: o.name.clone(),
                resolution: format!(
                    "kept the local state (changed {}, the backup's {})",
                    local.updated_at, o.updated_at
                ),
            });
            None
        }
        Some(local) => {
            report.conflicts.push(Conflict {
                object_id: o.id.clone(),
                name: o.name.clone(),
                resolution: format!(
                    "took the backup's newer state (changed {}, local {})",
                    o.updated_at, local.updated_at
                ),
            });
            report.keys_replaced.push(o.name.clone());
            m.take_versions.insert(o.id.clone());
            Some(Mutation::UpdateObject(o))
        }
    }
}

/// Decides what a merge does with one backed-up pki record: the same rule as for keys.
fn merge_pki(m: &mut Merge, report: &mut RestoreReport, r: PkiRow) -> Option<Mutation> {
    let id = format!("pki/{}/{}", r.kind, r.id);
    match m.live_pki.get(&(r.kind.clone(), r.id.clone())) {
        None => Some(Mutation::PutPki(r)),
        Some(local) if *local == r => None,
        Some(local) if local.updated_at >= r.updated_at => {
            report.conflicts.push(Conflict {
                object_id: id,
                name: r.lookup.clone().unwrap_or_default(),
                resolution: format!(
                    "kept the local state (changed {}, the backup's {})",
                    local.updated_at, r.updated_at
                ),
            });
            None
        }
        Some(local) => {
            report.conflicts.push(Conflict {
                object_id: id,
                name: r.lookup.clone().unwrap_or_default(),
                resolution: format!(
                    "took the backup's newer state (changed {}, local {})",
                    r.updated_at, local.updated_at
                ),
            });
            Some(Mutation::PutPki(r))
        }
    }
}

/// Copies the components that are not being restored from the live store into the new one.
fn copy_live_components(
    snap: &keyward_store::Snapshot,
    loader: &mut RestoreLoader,
    restored: &[Component],
    identity: &mut Option<IdentityRow>,
) -> Result<()> {
    let info = snap.info().clone();
    loader.put(&Mutation::SetSeal { config: info.seal_config.clone() })?;
    for k in info.keyring {
        loader.put(&Mutation::PutKeyring(k))?;
    }
    for c in Component::ALL {
        if restored.contains(c) {
            continue;
        }
        match c {
            Component::Config => {
                *identity = Some(info.identity.clone());
                for comp in &info.components {
                    if keyward_store::components::spec(&comp.name).is_some_and(|s| !s.required) {
                        // An optional component's registration comes with its tables.
                        loader.ensure_component(&comp.name, &comp.installed_at)?;
                    } else {
                        loader.put(&Mutation::PutComponent(comp.clone()))?;
                    }
                }
                if let Some(schedule) = &info.schedule {
                    loader.put(&Mutation::SetSchedule(schedule.clone()))?;
                }
                for server in &info.servers {
                    loader.put(&Mutation::PutServer(server.clone()))?;
                }
            }
            Component::Directory => {
                snap.for_each_token(|t| -> Result<()> { Ok(loader.put(&Mutation::PutToken(t))?) })?
            }
            Component::Keys => snap.for_each_key(|o, versions| -> Result<()> {
                loader.put(&Mutation::InsertObject(o))?;
                for v in versions {
                    loader.put(&Mutation::PutKeyVersion(v))?;
                }
                Ok(())
            })?,
            Component::Audit => snap.for_each_audit(|a| -> Result<()> { Ok(loader.put_audit(&a)?) })?,
            Component::Pki => snap.for_each_pki(|r| -> Result<()> { Ok(loader.put(&Mutation::PutPki(r))?) })?,
        }
    }
    Ok(())
}

impl crate::Service {
    /// An online restore: the node goes into maintenance (key operations answer 503
    /// "maintenance"), stops writing, restores `archive` into its own data directory exactly as
    /// the offline command does, reopens the store and comes back. It stays unsealed only if the
    /// restored keyring opens with the master key it already holds; otherwise it comes back
    /// sealed, to be unsealed with the backup's startup secret.
    pub fn restore_online(
        &self,
        caller: &crate::Caller,
        dir: &DataDir,
        archive: &Path,
        opts: &RestoreOptions,
    ) -> Result<RestoreReport> {
        crate::authz::authorize(caller, crate::authz::Action::Restore)?;
        if opts.dry_run {
            return restore_archive(dir, archive, opts);
        }
        {
            let _gate = self.swap_gate.write();
            self.maintenance.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let old = self.store();
        old.close();
        let result = restore_archive(dir, archive, opts);
        // Whatever happened, serve again from what is now on disk (the restored store, or the
        // untouched old one).
        let reopened = keyward_store::SqliteStore::open(&dir.db_path(), crate::audit_chain_hash);
        let reopened: Arc<dyn Store> = match reopened {
            Ok(s) => Arc::new(s),
            Err(e) => {
                // Stay in maintenance: nothing can be served without a store.
                tracing::error!(error = %e, "cannot reopen the store after a restore");
                return Err(e.into());
            }
        };
        if let Ok(mut s) = self.store.write() {
            *s = reopened.clone();
        }
        drop(old);
        self.after_store_swap(&reopened)?;
        {
            let _gate = self.swap_gate.write();
            let held = self.held_audit.lock().map(|mut h| std::mem::take(&mut *h)).unwrap_or_default();
            for entry in held {
                reopened.audit(entry, keyward_store::AuditDurability::Queue)?;
            }
            self.maintenance.store(false, std::sync::atomic::Ordering::SeqCst);
        }
        let report = result?;
        self.record(
            AuditEntry {
                at: now(),
                actor: caller.id.clone(),
                action: "restore (online)".into(),
                target: report.server_id.clone(),
                outcome: "ok".into(),
                detail: format!(
                    "incarnation {}, {} key(s) added, sealed: {}",
                    report.incarnation,
                    report.keys_added.len(),
                    self.is_sealed()
                ),
            },
            keyward_store::AuditDurability::Wait,
        )?;
        Ok(report)
    }

    /// Brings identity, caches and seal state in line with a store that was just swapped in.
    fn after_store_swap(&self, store: &Arc<dyn Store>) -> Result<()> {
        if let Some(id) = store.identity()?
            && let Ok(mut identity) = self.identity.write()
        {
            *identity = id;
        }
        if let Ok(mut rows) = self.rows.write() {
            *rows = crate::RowCache { generation: rows.generation + 1, ..Default::default() };
        }
        if let Ok(mut loaded) = self.loaded.write() {
            loaded.clear();
        }
        let wrapped: Vec<WrappedDataKey> =
            store.keyring()?.into_iter().map(|r| WrappedDataKey { version: r.version, wrapped: r.wrapped }).collect();
        if let Ok(mut seal) = self.seal.write() {
            let next = match &*seal {
                crate::SealState::Unsealed { master, .. } => match Keyring::open(master, &wrapped) {
                    Ok(keyring) => crate::SealState::Unsealed { master: master.clone(), keyring: Arc::new(keyring) },
                    Err(_) => crate::SealState::Sealed { pending_shares: Vec::new() },
                },
                crate::SealState::Sealed { .. } => crate::SealState::Sealed { pending_shares: Vec::new() },
            };
            *seal = next;
        }
        Ok(())
    }

    /// Checks that `caller` may take a backup now (role, and unsealed so the manifest can be
    /// authenticated), before any byte is sent.
    pub fn backup_precheck(&self, caller: &crate::Caller) -> Result<()> {
        crate::authz::authorize(caller, crate::authz::Action::Backup)?;
        self.backup_mac_key().map(|_| ())
    }

    /// An online backup: one consistent snapshot, streamed to `out` while the node keeps serving.
    /// Snapshots of the live store for an online backup: refused while an online restore is
    /// replacing the store, and opened while none can begin, so that every connection opens
    /// the same file.
    pub(crate) fn online_snapshots(&self) -> Result<Vec<keyward_store::Snapshot>> {
        let _gate = self.swap_gate.read();
        if self.in_maintenance() {
            return Err(Error::Maintenance);
        }
        Ok(self.store().snapshots(lane_count())?)
    }

    pub fn backup_online<W: Write + Send + 'static>(
        &self,
        caller: &crate::Caller,
        out: W,
        components: Option<Vec<Component>>,
    ) -> Result<WriteSummary> {
        crate::authz::authorize(caller, crate::authz::Action::Backup)?;
        let mac_key = self.backup_mac_key()?;
        let opts = BackupOptions { components, taken: "online", progress: Progress::default() };
        let (_, summary) = write_backup_of(&mut self.online_snapshots()?, out, &opts, Some(&mac_key))?;
        self.record(
            AuditEntry {
                at: now(),
                actor: caller.id.clone(),
                action: "backup completed".into(),
                target: String::new(),
                outcome: "ok".into(),
                detail: format!(
                    "{} records, {} bytes, consistent at change {}",
                    summary.records, summary.bytes, summary.manifest.change_seq
                ),
            },
            keyward_store::AuditDurability::Wait,
        )?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts cover every id exactly once, in order, whatever the extent.
    #[test]
    fn parts_cover_the_id_space() {
        let covers = |ranges: &[std::ops::RangeInclusive<i64>]| {
            ranges.first().is_some_and(|r| *r.start() == i64::MIN)
                && ranges.last().is_some_and(|r| *r.end() == i64::MAX)
                && ranges.windows(2).all(|w| w[0].end().checked_add(1) == Some(*w[1].start()) && !w[1].is_empty())
        };
        assert_eq!(split(None, ROWS_PER_PART), vec![i64::MIN..=i64::MAX]);
        assert_eq!(split(Some(1..=10), ROWS_PER_PART), vec![i64::MIN..=i64::MAX]);
        let many = split(Some(1..=135_000), ROWS_PER_PART);
        assert_eq!(many.len(), 8);
        assert!(covers(&many), "{many:?}");
        assert_eq!(*many[1].start(), 1 + 16_875);
        let sparse = split(Some(i64::MIN + 5..=i64::MAX - 5), ROWS_PER_PART);
        assert_eq!(sparse.len(), 64);
        assert!(covers(&sparse));
        assert!(covers(&split(Some(-40_000..=-1), ROWS_PER_PART)));
    }

    fn records(archive: &[u8]) -> (ReadSummary, Vec<Record>) {
        let mut records = Vec::new();
        let summary = ArchiveReader::new(archive)
            .read(|_, r| {
                records.push(r);
                Ok(())
            })
            .unwrap();
        (summary, records)
    }

    /// Many small parts read by three lanes make the very archive one lane makes in one part
    /// each: the same records in the same order, every object followed by its versions.
    #[test]
    fn lanes_and_parts_change_nothing_in_what_is_backed_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = keyward_store::SqliteStore::open(&dir.path().join("db"), crate::audit_chain_hash).unwrap();
        let identity = IdentityRow {
            organization: "o".into(),
            site: "s".into(),
            server_name: "n".into(),
            server_id: "i".into(),
            incarnation: 1,
            created_at: now(),
        };
        store.commit(vec![Mutation::SetIdentity(identity), Mutation::SetSeal { config: "{}".into() }]).unwrap();
        for batch in 0..10 {
            let mut muts = Vec::new();
            for i in 0..100 {
                let id = format!("{batch:02}-{i:03}");
                muts.push(Mutation::InsertObject(ObjectRow {
                    id: id.clone(),
                    name: format!("key-{id}"),
                    key_type: "aes-256".into(),
                    state: "active".into(),
                    enabled: true,
                    exportable: i % 2 == 0,
                    current_version: 1 + i % 3,
                    created_at: now(),
                    updated_at: now(),
                    activated_at: None,
                    deactivated_at: None,
                    destroyed_at: None,
                    attributes: format!(r#"{{"n":{i},"s":"a\"b"}}"#),
                }));
                for v in 1..=(1 + i % 3) {
                    muts.push(Mutation::PutKeyVersion(KeyVersionRow {
                        object_id: id.clone(),
                        version: v,
                        material: (i % 5 != 0).then(|| vec![batch as u8, i as u8, v as u8]),
                        public_key: None,
                        created_at: now(),
                    }));
                }
            }
            store.commit(muts).unwrap();
            let entry = AuditEntry {
                at: now(),
                actor: "test".into(),
                action: format!("batch {batch}"),
                target: String::new(),
                outcome: "200".into(),
                detail: "line\nfeed".into(),
            };
            store.audit(entry, keyward_store::AuditDurability::Wait).unwrap();
        }
        let opts = BackupOptions { components: None, taken: "online", progress: Progress::default() };
        #[cfg(target_os = "linux")]
        let nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        #[cfg(target_os = "linux")]
        let before = nice();
        let (one, _) = write_in_parts(&mut store.snapshots(1).unwrap(), Vec::new(), &opts, None, i64::MAX).unwrap();
        let mut lanes = store.snapshots(3).unwrap();
        assert_eq!(lanes.len(), 3);
        let (many, _) = write_in_parts(&mut lanes, Vec::new(), &opts, None, 3).unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(nice(), before, "the lanes ran at a lower priority on threads of their own, not this one");
        let (one_summary, one) = records(&one);
        let (many_summary, many) = records(&many);
        let count = |f: fn(&Record) -> bool| one.iter().filter(|r| f(r)).count();
        assert_eq!(count(|r| matches!(r, Record::Object { .. })), 1000);
        assert_eq!(count(|r| matches!(r, Record::KeyVersion { .. })), 10 * (34 + 33 * 2 + 33 * 3));
        assert_eq!(count(|r| matches!(r, Record::Audit { .. })), 10);
        assert!(one == many, "the same records in the same order");
        let chunks = |s: &ReadSummary, c: &str| s.manifest.component(c).unwrap().chunks.len();
        assert_eq!(chunks(&one_summary, "keys"), 1);
        assert!(chunks(&many_summary, "keys") > 50, "the keys were written in many parts");
        assert!(chunks(&many_summary, "audit") > 1);
        let mut last_object = None;
        for r in &many {
            match r {
                Record::Object { id, .. } => last_object = Some(id.clone()),
                Record::KeyVersion { object_id, .. } => assert_eq!(Some(object_id), last_object.as_ref()),
                _ => {}
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lowered_thread_is_lowered_alone() {
        let nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let here = nice();
        let there = std::thread::spawn(move || {
            lower_this_thread_priority();
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(there, (here + 10).min(19));
        assert_eq!(nice(), here);
    }
}
