//! KMIP enumerations and bit masks with their specification values.
//!
//! Each enumeration is a Rust enum with the wire value as discriminant; unknown wire values (vendor
//! extensions `0x8XXXXXXX`, values from newer KMIP versions) are not errors at the codec level, so
//! conversion from `u32` is fallible ([`KmipEnum::from_value`]) and the raw value stays available in
//! the [`Item`](crate::Item). Masks are newtypes over `u32` that keep unknown bits.
//!
//! Values and names come from the OASIS tables (KMIP 1.4 §9.1.3.2–9.1.3.3 and the 2.0 additions),
//! cross-checked between two independent transcriptions. The version noted on each value is the KMIP
//! version that introduced it.

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use crate::tag::Tag;

/// Behaviour shared by every KMIP enumeration type, so callers can be generic over them
/// (see [`Item::as_kmip_enum`](crate::Item::as_kmip_enum)).
pub trait KmipEnum: Copy + Sized + 'static {
    /// Specification name of the enumeration, e.g. `"Operation"`.
    const ENUM_NAME: &'static str;
    /// Every defined value, in ascending wire order.
    const ALL: &'static [Self];
    /// The wire value.
    fn value(self) -> u32;
    /// The variant for a wire value, if this crate knows it.
    fn from_value(value: u32) -> Option<Self>;
    /// Specification name of the value, e.g. `"Create Key Pair"`.
    fn name(self) -> &'static str;
}

/// A wire value that is not defined for the enumeration it was converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{value:#010x} is not a known {enum_name} value")]
pub struct UnknownEnumValue {
    /// Specification name of the enumeration.
    pub enum_name: &'static str,
    /// The offending wire value.
    pub value: u32,
}

macro_rules! kmip_enum {
    (
        $(#[$meta:meta])*
        $ty:ident, $enum_name:literal {
            $( $variant:ident = $value:literal, $name:literal, $since:literal $(, $note:literal)?; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[repr(u32)]
        pub enum $ty {
            $(
                #[doc = concat!("`", $name, "` (`", stringify!($value), "`), since KMIP ", $since, ".", $(" ", $note)?)]
                $variant = $value,
            )*
        }

        impl $ty {
            /// The wire value.
            pub const fn value(self) -> u32 {
                self as u32
            }

            /// The variant for a wire value, if this crate knows it.
            pub const fn from_value(value: u32) -> Option<Self> {
                match value {
                    $($value => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// Specification name of the value.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }

        impl KmipEnum for $ty {
            const ENUM_NAME: &'static str = $enum_name;
            const ALL: &'static [Self] = &[$(Self::$variant),*];

            fn value(self) -> u32 {
                $ty::value(self)
            }

            fn from_value(value: u32) -> Option<Self> {
                $ty::from_value(value)
            }

            fn name(self) -> &'static str {
                $ty::name(self)
            }
        }

        impl From<$ty> for u32 {
            fn from(v: $ty) -> u32 {
                v.value()
            }
        }

        impl TryFrom<u32> for $ty {
            type Error = UnknownEnumValue;

            fn try_from(value: u32) -> Result<Self, Self::Error> {
                Self::from_value(value).ok_or(UnknownEnumValue { enum_name: $enum_name, value })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

macro_rules! kmip_mask {
    (
        $(#[$meta:meta])*
        $ty:ident, $mask_name:literal {
            $( $flag:ident = $value:literal, $name:literal, $since:literal $(, $note:literal)?; )*
        }
    ) => {
        $(#[$meta])*
        ///
        /// Bits this crate does not know are preserved, because KMIP lets vendors define extension bits.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $ty(u32);

        impl $ty {
            $(
                #[doc = concat!("`", $name, "` (`", stringify!($value), "`), since KMIP ", $since, ".", $(" ", $note)?)]
                pub const $flag: $ty = $ty($value);
            )*

            /// Every defined flag with its specification name, in ascending bit order.
            pub const FLAGS: &'static [($ty, &'static str)] = &[$(($ty::$flag, $name)),*];

            /// Specification name of the mask type.
            pub const MASK_NAME: &'static str = $mask_name;

            /// The empty mask.
            pub const fn empty() -> Self {
                $ty(0)
            }

            /// Wraps raw bits, keeping any unknown ones.
            pub const fn from_bits(bits: u32) -> Self {
                $ty(bits)
            }

            /// Reinterprets the two's-complement Integer that carries the mask on the wire.
            pub const fn from_i32(value: i32) -> Self {
                $ty(u32::from_ne_bytes(value.to_ne_bytes()))
            }

            /// The raw bits.
            pub const fn bits(self) -> u32 {
                self.0
            }

            /// The bits as the Integer (`i32`) that carries the mask on the wire.
            pub const fn to_i32(self) -> i32 {
                i32::from_ne_bytes(self.0.to_ne_bytes())
            }

            /// True when every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// True when no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// Bits set in `self` that this crate has no name for.
            pub const fn unknown_bits(self) -> u32 {
                let mut known = 0u32;
                $(known |= $value;)*
                self.0 & !known
            }

            /// Names of the known flags that are set, in ascending bit order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::FLAGS.iter().filter(move |(flag, _)| self.contains(*flag)).map(|(_, name)| *name)
            }
        }

        impl BitOr for $ty {
            type Output = Self;

            fn bitor(self, rhs: Self) -> Self {
                $ty(self.0 | rhs.0)
            }
        }

        impl BitOrAssign for $ty {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl BitAnd for $ty {
            type Output = Self;

            fn bitand(self, rhs: Self) -> Self {
                $ty(self.0 & rhs.0)
            }
        }

        impl From<$ty> for u32 {
            fn from(v: $ty) -> u32 {
                v.0
            }
        }

        /// Lists the set flags as `Name | Name`, then any unknown bits in hex; `none` when empty.
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_mask(f, self.names(), self.unknown_bits())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:#010x}: {})", stringify!($ty), self.0, self)
            }
        }
    };
}

fn write_mask<'a>(f: &mut fmt::Formatter<'_>, names: impl Iterator<Item = &'a str>, unknown: u32) -> fmt::Result {
    let mut first = true;
    for name in names {
        if !first {
            f.write_str(" | ")?;
        }
        f.write_str(name)?;
        first = false;
    }
    if unknown != 0 {
        if !first {
            f.write_str(" | ")?;
        }
        write!(f, "{unknown:#x}")?;
        first = false;
    }
    if first {
        f.write_str("none")?;
    }
    Ok(())
}

kmip_enum! {
    /// Operation enumeration; carried by the `Operation` tag.
    Operation, "Operation" {
        Create = 0x00000001, "Create", "1.0";
        CreateKeyPair = 0x00000002, "Create Key Pair", "1.0";
        Register = 0x00000003, "Register", "1.0";
        ReKey = 0x00000004, "Re-key", "1.0";
        DeriveKey = 0x00000005, "Derive Key", "1.0";
        Certify = 0x00000006, "Certify", "1.0";
        ReCertify = 0x00000007, "Re-certify", "1.0";
        Locate = 0x00000008, "Locate", "1.0";
        Check = 0x00000009, "Check", "1.0";
        Get = 0x0000000A, "Get", "1.0";
        GetAttributes = 0x0000000B, "Get Attributes", "1.0";
        GetAttributeList = 0x0000000C, "Get Attribute List", "1.0";
        AddAttribute = 0x0000000D, "Add Attribute", "1.0";
        ModifyAttribute = 0x0000000E, "Modify Attribute", "1.0";
        DeleteAttribute = 0x0000000F, "Delete Attribute", "1.0";
        ObtainLease = 0x00000010, "Obtain Lease", "1.0";
        GetUsageAllocation = 0x00000011, "Get Usage Allocation", "1.0";
        Activate = 0x00000012, "Activate", "1.0";
        Revoke = 0x00000013, "Revoke", "1.0";
        Destroy = 0x00000014, "Destroy", "1.0";
        Archive = 0x00000015, "Archive", "1.0";
        Recover = 0x00000016, "Recover", "1.0";
        Validate = 0x00000017, "Validate", "1.0";
        Query = 0x00000018, "Query", "1.0";
        Cancel = 0x00000019, "Cancel", "1.0";
        Poll = 0x0000001A, "Poll", "1.0";
        Notify = 0x0000001B, "Notify", "1.0";
        Put = 0x0000001C, "Put", "1.0";
        ReKeyKeyPair = 0x0000001D, "Re-key Key Pair", "1.1";
        DiscoverVersions = 0x0000001E, "Discover Versions", "1.1";
        Encrypt = 0x0000001F, "Encrypt", "1.2";
        Decrypt = 0x00000020, "Decrypt", "1.2";
        Sign = 0x00000021, "Sign", "1.2";
        SignatureVerify = 0x00000022, "Signature Verify", "1.2";
        Mac = 0x00000023, "MAC", "1.2";
        MacVerify = 0x00000024, "MAC Verify", "1.2";
        RngRetrieve = 0x00000025, "RNG Retrieve", "1.2";
        RngSeed = 0x00000026, "RNG Seed", "1.2";
        Hash = 0x00000027, "Hash", "1.2";
        CreateSplitKey = 0x00000028, "Create Split Key", "1.2";
        JoinSplitKey = 0x00000029, "Join Split Key", "1.2";
        Import = 0x0000002A, "Import", "1.4";
        Export = 0x0000002B, "Export", "1.4";
        Log = 0x0000002C, "Log", "2.0";
        Login = 0x0000002D, "Login", "2.0";
        Logout = 0x0000002E, "Logout", "2.0";
        DelegatedLogin = 0x0000002F, "Delegated Login", "2.0";
        AdjustAttribute = 0x00000030, "Adjust Attribute", "2.0";
        SetAttribute = 0x00000031, "Set Attribute", "2.0";
        SetEndpointRole = 0x00000032, "Set Endpoint Role", "2.0";
        Pkcs11 = 0x00000033, "PKCS#11", "2.0";
        Interop = 0x00000034, "Interop", "2.0";
        ReProvision = 0x00000035, "Re-Provision", "2.0";
    }
}

kmip_enum! {
    /// Result Status enumeration; carried by the `Result Status` tag.
    ResultStatus, "Result Status" {
        Success = 0x00000000, "Success", "1.0";
        OperationFailed = 0x00000001, "Operation Failed", "1.0";
        OperationPending = 0x00000002, "Operation Pending", "1.0";
        OperationUndone = 0x00000003, "Operation Undone", "1.0";
    }
}

kmip_enum! {
    /// Result Reason enumeration; carried by the `Result Reason` tag.
    ResultReason, "Result Reason" {
        ItemNotFound = 0x00000001, "Item Not Found", "1.0";
        ResponseTooLarge = 0x00000002, "Response Too Large", "1.0";
        AuthenticationNotSuccessful = 0x00000003, "Authentication Not Successful", "1.0";
        InvalidMessage = 0x00000004, "Invalid Message", "1.0";
        OperationNotSupported = 0x00000005, "Operation Not Supported", "1.0";
        MissingData = 0x00000006, "Missing Data", "1.0";
        InvalidField = 0x00000007, "Invalid Field", "1.0";
        FeatureNotSupported = 0x00000008, "Feature Not Supported", "1.0";
        OperationCanceledByRequester = 0x00000009, "Operation Canceled By Requester", "1.0";
        CryptographicFailure = 0x0000000A, "Cryptographic Failure", "1.0";
        IllegalOperation = 0x0000000B, "Illegal Operation", "1.0";
        PermissionDenied = 0x0000000C, "Permission Denied", "1.0";
        ObjectArchived = 0x0000000D, "Object archived", "1.0";
        IndexOutOfBounds = 0x0000000E, "Index Out of Bounds", "1.0";
        ApplicationNamespaceNotSupported = 0x0000000F, "Application Namespace Not Supported", "1.0";
        KeyFormatTypeNotSupported = 0x00000010, "Key Format Type Not Supported", "1.0";
        KeyCompressionTypeNotSupported = 0x00000011, "Key Compression Type Not Supported", "1.0";
        EncodingOptionError = 0x00000012, "Encoding Option Error", "1.0";
        KeyValueNotPresent = 0x00000013, "Key Value Not Present", "1.0";
        AttestationRequired = 0x00000014, "Attestation Required", "1.0";
        AttestationFailed = 0x00000015, "Attestation Failed", "1.0";
        Sensitive = 0x00000016, "Sensitive", "1.0";
        NotExtractable = 0x00000017, "Not Extractable", "1.0";
        ObjectAlreadyExists = 0x00000018, "Object Already Exists", "1.0";
        InvalidTicket = 0x00000019, "Invalid Ticket", "2.0";
        UsageLimitExceeded = 0x0000001A, "Usage Limit Exceeded", "2.0";
        NumericRange = 0x0000001B, "Numeric Range", "2.0";
        InvalidDataType = 0x0000001C, "Invalid Data Type", "2.0";
        ReadOnlyAttribute = 0x0000001D, "Read Only Attribute", "2.0";
        MultiValuedAttribute = 0x0000001E, "Multi Valued Attribute", "2.0";
        UnsupportedAttribute = 0x0000001F, "Unsupported Attribute", "2.0";
        AttributeInstanceNotFound = 0x00000020, "Attribute Instance Not Found", "2.0";
        AttributeNotFound = 0x00000021, "Attribute Not Found", "2.0";
        AttributeReadOnly = 0x00000022, "Attribute Read Only", "2.0";
        AttributeSingleValued = 0x00000023, "Attribute Single Valued", "2.0";
        BadCryptographicParameters = 0x00000024, "Bad Cryptographic Parameters", "2.0";
        BadPassword = 0x00000025, "Bad Password", "2.0";
        CodecError = 0x00000026, "Codec Error", "2.0";
        IllegalObjectType = 0x00000028, "Illegal Object Type", "2.0";
        IncompatibleCryptographicUsageMask = 0x00000029, "Incompatible Cryptographic Usage Mask", "2.0";
        InternalServerError = 0x0000002A, "Internal Server Error", "2.0";
        InvalidAsynchronousCorrelationValue = 0x0000002B, "Invalid Asynchronous Correlation Value", "2.0";
        InvalidAttribute = 0x0000002C, "Invalid Attribute", "2.0";
        InvalidAttributeValue = 0x0000002D, "Invalid Attribute Value", "2.0";
        InvalidCorrelationValue = 0x0000002E, "Invalid Correlation Value", "2.0";
        InvalidCsr = 0x0000002F, "Invalid CSR", "2.0";
        InvalidObjectType = 0x00000030, "Invalid Object Type", "2.0";
        KeyWrapTypeNotSupported = 0x00000032, "Key Wrap Type Not Supported", "2.0";
        MissingInitializationVector = 0x00000034, "Missing Initialization Vector", "2.0";
        NonUniqueNameAttribute = 0x00000035, "Non Unique Name Attribute", "2.0";
        ObjectDestroyed = 0x00000036, "Object Destroyed", "2.0";
        ObjectNotFound = 0x00000037, "Object Not Found", "2.0";
        NotAuthorized = 0x00000039, "Not Authorized", "2.0";
        ServerLimitExceeded = 0x0000003A, "Server Limit Exceeded", "2.0";
        UnknownEnumeration = 0x0000003B, "Unknown Enumeration", "2.0";
        UnknownMessageExtension = 0x0000003C, "Unknown Message Extension", "2.0";
        UnknownTag = 0x0000003D, "Unknown Tag", "2.0";
        UnsupportedCryptographicParameters = 0x0000003E, "Unsupported Cryptographic Parameters", "2.0";
        UnsupportedProtocolVersion = 0x0000003F, "Unsupported Protocol Version", "2.0";
        WrappingObjectArchived = 0x00000040, "Wrapping Object Archived", "2.0";
        WrappingObjectDestroyed = 0x00000041, "Wrapping Object Destroyed", "2.0";
        WrappingObjectNotFound = 0x00000042, "Wrapping Object Not Found", "2.0";
        WrongKeyLifecycleState = 0x00000043, "Wrong Key Lifecycle State", "2.0";
        ProtectionStorageUnavailable = 0x00000044, "Protection Storage Unavailable", "2.0";
        Pkcs11CodecError = 0x00000045, "PKCS#11 Codec Error", "2.0";
        Pkcs11InvalidFunction = 0x00000046, "PKCS#11 Invalid Function", "2.0";
        Pkcs11InvalidInterface = 0x00000047, "PKCS#11 Invalid Interface", "2.0";
        GeneralFailure = 0x00000100, "General Failure", "1.0";
    }
}

kmip_enum! {
    /// Object Type enumeration; carried by the `Object Type` tag.
    ObjectType, "Object Type" {
        Certificate = 0x00000001, "Certificate", "1.0";
        SymmetricKey = 0x00000002, "Symmetric Key", "1.0";
        PublicKey = 0x00000003, "Public Key", "1.0";
        PrivateKey = 0x00000004, "Private Key", "1.0";
        SplitKey = 0x00000005, "Split Key", "1.0";
        Template = 0x00000006, "Template", "1.0", "Deprecated; reserved in KMIP 2.0.";
        SecretData = 0x00000007, "Secret Data", "1.0";
        OpaqueObject = 0x00000008, "Opaque Object", "1.0";
        PgpKey = 0x00000009, "PGP Key", "1.2";
        CertificateRequest = 0x0000000A, "Certificate Request", "2.0";
    }
}

kmip_enum! {
    /// Cryptographic Algorithm enumeration; carried by the `Cryptographic Algorithm` tag.
    CryptographicAlgorithm, "Cryptographic Algorithm" {
        Des = 0x00000001, "DES", "1.0";
        TripleDes = 0x00000002, "3DES", "1.0";
        Aes = 0x00000003, "AES", "1.0";
        Rsa = 0x00000004, "RSA", "1.0";
        Dsa = 0x00000005, "DSA", "1.0";
        Ecdsa = 0x00000006, "ECDSA", "1.0";
        HmacSha1 = 0x00000007, "HMAC-SHA1", "1.0";
        HmacSha224 = 0x00000008, "HMAC-SHA224", "1.0";
        HmacSha256 = 0x00000009, "HMAC-SHA256", "1.0";
        HmacSha384 = 0x0000000A, "HMAC-SHA384", "1.0";
        HmacSha512 = 0x0000000B, "HMAC-SHA512", "1.0";
        HmacMd5 = 0x0000000C, "HMAC-MD5", "1.0";
        Dh = 0x0000000D, "DH", "1.0";
        Ecdh = 0x0000000E, "ECDH", "1.0";
        Ecmqv = 0x0000000F, "ECMQV", "1.0";
        Blowfish = 0x00000010, "Blowfish", "1.0";
        Camellia = 0x00000011, "Camellia", "1.0";
        Cast5 = 0x00000012, "CAST5", "1.0";
        Idea = 0x00000013, "IDEA", "1.0";
        Mars = 0x00000014, "MARS", "1.0";
        Rc2 = 0x00000015, "RC2", "1.0";
        Rc4 = 0x00000016, "RC4", "1.0";
        Rc5 = 0x00000017, "RC5", "1.0";
        Skipjack = 0x00000018, "SKIPJACK", "1.0";
        Twofish = 0x00000019, "Twofish", "1.0";
        Ec = 0x0000001A, "EC", "1.2";
        OneTimePad = 0x0000001B, "One Time Pad", "1.3";
        ChaCha20 = 0x0000001C, "ChaCha20", "1.4";
        Poly1305 = 0x0000001D, "Poly1305", "1.4";
        ChaCha20Poly1305 = 0x0000001E, "ChaCha20Poly1305", "1.4";
        Sha3_224 = 0x0000001F, "SHA3-224", "1.4";
        Sha3_256 = 0x00000020, "SHA3-256", "1.4";
        Sha3_384 = 0x00000021, "SHA3-384", "1.4";
        Sha3_512 = 0x00000022, "SHA3-512", "1.4";
        HmacSha3_224 = 0x00000023, "HMAC-SHA3-224", "1.4";
        HmacSha3_256 = 0x00000024, "HMAC-SHA3-256", "1.4";
        HmacSha3_384 = 0x00000025, "HMAC-SHA3-384", "1.4";
        HmacSha3_512 = 0x00000026, "HMAC-SHA3-512", "1.4";
        Shake128 = 0x00000027, "SHAKE-128", "1.4";
        Shake256 = 0x00000028, "SHAKE-256", "1.4";
        Aria = 0x00000029, "ARIA", "2.0";
        Seed = 0x0000002A, "SEED", "2.0";
        Sm2 = 0x0000002B, "SM2", "2.0";
        Sm3 = 0x0000002C, "SM3", "2.0";
        Sm4 = 0x0000002D, "SM4", "2.0";
        GostR34_10_2012 = 0x0000002E, "GOST R 34.10-2012", "2.0";
        GostR34_11_2012 = 0x0000002F, "GOST R 34.11-2012", "2.0";
        GostR34_13_2015 = 0x00000030, "GOST R 34.13-2015", "2.0";
        Gost28147_89 = 0x00000031, "GOST 28147-89", "2.0";
        Xmss = 0x00000032, "XMSS", "2.0";
        Sphincs256 = 0x00000033, "SPHINCS-256", "2.0";
        McEliece = 0x00000034, "McEliece", "2.0";
        McEliece6960119 = 0x00000035, "McEliece-6960119", "2.0";
        McEliece8192128 = 0x00000036, "McEliece-8192128", "2.0";
        Ed25519 = 0x00000037, "Ed25519", "2.0";
        Ed448 = 0x00000038, "Ed448", "2.0";
    }
}

kmip_enum! {
    /// Key Format Type enumeration; carried by the `Key Format Type` tag.
    KeyFormatType, "Key Format Type" {
        Raw = 0x00000001, "Raw", "1.0";
        Opaque = 0x00000002, "Opaque", "1.0";
        Pkcs1 = 0x00000003, "PKCS#1", "1.0";
        Pkcs8 = 0x00000004, "PKCS#8", "1.0";
        X509 = 0x00000005, "X.509", "1.0";
        EcPrivateKey = 0x00000006, "ECPrivateKey", "1.0";
        TransparentSymmetricKey = 0x00000007, "Transparent Symmetric Key", "1.0";
        TransparentDsaPrivateKey = 0x00000008, "Transparent DSA Private Key", "1.0";
        TransparentDsaPublicKey = 0x00000009, "Transparent DSA Public Key", "1.0";
        TransparentRsaPrivateKey = 0x0000000A, "Transparent RSA Private Key", "1.0";
        TransparentRsaPublicKey = 0x0000000B, "Transparent RSA Public Key", "1.0";
        TransparentDhPrivateKey = 0x0000000C, "Transparent DH Private Key", "1.0";
        TransparentDhPublicKey = 0x0000000D, "Transparent DH Public Key", "1.0";
        TransparentEcdsaPrivateKey = 0x0000000E, "Transparent ECDSA Private Key", "1.0", "Deprecated; reserved in KMIP 2.0.";
        TransparentEcdsaPublicKey = 0x0000000F, "Transparent ECDSA Public Key", "1.0", "Deprecated; reserved in KMIP 2.0.";
        TransparentEcdhPrivateKey = 0x00000010, "Transparent ECDH Private Key", "1.0", "Deprecated; reserved in KMIP 2.0.";
        TransparentEcdhPublicKey = 0x00000011, "Transparent ECDH Public Key", "1.0", "Deprecated; reserved in KMIP 2.0.";
        TransparentEcmqvPrivateKey = 0x00000012, "Transparent ECMQV Private Key", "1.0", "Deprecated; reserved in KMIP 2.0.";
        TransparentEcmqvPublicKey = 0x00000013, "Transparent ECMQV Public Key", "1.0", "Deprecated; reserved in KMIP 2.0.";
        TransparentEcPrivateKey = 0x00000014, "Transparent EC Private Key", "1.3";
        TransparentEcPublicKey = 0x00000015, "Transparent EC Public Key", "1.3";
        Pkcs12 = 0x00000016, "PKCS#12", "1.4";
    }
}

kmip_enum! {
    /// Block Cipher Mode enumeration; carried by the `Block Cipher Mode` tag.
    BlockCipherMode, "Block Cipher Mode" {
        Cbc = 0x00000001, "CBC", "1.0";
        Ecb = 0x00000002, "ECB", "1.0";
        Pcbc = 0x00000003, "PCBC", "1.0";
        Cfb = 0x00000004, "CFB", "1.0";
        Ofb = 0x00000005, "OFB", "1.0";
        Ctr = 0x00000006, "CTR", "1.0";
        Cmac = 0x00000007, "CMAC", "1.0";
        Ccm = 0x00000008, "CCM", "1.0";
        Gcm = 0x00000009, "GCM", "1.0";
        CbcMac = 0x0000000A, "CBC-MAC", "1.0";
        Xts = 0x0000000B, "XTS", "1.0";
        AesKeyWrapPadding = 0x0000000C, "AESKeyWrapPadding", "1.0";
        NistKeyWrap = 0x0000000D, "NISTKeyWrap", "1.0";
        X9_102Aeskw = 0x0000000E, "X9.102 AESKW", "1.0";
        X9_102Tdkw = 0x0000000F, "X9.102 TDKW", "1.0";
        X9_102Akw1 = 0x00000010, "X9.102 AKW1", "1.0";
        X9_102Akw2 = 0x00000011, "X9.102 AKW2", "1.0";
        Aead = 0x00000012, "AEAD", "1.4";
    }
}

kmip_enum! {
    /// Padding Method enumeration; carried by the `Padding Method` tag.
    PaddingMethod, "Padding Method" {
        None = 0x00000001, "None", "1.0";
        Oaep = 0x00000002, "OAEP", "1.0";
        Pkcs5 = 0x00000003, "PKCS5", "1.0";
        Ssl3 = 0x00000004, "SSL3", "1.0";
        Zeros = 0x00000005, "Zeros", "1.0";
        AnsiX9_23 = 0x00000006, "ANSI X9.23", "1.0";
        Iso10126 = 0x00000007, "ISO 10126", "1.0";
        Pkcs1V1_5 = 0x00000008, "PKCS1 v1.5", "1.0";
        X9_31 = 0x00000009, "X9.31", "1.0";
        Pss = 0x0000000A, "PSS", "1.0";
    }
}

kmip_enum! {
    /// Hashing Algorithm enumeration; carried by the `Hashing Algorithm`, `Mask Generator Hashing Algorithm` tags.
    HashingAlgorithm, "Hashing Algorithm" {
        Md2 = 0x00000001, "MD2", "1.0";
        Md4 = 0x00000002, "MD4", "1.0";
        Md5 = 0x00000003, "MD5", "1.0";
        Sha1 = 0x00000004, "SHA-1", "1.0";
        Sha224 = 0x00000005, "SHA-224", "1.0";
        Sha256 = 0x00000006, "SHA-256", "1.0";
        Sha384 = 0x00000007, "SHA-384", "1.0";
        Sha512 = 0x00000008, "SHA-512", "1.0";
        Ripemd160 = 0x00000009, "RIPEMD-160", "1.0";
        Tiger = 0x0000000A, "Tiger", "1.0";
        Whirlpool = 0x0000000B, "Whirlpool", "1.0";
        Sha512_224 = 0x0000000C, "SHA-512/224", "1.2";
        Sha512_256 = 0x0000000D, "SHA-512/256", "1.2";
        Sha3_224 = 0x0000000E, "SHA-3-224", "1.4";
        Sha3_256 = 0x0000000F, "SHA-3-256", "1.4";
        Sha3_384 = 0x00000010, "SHA-3-384", "1.4";
        Sha3_512 = 0x00000011, "SHA-3-512", "1.4";
    }
}

kmip_enum! {
    /// State enumeration; carried by the `State` tag.
    State, "State" {
        PreActive = 0x00000001, "Pre-Active", "1.0";
        Active = 0x00000002, "Active", "1.0";
        Deactivated = 0x00000003, "Deactivated", "1.0";
        Compromised = 0x00000004, "Compromised", "1.0";
        Destroyed = 0x00000005, "Destroyed", "1.0";
        DestroyedCompromised = 0x00000006, "Destroyed Compromised", "1.0";
    }
}

kmip_enum! {
    /// Name Type enumeration; carried by the `Name Type` tag.
    NameType, "Name Type" {
        UninterpretedTextString = 0x00000001, "Uninterpreted Text String", "1.0";
        Uri = 0x00000002, "URI", "1.0";
    }
}

kmip_enum! {
    /// Query Function enumeration; carried by the `Query Function` tag.
    QueryFunction, "Query Function" {
        QueryOperations = 0x00000001, "Query Operations", "1.0";
        QueryObjects = 0x00000002, "Query Objects", "1.0";
        QueryServerInformation = 0x00000003, "Query Server Information", "1.0";
        QueryApplicationNamespaces = 0x00000004, "Query Application Namespaces", "1.0";
        QueryExtensionList = 0x00000005, "Query Extension List", "1.1";
        QueryExtensionMap = 0x00000006, "Query Extension Map", "1.1";
        QueryAttestationTypes = 0x00000007, "Query Attestation Types", "1.2";
        QueryRngs = 0x00000008, "Query RNGs", "1.3";
        QueryValidations = 0x00000009, "Query Validations", "1.3";
        QueryProfiles = 0x0000000A, "Query Profiles", "1.3";
        QueryCapabilities = 0x0000000B, "Query Capabilities", "1.3";
        QueryClientRegistrationMethods = 0x0000000C, "Query Client Registration Methods", "1.3";
        QueryDefaultsInformation = 0x0000000D, "Query Defaults Information", "2.0";
        QueryStorageProtectionMasks = 0x0000000E, "Query Storage Protection Masks", "2.0";
    }
}

kmip_enum! {
    /// Revocation Reason Code enumeration; carried by the `Revocation Reason Code` tag.
    RevocationReasonCode, "Revocation Reason Code" {
        Unspecified = 0x00000001, "Unspecified", "1.0";
        KeyCompromise = 0x00000002, "Key Compromise", "1.0";
        CaCompromise = 0x00000003, "CA Compromise", "1.0";
        AffiliationChanged = 0x00000004, "Affiliation Changed", "1.0";
        Superseded = 0x00000005, "Superseded", "1.0";
        CessationOfOperation = 0x00000006, "Cessation of Operation", "1.0";
        PrivilegeWithdrawn = 0x00000007, "Privilege Withdrawn", "1.0";
    }
}

kmip_enum! {
    /// Digital Signature Algorithm enumeration; carried by the `Digital Signature Algorithm` tag.
    DigitalSignatureAlgorithm, "Digital Signature Algorithm" {
        Md2WithRsaEncryption = 0x00000001, "MD2 with RSA Encryption", "1.1";
        Md5WithRsaEncryption = 0x00000002, "MD5 with RSA Encryption", "1.1";
        Sha1WithRsaEncryption = 0x00000003, "SHA-1 with RSA Encryption", "1.1";
        Sha224WithRsaEncryption = 0x00000004, "SHA-224 with RSA Encryption", "1.1";
        Sha256WithRsaEncryption = 0x00000005, "SHA-256 with RSA Encryption", "1.1";
        Sha384WithRsaEncryption = 0x00000006, "SHA-384 with RSA Encryption", "1.1";
        Sha512WithRsaEncryption = 0x00000007, "SHA-512 with RSA Encryption", "1.1";
        RsassaPss = 0x00000008, "RSASSA-PSS", "1.1";
        DsaWithSha1 = 0x00000009, "DSA with SHA-1", "1.1";
        DsaWithSha224 = 0x0000000A, "DSA with SHA224", "1.1";
        DsaWithSha256 = 0x0000000B, "DSA with SHA256", "1.1";
        EcdsaWithSha1 = 0x0000000C, "ECDSA with SHA-1", "1.1";
        EcdsaWithSha224 = 0x0000000D, "ECDSA with SHA224", "1.1";
        EcdsaWithSha256 = 0x0000000E, "ECDSA with SHA256", "1.1";
        EcdsaWithSha384 = 0x0000000F, "ECDSA with SHA384", "1.1";
        EcdsaWithSha512 = 0x00000010, "ECDSA with SHA512", "1.1";
        Sha3_256WithRsaEncryption = 0x00000011, "SHA3-256 with RSA Encryption", "1.4";
        Sha3_384WithRsaEncryption = 0x00000012, "SHA3-384 with RSA Encryption", "1.4";
        Sha3_512WithRsaEncryption = 0x00000013, "SHA3-512 with RSA Encryption", "1.4";
    }
}

kmip_enum! {
    /// Validity Indicator enumeration; carried by the `Validity Indicator` tag.
    ValidityIndicator, "Validity Indicator" {
        Valid = 0x00000001, "Valid", "1.0";
        Invalid = 0x00000002, "Invalid", "1.0";
        Unknown = 0x00000003, "Unknown", "1.0";
    }
}

kmip_enum! {
    /// Link Type enumeration; carried by the `Link Type` tag.
    LinkType, "Link Type" {
        CertificateLink = 0x00000101, "Certificate Link", "1.0";
        PublicKeyLink = 0x00000102, "Public Key Link", "1.0";
        PrivateKeyLink = 0x00000103, "Private Key Link", "1.0";
        DerivationBaseObjectLink = 0x00000104, "Derivation Base Object Link", "1.0";
        DerivedKeyLink = 0x00000105, "Derived Key Link", "1.0";
        ReplacementObjectLink = 0x00000106, "Replacement Object Link", "1.0";
        ReplacedObjectLink = 0x00000107, "Replaced Object Link", "1.0";
        ParentLink = 0x00000108, "Parent Link", "1.2";
        ChildLink = 0x00000109, "Child Link", "1.2";
        PreviousLink = 0x0000010A, "Previous Link", "1.2";
        NextLink = 0x0000010B, "Next Link", "1.2";
        Pkcs12CertificateLink = 0x0000010C, "PKCS#12 Certificate Link", "1.4";
        Pkcs12PasswordLink = 0x0000010D, "PKCS#12 Password Link", "1.4";
        WrappingKeyLink = 0x0000010E, "Wrapping Key Link", "2.0";
    }
}

kmip_enum! {
    /// Secret Data Type enumeration; carried by the `Secret Data Type` tag.
    SecretDataType, "Secret Data Type" {
        Password = 0x00000001, "Password", "1.0";
        Seed = 0x00000002, "Seed", "1.0";
    }
}

kmip_enum! {
    /// Certificate Type enumeration; carried by the `Certificate Type` tag.
    CertificateType, "Certificate Type" {
        X509 = 0x00000001, "X.509", "1.0";
        Pgp = 0x00000002, "PGP", "1.0", "Deprecated as of KMIP 1.2.";
    }
}

kmip_enum! {
    /// Credential Type enumeration; carried by the `Credential Type` tag.
    CredentialType, "Credential Type" {
        UsernameAndPassword = 0x00000001, "Username and Password", "1.0";
        Device = 0x00000002, "Device", "1.1";
        Attestation = 0x00000003, "Attestation", "1.2";
        OneTimePassword = 0x00000004, "One Time Password", "2.0";
        HashedPassword = 0x00000005, "Hashed Password", "2.0";
        Ticket = 0x00000006, "Ticket", "2.0";
    }
}

kmip_enum! {
    /// Batch Error Continuation Option enumeration; carried by the `Batch Error Continuation Option` tag.
    BatchErrorContinuationOption, "Batch Error Continuation Option" {
        Continue = 0x00000001, "Continue", "1.0";
        Stop = 0x00000002, "Stop", "1.0";
        Undo = 0x00000003, "Undo", "1.0";
    }
}

kmip_enum! {
    /// Usage Limits Unit enumeration; carried by the `Usage Limits Unit` tag.
    UsageLimitsUnit, "Usage Limits Unit" {
        Byte = 0x00000001, "Byte", "1.0";
        Object = 0x00000002, "Object", "1.0";
    }
}

kmip_enum! {
    /// Key Compression Type enumeration; carried by the `Key Compression Type` tag.
    KeyCompressionType, "Key Compression Type" {
        EcPublicKeyTypeUncompressed = 0x00000001, "EC Public Key Type Uncompressed", "1.0";
        EcPublicKeyTypeX9_62CompressedPrime = 0x00000002, "EC Public Key Type X9.62 Compressed Prime", "1.0";
        EcPublicKeyTypeX9_62CompressedChar2 = 0x00000003, "EC Public Key Type X9.62 Compressed Char2", "1.0";
        EcPublicKeyTypeX9_62Hybrid = 0x00000004, "EC Public Key Type X9.62 Hybrid", "1.0";
    }
}

kmip_enum! {
    /// Wrapping Method enumeration; carried by the `Wrapping Method` tag.
    WrappingMethod, "Wrapping Method" {
        Encrypt = 0x00000001, "Encrypt", "1.0";
        MacSign = 0x00000002, "MAC/sign", "1.0";
        EncryptThenMacSign = 0x00000003, "Encrypt then MAC/sign", "1.0";
        MacSignThenEncrypt = 0x00000004, "MAC/sign then encrypt", "1.0";
        Tr31 = 0x00000005, "TR-31", "1.0";
    }
}

kmip_enum! {
    /// Split Key Method enumeration; carried by the `Split Key Method` tag.
    SplitKeyMethod, "Split Key Method" {
        Xor = 0x00000001, "XOR", "1.0";
        PolynomialSharingGf2_16 = 0x00000002, "Polynomial Sharing GF (2^16)", "1.0";
        PolynomialSharingPrimeField = 0x00000003, "Polynomial Sharing Prime Field", "1.0";
        PolynomialSharingGf2_8 = 0x00000004, "Polynomial Sharing GF (2^8)", "1.2";
    }
}

kmip_enum! {
    /// Recommended Curve enumeration; carried by the `Recommended Curve` tag.
    RecommendedCurve, "Recommended Curve" {
        P192 = 0x00000001, "P-192", "1.0";
        K163 = 0x00000002, "K-163", "1.0";
        B163 = 0x00000003, "B-163", "1.0";
        P224 = 0x00000004, "P-224", "1.0";
        K233 = 0x00000005, "K-233", "1.0";
        B233 = 0x00000006, "B-233", "1.0";
        P256 = 0x00000007, "P-256", "1.0";
        K283 = 0x00000008, "K-283", "1.0";
        B283 = 0x00000009, "B-283", "1.0";
        P384 = 0x0000000A, "P-384", "1.0";
        K409 = 0x0000000B, "K-409", "1.0";
        B409 = 0x0000000C, "B-409", "1.0";
        P521 = 0x0000000D, "P-521", "1.0";
        K571 = 0x0000000E, "K-571", "1.0";
        B571 = 0x0000000F, "B-571", "1.0";
        Secp112r1 = 0x00000010, "SECP112R1", "1.2";
        Secp112r2 = 0x00000011, "SECP112R2", "1.2";
        Secp128r1 = 0x00000012, "SECP128R1", "1.2";
        Secp128r2 = 0x00000013, "SECP128R2", "1.2";
        Secp160k1 = 0x00000014, "SECP160K1", "1.2";
        Secp160r1 = 0x00000015, "SECP160R1", "1.2";
        Secp160r2 = 0x00000016, "SECP160R2", "1.2";
        Secp192k1 = 0x00000017, "SECP192K1", "1.2";
        Secp224k1 = 0x00000018, "SECP224K1", "1.2";
        Secp256k1 = 0x00000019, "SECP256K1", "1.2";
        Sect113r1 = 0x0000001A, "SECT113R1", "1.2";
        Sect113r2 = 0x0000001B, "SECT113R2", "1.2";
        Sect131r1 = 0x0000001C, "SECT131R1", "1.2";
        Sect131r2 = 0x0000001D, "SECT131R2", "1.2";
        Sect163r1 = 0x0000001E, "SECT163R1", "1.2";
        Sect193r1 = 0x0000001F, "SECT193R1", "1.2";
        Sect193r2 = 0x00000020, "SECT193R2", "1.2";
        Sect239k1 = 0x00000021, "SECT239K1", "1.2";
        Ansix9p192v2 = 0x00000022, "ANSIX9P192V2", "1.2";
        Ansix9p192v3 = 0x00000023, "ANSIX9P192V3", "1.2";
        Ansix9p239v1 = 0x00000024, "ANSIX9P239V1", "1.2";
        Ansix9p239v2 = 0x00000025, "ANSIX9P239V2", "1.2";
        Ansix9p239v3 = 0x00000026, "ANSIX9P239V3", "1.2";
        Ansix9c2pnb163v1 = 0x00000027, "ANSIX9C2PNB163V1", "1.2";
        Ansix9c2pnb163v2 = 0x00000028, "ANSIX9C2PNB163V2", "1.2";
        Ansix9c2pnb163v3 = 0x00000029, "ANSIX9C2PNB163V3", "1.2";
        Ansix9c2pnb176v1 = 0x0000002A, "ANSIX9C2PNB176V1", "1.2";
        Ansix9c2tnb191v1 = 0x0000002B, "ANSIX9C2TNB191V1", "1.2";
        Ansix9c2tnb191v2 = 0x0000002C, "ANSIX9C2TNB191V2", "1.2";
        Ansix9c2tnb191v3 = 0x0000002D, "ANSIX9C2TNB191V3", "1.2";
        Ansix9c2pnb208w1 = 0x0000002E, "ANSIX9C2PNB208W1", "1.2";
        Ansix9c2tnb239v1 = 0x0000002F, "ANSIX9C2TNB239V1", "1.2";
        Ansix9c2tnb239v2 = 0x00000030, "ANSIX9C2TNB239V2", "1.2";
        Ansix9c2tnb239v3 = 0x00000031, "ANSIX9C2TNB239V3", "1.2";
        Ansix9c2pnb272w1 = 0x00000032, "ANSIX9C2PNB272W1", "1.2";
        Ansix9c2pnb304w1 = 0x00000033, "ANSIX9C2PNB304W1", "1.2";
        Ansix9c2tnb359v1 = 0x00000034, "ANSIX9C2TNB359V1", "1.2";
        Ansix9c2pnb368w1 = 0x00000035, "ANSIX9C2PNB368W1", "1.2";
        Ansix9c2tnb431r1 = 0x00000036, "ANSIX9C2TNB431R1", "1.2";
        Brainpoolp160r1 = 0x00000037, "BRAINPOOLP160R1", "1.2";
        Brainpoolp160t1 = 0x00000038, "BRAINPOOLP160T1", "1.2";
        Brainpoolp192r1 = 0x00000039, "BRAINPOOLP192R1", "1.2";
        Brainpoolp192t1 = 0x0000003A, "BRAINPOOLP192T1", "1.2";
        Brainpoolp224r1 = 0x0000003B, "BRAINPOOLP224R1", "1.2";
        Brainpoolp224t1 = 0x0000003C, "BRAINPOOLP224T1", "1.2";
        Brainpoolp256r1 = 0x0000003D, "BRAINPOOLP256R1", "1.2";
        Brainpoolp256t1 = 0x0000003E, "BRAINPOOLP256T1", "1.2";
        Brainpoolp320r1 = 0x0000003F, "BRAINPOOLP320R1", "1.2";
        Brainpoolp320t1 = 0x00000040, "BRAINPOOLP320T1", "1.2";
        Brainpoolp384r1 = 0x00000041, "BRAINPOOLP384R1", "1.2";
        Brainpoolp384t1 = 0x00000042, "BRAINPOOLP384T1", "1.2";
        Brainpoolp512r1 = 0x00000043, "BRAINPOOLP512R1", "1.2";
        Brainpoolp512t1 = 0x00000044, "BRAINPOOLP512T1", "1.2";
        Curve25519 = 0x00000045, "CURVE25519", "2.0";
        Curve448 = 0x00000046, "CURVE448", "2.0";
    }
}

kmip_enum! {
    /// Mask Generator enumeration; carried by the `Mask Generator` tag.
    MaskGenerator, "Mask Generator" {
        Mgf1 = 0x00000001, "MGF1", "1.4";
    }
}

kmip_enum! {
    /// Key Wrap Type enumeration; carried by the `Key Wrap Type` tag.
    KeyWrapType, "Key Wrap Type" {
        NotWrapped = 0x00000001, "Not Wrapped", "1.4";
        AsRegistered = 0x00000002, "As Registered", "1.4";
    }
}

kmip_enum! {
    /// Encoding Option enumeration; carried by the `Encoding Option` tag.
    EncodingOption, "Encoding Option" {
        NoEncoding = 0x00000001, "No Encoding", "1.1";
        TtlvEncoding = 0x00000002, "TTLV Encoding", "1.1";
    }
}

kmip_mask! {
    /// Cryptographic Usage Mask bit mask (encoded as an Integer); carried by the `Cryptographic Usage Mask` tag.
    CryptographicUsageMask, "Cryptographic Usage Mask" {
        SIGN = 0x00000001, "Sign", "1.0";
        VERIFY = 0x00000002, "Verify", "1.0";
        ENCRYPT = 0x00000004, "Encrypt", "1.0";
        DECRYPT = 0x00000008, "Decrypt", "1.0";
        WRAP_KEY = 0x00000010, "Wrap Key", "1.0";
        UNWRAP_KEY = 0x00000020, "Unwrap Key", "1.0";
        EXPORT = 0x00000040, "Export", "1.0";
        MAC_GENERATE = 0x00000080, "MAC Generate", "1.0";
        MAC_VERIFY = 0x00000100, "MAC Verify", "1.0";
        DERIVE_KEY = 0x00000200, "Derive Key", "1.0";
        CONTENT_COMMITMENT = 0x00000400, "Content Commitment", "1.0";
        KEY_AGREEMENT = 0x00000800, "Key Agreement", "1.0";
        CERTIFICATE_SIGN = 0x00001000, "Certificate Sign", "1.0";
        CRL_SIGN = 0x00002000, "CRL Sign", "1.0";
        GENERATE_CRYPTOGRAM = 0x00004000, "Generate Cryptogram", "1.0", "Reserved in KMIP 2.0.";
        VALIDATE_CRYPTOGRAM = 0x00008000, "Validate Cryptogram", "1.0", "Reserved in KMIP 2.0.";
        TRANSLATE_ENCRYPT = 0x00010000, "Translate Encrypt", "1.0", "Reserved in KMIP 2.0.";
        TRANSLATE_DECRYPT = 0x00020000, "Translate Decrypt", "1.0", "Reserved in KMIP 2.0.";
        TRANSLATE_WRAP = 0x00040000, "Translate Wrap", "1.0", "Reserved in KMIP 2.0.";
        TRANSLATE_UNWRAP = 0x00080000, "Translate Unwrap", "1.0", "Reserved in KMIP 2.0.";
        AUTHENTICATE = 0x00100000, "Authenticate", "2.0";
        UNRESTRICTED = 0x00200000, "Unrestricted", "2.0";
        FPE_ENCRYPT = 0x00400000, "FPE Encrypt", "2.0";
        FPE_DECRYPT = 0x00800000, "FPE Decrypt", "2.0";
    }
}

kmip_mask! {
    /// Storage Status Mask bit mask (encoded as an Integer); carried by the `Storage Status Mask` tag.
    StorageStatusMask, "Storage Status Mask" {
        ONLINE_STORAGE = 0x00000001, "On-line storage", "1.0";
        ARCHIVAL_STORAGE = 0x00000002, "Archival storage", "1.0";
        DESTROYED_STORAGE = 0x00000004, "Destroyed Storage", "2.0";
    }
}

kmip_mask! {
    /// Protection Storage Mask bit mask (encoded as an Integer); carried by the `Protection Storage Mask` tag.
    ProtectionStorageMask, "Protection Storage Mask" {
        SOFTWARE = 0x00000001, "Software", "2.0";
        HARDWARE = 0x00000002, "Hardware", "2.0";
        ON_PROCESSOR = 0x00000004, "On Processor", "2.0";
        ON_SYSTEM = 0x00000008, "On System", "2.0";
        OFF_SYSTEM = 0x00000010, "Off System", "2.0";
        HYPERVISOR = 0x00000020, "Hypervisor", "2.0";
        OPERATING_SYSTEM = 0x00000040, "Operating System", "2.0";
        CONTAINER = 0x00000080, "Container", "2.0";
        ON_PREMISES = 0x00000100, "On Premises", "2.0";
        OFF_PREMISES = 0x00000200, "Off Premises", "2.0";
        SELF_MANAGED = 0x00000400, "Self Managed", "2.0";
        OUTSOURCED = 0x00000800, "Outsourced", "2.0";
        VALIDATED = 0x00001000, "Validated", "2.0";
        SAME_JURISDICTION = 0x00002000, "Same Jurisdiction", "2.0";
    }
}
/// Specification name of an Enumeration `value` carried by `tag`, when this crate knows both the
/// enumeration that `tag` carries and the value. Used by the tree dump; handy for log lines too.
pub fn enumeration_value_name(tag: Tag, value: u32) -> Option<&'static str> {
    match tag {
        Tag::OPERATION => Operation::from_value(value).map(Operation::name),
        Tag::RESULT_STATUS => ResultStatus::from_value(value).map(ResultStatus::name),
        Tag::RESULT_REASON => ResultReason::from_value(value).map(ResultReason::name),
        Tag::OBJECT_TYPE => ObjectType::from_value(value).map(ObjectType::name),
        Tag::CRYPTOGRAPHIC_ALGORITHM => CryptographicAlgorithm::from_value(value).map(CryptographicAlgorithm::name),
        Tag::KEY_FORMAT_TYPE => KeyFormatType::from_value(value).map(KeyFormatType::name),
        Tag::BLOCK_CIPHER_MODE => BlockCipherMode::from_value(value).map(BlockCipherMode::name),
        Tag::PADDING_METHOD => PaddingMethod::from_value(value).map(PaddingMethod::name),
        Tag::HASHING_ALGORITHM => HashingAlgorithm::from_value(value).map(HashingAlgorithm::name),
        Tag::MASK_GENERATOR_HASHING_ALGORITHM => HashingAlgorithm::from_value(value).map(HashingAlgorithm::name),
        Tag::STATE => State::from_value(value).map(State::name),
        Tag::NAME_TYPE => NameType::from_value(value).map(NameType::name),
        Tag::QUERY_FUNCTION => QueryFunction::from_value(value).map(QueryFunction::name),
        Tag::REVOCATION_REASON_CODE => RevocationReasonCode::from_value(value).map(RevocationReasonCode::name),
        Tag::DIGITAL_SIGNATURE_ALGORITHM => {
            DigitalSignatureAlgorithm::from_value(value).map(DigitalSignatureAlgorithm::name)
        }
        Tag::VALIDITY_INDICATOR => ValidityIndicator::from_value(value).map(ValidityIndicator::name),
        Tag::LINK_TYPE => LinkType::from_value(value).map(LinkType::name),
        Tag::SECRET_DATA_TYPE => SecretDataType::from_value(value).map(SecretDataType::name),
        Tag::CERTIFICATE_TYPE => CertificateType::from_value(value).map(CertificateType::name),
        Tag::CREDENTIAL_TYPE => CredentialType::from_value(value).map(CredentialType::name),
        Tag::BATCH_ERROR_CONTINUATION_OPTION => {
            BatchErrorContinuationOption::from_value(value).map(BatchErrorContinuationOption::name)
        }
        Tag::USAGE_LIMITS_UNIT => UsageLimitsUnit::from_value(value).map(UsageLimitsUnit::name),
        Tag::KEY_COMPRESSION_TYPE => KeyCompressionType::from_value(value).map(KeyCompressionType::name),
        Tag::WRAPPING_METHOD => WrappingMethod::from_value(value).map(WrappingMethod::name),
        Tag::SPLIT_KEY_METHOD => SplitKeyMethod::from_value(value).map(SplitKeyMethod::name),
        Tag::RECOMMENDED_CURVE => RecommendedCurve::from_value(value).map(RecommendedCurve::name),
        Tag::MASK_GENERATOR => MaskGenerator::from_value(value).map(MaskGenerator::name),
        Tag::KEY_WRAP_TYPE => KeyWrapType::from_value(value).map(KeyWrapType::name),
        Tag::ENCODING_OPTION => EncodingOption::from_value(value).map(EncodingOption::name),
        _ => None,
    }
}

/// Writes ` (flags)` for the Integer mask `value` carried by `tag`, or returns `None` (writing
/// nothing) when `tag` does not carry a known mask.
pub(crate) fn fmt_mask_for_tag(tag: Tag, value: i32, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
    match tag {
        Tag::CRYPTOGRAPHIC_USAGE_MASK => Some(write!(f, " ({})", CryptographicUsageMask::from_i32(value))),
        Tag::STORAGE_STATUS_MASK => Some(write!(f, " ({})", StorageStatusMask::from_i32(value))),
        Tag::PROTECTION_STORAGE_MASK => Some(write!(f, " ({})", ProtectionStorageMask::from_i32(value))),
        _ => None,
    }
}
