//! X.509 for Keyward's certificate authority: CA certificates and CSRs, S/MIME certificates for
//! people, CSR checks, CRLs and PKCS#12 files.
//!
//! Pure: DER and PKCS#8 in, DER out; no storage, no names of stored things. Signing goes
//! through rcgen on aws-lc-rs; parsing (CSRs, certificates) through x509-parser, never through
//! rcgen's CSR parser, which copies a requester's extensions (a CSR asking for `CA:TRUE` would
//! get it). PKCS#12 files come from p12-keystore (PBES2 with AES-256-CBC and an HMAC-SHA256
//! MAC, which `openssl pkcs12` and mail clients read).
//!
//! **Invariant:** a certificate is only ever issued for a public key this crate has parsed and
//! checked (algorithm, size, proof of possession), with extensions this crate chose.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward_crypto::Secret;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SanType, SerialNumber, SignatureAlgorithm,
};
pub use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the certificate request is not valid: {0}")]
    BadCsr(String),
    #[error("the certificate request's key is too weak or not supported: {0}")]
    WeakKey(String),
    #[error("the certificate is not valid: {0}")]
    BadCertificate(String),
    #[error("the CA key cannot be used: {0}")]
    BadKey(String),
    #[error("could not build the {what}")]
    Build { what: &'static str },
    #[error(transparent)]
    Crypto(#[from] keyward_crypto::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn build(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |_| Error::Build { what }
}

/// Key types Keyward generates for CAs and for people's encryption keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcP256,
    EcP384,
}

impl KeyKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rsa-2048" => KeyKind::Rsa2048,
            "rsa-3072" => KeyKind::Rsa3072,
            "rsa-4096" => KeyKind::Rsa4096,
            "ec-p256" => KeyKind::EcP256,
            "ec-p384" => KeyKind::EcP384,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa-2048",
            KeyKind::Rsa3072 => "rsa-3072",
            KeyKind::Rsa4096 => "rsa-4096",
            KeyKind::EcP256 => "ec-p256",
            KeyKind::EcP384 => "ec-p384",
        }
    }

    fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyKind::Rsa2048 | KeyKind::Rsa3072 | KeyKind::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
            KeyKind::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    /// A new private key of this kind, PKCS#8 DER.
    pub fn generate(self) -> Result<Secret> {
        match self {
            KeyKind::Rsa2048 => Ok(keyward_crypto::primitives::generate_rsa(2048)?),
            KeyKind::Rsa3072 => Ok(keyward_crypto::primitives::generate_rsa(3072)?),
            KeyKind::Rsa4096 => Ok(keyward_crypto::primitives::generate_rsa(4096)?),
            KeyKind::EcP256 | KeyKind::EcP384 => {
                let kp = KeyPair::generate_for(self.signature_algorithm()).map_err(build("key pair"))?;
                Ok(Secret::from_vec(kp.serialize_der()))
            }
        }
    }
}

/// The CA's signing key, loaded from its PKCS#8 form.
pub struct CaKey {
    pair: KeyPair,
}

impl CaKey {
    pub fn load(kind: KeyKind, pkcs8: &Secret) -> Result<Self> {
        let der = rustls_pki_types_pkcs8(pkcs8.expose());
        let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der, kind.signature_algorithm())
            .map_err(|_| Error::BadKey(format!("it is not a valid {} private key", kind.as_str())))?;
        Ok(CaKey { pair })
    }

    /// The SubjectPublicKeyInfo DER of the key.
    pub fn public_key_der(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.pair)
    }
}

fn rustls_pki_types_pkcs8(der: &[u8]) -> rustls_pki_types::PrivatePkcs8KeyDer<'_> {
    rustls_pki_types::PrivatePkcs8KeyDer::from(der)
}

/// 16 random bytes, the first never zero, so every serial is a 128-bit number that no two
/// issuances (even across a restore of an old backup) share but by chance.
pub fn random_serial() -> Result<[u8; 16]> {
    loop {
        let s: [u8; 16] = keyward_crypto::random_array()?;
        if s[0] != 0 {
            return Ok(s);
        }
    }
}

/// A serial as Keyward writes it: lowercase hex of its big-endian bytes, leading zero bytes
/// stripped (what `openssl x509 -serial` prints, lowercased).
pub fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].iter().map(|b| format!("{b:02x}")).collect()
}

fn serial_from_hex(hex: &str) -> Result<SerialNumber> {
    if hex.is_empty() || hex.len() > 40 || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadCertificate(format!("{hex:?} is not a serial number")));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|_| Error::BadCertificate(format!("{hex:?} is not a serial number")))?;
    Ok(SerialNumber::from_slice(&bytes))
}

fn dn(common_name: &str, organization: Option<&str>, email: Option<&str>) -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    if let Some(o) = organization.filter(|o| !o.is_empty()) {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, common_name);
    if let Some(e) = email {
        // emailAddress in the subject too: older mail clients look for it there.
        dn.push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), rcgen::DnValue::Ia5String(ia5(e)?));
    }
    Ok(dn)
}

fn ia5(s: &str) -> Result<rcgen::string::Ia5String> {
    rcgen::string::Ia5String::try_from(s.to_owned())
        .map_err(|_| Error::BadCsr(format!("{s:?} is not an ASCII email address")))
}

/// What a CA certificate says about itself.
#[derive(Debug, Clone)]
pub struct CaSubject<'a> {
    pub common_name: &'a str,
    pub organization: &'a str,
}

fn ca_params(
    subject: &CaSubject<'_>,
    serial: &[u8; 16],
    not_before: OffsetDateTime,
    days: u32,
) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(subject.common_name, Some(subject.organization), None)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.not_before = not_before;
    p.not_after = not_before + time::Duration::days(i64::from(days));
    p.key_identifier_method = KeyIdMethod::Sha256;
    Ok(p)
}

/// A self-signed root CA certificate for `key`.
pub fn root_ca_certificate(
    key: &CaKey,
    subject: &CaSubject<'_>,
    serial: &[u8; 16],
    now: OffsetDateTime,
    days: u32,
) -> Result<Vec<u8>> {
    let p = ca_params(subject, serial, now - time::Duration::minutes(5), days)?;
    Ok(p.self_signed(&key.pair).map_err(build("CA certificate"))?.der().to_vec())
}

/// A CSR for an intermediate CA, to be signed by the organisation's external root.
pub fn intermediate_csr(key: &CaKey, subject: &CaSubject<'_>) -> Result<Vec<u8>> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(subject.common_name, Some(subject.organization), None)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(p.serialize_request(&key.pair).map_err(build("certificate request"))?.der().to_vec())
}

/// Facts about a certificate Keyward stores and shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    /// SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    pub subject_key_id: Option<Vec<u8>>,
    pub emails: Vec<String>,
}

pub fn cert_info(der: &[u8]) -> Result<CertInfo> {
    let (rest, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| Error::BadCertificate(format!("not a DER X.509 certificate ({e})")))?;
    if !rest.is_empty() {
        return Err(Error::BadCertificate("trailing bytes after the certificate".into()));
    }
    let mut emails = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::RFC822Name(e) = name {
                emails.push(e.to_string());
            }
        }
    }
    let subject_key_id = cert.extensions().iter().find_map(|e| match e.parsed_extension() {
        x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
        _ => None,
    });
    Ok(CertInfo {
        serial: serial_hex(cert.raw_serial()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        is_ca: cert.is_ca(),
        public_key: cert.public_key().raw.to_vec(),
        subject_key_id,
        emails,
    })
}

/// Checks a certificate the operator brings back for an intermediate CA: it must be a CA
/// certificate for exactly `key`, issued by `issuer_der` (the external root or the next
/// intermediate up), and currently valid.
pub fn check_imported_ca(cert_der: &[u8], key: &CaKey, issuer_der: &[u8], now: OffsetDateTime) -> Result<CertInfo> {
    let info = cert_info(cert_der)?;
    if !info.is_ca {
        return Err(Error::BadCertificate("it is not a CA certificate (basicConstraints CA:TRUE is missing)".into()));
    }
    if info.public_key != key.public_key_der() {
        return Err(Error::BadCertificate("it certifies another key than this CA's (was the CSR signed?)".into()));
    }
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der)
        .map_err(|e| Error::BadCertificate(format!("not a DER X.509 certificate ({e})")))?;
    let (_, issuer) = x509_parser::certificate::X509Certificate::from_der(issuer_der)
        .map_err(|e| Error::BadCertificate(format!("the issuer certificate is not DER X.509 ({e})")))?;
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|_| Error::BadCertificate("its signature does not verify with the given issuer certificate".into()))?;
    let t = now.unix_timestamp();
    if t < info.not_before || t > info.not_after {
        return Err(Error::BadCertificate("it is not valid now (check its dates)".into()));
    }
    Ok(info)
}

/// Which certificate of a person's pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// keyEncipherment: mail is encrypted to it; its private key is escrowed.
    Encryption,
    /// digitalSignature and nonRepudiation: its private key never leaves the person.
    Signing,
}

impl Usage {
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Encryption => "encryption",
            Usage::Signing => "signing",
        }
    }
}

/// One S/MIME certificate to issue.
#[derive(Debug, Clone)]
pub struct Leaf<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub organization: &'a str,
    pub usage: Usage,
    /// SubjectPublicKeyInfo DER of the person's key (already checked).
    pub public_key: &'a [u8],
    pub serial: [u8; 16],
    pub not_before: OffsetDateTime,
    pub days: u32,
}

/// Issues `leaf` under the CA whose certificate is `ca_der` and key `ca_key`.
pub fn issue(ca_der: &[u8], ca_key: &CaKey, leaf: &Leaf<'_>) -> Result<Vec<u8>> {
    let issuer = Issuer::from_ca_cert_der(&ca_der.into(), &ca_key.pair).map_err(build("issuer"))?;
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(leaf.name, Some(leaf.organization), Some(leaf.email))?;
    p.subject_alt_names = vec![SanType::Rfc822Name(ia5(leaf.email)?)];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    p.key_usages = match leaf.usage {
        Usage::Encryption => vec![KeyUsagePurpose::KeyEncipherment],
        Usage::Signing => vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::ContentCommitment],
    };
    p.is_ca = IsCa::ExplicitNoCa;
    p.serial_number = Some(SerialNumber::from_slice(&leaf.serial));
    p.not_before = leaf.not_before - time::Duration::minutes(5);
    p.not_after = leaf.not_before + time::Duration::days(i64::from(leaf.days));
    p.use_authority_key_identifier_extension = true;
    p.key_identifier_method = KeyIdMethod::Sha256;
    let spki = rcgen::SubjectPublicKeyInfo::from_der(leaf.public_key)
        .map_err(|_| Error::BadCsr("its public key cannot be read".into()))?;
    Ok(p.signed_by(&spki, &issuer).map_err(build("certificate"))?.der().to_vec())
}

/// What Keyward takes from a person's CSR, after checking it.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    /// Email addresses the CSR names (subject emailAddress and subjectAltName rfc822Name).
    pub emails: Vec<String>,
    /// e.g. "rsa-3072", "ec-p256".
    pub key_description: String,
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_EMAIL: &str = "1.2.840.113549.1.9.1";

/// Parses a PEM or DER CSR, refuses weak or unsupported keys (RSA under 2048 bits, curves other
/// than P-256 and P-384), and checks its self-signature (proof the requester holds the key).
pub fn check_csr(input: &[u8]) -> Result<CheckedCsr> {
    let der = if input.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(input).map_err(|_| Error::BadCsr("the PEM is not text".into()))?;
        pem_body(text, "CERTIFICATE REQUEST")
            .or_else(|| pem_body(text, "NEW CERTIFICATE REQUEST"))
            .ok_or_else(|| Error::BadCsr("no -----BEGIN CERTIFICATE REQUEST----- block".into()))?
    } else {
        input.to_vec()
    };
    let (rest, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| Error::BadCsr(format!("not a PKCS#10 request ({e})")))?;
    if !rest.is_empty() {
        return Err(Error::BadCsr("trailing bytes after the request".into()));
    }
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let alg = spki.algorithm.algorithm.to_id_string();
    let key_description = match alg.as_str() {
        OID_RSA => {
            // The size is checked before the signature, so no weak key is ever used.
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
                _ => return Err(Error::BadCsr("its RSA public key cannot be read".into())),
            };
            if bits < 2048 {
                return Err(Error::WeakKey(format!("RSA {bits} bits; at least 2048 are required")));
            }
            format!("rsa-{bits}")
        }
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                OID_P256 => "ec-p256".into(),
                OID_P384 => "ec-p384".into(),
                _ => return Err(Error::WeakKey("only the P-256 and P-384 curves are accepted".into())),
            }
        }
        other => {
            return Err(Error::WeakKey(format!(
                "key algorithm {other}; use RSA (2048 bits or more) or EC P-256/P-384"
            )));
        }
    };
    csr.verify_signature().map_err(|_| Error::BadCsr("its signature does not verify (is it corrupted?)".into()))?;
    let mut emails = Vec::new();
    for attr in info.subject.iter_attributes() {
        if attr.attr_type().to_id_string() == OID_EMAIL
            && let Ok(e) = attr.as_str()
        {
            emails.push(e.to_owned());
        }
    }
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    if let x509_parser::extensions::GeneralName::RFC822Name(e) = name {
                        emails.push((*e).to_owned());
                    }
                }
            }
        }
    }
    Ok(CheckedCsr { public_key: spki.raw.to_vec(), emails, key_description })
}

/// The DER inside the first PEM block labelled `label`.
pub fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Every DER body of PEM blocks labelled `label`, in order.
pub fn pem_bodies(text: &str, label: &str) -> Vec<Vec<u8>> {
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(der) = pem_body(rest, label) {
        out.push(der);
        match rest.find(&end) {
            Some(i) => rest = &rest[i + end.len()..],
            None => break,
        }
    }
    out
}

pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub serial: String,
    pub at: OffsetDateTime,
    /// RFC 5280 reason code.
    pub reason: u8,
}

/// RFC 5280 reason names Keyward accepts, with their codes.
pub const REASONS: &[(&str, u8)] = &[
    ("unspecified", 0),
    ("key-compromise", 1),
    ("ca-compromise", 2),
    ("affiliation-changed", 3),
    ("superseded", 4),
    ("cessation-of-operation", 5),
    ("privilege-withdrawn", 9),
];

fn reason(code: u8) -> RevocationReason {
    match code {
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        9 => RevocationReason::PrivilegeWithdrawn,
        _ => RevocationReason::Unspecified,
    }
}

/// A CRL of `revoked`, signed by the CA. `number` must grow with every CRL of this CA; Keyward
/// uses the issuing time in milliseconds, which keeps growing across restores of old backups.
pub fn crl(
    ca_der: &[u8],
    ca_key: &CaKey,
    revoked: &[Revoked],
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    number: u64,
) -> Result<Vec<u8>> {
    let ca = cert_info(ca_der)?;
    let ski =
        ca.subject_key_id.ok_or_else(|| Error::BadCertificate("the CA certificate has no key identifier".into()))?;
    let issuer = Issuer::from_ca_cert_der(&ca_der.into(), &ca_key.pair).map_err(build("issuer"))?;
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            Ok(RevokedCertParams {
                serial_number: serial_from_hex(&r.serial)?,
                revocation_time: r.at,
                reason_code: Some(reason(r.reason)),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::PreSpecified(ski),
    };
    Ok(params.signed_by(&issuer).map_err(build("CRL"))?.der().to_vec())
}

/// What a CRL says: (this update, next update, revoked serials), times as Unix seconds.
pub fn crl_info(der: &[u8]) -> Result<(i64, Option<i64>, Vec<String>)> {
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der)
        .map_err(|e| Error::BadCertificate(format!("not a DER CRL ({e})")))?;
    let serials = crl.iter_revoked_certificates().map(|r| serial_hex(r.raw_serial())).collect();
    Ok((crl.last_update().timestamp(), crl.next_update().map(|t| t.timestamp()), serials))
}

/// One private key and its certificate for a PKCS#12 file.
pub struct P12Entry<'a> {
    pub alias: String,
    pub key_pkcs8: &'a Secret,
    pub cert_der: &'a [u8],
}

/// Iterations of PBKDF2 for the PKCS#12 encryption and MAC keys.
pub const P12_ITERATIONS: u32 = 100_000;

/// A password-protected PKCS#12 holding each entry's key with its certificate and `chain`
/// (issuer first, root last), plus `extra_certs` without keys.
pub fn pkcs12(
    password: &str,
    entries: &[P12Entry<'_>],
    chain: &[Vec<u8>],
    extra_certs: &[(String, Vec<u8>)],
) -> Result<Vec<u8>> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let cert =
        |der: &[u8]| Certificate::from_der(der).map_err(|_| Error::BadCertificate("cannot be put in a PKCS#12".into()));
    let mut ks = KeyStore::new();
    for e in entries {
        let key = PrivateKey::from_der(e.key_pkcs8.expose()).map_err(|_| Error::BadKey("not PKCS#8".into()))?;
        let mut certs = vec![cert(e.cert_der)?];
        for c in chain {
            certs.push(cert(c)?);
        }
        let id = keyward_crypto::sha256(e.cert_der)[..20].to_vec();
        ks.add_entry(&e.alias, KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(id, key, certs)));
    }
    for (alias, der) in extra_certs {
        ks.add_entry(alias, KeyStoreEntry::Certificate(cert(der)?));
    }
    ks.writer(password)
        .encryption_iterations(P12_ITERATIONS)
        .mac_iterations(P12_ITERATIONS)
        .write()
        .map_err(|_| Error::Build { what: "PKCS#12 file" })
}

/// A person's CSR for their own signing key (made on their machine by `keyward pki redeem`).
pub fn person_csr(kind: KeyKind, pkcs8: &Secret, email: Option<&str>, name: &str) -> Result<Vec<u8>> {
    let key = CaKey::load(kind, pkcs8)?;
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(name, None, email)?;
    if let Some(email) = email {
        p.subject_alt_names = vec![SanType::Rfc822Name(ia5(email)?)];
    }
    Ok(p.serialize_request(&key.pair).map_err(build("certificate request"))?.der().to_vec())
}

/// The public key (SubjectPublicKeyInfo DER) of a PKCS#8 private key of `kind`.
pub fn public_key_of(kind: KeyKind, pkcs8: &Secret) -> Result<Vec<u8>> {
    Ok(CaKey::load(kind, pkcs8)?.public_key_der())
}

#[cfg(test)]
mod tests;
