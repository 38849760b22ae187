//! The in-memory TTLV tree: [`Item`], [`Value`] and [`ItemType`], with builders and accessors.
//!
//! The tree mirrors the wire format one-to-one (no interpretation of which tags may appear where);
//! that is what makes `encode(decode(bytes)) == bytes` hold for every valid input.

use core::fmt;

use crate::enums::KmipEnum;
use crate::tag::Tag;

/// One TTLV item: a tag and a typed value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Item {
    /// The item's tag.
    pub tag: Tag,
    /// The item's value; its variant determines the TTLV type byte.
    pub value: Value,
}

/// A TTLV value, one variant per item type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// `0x01`: an ordered sequence of items.
    Structure(Vec<Item>),
    /// `0x02`: a signed 32-bit integer.
    Integer(i32),
    /// `0x03`: a signed 64-bit integer.
    LongInteger(i64),
    /// `0x04`: a two's-complement big-endian integer. On the wire its length is a multiple of 8;
    /// [`Item::big_integer`] sign-extends to that, and [`encode`](crate::encode) does the same for a
    /// hand-built value whose length is not a multiple of 8 (which then decodes to the extended bytes).
    BigInteger(Vec<u8>),
    /// `0x05`: an unsigned 32-bit enumeration value (see [`crate::enums`]).
    Enumeration(u32),
    /// `0x06`: a boolean, encoded as a 64-bit 0 or 1.
    Boolean(bool),
    /// `0x07`: UTF-8 text.
    TextString(String),
    /// `0x08`: opaque bytes.
    ByteString(Vec<u8>),
    /// `0x09`: seconds since the Unix epoch.
    DateTime(i64),
    /// `0x0A`: a duration in seconds.
    Interval(u32),
    /// `0x0B` (KMIP 2.0): microseconds since the Unix epoch.
    DateTimeExtended(i64),
}

/// The TTLV item type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ItemType {
    /// `0x01`
    Structure = 0x01,
    /// `0x02`
    Integer = 0x02,
    /// `0x03`
    LongInteger = 0x03,
    /// `0x04`
    BigInteger = 0x04,
    /// `0x05`
    Enumeration = 0x05,
    /// `0x06`
    Boolean = 0x06,
    /// `0x07`
    TextString = 0x07,
    /// `0x08`
    ByteString = 0x08,
    /// `0x09`
    DateTime = 0x09,
    /// `0x0A`
    Interval = 0x0A,
    /// `0x0B`, KMIP 2.0 only.
    DateTimeExtended = 0x0B,
}

impl ItemType {
    /// The type for a wire byte, or `None` for bytes no KMIP version defines.
    pub const fn from_byte(byte: u8) -> Option<ItemType> {
        Some(match byte {
            0x01 => ItemType::Structure,
            0x02 => ItemType::Integer,
            0x03 => ItemType::LongInteger,
            0x04 => ItemType::BigInteger,
            0x05 => ItemType::Enumeration,
            0x06 => ItemType::Boolean,
            0x07 => ItemType::TextString,
            0x08 => ItemType::ByteString,
            0x09 => ItemType::DateTime,
            0x0A => ItemType::Interval,
            0x0B => ItemType::DateTimeExtended,
            _ => return None,
        })
    }

    /// The wire byte.
    pub const fn to_byte(self) -> u8 {
        self as u8
    }

    /// Specification name, e.g. `"Text String"`.
    pub const fn name(self) -> &'static str {
        match self {
            ItemType::Structure => "Structure",
            ItemType::Integer => "Integer",
            ItemType::LongInteger => "Long Integer",
            ItemType::BigInteger => "Big Integer",
            ItemType::Enumeration => "Enumeration",
            ItemType::Boolean => "Boolean",
            ItemType::TextString => "Text String",
            ItemType::ByteString => "Byte String",
            ItemType::DateTime => "Date-Time",
            ItemType::Interval => "Interval",
            ItemType::DateTimeExtended => "Date-Time Extended",
        }
    }

    /// The only legal length field for fixed-size types; `None` for variable-length ones.
    pub const fn fixed_length(self) -> Option<u32> {
        match self {
            ItemType::Integer | ItemType::Enumeration | ItemType::Interval => Some(4),
            ItemType::LongInteger | ItemType::Boolean | ItemType::DateTime | ItemType::DateTimeExtended => Some(8),
            ItemType::Structure | ItemType::BigInteger | ItemType::TextString | ItemType::ByteString => None,
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Value {
    /// The TTLV type this value is encoded as.
    pub const fn item_type(&self) -> ItemType {
        match self {
            Value::Structure(_) => ItemType::Structure,
            Value::Integer(_) => ItemType::Integer,
            Value::LongInteger(_) => ItemType::LongInteger,
            Value::BigInteger(_) => ItemType::BigInteger,
            Value::Enumeration(_) => ItemType::Enumeration,
            Value::Boolean(_) => ItemType::Boolean,
            Value::TextString(_) => ItemType::TextString,
            Value::ByteString(_) => ItemType::ByteString,
            Value::DateTime(_) => ItemType::DateTime,
            Value::Interval(_) => ItemType::Interval,
            Value::DateTimeExtended(_) => ItemType::DateTimeExtended,
        }
    }
}

/// Builders. Each takes the tag first, mirroring the wire order.
impl Item {
    /// An item from its parts.
    pub const fn new(tag: Tag, value: Value) -> Item {
        Item { tag, value }
    }

    /// A Structure holding `children` in order.
    pub fn structure(tag: Tag, children: Vec<Item>) -> Item {
        Item::new(tag, Value::Structure(children))
    }

    /// An Integer.
    pub const fn integer(tag: Tag, value: i32) -> Item {
        Item::new(tag, Value::Integer(value))
    }

    /// A Long Integer.
    pub const fn long_integer(tag: Tag, value: i64) -> Item {
        Item::new(tag, Value::LongInteger(value))
    }

    /// A Big Integer from two's-complement big-endian bytes, sign-extended to a multiple of 8 bytes
    /// so that the item decodes back to exactly what was built.
    pub fn big_integer(tag: Tag, twos_complement_be: impl Into<Vec<u8>>) -> Item {
        let mut bytes = twos_complement_be.into();
        let pad = padding_for(bytes.len());
        if pad != 0 {
            let fill = sign_fill(&bytes);
            bytes.splice(0..0, core::iter::repeat_n(fill, pad));
        }
        Item::new(tag, Value::BigInteger(bytes))
    }

    /// An Enumeration; accepts a raw `u32` or any enum from [`crate::enums`].
    pub fn enumeration(tag: Tag, value: impl Into<u32>) -> Item {
        Item::new(tag, Value::Enumeration(value.into()))
    }

    /// A Boolean.
    pub const fn boolean(tag: Tag, value: bool) -> Item {
        Item::new(tag, Value::Boolean(value))
    }

    /// A Text String.
    pub fn text(tag: Tag, value: impl Into<String>) -> Item {
        Item::new(tag, Value::TextString(value.into()))
    }

    /// A Byte String.
    pub fn bytes(tag: Tag, value: impl Into<Vec<u8>>) -> Item {
        Item::new(tag, Value::ByteString(value.into()))
    }

    /// A Date-Time, in seconds since the Unix epoch.
    pub const fn date_time(tag: Tag, unix_seconds: i64) -> Item {
        Item::new(tag, Value::DateTime(unix_seconds))
    }

    /// An Interval, in seconds.
    pub const fn interval(tag: Tag, seconds: u32) -> Item {
        Item::new(tag, Value::Interval(seconds))
    }

    /// A Date-Time Extended (KMIP 2.0), in microseconds since the Unix epoch.
    pub const fn date_time_extended(tag: Tag, unix_micros: i64) -> Item {
        Item::new(tag, Value::DateTimeExtended(unix_micros))
    }
}

/// Accessors. Each returns `None` when the item has a different type, so protocol code can chain
/// them with `?` and turn a `None` into the appropriate KMIP result reason.
impl Item {
    /// The TTLV type of this item.
    pub const fn item_type(&self) -> ItemType {
        self.value.item_type()
    }

    /// The first child with `tag`, if this is a Structure that has one.
    pub fn child(&self, tag: Tag) -> Option<&Item> {
        self.as_struct()?.iter().find(|c| c.tag == tag)
    }

    /// Mutable access to the first child with `tag`.
    pub fn child_mut(&mut self, tag: Tag) -> Option<&mut Item> {
        self.as_struct_mut()?.iter_mut().find(|c| c.tag == tag)
    }

    /// Every child with `tag`, in order; empty when this is not a Structure.
    pub fn children(&self, tag: Tag) -> impl Iterator<Item = &Item> {
        self.as_struct().unwrap_or_default().iter().filter(move |c| c.tag == tag)
    }

    /// The children of a Structure.
    pub fn as_struct(&self) -> Option<&[Item]> {
        match &self.value {
            Value::Structure(children) => Some(children),
            _ => None,
        }
    }

    /// Mutable children of a Structure, e.g. to push a new item.
    pub fn as_struct_mut(&mut self) -> Option<&mut Vec<Item>> {
        match &mut self.value {
            Value::Structure(children) => Some(children),
            _ => None,
        }
    }

    /// The value of an Integer.
    pub const fn as_int(&self) -> Option<i32> {
        match self.value {
            Value::Integer(v) => Some(v),
            _ => None,
        }
    }

    /// The value of a Long Integer.
    pub const fn as_long(&self) -> Option<i64> {
        match self.value {
            Value::LongInteger(v) => Some(v),
            _ => None,
        }
    }

    /// The two's-complement big-endian bytes of a Big Integer.
    pub fn as_big_int(&self) -> Option<&[u8]> {
        match &self.value {
            Value::BigInteger(v) => Some(v),
            _ => None,
        }
    }

    /// The raw value of an Enumeration.
    pub const fn as_enum(&self) -> Option<u32> {
        match self.value {
            Value::Enumeration(v) => Some(v),
            _ => None,
        }
    }

    /// The value of an Enumeration as a typed KMIP enum; `None` if the item is not an
    /// Enumeration or carries a value `E` does not define.
    pub fn as_kmip_enum<E: KmipEnum>(&self) -> Option<E> {
        E::from_value(self.as_enum()?)
    }

    /// The value of a Boolean.
    pub const fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Boolean(v) => Some(v),
            _ => None,
        }
    }

    /// The value of a Text String.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::TextString(v) => Some(v),
            _ => None,
        }
    }

    /// The value of a Byte String.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Value::ByteString(v) => Some(v),
            _ => None,
        }
    }

    /// The value of a Date-Time, in seconds since the Unix epoch.
    pub const fn as_datetime(&self) -> Option<i64> {
        match self.value {
            Value::DateTime(v) => Some(v),
            _ => None,
        }
    }

    /// The value of a Date-Time Extended, in microseconds since the Unix epoch.
    pub const fn as_datetime_extended(&self) -> Option<i64> {
        match self.value {
            Value::DateTimeExtended(v) => Some(v),
            _ => None,
        }
    }

    /// The value of an Interval, in seconds.
    pub const fn as_interval(&self) -> Option<u32> {
        match self.value {
            Value::Interval(v) => Some(v),
            _ => None,
        }
    }
}

/// Zero bytes needed after `len` value bytes to reach the next multiple of 8.
pub(crate) const fn padding_for(len: usize) -> usize {
    (8 - len % 8) % 8
}

/// The byte that sign-extends a two's-complement big-endian number.
pub(crate) fn sign_fill(bytes: &[u8]) -> u8 {
    match bytes.first() {
        Some(b) if b & 0x80 != 0 => 0xFF,
        _ => 0x00,
    }
}

#[cfg(test)]
mod tests {
    use super::{padding_for, sign_fill};

    #[test]
    fn padding_reaches_the_next_multiple_of_eight() {
        let expected = [0, 7, 6, 5, 4, 3, 2, 1, 0, 7];
        for (len, pad) in expected.iter().enumerate() {
            assert_eq!(padding_for(len), *pad, "len {len}");
        }
        assert_eq!(padding_for(usize::MAX), 1);
    }

    #[test]
    fn sign_fill_follows_the_top_bit() {
        assert_eq!(sign_fill(&[]), 0x00);
        assert_eq!(sign_fill(&[0x7F, 0xFF]), 0x00);
        assert_eq!(sign_fill(&[0x80]), 0xFF);
    }
}
