//! Errors reported by the decoder and encoder.
//!
//! Every decode error carries the byte offset of the offending item (relative to the start of the
//! buffer handed to [`decode`](crate::decode)) and, where one was readable, its tag, so a server can
//! log precisely what a client got wrong and still answer with a KMIP `Invalid Message` result.

use crate::item::ItemType;
use crate::tag::Tag;

/// Why a byte sequence is not a valid TTLV message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message (the whole input, or the size a header announces) is larger than
    /// [`Limits::max_message_bytes`](crate::Limits::max_message_bytes).
    #[error("message of {length} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the input, or the total size the top-level header announced.
        length: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The input ends before the item at `offset` does.
    #[error("input truncated: item at offset {offset} needs {needed} bytes, only {available} available")]
    Truncated {
        /// Start of the item (or header) that is cut short.
        offset: usize,
        /// Bytes the item needs, counted from `offset`, padding included.
        needed: usize,
        /// Bytes actually present from `offset` on.
        available: usize,
    },

    /// Bytes follow the single top-level item.
    #[error("{count} trailing bytes after the top-level item, starting at offset {offset}")]
    TrailingBytes {
        /// Where the extra bytes start (the end of the top-level item).
        offset: usize,
        /// How many extra bytes there are.
        count: usize,
    },

    /// A message header announces something other than a Structure; KMIP messages are always
    /// Request Message or Response Message structures.
    #[error("top-level item {tag} has type byte {item_type:#04x}, expected a Structure (0x01)")]
    TopLevelNotStructure {
        /// Tag of the top-level item.
        tag: Tag,
        /// The type byte found.
        item_type: u8,
    },

    /// The type byte is not one of the types defined by KMIP 1.0–2.1.
    #[error("unknown item type byte {item_type:#04x} for {tag} at offset {offset}")]
    UnknownItemType {
        /// Start of the item.
        offset: usize,
        /// Tag of the item.
        tag: Tag,
        /// The type byte found.
        item_type: u8,
    },

    /// The length field is not allowed for the item's type (for example an Integer whose length
    /// is not 4, or a Structure or Big Integer whose length is not a multiple of 8).
    #[error("length {length} is not valid for {item_type} item {tag} at offset {offset}")]
    InvalidLength {
        /// Start of the item.
        offset: usize,
        /// Tag of the item.
        tag: Tag,
        /// Type of the item.
        item_type: ItemType,
        /// The length field found.
        length: u32,
    },

    /// A padding byte after the value is not zero.
    #[error("non-zero padding after {tag} at offset {offset}")]
    NonZeroPadding {
        /// Start of the item whose padding is dirty.
        offset: usize,
        /// Tag of the item.
        tag: Tag,
    },

    /// A Boolean holds something other than 0 or 1.
    #[error("boolean {tag} at offset {offset} holds {value:#x}, expected 0 or 1")]
    InvalidBoolean {
        /// Start of the item.
        offset: usize,
        /// Tag of the item.
        tag: Tag,
        /// The 64-bit value found.
        value: u64,
    },

    /// A Text String is not valid UTF-8.
    #[error("text string {tag} at offset {offset} is not valid UTF-8 after byte {valid_up_to}")]
    InvalidUtf8 {
        /// Start of the item.
        offset: usize,
        /// Tag of the item.
        tag: Tag,
        /// Length of the longest valid UTF-8 prefix of the value.
        valid_up_to: usize,
    },

    /// A child item extends past the end of its enclosing Structure.
    #[error("{tag} at offset {offset} extends past the end of structure {parent}, which ends at offset {parent_end}")]
    StructureOverrun {
        /// Start of the child item.
        offset: usize,
        /// Tag of the child item.
        tag: Tag,
        /// Tag of the enclosing structure.
        parent: Tag,
        /// Offset just past the enclosing structure's value.
        parent_end: usize,
    },

    /// Structures are nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("{tag} at offset {offset} is nested deeper than the limit of {limit} levels")]
    DepthLimitExceeded {
        /// Start of the first item that is too deep.
        offset: usize,
        /// Its tag.
        tag: Tag,
        /// The effective depth limit.
        limit: usize,
    },

    /// The message holds more than [`Limits::max_items`](crate::Limits::max_items) items.
    #[error("more than {limit} items in the message (limit reached at offset {offset})")]
    ItemLimitExceeded {
        /// Start of the first item over the limit.
        offset: usize,
        /// The configured limit.
        limit: usize,
    },
}

impl DecodeError {
    /// Whether the message boundaries on the stream are still known, so the server can send a
    /// KMIP error response (result reason `Invalid Message`) and go on reading the next request.
    ///
    /// This is `true` when the top-level header was sound and the input had exactly the announced
    /// size, i.e. the fault is inside the message. It is `false` when the header itself was
    /// unreadable, announced a non-structure or an oversized message, or the input length disagreed
    /// with it: the reader cannot know where the next message starts and must close the connection
    /// (after an optional best-effort error response).
    pub fn framing_intact(&self) -> bool {
        match self {
            DecodeError::MessageTooLarge { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::TrailingBytes { .. }
            | DecodeError::TopLevelNotStructure { .. } => false,
            // At offset 0 these concern the top-level header itself.
            DecodeError::UnknownItemType { offset, .. } | DecodeError::InvalidLength { offset, .. } => *offset != 0,
            DecodeError::NonZeroPadding { .. }
            | DecodeError::InvalidBoolean { .. }
            | DecodeError::InvalidUtf8 { .. }
            | DecodeError::StructureOverrun { .. }
            | DecodeError::DepthLimitExceeded { .. }
            | DecodeError::ItemLimitExceeded { .. } => true,
        }
    }

    /// Byte offset of the offending item, when the error concerns one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            DecodeError::MessageTooLarge { .. } => None,
            DecodeError::TopLevelNotStructure { .. } => Some(0),
            DecodeError::Truncated { offset, .. }
            | DecodeError::TrailingBytes { offset, .. }
            | DecodeError::UnknownItemType { offset, .. }
            | DecodeError::InvalidLength { offset, .. }
            | DecodeError::NonZeroPadding { offset, .. }
            | DecodeError::InvalidBoolean { offset, .. }
            | DecodeError::InvalidUtf8 { offset, .. }
            | DecodeError::StructureOverrun { offset, .. }
            | DecodeError::DepthLimitExceeded { offset, .. }
            | DecodeError::ItemLimitExceeded { offset, .. } => Some(*offset),
        }
    }

    /// Tag of the offending item, when its header was readable.
    pub fn tag(&self) -> Option<Tag> {
        match self {
            DecodeError::MessageTooLarge { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::TrailingBytes { .. }
            | DecodeError::ItemLimitExceeded { .. } => None,
            DecodeError::TopLevelNotStructure { tag, .. }
            | DecodeError::UnknownItemType { tag, .. }
            | DecodeError::InvalidLength { tag, .. }
            | DecodeError::NonZeroPadding { tag, .. }
            | DecodeError::InvalidBoolean { tag, .. }
            | DecodeError::InvalidUtf8 { tag, .. }
            | DecodeError::StructureOverrun { tag, .. }
            | DecodeError::DepthLimitExceeded { tag, .. } => Some(*tag),
        }
    }
}

/// Why an [`Item`](crate::Item) cannot be expressed in TTLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A value (or a structure's contents) is longer than the 32-bit length field can express.
    #[error("{tag} needs a length of {length} bytes, more than a TTLV length field can hold")]
    TooLong {
        /// Tag of the item that is too long.
        tag: Tag,
        /// Its value length in bytes.
        length: usize,
    },
}
