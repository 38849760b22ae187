//! TTLV tags: the [`Tag`] newtype and the dictionary of every tag defined by KMIP 1.0 through 2.0.
//!
//! One table drives both the associated constants and [`Tag::name`], so a name can never drift from
//! its value. The values follow the tag tables of the KMIP 1.x (§9.1.3.1) and 2.0 specifications;
//! the crate-level docs describe how they were checked.

use core::fmt;

/// A TTLV tag: a 24-bit value, stored in a `u32` whose top byte is always zero.
///
/// Tags in `0x420000..=0x42FFFF` are defined by KMIP, `0x540000..=0x54FFFF` are reserved for vendor
/// extensions. The codec accepts any 24-bit tag because rejecting unknown tags is a protocol-layer
/// decision (KMIP answers those with a result reason, not by dropping the connection).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

impl Tag {
    /// Largest value a tag can carry on the wire.
    pub const MAX: u32 = 0x00FF_FFFF;

    /// Builds a tag, or `None` if `value` does not fit in 24 bits.
    pub const fn new(value: u32) -> Option<Tag> {
        if value > Self::MAX { None } else { Some(Tag(value)) }
    }

    /// Builds a tag from its three big-endian wire bytes; every such value is a valid tag.
    pub const fn from_be_bytes(bytes: [u8; 3]) -> Tag {
        Tag(u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]))
    }

    /// The three big-endian bytes written on the wire.
    pub const fn to_be_bytes(self) -> [u8; 3] {
        let [_, a, b, c] = self.0.to_be_bytes();
        [a, b, c]
    }

    /// The numeric tag value (always `<= Tag::MAX`).
    pub const fn value(self) -> u32 {
        self.0
    }

    /// True for tags in the vendor extension range `0x540000..=0x54FFFF`.
    pub const fn is_extension(self) -> bool {
        self.0 >= 0x54_0000 && self.0 <= 0x54_FFFF
    }

    /// True for tags in the range KMIP reserves for itself, `0x420000..=0x42FFFF`, whether or not
    /// this crate knows the tag's name.
    pub const fn is_kmip_range(self) -> bool {
        self.0 >= 0x42_0000 && self.0 <= 0x42_FFFF
    }

    /// Looks a tag up by its specification name (exact match, e.g. `"Unique Identifier"`).
    pub fn from_name(name: &str) -> Option<Tag> {
        Self::KNOWN.iter().copied().find(|t| t.name() == Some(name))
    }
}

impl TryFrom<u32> for Tag {
    type Error = InvalidTag;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Tag::new(value).ok_or(InvalidTag(value))
    }
}

impl From<Tag> for u32 {
    fn from(tag: Tag) -> u32 {
        tag.0
    }
}

/// Error for a `u32` that does not fit in a 24-bit tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0:#x} does not fit in a 24-bit TTLV tag")]
pub struct InvalidTag(pub u32);

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Tag({:#08X} {name})", self.0),
            None => write!(f, "Tag({:#08X})", self.0),
        }
    }
}

/// Shows the specification name when known, the hex value otherwise.
impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#08X}", self.0),
        }
    }
}

macro_rules! define_tags {
    ($( $ident:ident = $value:literal, $name:literal, $since:literal $(, $note:literal)?; )*) => {
        impl Tag {
            $(
                #[doc = concat!("`", $name, "` (`", stringify!($value), "`), since KMIP ", $since, ".", $(" ", $note)?)]
                pub const $ident: Tag = Tag($value);
            )*

            /// Every tag this crate has a name for, in ascending order.
            pub const KNOWN: &'static [Tag] = &[$(Tag::$ident),*];

            /// The specification name of the tag, for diagnostics; `None` for tags this crate does
            /// not know (vendor extensions, tags from future KMIP versions).
            pub const fn name(self) -> Option<&'static str> {
                // A `match` lets the compiler reject duplicate values (unreachable pattern) at build time.
                match self.0 {
                    $($value => Some($name),)*
                    _ => None,
                }
            }
        }
    };
}

// Format: CONST = value, "spec name", "KMIP version that introduced it"[, "status note"];
define_tags! {
    ACTIVATION_DATE = 0x420001, "Activation Date", "1.0";
    APPLICATION_DATA = 0x420002, "Application Data", "1.0";
    APPLICATION_NAMESPACE = 0x420003, "Application Namespace", "1.0";
    APPLICATION_SPECIFIC_INFORMATION = 0x420004, "Application Specific Information", "1.0";
    ARCHIVE_DATE = 0x420005, "Archive Date", "1.0";
    ASYNCHRONOUS_CORRELATION_VALUE = 0x420006, "Asynchronous Correlation Value", "1.0";
    ASYNCHRONOUS_INDICATOR = 0x420007, "Asynchronous Indicator", "1.0";
    ATTRIBUTE = 0x420008, "Attribute", "1.0";
    ATTRIBUTE_INDEX = 0x420009, "Attribute Index", "1.0", "Reserved in KMIP 2.0.";
    ATTRIBUTE_NAME = 0x42000A, "Attribute Name", "1.0";
    ATTRIBUTE_VALUE = 0x42000B, "Attribute Value", "1.0";
    AUTHENTICATION = 0x42000C, "Authentication", "1.0";
    BATCH_COUNT = 0x42000D, "Batch Count", "1.0";
    BATCH_ERROR_CONTINUATION_OPTION = 0x42000E, "Batch Error Continuation Option", "1.0";
    BATCH_ITEM = 0x42000F, "Batch Item", "1.0";
    BATCH_ORDER_OPTION = 0x420010, "Batch Order Option", "1.0";
    BLOCK_CIPHER_MODE = 0x420011, "Block Cipher Mode", "1.0";
    CANCELLATION_RESULT = 0x420012, "Cancellation Result", "1.0";
    CERTIFICATE = 0x420013, "Certificate", "1.0";
    CERTIFICATE_IDENTIFIER = 0x420014, "Certificate Identifier", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_ISSUER = 0x420015, "Certificate Issuer", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_ISSUER_ALTERNATIVE_NAME = 0x420016, "Certificate Issuer Alternative Name", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_ISSUER_DISTINGUISHED_NAME = 0x420017, "Certificate Issuer Distinguished Name", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_REQUEST = 0x420018, "Certificate Request", "1.0";
    CERTIFICATE_REQUEST_TYPE = 0x420019, "Certificate Request Type", "1.0";
    CERTIFICATE_SUBJECT = 0x42001A, "Certificate Subject", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_SUBJECT_ALTERNATIVE_NAME = 0x42001B, "Certificate Subject Alternative Name", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_SUBJECT_DISTINGUISHED_NAME = 0x42001C, "Certificate Subject Distinguished Name", "1.0", "Deprecated; reserved in KMIP 2.0.";
    CERTIFICATE_TYPE = 0x42001D, "Certificate Type", "1.0";
    CERTIFICATE_VALUE = 0x42001E, "Certificate Value", "1.0";
    COMMON_TEMPLATE_ATTRIBUTE = 0x42001F, "Common Template-Attribute", "1.0", "Reserved in KMIP 2.0.";
    COMPROMISE_DATE = 0x420020, "Compromise Date", "1.0";
    COMPROMISE_OCCURRENCE_DATE = 0x420021, "Compromise Occurrence Date", "1.0";
    CONTACT_INFORMATION = 0x420022, "Contact Information", "1.0";
    CREDENTIAL = 0x420023, "Credential", "1.0";
    CREDENTIAL_TYPE = 0x420024, "Credential Type", "1.0";
    CREDENTIAL_VALUE = 0x420025, "Credential Value", "1.0";
    CRITICALITY_INDICATOR = 0x420026, "Criticality Indicator", "1.0";
    CRT_COEFFICIENT = 0x420027, "CRT Coefficient", "1.0";
    CRYPTOGRAPHIC_ALGORITHM = 0x420028, "Cryptographic Algorithm", "1.0";
    CRYPTOGRAPHIC_DOMAIN_PARAMETERS = 0x420029, "Cryptographic Domain Parameters", "1.0";
    CRYPTOGRAPHIC_LENGTH = 0x42002A, "Cryptographic Length", "1.0";
    CRYPTOGRAPHIC_PARAMETERS = 0x42002B, "Cryptographic Parameters", "1.0";
    CRYPTOGRAPHIC_USAGE_MASK = 0x42002C, "Cryptographic Usage Mask", "1.0";
    CUSTOM_ATTRIBUTE = 0x42002D, "Custom Attribute", "1.0", "Reserved in KMIP 2.0.";
    D = 0x42002E, "D", "1.0";
    DEACTIVATION_DATE = 0x42002F, "Deactivation Date", "1.0";
    DERIVATION_DATA = 0x420030, "Derivation Data", "1.0";
    DERIVATION_METHOD = 0x420031, "Derivation Method", "1.0";
    DERIVATION_PARAMETERS = 0x420032, "Derivation Parameters", "1.0";
    DESTROY_DATE = 0x420033, "Destroy Date", "1.0";
    DIGEST = 0x420034, "Digest", "1.0";
    DIGEST_VALUE = 0x420035, "Digest Value", "1.0";
    ENCRYPTION_KEY_INFORMATION = 0x420036, "Encryption Key Information", "1.0";
    G = 0x420037, "G", "1.0";
    HASHING_ALGORITHM = 0x420038, "Hashing Algorithm", "1.0";
    INITIAL_DATE = 0x420039, "Initial Date", "1.0";
    INITIALIZATION_VECTOR = 0x42003A, "Initialization Vector", "1.0";
    ISSUER = 0x42003B, "Issuer", "1.0", "Deprecated; reserved in KMIP 2.0.";
    ITERATION_COUNT = 0x42003C, "Iteration Count", "1.0";
    IV_COUNTER_NONCE = 0x42003D, "IV/Counter/Nonce", "1.0";
    J = 0x42003E, "J", "1.0";
    KEY = 0x42003F, "Key", "1.0";
    KEY_BLOCK = 0x420040, "Key Block", "1.0";
    KEY_COMPRESSION_TYPE = 0x420041, "Key Compression Type", "1.0";
    KEY_FORMAT_TYPE = 0x420042, "Key Format Type", "1.0";
    KEY_MATERIAL = 0x420043, "Key Material", "1.0";
    KEY_PART_IDENTIFIER = 0x420044, "Key Part Identifier", "1.0";
    KEY_VALUE = 0x420045, "Key Value", "1.0";
    KEY_WRAPPING_DATA = 0x420046, "Key Wrapping Data", "1.0";
    KEY_WRAPPING_SPECIFICATION = 0x420047, "Key Wrapping Specification", "1.0";
    LAST_CHANGE_DATE = 0x420048, "Last Change Date", "1.0";
    LEASE_TIME = 0x420049, "Lease Time", "1.0";
    LINK = 0x42004A, "Link", "1.0";
    LINK_TYPE = 0x42004B, "Link Type", "1.0";
    LINKED_OBJECT_IDENTIFIER = 0x42004C, "Linked Object Identifier", "1.0";
    MAC_SIGNATURE = 0x42004D, "MAC/Signature", "1.0";
    MAC_SIGNATURE_KEY_INFORMATION = 0x42004E, "MAC/Signature Key Information", "1.0";
    MAXIMUM_ITEMS = 0x42004F, "Maximum Items", "1.0";
    MAXIMUM_RESPONSE_SIZE = 0x420050, "Maximum Response Size", "1.0";
    MESSAGE_EXTENSION = 0x420051, "Message Extension", "1.0";
    MODULUS = 0x420052, "Modulus", "1.0";
    NAME = 0x420053, "Name", "1.0";
    NAME_TYPE = 0x420054, "Name Type", "1.0";
    NAME_VALUE = 0x420055, "Name Value", "1.0";
    OBJECT_GROUP = 0x420056, "Object Group", "1.0";
    OBJECT_TYPE = 0x420057, "Object Type", "1.0";
    OFFSET = 0x420058, "Offset", "1.0";
    OPAQUE_DATA_TYPE = 0x420059, "Opaque Data Type", "1.0";
    OPAQUE_DATA_VALUE = 0x42005A, "Opaque Data Value", "1.0";
    OPAQUE_OBJECT = 0x42005B, "Opaque Object", "1.0";
    OPERATION = 0x42005C, "Operation", "1.0";
    OPERATION_POLICY_NAME = 0x42005D, "Operation Policy Name", "1.0", "Reserved in KMIP 2.0.";
    P = 0x42005E, "P", "1.0";
    PADDING_METHOD = 0x42005F, "Padding Method", "1.0";
    PRIME_EXPONENT_P = 0x420060, "Prime Exponent P", "1.0";
    PRIME_EXPONENT_Q = 0x420061, "Prime Exponent Q", "1.0";
    PRIME_FIELD_SIZE = 0x420062, "Prime Field Size", "1.0";
    PRIVATE_EXPONENT = 0x420063, "Private Exponent", "1.0";
    PRIVATE_KEY = 0x420064, "Private Key", "1.0";
    PRIVATE_KEY_TEMPLATE_ATTRIBUTE = 0x420065, "Private Key Template-Attribute", "1.0", "Reserved in KMIP 2.0.";
    PRIVATE_KEY_UNIQUE_IDENTIFIER = 0x420066, "Private Key Unique Identifier", "1.0";
    PROCESS_START_DATE = 0x420067, "Process Start Date", "1.0";
    PROTECT_STOP_DATE = 0x420068, "Protect Stop Date", "1.0";
    PROTOCOL_VERSION = 0x420069, "Protocol Version", "1.0";
    PROTOCOL_VERSION_MAJOR = 0x42006A, "Protocol Version Major", "1.0";
    PROTOCOL_VERSION_MINOR = 0x42006B, "Protocol Version Minor", "1.0";
    PUBLIC_EXPONENT = 0x42006C, "Public Exponent", "1.0";
    PUBLIC_KEY = 0x42006D, "Public Key", "1.0";
    PUBLIC_KEY_TEMPLATE_ATTRIBUTE = 0x42006E, "Public Key Template-Attribute", "1.0", "Reserved in KMIP 2.0.";
    PUBLIC_KEY_UNIQUE_IDENTIFIER = 0x42006F, "Public Key Unique Identifier", "1.0";
    PUT_FUNCTION = 0x420070, "Put Function", "1.0";
    Q = 0x420071, "Q", "1.0";
    Q_STRING = 0x420072, "Q String", "1.0";
    QLENGTH = 0x420073, "Qlength", "1.0";
    QUERY_FUNCTION = 0x420074, "Query Function", "1.0";
    RECOMMENDED_CURVE = 0x420075, "Recommended Curve", "1.0";
    REPLACED_UNIQUE_IDENTIFIER = 0x420076, "Replaced Unique Identifier", "1.0";
    REQUEST_HEADER = 0x420077, "Request Header", "1.0";
    REQUEST_MESSAGE = 0x420078, "Request Message", "1.0";
    REQUEST_PAYLOAD = 0x420079, "Request Payload", "1.0";
    RESPONSE_HEADER = 0x42007A, "Response Header", "1.0";
    RESPONSE_MESSAGE = 0x42007B, "Response Message", "1.0";
    RESPONSE_PAYLOAD = 0x42007C, "Response Payload", "1.0";
    RESULT_MESSAGE = 0x42007D, "Result Message", "1.0";
    RESULT_REASON = 0x42007E, "Result Reason", "1.0";
    RESULT_STATUS = 0x42007F, "Result Status", "1.0";
    REVOCATION_MESSAGE = 0x420080, "Revocation Message", "1.0";
    REVOCATION_REASON = 0x420081, "Revocation Reason", "1.0";
    REVOCATION_REASON_CODE = 0x420082, "Revocation Reason Code", "1.0";
    KEY_ROLE_TYPE = 0x420083, "Key Role Type", "1.0";
    SALT = 0x420084, "Salt", "1.0";
    SECRET_DATA = 0x420085, "Secret Data", "1.0";
    SECRET_DATA_TYPE = 0x420086, "Secret Data Type", "1.0";
    SERIAL_NUMBER = 0x420087, "Serial Number", "1.0", "Deprecated; reserved in KMIP 2.0.";
    SERVER_INFORMATION = 0x420088, "Server Information", "1.0";
    SPLIT_KEY = 0x420089, "Split Key", "1.0";
    SPLIT_KEY_METHOD = 0x42008A, "Split Key Method", "1.0";
    SPLIT_KEY_PARTS = 0x42008B, "Split Key Parts", "1.0";
    SPLIT_KEY_THRESHOLD = 0x42008C, "Split Key Threshold", "1.0";
    STATE = 0x42008D, "State", "1.0";
    STORAGE_STATUS_MASK = 0x42008E, "Storage Status Mask", "1.0";
    SYMMETRIC_KEY = 0x42008F, "Symmetric Key", "1.0";
    TEMPLATE = 0x420090, "Template", "1.0", "Reserved in KMIP 2.0.";
    TEMPLATE_ATTRIBUTE = 0x420091, "Template-Attribute", "1.0", "Reserved in KMIP 2.0.";
    TIME_STAMP = 0x420092, "Time Stamp", "1.0";
    UNIQUE_BATCH_ITEM_ID = 0x420093, "Unique Batch Item ID", "1.0";
    UNIQUE_IDENTIFIER = 0x420094, "Unique Identifier", "1.0";
    USAGE_LIMITS = 0x420095, "Usage Limits", "1.0";
    USAGE_LIMITS_COUNT = 0x420096, "Usage Limits Count", "1.0";
    USAGE_LIMITS_TOTAL = 0x420097, "Usage Limits Total", "1.0";
    USAGE_LIMITS_UNIT = 0x420098, "Usage Limits Unit", "1.0";
    USERNAME = 0x420099, "Username", "1.0";
    VALIDITY_DATE = 0x42009A, "Validity Date", "1.0";
    VALIDITY_INDICATOR = 0x42009B, "Validity Indicator", "1.0";
    VENDOR_EXTENSION = 0x42009C, "Vendor Extension", "1.0";
    VENDOR_IDENTIFICATION = 0x42009D, "Vendor Identification", "1.0";
    WRAPPING_METHOD = 0x42009E, "Wrapping Method", "1.0";
    X = 0x42009F, "X", "1.0";
    Y = 0x4200A0, "Y", "1.0";
    PASSWORD = 0x4200A1, "Password", "1.0";
    DEVICE_IDENTIFIER = 0x4200A2, "Device Identifier", "1.1";
    ENCODING_OPTION = 0x4200A3, "Encoding Option", "1.1";
    EXTENSION_INFORMATION = 0x4200A4, "Extension Information", "1.1";
    EXTENSION_NAME = 0x4200A5, "Extension Name", "1.1";
    EXTENSION_TAG = 0x4200A6, "Extension Tag", "1.1";
    EXTENSION_TYPE = 0x4200A7, "Extension Type", "1.1";
    FRESH = 0x4200A8, "Fresh", "1.1";
    MACHINE_IDENTIFIER = 0x4200A9, "Machine Identifier", "1.1";
    MEDIA_IDENTIFIER = 0x4200AA, "Media Identifier", "1.1";
    NETWORK_IDENTIFIER = 0x4200AB, "Network Identifier", "1.1";
    OBJECT_GROUP_MEMBER = 0x4200AC, "Object Group Member", "1.1";
    CERTIFICATE_LENGTH = 0x4200AD, "Certificate Length", "1.1";
    DIGITAL_SIGNATURE_ALGORITHM = 0x4200AE, "Digital Signature Algorithm", "1.1";
    CERTIFICATE_SERIAL_NUMBER = 0x4200AF, "Certificate Serial Number", "1.1";
    DEVICE_SERIAL_NUMBER = 0x4200B0, "Device Serial Number", "1.1";
    ISSUER_ALTERNATIVE_NAME = 0x4200B1, "Issuer Alternative Name", "1.1";
    ISSUER_DISTINGUISHED_NAME = 0x4200B2, "Issuer Distinguished Name", "1.1";
    SUBJECT_ALTERNATIVE_NAME = 0x4200B3, "Subject Alternative Name", "1.1";
    SUBJECT_DISTINGUISHED_NAME = 0x4200B4, "Subject Distinguished Name", "1.1";
    X_509_CERTIFICATE_IDENTIFIER = 0x4200B5, "X.509 Certificate Identifier", "1.1";
    X_509_CERTIFICATE_ISSUER = 0x4200B6, "X.509 Certificate Issuer", "1.1";
    X_509_CERTIFICATE_SUBJECT = 0x4200B7, "X.509 Certificate Subject", "1.1";
    KEY_VALUE_LOCATION = 0x4200B8, "Key Value Location", "1.2";
    KEY_VALUE_LOCATION_VALUE = 0x4200B9, "Key Value Location Value", "1.2";
    KEY_VALUE_LOCATION_TYPE = 0x4200BA, "Key Value Location Type", "1.2";
    KEY_VALUE_PRESENT = 0x4200BB, "Key Value Present", "1.2";
    ORIGINAL_CREATION_DATE = 0x4200BC, "Original Creation Date", "1.2";
    PGP_KEY = 0x4200BD, "PGP Key", "1.2";
    PGP_KEY_VERSION = 0x4200BE, "PGP Key Version", "1.2";
    ALTERNATIVE_NAME = 0x4200BF, "Alternative Name", "1.2";
    ALTERNATIVE_NAME_VALUE = 0x4200C0, "Alternative Name Value", "1.2";
    ALTERNATIVE_NAME_TYPE = 0x4200C1, "Alternative Name Type", "1.2";
    DATA = 0x4200C2, "Data", "1.2";
    SIGNATURE_DATA = 0x4200C3, "Signature Data", "1.2";
    DATA_LENGTH = 0x4200C4, "Data Length", "1.2";
    RANDOM_IV = 0x4200C5, "Random IV", "1.2";
    MAC_DATA = 0x4200C6, "MAC Data", "1.2";
    ATTESTATION_TYPE = 0x4200C7, "Attestation Type", "1.2";
    NONCE = 0x4200C8, "Nonce", "1.2";
    NONCE_ID = 0x4200C9, "Nonce ID", "1.2";
    NONCE_VALUE = 0x4200CA, "Nonce Value", "1.2";
    ATTESTATION_MEASUREMENT = 0x4200CB, "Attestation Measurement", "1.2";
    ATTESTATION_ASSERTION = 0x4200CC, "Attestation Assertion", "1.2";
    IV_LENGTH = 0x4200CD, "IV Length", "1.2";
    TAG_LENGTH = 0x4200CE, "Tag Length", "1.2";
    FIXED_FIELD_LENGTH = 0x4200CF, "Fixed Field Length", "1.2";
    COUNTER_LENGTH = 0x4200D0, "Counter Length", "1.2";
    INITIAL_COUNTER_VALUE = 0x4200D1, "Initial Counter Value", "1.2";
    INVOCATION_FIELD_LENGTH = 0x4200D2, "Invocation Field Length", "1.2";
    ATTESTATION_CAPABLE_INDICATOR = 0x4200D3, "Attestation Capable Indicator", "1.2";
    OFFSET_ITEMS = 0x4200D4, "Offset Items", "1.3";
    LOCATED_ITEMS = 0x4200D5, "Located Items", "1.3";
    CORRELATION_VALUE = 0x4200D6, "Correlation Value", "1.3";
    INIT_INDICATOR = 0x4200D7, "Init Indicator", "1.3";
    FINAL_INDICATOR = 0x4200D8, "Final Indicator", "1.3";
    RNG_PARAMETERS = 0x4200D9, "RNG Parameters", "1.3";
    RNG_ALGORITHM = 0x4200DA, "RNG Algorithm", "1.3";
    DRBG_ALGORITHM = 0x4200DB, "DRBG Algorithm", "1.3";
    FIPS186_VARIATION = 0x4200DC, "FIPS186 Variation", "1.3";
    PREDICTION_RESISTANCE = 0x4200DD, "Prediction Resistance", "1.3";
    RANDOM_NUMBER_GENERATOR = 0x4200DE, "Random Number Generator", "1.3";
    VALIDATION_INFORMATION = 0x4200DF, "Validation Information", "1.3";
    VALIDATION_AUTHORITY_TYPE = 0x4200E0, "Validation Authority Type", "1.3";
    VALIDATION_AUTHORITY_COUNTRY = 0x4200E1, "Validation Authority Country", "1.3";
    VALIDATION_AUTHORITY_URI = 0x4200E2, "Validation Authority URI", "1.3";
    VALIDATION_VERSION_MAJOR = 0x4200E3, "Validation Version Major", "1.3";
    VALIDATION_VERSION_MINOR = 0x4200E4, "Validation Version Minor", "1.3";
    VALIDATION_TYPE = 0x4200E5, "Validation Type", "1.3";
    VALIDATION_LEVEL = 0x4200E6, "Validation Level", "1.3";
    VALIDATION_CERTIFICATE_IDENTIFIER = 0x4200E7, "Validation Certificate Identifier", "1.3";
    VALIDATION_CERTIFICATE_URI = 0x4200E8, "Validation Certificate URI", "1.3";
    VALIDATION_VENDOR_URI = 0x4200E9, "Validation Vendor URI", "1.3";
    VALIDATION_PROFILE = 0x4200EA, "Validation Profile", "1.3";
    PROFILE_INFORMATION = 0x4200EB, "Profile Information", "1.3";
    PROFILE_NAME = 0x4200EC, "Profile Name", "1.3";
    SERVER_URI = 0x4200ED, "Server URI", "1.3";
    SERVER_PORT = 0x4200EE, "Server Port", "1.3";
    STREAMING_CAPABILITY = 0x4200EF, "Streaming Capability", "1.3";
    ASYNCHRONOUS_CAPABILITY = 0x4200F0, "Asynchronous Capability", "1.3";
    ATTESTATION_CAPABILITY = 0x4200F1, "Attestation Capability", "1.3";
    UNWRAP_MODE = 0x4200F2, "Unwrap Mode", "1.3";
    DESTROY_ACTION = 0x4200F3, "Destroy Action", "1.3";
    SHREDDING_ALGORITHM = 0x4200F4, "Shredding Algorithm", "1.3";
    RNG_MODE = 0x4200F5, "RNG Mode", "1.3";
    CLIENT_REGISTRATION_METHOD = 0x4200F6, "Client Registration Method", "1.3";
    CAPABILITY_INFORMATION = 0x4200F7, "Capability Information", "1.3";
    KEY_WRAP_TYPE = 0x4200F8, "Key Wrap Type", "1.4";
    BATCH_UNDO_CAPABILITY = 0x4200F9, "Batch Undo Capability", "1.4";
    BATCH_CONTINUE_CAPABILITY = 0x4200FA, "Batch Continue Capability", "1.4";
    PKCS12_FRIENDLY_NAME = 0x4200FB, "PKCS#12 Friendly Name", "1.4";
    DESCRIPTION = 0x4200FC, "Description", "1.4";
    COMMENT = 0x4200FD, "Comment", "1.4";
    AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA = 0x4200FE, "Authenticated Encryption Additional Data", "1.4";
    AUTHENTICATED_ENCRYPTION_TAG = 0x4200FF, "Authenticated Encryption Tag", "1.4";
    SALT_LENGTH = 0x420100, "Salt Length", "1.4";
    MASK_GENERATOR = 0x420101, "Mask Generator", "1.4";
    MASK_GENERATOR_HASHING_ALGORITHM = 0x420102, "Mask Generator Hashing Algorithm", "1.4";
    P_SOURCE = 0x420103, "P Source", "1.4";
    TRAILER_FIELD = 0x420104, "Trailer Field", "1.4";
    CLIENT_CORRELATION_VALUE = 0x420105, "Client Correlation Value", "1.4";
    SERVER_CORRELATION_VALUE = 0x420106, "Server Correlation Value", "1.4";
    DIGESTED_DATA = 0x420107, "Digested Data", "1.4";
    CERTIFICATE_SUBJECT_CN = 0x420108, "Certificate Subject CN", "1.4";
    CERTIFICATE_SUBJECT_O = 0x420109, "Certificate Subject O", "1.4";
    CERTIFICATE_SUBJECT_OU = 0x42010A, "Certificate Subject OU", "1.4";
    CERTIFICATE_SUBJECT_EMAIL = 0x42010B, "Certificate Subject Email", "1.4";
    CERTIFICATE_SUBJECT_C = 0x42010C, "Certificate Subject C", "1.4";
    CERTIFICATE_SUBJECT_ST = 0x42010D, "Certificate Subject ST", "1.4";
    CERTIFICATE_SUBJECT_L = 0x42010E, "Certificate Subject L", "1.4";
    CERTIFICATE_SUBJECT_UID = 0x42010F, "Certificate Subject UID", "1.4";
    CERTIFICATE_SUBJECT_SERIAL_NUMBER = 0x420110, "Certificate Subject Serial Number", "1.4";
    CERTIFICATE_SUBJECT_TITLE = 0x420111, "Certificate Subject Title", "1.4";
    CERTIFICATE_SUBJECT_DC = 0x420112, "Certificate Subject DC", "1.4";
    CERTIFICATE_SUBJECT_DN_QUALIFIER = 0x420113, "Certificate Subject DN Qualifier", "1.4";
    CERTIFICATE_ISSUER_CN = 0x420114, "Certificate Issuer CN", "1.4";
    CERTIFICATE_ISSUER_O = 0x420115, "Certificate Issuer O", "1.4";
    CERTIFICATE_ISSUER_OU = 0x420116, "Certificate Issuer OU", "1.4";
    CERTIFICATE_ISSUER_EMAIL = 0x420117, "Certificate Issuer Email", "1.4";
    CERTIFICATE_ISSUER_C = 0x420118, "Certificate Issuer C", "1.4";
    CERTIFICATE_ISSUER_ST = 0x420119, "Certificate Issuer ST", "1.4";
    CERTIFICATE_ISSUER_L = 0x42011A, "Certificate Issuer L", "1.4";
    CERTIFICATE_ISSUER_UID = 0x42011B, "Certificate Issuer UID", "1.4";
    CERTIFICATE_ISSUER_SERIAL_NUMBER = 0x42011C, "Certificate Issuer Serial Number", "1.4";
    CERTIFICATE_ISSUER_TITLE = 0x42011D, "Certificate Issuer Title", "1.4";
    CERTIFICATE_ISSUER_DC = 0x42011E, "Certificate Issuer DC", "1.4";
    CERTIFICATE_ISSUER_DN_QUALIFIER = 0x42011F, "Certificate Issuer DN Qualifier", "1.4";
    SENSITIVE = 0x420120, "Sensitive", "1.4";
    ALWAYS_SENSITIVE = 0x420121, "Always Sensitive", "1.4";
    EXTRACTABLE = 0x420122, "Extractable", "1.4";
    NEVER_EXTRACTABLE = 0x420123, "Never Extractable", "1.4";
    REPLACE_EXISTING = 0x420124, "Replace Existing", "1.4";
    ATTRIBUTES = 0x420125, "Attributes", "2.0";
    COMMON_ATTRIBUTES = 0x420126, "Common Attributes", "2.0";
    PRIVATE_KEY_ATTRIBUTES = 0x420127, "Private Key Attributes", "2.0";
    PUBLIC_KEY_ATTRIBUTES = 0x420128, "Public Key Attributes", "2.0";
    EXTENSION_ENUMERATION = 0x420129, "Extension Enumeration", "2.0";
    EXTENSION_ATTRIBUTE = 0x42012A, "Extension Attribute", "2.0";
    EXTENSION_PARENT_STRUCTURE_TAG = 0x42012B, "Extension Parent Structure Tag", "2.0";
    EXTENSION_DESCRIPTION = 0x42012C, "Extension Description", "2.0";
    SERVER_NAME = 0x42012D, "Server Name", "2.0";
    SERVER_SERIAL_NUMBER = 0x42012E, "Server Serial Number", "2.0";
    SERVER_VERSION = 0x42012F, "Server Version", "2.0";
    SERVER_LOAD = 0x420130, "Server Load", "2.0";
    PRODUCT_NAME = 0x420131, "Product Name", "2.0";
    BUILD_LEVEL = 0x420132, "Build Level", "2.0";
    BUILD_DATE = 0x420133, "Build Date", "2.0";
    CLUSTER_INFO = 0x420134, "Cluster Info", "2.0";
    ALTERNATE_FAILOVER_ENDPOINTS = 0x420135, "Alternate Failover Endpoints", "2.0";
    SHORT_UNIQUE_IDENTIFIER = 0x420136, "Short Unique Identifier", "2.0";
    TAG = 0x420138, "Tag", "2.0";
    CERTIFICATE_REQUEST_UNIQUE_IDENTIFIER = 0x420139, "Certificate Request Unique Identifier", "2.0";
    NIST_KEY_TYPE = 0x42013A, "NIST Key Type", "2.0";
    ATTRIBUTE_REFERENCE = 0x42013B, "Attribute Reference", "2.0";
    CURRENT_ATTRIBUTE = 0x42013C, "Current Attribute", "2.0";
    NEW_ATTRIBUTE = 0x42013D, "New Attribute", "2.0";
    CERTIFICATE_REQUEST_VALUE = 0x420140, "Certificate Request Value", "2.0";
    LOG_MESSAGE = 0x420141, "Log Message", "2.0";
    PROFILE_VERSION = 0x420142, "Profile Version", "2.0";
    PROFILE_VERSION_MAJOR = 0x420143, "Profile Version Major", "2.0";
    PROFILE_VERSION_MINOR = 0x420144, "Profile Version Minor", "2.0";
    PROTECTION_LEVEL = 0x420145, "Protection Level", "2.0";
    PROTECTION_PERIOD = 0x420146, "Protection Period", "2.0";
    QUANTUM_SAFE = 0x420147, "Quantum Safe", "2.0";
    QUANTUM_SAFE_CAPABILITY = 0x420148, "Quantum Safe Capability", "2.0";
    TICKET = 0x420149, "Ticket", "2.0";
    TICKET_TYPE = 0x42014A, "Ticket Type", "2.0";
    TICKET_VALUE = 0x42014B, "Ticket Value", "2.0";
    REQUEST_COUNT = 0x42014C, "Request Count", "2.0";
    RIGHTS = 0x42014D, "Rights", "2.0";
    OBJECTS = 0x42014E, "Objects", "2.0";
    OPERATIONS = 0x42014F, "Operations", "2.0";
    RIGHT = 0x420150, "Right", "2.0";
    ENDPOINT_ROLE = 0x420151, "Endpoint Role", "2.0";
    DEFAULTS_INFORMATION = 0x420152, "Defaults Information", "2.0";
    OBJECT_DEFAULTS = 0x420153, "Object Defaults", "2.0";
    EPHEMERAL = 0x420154, "Ephemeral", "2.0";
    SERVER_HASHED_PASSWORD = 0x420155, "Server Hashed Password", "2.0";
    ONE_TIME_PASSWORD = 0x420156, "One Time Password", "2.0";
    HASHED_PASSWORD = 0x420157, "Hashed Password", "2.0";
    ADJUSTMENT_TYPE = 0x420158, "Adjustment Type", "2.0";
    PKCS11_INTERFACE = 0x420159, "PKCS#11 Interface", "2.0";
    PKCS11_FUNCTION = 0x42015A, "PKCS#11 Function", "2.0";
    PKCS11_INPUT_PARAMETERS = 0x42015B, "PKCS#11 Input Parameters", "2.0";
    PKCS11_OUTPUT_PARAMETERS = 0x42015C, "PKCS#11 Output Parameters", "2.0";
    PKCS11_RETURN_CODE = 0x42015D, "PKCS#11 Return Code", "2.0";
    PROTECTION_STORAGE_MASK = 0x42015E, "Protection Storage Mask", "2.0";
    PROTECTION_STORAGE_MASKS = 0x42015F, "Protection Storage Masks", "2.0";
    INTEROP_FUNCTION = 0x420160, "Interop Function", "2.0";
    INTEROP_IDENTIFIER = 0x420161, "Interop Identifier", "2.0";
    ADJUSTMENT_VALUE = 0x420162, "Adjustment Value", "2.0";
    COMMON_PROTECTION_STORAGE_MASKS = 0x420163, "Common Protection Storage Masks", "2.0";
    PRIVATE_PROTECTION_STORAGE_MASKS = 0x420164, "Private Protection Storage Masks", "2.0";
    PUBLIC_PROTECTION_STORAGE_MASKS = 0x420165, "Public Protection Storage Masks", "2.0";
}
