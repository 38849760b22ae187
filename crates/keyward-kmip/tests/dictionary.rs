// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used)]

//! The tag and enumeration dictionaries: values the protocol layer depends on, written out
//! independently of the tables so that a typo in either shows up here.

use keyward_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, HashingAlgorithm, KeyFormatType, NameType,
    ObjectType, Operation, PaddingMethod, ProtectionStorageMask, QueryFunction, ResultReason, ResultStatus,
    RevocationReasonCode, State, StorageStatusMask, enumeration_value_name,
};
use keyward_kmip::{Item, KmipEnum, Tag, UnknownEnumValue};

#[test]
fn tags_used_by_the_supported_operations() {
    let expected: &[(Tag, u32, &str)] = &[
        // Message framing.
        (Tag::REQUEST_MESSAGE, 0x420078, "Request Message"),
        (Tag::RESPONSE_MESSAGE, 0x42007B, "Response Message"),
        (Tag::REQUEST_HEADER, 0x420077, "Request Header"),
        (Tag::RESPONSE_HEADER, 0x42007A, "Response Header"),
        (Tag::PROTOCOL_VERSION, 0x420069, "Protocol Version"),
        (Tag::PROTOCOL_VERSION_MAJOR, 0x42006A, "Protocol Version Major"),
        (Tag::PROTOCOL_VERSION_MINOR, 0x42006B, "Protocol Version Minor"),
        (Tag::BATCH_COUNT, 0x42000D, "Batch Count"),
        (Tag::BATCH_ITEM, 0x42000F, "Batch Item"),
        (Tag::BATCH_ERROR_CONTINUATION_OPTION, 0x42000E, "Batch Error Continuation Option"),
        (Tag::BATCH_ORDER_OPTION, 0x420010, "Batch Order Option"),
        (Tag::OPERATION, 0x42005C, "Operation"),
        (Tag::UNIQUE_BATCH_ITEM_ID, 0x420093, "Unique Batch Item ID"),
        (Tag::REQUEST_PAYLOAD, 0x420079, "Request Payload"),
        (Tag::RESPONSE_PAYLOAD, 0x42007C, "Response Payload"),
        (Tag::RESULT_STATUS, 0x42007F, "Result Status"),
        (Tag::RESULT_REASON, 0x42007E, "Result Reason"),
        (Tag::RESULT_MESSAGE, 0x42007D, "Result Message"),
        (Tag::TIME_STAMP, 0x420092, "Time Stamp"),
        (Tag::MAXIMUM_RESPONSE_SIZE, 0x420050, "Maximum Response Size"),
        (Tag::ASYNCHRONOUS_INDICATOR, 0x420007, "Asynchronous Indicator"),
        (Tag::MESSAGE_EXTENSION, 0x420051, "Message Extension"),
        (Tag::AUTHENTICATION, 0x42000C, "Authentication"),
        (Tag::CREDENTIAL, 0x420023, "Credential"),
        (Tag::CREDENTIAL_TYPE, 0x420024, "Credential Type"),
        (Tag::CREDENTIAL_VALUE, 0x420025, "Credential Value"),
        (Tag::USERNAME, 0x420099, "Username"),
        (Tag::PASSWORD, 0x4200A1, "Password"),
        // Objects and attributes.
        (Tag::UNIQUE_IDENTIFIER, 0x420094, "Unique Identifier"),
        (Tag::OBJECT_TYPE, 0x420057, "Object Type"),
        (Tag::TEMPLATE_ATTRIBUTE, 0x420091, "Template-Attribute"),
        (Tag::COMMON_TEMPLATE_ATTRIBUTE, 0x42001F, "Common Template-Attribute"),
        (Tag::PRIVATE_KEY_TEMPLATE_ATTRIBUTE, 0x420065, "Private Key Template-Attribute"),
        (Tag::PUBLIC_KEY_TEMPLATE_ATTRIBUTE, 0x42006E, "Public Key Template-Attribute"),
        (Tag::ATTRIBUTE, 0x420008, "Attribute"),
        (Tag::ATTRIBUTE_NAME, 0x42000A, "Attribute Name"),
        (Tag::ATTRIBUTE_INDEX, 0x420009, "Attribute Index"),
        (Tag::ATTRIBUTE_VALUE, 0x42000B, "Attribute Value"),
        (Tag::NAME, 0x420053, "Name"),
        (Tag::NAME_VALUE, 0x420055, "Name Value"),
        (Tag::NAME_TYPE, 0x420054, "Name Type"),
        (Tag::CRYPTOGRAPHIC_ALGORITHM, 0x420028, "Cryptographic Algorithm"),
        (Tag::CRYPTOGRAPHIC_LENGTH, 0x42002A, "Cryptographic Length"),
        (Tag::CRYPTOGRAPHIC_USAGE_MASK, 0x42002C, "Cryptographic Usage Mask"),
        (Tag::CRYPTOGRAPHIC_PARAMETERS, 0x42002B, "Cryptographic Parameters"),
        (Tag::BLOCK_CIPHER_MODE, 0x420011, "Block Cipher Mode"),
        (Tag::PADDING_METHOD, 0x42005F, "Padding Method"),
        (Tag::HASHING_ALGORITHM, 0x420038, "Hashing Algorithm"),
        (Tag::DIGITAL_SIGNATURE_ALGORITHM, 0x4200AE, "Digital Signature Algorithm"),
        (Tag::KEY_BLOCK, 0x420040, "Key Block"),
        (Tag::KEY_FORMAT_TYPE, 0x420042, "Key Format Type"),
        (Tag::KEY_VALUE, 0x420045, "Key Value"),
        (Tag::KEY_MATERIAL, 0x420043, "Key Material"),
        (Tag::KEY_WRAPPING_DATA, 0x420046, "Key Wrapping Data"),
        (Tag::SYMMETRIC_KEY, 0x42008F, "Symmetric Key"),
        (Tag::PRIVATE_KEY, 0x420064, "Private Key"),
        (Tag::PUBLIC_KEY, 0x42006D, "Public Key"),
        (Tag::CERTIFICATE, 0x420013, "Certificate"),
        (Tag::SECRET_DATA, 0x420085, "Secret Data"),
        (Tag::SECRET_DATA_TYPE, 0x420086, "Secret Data Type"),
        (Tag::OPAQUE_OBJECT, 0x42005B, "Opaque Object"),
        (Tag::STATE, 0x42008D, "State"),
        (Tag::REVOCATION_REASON, 0x420081, "Revocation Reason"),
        (Tag::REVOCATION_REASON_CODE, 0x420082, "Revocation Reason Code"),
        (Tag::REVOCATION_MESSAGE, 0x420080, "Revocation Message"),
        (Tag::COMPROMISE_OCCURRENCE_DATE, 0x420021, "Compromise Occurrence Date"),
        (Tag::LINK, 0x42004A, "Link"),
        (Tag::LINK_TYPE, 0x42004B, "Link Type"),
        (Tag::LINKED_OBJECT_IDENTIFIER, 0x42004C, "Linked Object Identifier"),
        (Tag::OFFSET, 0x420058, "Offset"),
        (Tag::REPLACED_UNIQUE_IDENTIFIER, 0x420076, "Replaced Unique Identifier"),
        // Cryptographic operations.
        (Tag::DATA, 0x4200C2, "Data"),
        (Tag::IV_COUNTER_NONCE, 0x42003D, "IV/Counter/Nonce"),
        (Tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, 0x4200FE, "Authenticated Encryption Additional Data"),
        (Tag::AUTHENTICATED_ENCRYPTION_TAG, 0x4200FF, "Authenticated Encryption Tag"),
        (Tag::SIGNATURE_DATA, 0x4200C3, "Signature Data"),
        (Tag::MAC_DATA, 0x4200C6, "MAC Data"),
        (Tag::VALIDITY_INDICATOR, 0x42009B, "Validity Indicator"),
        (Tag::CORRELATION_VALUE, 0x4200D6, "Correlation Value"),
        (Tag::INIT_INDICATOR, 0x4200D7, "Init Indicator"),
        (Tag::FINAL_INDICATOR, 0x4200D8, "Final Indicator"),
        // Query, Locate, Check, Get Usage Allocation.
        (Tag::QUERY_FUNCTION, 0x420074, "Query Function"),
        (Tag::SERVER_INFORMATION, 0x420088, "Server Information"),
        (Tag::VENDOR_IDENTIFICATION, 0x42009D, "Vendor Identification"),
        (Tag::STORAGE_STATUS_MASK, 0x42008E, "Storage Status Mask"),
        (Tag::MAXIMUM_ITEMS, 0x42004F, "Maximum Items"),
        (Tag::OFFSET_ITEMS, 0x4200D4, "Offset Items"),
        (Tag::LOCATED_ITEMS, 0x4200D5, "Located Items"),
        (Tag::OBJECT_GROUP_MEMBER, 0x4200AC, "Object Group Member"),
        (Tag::USAGE_LIMITS, 0x420095, "Usage Limits"),
        (Tag::USAGE_LIMITS_COUNT, 0x420096, "Usage Limits Count"),
        (Tag::USAGE_LIMITS_TOTAL, 0x420097, "Usage Limits Total"),
        (Tag::USAGE_LIMITS_UNIT, 0x420098, "Usage Limits Unit"),
        (Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER, 0x420066, "Private Key Unique Identifier"),
        (Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER, 0x42006F, "Public Key Unique Identifier"),
        // Dates and grouping.
        (Tag::ACTIVATION_DATE, 0x420001, "Activation Date"),
        (Tag::DEACTIVATION_DATE, 0x42002F, "Deactivation Date"),
        (Tag::DESTROY_DATE, 0x420033, "Destroy Date"),
        (Tag::INITIAL_DATE, 0x420039, "Initial Date"),
        (Tag::LAST_CHANGE_DATE, 0x420048, "Last Change Date"),
        (Tag::COMPROMISE_DATE, 0x420020, "Compromise Date"),
        (Tag::OBJECT_GROUP, 0x420056, "Object Group"),
        (Tag::CUSTOM_ATTRIBUTE, 0x42002D, "Custom Attribute"),
        // KMIP 2.0.
        (Tag::ATTRIBUTES, 0x420125, "Attributes"),
        (Tag::COMMON_ATTRIBUTES, 0x420126, "Common Attributes"),
        (Tag::PRIVATE_KEY_ATTRIBUTES, 0x420127, "Private Key Attributes"),
        (Tag::PUBLIC_KEY_ATTRIBUTES, 0x420128, "Public Key Attributes"),
        (Tag::ATTRIBUTE_REFERENCE, 0x42013B, "Attribute Reference"),
        (Tag::CURRENT_ATTRIBUTE, 0x42013C, "Current Attribute"),
        (Tag::NEW_ATTRIBUTE, 0x42013D, "New Attribute"),
        (Tag::EPHEMERAL, 0x420154, "Ephemeral"),
        (Tag::PROTECTION_STORAGE_MASK, 0x42015E, "Protection Storage Mask"),
        (Tag::PROTECTION_STORAGE_MASKS, 0x42015F, "Protection Storage Masks"),
        (Tag::COMMON_PROTECTION_STORAGE_MASKS, 0x420163, "Common Protection Storage Masks"),
        (Tag::PRIVATE_PROTECTION_STORAGE_MASKS, 0x420164, "Private Protection Storage Masks"),
        (Tag::PUBLIC_PROTECTION_STORAGE_MASKS, 0x420165, "Public Protection Storage Masks"),
    ];
    for &(tag, value, name) in expected {
        assert_eq!(tag.value(), value, "{name}");
        assert_eq!(tag.name(), Some(name), "{value:#x}");
        assert_eq!(Tag::from_name(name), Some(tag));
        assert!(Tag::KNOWN.contains(&tag));
    }
}

#[test]
fn tag_table_is_sorted_unique_and_in_the_kmip_range() {
    assert!(Tag::KNOWN.len() > 350, "{}", Tag::KNOWN.len());
    for pair in Tag::KNOWN.windows(2) {
        assert!(pair[0] < pair[1], "{:?} then {:?}", pair[0], pair[1]);
    }
    for tag in Tag::KNOWN {
        assert!(tag.is_kmip_range() && !tag.is_extension(), "{tag:?}");
        let name = tag.name().unwrap();
        assert_eq!(Tag::from_name(name), Some(*tag), "names are unique");
    }
    assert_eq!(Tag::KNOWN.first().map(|t| t.value()), Some(0x420001));
}

#[test]
fn tag_construction_and_formatting() {
    assert_eq!(Tag::new(0x0100_0000), None);
    assert_eq!(Tag::try_from(0x0100_0000u32).unwrap_err().to_string(), "0x1000000 does not fit in a 24-bit TTLV tag");
    assert_eq!(Tag::new(Tag::MAX).map(Tag::to_be_bytes), Some([0xFF, 0xFF, 0xFF]));
    assert_eq!(Tag::from_be_bytes([0x42, 0x00, 0x94]), Tag::UNIQUE_IDENTIFIER);
    assert_eq!(u32::from(Tag::UNIQUE_IDENTIFIER), 0x420094);

    let vendor = Tag::new(0x54_0001).unwrap();
    assert!(vendor.is_extension() && !vendor.is_kmip_range());
    assert_eq!(vendor.name(), None);
    assert_eq!(vendor.to_string(), "0x540001");
    assert_eq!(format!("{vendor:?}"), "Tag(0x540001)");
    assert_eq!(Tag::UNIQUE_IDENTIFIER.to_string(), "Unique Identifier");
    assert_eq!(format!("{:?}", Tag::UNIQUE_IDENTIFIER), "Tag(0x420094 Unique Identifier)");
    // A reserved-but-unnamed KMIP tag.
    let unnamed = Tag::new(0x42_FFFF).unwrap();
    assert!(unnamed.is_kmip_range() && unnamed.name().is_none());
}

#[test]
fn operation_values() {
    use Operation::*;
    let expected = [
        (Create, 0x01),
        (CreateKeyPair, 0x02),
        (Register, 0x03),
        (ReKey, 0x04),
        (Locate, 0x08),
        (Check, 0x09),
        (Get, 0x0A),
        (GetAttributes, 0x0B),
        (GetAttributeList, 0x0C),
        (AddAttribute, 0x0D),
        (ModifyAttribute, 0x0E),
        (DeleteAttribute, 0x0F),
        (GetUsageAllocation, 0x11),
        (Activate, 0x12),
        (Revoke, 0x13),
        (Destroy, 0x14),
        (Query, 0x18),
        (DiscoverVersions, 0x1E),
        (Encrypt, 0x1F),
        (Decrypt, 0x20),
        (Sign, 0x21),
        (SignatureVerify, 0x22),
        (Mac, 0x23),
        (MacVerify, 0x24),
        (SetAttribute, 0x31),
    ];
    for (op, value) in expected {
        assert_eq!(op.value(), value, "{op}");
        assert_eq!(Operation::from_value(value), Some(op));
    }
    assert_eq!(Operation::DiscoverVersions.name(), "Discover Versions");
    assert_eq!(Operation::ReKey.to_string(), "Re-key");
}

#[test]
fn other_enumeration_values() {
    assert_eq!(ResultStatus::Success.value(), 0);
    assert_eq!(ResultStatus::OperationFailed.value(), 1);
    assert_eq!(ResultStatus::OperationPending.value(), 2);
    assert_eq!(ResultStatus::OperationUndone.value(), 3);

    assert_eq!(ResultReason::ItemNotFound.value(), 0x01);
    assert_eq!(ResultReason::InvalidMessage.value(), 0x04);
    assert_eq!(ResultReason::OperationNotSupported.value(), 0x05);
    assert_eq!(ResultReason::PermissionDenied.value(), 0x0C);
    assert_eq!(ResultReason::ObjectAlreadyExists.value(), 0x18);
    assert_eq!(ResultReason::GeneralFailure.value(), 0x100);
    assert_eq!(ResultReason::UnsupportedProtocolVersion.value(), 0x3F);

    assert_eq!(ObjectType::Certificate.value(), 1);
    assert_eq!(ObjectType::SymmetricKey.value(), 2);
    assert_eq!(ObjectType::PublicKey.value(), 3);
    assert_eq!(ObjectType::PrivateKey.value(), 4);
    assert_eq!(ObjectType::SecretData.value(), 7);
    assert_eq!(ObjectType::OpaqueObject.value(), 8);

    assert_eq!(CryptographicAlgorithm::Aes.value(), 3);
    assert_eq!(CryptographicAlgorithm::Rsa.value(), 4);
    assert_eq!(CryptographicAlgorithm::Ecdsa.value(), 6);
    assert_eq!(CryptographicAlgorithm::HmacSha256.value(), 9);
    assert_eq!(CryptographicAlgorithm::Ec.value(), 0x1A);
    assert_eq!(CryptographicAlgorithm::ChaCha20Poly1305.value(), 0x1E);
    assert_eq!(CryptographicAlgorithm::Ed25519.value(), 0x37);
    assert_eq!(CryptographicAlgorithm::TripleDes.name(), "3DES");

    assert_eq!(KeyFormatType::Raw.value(), 1);
    assert_eq!(KeyFormatType::Pkcs1.value(), 3);
    assert_eq!(KeyFormatType::Pkcs8.value(), 4);
    assert_eq!(KeyFormatType::X509.value(), 5);
    assert_eq!(KeyFormatType::TransparentSymmetricKey.value(), 7);
    assert_eq!(KeyFormatType::Pkcs12.value(), 0x16);

    assert_eq!(BlockCipherMode::Cbc.value(), 1);
    assert_eq!(BlockCipherMode::Ecb.value(), 2);
    assert_eq!(BlockCipherMode::Ctr.value(), 6);
    assert_eq!(BlockCipherMode::Gcm.value(), 9);
    assert_eq!(BlockCipherMode::NistKeyWrap.value(), 0x0D);

    assert_eq!(PaddingMethod::None.value(), 1);
    assert_eq!(PaddingMethod::Oaep.value(), 2);
    assert_eq!(PaddingMethod::Pkcs5.value(), 3);
    assert_eq!(PaddingMethod::Pkcs1V1_5.value(), 8);
    assert_eq!(PaddingMethod::Pss.value(), 0x0A);

    assert_eq!(HashingAlgorithm::Sha1.value(), 4);
    assert_eq!(HashingAlgorithm::Sha256.value(), 6);
    assert_eq!(HashingAlgorithm::Sha512.value(), 8);
    assert_eq!(HashingAlgorithm::Sha3_256.value(), 0x0F);

    assert_eq!(State::PreActive.value(), 1);
    assert_eq!(State::Active.value(), 2);
    assert_eq!(State::Deactivated.value(), 3);
    assert_eq!(State::Compromised.value(), 4);
    assert_eq!(State::Destroyed.value(), 5);
    assert_eq!(State::DestroyedCompromised.value(), 6);

    assert_eq!(NameType::UninterpretedTextString.value(), 1);
    assert_eq!(NameType::Uri.value(), 2);

    assert_eq!(QueryFunction::QueryOperations.value(), 1);
    assert_eq!(QueryFunction::QueryObjects.value(), 2);
    assert_eq!(QueryFunction::QueryServerInformation.value(), 3);

    assert_eq!(RevocationReasonCode::Unspecified.value(), 1);
    assert_eq!(RevocationReasonCode::KeyCompromise.value(), 2);
    assert_eq!(RevocationReasonCode::CessationOfOperation.value(), 6);
}

/// Every value of every enumeration converts to and from its wire value and has a unique name.
fn check_enum<E: KmipEnum + PartialEq + core::fmt::Debug + TryFrom<u32, Error = UnknownEnumValue> + Into<u32>>() {
    let mut names = std::collections::HashSet::new();
    for pair in E::ALL.windows(2) {
        assert!(pair[0].value() < pair[1].value(), "{} not ascending", E::ENUM_NAME);
    }
    for &e in E::ALL {
        assert_eq!(E::from_value(e.value()), Some(e));
        assert_eq!(E::try_from(e.value()), Ok(e));
        assert_eq!(e.into(), e.value());
        assert!(names.insert(e.name()), "{} has two values named {}", E::ENUM_NAME, e.name());
    }
    let err = E::try_from(0x8000_0000).unwrap_err();
    assert_eq!(err, UnknownEnumValue { enum_name: E::ENUM_NAME, value: 0x8000_0000 });
    assert_eq!(err.to_string(), format!("0x80000000 is not a known {} value", E::ENUM_NAME));
}

#[test]
fn enumerations_are_consistent() {
    use keyward_kmip::enums::*;
    check_enum::<Operation>();
    check_enum::<ResultStatus>();
    check_enum::<ResultReason>();
    check_enum::<ObjectType>();
    check_enum::<CryptographicAlgorithm>();
    check_enum::<KeyFormatType>();
    check_enum::<BlockCipherMode>();
    check_enum::<PaddingMethod>();
    check_enum::<HashingAlgorithm>();
    check_enum::<State>();
    check_enum::<NameType>();
    check_enum::<QueryFunction>();
    check_enum::<RevocationReasonCode>();
    check_enum::<DigitalSignatureAlgorithm>();
    check_enum::<ValidityIndicator>();
    check_enum::<LinkType>();
    check_enum::<SecretDataType>();
    check_enum::<CertificateType>();
    check_enum::<CredentialType>();
    check_enum::<BatchErrorContinuationOption>();
    check_enum::<UsageLimitsUnit>();
    check_enum::<KeyCompressionType>();
    check_enum::<WrappingMethod>();
    check_enum::<SplitKeyMethod>();
    check_enum::<RecommendedCurve>();
    check_enum::<MaskGenerator>();
    check_enum::<KeyWrapType>();
    check_enum::<EncodingOption>();
    assert_eq!(Operation::ALL.len(), 53);
    assert_eq!(ResultReason::ALL.len(), 68);
}

#[test]
fn enumeration_names_by_tag() {
    assert_eq!(enumeration_value_name(Tag::OPERATION, 0x1E), Some("Discover Versions"));
    assert_eq!(enumeration_value_name(Tag::RESULT_STATUS, 0), Some("Success"));
    assert_eq!(enumeration_value_name(Tag::MASK_GENERATOR_HASHING_ALGORITHM, 6), Some("SHA-256"));
    assert_eq!(enumeration_value_name(Tag::OPERATION, 0x8000_0000), None);
    assert_eq!(enumeration_value_name(Tag::ATTRIBUTE_VALUE, 1), None);
}

#[test]
fn cryptographic_usage_mask() {
    let m = CryptographicUsageMask::ENCRYPT | CryptographicUsageMask::DECRYPT;
    assert_eq!(m.bits(), 0x0C);
    assert_eq!(m.to_i32(), 12);
    assert!(m.contains(CryptographicUsageMask::ENCRYPT));
    assert!(!m.contains(CryptographicUsageMask::SIGN));
    assert_eq!(m.names().collect::<Vec<_>>(), ["Encrypt", "Decrypt"]);
    assert_eq!(m.to_string(), "Encrypt | Decrypt");
    assert_eq!(format!("{m:?}"), "CryptographicUsageMask(0x0000000c: Encrypt | Decrypt)");

    let expected = [
        (CryptographicUsageMask::SIGN, 0x0000_0001),
        (CryptographicUsageMask::VERIFY, 0x0000_0002),
        (CryptographicUsageMask::ENCRYPT, 0x0000_0004),
        (CryptographicUsageMask::DECRYPT, 0x0000_0008),
        (CryptographicUsageMask::WRAP_KEY, 0x0000_0010),
        (CryptographicUsageMask::UNWRAP_KEY, 0x0000_0020),
        (CryptographicUsageMask::EXPORT, 0x0000_0040),
        (CryptographicUsageMask::MAC_GENERATE, 0x0000_0080),
        (CryptographicUsageMask::MAC_VERIFY, 0x0000_0100),
        (CryptographicUsageMask::DERIVE_KEY, 0x0000_0200),
        (CryptographicUsageMask::CONTENT_COMMITMENT, 0x0000_0400),
        (CryptographicUsageMask::KEY_AGREEMENT, 0x0000_0800),
        (CryptographicUsageMask::CERTIFICATE_SIGN, 0x0000_1000),
        (CryptographicUsageMask::CRL_SIGN, 0x0000_2000),
        (CryptographicUsageMask::AUTHENTICATE, 0x0010_0000),
        (CryptographicUsageMask::UNRESTRICTED, 0x0020_0000),
        (CryptographicUsageMask::FPE_ENCRYPT, 0x0040_0000),
        (CryptographicUsageMask::FPE_DECRYPT, 0x0080_0000),
    ];
    for (flag, bits) in expected {
        assert_eq!(flag.bits(), bits, "{flag:?}");
    }

    // Unknown (extension) bits survive and are shown.
    let ext = CryptographicUsageMask::from_i32(i32::MIN | 1);
    assert_eq!(ext.bits(), 0x8000_0001);
    assert_eq!(ext.unknown_bits(), 0x8000_0000);
    assert_eq!(ext.to_i32(), i32::MIN | 1);
    assert_eq!(ext.to_string(), "Sign | 0x80000000");
    assert_eq!(CryptographicUsageMask::empty().to_string(), "none");
    assert!(CryptographicUsageMask::default().is_empty());

    let mut acc = CryptographicUsageMask::empty();
    acc |= CryptographicUsageMask::SIGN;
    assert_eq!((acc & m).bits(), 0);
    assert_eq!(u32::from(acc), 1);
}

#[test]
fn storage_masks() {
    assert_eq!(StorageStatusMask::ONLINE_STORAGE.bits(), 1);
    assert_eq!(StorageStatusMask::ARCHIVAL_STORAGE.bits(), 2);
    assert_eq!(StorageStatusMask::DESTROYED_STORAGE.bits(), 4);
    assert_eq!(ProtectionStorageMask::SOFTWARE.bits(), 1);
    assert_eq!(ProtectionStorageMask::HARDWARE.bits(), 2);
    assert_eq!(ProtectionStorageMask::SAME_JURISDICTION.bits(), 0x2000);
    assert_eq!(ProtectionStorageMask::FLAGS.len(), 14);
}

#[test]
fn typed_accessors() {
    let op = Item::enumeration(Tag::OPERATION, Operation::Register);
    assert_eq!(op.as_kmip_enum::<Operation>(), Some(Operation::Register));
    // The item does not know its enumeration; the caller's choice decides.
    assert_eq!(op.as_kmip_enum::<State>(), Some(State::Deactivated));
    assert_eq!(Item::enumeration(Tag::OPERATION, Operation::Locate).as_kmip_enum::<State>(), None);
    assert_eq!(Item::enumeration(Tag::OPERATION, 0x9999u32).as_kmip_enum::<Operation>(), None);
    assert_eq!(Item::integer(Tag::OPERATION, 8).as_kmip_enum::<Operation>(), None);
}
