//! Human-readable dumps of an item tree, for logs, test failures and test vectors.
//!
//! One line per item, indented two spaces per level:
//!
//! ```text
//! Request Message (0x420078) Structure
//!   Request Header (0x420077) Structure
//!     Protocol Version (0x420069) Structure
//!       Protocol Version Major (0x42006A) Integer = 1
//!       Protocol Version Minor (0x42006B) Integer = 4
//!     Batch Count (0x42000D) Integer = 1
//!   Batch Item (0x42000F) Structure
//!     Operation (0x42005C) Enumeration = Get (0x0000000A)
//!     Request Payload (0x420079) Structure
//!       Unique Identifier (0x420094) Text String = "key-1"
//! ```
//!
//! `Display` on [`Item`] hides every byte string, big integer and password-like text: key servers
//! handle secrets, and a dump must be safe to log by default. [`Item::unredacted`] shows every
//! value in full, for test vectors and debugging with throwaway keys.

use core::fmt;

use crate::enums::{enumeration_value_name, fmt_mask_for_tag};
use crate::item::{Item, Value};
use crate::tag::Tag;

/// Display adapter that hides secret material; see [`Item::redacted`].
#[derive(Clone, Copy)]
pub struct Redacted<'a>(&'a Item);

impl Item {
    /// A `Display` view of the tree that replaces every Byte String and Big Integer (key material,
    /// wrapped keys, signatures, private exponents) with its length, and password-like Text Strings
    /// with `<redacted>`. Structure, tags, types and all other values are shown as usual.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self)
    }
}

impl Item {
    /// A `Display` view that prints every value in full, secrets included. Never log it.
    pub fn unredacted(&self) -> Unredacted<'_> {
        Unredacted(self)
    }
}

/// Display adapter that shows every value; see [`Item::unredacted`].
#[derive(Clone, Copy)]
pub struct Unredacted<'a>(&'a Item);

impl fmt::Display for Unredacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(f, self.0, 0, false)
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(f, self, 0, true)
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(f, self.0, 0, true)
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Text-string tags whose values are credentials.
const SECRET_TEXT_TAGS: &[Tag] = &[Tag::PASSWORD, Tag::ONE_TIME_PASSWORD, Tag::CREDENTIAL_VALUE];

fn write_tree(f: &mut fmt::Formatter<'_>, item: &Item, depth: usize, redact: bool) -> fmt::Result {
    for _ in 0..depth {
        f.write_str("  ")?;
    }
    match item.tag.name() {
        Some(name) => write!(f, "{name} ({:#08X})", item.tag.value())?,
        None => write!(f, "{:#08X}", item.tag.value())?,
    }
    write!(f, " {}", item.item_type())?;
    match &item.value {
        Value::Structure(children) => {
            for child in children {
                f.write_str("\n")?;
                write_tree(f, child, depth + 1, redact)?;
            }
            Ok(())
        }
        Value::Integer(v) => {
            write!(f, " = {v}")?;
            fmt_mask_for_tag(item.tag, *v, f).unwrap_or(Ok(()))
        }
        Value::LongInteger(v) => write!(f, " = {v}"),
        Value::BigInteger(bytes) | Value::ByteString(bytes) => write_bytes(f, bytes, redact),
        Value::Enumeration(v) => match enumeration_value_name(item.tag, *v) {
            Some(name) => write!(f, " = {name} ({v:#010X})"),
            None => write!(f, " = {v:#010X}"),
        },
        Value::Boolean(v) => write!(f, " = {v}"),
        Value::TextString(text) => {
            if redact && SECRET_TEXT_TAGS.contains(&item.tag) {
                f.write_str(" = <redacted>")
            } else {
                // Debug formatting escapes quotes and control characters, so a hostile string cannot
                // forge extra log lines.
                write!(f, " = {text:?}")
            }
        }
        Value::DateTime(secs) => {
            f.write_str(" = ")?;
            if write_utc(f, *secs, None)? { write!(f, " ({secs})") } else { write!(f, "{secs}") }
        }
        Value::Interval(secs) => write!(f, " = {secs} s"),
        Value::DateTimeExtended(micros) => {
            f.write_str(" = ")?;
            let secs = micros.div_euclid(1_000_000);
            let sub = micros.rem_euclid(1_000_000);
            if write_utc(f, secs, Some(sub))? { write!(f, " ({micros} us)") } else { write!(f, "{micros} us") }
        }
    }
}

fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8], redact: bool) -> fmt::Result {
    if redact {
        return write!(f, " = <{} bytes>", bytes.len());
    }
    f.write_str(" = ")?;
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    if !bytes.is_empty() {
        f.write_str(" ")?;
    }
    write!(f, "({} bytes)", bytes.len())
}

/// Writes `secs` (plus optional microseconds) as an RFC 3339 UTC timestamp. Returns `Ok(false)`,
/// writing nothing, for instants outside years 0000–9999, which RFC 3339 cannot express.
fn write_utc(f: &mut fmt::Formatter<'_>, secs: i64, micros: Option<i64>) -> Result<bool, fmt::Error> {
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&secs) {
        return Ok(false);
    }
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let second_of_day = secs.rem_euclid(86_400);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")?;
    if let Some(micros) = micros {
        write!(f, ".{micros:06}")?;
    }
    f.write_str("Z")?;
    Ok(true)
}

/// Proleptic Gregorian date for a count of days since 1970-01-01 (Howard Hinnant's algorithm).
/// Callers keep `days` within years 0000–9999, so no step can overflow.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    /// Inverse of `civil_from_days`, written independently: day count of a proleptic Gregorian date.
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let is_leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = [31, if is_leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut days = 0;
        if year >= 1970 {
            for y in 1970..year {
                days += if is_leap(y) { 366 } else { 365 };
            }
        } else {
            for y in year..1970 {
                days -= if is_leap(y) { 366 } else { 365 };
            }
        }
        days + month_days[..(month - 1) as usize].iter().sum::<i64>() + day - 1
    }

    #[test]
    fn calendar_conversion_matches_a_naive_count() {
        // First and last day of every year in a range spanning the 0000 and 9999 limits' eras,
        // plus every leap day in it.
        for year in [0, 1, 4, 99, 100, 400, 1600, 1900, 1969, 1970, 2000, 2024, 2100, 9999] {
            for (month, day) in [(1, 1), (2, 28), (3, 1), (12, 31)] {
                let days = days_from_civil(year, month, day);
                assert_eq!(civil_from_days(days), (year, month, day));
            }
        }
        for year in (0..=9999).filter(|y| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0) {
            let days = days_from_civil(year, 2, 29);
            assert_eq!(civil_from_days(days), (year, 2, 29));
        }
    }
}
