// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Known-answer tests: the TTLV examples printed in the KMIP specification (1.x §9.1.2) and
//! published test-case messages, checked in both directions (decode and encode).

mod common;

use common::{CREATE_REQUEST_V1_1_HEX, create_request_v1_1, spec_hex};
use keyward_kmip::enums::{CryptographicAlgorithm, Operation};
use keyward_kmip::{Item, Limits, Tag, Value, decode, encode, encoded_len, message_length};

/// The spec's examples all use tag 0x420020 (Compromise Date) regardless of type.
const EXAMPLE: Tag = Tag::COMPROMISE_DATE;

fn check(item: Item, spec: &str) {
    let bytes = spec_hex(spec);
    assert_eq!(encode(&item), bytes, "encoding of {item:?}");
    assert_eq!(encoded_len(&item).unwrap(), bytes.len());
    assert_eq!(decode(&bytes, &Limits::default()).unwrap(), item, "decoding of {spec}");
}

#[test]
fn spec_example_integer() {
    check(Item::integer(EXAMPLE, 8), "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00");
}

#[test]
fn spec_example_long_integer() {
    check(
        Item::long_integer(EXAMPLE, 123_456_789_000_000_000),
        "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00",
    );
}

#[test]
fn spec_example_big_integer() {
    // 1234567890000000000000000000 = 0x03FD35EB6BC2DF4618080000, sign-extended to 16 bytes.
    let item = Item::big_integer(EXAMPLE, spec_hex("03 FD 35 EB 6B C2 DF 46 18 08 00 00"));
    check(item, "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00");
}

#[test]
fn spec_example_enumeration() {
    check(Item::enumeration(EXAMPLE, 255u32), "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00");
}

#[test]
fn spec_example_boolean() {
    check(Item::boolean(EXAMPLE, true), "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01");
}

#[test]
fn spec_example_text_string() {
    check(
        Item::text(EXAMPLE, "Hello World"),
        "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00",
    );
}

#[test]
fn spec_example_byte_string() {
    check(Item::bytes(EXAMPLE, [1u8, 2, 3]), "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00");
}

#[test]
fn spec_example_date_time() {
    // Friday, March 14, 2008, 11:56:40 GMT.
    check(Item::date_time(EXAMPLE, 1_205_495_800), "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8");
}

#[test]
fn spec_example_interval() {
    check(Item::interval(EXAMPLE, 10 * 24 * 3600), "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00");
}

#[test]
fn spec_example_structure() {
    let tag = |v| Tag::new(v).unwrap();
    let item =
        Item::structure(EXAMPLE, vec![Item::enumeration(tag(0x420004), 254u32), Item::integer(tag(0x420005), 255)]);
    check(
        item,
        "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | \
         42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
    );
}

#[test]
fn date_time_extended_layout() {
    // KMIP 2.0 type 0x0B: an 8-byte signed count of microseconds, no padding.
    check(
        Item::date_time_extended(EXAMPLE, 1_205_495_800_000_001),
        "42 00 20 | 0B | 00 00 00 08 | 00 04 48 64 5C EF EE 01",
    );
}

#[test]
fn empty_values_are_header_only() {
    check(Item::text(EXAMPLE, ""), "42 00 20 | 07 | 00 00 00 00");
    check(Item::bytes(EXAMPLE, Vec::new()), "42 00 20 | 08 | 00 00 00 00");
    check(Item::structure(EXAMPLE, vec![]), "42 00 20 | 01 | 00 00 00 00");
    check(Item::big_integer(EXAMPLE, Vec::new()), "42 00 20 | 04 | 00 00 00 00");
}

#[test]
fn text_of_exactly_eight_bytes_has_no_padding() {
    check(Item::text(EXAMPLE, "abcdefgh"), "42 00 20 | 07 | 00 00 00 08 | 61 62 63 64 65 66 67 68");
}

#[test]
fn negative_big_integer_is_sign_extended() {
    // -1 as one byte becomes eight 0xFF bytes; -129 (0xFF7F) keeps its value when widened.
    check(Item::big_integer(EXAMPLE, vec![0xFF]), "42 00 20 | 04 | 00 00 00 08 | FF FF FF FF FF FF FF FF");
    check(Item::big_integer(EXAMPLE, vec![0xFF, 0x7F]), "42 00 20 | 04 | 00 00 00 08 | FF FF FF FF FF FF FF 7F");
    // A hand-built value that skips the builder is widened the same way by the encoder.
    let raw = Item::new(EXAMPLE, Value::BigInteger(vec![0x80, 0x00]));
    assert_eq!(encode(&raw), spec_hex("42 00 20 | 04 | 00 00 00 08 | FF FF FF FF FF FF 80 00"));
}

#[test]
fn kmip_1_1_create_request_test_case() {
    let bytes = spec_hex(CREATE_REQUEST_V1_1_HEX);
    let expected = create_request_v1_1();
    assert_eq!(encode(&expected), bytes);
    let decoded = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(decoded, expected);
    assert_eq!(message_length(&bytes, &Limits::default()).unwrap(), Some(bytes.len()));

    let batch_item = decoded.child(Tag::BATCH_ITEM).unwrap();
    assert_eq!(batch_item.child(Tag::OPERATION).unwrap().as_kmip_enum(), Some(Operation::Create));
    let template = batch_item.child(Tag::REQUEST_PAYLOAD).unwrap().child(Tag::TEMPLATE_ATTRIBUTE).unwrap();
    let names: Vec<_> =
        template.children(Tag::ATTRIBUTE).filter_map(|a| a.child(Tag::ATTRIBUTE_NAME)?.as_text()).collect();
    assert_eq!(names, ["Cryptographic Algorithm", "Cryptographic Length", "Cryptographic Usage Mask"]);
    let algorithm = template.children(Tag::ATTRIBUTE).next().unwrap().child(Tag::ATTRIBUTE_VALUE).unwrap();
    assert_eq!(algorithm.as_kmip_enum(), Some(CryptographicAlgorithm::Aes));
}

#[test]
fn kmip_2_0_destroy_batch_item() {
    // Request Batch Item { Operation Destroy, Ephemeral true, Request Payload { Unique Identifier } }
    // as published with the KMIP 2.0 test material.
    let bytes = spec_hex(
        "42 00 0F 01 00 00 00 58
         42 00 5C 05 00 00 00 04 00 00 00 14 00 00 00 00
         42 01 54 06 00 00 00 08 00 00 00 00 00 00 00 01
         42 00 79 01 00 00 00 30
         42 00 94 07 00 00 00 24
         66 62 34 62 35 62 39 63 2D 36 31 38 38 2D 34 63
         36 33 2D 38 31 34 32 2D 66 65 39 63 33 32 38 31
         32 39 66 63 00 00 00 00",
    );
    let expected = Item::structure(
        Tag::BATCH_ITEM,
        vec![
            Item::enumeration(Tag::OPERATION, Operation::Destroy),
            Item::boolean(Tag::EPHEMERAL, true),
            Item::structure(
                Tag::REQUEST_PAYLOAD,
                vec![Item::text(Tag::UNIQUE_IDENTIFIER, "fb4b5b9c-6188-4c63-8142-fe9c328129fc")],
            ),
        ],
    );
    assert_eq!(decode(&bytes, &Limits::default()).unwrap(), expected);
    assert_eq!(encode(&expected), bytes);
}

#[test]
fn dump_of_create_request() {
    let dump = create_request_v1_1().to_string();
    let expected = r#"Request Message (0x420078) Structure
  Request Header (0x420077) Structure
    Protocol Version (0x420069) Structure
      Protocol Version Major (0x42006A) Integer = 1
      Protocol Version Minor (0x42006B) Integer = 1
    Batch Count (0x42000D) Integer = 1
  Batch Item (0x42000F) Structure
    Operation (0x42005C) Enumeration = Create (0x00000001)
    Request Payload (0x420079) Structure
      Object Type (0x420057) Enumeration = Symmetric Key (0x00000002)
      Template-Attribute (0x420091) Structure
        Attribute (0x420008) Structure
          Attribute Name (0x42000A) Text String = "Cryptographic Algorithm"
          Attribute Value (0x42000B) Enumeration = 0x00000003
        Attribute (0x420008) Structure
          Attribute Name (0x42000A) Text String = "Cryptographic Length"
          Attribute Value (0x42000B) Integer = 128
        Attribute (0x420008) Structure
          Attribute Name (0x42000A) Text String = "Cryptographic Usage Mask"
          Attribute Value (0x42000B) Integer = 12"#;
    assert_eq!(dump, expected);
}

#[test]
fn dump_of_every_scalar_type() {
    let vendor = Tag::new(0x54_0001).unwrap();
    let item = Item::structure(
        vendor,
        vec![
            Item::long_integer(Tag::USAGE_LIMITS_TOTAL, -5),
            Item::big_integer(Tag::MODULUS, vec![0x01, 0x00]),
            Item::boolean(Tag::FRESH, false),
            Item::bytes(Tag::KEY_MATERIAL, vec![0xDE, 0xAD]),
            Item::bytes(Tag::IV_COUNTER_NONCE, Vec::new()),
            Item::date_time(Tag::ACTIVATION_DATE, 1_205_495_800),
            Item::date_time(Tag::DEACTIVATION_DATE, i64::MAX),
            Item::interval(Tag::LEASE_TIME, 864_000),
            Item::date_time_extended(Tag::INITIAL_DATE, -1),
            Item::integer(Tag::CRYPTOGRAPHIC_USAGE_MASK, 0x0C | 0x4000_0000),
            Item::integer(Tag::STORAGE_STATUS_MASK, 0),
            Item::enumeration(Tag::OPERATION, 0x8000_0001u32),
            Item::text(Tag::PASSWORD, "line\nbreak \"quoted\""),
        ],
    );
    let expected = r#"0x540001 Structure
  Usage Limits Total (0x420097) Long Integer = -5
  Modulus (0x420052) Big Integer = 0000000000000100 (8 bytes)
  Fresh (0x4200A8) Boolean = false
  Key Material (0x420043) Byte String = dead (2 bytes)
  IV/Counter/Nonce (0x42003D) Byte String = (0 bytes)
  Activation Date (0x420001) Date-Time = 2008-03-14T11:56:40Z (1205495800)
  Deactivation Date (0x42002F) Date-Time = 9223372036854775807
  Lease Time (0x420049) Interval = 864000 s
  Initial Date (0x420039) Date-Time Extended = 1969-12-31T23:59:59.999999Z (-1 us)
  Cryptographic Usage Mask (0x42002C) Integer = 1073741836 (Encrypt | Decrypt | 0x40000000)
  Storage Status Mask (0x42008E) Integer = 0 (none)
  Operation (0x42005C) Enumeration = 0x80000001
  Password (0x4200A1) Text String = "line\nbreak \"quoted\"""#;
    assert_eq!(item.unredacted().to_string(), expected);

    // The default Display is the redacted one: a dump is safe to log.
    assert_eq!(item.to_string(), item.redacted().to_string());
    let redacted = item.to_string();
    assert!(redacted.contains("Key Material (0x420043) Byte String = <2 bytes>"), "{redacted}");
    assert!(redacted.contains("Modulus (0x420052) Big Integer = <8 bytes>"), "{redacted}");
    assert!(redacted.contains("Password (0x4200A1) Text String = <redacted>"), "{redacted}");
    assert!(!redacted.contains("dead"), "{redacted}");
    assert!(!redacted.contains("quoted"), "{redacted}");
}

#[test]
fn dump_dates_at_calendar_edges() {
    let line = |secs| Item::date_time(Tag::ACTIVATION_DATE, secs).to_string();
    assert_eq!(line(0), "Activation Date (0x420001) Date-Time = 1970-01-01T00:00:00Z (0)");
    assert_eq!(line(951_782_400), "Activation Date (0x420001) Date-Time = 2000-02-29T00:00:00Z (951782400)");
    assert_eq!(line(253_402_300_799), "Activation Date (0x420001) Date-Time = 9999-12-31T23:59:59Z (253402300799)");
    assert_eq!(line(-62_167_219_200), "Activation Date (0x420001) Date-Time = 0000-01-01T00:00:00Z (-62167219200)");
    assert_eq!(line(-62_167_219_201), "Activation Date (0x420001) Date-Time = -62167219201");
    assert_eq!(line(i64::MIN), format!("Activation Date (0x420001) Date-Time = {}", i64::MIN));
}
