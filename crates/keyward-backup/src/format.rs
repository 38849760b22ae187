//! Fixed binary pieces of the archive: header, chunk headers, trailer.
//!
//! All integers are big-endian. See `docs/backup-format.md`.

use crate::{Error, Place, Result, corrupt};

pub const MAGIC: &[u8; 8] = b"KWBACKUP";
pub const TRAILER_MAGIC: &[u8; 8] = b"KWBEND01";
/// The newest format this build reads and writes. Version 2 is version 1 plus the `pki`
/// component; writers use version 1 for archives without it, so older readers can read them.
pub const FORMAT_VERSION: u16 = 2;
/// The format of archives that hold only the components version 1 defined.
pub const FORMAT_V1: u16 = 1;

/// The first format version that may hold component `name`.
pub fn first_format_with(name: &str) -> u16 {
    if name == "pki" { 2 } else { FORMAT_V1 }
}
pub const HEADER_LEN: usize = 16;
/// manifest offset (8) || mac (32) || archive sha-256 (32) || magic (8)
pub const TRAILER_LEN: usize = 80;

pub const KIND_CHUNK: u8 = 0x01;
pub const KIND_MANIFEST: u8 = 0x02;

/// The largest uncompressed section a reader accepts: a bound on memory and on zip bombs.
pub const MAX_RAW_LEN: u64 = 256 * 1024 * 1024;

pub fn header(version: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&version.to_be_bytes());
    // flags (u16) and reserved (u32) stay zero in versions 1 and 2.
    h
}

/// Checks the header and returns the archive's format version.
pub fn parse_header(h: &[u8; HEADER_LEN]) -> Result<u16> {
    if &h[..8] != MAGIC {
        return Err(Error::NotAnArchive);
    }
    let version = u16::from_be_bytes([h[8], h[9]]);
    if version > FORMAT_VERSION {
        return Err(Error::NewerFormat { found: version, supported: FORMAT_VERSION });
    }
    if version < FORMAT_V1 {
        return Err(corrupt(Place::Header, format!("unknown format version {version}")));
    }
    if h[10..].iter().any(|b| *b != 0) {
        return Err(corrupt(Place::Header, "flags or reserved bytes are not zero"));
    }
    Ok(version)
}

/// The fixed part of a section header; the name follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHeader {
    pub kind: u8,
    pub name: String,
    pub index: u32,
    pub records: u64,
    pub raw_len: u64,
    pub stored_len: u64,
    pub raw_sha256: [u8; 32],
}

impl SectionHeader {
    /// kind (1) || name length (1) || name || index (4) || records (8) || raw length (8) ||
    /// stored length (8) || raw sha-256 (32)
    pub fn encode(&self) -> Result<Vec<u8>> {
        let name = self.name.as_bytes();
        let name_len = u8::try_from(name.len()).map_err(|_| Error::Usage("component names are at most 255 bytes"))?;
        let mut out = Vec::with_capacity(62 + name.len());
        out.push(self.kind);
        out.push(name_len);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.records.to_be_bytes());
        out.extend_from_slice(&self.raw_len.to_be_bytes());
        out.extend_from_slice(&self.stored_len.to_be_bytes());
        out.extend_from_slice(&self.raw_sha256);
        Ok(out)
    }
}

/// Reads big-endian integers from a byte slice without panicking.
pub struct Cursor<'a> {
    pub bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
    }
    pub fn arr32(&mut self) -> Option<[u8; 32]> {
        self.take(32).and_then(|b| b.try_into().ok())
    }
}

pub struct Trailer {
    pub manifest_offset: u64,
    pub mac: [u8; 32],
    pub archive_sha256: [u8; 32],
}

impl Trailer {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut c = Cursor { bytes };
        let bad = || Error::Truncated { place: Place::Trailer };
        let manifest_offset = c.u64().ok_or_else(bad)?;
        let mac = c.arr32().ok_or_else(bad)?;
        let archive_sha256 = c.arr32().ok_or_else(bad)?;
        let magic = c.take(8).ok_or_else(bad)?;
        if magic != TRAILER_MAGIC {
            return Err(Error::Truncated { place: Place::Trailer });
        }
        Ok(Trailer { manifest_offset, mac, archive_sha256 })
    }
}
