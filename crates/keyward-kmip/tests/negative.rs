// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Malformed input: every strictness rule of the decoder and the framing helper, each with the
//! exact error (offset, tag, reason) a server would log, and whether the connection survives.

mod common;

use common::{CREATE_REQUEST_V1_1_HEX, spec_hex};
use keyward_kmip::{DecodeError, ItemType, Limits, Tag, decode, message_length};

const EXAMPLE: Tag = Tag::COMPROMISE_DATE;

fn err(hex: &str) -> DecodeError {
    decode(&spec_hex(hex), &Limits::default()).unwrap_err()
}

/// Wraps `inner` (already-encoded items) in a structure with `tag`.
fn structure(tag: u32, inner: &[u8]) -> Vec<u8> {
    let mut out = tag.to_be_bytes()[1..].to_vec();
    out.push(0x01);
    out.extend_from_slice(&u32::try_from(inner.len()).unwrap().to_be_bytes());
    out.extend_from_slice(inner);
    out
}

#[test]
fn non_zero_padding_is_rejected() {
    let e = err("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 01 00");
    assert_eq!(e, DecodeError::NonZeroPadding { offset: 0, tag: EXAMPLE });
    let e = err("42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 20");
    assert_eq!(e, DecodeError::NonZeroPadding { offset: 0, tag: EXAMPLE });
    let e = err("42 00 20 | 08 | 00 00 00 03 | 01 02 03 FF 00 00 00 00");
    assert_eq!(e, DecodeError::NonZeroPadding { offset: 0, tag: EXAMPLE });
    assert!(e.framing_intact());
}

#[test]
fn wrong_lengths_for_fixed_size_types_are_rejected() {
    let cases: &[(&str, ItemType, u32)] = &[
        ("42 00 20 | 02 | 00 00 00 08 | 00 00 00 00 00 00 00 08", ItemType::Integer, 8),
        ("42 00 20 | 03 | 00 00 00 04 | 00 00 00 08 00 00 00 00", ItemType::LongInteger, 4),
        ("42 00 20 | 05 | 00 00 00 08 | 00 00 00 00 00 00 00 FF", ItemType::Enumeration, 8),
        ("42 00 20 | 06 | 00 00 00 01 | 01 00 00 00 00 00 00 00", ItemType::Boolean, 1),
        ("42 00 20 | 09 | 00 00 00 04 | 47 DA 67 F8 00 00 00 00", ItemType::DateTime, 4),
        ("42 00 20 | 0A | 00 00 00 08 | 00 00 00 00 00 0D 2F 00", ItemType::Interval, 8),
        (
            "42 00 20 | 0B | 00 00 00 10 | 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01",
            ItemType::DateTimeExtended,
            16,
        ),
        ("42 00 20 | 02 | 00 00 00 00", ItemType::Integer, 0),
        // Variable types with a multiple-of-8 rule.
        ("42 00 20 | 04 | 00 00 00 0C | 03 FD 35 EB 6B C2 DF 46 18 08 00 00 00 00 00 00", ItemType::BigInteger, 12),
        ("42 00 20 | 01 | 00 00 00 04 | 00 00 00 00 00 00 00 00", ItemType::Structure, 4),
    ];
    for (hex, item_type, length) in cases {
        assert_eq!(
            err(hex),
            DecodeError::InvalidLength { offset: 0, tag: EXAMPLE, item_type: *item_type, length: *length },
            "{hex}"
        );
    }
}

#[test]
fn boolean_other_than_zero_or_one_is_rejected() {
    let e = err("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02");
    assert_eq!(e, DecodeError::InvalidBoolean { offset: 0, tag: EXAMPLE, value: 2 });
    let e = err("42 00 20 | 06 | 00 00 00 08 | 01 00 00 00 00 00 00 01");
    assert_eq!(e, DecodeError::InvalidBoolean { offset: 0, tag: EXAMPLE, value: 0x0100_0000_0000_0001 });
}

#[test]
fn invalid_utf8_is_rejected() {
    // "He" then a lone continuation byte.
    let e = err("42 00 20 | 07 | 00 00 00 03 | 48 65 80 00 00 00 00 00");
    assert_eq!(e, DecodeError::InvalidUtf8 { offset: 0, tag: EXAMPLE, valid_up_to: 2 });
    // Overlong encoding of '/'.
    let e = err("42 00 20 | 07 | 00 00 00 02 | C0 AF 00 00 00 00 00 00");
    assert_eq!(e, DecodeError::InvalidUtf8 { offset: 0, tag: EXAMPLE, valid_up_to: 0 });
    // A UTF-8 sequence cut short by the length field.
    let e = err("42 00 20 | 07 | 00 00 00 01 | E2 00 00 00 00 00 00 00");
    assert_eq!(e, DecodeError::InvalidUtf8 { offset: 0, tag: EXAMPLE, valid_up_to: 0 });
}

#[test]
fn structure_length_mismatches_are_rejected() {
    let child = spec_hex("42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00");

    // Structure claims 8 bytes but its child needs 16.
    let mut bytes = structure(0x420020, &child);
    bytes[7] = 0x08;
    bytes.truncate(16);
    let e = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        e,
        DecodeError::StructureOverrun { offset: 8, tag: Tag::new(0x420004).unwrap(), parent: EXAMPLE, parent_end: 16 }
    );
    assert!(e.framing_intact());

    // Nested: the inner structure's child overruns the inner structure, inside a correct outer one.
    let mut inner = structure(0x420005, &child);
    inner[7] = 0x08;
    inner.extend_from_slice(&[0; 8]);
    let bytes = structure(0x420020, &inner);
    let e = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        e,
        DecodeError::StructureOverrun {
            offset: 16,
            tag: Tag::new(0x420004).unwrap(),
            parent: Tag::new(0x420005).unwrap(),
            parent_end: 24,
        }
    );

    // Structure claims more than its children fill: the leftover is read as a child item.
    let mut bytes = structure(0x420020, &child);
    bytes[7] = 0x18;
    bytes.extend_from_slice(&[0; 8]);
    let e = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(e, DecodeError::UnknownItemType { offset: 24, tag: Tag::new(0).unwrap(), item_type: 0 });
    assert!(e.framing_intact());
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = spec_hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00");
    bytes.extend_from_slice(&[0; 8]);
    let e = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(e, DecodeError::TrailingBytes { offset: 16, count: 8 });
    assert!(!e.framing_intact());

    // Even a single stray byte.
    let mut bytes = spec_hex(CREATE_REQUEST_V1_1_HEX);
    let len = bytes.len();
    bytes.push(0);
    assert_eq!(decode(&bytes, &Limits::default()).unwrap_err(), DecodeError::TrailingBytes { offset: len, count: 1 });
}

#[test]
fn two_top_level_items_are_rejected() {
    let one = spec_hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00");
    let two = [one.clone(), one].concat();
    assert_eq!(decode(&two, &Limits::default()).unwrap_err(), DecodeError::TrailingBytes { offset: 16, count: 16 });
}

#[test]
fn depth_over_the_limit_is_rejected() {
    // Five nested structures around an Integer: six levels.
    let mut bytes = spec_hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00");
    for _ in 0..5 {
        bytes = structure(0x420020, &bytes);
    }
    let at = |max_depth| decode(&bytes, &Limits { max_depth, ..Limits::default() });
    assert!(at(6).is_ok());
    let e = at(5).unwrap_err();
    assert_eq!(e, DecodeError::DepthLimitExceeded { offset: 40, tag: EXAMPLE, limit: 5 });
    assert!(e.framing_intact());
    assert_eq!(at(0).unwrap_err(), DecodeError::DepthLimitExceeded { offset: 0, tag: EXAMPLE, limit: 0 });
}

#[test]
fn depth_limit_is_capped_whatever_is_configured() {
    let depth = Limits::HARD_MAX_DEPTH + 1;
    let mut bytes = Vec::new();
    for _ in 0..depth {
        bytes = structure(0x420020, &bytes);
    }
    let limits = Limits { max_depth: usize::MAX, max_message_bytes: usize::MAX, max_items: usize::MAX };
    let e = decode(&bytes, &limits).unwrap_err();
    assert!(matches!(e, DecodeError::DepthLimitExceeded { limit: Limits::HARD_MAX_DEPTH, .. }), "{e:?}");
    // At the cap everything that walks the tree (encode, display, clone, compare, drop) still
    // fits on a test thread's stack, even in a debug build.
    let ok = decode(&bytes[8..], &limits).unwrap();
    assert_eq!(keyward_kmip::encode(&ok), &bytes[8..]);
    assert_eq!(ok.to_string().lines().count(), Limits::HARD_MAX_DEPTH);
    assert_eq!(ok.clone(), ok);
}

#[test]
fn item_count_over_the_limit_is_rejected() {
    let bytes = spec_hex(CREATE_REQUEST_V1_1_HEX);
    // The Create request holds 20 items.
    assert!(decode(&bytes, &Limits { max_items: 20, ..Limits::default() }).is_ok());
    let e = decode(&bytes, &Limits { max_items: 19, ..Limits::default() }).unwrap_err();
    assert!(matches!(e, DecodeError::ItemLimitExceeded { limit: 19, .. }), "{e:?}");
    assert!(e.framing_intact());
}

#[test]
fn oversized_message_is_rejected_before_any_work() {
    let bytes = spec_hex(CREATE_REQUEST_V1_1_HEX);
    let limits = Limits { max_message_bytes: bytes.len() - 1, ..Limits::default() };
    let e = decode(&bytes, &limits).unwrap_err();
    assert_eq!(e, DecodeError::MessageTooLarge { length: bytes.len(), limit: bytes.len() - 1 });
    assert!(!e.framing_intact());
    // Garbage that is merely too long reports the size, not its content.
    let e = decode(&[0xFF; 64], &Limits { max_message_bytes: 63, ..Limits::default() }).unwrap_err();
    assert_eq!(e, DecodeError::MessageTooLarge { length: 64, limit: 63 });
}

#[test]
fn truncated_header_is_rejected() {
    for len in 0..8 {
        let bytes = &spec_hex("42 00 20 | 02 | 00 00 00 04")[..len];
        let e = decode(bytes, &Limits::default()).unwrap_err();
        assert_eq!(e, DecodeError::Truncated { offset: 0, needed: 8, available: len });
        assert!(!e.framing_intact());
    }
}

#[test]
fn truncated_value_is_rejected() {
    let e = err("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08");
    assert_eq!(e, DecodeError::Truncated { offset: 0, needed: 16, available: 12 });
    // Padding is part of the item: dropping it is truncation too.
    let e = err("42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64");
    assert_eq!(e, DecodeError::Truncated { offset: 0, needed: 24, available: 19 });
    // A huge announced length is reported, not allocated.
    let e = err("42 00 20 | 08 | FF FF FF F8 | 00");
    assert_eq!(e, DecodeError::Truncated { offset: 0, needed: 0xFFFF_FFF8 + 8, available: 9 });
}

#[test]
fn unknown_item_types_are_rejected() {
    for t in [0x00u8, 0x0C, 0x42, 0xFF] {
        let bytes = [0x42, 0x00, 0x20, t, 0, 0, 0, 0];
        let e = decode(&bytes, &Limits::default()).unwrap_err();
        assert_eq!(e, DecodeError::UnknownItemType { offset: 0, tag: EXAMPLE, item_type: t });
        assert!(!e.framing_intact(), "a bad top-level header loses framing");
    }
}

#[test]
fn errors_expose_offset_and_tag() {
    let e = DecodeError::NonZeroPadding { offset: 24, tag: Tag::OPERATION };
    assert_eq!(e.offset(), Some(24));
    assert_eq!(e.tag(), Some(Tag::OPERATION));
    assert_eq!(e.to_string(), "non-zero padding after Operation at offset 24");
    let e = DecodeError::MessageTooLarge { length: 10, limit: 5 };
    assert_eq!((e.offset(), e.tag()), (None, None));
}

#[test]
fn message_length_frames_a_stream() {
    let limits = Limits::default();
    let bytes = spec_hex(CREATE_REQUEST_V1_1_HEX);
    for n in 0..8 {
        assert_eq!(message_length(&bytes[..n], &limits), Ok(None));
    }
    assert_eq!(message_length(&bytes[..8], &limits), Ok(Some(296)));
    assert_eq!(message_length(&bytes, &limits), Ok(Some(296)));

    // Not a structure.
    let e = message_length(&spec_hex("42 00 20 | 02 | 00 00 00 04"), &limits).unwrap_err();
    assert_eq!(e, DecodeError::TopLevelNotStructure { tag: EXAMPLE, item_type: 0x02 });
    assert!(!e.framing_intact());

    // Structure length not a multiple of 8.
    let e = message_length(&spec_hex("42 00 78 | 01 | 00 00 01 21"), &limits).unwrap_err();
    assert_eq!(
        e,
        DecodeError::InvalidLength {
            offset: 0,
            tag: Tag::REQUEST_MESSAGE,
            item_type: ItemType::Structure,
            length: 0x121
        }
    );
    assert!(!e.framing_intact());

    // Too large, including the largest length field.
    let small = Limits { max_message_bytes: 295, ..Limits::default() };
    assert_eq!(message_length(&bytes, &small).unwrap_err(), DecodeError::MessageTooLarge { length: 296, limit: 295 });
    let e = message_length(&spec_hex("42 00 78 | 01 | FF FF FF F8"), &limits).unwrap_err();
    assert_eq!(e, DecodeError::MessageTooLarge { length: 0xFFFF_FFF8 + 8, limit: 1 << 20 });
}
