//! Managed objects on the wire: Key Blocks and the object structures of Register and Get, and
//! how each maps onto Keyward's key types and stored forms.
//!
//! Keys Keyward can use itself are stored in its own form (raw bytes, PKCS#8, SPKI) whatever
//! format the client registered them in; the registered format is remembered (`_format`) so Get
//! returns by default what Register was given. Objects Keyward cannot use (other algorithms,
//! wrapped key material, certificates, secret data, opaque objects, split keys) are kept
//! byte-for-byte with the structure fields needed to give them back.

use keyward_crypto::Secret;
use keyward_crypto::primitives::{self, AsymmetricKind};
use keyward_kmip::enums::{CryptographicAlgorithm as Alg, KeyFormatType as Fmt, ObjectType, ResultReason};
use keyward_kmip::{Item, Tag};
use keyward_service::managed::Material;
use keyward_types::KeyType;
use serde_json::{Map, Value as Json, json};

use super::KmipError;
use super::attrs::{self, Attr};

pub fn object_type_of(key_type: KeyType) -> ObjectType {
    use KeyType::*;
    match key_type {
        Aes128 | Aes256 | HmacSha256 | Symmetric => ObjectType::SymmetricKey,
        Rsa2048 | Rsa3072 | Rsa4096 | EcP256 | EcP384 | Ed25519 | PrivateKey => ObjectType::PrivateKey,
        KeyType::PublicKey => ObjectType::PublicKey,
        Certificate => ObjectType::Certificate,
        SecretData => ObjectType::SecretData,
        Opaque => ObjectType::OpaqueObject,
        SplitKey => ObjectType::SplitKey,
    }
}

pub fn object_tag(t: ObjectType) -> Option<Tag> {
    Some(match t {
        ObjectType::SymmetricKey => Tag::SYMMETRIC_KEY,
        ObjectType::PublicKey => Tag::PUBLIC_KEY,
        ObjectType::PrivateKey => Tag::PRIVATE_KEY,
        ObjectType::Certificate => Tag::CERTIFICATE,
        ObjectType::SecretData => Tag::SECRET_DATA,
        ObjectType::OpaqueObject => Tag::OPAQUE_OBJECT,
        ObjectType::SplitKey => Tag::SPLIT_KEY,
        _ => return None,
    })
}

/// Algorithm and length Keyward knows from its own key types.
pub fn implied_algorithm(key_type: KeyType) -> Option<(Alg, i32)> {
    use KeyType::*;
    Some(match key_type {
        Aes128 | Aes256 => (Alg::Aes, key_type.bits() as i32),
        HmacSha256 => (Alg::HmacSha256, 256),
        Rsa2048 | Rsa3072 | Rsa4096 => (Alg::Rsa, key_type.bits() as i32),
        EcP256 | EcP384 => (Alg::Ec, key_type.bits() as i32),
        Ed25519 => (Alg::Ed25519, 256),
        _ => return None,
    })
}

/// What Register was given, ready to store.
pub struct Incoming {
    pub key_type: KeyType,
    pub material: Option<Secret>,
    pub public: Option<Vec<u8>>,
    /// Bookkeeping and algorithm attributes derived from the object itself.
    pub attributes: Map<String, Json>,
}

fn missing(what: &str) -> KmipError {
    KmipError::new(ResultReason::InvalidField, format!("the object has no {what}"))
}

fn set_alg(attributes: &mut Map<String, Json>, alg: Option<u32>, len: Option<i32>) {
    if let Some(a) = alg {
        attrs::set_values(attributes, "Cryptographic Algorithm", &[Item::enumeration(Tag::ATTRIBUTE_VALUE, a)]);
    }
    if let Some(l) = len {
        attrs::set_values(attributes, "Cryptographic Length", &[Item::integer(Tag::ATTRIBUTE_VALUE, l)]);
    }
}

/// Reads the object structure of a Register request.
pub fn incoming(object_type: ObjectType, object: &Item) -> Result<Incoming, KmipError> {
    let mut attributes = Map::new();
    match object_type {
        ObjectType::Certificate => {
            let der = object
                .child(Tag::CERTIFICATE_VALUE)
                .and_then(Item::as_bytes)
                .ok_or_else(|| missing("Certificate Value"))?;
            let ctype = object.child(Tag::CERTIFICATE_TYPE).and_then(Item::as_enum).unwrap_or(1);
            attributes.insert("_certificate_type".into(), json!(ctype));
            attrs::set_values(&mut attributes, "Certificate Type", &[Item::enumeration(Tag::ATTRIBUTE_VALUE, ctype)]);
            return Ok(Incoming {
                key_type: KeyType::Certificate,
                material: None,
                public: Some(der.to_vec()),
                attributes,
            });
        }
        ObjectType::OpaqueObject => {
            let data = object
                .child(Tag::OPAQUE_DATA_VALUE)
                .and_then(Item::as_bytes)
                .ok_or_else(|| missing("Opaque Data Value"))?;
            let dtype = object.child(Tag::OPAQUE_DATA_TYPE).and_then(Item::as_enum).unwrap_or(0);
            attributes.insert("_opaque_type".into(), json!(dtype));
            return Ok(Incoming {
                key_type: KeyType::Opaque,
                material: Some(Secret::copy_from(data)),
                public: None,
                attributes,
            });
        }
        _ => {}
    }
    let block = object.child(Tag::KEY_BLOCK).ok_or_else(|| missing("Key Block"))?;
    let format = block.child(Tag::KEY_FORMAT_TYPE).and_then(Item::as_enum).ok_or_else(|| missing("Key Format Type"))?;
    let alg = block.child(Tag::CRYPTOGRAPHIC_ALGORITHM).and_then(Item::as_enum);
    let len = block.child(Tag::CRYPTOGRAPHIC_LENGTH).and_then(Item::as_int);
    let wrapping = block.child(Tag::KEY_WRAPPING_DATA);
    let value = block.child(Tag::KEY_VALUE).ok_or_else(|| missing("Key Value"))?;
    if let Some(incoming) = transparent_rsa(object_type, format, value, alg, len, wrapping.is_some())? {
        return Ok(incoming);
    }
    // Wrapped key values are a byte string (or a structure holding the wrapped Key Material).
    let bytes: Vec<u8> = match (value.as_bytes(), value.child(Tag::KEY_MATERIAL)) {
        (Some(b), _) => b.to_vec(),
        (None, Some(m)) => match (m.as_bytes(), m.child(Tag::KEY)) {
            (Some(b), _) => b.to_vec(),
            (None, Some(k)) if format == Fmt::TransparentSymmetricKey.value() => {
                k.as_bytes().ok_or_else(|| missing("Key"))?.to_vec()
            }
            _ => {
                return Err(KmipError::new(
                    ResultReason::KeyFormatTypeNotSupported,
                    "this key format is not supported for Register: use Raw, PKCS#1, PKCS#8 or X.509",
                ));
            }
        },
        _ => return Err(missing("Key Material")),
    };
    attributes.insert("_format".into(), json!(format));
    if let Some(w) = wrapping {
        attributes.insert("_wrapping".into(), attrs::to_json(w));
    }
    if let Some(values) = value.as_struct() {
        // 1.x lets attributes ride inside the Key Value; keep them with the object.
        for a in values.iter().filter(|c| c.tag == Tag::ATTRIBUTE) {
            if let Ok(a) = attrs::parse_attribute_v1(a) {
                attrs::add_value(&mut attributes, &format!("_key_value:{}", a.name), &a.value);
            }
        }
    }
    set_alg(&mut attributes, alg, len);
    let generic = |key_type: KeyType, attributes| Incoming {
        key_type,
        material: Some(Secret::copy_from(&bytes)),
        public: None,
        attributes,
    };
    if wrapping.is_some() {
        // Keyward cannot use material wrapped under a key it may not hold: keep it as given.
        let key_type = match object_type {
            ObjectType::PublicKey => KeyType::PublicKey,
            ObjectType::PrivateKey => KeyType::PrivateKey,
            ObjectType::SecretData => KeyType::SecretData,
            ObjectType::SplitKey => KeyType::SplitKey,
            _ => KeyType::Symmetric,
        };
        let mut inc = generic(key_type, attributes);
        if key_type == KeyType::PublicKey {
            inc.public = inc.material.take().map(|m| m.expose().to_vec());
        }
        return Ok(inc);
    }
    match object_type {
        ObjectType::SymmetricKey => {
            let key_type = match (Alg::from_value(alg.unwrap_or(0)), bytes.len()) {
                (Some(Alg::Aes), 16) => KeyType::Aes128,
                (Some(Alg::Aes), 32) => KeyType::Aes256,
                (Some(Alg::HmacSha256), n) if n >= 16 => KeyType::HmacSha256,
                _ => KeyType::Symmetric,
            };
            Ok(generic(key_type, attributes))
        }
        ObjectType::SecretData => {
            let dtype = object.child(Tag::SECRET_DATA_TYPE).and_then(Item::as_enum).unwrap_or(1);
            attributes.insert("_secret_data_type".into(), json!(dtype));
            Ok(generic(KeyType::SecretData, attributes))
        }
        ObjectType::SplitKey => {
            let mut split = Map::new();
            for &(tag, key) in SPLIT_KEY_FIELDS {
                if let Some(c) = object.child(tag) {
                    split.insert(key.into(), attrs::to_json(c));
                }
            }
            attributes.insert("_split".into(), Json::Object(split));
            Ok(generic(KeyType::SplitKey, attributes))
        }
        ObjectType::PrivateKey => {
            let pkcs8 = match Fmt::from_value(format) {
                Some(Fmt::Pkcs1) => primitives::rsa_pkcs1_to_pkcs8(&bytes).ok(),
                Some(Fmt::Pkcs8) => Some(Secret::copy_from(&bytes)),
                _ => None,
            };
            let usable = pkcs8.and_then(|p| {
                let key_type = match primitives::private_kind(p.expose()).ok()? {
                    AsymmetricKind::Rsa { bits: 2048 } => KeyType::Rsa2048,
                    AsymmetricKind::Rsa { bits: 3072 } => KeyType::Rsa3072,
                    AsymmetricKind::Rsa { bits: 4096 } => KeyType::Rsa4096,
                    AsymmetricKind::EcP256 => KeyType::EcP256,
                    AsymmetricKind::EcP384 => KeyType::EcP384,
                    AsymmetricKind::Ed25519 => KeyType::Ed25519,
                    AsymmetricKind::Rsa { .. } => KeyType::PrivateKey,
                };
                let public = primitives::public_of_private(p.expose()).ok();
                Some((key_type, p, public))
            });
            match usable {
                Some((key_type, p, public)) => Ok(Incoming { key_type, material: Some(p), public, attributes }),
                None => Ok(generic(KeyType::PrivateKey, attributes)),
            }
        }
        ObjectType::PublicKey => {
            let spki = match Fmt::from_value(format) {
                Some(Fmt::Pkcs1) => primitives::rsa_public_to_spki(&bytes).ok(),
                Some(Fmt::X509) => primitives::public_kind(&bytes).ok().map(|_| bytes.clone()),
                _ => None,
            };
            Ok(Incoming {
                key_type: KeyType::PublicKey,
                material: None,
                public: Some(spki.unwrap_or_else(|| bytes.clone())),
                attributes,
            })
        }
        _ => Err(KmipError::new(ResultReason::FeatureNotSupported, "this object type cannot be registered")),
    }
}

/// The fields of a Split Key structure, and their keys in the stored `_split` object.
const SPLIT_KEY_FIELDS: &[(Tag, &str)] = &[
    (Tag::SPLIT_KEY_PARTS, "parts"),
    (Tag::KEY_PART_IDENTIFIER, "identifier"),
    (Tag::SPLIT_KEY_THRESHOLD, "threshold"),
    (Tag::SPLIT_KEY_METHOD, "method"),
    (Tag::PRIME_FIELD_SIZE, "prime"),
];

/// Register of an RSA key in a transparent format: rebuilt into Keyward's stored forms.
fn transparent_rsa(
    object_type: ObjectType,
    format: u32,
    value: &Item,
    alg: Option<u32>,
    len: Option<i32>,
    wrapped: bool,
) -> Result<Option<Incoming>, KmipError> {
    let rsa_format =
        matches!(Fmt::from_value(format), Some(Fmt::TransparentRsaPrivateKey | Fmt::TransparentRsaPublicKey));
    if !rsa_format || wrapped {
        return Ok(None);
    }
    let m = value.child(Tag::KEY_MATERIAL).ok_or_else(|| missing("Key Material"))?;
    let mut attributes = Map::new();
    // Get gives the key back in the format it came in.
    attributes.insert("_format".into(), json!(format));
    set_alg(&mut attributes, alg, len);
    let modulus = unsigned_of(m.child(Tag::MODULUS), "Modulus")?;
    let exponent = unsigned_of(m.child(Tag::PUBLIC_EXPONENT), "Public Exponent")?;
    let bad = |e| KmipError::new(ResultReason::InvalidField, format!("the transparent RSA key is not valid: {e}"));
    if format == Fmt::TransparentRsaPublicKey.value() && object_type == ObjectType::PublicKey {
        let spki = primitives::rsa_public_from_numbers(&modulus, &exponent).map_err(bad)?;
        return Ok(Some(Incoming { key_type: KeyType::PublicKey, material: None, public: Some(spki), attributes }));
    }
    if format != Fmt::TransparentRsaPrivateKey.value() || object_type != ObjectType::PrivateKey {
        return Err(KmipError::invalid_field("the key format does not match the object type"));
    }
    let secret = |tag, what| unsigned_of(m.child(tag), what).map(Secret::from_vec);
    let numbers = primitives::RsaNumbers {
        modulus,
        public_exponent: exponent,
        private_exponent: secret(Tag::PRIVATE_EXPONENT, "Private Exponent")?,
        p: secret(Tag::P, "P")?,
        q: secret(Tag::Q, "Q")?,
        dp: secret(Tag::PRIME_EXPONENT_P, "Prime Exponent P")?,
        dq: secret(Tag::PRIME_EXPONENT_Q, "Prime Exponent Q")?,
        qinv: secret(Tag::CRT_COEFFICIENT, "CRT Coefficient")?,
    };
    let pkcs8 = primitives::rsa_private_from_numbers(&numbers).map_err(bad)?;
    let key_type = match primitives::private_kind(pkcs8.expose()).map_err(bad)? {
        AsymmetricKind::Rsa { bits: 2048 } => KeyType::Rsa2048,
        AsymmetricKind::Rsa { bits: 3072 } => KeyType::Rsa3072,
        AsymmetricKind::Rsa { bits: 4096 } => KeyType::Rsa4096,
        _ => KeyType::PrivateKey,
    };
    let public = primitives::public_of_private(pkcs8.expose()).ok();
    Ok(Some(Incoming { key_type, material: Some(pkcs8), public, attributes }))
}

fn stored_format(attributes: &Map<String, Json>) -> Option<u32> {
    attributes.get("_format").and_then(Json::as_u64).map(|v| v as u32)
}

fn not_supported_format(format: u32) -> KmipError {
    KmipError::new(
        ResultReason::KeyFormatTypeNotSupported,
        format!(
            "key format {} is not available for this object",
            Fmt::from_value(format).map(|f| f.name().to_owned()).unwrap_or_else(|| format!("{format:#x}"))
        ),
    )
}

/// The key bytes in the asked (or default) format, and that format.
fn key_bytes(
    key_type: KeyType,
    attributes: &Map<String, Json>,
    material: Option<&Material>,
    public: Option<&[u8]>,
    asked: Option<u32>,
) -> Result<(Vec<u8>, u32), KmipError> {
    let registered = stored_format(attributes);
    let wrapped = attributes.contains_key("_wrapping");
    let secret = || {
        material
            .map(|m| m.expose().to_vec())
            .ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "the object holds no key material"))
    };
    if wrapped || !key_type.is_usable() && key_type != KeyType::PublicKey {
        // Kept byte-for-byte: only the registered format is available.
        let format = registered.unwrap_or(match key_type {
            KeyType::SecretData | KeyType::Opaque => Fmt::Opaque.value(),
            _ => Fmt::Raw.value(),
        });
        if asked.is_some_and(|a| a != format) {
            return Err(not_supported_format(asked.unwrap_or(format)));
        }
        let bytes = if key_type == KeyType::PublicKey {
            public.map(<[u8]>::to_vec).ok_or_else(|| missing("public key"))?
        } else {
            secret()?
        };
        return Ok((bytes, format));
    }
    if key_type.is_symmetric() {
        let format = asked.or(registered).unwrap_or(Fmt::Raw.value());
        return match Fmt::from_value(format) {
            Some(Fmt::Raw) | Some(Fmt::TransparentSymmetricKey) => Ok((secret()?, format)),
            _ => Err(not_supported_format(format)),
        };
    }
    if key_type == KeyType::PublicKey {
        let spki = public.ok_or_else(|| missing("public key"))?;
        // Registered in a format Keyward does not convert: only that format, byte-for-byte.
        if let Some(r) = registered.filter(|r| *r != Fmt::Pkcs1.value() && *r != Fmt::X509.value()) {
            if asked.is_some_and(|a| a != r) {
                return Err(not_supported_format(asked.unwrap_or(r)));
            }
            return Ok((spki.to_vec(), r));
        }
        let rsa = matches!(primitives::public_kind(spki), Ok(AsymmetricKind::Rsa { .. }));
        let format = asked.or(registered).unwrap_or(if rsa { Fmt::Pkcs1.value() } else { Fmt::X509.value() });
        return match Fmt::from_value(format) {
            Some(Fmt::X509) => Ok((spki.to_vec(), format)),
            Some(Fmt::Pkcs1) if rsa => Ok((primitives::rsa_spki_to_pkcs1(spki).map_err(KmipError::crypto)?, format)),
            _ => Err(not_supported_format(format)),
        };
    }
    // A private key Keyward can use: stored as PKCS#8.
    let pkcs8 =
        material.ok_or_else(|| KmipError::new(ResultReason::KeyValueNotPresent, "the object holds no key material"))?;
    let format =
        asked.or(registered).unwrap_or(if key_type.is_rsa() { Fmt::Pkcs1.value() } else { Fmt::Pkcs8.value() });
    match Fmt::from_value(format) {
        Some(Fmt::Pkcs8) => Ok((pkcs8.expose().to_vec(), format)),
        Some(Fmt::Pkcs1) if key_type.is_rsa() => {
            Ok((primitives::rsa_pkcs8_to_pkcs1(pkcs8.expose()).map_err(KmipError::crypto)?.expose().to_vec(), format))
        }
        _ => Err(not_supported_format(format)),
    }
}

/// A Big Integer item for an unsigned big-endian number.
fn unsigned(tag: Tag, be: &[u8]) -> Item {
    let mut v = Vec::with_capacity(be.len() + 1);
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(be);
    Item::big_integer(tag, v)
}

/// The unsigned big-endian bytes of a Big Integer (negative numbers are refused).
fn unsigned_of(item: Option<&Item>, what: &str) -> Result<Vec<u8>, KmipError> {
    let bytes = item.and_then(Item::as_big_int).ok_or_else(|| missing(what))?;
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(KmipError::invalid_field(format!("{what} is negative")));
    }
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Ok(bytes.get(start..).unwrap_or_default().to_vec())
}

fn curve_of(kind: AsymmetricKind) -> Result<u32, KmipError> {
    use keyward_kmip::enums::RecommendedCurve;
    match kind {
        AsymmetricKind::EcP256 => Ok(RecommendedCurve::P256.value()),
        AsymmetricKind::EcP384 => Ok(RecommendedCurve::P384.value()),
        _ => Err(KmipError::new(
            ResultReason::KeyFormatTypeNotSupported,
            "transparent EC formats are for P-256 and P-384 keys",
        )),
    }
}

fn is_transparent_asymmetric(format: u32) -> bool {
    matches!(
        Fmt::from_value(format),
        Some(
            Fmt::TransparentRsaPrivateKey
                | Fmt::TransparentRsaPublicKey
                | Fmt::TransparentEcPrivateKey
                | Fmt::TransparentEcPublicKey
        )
    )
}

/// The Key Material structure of a transparent asymmetric format, or `None` for other formats.
fn transparent(
    key_type: KeyType,
    material: Option<&Material>,
    public: Option<&[u8]>,
    format: u32,
) -> Result<Option<Item>, KmipError> {
    let crypto = KmipError::crypto;
    let no_material = || KmipError::new(ResultReason::KeyValueNotPresent, "the object holds no key material");
    let item = match Fmt::from_value(format) {
        Some(Fmt::TransparentRsaPrivateKey) if key_type.is_rsa() || key_type == KeyType::PrivateKey => {
            let n = primitives::rsa_private_numbers(material.ok_or_else(no_material)?.expose()).map_err(crypto)?;
            vec![
                unsigned(Tag::MODULUS, &n.modulus),
                unsigned(Tag::PRIVATE_EXPONENT, n.private_exponent.expose()),
                unsigned(Tag::PUBLIC_EXPONENT, &n.public_exponent),
                unsigned(Tag::P, n.p.expose()),
                unsigned(Tag::Q, n.q.expose()),
                unsigned(Tag::PRIME_EXPONENT_P, n.dp.expose()),
                unsigned(Tag::PRIME_EXPONENT_Q, n.dq.expose()),
                unsigned(Tag::CRT_COEFFICIENT, n.qinv.expose()),
            ]
        }
        Some(Fmt::TransparentRsaPublicKey) => {
            let spki = public.ok_or_else(|| missing("public key"))?;
            let n = primitives::rsa_public_numbers(spki).map_err(|_| not_supported_format(format))?;
            vec![unsigned(Tag::MODULUS, &n.modulus), unsigned(Tag::PUBLIC_EXPONENT, &n.public_exponent)]
        }
        Some(Fmt::TransparentEcPrivateKey) if matches!(key_type, KeyType::EcP256 | KeyType::EcP384) => {
            let pkcs8 = material.ok_or_else(no_material)?.expose();
            let kind = primitives::private_kind(pkcs8).map_err(crypto)?;
            let d = primitives::ec_private_scalar(pkcs8).map_err(crypto)?;
            vec![Item::enumeration(Tag::RECOMMENDED_CURVE, curve_of(kind)?), unsigned(Tag::D, d.expose())]
        }
        Some(Fmt::TransparentEcPublicKey) => {
            let spki = public.ok_or_else(|| missing("public key"))?;
            let kind = primitives::public_kind(spki).map_err(|_| not_supported_format(format))?;
            let q = primitives::public_point(spki).map_err(crypto)?;
            vec![Item::enumeration(Tag::RECOMMENDED_CURVE, curve_of(kind)?), Item::bytes(Tag::Q_STRING, q)]
        }
        Some(
            Fmt::TransparentRsaPrivateKey
            | Fmt::TransparentEcPrivateKey
            | Fmt::TransparentDsaPrivateKey
            | Fmt::TransparentDsaPublicKey
            | Fmt::TransparentDhPrivateKey
            | Fmt::TransparentDhPublicKey,
        ) => return Err(not_supported_format(format)),
        _ => return Ok(None),
    };
    Ok(Some(Item::structure(Tag::KEY_MATERIAL, item)))
}

/// A Key Block around the Key Material.
fn key_block(format: u32, material: Item, alg: Option<&Item>, len: Option<&Item>, wrapping: Option<Item>) -> Item {
    // KMIP allows a wrapped Key Value to be the bare wrapped bytes, but clients (PyKMIP among
    // them) read a structure either way; the wrapped bytes then sit in Key Material.
    let mut children =
        vec![Item::enumeration(Tag::KEY_FORMAT_TYPE, format), Item::structure(Tag::KEY_VALUE, vec![material])];
    if let Some(a) = alg {
        children.push(Item { tag: Tag::CRYPTOGRAPHIC_ALGORITHM, value: a.value.clone() });
    }
    if let Some(l) = len {
        children.push(Item { tag: Tag::CRYPTOGRAPHIC_LENGTH, value: l.value.clone() });
    }
    if let Some(w) = wrapping {
        children.push(w);
    }
    Item::structure(Tag::KEY_BLOCK, children)
}

/// How Get should wrap the key: the wrapping key's raw bytes and the Key Wrapping Data to send.
pub struct WrapWith {
    pub kek: Material,
    pub pad: bool,
    pub data: Item,
}

/// The object structure Get returns.
pub fn outgoing(
    key_type: KeyType,
    attributes: &Map<String, Json>,
    all: &[Attr],
    material: Option<&Material>,
    public: Option<&[u8]>,
    asked_format: Option<u32>,
    wrap: Option<WrapWith>,
) -> Result<Item, KmipError> {
    let object_type = object_type_of(key_type);
    let tag = object_tag(object_type)
        .ok_or_else(|| KmipError::new(ResultReason::FeatureNotSupported, "unsupported object type"))?;
    if wrap.is_some() && matches!(key_type, KeyType::Certificate | KeyType::Opaque) {
        return Err(KmipError::new(ResultReason::IllegalOperation, "only objects with a Key Block can be wrapped"));
    }
    match key_type {
        KeyType::Certificate => {
            let ctype = attributes.get("_certificate_type").and_then(Json::as_u64).unwrap_or(1) as u32;
            return Ok(Item::structure(
                tag,
                vec![
                    Item::enumeration(Tag::CERTIFICATE_TYPE, ctype),
                    Item::bytes(Tag::CERTIFICATE_VALUE, public.map(<[u8]>::to_vec).unwrap_or_default()),
                ],
            ));
        }
        KeyType::Opaque => {
            let dtype = attributes.get("_opaque_type").and_then(Json::as_u64).unwrap_or(0) as u32;
            return Ok(Item::structure(
                tag,
                vec![
                    Item::enumeration(Tag::OPAQUE_DATA_TYPE, dtype),
                    Item::bytes(Tag::OPAQUE_DATA_VALUE, material.map(|m| m.expose().to_vec()).unwrap_or_default()),
                ],
            ));
        }
        _ => {}
    }
    let alg = attrs::find(all, "Cryptographic Algorithm");
    let len = attrs::find(all, "Cryptographic Length");
    // A key registered in a transparent format comes back in it unless another is asked.
    let asked_format = asked_format.or(stored_format(attributes).filter(|f| is_transparent_asymmetric(*f)));
    let asked_transparent = match asked_format {
        Some(f) if !attributes.contains_key("_wrapping") => transparent(key_type, material, public, f)?,
        _ => None,
    };
    let (material_item, format, wrapping) = match (asked_transparent, wrap) {
        (Some(_), Some(_)) => {
            return Err(KmipError::new(ResultReason::FeatureNotSupported, "transparent key formats are not wrapped"));
        }
        (Some(item), None) => (item, asked_format.unwrap_or_default(), None),
        (None, wrap) => {
            let (mut bytes, format) = key_bytes(key_type, attributes, material, public, asked_format)?;
            let wrapping = match wrap {
                Some(w) => {
                    bytes = primitives::aes_key_wrap(w.kek.expose(), &bytes, w.pad).map_err(KmipError::crypto)?;
                    Some(w.data)
                }
                None => attributes.get("_wrapping").and_then(|j| attrs::from_json(Tag::KEY_WRAPPING_DATA, j)),
            };
            let item = if format == Fmt::TransparentSymmetricKey.value() && wrapping.is_none() {
                Item::structure(Tag::KEY_MATERIAL, vec![Item::bytes(Tag::KEY, bytes)])
            } else {
                Item::bytes(Tag::KEY_MATERIAL, bytes)
            };
            (item, format, wrapping)
        }
    };
    let (alg, len) = match key_type {
        KeyType::SecretData => (None, None),
        _ => (alg, len),
    };
    let block = key_block(format, material_item, alg, len, wrapping);
    let mut children = Vec::new();
    match key_type {
        KeyType::SecretData => {
            let dtype = attributes.get("_secret_data_type").and_then(Json::as_u64).unwrap_or(1) as u32;
            children.push(Item::enumeration(Tag::SECRET_DATA_TYPE, dtype));
        }
        KeyType::SplitKey => {
            if let Some(split) = attributes.get("_split").and_then(Json::as_object) {
                for &(tag, key) in SPLIT_KEY_FIELDS {
                    if let Some(item) = split.get(key).and_then(|j| attrs::from_json(tag, j)) {
                        children.push(item);
                    }
                }
            }
        }
        _ => {}
    }
    children.push(block);
    Ok(Item::structure(tag, children))
}
