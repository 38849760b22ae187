// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! Property tests: round trips over arbitrary item trees, and robustness of the decoder against
//! arbitrary bytes, single-byte mutations and truncations of valid messages.
//!
//! Whenever the decoder accepts input, re-encoding must reproduce that input exactly; that is the
//! canonical-encoding guarantee servers rely on when they log or hash raw requests.

mod common;

use common::{CREATE_REQUEST_V1_1_HEX, spec_hex};
use keyward_kmip::{DecodeError, HEADER_LEN, Item, Limits, Tag, Value, decode, encode, encoded_len, message_length};
use proptest::prelude::*;

fn arb_tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        3 => prop::sample::select(Tag::KNOWN),
        1 => (0u32..=Tag::MAX).prop_map(|v| Tag::new(v).unwrap()),
    ]
}

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::Integer),
        any::<i64>().prop_map(Value::LongInteger),
        // The wire form of a Big Integer is a multiple of 8 bytes; other lengths are normalised by the
        // builder and exercised separately.
        (0usize..4).prop_flat_map(|n| prop::collection::vec(any::<u8>(), n * 8)).prop_map(Value::BigInteger),
        any::<u32>().prop_map(Value::Enumeration),
        any::<bool>().prop_map(Value::Boolean),
        ".{0,24}".prop_map(Value::TextString),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::ByteString),
        any::<i64>().prop_map(Value::DateTime),
        any::<u32>().prop_map(Value::Interval),
        any::<i64>().prop_map(Value::DateTimeExtended),
    ]
}

fn arb_item_sized(depth: u32, size: u32) -> impl Strategy<Value = Item> {
    let leaf = (arb_tag(), arb_scalar()).prop_map(|(tag, value)| Item::new(tag, value));
    leaf.prop_recursive(depth, size, 6, |inner| {
        (arb_tag(), prop::collection::vec(inner, 0..6)).prop_map(|(tag, children)| Item::structure(tag, children))
    })
}

fn arb_item() -> impl Strategy<Value = Item> {
    arb_item_sized(6, 64)
}

/// A message-shaped tree: the top level is always a Structure.
fn arb_message() -> impl Strategy<Value = Item> {
    (arb_tag(), prop::collection::vec(arb_item_sized(4, 24), 0..4))
        .prop_map(|(tag, children)| Item::structure(tag, children))
}

/// Decodes `bytes`; whenever that succeeds the encoding must be the input itself.
fn decode_canonical(bytes: &[u8]) -> Result<Item, DecodeError> {
    let result = decode(bytes, &Limits::default());
    if let Ok(item) = &result {
        assert_eq!(encode(item), bytes, "accepted input must be canonical: {item:?}");
    }
    result
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn item_trees_round_trip(item in arb_item()) {
        let bytes = encode(&item);
        prop_assert_eq!(bytes.len(), encoded_len(&item).unwrap());
        prop_assert_eq!(bytes.len() % 8, 0);
        let back = decode(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &item);
        prop_assert_eq!(encode(&back), bytes);
        // The dump walks the whole tree; it must not fail either.
        let _ = item.to_string();
        let _ = item.redacted().to_string();
    }

    #[test]
    fn messages_frame_to_their_own_length(item in arb_message()) {
        let bytes = encode(&item);
        prop_assert_eq!(message_length(&bytes[..HEADER_LEN], &Limits::default()), Ok(Some(bytes.len())));
        let mut appended = Vec::from(&b"previous"[..]);
        keyward_kmip::encode_into(&item, &mut appended);
        prop_assert_eq!(&appended[8..], &bytes[..]);
    }

    #[test]
    fn big_integer_builder_preserves_the_number(bytes in prop::collection::vec(any::<u8>(), 0..20)) {
        let item = Item::big_integer(Tag::MODULUS, bytes.clone());
        let stored = item.as_big_int().unwrap();
        prop_assert_eq!(stored.len() % 8, 0);
        // Sign extension: the original bytes are a suffix and everything before is 0x00 or 0xFF
        // matching the original sign.
        prop_assert!(stored.ends_with(&bytes));
        let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) { 0xFF } else { 0x00 };
        prop_assert!(stored[..stored.len() - bytes.len()].iter().all(|&b| b == fill));
        prop_assert_eq!(decode(&encode(&item), &Limits::default()).unwrap(), item);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_canonical(&bytes);
        let _ = message_length(&bytes, &Limits::default());
    }

    #[test]
    fn plausible_headers_with_arbitrary_bodies_never_panic(
        tag in arb_tag(),
        item_type in 0u8..=0x0C,
        body in prop::collection::vec(any::<u8>(), 0..128),
        length_slack in -16i64..16,
    ) {
        // A header whose length roughly matches the body gets past the framing checks, so the
        // value-level validation is what gets exercised.
        let length = u32::try_from((body.len() as i64 + length_slack).max(0)).unwrap();
        let mut bytes = tag.to_be_bytes().to_vec();
        bytes.push(item_type);
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&body);
        let _ = decode_canonical(&bytes);
    }
}

proptest! {
    // Each case decodes the message once per byte position, so fewer cases cover plenty.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn single_byte_mutations_never_panic(item in arb_message(), seed in any::<u64>()) {
        let bytes = encode(&item);
        check_mutations(&bytes, seed);
    }

    #[test]
    fn truncations_are_always_rejected(item in arb_item()) {
        let bytes = encode(&item);
        for len in 0..bytes.len() {
            let e = decode(&bytes[..len], &Limits::default()).unwrap_err();
            prop_assert!(matches!(e, DecodeError::Truncated { offset: 0, .. }), "{:?}", e);
            prop_assert!(!e.framing_intact());
        }
    }
}

/// Every byte position is replaced by three values (zero, all ones, and a pseudo-random change).
/// The decoder must either accept (canonically) or reject; a change past the top-level header can
/// never break framing, because the top-level extent is unchanged.
fn check_mutations(bytes: &[u8], seed: u64) {
    let mut state = seed | 1;
    let mut mutated = bytes.to_vec();
    for pos in 0..bytes.len() {
        // xorshift: cheap, deterministic per case, and good enough to pick replacement bytes.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let original = bytes[pos];
        for replacement in [0x00, 0xFF, original ^ (state as u8 | 1)] {
            if replacement == original {
                continue;
            }
            mutated[pos] = replacement;
            let result = decode_canonical(&mutated);
            let _ = message_length(&mutated, &Limits::default());
            if let Err(e) = result {
                assert!(pos < HEADER_LEN || e.framing_intact(), "mutation at {pos} lost framing: {e:?}");
            }
        }
        mutated[pos] = original;
    }
}

#[test]
fn every_mutation_and_truncation_of_the_create_request() {
    let bytes = spec_hex(CREATE_REQUEST_V1_1_HEX);
    for seed in 1..=8 {
        check_mutations(&bytes, seed);
    }
    // Exhaustively: every value at every position.
    let mut mutated = bytes.clone();
    for pos in 0..bytes.len() {
        for value in 0..=u8::MAX {
            mutated[pos] = value;
            let _ = decode_canonical(&mutated);
        }
        mutated[pos] = bytes[pos];
    }
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len], &Limits::default()).is_err());
    }
}
