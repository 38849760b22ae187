//! KMIP attributes: reading them from requests (1.x Template-Attribute, 2.0 Attributes), keeping
//! them in the object's JSON, and writing them back in the client's protocol version.
//!
//! An attribute is a name and a value item. Version 1.x carries the name as text and the value
//! under the `Attribute Value` tag; version 2.0 carries the value under the attribute's own tag.
//! Both become the same [`Attr`]. Stored values keep their full TTLV shape as JSON, so an
//! attribute Keyward does not interpret (Application Specific Information, custom `x-` names,
//! Links) comes back exactly as it was given. Names starting with `_` are Keyward's own
//! bookkeeping and never leave the server.

use keyward_kmip::{Item, Tag, Value};
use serde_json::{Map, Value as Json, json};

use super::KmipError;

/// One attribute instance; `value` carries its TTLV type and content (its tag is ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub name: String,
    pub index: Option<i32>,
    pub value: Item,
}

/// Attributes only the server sets.
pub const SERVER_MANAGED: &[&str] = &[
    "Unique Identifier",
    "Object Type",
    "State",
    "Initial Date",
    "Activation Date",
    "Deactivation Date",
    "Destroy Date",
    "Compromise Date",
    "Compromise Occurrence Date",
    "Last Change Date",
    "Revocation Reason",
    "Digest",
    "Key Value Present",
    "Original Creation Date",
    "Always Sensitive",
    "Never Extractable",
];

/// Attributes set once when the object is made. The usage mask, Extractable and Sensitive
/// bound what may be done with the key: a client may not widen them afterwards.
pub const SET_AT_CREATION: &[&str] =
    &["Cryptographic Algorithm", "Cryptographic Length", "Cryptographic Usage Mask", "Extractable", "Sensitive"];

/// Attributes an object holds at most one of.
pub const SINGLE_VALUED: &[&str] = &[
    "Cryptographic Algorithm",
    "Cryptographic Length",
    "Cryptographic Usage Mask",
    "Operation Policy Name",
    "Contact Information",
    "Lease Time",
    "Sensitive",
    "Extractable",
    "Description",
    "Fresh",
    "Process Start Date",
    "Protect Stop Date",
];

fn retag(item: &Item, tag: Tag) -> Item {
    Item { tag, value: item.value.clone() }
}

fn invalid(message: impl Into<String>) -> KmipError {
    KmipError::invalid_field(message)
}

/// A 1.x `Attribute` structure.
pub fn parse_attribute_v1(item: &Item) -> Result<Attr, KmipError> {
    let name = item
        .child(Tag::ATTRIBUTE_NAME)
        .and_then(Item::as_text)
        .ok_or_else(|| invalid("an Attribute has no Attribute Name"))?
        .to_owned();
    let index = item.child(Tag::ATTRIBUTE_INDEX).and_then(Item::as_int);
    let value =
        item.child(Tag::ATTRIBUTE_VALUE).cloned().unwrap_or_else(|| Item::structure(Tag::ATTRIBUTE_VALUE, vec![]));
    Ok(Attr { name, index, value: retag(&value, Tag::ATTRIBUTE_VALUE) })
}

/// A 2.0 attribute item: its tag names it.
pub fn parse_attribute_v2(item: &Item) -> Result<Attr, KmipError> {
    let name = item.tag.name().ok_or_else(|| invalid(format!("unknown attribute tag {}", item.tag)))?.to_owned();
    Ok(Attr { name, index: None, value: retag(item, Tag::ATTRIBUTE_VALUE) })
}

/// The attributes in a Template-Attribute (1.x) or Attributes (2.0) structure; `None` gives none.
pub fn parse_container(container: Option<&Item>) -> Result<Vec<Attr>, KmipError> {
    let Some(c) = container else { return Ok(Vec::new()) };
    let children = c.as_struct().unwrap_or(&[]);
    let mut out = Vec::new();
    for child in children {
        match child.tag {
            Tag::ATTRIBUTE => out.push(parse_attribute_v1(child)?),
            // Template names (1.x) refer to server-side templates, which Keyward does not keep.
            Tag::NAME if c.tag != Tag::ATTRIBUTES && !is_v2_container(c.tag) => {
                return Err(KmipError::new(
                    keyward_kmip::enums::ResultReason::ItemNotFound,
                    "named templates are not supported: pass the attributes themselves",
                ));
            }
            _ if is_v2_container(c.tag) => out.push(parse_attribute_v2(child)?),
            _ => {}
        }
    }
    Ok(out)
}

fn is_v2_container(tag: Tag) -> bool {
    matches!(tag, Tag::ATTRIBUTES | Tag::COMMON_ATTRIBUTES | Tag::PRIVATE_KEY_ATTRIBUTES | Tag::PUBLIC_KEY_ATTRIBUTES)
}

/// One attribute as the client's version writes it.
pub fn encode(attr: &Attr, v2: bool) -> Option<Item> {
    if v2 {
        let tag = Tag::from_name(&attr.name)?;
        return Some(retag(&attr.value, tag));
    }
    let mut children = vec![Item::text(Tag::ATTRIBUTE_NAME, attr.name.clone())];
    if let Some(i) = attr.index {
        children.push(Item::integer(Tag::ATTRIBUTE_INDEX, i));
    }
    children.push(retag(&attr.value, Tag::ATTRIBUTE_VALUE));
    Some(Item::structure(Tag::ATTRIBUTE, children))
}

/// How a 2.0 client names an attribute it asks for: an `Attribute Reference` enumeration
/// holding the tag, or a text name.
pub fn reference_name(item: &Item) -> Option<String> {
    match &item.value {
        Value::Enumeration(v) => Tag::new(*v).and_then(|t| t.name()).map(str::to_owned),
        Value::TextString(s) => Some(s.clone()),
        Value::Structure(_) => item.child(Tag::ATTRIBUTE_NAME).and_then(Item::as_text).map(str::to_owned),
        _ => None,
    }
}

/// The reference a 2.0 Get Attribute List answer carries for a name.
pub fn reference_for(name: &str) -> Option<Item> {
    Tag::from_name(name).map(|t| Item::enumeration(Tag::ATTRIBUTE_REFERENCE, t.value()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// A value item as JSON: `{"t": type, "v": value}`, structures with tagged children.
pub fn to_json(item: &Item) -> Json {
    match &item.value {
        Value::Structure(children) => json!({
            "t": "struct",
            "v": children.iter().map(|c| {
                let mut j = to_json(c);
                if let Some(o) = j.as_object_mut() {
                    o.insert("tag".into(), json!(c.tag.value()));
                }
                j
            }).collect::<Vec<_>>(),
        }),
        Value::Integer(v) => json!({"t": "int", "v": v}),
        Value::LongInteger(v) => json!({"t": "long", "v": v}),
        Value::BigInteger(v) => json!({"t": "big", "v": hex(v)}),
        Value::Enumeration(v) => json!({"t": "enum", "v": v}),
        Value::Boolean(v) => json!({"t": "bool", "v": v}),
        Value::TextString(v) => json!({"t": "text", "v": v}),
        Value::ByteString(v) => json!({"t": "bytes", "v": hex(v)}),
        Value::DateTime(v) => json!({"t": "date", "v": v}),
        Value::Interval(v) => json!({"t": "interval", "v": v}),
        Value::DateTimeExtended(v) => json!({"t": "date_ext", "v": v}),
    }
}

/// The reverse of [`to_json`]; `None` for JSON it did not write.
pub fn from_json(tag: Tag, j: &Json) -> Option<Item> {
    let v = j.get("v")?;
    let value = match j.get("t")?.as_str()? {
        "struct" => Value::Structure(
            v.as_array()?
                .iter()
                .map(|c| from_json(Tag::new(c.get("tag")?.as_u64()? as u32)?, c))
                .collect::<Option<Vec<_>>>()?,
        ),
        "int" => Value::Integer(i32::try_from(v.as_i64()?).ok()?),
        "long" => Value::LongInteger(v.as_i64()?),
        "big" => Value::BigInteger(unhex(v.as_str()?)?),
        "enum" => Value::Enumeration(u32::try_from(v.as_u64()?).ok()?),
        "bool" => Value::Boolean(v.as_bool()?),
        "text" => Value::TextString(v.as_str()?.to_owned()),
        "bytes" => Value::ByteString(unhex(v.as_str()?)?),
        "date" => Value::DateTime(v.as_i64()?),
        "interval" => Value::Interval(u32::try_from(v.as_u64()?).ok()?),
        "date_ext" => Value::DateTimeExtended(v.as_i64()?),
        _ => return None,
    };
    Some(Item { tag, value })
}

/// The stored values of one attribute, in order.
pub fn stored(attrs: &Map<String, Json>, name: &str) -> Vec<Item> {
    attrs
        .get(name)
        .and_then(Json::as_array)
        .map(|vs| vs.iter().filter_map(|v| from_json(Tag::ATTRIBUTE_VALUE, v)).collect())
        .unwrap_or_default()
}

/// Every stored attribute (bookkeeping names excluded), in name order.
pub fn all_stored(attrs: &Map<String, Json>) -> Vec<Attr> {
    let mut out = Vec::new();
    for name in attrs.keys().filter(|k| !k.starts_with('_')) {
        for (i, value) in stored(attrs, name).into_iter().enumerate() {
            out.push(Attr { name: name.clone(), index: Some(i as i32), value });
        }
    }
    out
}

pub fn set_values(attrs: &mut Map<String, Json>, name: &str, values: &[Item]) {
    if values.is_empty() {
        attrs.remove(name);
    } else {
        attrs.insert(name.to_owned(), Json::Array(values.iter().map(to_json).collect()));
    }
}

pub fn add_value(attrs: &mut Map<String, Json>, name: &str, value: &Item) {
    let mut values = stored(attrs, name);
    values.push(retag(value, Tag::ATTRIBUTE_VALUE));
    set_values(attrs, name, &values);
}

/// Stores the attributes a client passed when making an object, refusing server-managed ones.
pub fn store_client_attributes(attrs: &mut Map<String, Json>, given: &[Attr]) -> Result<(), KmipError> {
    // Objects made over KMIP keep their names as attributes; those made over REST show theirs.
    attrs.insert("_origin".into(), Json::from("kmip"));
    for a in given {
        if SERVER_MANAGED.contains(&a.name.as_str()) && a.name != "Activation Date" {
            return Err(KmipError::read_only(&a.name));
        }
        if a.name == "Activation Date" || a.name.starts_with('_') {
            continue;
        }
        if SINGLE_VALUED.contains(&a.name.as_str()) {
            set_values(attrs, &a.name, std::slice::from_ref(&a.value));
        } else {
            add_value(attrs, &a.name, &a.value);
        }
    }
    Ok(())
}

/// The first value of `name` among `given`.
pub fn find<'a>(given: &'a [Attr], name: &str) -> Option<&'a Item> {
    given.iter().find(|a| a.name == name).map(|a| &a.value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_round_trip_keeps_every_type_and_child_tag() {
        let item = Item::structure(
            Tag::ATTRIBUTE_VALUE,
            vec![
                Item::text(Tag::NAME_VALUE, "k"),
                Item::enumeration(Tag::NAME_TYPE, 1u32),
                Item::integer(Tag::CRYPTOGRAPHIC_LENGTH, 256),
                Item::long_integer(Tag::ITERATION_COUNT, -5),
                Item::bytes(Tag::SALT, vec![0, 255]),
                Item::date_time(Tag::INITIAL_DATE, 1_700_000_000),
                Item::boolean(Tag::SENSITIVE, true),
                Item::interval(Tag::LEASE_TIME, 9),
                Item::big_integer(Tag::MODULUS, vec![1, 2]),
                Item::date_time_extended(Tag::INITIAL_DATE, 7),
            ],
        );
        assert_eq!(from_json(Tag::ATTRIBUTE_VALUE, &to_json(&item)), Some(item));
    }

    #[test]
    fn the_service_reads_the_usage_mask_as_stored_here() {
        let mut stored = Map::new();
        let mask = Attr {
            name: "Cryptographic Usage Mask".into(),
            index: None,
            value: Item::integer(Tag::ATTRIBUTE_VALUE, 0x0C),
        };
        store_client_attributes(&mut stored, &[mask]).unwrap();
        assert_eq!(keyward_service::managed::stored_usage_mask(&stored), Some(0x0C));
    }

    #[test]
    fn both_versions_read_the_same_attribute() {
        let v1 = Item::structure(
            Tag::ATTRIBUTE,
            vec![Item::text(Tag::ATTRIBUTE_NAME, "Cryptographic Length"), Item::integer(Tag::ATTRIBUTE_VALUE, 128)],
        );
        let v2 = Item::integer(Tag::CRYPTOGRAPHIC_LENGTH, 128);
        assert_eq!(parse_attribute_v1(&v1).unwrap().value, parse_attribute_v2(&v2).unwrap().value);
        let a = parse_attribute_v1(&v1).unwrap();
        assert_eq!(encode(&a, true), Some(v2));
        assert_eq!(encode(&a, false), Some(v1));
    }
}
