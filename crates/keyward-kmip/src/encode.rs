//! Canonical TTLV encoding.
//!
//! There is exactly one encoding per [`Item`]: fixed sizes for fixed types, minimal zero padding,
//! and structure lengths equal to the sum of their children. Since the decoder rejects every other
//! form, `decode(encode(x)) == x` and `encode(decode(b)) == b` hold together. (The one value the
//! wire cannot carry as given, a Big Integer whose length is not a multiple of 8, is sign-extended
//! to one that is; [`Item::big_integer`] does that up front so built items round-trip exactly.)

use crate::decode::HEADER_LEN;
use crate::error::EncodeError;
use crate::item::{Item, Value, padding_for, sign_fill};

/// Encodes `item` into a fresh buffer of exactly the right size.
///
/// A value longer than 4 GiB cannot be expressed in TTLV; for such an item the result is empty.
/// Use [`try_encode`] where that case must be told apart.
#[must_use]
pub fn encode(item: &Item) -> Vec<u8> {
    try_encode(item).unwrap_or_default()
}

/// Appends the encoding of `item` to `out`. Leaves `out` untouched in the (over 4 GiB) case where
/// [`try_encode_into`] would fail.
pub fn encode_into(item: &Item, out: &mut Vec<u8>) {
    // The only failure is detected before anything is written, so ignoring it leaves `out` as it was.
    let _ = try_encode_into(item, out);
}

/// Encodes `item`, reporting values too long for a TTLV length field.
///
/// # Errors
///
/// [`EncodeError::TooLong`] when a value or structure exceeds the 32-bit length field.
pub fn try_encode(item: &Item) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    try_encode_into(item, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `item` to `out`, reporting values too long for a TTLV length field.
/// Nothing is written when an error is returned.
///
/// # Errors
///
/// [`EncodeError::TooLong`] when a value or structure exceeds the 32-bit length field.
pub fn try_encode_into(item: &Item, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let total = encoded_len(item)?;
    out.reserve(total);
    write_item(item, out);
    Ok(())
}

/// Size in bytes of the encoding of `item`, header and padding included.
///
/// # Errors
///
/// [`EncodeError::TooLong`] when a value or structure exceeds the 32-bit length field.
pub fn encoded_len(item: &Item) -> Result<usize, EncodeError> {
    let value_len = value_len(item)?;
    if u32::try_from(value_len).is_err() {
        return Err(EncodeError::TooLong { tag: item.tag, length: value_len });
    }
    value_len
        .checked_add(padding_for(value_len))
        .and_then(|padded| padded.checked_add(HEADER_LEN))
        .ok_or(EncodeError::TooLong { tag: item.tag, length: value_len })
}

/// Length field of `item`: the value's size without header or padding.
fn value_len(item: &Item) -> Result<usize, EncodeError> {
    Ok(match &item.value {
        Value::Structure(children) => {
            let mut sum = 0usize;
            for child in children {
                sum = sum
                    .checked_add(encoded_len(child)?)
                    .ok_or(EncodeError::TooLong { tag: item.tag, length: usize::MAX })?;
            }
            sum
        }
        Value::Integer(_) | Value::Enumeration(_) | Value::Interval(_) => 4,
        Value::LongInteger(_) | Value::Boolean(_) | Value::DateTime(_) | Value::DateTimeExtended(_) => 8,
        Value::BigInteger(bytes) => bytes
            .len()
            .checked_add(padding_for(bytes.len()))
            .ok_or(EncodeError::TooLong { tag: item.tag, length: bytes.len() })?,
        Value::TextString(text) => text.len(),
        Value::ByteString(bytes) => bytes.len(),
    })
}

/// Writes `item`; every length has already been checked by [`encoded_len`].
fn write_item(item: &Item, out: &mut Vec<u8>) {
    out.extend_from_slice(&item.tag.to_be_bytes());
    out.push(item.value.item_type().to_byte());
    match &item.value {
        Value::Structure(children) => {
            // Back-patched once the children are written, so sizes are not recomputed per level.
            let length_at = out.len();
            out.extend_from_slice(&[0; 4]);
            for child in children {
                write_item(child, out);
            }
            let length = out.len().saturating_sub(length_at + 4);
            if let Some(slot) = out.get_mut(length_at..length_at + 4) {
                slot.copy_from_slice(&length_field(length).to_be_bytes());
            }
        }
        Value::Integer(v) => write_value(out, &v.to_be_bytes()),
        Value::LongInteger(v) => write_value(out, &v.to_be_bytes()),
        Value::BigInteger(bytes) => {
            let extend = padding_for(bytes.len());
            out.extend_from_slice(&length_field(bytes.len() + extend).to_be_bytes());
            // Sign extension on the left keeps the numeric value; zero padding on the right would not.
            out.extend(core::iter::repeat_n(sign_fill(bytes), extend));
            out.extend_from_slice(bytes);
        }
        Value::Enumeration(v) => write_value(out, &v.to_be_bytes()),
        Value::Boolean(v) => write_value(out, &u64::from(*v).to_be_bytes()),
        Value::TextString(text) => write_value(out, text.as_bytes()),
        Value::ByteString(bytes) => write_value(out, bytes),
        Value::DateTime(v) => write_value(out, &v.to_be_bytes()),
        Value::Interval(v) => write_value(out, &v.to_be_bytes()),
        Value::DateTimeExtended(v) => write_value(out, &v.to_be_bytes()),
    }
}

/// Length, value, zero padding: the layout of every non-structure type but Big Integer.
fn write_value(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&length_field(value.len()).to_be_bytes());
    out.extend_from_slice(value);
    out.extend(core::iter::repeat_n(0u8, padding_for(value.len())));
}

/// `len` as a length field; [`encoded_len`] has already rejected anything that does not fit.
fn length_field(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
