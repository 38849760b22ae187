//! Writing an archive as a stream: records are buffered into chunks; each full chunk goes to a
//! worker thread that compresses it, hashes it and writes it, while the caller goes on reading
//! and encoding the next one (on a 2-core server that halves the time of a backup). The output
//! needs no seek, so a server can stream a backup straight to a client.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use keyward_crypto::{Secret, Sha256};

use crate::format::{self, KIND_CHUNK, KIND_MANIFEST, SectionHeader, TRAILER_MAGIC};
use crate::manifest::{ChunkEntry, ComponentEntry, Manifest};
use crate::{Error, Record, Result};

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// zstd level; 1 is the right trade on small machines (fast, ~5-10x on key metadata).
    pub level: i32,
    /// Uncompressed bytes per chunk before it is written out.
    pub chunk_bytes: usize,
    /// The format version to write: [`FORMAT_V1`](crate::format::FORMAT_V1) unless a component
    /// needs a later one (see `docs/backup-format.md`).
    pub format: u16,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { level: 1, chunk_bytes: 4 * 1024 * 1024, format: format::FORMAT_V1 }
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

enum Msg {
    Chunk { name: String, index: u32, records: u64, raw: Vec<u8> },
    Finish { manifest: Box<Manifest>, mac_key: Option<Secret> },
}

struct Open {
    entry: ComponentEntry,
    buffer: Vec<u8>,
    buffered_records: u64,
    chunks: u32,
}

pub struct ArchiveWriter<W: Write + Send + 'static> {
    tx: Option<SyncSender<Msg>>,
    worker: Option<JoinHandle<Result<(W, WriteSummary)>>>,
    opts: WriterOptions,
    components: Vec<ComponentEntry>,
    open: Option<Open>,
}

/// The worker's side: owns the output and everything that depends on byte positions.
struct Sink<W> {
    inner: W,
    hash: Sha256,
    written: u64,
    compressor: zstd::bulk::Compressor<'static>,
    chunks: Vec<(String, ChunkEntry)>,
    /// Running SHA-256 of each component's records.
    component_hashes: Vec<(String, Sha256)>,
    format: u16,
}

impl<W: Write> Sink<W> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.inner.write_all(bytes).map_err(|source| Error::Io { doing: "write the backup", source })?;
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn section(
        &mut self,
        kind: u8,
        name: &str,
        index: u32,
        records: u64,
        raw: &[u8],
    ) -> Result<(ChunkEntry, [u8; 32])> {
        let stored = self.compressor.compress(raw).map_err(|source| Error::Io { doing: "compress", source })?;
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
        let offset = self.written;
        self.write_all(&header.encode()?)?;
        self.write_all(&stored)?;
        Ok((ChunkEntry { offset, records, raw_bytes: raw.len() as u64, sha256: hex::encode(raw_sha256) }, raw_sha256))
    }

    fn run(mut self, rx: Receiver<Msg>) -> Result<(W, WriteSummary)> {
        self.write_all(&format::header(self.format))?;
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Chunk { name, index, records, raw } => {
                    let (entry, chunk_hash) = self.section(KIND_CHUNK, &name, index, records, &raw)?;
                    match self.component_hashes.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, h)) => h.update(&chunk_hash),
                        None => {
                            let mut h = Sha256::default();
                            h.update(&chunk_hash);
                            self.component_hashes.push((name.clone(), h));
                        }
                    }
                    self.chunks.push((name, entry));
                }
                Msg::Finish { manifest, mac_key } => return self.finish(*manifest, mac_key),
            }
        }
        Err(Error::Usage("the archive was abandoned before it was finished"))
    }

    fn finish(mut self, mut manifest: Manifest, mac_key: Option<Secret>) -> Result<(W, WriteSummary)> {
        let mut hashes = std::mem::take(&mut self.component_hashes);
        for component in &mut manifest.components {
            component.chunks =
                self.chunks.iter().filter(|(n, _)| *n == component.name).map(|(_, c)| c.clone()).collect();
            let hash = match hashes.iter().position(|(n, _)| *n == component.name) {
                Some(i) => hashes.swap_remove(i).1.finish(),
                None => Sha256::default().finish(),
            };
            component.sha256 = hex::encode(hash);
        }
        manifest.authenticated = mac_key.is_some();
        let raw = serde_json::to_vec(&manifest).map_err(|e| Error::Encode(e.to_string()))?;
        let manifest_offset = self.written;
        self.section(KIND_MANIFEST, "manifest", 0, 0, &raw)?;
        let mac = mac_key.map(|k| keyward_crypto::hmac_sha256(k.expose(), &raw)).unwrap_or([0u8; 32]);
        self.write_all(&manifest_offset.to_be_bytes())?;
        self.write_all(&mac)?;
        let Sink { mut inner, hash, written, .. } = self;
        let archive_sha256 = hash.finish();
        let io = |source| Error::Io { doing: "write the backup", source };
        inner.write_all(&archive_sha256).map_err(io)?;
        inner.write_all(TRAILER_MAGIC).map_err(io)?;
        inner.flush().map_err(io)?;
        let summary = WriteSummary { bytes: written + 40, records: manifest.record_count(), archive_sha256, manifest };
        Ok((inner, summary))
    }
}

impl<W: Write + Send + 'static> ArchiveWriter<W> {
    pub fn new(out: W, opts: WriterOptions) -> Result<Self> {
        if !(format::FORMAT_V1..=format::FORMAT_VERSION).contains(&opts.format) {
            return Err(Error::Usage("this format version cannot be written"));
        }
        let mut compressor = zstd::bulk::Compressor::new(opts.level)
            .map_err(|source| Error::Io { doing: "start compression", source })?;
        // Compression runs on this writer's own worker thread, not on zstd's: the snapshot
        // reader keeps the other core busy, and handing chunks to a zstd worker cost ~10% more
        // CPU in locking for no shorter backup (docs/performance.md).
        let _ = compressor.set_parameter(zstd::zstd_safe::CParameter::NbWorkers(0));
        let sink = Sink {
            inner: out,
            hash: Sha256::default(),
            written: 0,
            compressor,
            chunks: Vec::new(),
            component_hashes: Vec::new(),
            format: opts.format,
        };
        // Two chunks in flight at most: enough to overlap, little memory.
        let (tx, rx) = sync_channel(2);
        let worker = std::thread::Builder::new()
            .name("keyward-archive-writer".into())
            .spawn(move || sink.run(rx))
            .map_err(|source| Error::Io { doing: "start the archive writer", source })?;
        Ok(ArchiveWriter { tx: Some(tx), worker: Some(worker), opts, components: Vec::new(), open: None })
    }

    pub fn begin_component(&mut self, name: &str, schema_version: u32) -> Result<()> {
        if self.open.is_some() {
            return Err(Error::Usage("a component is already open"));
        }
        if self.components.iter().any(|c| c.name == name) {
            return Err(Error::Usage("a component can be written only once"));
        }
        if format::first_format_with(name) > self.opts.format {
            return Err(Error::Usage("this component needs a newer format version"));
        }
        let entry = ComponentEntry {
            name: name.to_owned(),
            schema_version,
            records: 0,
            sha256: String::new(),
            chunks: Vec::new(),
        };
        self.open =
            Some(Open { entry, buffer: Vec::with_capacity(self.opts.chunk_bytes), buffered_records: 0, chunks: 0 });
        Ok(())
    }

    pub fn record(&mut self, record: &Record) -> Result<()> {
        self.record_as(record.component(), record)
    }

    /// Writes a record given in another shape that serializes exactly as a [`Record`] of
    /// `component` does (a borrowed view of a store row, say, to spare copying it). The reader
    /// checks every record against [`Record`], so a shape that strays is caught on read back.
    pub fn record_as<T: serde::Serialize>(&mut self, component: &str, record: &T) -> Result<()> {
        let open = self.open.as_mut().ok_or(Error::Usage("no component is open"))?;
        if component != open.entry.name {
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

    /// Sends a message to the worker; if it has stopped, returns the error it stopped with.
    fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = self.tx.as_ref().ok_or(Error::Usage("the writer is finished"))?.send(msg);
        if sent.is_err() {
            return Err(self.join_failed());
        }
        Ok(())
    }

    fn join_failed(&mut self) -> Error {
        self.tx = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => Error::Usage("the archive writer stopped unexpectedly"),
        }
    }

    fn flush_chunk(&mut self) -> Result<()> {
        let Some(open) = self.open.as_mut() else { return Err(Error::Usage("no component is open")) };
        if open.buffered_records == 0 {
            return Ok(());
        }
        let capacity = self.opts.chunk_bytes;
        let raw = std::mem::replace(&mut open.buffer, Vec::with_capacity(capacity));
        let records = std::mem::take(&mut open.buffered_records);
        let index = open.chunks;
        open.chunks += 1;
        open.entry.records += records;
        let name = open.entry.name.clone();
        self.send(Msg::Chunk { name, index, records, raw })
    }

    /// Writes the manifest (its `components` and `authenticated` are filled in here) and the
    /// trailer. `mac_key` authenticates the manifest; without it the archive says so.
    pub fn finish(mut self, mut manifest: Manifest, mac_key: Option<&[u8]>) -> Result<(W, WriteSummary)> {
        if self.open.is_some() {
            return Err(Error::Usage("a component is still open"));
        }
        manifest.components = std::mem::take(&mut self.components);
        manifest.format = self.opts.format;
        let mac_key = mac_key.map(Secret::copy_from);
        self.send(Msg::Finish { manifest: Box::new(manifest), mac_key })?;
        self.tx = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(Error::Usage("the archive writer stopped unexpectedly")),
        }
    }
}

impl<W: Write + Send + 'static> Drop for ArchiveWriter<W> {
    fn drop(&mut self) {
        // An unfinished writer: let the worker see the closed channel and stop.
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
