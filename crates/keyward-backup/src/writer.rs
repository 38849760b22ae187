//! Writing an archive as a stream, from one producer or several at once.
//!
//! A component is planned as one or more *parts* (say, the keys in four ranges of the store),
//! which together hold its records in order. Producers write parts through [`Lane`]s, each on
//! its own thread: a lane buffers records into chunks and *seals* each full chunk itself
//! (compresses it and hashes its raw bytes), so the costly work spreads over every producer.
//! One sink thread owns the output: it writes sealed chunks in plan order, holding back any
//! that arrive early, numbers each component's chunks, and keeps every checksum that depends
//! on byte positions. The output needs no seek, so a server can stream a backup straight to a
//! client.
//!
//! The single-producer calls ([`ArchiveWriter::begin_component`], [`ArchiveWriter::record`],
//! [`ArchiveWriter::end_component`]) are a one-part plan written through a lane of the writer's
//! own.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use keyward_crypto::{Secret, Sha256};

use crate::format::{self, KIND_CHUNK, KIND_MANIFEST, SectionHeader, TRAILER_MAGIC};
use crate::manifest::{ChunkEntry, ComponentEntry, Manifest};
use crate::{Error, Record, Result};

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// zstd level; 1 is the right trade on small machines (fast, ~5-10x on key metadata).
    pub level: i32,
    /// Uncompressed bytes per chunk before it is sealed.
    pub chunk_bytes: usize,
    /// The format version to write: [`FORMAT_V1`](crate::format::FORMAT_V1) unless a component
    /// needs a later one (see `docs/backup-format.md`).
    pub format: u16,
    /// How many parts past the one being written a lane may begin (at least 1): what bounds
    /// the sealed chunks the sink holds back in memory when one lane falls behind.
    pub parts_ahead: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { level: 1, chunk_bytes: 4 * 1024 * 1024, format: format::FORMAT_V1, parts_ahead: 4 }
    }
}

/// The part the sink is writing, shared with the lanes so that none runs too far ahead of it.
#[derive(Default)]
struct Position {
    state: Mutex<PositionState>,
    moved: Condvar,
}

#[derive(Default)]
struct PositionState {
    current: u32,
    /// The sink has stopped (finished or failed): nothing will move any more.
    stopped: bool,
}

impl Position {
    fn update(&self, f: impl FnOnce(&mut PositionState)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.moved.notify_all();
    }

    /// Waits until `slot` is within `ahead` parts of the sink's; false once the sink stopped.
    fn wait_for(&self, slot: u32, ahead: u32) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.stopped && slot >= state.current.saturating_add(ahead.max(1)) {
            state = self.moved.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        !state.stopped
    }
}

/// Tells the lanes the sink stopped, however `Sink::run` returns.
struct Stopped(Arc<Position>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.update(|s| s.stopped = true);
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

/// One planned part of a component: what a [`Lane`] writes between
/// [`begin`](Lane::begin) and [`end`](Lane::end).
#[derive(Debug, Clone)]
pub struct Part {
    slot: u32,
    component: Arc<str>,
}

impl Part {
    pub fn component(&self) -> &str {
        &self.component
    }
}

/// A chunk compressed and hashed by a lane, waiting for its place in the file.
struct Sealed {
    records: u64,
    raw_len: u64,
    raw_sha256: [u8; 32],
    stored: Vec<u8>,
}

enum Msg {
    /// A component and the slots of its parts, in plan order.
    Plan {
        name: Arc<str>,
        schema_version: u32,
        parts: u32,
    },
    Chunk {
        slot: u32,
        chunk: Sealed,
    },
    /// The part in `slot` has no more chunks.
    PartDone {
        slot: u32,
    },
    /// A lane was dropped in the middle of a part: the archive cannot be finished.
    Abandoned,
    Finish {
        manifest: Box<Manifest>,
        mac_key: Option<Secret>,
    },
}

/// A component as the sink builds its manifest entry.
struct Planned {
    entry: ComponentEntry,
    /// One past this component's last slot: its parts are the slots from the previous
    /// component's `end` up to this one.
    end: u32,
    /// SHA-256 over the raw SHA-256 of each chunk, in order.
    hash: Sha256,
}

/// Sealed chunks and the end of a part that arrived before its turn.
#[derive(Default)]
struct Early {
    chunks: Vec<Sealed>,
    done: bool,
}

/// The sink's side: owns the output and everything that depends on byte positions.
struct Sink<W> {
    inner: W,
    hash: Sha256,
    written: u64,
    format: u16,
    compressor: zstd::bulk::Compressor<'static>,
    components: Vec<Planned>,
    planned_slots: u32,
    /// The slot whose chunks are written as they come; later slots wait in `early`.
    current: u32,
    early: BTreeMap<u32, Early>,
    position: Arc<Position>,
}

impl<W: Write> Sink<W> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.inner.write_all(bytes).map_err(|source| Error::Io { doing: "write the backup", source })?;
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn write_section(&mut self, kind: u8, name: &str, index: u32, chunk: &Sealed) -> Result<u64> {
        let header = SectionHeader {
            kind,
            name: name.to_owned(),
            index,
            records: chunk.records,
            raw_len: chunk.raw_len,
            stored_len: chunk.stored.len() as u64,
            raw_sha256: chunk.raw_sha256,
        };
        let offset = self.written;
        self.write_all(&header.encode()?)?;
        self.write_all(&chunk.stored)?;
        Ok(offset)
    }

    /// Writes a chunk of the current slot: its component's next chunk.
    fn write_chunk(&mut self, chunk: Sealed) -> Result<()> {
        let slot = self.current;
        let unplanned = || Error::Usage("a chunk was written for a part that was never planned");
        let i = self.components.iter().position(|c| slot < c.end).ok_or_else(unplanned)?;
        let c = self.components.get(i).ok_or_else(unplanned)?;
        let (name, index) = (c.entry.name.clone(), c.entry.chunks.len() as u32);
        let offset = self.write_section(KIND_CHUNK, &name, index, &chunk)?;
        if let Some(c) = self.components.get_mut(i) {
            c.hash.update(&chunk.raw_sha256);
            c.entry.records += chunk.records;
            c.entry.chunks.push(ChunkEntry {
                offset,
                records: chunk.records,
                raw_bytes: chunk.raw_len,
                sha256: hex::encode(chunk.raw_sha256),
            });
        }
        Ok(())
    }

    /// The current part is complete: moves on, writing what later parts sent early.
    fn next_part(&mut self) -> Result<()> {
        self.current += 1;
        while let Some(early) = self.early.remove(&self.current) {
            for chunk in early.chunks {
                self.write_chunk(chunk)?;
            }
            if !early.done {
                break;
            }
            self.current += 1;
        }
        let current = self.current;
        self.position.update(|s| s.current = current);
        Ok(())
    }

    fn run(mut self, rx: Receiver<Msg>) -> Result<(W, WriteSummary)> {
        let _stopped = Stopped(self.position.clone());
        self.write_all(&format::header(self.format))?;
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Plan { name, schema_version, parts } => {
                    self.planned_slots += parts;
                    self.components.push(Planned {
                        entry: ComponentEntry {
                            name: name.to_string(),
                            schema_version,
                            records: 0,
                            sha256: String::new(),
                            chunks: Vec::new(),
                        },
                        end: self.planned_slots,
                        hash: Sha256::default(),
                    });
                }
                Msg::Chunk { slot, chunk } if slot == self.current => self.write_chunk(chunk)?,
                Msg::Chunk { slot, chunk } => self.early.entry(slot).or_default().chunks.push(chunk),
                Msg::PartDone { slot } if slot == self.current => self.next_part()?,
                Msg::PartDone { slot } => self.early.entry(slot).or_default().done = true,
                Msg::Abandoned => return Err(Error::Usage("a part was abandoned before it was finished")),
                Msg::Finish { manifest, mac_key } => return self.finish(*manifest, mac_key),
            }
        }
        Err(Error::Usage("the archive was abandoned before it was finished"))
    }

    fn finish(mut self, mut manifest: Manifest, mac_key: Option<Secret>) -> Result<(W, WriteSummary)> {
        if self.current != self.planned_slots || !self.early.is_empty() {
            return Err(Error::Usage("a planned part was not finished"));
        }
        manifest.components = std::mem::take(&mut self.components)
            .into_iter()
            .map(|c| ComponentEntry { sha256: hex::encode(c.hash.finish()), ..c.entry })
            .collect();
        manifest.format = self.format;
        manifest.authenticated = mac_key.is_some();
        let raw = serde_json::to_vec(&manifest).map_err(|e| Error::Encode(e.to_string()))?;
        let manifest_offset = self.written;
        let sealed = seal(&mut self.compressor, &raw, 0)?;
        self.write_section(KIND_MANIFEST, "manifest", 0, &sealed)?;
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

fn compressor(level: i32) -> Result<zstd::bulk::Compressor<'static>> {
    let mut c =
        zstd::bulk::Compressor::new(level).map_err(|source| Error::Io { doing: "start compression", source })?;
    // Each lane compresses on its own thread: zstd's own workers would only add locking
    // (docs/performance.md).
    let _ = c.set_parameter(zstd::zstd_safe::CParameter::NbWorkers(0));
    Ok(c)
}

fn seal(compressor: &mut zstd::bulk::Compressor<'static>, raw: &[u8], records: u64) -> Result<Sealed> {
    let stored = compressor.compress(raw).map_err(|source| Error::Io { doing: "compress", source })?;
    Ok(Sealed { records, raw_len: raw.len() as u64, raw_sha256: keyward_crypto::sha256(raw), stored })
}

/// Writes the records of planned parts, one part at a time, from one thread. Lanes on several
/// threads write one archive together; each seals its own chunks.
pub struct Lane {
    tx: SyncSender<Msg>,
    compressor: zstd::bulk::Compressor<'static>,
    chunk_bytes: usize,
    position: Arc<Position>,
    parts_ahead: u32,
    buffer: Vec<u8>,
    records: u64,
    open: Option<Part>,
}

impl Lane {
    /// Starts writing `part`; the previous part must have been ended. Waits while `part` is
    /// more than [`WriterOptions::parts_ahead`] parts past the one the archive is at, so a lane
    /// that races ahead of a slow one does not pile up chunks in memory. (Lanes that take parts
    /// in plan order cannot wait on each other in a circle: the part the archive is at is
    /// never made to wait.)
    pub fn begin(&mut self, part: &Part) -> Result<()> {
        if self.open.is_some() {
            return Err(Error::Usage("a component is already open"));
        }
        if !self.position.wait_for(part.slot, self.parts_ahead) {
            return Err(Error::WriterStopped);
        }
        self.open = Some(part.clone());
        Ok(())
    }

    pub fn record(&mut self, record: &Record) -> Result<()> {
        self.record_with(record.component(), |buf| {
            serde_json::to_writer(buf, record).map_err(|e| Error::Encode(e.to_string()))
        })
    }

    /// Writes one record of `component` that `encode` appends to the chunk buffer as JSON text
    /// on one line, exactly as a [`Record`] serializes (for encoders faster than serde's, from
    /// borrowed store rows, say). Reading records (`verify`, restore) parses each one as a
    /// [`Record`], so an encoder that strays is caught there; the quick check after writing
    /// only counts records, so such an encoder needs tests that hold it to [`Record`]'s
    /// serialization. A record that spans lines fails even the quick check (its chunk then
    /// holds more lines than records); the writer does not scan every record for line feeds.
    pub fn record_with(&mut self, component: &str, encode: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
        let part = self.open.as_ref().ok_or(Error::Usage("no component is open"))?;
        if component != part.component() {
            return Err(Error::Usage("a record was written to the wrong component"));
        }
        let start = self.buffer.len();
        let encoded = encode(&mut self.buffer);
        if let Err(e) = encoded {
            self.buffer.truncate(start);
            return Err(e);
        }
        if self.buffer.len() == start {
            return Err(Error::Encode("a record must be one non-empty line of JSON".into()));
        }
        self.buffer.push(b'\n');
        self.records += 1;
        if self.buffer.len() >= self.chunk_bytes {
            self.seal_buffer()?;
        }
        Ok(())
    }

    /// Ends the open part.
    pub fn end(&mut self) -> Result<()> {
        self.seal_buffer()?;
        let part = self.open.take().ok_or(Error::Usage("no component is open"))?;
        self.send(Msg::PartDone { slot: part.slot })
    }

    fn seal_buffer(&mut self) -> Result<()> {
        let Some(part) = self.open.as_ref() else { return Err(Error::Usage("no component is open")) };
        if self.records == 0 {
            return Ok(());
        }
        let slot = part.slot;
        let chunk = seal(&mut self.compressor, &self.buffer, std::mem::take(&mut self.records))?;
        self.buffer.clear();
        self.send(Msg::Chunk { slot, chunk })
    }

    fn send(&self, msg: Msg) -> Result<()> {
        self.tx.send(msg).map_err(|_| Error::WriterStopped)
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        // A part left open can never end: the sink must stop rather than wait for it (and the
        // lanes waiting behind it with it).
        if self.open.take().is_some() {
            let _ = self.tx.send(Msg::Abandoned);
        }
    }
}

pub struct ArchiveWriter<W: Write + Send + 'static> {
    tx: Option<SyncSender<Msg>>,
    worker: Option<JoinHandle<Result<(W, WriteSummary)>>>,
    opts: WriterOptions,
    position: Arc<Position>,
    planned: Vec<Arc<str>>,
    slots: u32,
    /// The lane behind the single-producer calls.
    own: Option<Lane>,
}

impl<W: Write + Send + 'static> ArchiveWriter<W> {
    pub fn new(out: W, opts: WriterOptions) -> Result<Self> {
        if !(format::FORMAT_V1..=format::FORMAT_VERSION).contains(&opts.format) {
            return Err(Error::Usage("this format version cannot be written"));
        }
        let sink = Sink {
            inner: out,
            hash: Sha256::default(),
            written: 0,
            format: opts.format,
            compressor: compressor(opts.level)?,
            components: Vec::new(),
            planned_slots: 0,
            current: 0,
            early: BTreeMap::new(),
            position: Arc::default(),
        };
        let position = sink.position.clone();
        // A few chunks in flight: enough to keep every lane busy, little memory.
        let (tx, rx) = sync_channel(4);
        let worker = std::thread::Builder::new()
            .name("keyward-archive-writer".into())
            .spawn(move || sink.run(rx))
            .map_err(|source| Error::Io { doing: "start the archive writer", source })?;
        Ok(ArchiveWriter {
            tx: Some(tx),
            worker: Some(worker),
            opts,
            position,
            planned: Vec::new(),
            slots: 0,
            own: None,
        })
    }

    /// Plans component `name` as `parts` parts, written to the archive in the order returned
    /// (whichever lane writes them, and in whatever order they are written). Every part must
    /// be begun and ended, even one without records, before [`finish`](Self::finish).
    pub fn plan_component(&mut self, name: &str, schema_version: u32, parts: u32) -> Result<Vec<Part>> {
        if self.planned.iter().any(|c| &**c == name) {
            return Err(Error::Usage("a component can be written only once"));
        }
        if format::first_format_with(name) > self.opts.format {
            return Err(Error::Usage("this component needs a newer format version"));
        }
        let name: Arc<str> = name.into();
        self.send(Msg::Plan { name: name.clone(), schema_version, parts })?;
        self.planned.push(name.clone());
        let first = self.slots;
        self.slots += parts;
        Ok((first..self.slots).map(|slot| Part { slot, component: name.clone() }).collect())
    }

    /// A lane for writing planned parts from another thread.
    pub fn lane(&self) -> Result<Lane> {
        let tx = self.tx.clone().ok_or(Error::Usage("the writer is finished"))?;
        Ok(Lane {
            tx,
            compressor: compressor(self.opts.level)?,
            chunk_bytes: self.opts.chunk_bytes,
            position: self.position.clone(),
            parts_ahead: self.opts.parts_ahead,
            buffer: Vec::with_capacity(self.opts.chunk_bytes + self.opts.chunk_bytes / 8),
            records: 0,
            open: None,
        })
    }

    /// Starts a component written from this thread alone, as one part.
    pub fn begin_component(&mut self, name: &str, schema_version: u32) -> Result<()> {
        if self.own.as_ref().is_some_and(|l| l.open.is_some()) {
            return Err(Error::Usage("a component is already open"));
        }
        let part = self.plan_component(name, schema_version, 1)?.pop().ok_or(Error::Usage("no part was planned"))?;
        if self.own.is_none() {
            self.own = Some(self.lane()?);
        }
        self.own_lane()?.begin(&part)
    }

    fn own_lane(&mut self) -> Result<&mut Lane> {
        self.own.as_mut().ok_or(Error::Usage("no component is open"))
    }

    pub fn record(&mut self, record: &Record) -> Result<()> {
        self.own_lane()?.record(record)
    }

    pub fn end_component(&mut self) -> Result<()> {
        let ended = self.own_lane()?.end();
        ended.map_err(|e| self.stopped(e))
    }

    fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = self.tx.as_ref().ok_or(Error::Usage("the writer is finished"))?.send(msg);
        sent.map_err(|_| self.stopped(Error::WriterStopped))
    }

    /// When the sink has stopped, the error it stopped with says more than a closed channel.
    fn stopped(&mut self, e: Error) -> Error {
        if !matches!(e, Error::WriterStopped) {
            return e;
        }
        self.tx = None;
        self.own = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => Error::WriterStopped,
        }
    }

    /// Writes the manifest (its `components`, `format` and `authenticated` are filled in here)
    /// and the trailer once every planned part has ended. `mac_key` authenticates the
    /// manifest; without it the archive says so.
    pub fn finish(mut self, manifest: Manifest, mac_key: Option<&[u8]>) -> Result<(W, WriteSummary)> {
        if self.own.as_ref().is_some_and(|l| l.open.is_some()) {
            return Err(Error::Usage("a component is still open"));
        }
        self.own = None;
        let mac_key = mac_key.map(Secret::copy_from);
        self.send(Msg::Finish { manifest: Box::new(manifest), mac_key })?;
        self.tx = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(Error::WriterStopped),
        }
    }
}

impl<W: Write + Send + 'static> Drop for ArchiveWriter<W> {
    fn drop(&mut self) {
        // An unfinished writer: once every lane is gone too, the sink sees the closed channel
        // and stops without writing a trailer.
        self.tx = None;
        self.own = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
