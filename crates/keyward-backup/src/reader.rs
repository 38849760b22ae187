//! Reading and checking an archive. [`ArchiveReader::read`] streams the whole file once,
//! checks every byte against the trailer's SHA-256, every chunk against its own hash and the
//! manifest, and hands each record to the caller; nothing the caller does with the records
//! should be kept unless the read returns `Ok`. [`read_manifest`] is a quick look at the
//! manifest through the trailer, for callers that need the seal metadata first.

use std::io::{Read, Seek, SeekFrom};

use keyward_crypto::Sha256;

use crate::format::{self, Cursor, HEADER_LEN, KIND_CHUNK, KIND_MANIFEST, MAX_RAW_LEN, TRAILER_LEN, Trailer};
use crate::manifest::Manifest;
use crate::{Error, Place, REQUIRED_COMPONENTS, Record, Result, corrupt};

#[derive(Debug, Clone)]
pub struct ReadSummary {
    pub manifest: Manifest,
    /// The manifest exactly as stored, which the MAC covers.
    pub manifest_raw: Vec<u8>,
    pub mac: [u8; 32],
    pub bytes: u64,
}

impl ReadSummary {
    /// Checks the manifest's MAC with the key derived from the node's master key.
    pub fn authenticate(&self, mac_key: &[u8]) -> Result<()> {
        if self.manifest.authenticated && keyward_crypto::hmac_sha256_verify(mac_key, &self.manifest_raw, &self.mac) {
            Ok(())
        } else {
            Err(Error::NotAuthentic)
        }
    }
}

struct Hashing<R> {
    inner: R,
    hash: Sha256,
    pos: u64,
}

impl<R: Read> Hashing<R> {
    fn read_exact(&mut self, buf: &mut [u8], place: impl Fn() -> Place) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::Truncated { place: place() },
            _ => Error::Io { doing: "read the backup", source: e },
        })?;
        self.hash.update(buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn read_vec(&mut self, len: u64, place: impl Fn() -> Place) -> Result<Vec<u8>> {
        // Read in bounded steps: a corrupt length must not make us allocate before the bytes exist.
        let mut out = Vec::new();
        let mut left = len;
        let mut step = [0u8; 64 * 1024];
        while left > 0 {
            let n = usize::try_from(left.min(step.len() as u64)).unwrap_or(step.len());
            let buf = step.get_mut(..n).ok_or(Error::Usage("read step"))?;
            self.read_exact(buf, &place)?;
            out.extend_from_slice(buf);
            left -= n as u64;
        }
        Ok(out)
    }
}

struct Section {
    kind: u8,
    name: String,
    index: u32,
    records: u64,
    raw: Vec<u8>,
    /// The SHA-256 of `raw`, checked against the header.
    raw_sha256: [u8; 32],
    offset: u64,
}

/// What receives each record as it is read.
type Visitor<'a> = dyn FnMut(&str, Record) -> Result<()> + 'a;

pub struct ArchiveReader<R: Read> {
    input: Hashing<R>,
}

impl<R: Read> ArchiveReader<R> {
    pub fn new(input: R) -> Self {
        ArchiveReader { input: Hashing { inner: input, hash: Sha256::default(), pos: 0 } }
    }

    fn section(&mut self, kind: u8) -> Result<Section> {
        let offset = self.input.pos - 1;
        let at = || Place::Offset(offset);
        let mut len = [0u8; 1];
        self.input.read_exact(&mut len, at)?;
        let mut name = vec![0u8; usize::from(len[0])];
        self.input.read_exact(&mut name, at)?;
        let name = String::from_utf8(name).map_err(|_| corrupt(at(), "a section name is not text"))?;
        let mut fixed = [0u8; 60];
        self.input.read_exact(&mut fixed, at)?;
        let mut c = Cursor { bytes: &fixed };
        let bad = || corrupt(at(), "malformed section header");
        let index = c.u32().ok_or_else(bad)?;
        let records = c.u64().ok_or_else(bad)?;
        let raw_len = c.u64().ok_or_else(bad)?;
        let stored_len = c.u64().ok_or_else(bad)?;
        let sha = c.arr32().ok_or_else(bad)?;
        let place = || {
            if kind == KIND_MANIFEST {
                Place::Manifest
            } else {
                Place::Chunk { component: name.clone(), index, offset }
            }
        };
        if raw_len > MAX_RAW_LEN || stored_len > MAX_RAW_LEN + 1024 {
            return Err(corrupt(place(), "section length out of range"));
        }
        let stored = self.input.read_vec(stored_len, place)?;
        let raw = zstd::bulk::decompress(&stored, raw_len as usize)
            .map_err(|_| corrupt(place(), "its compressed data is damaged"))?;
        if raw.len() as u64 != raw_len {
            return Err(corrupt(place(), "its length does not match its header"));
        }
        if keyward_crypto::sha256(&raw) != sha {
            return Err(corrupt(place(), "its checksum does not match its content"));
        }
        Ok(Section { kind, name, index, records, raw, raw_sha256: sha, offset })
    }

    /// Reads and checks the whole archive, calling `visit` for every record in order.
    pub fn read(self, mut visit: impl FnMut(&str, Record) -> Result<()>) -> Result<ReadSummary> {
        self.read_inner(Some(&mut visit))
    }

    /// Checks every checksum, count and offset without parsing the records: for reading back
    /// a file just written, to prove it reached the disk as it was produced.
    pub fn check(self) -> Result<ReadSummary> {
        self.read_inner(None)
    }

    fn read_inner(mut self, mut visit: Option<&mut Visitor<'_>>) -> Result<ReadSummary> {
        let mut header = [0u8; HEADER_LEN];
        self.input.read_exact(&mut header, || Place::Header).map_err(|e| match e {
            Error::Truncated { .. } => Error::NotAnArchive,
            e => e,
        })?;
        let version = format::parse_header(&header)?;
        let mut seen: Vec<(String, u32, u64, u64, u64, String)> = Vec::new();
        let mut component_hashes: Vec<(String, Sha256)> = Vec::new();
        let (manifest, manifest_raw, manifest_offset) = loop {
            let mut kind = [0u8; 1];
            let pos = self.input.pos;
            self.input.read_exact(&mut kind, || Place::Offset(pos))?;
            let section = match kind[0] {
                KIND_CHUNK | KIND_MANIFEST => self.section(kind[0])?,
                other => return Err(corrupt(Place::Offset(pos), format!("unknown section kind {other:#04x}"))),
            };
            if section.kind == KIND_MANIFEST {
                let manifest: Manifest = serde_json::from_slice(&section.raw)
                    .map_err(|e| corrupt(Place::Manifest, format!("it is not a valid manifest: {e}")))?;
                break (manifest, section.raw, section.offset);
            }
            let place = Place::Chunk { component: section.name.clone(), index: section.index, offset: section.offset };
            if format::first_format_with(&section.name) > version {
                return Err(corrupt(place, format!("format version {version} has no component {:?}", section.name)));
            }
            let count = match visit.as_mut() {
                Some(visit) => {
                    let mut count = 0u64;
                    for line in section.raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        count += 1;
                        let record: Record = serde_json::from_slice(line)
                            .map_err(|e| corrupt(place.clone(), format!("record {count} is malformed: {e}")))?;
                        if record.component() != section.name {
                            return Err(corrupt(place.clone(), "it holds a record of another component"));
                        }
                        visit(&section.name, record)?;
                    }
                    count
                }
                None => count_lines(&section.raw),
            };
            if count != section.records {
                return Err(corrupt(
                    place,
                    format!("it holds {count} records but its header says {}", section.records),
                ));
            }
            let chunk_hash = section.raw_sha256;
            match component_hashes.iter_mut().find(|(n, _)| *n == section.name) {
                Some((_, h)) => h.update(&chunk_hash),
                None => {
                    let mut h = Sha256::default();
                    h.update(&chunk_hash);
                    component_hashes.push((section.name.clone(), h));
                }
            }
            seen.push((
                section.name,
                section.index,
                section.offset,
                section.records,
                section.raw.len() as u64,
                hex::encode(chunk_hash),
            ));
        };
        // The trailer: offset and MAC are covered by the archive hash, then the hash itself.
        let mut covered = [0u8; 40];
        self.input.read_exact(&mut covered, || Place::Trailer)?;
        let computed = std::mem::take(&mut self.input.hash).finish();
        let mut rest = [0u8; TRAILER_LEN - 40];
        self.input.inner.read_exact(&mut rest).map_err(|_| Error::Truncated { place: Place::Trailer })?;
        let trailer = Trailer::parse(&[covered.as_slice(), rest.as_slice()].concat())?;
        if trailer.archive_sha256 != computed {
            return Err(corrupt(Place::Trailer, "the archive checksum does not match: some byte of the file changed"));
        }
        let mut extra = [0u8; 1];
        match self.input.inner.read(&mut extra) {
            Ok(0) => {}
            Ok(_) => return Err(corrupt(Place::Trailer, "there are bytes after the end of the archive")),
            Err(source) => return Err(Error::Io { doing: "read the backup", source }),
        }
        if trailer.manifest_offset != manifest_offset {
            return Err(corrupt(Place::Trailer, "it points at the wrong manifest"));
        }
        check_manifest(&manifest, version, &seen)?;
        for c in &manifest.components {
            let hash = match component_hashes.iter().position(|(n, _)| *n == c.name) {
                Some(i) => component_hashes.swap_remove(i).1.finish(),
                None => Sha256::default().finish(),
            };
            if hex::encode(hash) != c.sha256 {
                return Err(corrupt(Place::Manifest, format!("component {:?} does not match its checksum", c.name)));
            }
        }
        Ok(ReadSummary { manifest, manifest_raw, mac: trailer.mac, bytes: self.input.pos + (TRAILER_LEN as u64 - 40) })
    }
}

fn check_manifest(m: &Manifest, version: u16, seen: &[(String, u32, u64, u64, u64, String)]) -> Result<()> {
    if m.format != version {
        return Err(corrupt(Place::Manifest, format!("it declares format {}", m.format)));
    }
    let mut listed = Vec::new();
    for c in &m.components {
        let total: u64 = c.chunks.iter().map(|ch| ch.records).sum();
        if total != c.records {
            return Err(corrupt(Place::Manifest, format!("component {:?} record counts disagree", c.name)));
        }
        for (i, ch) in c.chunks.iter().enumerate() {
            listed.push((c.name.clone(), i as u32, ch.offset, ch.records, ch.raw_bytes, ch.sha256.clone()));
        }
    }
    for (want, got) in listed.iter().zip(seen) {
        if want != got {
            return Err(corrupt(
                Place::Chunk { component: got.0.clone(), index: got.1, offset: got.2 },
                format!("it does not match the manifest's entry for chunk {} of {:?}", want.1, want.0),
            ));
        }
    }
    if let Some(extra) = seen.get(listed.len()) {
        return Err(corrupt(
            Place::Chunk { component: extra.0.clone(), index: extra.1, offset: extra.2 },
            "the manifest does not list it",
        ));
    }
    if let Some(missing) = listed.get(seen.len()) {
        return Err(Error::Incomplete { component: missing.0.clone(), problem: "listed in the manifest but missing" });
    }
    if m.complete {
        for required in REQUIRED_COMPONENTS {
            if m.component(required).is_none() {
                return Err(Error::Incomplete {
                    component: (*required).to_owned(),
                    problem: "required for a full backup but absent",
                });
            }
        }
    }
    Ok(())
}

/// Reads only the manifest, through the trailer. Checks the manifest's own checksum, not the
/// rest of the archive: use [`ArchiveReader::read`] for that.
pub fn read_manifest<R: Read + Seek>(mut input: R) -> Result<Manifest> {
    let io = |source| Error::Io { doing: "read the backup", source };
    let mut header = [0u8; HEADER_LEN];
    input.read_exact(&mut header).map_err(|_| Error::NotAnArchive)?;
    format::parse_header(&header)?;
    let end = input.seek(SeekFrom::End(0)).map_err(io)?;
    if end < (HEADER_LEN + TRAILER_LEN) as u64 {
        return Err(Error::Truncated { place: Place::Trailer });
    }
    input.seek(SeekFrom::Start(end - TRAILER_LEN as u64)).map_err(io)?;
    let mut t = [0u8; TRAILER_LEN];
    input.read_exact(&mut t).map_err(io)?;
    let trailer = Trailer::parse(&t)?;
    if trailer.manifest_offset >= end {
        return Err(corrupt(Place::Trailer, "it points past the end of the file"));
    }
    input.seek(SeekFrom::Start(trailer.manifest_offset)).map_err(io)?;
    let mut reader = ArchiveReader::new(input);
    let mut kind = [0u8; 1];
    reader.input.read_exact(&mut kind, || Place::Manifest)?;
    if kind[0] != KIND_MANIFEST {
        return Err(corrupt(Place::Trailer, "it does not point at the manifest"));
    }
    reader.input.pos = trailer.manifest_offset + 1;
    let section = reader.section(KIND_MANIFEST)?;
    serde_json::from_slice(&section.raw)
        .map_err(|e| corrupt(Place::Manifest, format!("it is not a valid manifest: {e}")))
}

/// The non-empty lines of a chunk: its line feeds, found by memchr, when no line is empty (as
/// writers write them); counted line by line otherwise.
fn count_lines(raw: &[u8]) -> u64 {
    let plain =
        raw.last() == Some(&b'\n') && raw.first() != Some(&b'\n') && memchr::memmem::find(raw, b"\n\n").is_none();
    if plain {
        memchr::memchr_iter(b'\n', raw).count() as u64
    } else {
        raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64
    }
}
