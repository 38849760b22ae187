//! Checking an archive while it is written, instead of reading it all back afterwards.
//!
//! [`CheckingWriter`] passes every byte to the writer it wraps and, on a thread of its own,
//! runs the full structural check ([`ArchiveReader::check`]) over the same bytes as they go by,
//! and hashes them. Once the file is on disk, hashing it (cheap: the compressed bytes only)
//! and comparing with the stream's hash proves the file is exactly what was checked, which is
//! what a full read-back check proved, at the cost of one pass over the stored bytes instead of
//! decompressing and hashing every record again after the download has finished.

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use keyward_crypto::Sha256;

use crate::{ArchiveReader, Error, ReadSummary, Result};

pub struct CheckingWriter<W: Write> {
    /// Taken by `finish`.
    inner: Option<W>,
    hash: Sha256,
    tx: Option<SyncSender<Vec<u8>>>,
    checker: Option<JoinHandle<Result<ReadSummary>>>,
    /// A write found the checker gone: the check failed.
    failed: bool,
}

impl<W: Write> CheckingWriter<W> {
    pub fn new(inner: W) -> Result<Self> {
        Self::with_checker_setup(inner, || {})
    }

    /// As [`new`](Self::new), with `setup` run first on the checking thread (to lower its
    /// priority, say).
    pub fn with_checker_setup(inner: W, setup: impl FnOnce() + Send + 'static) -> Result<Self> {
        // Enough in flight to keep both sides busy; a slow checker slows the writer down
        // rather than filling memory.
        let (tx, rx) = sync_channel(64);
        let checker = std::thread::Builder::new()
            .name("keyward-archive-check".into())
            .spawn(move || {
                setup();
                let incoming = Incoming { rx, buf: Vec::new(), pos: 0 };
                ArchiveReader::new(std::io::BufReader::with_capacity(256 * 1024, incoming)).check()
            })
            .map_err(|source| Error::Io { doing: "start the backup check", source })?;
        Ok(CheckingWriter {
            inner: Some(inner),
            hash: Sha256::default(),
            tx: Some(tx),
            checker: Some(checker),
            failed: false,
        })
    }

    /// Whether the check has already failed: the checker reads until the stream ends, so it
    /// stops early only on a defect (which [`finish`](Self::finish) returns).
    pub fn check_failed(&self) -> bool {
        self.failed || self.checker.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// Ends the stream. Returns the writer, what the check found, and the SHA-256 of every
    /// byte written; an archive that failed its check is an error.
    pub fn finish(mut self) -> Result<(W, ReadSummary, [u8; 32])> {
        self.tx = None;
        let summary = match self.checker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result?,
            _ => return Err(Error::Usage("the backup check stopped unexpectedly")),
        };
        let hash = std::mem::take(&mut self.hash).finish();
        let inner = self.inner.take().ok_or(Error::Usage("the backup check was finished twice"))?;
        Ok((inner, summary, hash))
    }
}

impl<W: Write> Write for CheckingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let inner = self.inner.as_mut().ok_or_else(|| std::io::Error::other("the backup check is finished"))?;
        inner.write_all(buf)?;
        self.hash.update(buf);
        let sent = self.tx.as_ref().map(|tx| tx.send(buf.to_vec()));
        if !matches!(sent, Some(Ok(()))) {
            self.failed = true;
            // The checker stopped: the archive already failed its check, which `finish` reports.
            return Err(std::io::Error::other("the backup failed its check while it was being written"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl<W: Write> Drop for CheckingWriter<W> {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(c) = self.checker.take() {
            let _ = c.join();
        }
    }
}

/// The checker's side of the channel, as a reader; the end of the stream is the channel
/// closing.
struct Incoming {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Incoming {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.recv() {
                Ok(next) => (self.buf, self.pos) = (next, 0),
                Err(_) => return Ok(0),
            }
        }
        let left = self.buf.get(self.pos..).unwrap_or_default();
        let n = left.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), left.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}
