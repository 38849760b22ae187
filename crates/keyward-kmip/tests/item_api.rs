// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! The builder and accessor surface of `Item`, as protocol code uses it.

use keyward_kmip::{Item, ItemType, Tag, Value, encode, encode_into, try_encode};

fn sample() -> Item {
    Item::structure(
        Tag::REQUEST_PAYLOAD,
        vec![
            Item::text(Tag::UNIQUE_IDENTIFIER, "a"),
            Item::text(Tag::UNIQUE_IDENTIFIER, "b"),
            Item::integer(Tag::MAXIMUM_ITEMS, 10),
            Item::long_integer(Tag::USAGE_LIMITS_TOTAL, 1 << 40),
            Item::big_integer(Tag::MODULUS, vec![0x01]),
            Item::enumeration(Tag::OBJECT_TYPE, 2u32),
            Item::boolean(Tag::FRESH, true),
            Item::bytes(Tag::DATA, b"xyz".to_vec()),
            Item::date_time(Tag::ACTIVATION_DATE, 1_700_000_000),
            Item::interval(Tag::LEASE_TIME, 3600),
            Item::date_time_extended(Tag::INITIAL_DATE, 1_700_000_000_000_001),
        ],
    )
}

#[test]
fn child_and_children_find_by_tag() {
    let item = sample();
    assert_eq!(item.child(Tag::UNIQUE_IDENTIFIER).and_then(Item::as_text), Some("a"));
    let ids: Vec<_> = item.children(Tag::UNIQUE_IDENTIFIER).filter_map(Item::as_text).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(item.child(Tag::NAME).is_none());
    assert_eq!(item.children(Tag::NAME).count(), 0);
    // Scalars have no children.
    let scalar = Item::integer(Tag::MAXIMUM_ITEMS, 1);
    assert!(scalar.child(Tag::MAXIMUM_ITEMS).is_none());
    assert_eq!(scalar.children(Tag::MAXIMUM_ITEMS).count(), 0);
    assert!(scalar.as_struct().is_none());
}

#[test]
fn each_accessor_matches_only_its_type() {
    let item = sample();
    let get = |tag| item.child(tag).unwrap();
    assert_eq!(get(Tag::MAXIMUM_ITEMS).as_int(), Some(10));
    assert_eq!(get(Tag::USAGE_LIMITS_TOTAL).as_long(), Some(1 << 40));
    assert_eq!(get(Tag::MODULUS).as_big_int(), Some(&[0, 0, 0, 0, 0, 0, 0, 1][..]));
    assert_eq!(get(Tag::OBJECT_TYPE).as_enum(), Some(2));
    assert_eq!(get(Tag::FRESH).as_bool(), Some(true));
    assert_eq!(get(Tag::DATA).as_bytes(), Some(&b"xyz"[..]));
    assert_eq!(get(Tag::ACTIVATION_DATE).as_datetime(), Some(1_700_000_000));
    assert_eq!(get(Tag::LEASE_TIME).as_interval(), Some(3600));
    assert_eq!(get(Tag::INITIAL_DATE).as_datetime_extended(), Some(1_700_000_000_000_001));
    assert_eq!(item.as_struct().map(<[Item]>::len), Some(11));

    // Every accessor refuses every other type.
    for child in item.as_struct().unwrap() {
        let t = child.item_type();
        assert_eq!(child.as_int().is_some(), t == ItemType::Integer);
        assert_eq!(child.as_long().is_some(), t == ItemType::LongInteger);
        assert_eq!(child.as_big_int().is_some(), t == ItemType::BigInteger);
        assert_eq!(child.as_enum().is_some(), t == ItemType::Enumeration);
        assert_eq!(child.as_bool().is_some(), t == ItemType::Boolean);
        assert_eq!(child.as_text().is_some(), t == ItemType::TextString);
        assert_eq!(child.as_bytes().is_some(), t == ItemType::ByteString);
        assert_eq!(child.as_datetime().is_some(), t == ItemType::DateTime);
        assert_eq!(child.as_interval().is_some(), t == ItemType::Interval);
        assert_eq!(child.as_datetime_extended().is_some(), t == ItemType::DateTimeExtended);
        assert!(child.as_struct().is_none());
    }
}

#[test]
fn mutation_through_accessors() {
    let mut item = sample();
    item.as_struct_mut().unwrap().push(Item::text(Tag::NAME_VALUE, "new"));
    assert_eq!(item.child(Tag::NAME_VALUE).and_then(Item::as_text), Some("new"));
    item.child_mut(Tag::MAXIMUM_ITEMS).unwrap().value = Value::Integer(20);
    assert_eq!(item.child(Tag::MAXIMUM_ITEMS).and_then(Item::as_int), Some(20));
    assert!(Item::integer(Tag::MAXIMUM_ITEMS, 1).as_struct_mut().is_none());
}

#[test]
fn item_types_know_their_wire_bytes() {
    for byte in 0u8..=0xFF {
        match ItemType::from_byte(byte) {
            Some(t) => {
                assert!((0x01..=0x0B).contains(&byte));
                assert_eq!(t.to_byte(), byte);
            }
            None => assert!(!(0x01..=0x0B).contains(&byte)),
        }
    }
    assert_eq!(ItemType::DateTimeExtended.to_string(), "Date-Time Extended");
    assert_eq!(ItemType::Boolean.fixed_length(), Some(8));
    assert_eq!(ItemType::Interval.fixed_length(), Some(4));
    assert_eq!(ItemType::TextString.fixed_length(), None);
}

#[test]
fn encode_variants_agree() {
    let item = sample();
    let bytes = encode(&item);
    assert_eq!(try_encode(&item).unwrap(), bytes);
    let mut buf = vec![0xAA];
    encode_into(&item, &mut buf);
    assert_eq!(buf[0], 0xAA);
    assert_eq!(&buf[1..], &bytes[..]);
}
