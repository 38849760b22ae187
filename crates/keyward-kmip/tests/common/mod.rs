// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Helpers shared by the integration tests: spec-style hex parsing and a sample request.

#![allow(dead_code)]

use keyward_kmip::enums::{CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation};
use keyward_kmip::{Item, Tag};

/// Parses hex written the way the KMIP documents print it: `42 00 20 | 02 | 00 00 00 04 | ...`.
pub fn spec_hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    hex::decode(digits).unwrap()
}

/// The KMIP 1.1 test-case Create request (symmetric AES-128 key, Encrypt|Decrypt), built with the
/// public API; its encoding is checked byte for byte against the published vector.
pub fn create_request_v1_1() -> Item {
    let attribute =
        |name: &str, value: Item| Item::structure(Tag::ATTRIBUTE, vec![Item::text(Tag::ATTRIBUTE_NAME, name), value]);
    Item::structure(
        Tag::REQUEST_MESSAGE,
        vec![
            Item::structure(
                Tag::REQUEST_HEADER,
                vec![
                    Item::structure(
                        Tag::PROTOCOL_VERSION,
                        vec![
                            Item::integer(Tag::PROTOCOL_VERSION_MAJOR, 1),
                            Item::integer(Tag::PROTOCOL_VERSION_MINOR, 1),
                        ],
                    ),
                    Item::integer(Tag::BATCH_COUNT, 1),
                ],
            ),
            Item::structure(
                Tag::BATCH_ITEM,
                vec![
                    Item::enumeration(Tag::OPERATION, Operation::Create),
                    Item::structure(
                        Tag::REQUEST_PAYLOAD,
                        vec![
                            Item::enumeration(Tag::OBJECT_TYPE, ObjectType::SymmetricKey),
                            Item::structure(
                                Tag::TEMPLATE_ATTRIBUTE,
                                vec![
                                    attribute(
                                        "Cryptographic Algorithm",
                                        Item::enumeration(Tag::ATTRIBUTE_VALUE, CryptographicAlgorithm::Aes),
                                    ),
                                    attribute("Cryptographic Length", Item::integer(Tag::ATTRIBUTE_VALUE, 128)),
                                    attribute(
                                        "Cryptographic Usage Mask",
                                        Item::integer(
                                            Tag::ATTRIBUTE_VALUE,
                                            (CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT)
                                                .to_i32(),
                                        ),
                                    ),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )
}

/// Published encoding of [`create_request_v1_1`] (KMIP 1.1 test cases, §3.1.1).
pub const CREATE_REQUEST_V1_1_HEX: &str = "
    42 00 78 01 00 00 01 20 42 00 77 01 00 00 00 38
    42 00 69 01 00 00 00 20 42 00 6A 02 00 00 00 04
    00 00 00 01 00 00 00 00 42 00 6B 02 00 00 00 04
    00 00 00 01 00 00 00 00 42 00 0D 02 00 00 00 04
    00 00 00 01 00 00 00 00 42 00 0F 01 00 00 00 D8
    42 00 5C 05 00 00 00 04 00 00 00 01 00 00 00 00
    42 00 79 01 00 00 00 C0 42 00 57 05 00 00 00 04
    00 00 00 02 00 00 00 00 42 00 91 01 00 00 00 A8
    42 00 08 01 00 00 00 30 42 00 0A 07 00 00 00 17
    43 72 79 70 74 6F 67 72 61 70 68 69 63 20 41 6C
    67 6F 72 69 74 68 6D 00 42 00 0B 05 00 00 00 04
    00 00 00 03 00 00 00 00 42 00 08 01 00 00 00 30
    42 00 0A 07 00 00 00 14 43 72 79 70 74 6F 67 72
    61 70 68 69 63 20 4C 65 6E 67 74 68 00 00 00 00
    42 00 0B 02 00 00 00 04 00 00 00 80 00 00 00 00
    42 00 08 01 00 00 00 30 42 00 0A 07 00 00 00 18
    43 72 79 70 74 6F 67 72 61 70 68 69 63 20 55 73
    61 67 65 20 4D 61 73 6B 42 00 0B 02 00 00 00 04
    00 00 00 0C 00 00 00 00";
