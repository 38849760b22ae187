//! Writing an archive as a stream: records are buffered into chunks, each chunk compressed
//! and written as soon as it is full, the manifest and trailer last. The output needs no seek,
//! so a server can stream a backup straight to a client.

use std::io::Write;

use keyward_crypto::Sha256;

use crate::format::{self, KIND_CHUNK, KIND_MANIFEST, SectionHeader, TRAILER_MAGIC};
use crate::manifest::{ChunkEntry, ComponentEntry, Manifest};
use crate::{Error, Record, Result};

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// zstd level; 1 is the right trade on small machines (fast, ~3-5x on key metadata).
    pub level: i32,
    /// Uncompressed bytes per chunk before it is written out.
    pub chunk_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { level: 1, chunk_bytes: 4 * 1024 * 1024 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    pub bytes: u64,
    pub records: u64,
    pub archive_sha256: [u8; 32],
    /// The manifest as written.
    pub manifest: Manifest,
}

struct Hashing<W> {
    inner: W,
    hash: Sha256,
    written: u64,
}

impl<W: Write> Hashing<W> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.inner.write_all(bytes).map_err(|source| Error::Io { doing: "write the backup", source })?;
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }
}

struct Open {
    entry: ComponentEntry,
    buffer: Vec<u8>,
    buffered_records: u64,
}

pub struct ArchiveWriter<W: Write> {
    out: Hashing<W>,
    opts: WriterOptions,
    components: Vec<ComponentEntry>,
    open: Option<Open>,
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(out: W, opts: WriterOptions) -> Result<Self> {
        let mut out = Hashing { inner: out, hash: Sha256::default(), written: 0 };
        out.write_all(&format::header())?;
        Ok(ArchiveWriter { out, opts, components: Vec::new(), open: None })
    }

    pub fn begin_component(&mut self, name: &str, schema_version: u32) -> Result<()> {
        if self.open.is_some() {
            return Err(Error::Usage("a component is already open"));
        }
        if self.components.iter().any(|c| c.name == name) {
            return Err(Error::Usage("a component can be written only once"));
        }
        let entry = ComponentEntry { name: name.to_owned(), schema_version, records: 0, chunks: Vec::new() };
        self.open = Some(Open { entry, buffer: Vec::with_capacity(self.opts.chunk_bytes), buffered_records: 0 });
        Ok(())
    }

    pub fn record(&mut self, record: &Record) -> Result<()> {
        let open = self.open.as_mut().ok_or(Error::Usage("no component is open"))?;
        if record.component() != open.entry.name {
            return Err(Error::Usage("a record was written to the wrong component"));
        }
        serde_json::to_writer(&mut open.buffer, record).map_err(|e| Error::Encode(e.to_string()))?;
        open.buffer.push(b'\n');
        open.buffered_records += 1;
        if open.buffer.len() >= self.opts.chunk_bytes {
            self.flush_chunk()?;
        }
        Ok(())
    }

    pub fn end_component(&mut self) -> Result<()> {
        self.flush_chunk()?;
        let open = self.open.take().ok_or(Error::Usage("no component is open"))?;
        self.components.push(open.entry);
        Ok(())
    }

    fn write_section(&mut self, kind: u8, name: &str, index: u32, records: u64, raw: &[u8]) -> Result<ChunkEntry> {
        let stored =
            zstd::bulk::compress(raw, self.opts.level).map_err(|source| Error::Io { doing: "compress", source })?;
        let raw_sha256 = keyward_crypto::sha256(raw);
        let header = SectionHeader {
            kind,
            name: name.to_owned(),
            index,
            records,
            raw_len: raw.len() as u64,
            stored_len: stored.len() as u64,
            raw_sha256,
        };
        let offset = self.out.written;
        self.out.write_all(&header.encode()?)?;
        self.out.write_all(&stored)?;
        Ok(ChunkEntry { offset, records, raw_bytes: raw.len() as u64, sha256: hex::encode(raw_sha256) })
    }

    fn flush_chunk(&mut self) -> Result<()> {
        let Some(open) = self.open.as_mut() else { return Err(Error::Usage("no component is open")) };
        if open.buffered_records == 0 {
            return Ok(());
        }
        let raw = std::mem::take(&mut open.buffer);
        let records = std::mem::take(&mut open.buffered_records);
        let name = open.entry.name.clone();
        let index = u32::try_from(open.entry.chunks.len()).map_err(|_| Error::Usage("too many chunks"))?;
        let chunk = self.write_section(KIND_CHUNK, &name, index, records, &raw)?;
        if let Some(open) = self.open.as_mut() {
            open.entry.records += records;
            open.entry.chunks.push(chunk);
            open.buffer = raw;
            open.buffer.clear();
        }
        Ok(())
    }

    /// Writes the manifest (its `components` and `authenticated` are filled in here) and the
    /// trailer. `mac_key` authenticates the manifest; without it the archive says so.
    pub fn finish(mut self, mut manifest: Manifest, mac_key: Option<&[u8]>) -> Result<(W, WriteSummary)> {
        if self.open.is_some() {
            return Err(Error::Usage("a component is still open"));
        }
        manifest.components = std::mem::take(&mut self.components);
        manifest.authenticated = mac_key.is_some();
        let raw = serde_json::to_vec(&manifest).map_err(|e| Error::Encode(e.to_string()))?;
        let manifest_offset = self.out.written;
        self.write_section(KIND_MANIFEST, "manifest", 0, 0, &raw)?;
        let mac = mac_key.map(|k| keyward_crypto::hmac_sha256(k, &raw)).unwrap_or([0u8; 32]);
        self.out.write_all(&manifest_offset.to_be_bytes())?;
        self.out.write_all(&mac)?;
        let Hashing { mut inner, hash, written } = self.out;
        let archive_sha256 = hash.finish();
        inner.write_all(&archive_sha256).map_err(|source| Error::Io { doing: "write the backup", source })?;
        inner.write_all(TRAILER_MAGIC).map_err(|source| Error::Io { doing: "write the backup", source })?;
        inner.flush().map_err(|source| Error::Io { doing: "write the backup", source })?;
        let summary = WriteSummary { bytes: written + 40, records: manifest.record_count(), archive_sha256, manifest };
        Ok((inner, summary))
    }
}
