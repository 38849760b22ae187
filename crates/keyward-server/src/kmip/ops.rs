//! The KMIP operations: each reads its request payload, asks the service, and builds the response
//! payload. Authorization, lifecycle rules and storage are the service's, so KMIP and REST cannot
//! disagree about what a caller may do with a key.

use std::time::{SystemTime, UNIX_EPOCH};

use keyward_crypto::Secret;
use keyward_crypto::primitives::{self, AesMode, Hash, Signing};
use keyward_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm as Alg, HashingAlgorithm, ObjectType, Operation, PaddingMethod,
    RecommendedCurve, ResultReason, RevocationReasonCode, State, ValidityIndicator,
};
use keyward_kmip::{Item, Tag, Value};
use keyward_service::managed::{Fetched, Material, NewObject, attributes_of};
use keyward_service::{Caller, Service};
use keyward_store::ObjectRow;
use keyward_types::{KeyState, KeyType, Usage};
use serde_json::{Map, Value as Json};

use super::KmipError;
use super::attrs::{self, Attr};
use super::objects;

/// One request message's context: who asks, in which version, and the ID Placeholder that
/// batch items pass along (the object the previous item made or used).
pub struct Ctx<'a> {
    pub service: &'a Service,
    pub caller: &'a Caller,
    pub version: (i32, i32),
    pub placeholder: Option<String>,
}

type Outcome = Result<Vec<Item>, KmipError>;

impl Ctx<'_> {
    fn v2(&self) -> bool {
        self.version.0 >= 2
    }

    /// The Unique Identifier the item names, or the ID Placeholder.
    fn uid(&self, payload: &Item) -> Result<String, KmipError> {
        match payload.child(Tag::UNIQUE_IDENTIFIER) {
            Some(i) => {
                i.as_text().map(str::to_owned).ok_or_else(|| KmipError::invalid_field("Unique Identifier must be text"))
            }
            None => self
                .placeholder
                .clone()
                .ok_or_else(|| KmipError::new(ResultReason::MissingData, "no Unique Identifier and no ID Placeholder")),
        }
    }
}

/// The operations answered, for Query.
pub const OPERATIONS: &[Operation] = &[
    Operation::Create,
    Operation::CreateKeyPair,
    Operation::Register,
    Operation::DeriveKey,
    Operation::Locate,
    Operation::Get,
    Operation::GetAttributes,
    Operation::GetAttributeList,
    Operation::AddAttribute,
    Operation::ModifyAttribute,
    Operation::DeleteAttribute,
    Operation::SetAttribute,
    Operation::Activate,
    Operation::Revoke,
    Operation::Destroy,
    Operation::Query,
    Operation::DiscoverVersions,
    Operation::Encrypt,
    Operation::Decrypt,
    Operation::Sign,
    Operation::SignatureVerify,
    Operation::Mac,
    Operation::MacVerify,
    Operation::ReKey,
    Operation::Check,
    Operation::GetUsageAllocation,
    Operation::RngRetrieve,
    Operation::Hash,
];

/// The KMIP version that defined an operation, so Query lists only what the client's version knows.
pub fn since(op: Operation) -> (i32, i32) {
    match op {
        Operation::DiscoverVersions => (1, 1),
        Operation::Encrypt
        | Operation::Decrypt
        | Operation::Sign
        | Operation::SignatureVerify
        | Operation::Mac
        | Operation::MacVerify
        | Operation::RngRetrieve
        | Operation::Hash => (1, 2),
        Operation::SetAttribute => (2, 0),
        _ => (1, 0),
    }
}

/// Runs one operation; `None` when the operation is not one of [`OPERATIONS`].
pub fn dispatch(ctx: &mut Ctx<'_>, op: Operation, payload: &Item) -> Option<Outcome> {
    Some(match op {
        Operation::Create => create(ctx, payload),
        Operation::CreateKeyPair => create_key_pair(ctx, payload),
        Operation::Register => register(ctx, payload),
        Operation::DeriveKey => derive_key(ctx, payload),
        Operation::Locate => locate(ctx, payload),
        Operation::Get => get(ctx, payload),
        Operation::GetAttributes => get_attributes(ctx, payload),
        Operation::GetAttributeList => get_attribute_list(ctx, payload),
        Operation::AddAttribute => add_attribute(ctx, payload),
        Operation::ModifyAttribute => modify_attribute(ctx, payload),
        Operation::DeleteAttribute => delete_attribute(ctx, payload),
        Operation::SetAttribute => set_attribute(ctx, payload),
        Operation::Activate => lifecycle(ctx, payload, KeyState::Active),
        Operation::Revoke => revoke(ctx, payload),
        Operation::Destroy => destroy(ctx, payload),
        Operation::Encrypt => encrypt(ctx, payload),
        Operation::Decrypt => decrypt(ctx, payload),
        Operation::Sign => sign(ctx, payload),
        Operation::SignatureVerify => signature_verify(ctx, payload),
        Operation::Mac => mac(ctx, payload, false),
        Operation::MacVerify => mac(ctx, payload, true),
        Operation::ReKey => rekey(ctx, payload),
        Operation::Check => check(ctx, payload),
        Operation::GetUsageAllocation => usage_allocation(ctx, payload),
        Operation::RngRetrieve => rng_retrieve(payload),
        Operation::Hash => hash(payload),
        _ => return None,
    })
}

fn unix(rfc3339: &str) -> Option<i64> {
    humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(rfc3339))
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn kmip_state(s: KeyState) -> State {
    match s {
        KeyState::PreActive => State::PreActive,
        KeyState::Active => State::Active,
        KeyState::Deactivated => State::Deactivated,
        KeyState::Compromised => State::Compromised,
        KeyState::Destroyed => State::Destroyed,
        KeyState::DestroyedCompromised => State::DestroyedCompromised,
    }
}

fn value(item: Item) -> Item {
    Item { tag: Tag::ATTRIBUTE_VALUE, value: item.value }
}

fn synthesized(name: &str, item: Item) -> Attr {
    Attr { name: name.into(), index: Some(0), value: value(item) }
}

/// Every attribute of an object: what the server keeps for it, then what clients stored.
fn object_attrs(row: &ObjectRow) -> Result<Vec<Attr>, KmipError> {
    let key_type: KeyType = row.key_type.parse().map_err(|_| KmipError::internal("an object has an unknown type"))?;
    let state: KeyState = row.state.parse().map_err(|_| KmipError::internal("an object has an unknown state"))?;
    let stored = attributes_of(row);
    let t = Tag::ATTRIBUTE_VALUE;
    let mut out = vec![
        synthesized("Unique Identifier", Item::text(t, row.id.clone())),
        synthesized("Object Type", Item::enumeration(t, objects::object_type_of(key_type).value())),
    ];
    let implied = objects::implied_algorithm(key_type);
    match attrs::stored(&stored, "Cryptographic Algorithm").first() {
        Some(a) => out.push(synthesized("Cryptographic Algorithm", a.clone())),
        None => {
            if let Some((alg, _)) = implied {
                out.push(synthesized("Cryptographic Algorithm", Item::enumeration(t, alg.value())));
            }
        }
    }
    match attrs::stored(&stored, "Cryptographic Length").first() {
        Some(l) => out.push(synthesized("Cryptographic Length", l.clone())),
        None => {
            if let Some((_, len)) = implied {
                out.push(synthesized("Cryptographic Length", Item::integer(t, len)));
            }
        }
    }
    out.push(synthesized("State", Item::enumeration(t, kmip_state(state).value())));
    let dates = [
        ("Initial Date", Some(&row.created_at)),
        ("Activation Date", row.activated_at.as_ref()),
        ("Deactivation Date", row.deactivated_at.as_ref()),
        ("Destroy Date", row.destroyed_at.as_ref()),
        ("Last Change Date", Some(&row.updated_at)),
    ];
    for (name, at) in dates {
        if let Some(secs) = at.and_then(|a| unix(a)) {
            out.push(synthesized(name, Item::date_time(t, secs)));
        }
    }
    // A key made over REST is known to KMIP clients by its Keyward name.
    if !stored.contains_key("_origin") && attrs::stored(&stored, "Name").is_empty() {
        let name = Item::structure(
            t,
            vec![Item::text(Tag::NAME_VALUE, row.name.clone()), Item::enumeration(Tag::NAME_TYPE, 1u32)],
        );
        out.push(synthesized("Name", name));
    }
    // Keyward has one policy, its role table; KMIP 1.x clients know it by this name (2.0
    // dropped the attribute: see `visible`).
    if attrs::stored(&stored, "Operation Policy Name").is_empty() {
        out.push(synthesized("Operation Policy Name", Item::text(t, "default")));
    }
    if attrs::stored(&stored, "Cryptographic Usage Mask").is_empty()
        && let Some(mask) = default_usage_mask(key_type)
    {
        out.push(synthesized("Cryptographic Usage Mask", Item::integer(t, mask)));
    }
    out.extend(
        attrs::all_stored(&stored)
            .into_iter()
            .filter(|a| a.name != "Cryptographic Algorithm" && a.name != "Cryptographic Length"),
    );
    Ok(out)
}

/// Cryptographic Usage Mask bits (KMIP 1.4 §9.1.3.3.1).
mod mask {
    pub const SIGN: i32 = 0x1;
    pub const VERIFY: i32 = 0x2;
    pub const ENCRYPT: i32 = 0x4;
    pub const DECRYPT: i32 = 0x8;
    pub const WRAP_KEY: i32 = 0x10;
    pub const UNWRAP_KEY: i32 = 0x20;
    pub const MAC_GENERATE: i32 = 0x80;
    pub const MAC_VERIFY: i32 = 0x100;
    pub const DERIVE_KEY: i32 = 0x200;
}

/// The usage mask that governs an object: the one a client set, else what its type can do.
fn effective_mask(f: &Fetched) -> Option<i32> {
    keyward_service::managed::stored_usage_mask(&f.attributes).or_else(|| default_usage_mask(f.key_type))
}

/// An operation outside the object's usage mask fails.
fn require_usage(f: &Fetched, bit: i32, what: &str) -> Result<(), KmipError> {
    let Some(m) = effective_mask(f) else {
        return Ok(());
    };
    if m & bit == 0 {
        return Err(KmipError::new(
            ResultReason::IncompatibleCryptographicUsageMask,
            format!("the object's Cryptographic Usage Mask ({m:#x}) does not allow it to {what}"),
        ));
    }
    Ok(())
}

/// What a key made over REST may do, as a usage mask.
fn default_usage_mask(key_type: KeyType) -> Option<i32> {
    use KeyType::*;
    use mask::*;
    Some(match key_type {
        Aes128 | Aes256 => ENCRYPT | DECRYPT | WRAP_KEY | UNWRAP_KEY,
        HmacSha256 => MAC_GENERATE | MAC_VERIFY,
        Rsa2048 | Rsa3072 | Rsa4096 => SIGN | VERIFY | ENCRYPT | DECRYPT,
        EcP256 | EcP384 | Ed25519 => SIGN | VERIFY,
        _ => return None,
    })
}

fn name_hint(given: &[Attr]) -> Option<String> {
    attrs::find(given, "Name").and_then(|n| n.child(Tag::NAME_VALUE)).and_then(Item::as_text).map(str::to_owned)
}

/// Whether the template asks for the object to be active from the start.
fn starts_active(given: &[Attr]) -> bool {
    attrs::find(given, "Activation Date").and_then(Item::as_datetime).is_some_and(|d| d <= now_unix())
}

fn exportable(given: &[Attr]) -> bool {
    attrs::find(given, "Extractable").and_then(Item::as_bool).unwrap_or(true)
}

fn template(payload: &Item, v1: Tag, v2: Tag) -> Result<Vec<Attr>, KmipError> {
    attrs::parse_container(payload.child(v1).or_else(|| payload.child(v2)))
}

fn object_type(payload: &Item) -> Result<ObjectType, KmipError> {
    payload
        .child(Tag::OBJECT_TYPE)
        .and_then(Item::as_kmip_enum::<ObjectType>)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "the request names no (known) Object Type"))
}

fn uid_item(id: &str) -> Item {
    Item::text(Tag::UNIQUE_IDENTIFIER, id)
}

fn link(kind: keyward_kmip::enums::LinkType, id: &str) -> Item {
    Item::structure(
        Tag::ATTRIBUTE_VALUE,
        vec![Item::enumeration(Tag::LINK_TYPE, kind.value()), Item::text(Tag::LINKED_OBJECT_IDENTIFIER, id)],
    )
}

fn alg_len(given: &[Attr]) -> (Option<u32>, Option<i32>) {
    (
        attrs::find(given, "Cryptographic Algorithm").and_then(Item::as_enum),
        attrs::find(given, "Cryptographic Length").and_then(Item::as_int),
    )
}

fn with_alg(mut attributes: Map<String, Json>, alg: u32, len: i32) -> Map<String, Json> {
    attrs::set_values(&mut attributes, "Cryptographic Algorithm", &[Item::enumeration(Tag::ATTRIBUTE_VALUE, alg)]);
    attrs::set_values(&mut attributes, "Cryptographic Length", &[Item::integer(Tag::ATTRIBUTE_VALUE, len)]);
    attributes
}

/// Key type and fresh material for a symmetric key of `alg` and `bits`.
fn symmetric_material(alg: u32, bits: i32) -> Result<(KeyType, Secret), KmipError> {
    let bad = |m: &str| KmipError::invalid_field(m);
    if bits <= 0 || bits % 8 != 0 || bits > 8192 {
        return Err(bad("Cryptographic Length must be a positive multiple of 8, at most 8192"));
    }
    let key_type = match (Alg::from_value(alg), bits) {
        (Some(Alg::Aes), 128) => KeyType::Aes128,
        (Some(Alg::Aes), 256) => KeyType::Aes256,
        (Some(Alg::Aes), 192) => KeyType::Symmetric,
        (Some(Alg::Aes), _) => return Err(bad("AES keys are 128, 192 or 256 bits")),
        (Some(Alg::HmacSha256), b) if b >= 128 => KeyType::HmacSha256,
        (Some(Alg::Rsa | Alg::Ec | Alg::Ecdsa | Alg::Ed25519 | Alg::Dsa), _) => {
            return Err(bad("that algorithm makes key pairs: use Create Key Pair"));
        }
        _ => KeyType::Symmetric,
    };
    let material = keyward_crypto::random_secret(bits as usize / 8).map_err(KmipError::crypto)?;
    Ok((key_type, material))
}

/// Stores one object made from a client's template; it becomes the ID Placeholder.
fn store_one(
    ctx: &mut Ctx<'_>,
    key_type: KeyType,
    material: Option<Secret>,
    public: Option<Vec<u8>>,
    given: &[Attr],
    attributes: Map<String, Json>,
) -> Result<String, KmipError> {
    let id = Service::new_object_id();
    let object = NewObject {
        id: id.clone(),
        key_type,
        material,
        public,
        name_hint: name_hint(given),
        attributes,
        pre_active: !starts_active(given),
        exportable: exportable(given),
    };
    ctx.service.objects_register(ctx.caller, vec![object]).map_err(KmipError::service)?;
    ctx.placeholder = Some(id.clone());
    Ok(id)
}

/// Refuses callers who may not make objects before any work (RSA key generation, KDFs) is done.
fn may_make_objects(ctx: &Ctx<'_>, given: &[Attr]) -> Result<(), KmipError> {
    let name = name_hint(given).unwrap_or_default();
    keyward_service::authz::authorize(ctx.caller, keyward_service::authz::Action::ManageKey(&name))
        .map_err(KmipError::service)
}

fn create(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    if object_type(payload)? != ObjectType::SymmetricKey {
        return Err(KmipError::new(
            ResultReason::InvalidField,
            "Create makes symmetric keys; use Create Key Pair for key pairs and Register for other objects",
        ));
    }
    let given = template(payload, Tag::TEMPLATE_ATTRIBUTE, Tag::ATTRIBUTES)?;
    may_make_objects(ctx, &given)?;
    let (Some(alg), Some(len)) = alg_len(&given) else {
        return Err(KmipError::new(
            ResultReason::MissingData,
            "Create needs Cryptographic Algorithm and Cryptographic Length",
        ));
    };
    let (key_type, material) = symmetric_material(alg, len)?;
    let mut attributes = Map::new();
    attrs::store_client_attributes(&mut attributes, &given)?;
    let id = store_one(ctx, key_type, Some(material), None, &given, with_alg(attributes, alg, len))?;
    Ok(vec![Item::enumeration(Tag::OBJECT_TYPE, ObjectType::SymmetricKey.value()), uid_item(&id)])
}

fn create_key_pair(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let common = template(payload, Tag::COMMON_TEMPLATE_ATTRIBUTE, Tag::COMMON_ATTRIBUTES)?;
    let private = template(payload, Tag::PRIVATE_KEY_TEMPLATE_ATTRIBUTE, Tag::PRIVATE_KEY_ATTRIBUTES)?;
    let public = template(payload, Tag::PUBLIC_KEY_TEMPLATE_ATTRIBUTE, Tag::PUBLIC_KEY_ATTRIBUTES)?;
    let merged = |own: &[Attr]| -> Vec<Attr> { common.iter().chain(own.iter()).cloned().collect() };
    let (private, mut public) = (merged(&private), merged(&public));
    may_make_objects(ctx, &private)?;
    // A Name in the common template would name both halves alike: the public key gets ".pub".
    if name_hint(&public).is_some() && name_hint(&public) == name_hint(&private) {
        for a in public.iter_mut().filter(|a| a.name == "Name") {
            if let Value::Structure(children) = &mut a.value.value {
                for c in children.iter_mut().filter(|c| c.tag == Tag::NAME_VALUE) {
                    if let Value::TextString(t) = &mut c.value {
                        t.push_str(".pub");
                    }
                }
            }
        }
    }
    let alg = alg_len(&private)
        .0
        .or(alg_len(&public).0)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Create Key Pair needs a Cryptographic Algorithm"))?;
    let len = alg_len(&private).1.or(alg_len(&public).1);
    let curve = attrs::find(&private, "Cryptographic Domain Parameters")
        .or_else(|| attrs::find(&public, "Cryptographic Domain Parameters"))
        .and_then(|p| p.child(Tag::RECOMMENDED_CURVE))
        .and_then(Item::as_kmip_enum::<RecommendedCurve>);
    let (key_type, pkcs8, bits) = match Alg::from_value(alg) {
        Some(Alg::Rsa) => {
            let bits =
                len.ok_or_else(|| KmipError::new(ResultReason::MissingData, "RSA needs a Cryptographic Length"))?;
            let key_type = match bits {
                2048 => KeyType::Rsa2048,
                3072 => KeyType::Rsa3072,
                4096 => KeyType::Rsa4096,
                _ => KeyType::PrivateKey,
            };
            (key_type, primitives::generate_rsa(bits as u32).map_err(KmipError::crypto)?, bits)
        }
        Some(Alg::Ec | Alg::Ecdsa) => {
            let key_type = match (curve, len) {
                (Some(RecommendedCurve::P256), _) | (None, Some(256)) => KeyType::EcP256,
                (Some(RecommendedCurve::P384), _) | (None, Some(384)) => KeyType::EcP384,
                _ => return Err(KmipError::invalid_field("EC key pairs are P-256 or P-384")),
            };
            (key_type, keyward_crypto::generate_material(key_type).map_err(KmipError::crypto)?, key_type.bits() as i32)
        }
        Some(Alg::Ed25519) => {
            (KeyType::Ed25519, keyward_crypto::generate_material(KeyType::Ed25519).map_err(KmipError::crypto)?, 256)
        }
        _ => return Err(KmipError::invalid_field("key pairs are RSA, EC or Ed25519")),
    };
    let spki = primitives::public_of_private(pkcs8.expose()).map_err(KmipError::crypto)?;
    let (private_id, public_id) = (Service::new_object_id(), Service::new_object_id());
    let mut private_attrs = Map::new();
    if key_type == KeyType::PrivateKey {
        // Kept as generated (PKCS#8): Get must say so.
        private_attrs.insert("_format".into(), Json::from(keyward_kmip::enums::KeyFormatType::Pkcs8.value()));
    }
    attrs::store_client_attributes(&mut private_attrs, &private)?;
    attrs::add_value(&mut private_attrs, "Link", &link(keyward_kmip::enums::LinkType::PublicKeyLink, &public_id));
    let mut public_attrs = Map::new();
    attrs::store_client_attributes(&mut public_attrs, &public)?;
    attrs::add_value(&mut public_attrs, "Link", &link(keyward_kmip::enums::LinkType::PrivateKeyLink, &private_id));
    ctx.service
        .objects_register(
            ctx.caller,
            vec![
                NewObject {
                    id: private_id.clone(),
                    key_type,
                    material: Some(pkcs8),
                    public: Some(spki.clone()),
                    name_hint: name_hint(&private),
                    attributes: with_alg(private_attrs, alg, bits),
                    pre_active: !starts_active(&private),
                    exportable: exportable(&private),
                },
                NewObject {
                    id: public_id.clone(),
                    key_type: KeyType::PublicKey,
                    material: None,
                    public: Some(spki),
                    name_hint: name_hint(&public),
                    attributes: with_alg(public_attrs, alg, bits),
                    pre_active: !starts_active(&public),
                    exportable: true,
                },
            ],
        )
        .map_err(KmipError::service)?;
    ctx.placeholder = Some(private_id.clone());
    Ok(vec![
        Item::text(Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER, private_id),
        Item::text(Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER, public_id),
    ])
}

fn register(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let ot = object_type(payload)?;
    let tag = objects::object_tag(ot)
        .ok_or_else(|| KmipError::new(ResultReason::FeatureNotSupported, "that object type cannot be registered"))?;
    let object = payload
        .child(tag)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "the object to register is missing"))?;
    let given = template(payload, Tag::TEMPLATE_ATTRIBUTE, Tag::ATTRIBUTES)?;
    may_make_objects(ctx, &given)?;
    let incoming = objects::incoming(ot, object)?;
    // The Key Block says what the key is; a template may repeat it, not contradict it.
    for name in ["Cryptographic Algorithm", "Cryptographic Length"] {
        let from_block = attrs::stored(&incoming.attributes, name);
        if let (Some(b), Some(t)) = (from_block.first(), attrs::find(&given, name))
            && b.value != t.value
        {
            return Err(KmipError::invalid_field(format!("the template's {name} contradicts the Key Block's")));
        }
    }
    let mut attributes = incoming.attributes;
    attrs::store_client_attributes(&mut attributes, &given)?;
    let id = store_one(ctx, incoming.key_type, incoming.material, incoming.public, &given, attributes)?;
    Ok(vec![uid_item(&id)])
}

fn hash_of(item: Option<&Item>) -> Result<Option<Hash>, KmipError> {
    let Some(h) = item.and_then(Item::as_kmip_enum::<HashingAlgorithm>) else {
        return Ok(None);
    };
    Ok(Some(match h {
        HashingAlgorithm::Sha1 => Hash::Sha1,
        HashingAlgorithm::Sha224 => Hash::Sha224,
        HashingAlgorithm::Sha256 => Hash::Sha256,
        HashingAlgorithm::Sha384 => Hash::Sha384,
        HashingAlgorithm::Sha512 => Hash::Sha512,
        _ => return Err(KmipError::new(ResultReason::FeatureNotSupported, "hashing algorithms are SHA-1 and SHA-2")),
    }))
}

fn hmac_hash(alg: Option<Alg>) -> Option<Hash> {
    Some(match alg? {
        Alg::HmacSha1 => Hash::Sha1,
        Alg::HmacSha224 => Hash::Sha224,
        Alg::HmacSha256 => Hash::Sha256,
        Alg::HmacSha384 => Hash::Sha384,
        Alg::HmacSha512 => Hash::Sha512,
        _ => return None,
    })
}

fn derive_key(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    const PBKDF2: u32 = 1;
    const HASH: u32 = 2;
    const HMAC: u32 = 3;
    const ENCRYPT: u32 = 4;
    const NIST800_108_C: u32 = 5;
    let ot = object_type(payload)?;
    if !matches!(ot, ObjectType::SymmetricKey | ObjectType::SecretData) {
        return Err(KmipError::invalid_field("Derive Key makes symmetric keys or secret data"));
    }
    let base_ids: Vec<&str> = payload.children(Tag::UNIQUE_IDENTIFIER).filter_map(Item::as_text).collect();
    let base_id = match base_ids.as_slice() {
        [one] => (*one).to_owned(),
        [] => ctx.uid(payload)?,
        _ => return Err(KmipError::new(ResultReason::FeatureNotSupported, "Derive Key takes one base object")),
    };
    let method = payload
        .child(Tag::DERIVATION_METHOD)
        .and_then(Item::as_enum)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Derive Key needs a Derivation Method"))?;
    let params = payload.child(Tag::DERIVATION_PARAMETERS);
    let param = |tag| params.and_then(|p| p.child(tag));
    let crypto = param(Tag::CRYPTOGRAPHIC_PARAMETERS);
    let given = template(payload, Tag::TEMPLATE_ATTRIBUTE, Tag::ATTRIBUTES)?;
    may_make_objects(ctx, &given)?;
    let (alg, len) = alg_len(&given);
    let bits =
        len.ok_or_else(|| KmipError::new(ResultReason::MissingData, "Derive Key needs a Cryptographic Length"))?;
    if bits <= 0 || bits % 8 != 0 || bits > 8192 {
        return Err(KmipError::invalid_field("Cryptographic Length must be a positive multiple of 8, at most 8192"));
    }
    let out_len = bits as usize / 8;
    let base = ctx.service.object_for_derivation(ctx.caller, &base_id).map_err(KmipError::service)?;
    require_usage(&base, mask::DERIVE_KEY, "derive keys")?;
    let secret = base
        .material
        .as_ref()
        .ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "the base object holds no material"))?;
    let hash = hash_of(crypto.and_then(|c| c.child(Tag::HASHING_ALGORITHM)))?;
    let data = param(Tag::DERIVATION_DATA).and_then(Item::as_bytes).unwrap_or(&[]);
    let salt = param(Tag::SALT).and_then(Item::as_bytes);
    let derived = match method {
        PBKDF2 => {
            let salt = salt.ok_or_else(|| KmipError::new(ResultReason::MissingData, "PBKDF2 needs a Salt"))?;
            let iterations = param(Tag::ITERATION_COUNT)
                .and_then(Item::as_int)
                .ok_or_else(|| KmipError::new(ResultReason::MissingData, "PBKDF2 needs an Iteration Count"))?;
            // An attacker-chosen count would burn CPU for hours: a million is far beyond any
            // password-hashing recommendation.
            if !(1..=1_000_000).contains(&iterations) {
                return Err(KmipError::invalid_field("Iteration Count is 1 to 1,000,000"));
            }
            primitives::pbkdf2(hash.unwrap_or(Hash::Sha256), secret.expose(), salt, iterations as u32, out_len)
        }
        HMAC => primitives::hkdf(hash.unwrap_or(Hash::Sha256), secret.expose(), salt.unwrap_or(&[]), data, out_len),
        ENCRYPT => {
            // The derived bytes are the Derivation Data encrypted under the base key.
            let p = crypto_params(params.unwrap_or(payload))?;
            let iv = param(Tag::INITIALIZATION_VECTOR).and_then(Item::as_bytes);
            let encrypted = match p.algorithm.or_else(|| algorithm_of(&base)) {
                Some(Alg::Blowfish) if matches!(p.mode, None | Some(BlockCipherMode::Cbc)) => {
                    let iv = iv.ok_or_else(|| {
                        KmipError::new(ResultReason::MissingData, "Blowfish-CBC needs an Initialization Vector")
                    })?;
                    primitives::blowfish_cbc_encrypt(secret.expose(), iv, data)
                }
                Some(Alg::Aes) => {
                    let mode = aes_mode(&p)?;
                    raw_mode_allowed(&base, mode)?;
                    primitives::aes_encrypt(secret.expose(), mode, iv, &[], data).map(|s| s.ciphertext)
                }
                _ => {
                    return Err(KmipError::new(
                        ResultReason::FeatureNotSupported,
                        "derivation by encryption is offered with AES and Blowfish-CBC",
                    ));
                }
            }
            .map(Secret::from_vec)
            .map_err(KmipError::crypto)?;
            let taken = encrypted.expose().get(..out_len).ok_or_else(|| {
                KmipError::invalid_field("the encrypted Derivation Data is shorter than the asked length")
            })?;
            Ok(Secret::copy_from(taken))
        }
        NIST800_108_C => primitives::kbkdf_counter_hmac(hash.unwrap_or(Hash::Sha256), secret.expose(), data, out_len),
        HASH => {
            // Both the input (the base key) and the digest (the new key) are secrets.
            let mut input = Secret::zeroed(secret.expose().len() + data.len());
            let (key_part, data_part) = input.expose_mut().split_at_mut(secret.expose().len());
            key_part.copy_from_slice(secret.expose());
            data_part.copy_from_slice(data);
            let digest = Secret::from_vec(primitives::digest(hash.unwrap_or(Hash::Sha256), input.expose()));
            let taken = digest
                .expose()
                .get(..out_len)
                .ok_or_else(|| KmipError::invalid_field("the hash is shorter than the asked length"))?;
            Ok(Secret::copy_from(taken))
        }
        _ => {
            return Err(KmipError::new(
                ResultReason::FeatureNotSupported,
                "derivation methods offered: PBKDF2, HASH, HMAC (HKDF), ENCRYPT and NIST SP 800-108 counter mode",
            ));
        }
    }
    .map_err(KmipError::crypto)?;
    let key_type = match ot {
        ObjectType::SecretData => KeyType::SecretData,
        _ => match (alg.and_then(Alg::from_value), bits) {
            (Some(Alg::Aes), 128) => KeyType::Aes128,
            (Some(Alg::Aes), 256) => KeyType::Aes256,
            (Some(Alg::HmacSha256), b) if b >= 128 => KeyType::HmacSha256,
            _ => KeyType::Symmetric,
        },
    };
    // What is derived from a key that may not leave the server may not leave it either.
    let mut given = given;
    if !base.row.exportable {
        given.retain(|a| a.name != "Extractable");
        given.push(Attr { name: "Extractable".into(), index: None, value: Item::boolean(Tag::ATTRIBUTE_VALUE, false) });
    }
    let mut attributes = Map::new();
    attrs::store_client_attributes(&mut attributes, &given)?;
    attrs::add_value(&mut attributes, "Link", &link(keyward_kmip::enums::LinkType::DerivationBaseObjectLink, &base_id));
    if ot == ObjectType::SecretData {
        attributes.insert("_secret_data_type".into(), Json::from(2u32));
        attributes.remove("Cryptographic Algorithm");
        attrs::set_values(&mut attributes, "Cryptographic Length", &[Item::integer(Tag::ATTRIBUTE_VALUE, bits)]);
    } else if let Some(a) = alg {
        attributes = with_alg(attributes, a, bits);
    }
    let id = store_one(ctx, key_type, Some(derived), None, &given, attributes)?;
    Ok(vec![uid_item(&id)])
}

/// Whether an object's attributes satisfy one Locate criterion (all values given for a name).
fn matches(all: &[Attr], name: &str, wanted: &[&Item]) -> bool {
    let have: Vec<&Item> = all.iter().filter(|a| a.name == name).map(|a| &a.value).collect();
    let is_date = name.ends_with(" Date");
    if is_date && wanted.len() == 2 {
        // Two dates bound a range, inclusive.
        let (Some(lo), Some(hi)) =
            (wanted.first().and_then(|w| w.as_datetime()), wanted.get(1).and_then(|w| w.as_datetime()))
        else {
            return false;
        };
        return have.iter().filter_map(|h| h.as_datetime()).any(|d| lo <= d && d <= hi);
    }
    wanted.iter().all(|w| {
        have.iter().any(|h| match (name, &h.value, &w.value) {
            // A Name matches on its value whatever the name type.
            ("Name", _, _) => h.child(Tag::NAME_VALUE) == w.child(Tag::NAME_VALUE),
            // A usage mask asks for those bits at least.
            ("Cryptographic Usage Mask", Value::Integer(have), Value::Integer(want)) => have & want == *want,
            _ => h.value == w.value,
        })
    })
}

fn locate(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let criteria: Vec<Attr> = if ctx.v2() {
        attrs::parse_container(payload.child(Tag::ATTRIBUTES))?
    } else {
        payload.children(Tag::ATTRIBUTE).map(attrs::parse_attribute_v1).collect::<Result<_, _>>()?
    };
    let max = payload.child(Tag::MAXIMUM_ITEMS).and_then(Item::as_int).filter(|m| *m > 0).map(|m| m as usize);
    let offset = payload.child(Tag::OFFSET_ITEMS).and_then(Item::as_int).unwrap_or(0).max(0) as usize;
    let mut names: Vec<&str> = criteria.iter().map(|a| a.name.as_str()).collect();
    names.dedup();
    let mut rows = ctx.service.object_rows(ctx.caller).map_err(KmipError::service)?;
    // Newest first, as KMIP servers commonly answer (and clients paging with Offset Items expect).
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    let mut found = Vec::new();
    for row in rows {
        // Destroyed objects are not on-line: Locate does not return them.
        if row.state.parse::<KeyState>().is_ok_and(KeyState::is_destroyed) {
            continue;
        }
        let all = object_attrs(&row)?;
        let ok = names.iter().all(|name| {
            let wanted: Vec<&Item> = criteria.iter().filter(|a| a.name == *name).map(|a| &a.value).collect();
            matches(&all, name, &wanted)
        });
        if ok {
            found.push(row.id);
        }
    }
    let total = found.len();
    let page: Vec<String> = found.into_iter().skip(offset).take(max.unwrap_or(usize::MAX)).collect();
    ctx.placeholder = match page.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    if ctx.version >= (1, 3) {
        out.push(Item::integer(Tag::LOCATED_ITEMS, i32::try_from(total).unwrap_or(i32::MAX)));
    }
    out.extend(page.iter().map(|id| uid_item(id)));
    Ok(out)
}

fn get(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let fetched = ctx.service.object_fetch(ctx.caller, &id).map_err(KmipError::service)?;
    let asked = payload.child(Tag::KEY_FORMAT_TYPE).and_then(Item::as_enum);
    if payload.child(Tag::KEY_COMPRESSION_TYPE).is_some() {
        return Err(KmipError::new(ResultReason::KeyCompressionTypeNotSupported, "key compression is not supported"));
    }
    let wrap = match payload.child(Tag::KEY_WRAPPING_SPECIFICATION) {
        Some(spec) => Some(wrap_with(ctx, spec)?),
        None => None,
    };
    // A Sensitive object's material leaves only wrapped (KMIP: "not exported in plaintext").
    let sensitive = attrs::stored(&fetched.attributes, "Sensitive").first().and_then(Item::as_bool) == Some(true);
    if sensitive && wrap.is_none() && fetched.key_type.is_secret() {
        return Err(KmipError::new(
            ResultReason::Sensitive,
            "the object is Sensitive: Get it with a Key Wrapping Specification",
        ));
    }
    let all = object_attrs(&fetched.row)?;
    let object = objects::outgoing(
        fetched.key_type,
        &fetched.attributes,
        &all,
        fetched.material.as_ref(),
        fetched.public.as_deref(),
        asked,
        wrap,
    )?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![
        Item::enumeration(Tag::OBJECT_TYPE, objects::object_type_of(fetched.key_type).value()),
        uid_item(&id),
        object,
    ])
}

fn wrap_with(ctx: &Ctx<'_>, spec: &Item) -> Result<objects::WrapWith, KmipError> {
    const ENCRYPT: u32 = 1;
    if spec.child(Tag::WRAPPING_METHOD).and_then(Item::as_enum) != Some(ENCRYPT) {
        return Err(KmipError::new(ResultReason::FeatureNotSupported, "only the Encrypt wrapping method is supported"));
    }
    if spec.child(Tag::MAC_SIGNATURE_KEY_INFORMATION).is_some() {
        return Err(KmipError::new(ResultReason::FeatureNotSupported, "MAC/signature wrapping is not supported"));
    }
    let info = spec.child(Tag::ENCRYPTION_KEY_INFORMATION).ok_or_else(|| {
        KmipError::new(ResultReason::MissingData, "Key Wrapping Specification needs Encryption Key Information")
    })?;
    let kek_id = info
        .child(Tag::UNIQUE_IDENTIFIER)
        .and_then(Item::as_text)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Encryption Key Information names no key"))?;
    let mode = info
        .child(Tag::CRYPTOGRAPHIC_PARAMETERS)
        .and_then(|p| p.child(Tag::BLOCK_CIPHER_MODE))
        .and_then(Item::as_kmip_enum::<BlockCipherMode>)
        .unwrap_or(BlockCipherMode::NistKeyWrap);
    let pad = match mode {
        BlockCipherMode::NistKeyWrap => false,
        BlockCipherMode::AesKeyWrapPadding => true,
        _ => {
            return Err(KmipError::new(
                ResultReason::FeatureNotSupported,
                "keys are wrapped with NIST Key Wrap or AES Key Wrap with Padding",
            ));
        }
    };
    let kek = ctx.service.object_for_use(ctx.caller, kek_id, Usage::Protect).map_err(KmipError::service)?;
    if algorithm_of(&kek) != Some(Alg::Aes) || kek.attributes.contains_key("_wrapping") {
        return Err(KmipError::new(
            ResultReason::IllegalOperation,
            "the wrapping key must be a 128 or 256-bit AES key",
        ));
    }
    require_usage(&kek, mask::WRAP_KEY, "wrap keys")?;
    let material = kek
        .material
        .ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "the wrapping key holds no material"))?;
    let mut data = vec![
        Item::enumeration(Tag::WRAPPING_METHOD, ENCRYPT),
        Item { tag: Tag::ENCRYPTION_KEY_INFORMATION, value: info.value.clone() },
    ];
    if let Some(e) = spec.child(Tag::ENCODING_OPTION) {
        data.push(e.clone());
    }
    Ok(objects::WrapWith { kek: material, pad, data: Item::structure(Tag::KEY_WRAPPING_DATA, data) })
}

/// Attributes KMIP 2.0 removed: not shown to 2.0 clients.
const REMOVED_IN_2_0: &[&str] = &["Operation Policy Name"];

fn visible(ctx: &Ctx<'_>, name: &str) -> bool {
    !(ctx.v2() && REMOVED_IN_2_0.contains(&name))
}

fn encode_attrs(ctx: &Ctx<'_>, list: &[Attr]) -> Vec<Item> {
    let items: Vec<Item> = list.iter().filter_map(|a| attrs::encode(a, ctx.v2())).collect();
    if ctx.v2() { vec![Item::structure(Tag::ATTRIBUTES, items)] } else { items }
}

fn get_attributes(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let row = ctx.service.object_meta(ctx.caller, &id).map_err(KmipError::service)?;
    let mut all = object_attrs(&row)?;
    all.retain(|a| visible(ctx, &a.name));
    let names: Vec<String> = if ctx.v2() {
        payload.children(Tag::ATTRIBUTE_REFERENCE).filter_map(attrs::reference_name).collect()
    } else {
        payload.children(Tag::ATTRIBUTE_NAME).filter_map(Item::as_text).map(str::to_owned).collect()
    };
    let chosen: Vec<Attr> = if names.is_empty() {
        all
    } else {
        names.iter().flat_map(|n| all.iter().filter(move |a| &a.name == n).cloned()).collect()
    };
    ctx.placeholder = Some(id.clone());
    let mut out = vec![uid_item(&id)];
    out.extend(encode_attrs(ctx, &chosen));
    Ok(out)
}

fn get_attribute_list(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let row = ctx.service.object_meta(ctx.caller, &id).map_err(KmipError::service)?;
    let mut names: Vec<String> = Vec::new();
    for a in object_attrs(&row)? {
        if visible(ctx, &a.name) && !names.contains(&a.name) {
            names.push(a.name);
        }
    }
    ctx.placeholder = Some(id.clone());
    let mut out = vec![uid_item(&id)];
    if ctx.v2() {
        out.extend(names.iter().filter_map(|n| attrs::reference_for(n)));
    } else {
        out.extend(names.into_iter().map(|n| Item::text(Tag::ATTRIBUTE_NAME, n)));
    }
    Ok(out)
}

fn writable(name: &str) -> Result<(), KmipError> {
    if attrs::SERVER_MANAGED.contains(&name) || attrs::SET_AT_CREATION.contains(&name) || name.starts_with('_') {
        return Err(KmipError::read_only(name));
    }
    Ok(())
}

/// The attribute a 1.x request carries, or the one inside a 2.0 New/Current Attribute.
fn request_attr(ctx: &Ctx<'_>, payload: &Item, v2_tag: Tag) -> Result<Option<Attr>, KmipError> {
    if ctx.v2() {
        match payload.child(v2_tag).and_then(|c| c.as_struct()).and_then(<[Item]>::first) {
            Some(item) => attrs::parse_attribute_v2(item).map(Some),
            None => Ok(None),
        }
    } else {
        payload.child(Tag::ATTRIBUTE).map(attrs::parse_attribute_v1).transpose()
    }
}

fn answer_attr(ctx: &Ctx<'_>, id: &str, attr: Attr) -> Vec<Item> {
    let mut out = vec![uid_item(id)];
    if !ctx.v2()
        && let Some(a) = attrs::encode(&attr, false)
    {
        out.push(a);
    }
    out
}

fn add_attribute(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let attr = request_attr(ctx, payload, Tag::NEW_ATTRIBUTE)?
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Add Attribute needs the attribute"))?;
    writable(&attr.name)?;
    let mut index = 0;
    ctx.service
        .object_update(ctx.caller, &id, |_, stored| {
            let values = attrs::stored(stored, &attr.name);
            if attrs::SINGLE_VALUED.contains(&attr.name.as_str()) && !values.is_empty() {
                return Err(keyward_service::Error::Invalid {
                    field: "attribute",
                    reason: format!("{} is single-valued and already set: use Modify Attribute", attr.name),
                });
            }
            index = values.len() as i32;
            attrs::add_value(stored, &attr.name, &attr.value);
            Ok(())
        })
        .map_err(KmipError::service)?;
    ctx.placeholder = Some(id.clone());
    Ok(answer_attr(ctx, &id, Attr { index: Some(index), ..attr }))
}

fn set_attribute(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let attr = request_attr(ctx, payload, Tag::NEW_ATTRIBUTE)?
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Set Attribute needs the New Attribute"))?;
    writable(&attr.name)?;
    ctx.service
        .object_update(ctx.caller, &id, |_, stored| {
            attrs::set_values(stored, &attr.name, std::slice::from_ref(&attr.value));
            Ok(())
        })
        .map_err(KmipError::service)?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id)])
}

fn attribute_not_found(name: &str) -> keyward_service::Error {
    keyward_service::Error::Invalid { field: "attribute", reason: format!("the object has no such {name} value") }
}

fn modify_attribute(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let new = request_attr(ctx, payload, Tag::NEW_ATTRIBUTE)?
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Modify Attribute needs the attribute"))?;
    let current = if ctx.v2() { request_attr(ctx, payload, Tag::CURRENT_ATTRIBUTE)? } else { None };
    writable(&new.name)?;
    let mut index = new.index.unwrap_or(0);
    let result = ctx.service.object_update(ctx.caller, &id, |_, stored| {
        let mut values = attrs::stored(stored, &new.name);
        if let Some(c) = &current {
            index =
                values.iter().position(|v| v.value == c.value.value).ok_or_else(|| attribute_not_found(&new.name))?
                    as i32;
        }
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| values.get_mut(i))
            .ok_or_else(|| attribute_not_found(&new.name))?;
        *slot = new.value.clone();
        attrs::set_values(stored, &new.name, &values);
        Ok(())
    });
    result.map_err(|e| not_found_or(e, &new.name))?;
    ctx.placeholder = Some(id.clone());
    Ok(answer_attr(ctx, &id, Attr { index: Some(index), ..new }))
}

fn delete_attribute(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let (name, index, current) = if ctx.v2() {
        match request_attr(ctx, payload, Tag::CURRENT_ATTRIBUTE)? {
            Some(c) => (c.name.clone(), None, Some(c)),
            None => {
                let name = payload
                    .child(Tag::ATTRIBUTE_REFERENCE)
                    .and_then(attrs::reference_name)
                    .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Delete Attribute needs the attribute"))?;
                (name, None, None)
            }
        }
    } else {
        let name = payload
            .child(Tag::ATTRIBUTE_NAME)
            .and_then(Item::as_text)
            .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Delete Attribute needs the Attribute Name"))?
            .to_owned();
        (name, Some(payload.child(Tag::ATTRIBUTE_INDEX).and_then(Item::as_int).unwrap_or(0)), None)
    };
    writable(&name)?;
    let mut removed = None;
    let result = ctx.service.object_update(ctx.caller, &id, |_, stored| {
        let mut values = attrs::stored(stored, &name);
        let at = match (&current, index) {
            (Some(c), _) => values.iter().position(|v| v.value == c.value.value),
            (None, Some(i)) => usize::try_from(i).ok().filter(|i| *i < values.len()),
            // 2.0 by reference: every value goes.
            (None, None) => {
                if values.is_empty() {
                    return Err(attribute_not_found(&name));
                }
                removed = values.first().cloned().map(|v| (0, v));
                values.clear();
                attrs::set_values(stored, &name, &values);
                return Ok(());
            }
        }
        .ok_or_else(|| attribute_not_found(&name))?;
        removed = Some((at as i32, values.remove(at)));
        attrs::set_values(stored, &name, &values);
        Ok(())
    });
    result.map_err(|e| not_found_or(e, &name))?;
    ctx.placeholder = Some(id.clone());
    let (index, value) = removed.ok_or_else(|| KmipError::internal("nothing was removed"))?;
    Ok(answer_attr(ctx, &id, Attr { name, index: Some(index), value }))
}

fn not_found_or(e: keyward_service::Error, name: &str) -> KmipError {
    match e {
        keyward_service::Error::Invalid { field: "attribute", reason } => {
            KmipError::new(ResultReason::ItemNotFound, format!("{reason} ({name})"))
        }
        e => KmipError::service(e),
    }
}

fn lifecycle(ctx: &mut Ctx<'_>, payload: &Item, to: KeyState) -> Outcome {
    let id = ctx.uid(payload)?;
    let row = ctx.service.object_meta(ctx.caller, &id).map_err(KmipError::service)?;
    let state: KeyState = row.state.parse().map_err(|_| KmipError::internal("an object has an unknown state"))?;
    if state.is_destroyed() {
        return Err(KmipError::new(ResultReason::ItemNotFound, "the object is destroyed"));
    }
    if to == KeyState::Active && state != KeyState::PreActive {
        return Err(KmipError::new(
            ResultReason::WrongKeyLifecycleState,
            format!("the object is {}, not pre-active", row.state),
        ));
    }
    ctx.service.object_set_state(ctx.caller, &id, to).map_err(KmipError::service)?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id)])
}

fn revoke(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let reason = payload.child(Tag::REVOCATION_REASON);
    let code = reason
        .and_then(|r| r.child(Tag::REVOCATION_REASON_CODE))
        .and_then(Item::as_kmip_enum::<RevocationReasonCode>)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "Revoke needs a Revocation Reason"))?;
    let to = match code {
        RevocationReasonCode::KeyCompromise | RevocationReasonCode::CaCompromise => KeyState::Compromised,
        _ => KeyState::Deactivated,
    };
    let row = ctx.service.object_meta(ctx.caller, &id).map_err(KmipError::service)?;
    let state: KeyState = row.state.parse().map_err(|_| KmipError::internal("unknown state"))?;
    if state.is_destroyed() {
        return Err(KmipError::new(ResultReason::ItemNotFound, "the object is destroyed"));
    }
    ctx.service.object_set_state(ctx.caller, &id, to).map_err(KmipError::service)?;
    if let Some(r) = reason {
        ctx.service
            .object_update(ctx.caller, &id, |_, stored| {
                attrs::set_values(stored, "_revocation_reason", std::slice::from_ref(&value(r.clone())));
                Ok(())
            })
            .map_err(KmipError::service)?;
    }
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id)])
}

fn destroy(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    ctx.service.object_destroy(ctx.caller, &id).map_err(KmipError::service)?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id)])
}

/// The algorithm an object's material is for.
fn algorithm_of(fetched: &Fetched) -> Option<Alg> {
    attrs::stored(&fetched.attributes, "Cryptographic Algorithm")
        .first()
        .and_then(Item::as_kmip_enum::<Alg>)
        .or_else(|| objects::implied_algorithm(fetched.key_type).map(|(a, _)| a))
}

struct CryptoParams {
    mode: Option<BlockCipherMode>,
    padding: Option<PaddingMethod>,
    hash: Option<Hash>,
    algorithm: Option<Alg>,
}

fn crypto_params(payload: &Item) -> Result<CryptoParams, KmipError> {
    let p = payload.child(Tag::CRYPTOGRAPHIC_PARAMETERS);
    let get = |tag| p.and_then(|p| p.child(tag));
    Ok(CryptoParams {
        mode: get(Tag::BLOCK_CIPHER_MODE).and_then(Item::as_kmip_enum),
        padding: get(Tag::PADDING_METHOD).and_then(Item::as_kmip_enum),
        hash: hash_of(get(Tag::HASHING_ALGORITHM))?,
        algorithm: get(Tag::CRYPTOGRAPHIC_ALGORITHM).and_then(Item::as_kmip_enum),
    })
}

fn aes_mode(p: &CryptoParams) -> Result<AesMode, KmipError> {
    let pad = matches!(p.padding, Some(PaddingMethod::Pkcs5));
    if !matches!(p.padding, None | Some(PaddingMethod::None | PaddingMethod::Pkcs5)) {
        return Err(KmipError::new(ResultReason::FeatureNotSupported, "AES padding is None or PKCS5"));
    }
    Ok(match p.mode.unwrap_or(BlockCipherMode::Gcm) {
        BlockCipherMode::Gcm => AesMode::Gcm,
        BlockCipherMode::Cbc => AesMode::Cbc { pad },
        BlockCipherMode::Ecb => AesMode::Ecb { pad },
        BlockCipherMode::Ctr => AesMode::Ctr,
        _ => return Err(KmipError::new(ResultReason::FeatureNotSupported, "AES modes offered: GCM, CBC, ECB, CTR")),
    })
}

/// AES outside GCM hands out the block cipher itself (decrypting chosen blocks undoes an AES key
/// wrap), so it is refused for keys that may wrap keys: those are used with GCM only.
fn raw_mode_allowed(f: &Fetched, mode: AesMode) -> Result<(), KmipError> {
    if mode == AesMode::Gcm {
        return Ok(());
    }
    if effective_mask(f).is_none_or(|m| m & (mask::WRAP_KEY | mask::UNWRAP_KEY) != 0) {
        return Err(KmipError::new(
            ResultReason::IncompatibleCryptographicUsageMask,
            "CBC, ECB and CTR are for keys whose usage mask excludes Wrap Key and Unwrap Key; use GCM with this key",
        ));
    }
    Ok(())
}

fn data(payload: &Item) -> Result<&[u8], KmipError> {
    payload
        .child(Tag::DATA)
        .and_then(Item::as_bytes)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "the request carries no Data"))
}

fn material(f: &Fetched) -> Result<&Material, KmipError> {
    f.material
        .as_ref()
        .ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "the object holds no key material"))
}

fn encrypt(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let params = crypto_params(payload)?;
    let input = data(payload)?;
    let f = ctx.service.object_for_use(ctx.caller, &id, Usage::Protect).map_err(KmipError::service)?;
    require_usage(&f, mask::ENCRYPT, "encrypt")?;
    let iv = payload.child(Tag::IV_COUNTER_NONCE).and_then(Item::as_bytes);
    let aad = payload.child(Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA).and_then(Item::as_bytes).unwrap_or(&[]);
    let mut out = vec![uid_item(&id)];
    match algorithm_of(&f) {
        Some(Alg::Aes) => {
            let mode = aes_mode(&params)?;
            raw_mode_allowed(&f, mode)?;
            let sealed =
                primitives::aes_encrypt(material(&f)?.expose(), mode, iv, aad, input).map_err(KmipError::crypto)?;
            out.push(Item::bytes(Tag::DATA, sealed.ciphertext));
            if let Some(iv) = sealed.generated_iv {
                out.push(Item::bytes(Tag::IV_COUNTER_NONCE, iv));
            }
            if let Some(tag) = sealed.tag {
                out.push(Item::bytes(Tag::AUTHENTICATED_ENCRYPTION_TAG, tag));
            }
        }
        Some(Alg::Rsa) => {
            if !matches!(params.padding, None | Some(PaddingMethod::Oaep)) {
                return Err(KmipError::new(ResultReason::FeatureNotSupported, "RSA encryption uses OAEP"));
            }
            let public =
                f.public.as_deref().ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "no public key"))?;
            let ct = primitives::rsa_oaep_encrypt(public, params.hash.unwrap_or(Hash::Sha1), input)
                .map_err(KmipError::crypto)?;
            out.push(Item::bytes(Tag::DATA, ct));
        }
        _ => return Err(KmipError::new(ResultReason::IllegalOperation, "this object cannot encrypt")),
    }
    ctx.placeholder = Some(id);
    Ok(out)
}

fn decrypt(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let params = crypto_params(payload)?;
    let input = data(payload)?;
    // Unauthenticated modes decrypt whatever they are given, which is as good as encrypting
    // (a CTR "decryption" is an encryption; CBC and ECB decryption oracles forge ciphertexts):
    // only GCM and RSA-OAEP decrypt with a key that may no longer protect data.
    let authenticated =
        params.mode.is_none_or(|m| m == BlockCipherMode::Gcm) || params.padding == Some(PaddingMethod::Oaep);
    let usage = if authenticated { Usage::Process } else { Usage::Protect };
    let f = ctx.service.object_for_use(ctx.caller, &id, usage).map_err(KmipError::service)?;
    require_usage(&f, mask::DECRYPT, "decrypt")?;
    let iv = payload.child(Tag::IV_COUNTER_NONCE).and_then(Item::as_bytes);
    let aad = payload.child(Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA).and_then(Item::as_bytes).unwrap_or(&[]);
    let tag = payload.child(Tag::AUTHENTICATED_ENCRYPTION_TAG).and_then(Item::as_bytes);
    let plain = match algorithm_of(&f) {
        Some(Alg::Aes) => {
            let mode = aes_mode(&params)?;
            raw_mode_allowed(&f, mode)?;
            primitives::aes_decrypt(material(&f)?.expose(), mode, iv, aad, input, tag)
        }
        Some(Alg::Rsa) if f.key_type != KeyType::PublicKey => {
            primitives::rsa_oaep_decrypt(material(&f)?.expose(), params.hash.unwrap_or(Hash::Sha1), input)
        }
        _ => return Err(KmipError::new(ResultReason::IllegalOperation, "this object cannot decrypt")),
    }
    .map_err(KmipError::crypto)?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id), Item::bytes(Tag::DATA, plain.expose().to_vec())])
}

fn signing(f: &Fetched, p: &CryptoParams) -> Result<Signing, KmipError> {
    Ok(match (algorithm_of(f), f.key_type) {
        (_, KeyType::Ed25519) | (Some(Alg::Ed25519), _) => Signing::Ed25519,
        (Some(Alg::Rsa), _) => match p.padding {
            Some(PaddingMethod::Pss) => Signing::RsaPss(p.hash.unwrap_or(Hash::Sha256)),
            None | Some(PaddingMethod::Pkcs1V1_5) => Signing::RsaPkcs1(p.hash.unwrap_or(Hash::Sha256)),
            _ => return Err(KmipError::new(ResultReason::FeatureNotSupported, "RSA signatures use PSS or PKCS1 v1.5")),
        },
        (Some(Alg::Ec | Alg::Ecdsa), kt) => {
            Signing::Ecdsa(p.hash.unwrap_or(if kt == KeyType::EcP384 { Hash::Sha384 } else { Hash::Sha256 }))
        }
        _ => return Err(KmipError::new(ResultReason::IllegalOperation, "this object cannot sign or verify")),
    })
}

fn sign(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let params = crypto_params(payload)?;
    let input = data(payload)?;
    let f = ctx.service.object_for_use(ctx.caller, &id, Usage::Protect).map_err(KmipError::service)?;
    require_usage(&f, mask::SIGN, "sign")?;
    if f.key_type == KeyType::PublicKey {
        return Err(KmipError::new(ResultReason::IllegalOperation, "a public key cannot sign"));
    }
    let scheme = signing(&f, &params)?;
    let sig = primitives::sign(material(&f)?.expose(), scheme, input).map_err(KmipError::crypto)?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id), Item::bytes(Tag::SIGNATURE_DATA, sig)])
}

fn signature_verify(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let params = crypto_params(payload)?;
    let input = data(payload)?;
    let sig = payload
        .child(Tag::SIGNATURE_DATA)
        .and_then(Item::as_bytes)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "the request carries no Signature Data"))?;
    let f = ctx.service.object_for_use(ctx.caller, &id, Usage::Process).map_err(KmipError::service)?;
    require_usage(&f, mask::VERIFY, "verify signatures")?;
    let scheme = signing(&f, &params)?;
    let spki = f.public.as_deref().ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "no public key"))?;
    let valid = match primitives::verify(spki, scheme, input, sig) {
        Ok(()) => ValidityIndicator::Valid,
        Err(keyward_crypto::Error::BadSignature) => ValidityIndicator::Invalid,
        Err(e) => return Err(KmipError::crypto(e)),
    };
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id), Item::enumeration(Tag::VALIDITY_INDICATOR, valid.value())])
}

fn mac(ctx: &mut Ctx<'_>, payload: &Item, verify: bool) -> Outcome {
    let id = ctx.uid(payload)?;
    let params = crypto_params(payload)?;
    let input = data(payload)?;
    let usage = if verify { Usage::Process } else { Usage::Protect };
    let f = ctx.service.object_for_use(ctx.caller, &id, usage).map_err(KmipError::service)?;
    require_usage(&f, if verify { mask::MAC_VERIFY } else { mask::MAC_GENERATE }, "MAC")?;
    // The key's own algorithm decides: an AES or RSA key is not an HMAC key whatever is asked.
    let hash = hmac_hash(algorithm_of(&f))
        .ok_or_else(|| KmipError::new(ResultReason::IllegalOperation, "MAC needs an HMAC-SHA1/SHA-2 key"))?;
    if params.algorithm.is_some_and(|a| Some(a) != algorithm_of(&f)) {
        return Err(KmipError::invalid_field("the Cryptographic Algorithm asked is not the key's"));
    }
    ctx.placeholder = Some(id.clone());
    if verify {
        let tag = payload
            .child(Tag::MAC_DATA)
            .and_then(Item::as_bytes)
            .ok_or_else(|| KmipError::new(ResultReason::MissingData, "the request carries no MAC Data"))?;
        let valid = match primitives::hmac_verify(hash, material(&f)?.expose(), input, tag) {
            Ok(()) => ValidityIndicator::Valid,
            Err(_) => ValidityIndicator::Invalid,
        };
        return Ok(vec![uid_item(&id), Item::enumeration(Tag::VALIDITY_INDICATOR, valid.value())]);
    }
    let tag = primitives::hmac(hash, material(&f)?.expose(), input).map_err(KmipError::crypto)?;
    Ok(vec![uid_item(&id), Item::bytes(Tag::MAC_DATA, tag)])
}

/// Attributes a replacement key does not inherit from the key it replaces.
const NOT_INHERITED: &[&str] = &["Link", "_revocation_reason"];

fn rekey(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let old_id = ctx.uid(payload)?;
    let old = ctx.service.object_meta(ctx.caller, &old_id).map_err(KmipError::service)?;
    let key_type: KeyType = old.key_type.parse().map_err(|_| KmipError::internal("an object has an unknown type"))?;
    if objects::object_type_of(key_type) != ObjectType::SymmetricKey {
        return Err(KmipError::new(ResultReason::IllegalOperation, "Re-key replaces symmetric keys"));
    }
    let state: KeyState = old.state.parse().map_err(|_| KmipError::internal("an object has an unknown state"))?;
    if state.is_destroyed() {
        return Err(KmipError::new(ResultReason::ItemNotFound, "the key to replace is destroyed"));
    }
    let all = object_attrs(&old)?;
    let alg = attrs::find(&all, "Cryptographic Algorithm").and_then(Item::as_enum);
    let len = attrs::find(&all, "Cryptographic Length").and_then(Item::as_int);
    let (Some(alg), Some(len)) = (alg, len) else {
        return Err(KmipError::new(ResultReason::MissingData, "the key to replace has no algorithm or length"));
    };
    let (new_type, material) = symmetric_material(alg, len)?;
    let given = template(payload, Tag::TEMPLATE_ATTRIBUTE, Tag::ATTRIBUTES)?;
    let mut attributes = attributes_of(&old);
    attributes.retain(|k, _| !NOT_INHERITED.contains(&k.as_str()));
    attrs::store_client_attributes(&mut attributes, &given)?;
    let new_id = Service::new_object_id();
    attrs::add_value(&mut attributes, "Link", &link(keyward_kmip::enums::LinkType::ReplacedObjectLink, &old_id));
    // The replacement is usable at once when the key it replaces was (and no Offset delays it).
    let offset = payload.child(Tag::OFFSET).and_then(|o| match o.value {
        Value::Interval(i) => Some(i),
        _ => None,
    });
    let active = state == KeyState::Active && offset.unwrap_or(0) == 0;
    ctx.service
        .objects_register(
            ctx.caller,
            vec![NewObject {
                id: new_id.clone(),
                key_type: new_type,
                material: Some(material),
                public: None,
                // Under the old key's name, so a prefix scope that covered it covers this one.
                name_hint: Some(format!(
                    "{}.rekey-{}",
                    old.name,
                    new_id.get(new_id.len().saturating_sub(12)..).unwrap_or("")
                )),
                attributes: with_alg(attributes, alg, len),
                pre_active: !(active || starts_active(&given)),
                exportable: old.exportable,
            }],
        )
        .map_err(KmipError::service)?;
    ctx.service
        .object_update(ctx.caller, &old_id, |_, stored| {
            attrs::add_value(stored, "Link", &link(keyward_kmip::enums::LinkType::ReplacementObjectLink, &new_id));
            // KMIP moves the Name to the replacement.
            stored.remove("Name");
            Ok(())
        })
        .map_err(KmipError::service)?;
    ctx.placeholder = Some(new_id.clone());
    Ok(vec![uid_item(&new_id)])
}

/// Whether the object exists, may be used by the caller, and allows the usage the client asks.
fn check(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    let row = ctx.service.object_meta(ctx.caller, &id).map_err(KmipError::service)?;
    let state: KeyState = row.state.parse().map_err(|_| KmipError::internal("an object has an unknown state"))?;
    if state.is_destroyed() {
        return Err(KmipError::new(ResultReason::ItemNotFound, "the object is destroyed"));
    }
    if let Some(asked) = payload.child(Tag::CRYPTOGRAPHIC_USAGE_MASK).and_then(Item::as_int) {
        let all = object_attrs(&row)?;
        let has = attrs::find(&all, "Cryptographic Usage Mask").and_then(Item::as_int).unwrap_or(0);
        if has & asked != asked {
            return Err(KmipError::new(
                ResultReason::IncompatibleCryptographicUsageMask,
                format!("the object's usage mask {has:#x} does not allow {asked:#x}"),
            ));
        }
    }
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id)])
}

/// Keyward sets no usage limits, so an allocation is always granted to a caller who may use
/// the key.
fn usage_allocation(ctx: &mut Ctx<'_>, payload: &Item) -> Outcome {
    let id = ctx.uid(payload)?;
    ctx.service.object_for_use(ctx.caller, &id, Usage::Protect).map_err(KmipError::service)?;
    ctx.placeholder = Some(id.clone());
    Ok(vec![uid_item(&id)])
}

fn rng_retrieve(payload: &Item) -> Outcome {
    let len = payload
        .child(Tag::DATA_LENGTH)
        .and_then(Item::as_int)
        .ok_or_else(|| KmipError::new(ResultReason::MissingData, "RNG Retrieve needs a Data Length"))?;
    if !(1..=65536).contains(&len) {
        return Err(KmipError::invalid_field("Data Length is 1 to 65536 bytes"));
    }
    let bytes = keyward_crypto::random_secret(len as usize).map_err(KmipError::crypto)?;
    Ok(vec![Item::bytes(Tag::DATA, bytes.expose().to_vec())])
}

fn hash(payload: &Item) -> Outcome {
    let params = crypto_params(payload)?;
    let h = params.hash.ok_or_else(|| KmipError::new(ResultReason::MissingData, "Hash needs a Hashing Algorithm"))?;
    Ok(vec![Item::bytes(Tag::DATA, primitives::digest(h, data(payload)?))])
}
