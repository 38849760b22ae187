//! Strict TTLV decoding of untrusted bytes, plus [`message_length`] for framing a byte stream.
//!
//! The decoder is deliberately unforgiving: anything a conforming peer would never send (dirty
//! padding, odd lengths, booleans other than 0/1, invalid UTF-8, trailing bytes) is an error. That
//! strictness is what makes re-encoding a decoded message reproduce the input byte for byte.
//!
//! Resource use is bounded by [`Limits`] and by the input itself: no allocation is sized from a
//! length field until that length has been checked against the bytes actually present, and the
//! recursion depth is capped.

use crate::error::DecodeError;
use crate::item::{Item, ItemType, Value, padding_for};
use crate::tag::Tag;

/// Size of a TTLV item header (tag, type, length); a stream reader needs this many bytes before
/// [`message_length`] can answer.
pub const HEADER_LEN: usize = 8;

/// Resource limits applied while decoding untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest accepted message, header included. Checked before any other work.
    pub max_message_bytes: usize,
    /// Deepest accepted nesting; the top-level item is at depth 1, its children at depth 2, and so
    /// on. Values above [`Limits::HARD_MAX_DEPTH`] are treated as that cap.
    pub max_depth: usize,
    /// Most items (of any type, the top-level one included) accepted in one message.
    pub max_items: usize,
}

impl Limits {
    /// Ceiling on [`Limits::max_depth`], whatever is configured: decoding, encoding, dropping and
    /// printing an item tree all recurse once per level, and this keeps that far inside a default
    /// 2 MiB thread stack.
    pub const HARD_MAX_DEPTH: usize = 256;

    /// 1 MiB messages, 32 levels, 100 000 items: generous for any KMIP request (real ones nest
    /// under ten levels) while keeping a hostile message's memory cost small.
    pub const DEFAULT: Limits = Limits { max_message_bytes: 1 << 20, max_depth: 32, max_items: 100_000 };

    fn effective_depth(&self) -> usize {
        self.max_depth.min(Self::HARD_MAX_DEPTH)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Decodes exactly one TTLV item occupying all of `bytes`.
///
/// Any item type is accepted at the top level (the spec's own examples are lone Integers and the
/// like); a server reading requests should frame them with [`message_length`], which insists on a
/// Structure.
///
/// # Errors
///
/// Any violation of the TTLV rules or of `limits`, reported with the offset and tag of the
/// offending item. [`DecodeError::framing_intact`] tells whether the connection can continue.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Item, DecodeError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(DecodeError::MessageTooLarge { length: bytes.len(), limit: limits.max_message_bytes });
    }
    let mut decoder =
        Decoder { input: bytes, items: 0, max_items: limits.max_items, max_depth: limits.effective_depth() };
    let (item, end) = decoder.item(0, bytes.len(), None, 1)?;
    if end != bytes.len() {
        return Err(DecodeError::TrailingBytes { offset: end, count: bytes.len().saturating_sub(end) });
    }
    Ok(item)
}

/// Total size of the message whose first bytes are `header`, so a stream reader knows how much more
/// to read; `Ok(None)` while fewer than [`HEADER_LEN`] bytes are available.
///
/// Only the first eight bytes are examined. The message must be a Structure (KMIP requests and
/// responses always are) whose length is a multiple of 8 and whose total size is within
/// [`Limits::max_message_bytes`].
///
/// # Errors
///
/// [`DecodeError::TopLevelNotStructure`], [`DecodeError::InvalidLength`] or
/// [`DecodeError::MessageTooLarge`]; each means the stream cannot be resynchronised
/// ([`DecodeError::framing_intact`] is `false`).
pub fn message_length(header: &[u8], limits: &Limits) -> Result<Option<usize>, DecodeError> {
    let Some(header) = header.get(..HEADER_LEN).and_then(|h| <[u8; HEADER_LEN]>::try_from(h).ok()) else {
        return Ok(None);
    };
    let Header { tag, type_byte, length } = Header::parse(header);
    if type_byte != ItemType::Structure.to_byte() {
        return Err(DecodeError::TopLevelNotStructure { tag, item_type: type_byte });
    }
    if length % 8 != 0 {
        return Err(DecodeError::InvalidLength { offset: 0, tag, item_type: ItemType::Structure, length });
    }
    let total = usize::try_from(length).ok().and_then(|l| l.checked_add(HEADER_LEN)).unwrap_or(usize::MAX);
    if total > limits.max_message_bytes {
        return Err(DecodeError::MessageTooLarge { length: total, limit: limits.max_message_bytes });
    }
    Ok(Some(total))
}

struct Header {
    tag: Tag,
    type_byte: u8,
    length: u32,
}

impl Header {
    fn parse(bytes: [u8; HEADER_LEN]) -> Header {
        let [t0, t1, t2, type_byte, l0, l1, l2, l3] = bytes;
        Header { tag: Tag::from_be_bytes([t0, t1, t2]), type_byte, length: u32::from_be_bytes([l0, l1, l2, l3]) }
    }
}

struct Decoder<'a> {
    input: &'a [u8],
    items: usize,
    max_items: usize,
    max_depth: usize,
}

impl Decoder<'_> {
    /// Decodes the item starting at `offset`, which must end by `bound` (the end of the enclosing
    /// structure's value, or of the input for the top level). Returns the item and the offset just
    /// past its padding.
    fn item(
        &mut self,
        offset: usize,
        bound: usize,
        parent: Option<Tag>,
        depth: usize,
    ) -> Result<(Item, usize), DecodeError> {
        let available = bound.saturating_sub(offset);
        let header = offset
            .checked_add(HEADER_LEN)
            .filter(|&end| end <= bound)
            .and_then(|end| self.input.get(offset..end))
            .and_then(|h| <[u8; HEADER_LEN]>::try_from(h).ok());
        // Inside a structure this cannot happen: structure lengths are multiples of 8 and so is
        // every child, so a non-empty remainder always holds a whole header.
        let Some(header) = header else {
            return Err(DecodeError::Truncated { offset, needed: HEADER_LEN, available });
        };
        let Header { tag, type_byte, length } = Header::parse(header);

        if depth > self.max_depth {
            return Err(DecodeError::DepthLimitExceeded { offset, tag, limit: self.max_depth });
        }
        self.items = self.items.saturating_add(1);
        if self.items > self.max_items {
            return Err(DecodeError::ItemLimitExceeded { offset, limit: self.max_items });
        }

        let Some(item_type) = ItemType::from_byte(type_byte) else {
            return Err(DecodeError::UnknownItemType { offset, tag, item_type: type_byte });
        };
        let length_ok = match item_type.fixed_length() {
            Some(fixed) => length == fixed,
            None => match item_type {
                ItemType::Structure | ItemType::BigInteger => length % 8 == 0,
                _ => true,
            },
        };
        if !length_ok {
            return Err(DecodeError::InvalidLength { offset, tag, item_type, length });
        }

        // Checked arithmetic: on 32-bit targets a length near 4 GiB must not wrap past the bound.
        let value_start = offset.saturating_add(HEADER_LEN);
        let value_len = usize::try_from(length).ok();
        let end = value_len.and_then(|len| value_start.checked_add(len)?.checked_add(padding_for(len)));
        let (value_len, end) = match (value_len, end) {
            (Some(len), Some(end)) if end <= bound => (len, end),
            _ => {
                // In u64 a u32 length plus padding and header cannot overflow.
                let needed =
                    usize::try_from(u64::from(length).next_multiple_of(8) + HEADER_LEN as u64).unwrap_or(usize::MAX);
                return Err(match parent {
                    None => DecodeError::Truncated { offset, needed, available },
                    Some(parent) => DecodeError::StructureOverrun { offset, tag, parent, parent_end: bound },
                });
            }
        };
        let value_end = value_start.saturating_add(value_len);
        let (Some(value), Some(padding)) = (self.input.get(value_start..value_end), self.input.get(value_end..end))
        else {
            // Unreachable: `end <= bound <= input.len()` was established above.
            return Err(DecodeError::Truncated { offset, needed: end.saturating_sub(offset), available });
        };
        if padding.iter().any(|&b| b != 0) {
            return Err(DecodeError::NonZeroPadding { offset, tag });
        }

        let value = match item_type {
            ItemType::Structure => {
                // Grows with items actually decoded, never with the untrusted length field.
                let mut children = Vec::new();
                let mut pos = value_start;
                while pos < end {
                    let (child, next) = self.item(pos, end, Some(tag), depth.saturating_add(1))?;
                    children.push(child);
                    pos = next;
                }
                Value::Structure(children)
            }
            ItemType::Integer => Value::Integer(i32::from_be_bytes(fixed(value, offset, tag, item_type, length)?)),
            ItemType::LongInteger => {
                Value::LongInteger(i64::from_be_bytes(fixed(value, offset, tag, item_type, length)?))
            }
            ItemType::BigInteger => Value::BigInteger(value.to_vec()),
            ItemType::Enumeration => {
                Value::Enumeration(u32::from_be_bytes(fixed(value, offset, tag, item_type, length)?))
            }
            ItemType::Boolean => match u64::from_be_bytes(fixed(value, offset, tag, item_type, length)?) {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                other => return Err(DecodeError::InvalidBoolean { offset, tag, value: other }),
            },
            ItemType::TextString => match core::str::from_utf8(value) {
                Ok(text) => Value::TextString(text.to_owned()),
                Err(e) => return Err(DecodeError::InvalidUtf8 { offset, tag, valid_up_to: e.valid_up_to() }),
            },
            ItemType::ByteString => Value::ByteString(value.to_vec()),
            ItemType::DateTime => Value::DateTime(i64::from_be_bytes(fixed(value, offset, tag, item_type, length)?)),
            ItemType::Interval => Value::Interval(u32::from_be_bytes(fixed(value, offset, tag, item_type, length)?)),
            ItemType::DateTimeExtended => {
                Value::DateTimeExtended(i64::from_be_bytes(fixed(value, offset, tag, item_type, length)?))
            }
        };
        Ok((Item { tag, value }, end))
    }
}

/// The value bytes of a fixed-size type as an array; the length was already validated, so the
/// error arm only guards against a logic slip.
fn fixed<const N: usize>(
    value: &[u8],
    offset: usize,
    tag: Tag,
    item_type: ItemType,
    length: u32,
) -> Result<[u8; N], DecodeError> {
    <[u8; N]>::try_from(value).map_err(|_| DecodeError::InvalidLength { offset, tag, item_type, length })
}
