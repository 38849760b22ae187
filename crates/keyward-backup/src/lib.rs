//! The Keyward backup archive, format versions 1 and 2: writing, reading and structural
//! verification. The format is a public contract, described byte by byte in
//! `docs/backup-format.md`.
//!
//! The crate takes and yields streams of [`Record`]s; it knows nothing of the store. Key
//! material inside records stays barrier-encrypted exactly as the store holds it, so an archive
//! is useless without the node's startup secret.
//!
//! ```text
//! archive = header || chunk* || manifest || trailer
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod check;
mod format;
mod manifest;
mod reader;
mod records;
mod writer;

#[cfg(test)]
mod tests;

pub use check::CheckingWriter;
pub use format::{FORMAT_V1, FORMAT_VERSION, MAGIC, first_format_with};
pub use manifest::{ChunkEntry, ComponentEntry, Identity, KeyringEntry, Manifest, SealEntry};
pub use reader::{ArchiveReader, ReadSummary, read_manifest};
pub use records::Record;
pub use writer::{ArchiveWriter, Lane, Part, WriteSummary, WriterOptions};

/// The components a full backup holds; a full restore needs every one of them.
pub const REQUIRED_COMPONENTS: &[&str] = &["config", "directory", "keys", "audit"];

/// Where in the archive a problem was found: what `verify` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Header,
    Chunk { component: String, index: u32, offset: u64 },
    Manifest,
    Trailer,
    Offset(u64),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Header => f.write_str("the header"),
            Place::Chunk { component, index, offset } => {
                write!(f, "chunk {index} of component {component:?} (at byte {offset})")
            }
            Place::Manifest => f.write_str("the manifest"),
            Place::Trailer => f.write_str("the trailer"),
            Place::Offset(o) => write!(f, "byte {o}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("not a Keyward backup: the file does not start with the Keyward backup magic")]
    NotAnArchive,
    #[error(
        "this backup uses archive format version {found}, newer than this keyward supports ({supported}); restore it with a newer keyward"
    )]
    NewerFormat { found: u16, supported: u16 },
    #[error("the backup is truncated: it ends inside {place}")]
    Truncated { place: Place },
    #[error("the backup is corrupt: {place}: {problem}")]
    Corrupt { place: Place, problem: String },
    #[error("the backup is incomplete: component {component:?} is {problem}")]
    Incomplete { component: String, problem: &'static str },
    #[error("the backup's manifest is not authentic: it was altered, or it belongs to another node's master key")]
    NotAuthentic,
    #[error("cannot {doing}")]
    Io {
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("a record could not be encoded: {0}")]
    Encode(String),
    #[error("the archive writer stopped before the backup was finished")]
    WriterStopped,
    #[error("the archive writer was used out of order: {0}")]
    Usage(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt(place: Place, problem: impl Into<String>) -> Error {
    Error::Corrupt { place, problem: problem.into() }
}
