//! The `pki` component: the organisation's certificate authority, people's S/MIME certificates,
//! escrow of their encryption keys, and recovery of those keys by a quorum of officers.
//!
//! Everything is kept as `pki` records in the store (kind, id, parent, lookup, JSON fields, an
//! optional barrier blob); this module owns what each kind's fields mean (docs/pki.md). Private
//! keys (the CA's, escrowed encryption keys) are barrier blobs bound to `keyward/pki/<kind>/<id>`.
//! The X.509 work is `keyward-pki`'s.
//!
//! **Invariants:** a signing private key never reaches the server (people send CSRs); an
//! escrowed key leaves only in a PKCS#12 to the requester of a recovery that `threshold`
//! distinct officers, none of them the requester, approved before it expired, and only once;
//! every step writes an audit record before it answers.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use keyward_crypto::Secret;
use keyward_pki::{CaKey, CaSubject, KeyKind, Leaf, OffsetDateTime, P12Entry, Usage};
use keyward_store::{AuditDurability, AuditEntry, Mutation, PkiRow};
use keyward_types::{Id, Role};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::{Action, authorize};
use crate::{Caller, Error, Result, Service, now};

/// The associated data that binds a pki record's barrier blob to that record.
pub(crate) fn secret_context(kind: &str, id: &str) -> Vec<u8> {
    format!("keyward/pki/{kind}/{id}").into_bytes()
}

const ENROLL_PREFIX: &str = "kwe.";
/// The longest a password for a PKCS#12 may be and the shortest.
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 1024;

fn at_offset(secs: u64) -> String {
    humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(secs)).to_string()
}

fn unix_rfc3339(secs: i64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn passed(at: &str) -> bool {
    humantime::parse_rfc3339_weak(at).ok().is_none_or(|t| t <= SystemTime::now())
}

fn odt_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn not_found(what: impl Into<String>) -> Error {
    Error::NotFound { what: what.into() }
}

fn refused(reason: impl Into<String>) -> Error {
    Error::Refused { reason: reason.into() }
}

fn normalize_email(email: &str) -> Result<String> {
    let e = email.trim().to_ascii_lowercase();
    let valid = e.len() <= 254
        && e.is_ascii()
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    if !valid {
        return Err(Error::invalid(
            "email",
            format!("{:?} is not an email address", email.chars().take(80).collect::<String>()),
        ));
    }
    Ok(e)
}

fn check_password(p: &str) -> Result<()> {
    if p.chars().count() < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(Error::invalid(
            "password",
            format!("the PKCS#12 password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

fn der(field: &str, b64: &str) -> Result<Vec<u8>> {
    B64.decode(b64).map_err(|_| Error::Store(keyward_store::Error::Corrupt(format!("a pki {field} is not base64"))))
}

// ---- record fields, by kind ------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaDoc {
    generation: u32,
    /// "root" or "intermediate".
    kind: String,
    key_type: String,
    common_name: String,
    organization: String,
    /// "pending" (an intermediate waiting for its certificate), "active" or "retired".
    status: String,
    cert: Option<String>,
    csr: Option<String>,
    /// Issuers above an intermediate, nearest first, base64 DER.
    chain: Vec<String>,
    cert_days: u32,
    crl_days: u32,
    activated_at: Option<String>,
    retired_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonDoc {
    email: String,
    name: String,
    created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenDoc {
    /// "enroll" or "renew".
    purpose: String,
    email: String,
    expires_at: String,
    created_by: String,
    redeemed_at: Option<String>,
    /// Set when the token was cancelled (its person revoked, or a restore brought it back).
    #[serde(default)]
    voided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertDoc {
    email: String,
    /// "encryption" or "signing".
    usage: String,
    ca_id: String,
    cert: String,
    not_before: String,
    not_after: String,
    revoked_at: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficerDoc {
    name: String,
    added_by: String,
    removed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    threshold: u32,
    request_ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub officer_id: String,
    pub officer_name: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoveryDoc {
    email: String,
    requested_by: String,
    reason: String,
    expires_at: String,
    threshold: u32,
    approvals: Vec<Approval>,
    downloaded_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrlDoc {
    number: u64,
    this_update: String,
    next_update: String,
    der: String,
}

fn parse<T: for<'de> Deserialize<'de>>(row: &PkiRow) -> Result<T> {
    serde_json::from_str(&row.doc)
        .map_err(|e| Error::Store(keyward_store::Error::Corrupt(format!("pki {} {}: {e}", row.kind, row.id))))
}

fn row<T: Serialize>(kind: &str, id: &str, parent: Option<&str>, lookup: Option<&str>, doc: &T) -> Result<PkiRow> {
    let at = now();
    Ok(PkiRow {
        kind: kind.into(),
        id: id.into(),
        parent: parent.map(Into::into),
        lookup: lookup.map(Into::into),
        doc: serde_json::to_string(doc).map_err(|e| Error::invalid("pki record", e.to_string()))?,
        secret: None,
        created_at: at.clone(),
        updated_at: at,
    })
}

fn updated<T: Serialize>(old: &PkiRow, doc: &T) -> Result<PkiRow> {
    Ok(PkiRow {
        doc: serde_json::to_string(doc).map_err(|e| Error::invalid("pki record", e.to_string()))?,
        updated_at: now(),
        ..old.clone()
    })
}

// ---- what callers see ------------------------------------------------------------------------

/// Options of a new CA (at install or rotation).
#[derive(Debug, Clone)]
pub struct CaInit {
    pub common_name: Option<String>,
    pub key_type: String,
    /// Validity of the CA certificate (root only; an intermediate's comes from its issuer).
    pub days: u32,
    /// Validity of the certificates it issues to people.
    pub cert_days: u32,
    pub crl_days: u32,
    pub intermediate: bool,
}

impl Default for CaInit {
    fn default() -> Self {
        CaInit {
            common_name: None,
            key_type: "rsa-3072".into(),
            days: 3650,
            cert_days: 365,
            crl_days: 7,
            intermediate: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaInfo {
    pub id: String,
    pub generation: u32,
    pub kind: String,
    pub status: String,
    pub key_type: String,
    pub subject: Option<String>,
    pub serial: Option<String>,
    pub not_after: Option<String>,
    /// The CA certificate (PEM), once there is one.
    pub certificate: Option<String>,
    /// For a pending intermediate: the CSR to have signed by the external root (PEM).
    pub csr: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertView {
    pub serial: String,
    pub email: String,
    pub usage: String,
    /// "valid", "expired" or "revoked".
    pub status: String,
    pub not_before: String,
    pub not_after: String,
    pub revoked_at: Option<String>,
    pub reason: Option<String>,
    pub escrowed: bool,
    pub ca_generation: u32,
    pub certificate: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
    pub valid_certificates: usize,
    pub escrowed_keys: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryView {
    pub id: String,
    pub email: String,
    pub requested_by: String,
    pub reason: String,
    pub created_at: String,
    pub expires_at: String,
    pub threshold: u32,
    pub approvals: Vec<Approval>,
    /// "waiting", "approved", "downloaded" or "expired".
    pub status: String,
    pub downloaded_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonDetail {
    pub person: PersonView,
    pub certificates: Vec<CertView>,
    pub recoveries: Vec<RecoveryView>,
    pub enrollments: Vec<EnrollmentView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentView {
    pub id: String,
    pub purpose: String,
    pub created_at: String,
    pub expires_at: String,
    pub redeemed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OfficerView {
    pub id: String,
    pub name: String,
    pub added_at: String,
    pub removed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub threshold: u32,
    pub officers: usize,
    pub request_ttl_secs: u64,
}

/// What an enrollment or renewal hands the administrator, to pass on out of band.
#[derive(Debug)]
pub struct Enrollment {
    pub token: Secret,
    pub id: String,
    pub email: String,
    pub expires_at: String,
}

/// What a person gets for a redeemed token. `Debug` leaves the PKCS#12 out.
pub struct Redeemed {
    pub email: String,
    /// Encryption key, both certificates and the chain, under the person's password.
    pub pkcs12: Zeroizing<Vec<u8>>,
    pub encryption_certificate: String,
    pub signing_certificate: String,
    /// The CA certificate and the issuers above it, PEM.
    pub chain: String,
    pub encryption_serial: String,
    pub signing_serial: String,
}

impl std::fmt::Debug for Redeemed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redeemed")
            .field("email", &self.email)
            .field("encryption_serial", &self.encryption_serial)
            .field("signing_serial", &self.signing_serial)
            .finish_non_exhaustive()
    }
}

/// A certificate's status by its record alone: what lists count without building views.
fn cert_status(d: &CertDoc) -> &'static str {
    if d.revoked_at.is_some() {
        "revoked"
    } else if passed(&d.not_after) {
        "expired"
    } else {
        "valid"
    }
}

fn recovery_view(r: &PkiRow, d: &RecoveryDoc) -> RecoveryView {
    let status = if d.downloaded_at.is_some() {
        "downloaded"
    } else if passed(&d.expires_at) {
        "expired"
    } else if d.approvals.len() as u32 >= d.threshold {
        "approved"
    } else {
        "waiting"
    };
    RecoveryView {
        id: r.id.clone(),
        email: d.email.clone(),
        requested_by: d.requested_by.clone(),
        reason: d.reason.clone(),
        created_at: r.created_at.clone(),
        expires_at: d.expires_at.clone(),
        threshold: d.threshold,
        approvals: d.approvals.clone(),
        status: status.into(),
        downloaded_at: d.downloaded_at.clone(),
    }
}

/// What a restore does to a `pki` record it brings back: single-use things that may have been
/// used after the backup was taken cannot be trusted to be unused. Unused enrollment tokens are
/// cancelled and open recovery requests closed; returns what it did, for the restore's report.
pub(crate) fn after_restore(row: &mut PkiRow) -> Option<String> {
    let at = now();
    match row.kind.as_str() {
        "token" => {
            let mut d: TokenDoc = parse(row).ok()?;
            if d.redeemed_at.is_some() || d.voided_at.is_some() {
                return None;
            }
            d.voided_at = Some(at.clone());
            row.doc = serde_json::to_string(&d).ok()?;
            row.updated_at = at;
            Some(format!(
                "enrollment token for {} cancelled: it may have been used after the backup; enroll or renew again",
                d.email
            ))
        }
        "recovery" => {
            let mut d: RecoveryDoc = parse(row).ok()?;
            if d.downloaded_at.is_some() || passed(&d.expires_at) {
                return None;
            }
            d.expires_at = at.clone();
            row.doc = serde_json::to_string(&d).ok()?;
            row.updated_at = at;
            Some(format!(
                "recovery request {} for {} closed: it may have been completed after the backup; open a new one",
                row.id, d.email
            ))
        }
        _ => None,
    }
}

impl Service {
    fn pki_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.pki_writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pki_installed(&self) -> Result<()> {
        if self.store().registry()?.iter().any(|r| r.name == "pki" && r.missing_tables.is_empty()) {
            Ok(())
        } else {
            Err(Error::invalid("pki", "the pki component is not installed: keyward component add pki"))
        }
    }

    fn pki_audit(&self, actor: &str, action: &str, target: &str, outcome: &str, detail: String) -> Result<()> {
        self.record(
            AuditEntry {
                at: now(),
                actor: actor.into(),
                action: format!("pki {action}"),
                target: target.into(),
                outcome: outcome.into(),
                detail,
            },
            AuditDurability::Wait,
        )
    }

    /// Runs `f`, and audits its outcome (refusals too) under `action`.
    fn pki_step<T>(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        f: impl FnOnce() -> Result<(T, String)>,
    ) -> Result<T> {
        match f() {
            Ok((v, detail)) => {
                self.pki_audit(actor, action, target, "ok", detail)?;
                Ok(v)
            }
            Err(e) => {
                self.pki_audit(actor, action, target, "refused", e.to_string())?;
                Err(e)
            }
        }
    }

    fn active_ca(&self) -> Result<(PkiRow, CaDoc)> {
        let mut best: Option<(PkiRow, CaDoc)> = None;
        for r in self.store().pki_list("ca", None)? {
            let d: CaDoc = parse(&r)?;
            if d.status == "active" && best.as_ref().is_none_or(|(_, b)| d.generation > b.generation) {
                best = Some((r, d));
            }
        }
        best.ok_or_else(|| {
            refused("the CA has no certificate yet: import the signed intermediate (keyward pki ca import)")
        })
    }

    fn ca_key(&self, r: &PkiRow, d: &CaDoc) -> Result<CaKey> {
        let kind = KeyKind::parse(&d.key_type).ok_or_else(|| Error::invalid("ca key", "unknown key type"))?;
        let blob = r.secret.as_ref().ok_or_else(|| refused("the CA has no private key"))?;
        let pk8 = self.keyring()?.open_blob(&secret_context("ca", &r.id), blob)?;
        Ok(CaKey::load(kind, &pk8)?)
    }

    /// The chain a person's certificate needs: the CA's certificate then the issuers above it.
    fn chain_of(d: &CaDoc) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        if let Some(c) = &d.cert {
            out.push(der("CA certificate", c)?);
        }
        for c in &d.chain {
            out.push(der("CA chain", c)?);
        }
        Ok(out)
    }

    fn ca_info(r: &PkiRow, d: &CaDoc) -> Result<CaInfo> {
        let cert = d.cert.as_deref().map(|c| der("CA certificate", c)).transpose()?;
        let info = cert.as_deref().map(keyward_pki::cert_info).transpose()?;
        Ok(CaInfo {
            id: r.id.clone(),
            generation: d.generation,
            kind: d.kind.clone(),
            status: d.status.clone(),
            key_type: d.key_type.clone(),
            subject: info.as_ref().map(|i| i.subject.clone()),
            serial: info.as_ref().map(|i| i.serial.clone()),
            not_after: info.as_ref().map(|i| unix_rfc3339(i.not_after)),
            certificate: cert.as_deref().map(|c| keyward_pki::pem("CERTIFICATE", c)),
            csr: d
                .csr
                .as_deref()
                .map(|c| der("CSR", c))
                .transpose()?
                .map(|c| keyward_pki::pem("CERTIFICATE REQUEST", &c)),
        })
    }

    /// Makes a CA record (and, for a root, its first CRL) for `init`, as generation `generation`:
    /// the record and the mutations that store it.
    fn new_ca(&self, init: &CaInit, generation: u32) -> Result<(PkiRow, Vec<Mutation>)> {
        let kind = KeyKind::parse(&init.key_type)
            .ok_or_else(|| Error::invalid("key type", "use rsa-2048, rsa-3072, rsa-4096, ec-p256 or ec-p384"))?;
        if !(1..=36_500).contains(&init.days)
            || !(1..=3650).contains(&init.cert_days)
            || !(1..=366).contains(&init.crl_days)
        {
            return Err(Error::invalid("validity", "CA days 1-36500, certificate days 1-3650, CRL days 1-366"));
        }
        let keyring = self.keyring()?;
        let identity = self.identity();
        let common_name = init.common_name.clone().unwrap_or_else(|| format!("{} Keyward CA", identity.organization));
        if common_name.is_empty() || common_name.len() > 64 {
            return Err(Error::invalid("common name", "1 to 64 characters"));
        }
        let pk8 = kind.generate()?;
        let key = CaKey::load(kind, &pk8)?;
        let subject = CaSubject { common_name: &common_name, organization: &identity.organization };
        let id = Id::new().to_string();
        let (status, cert, csr) = if init.intermediate {
            ("pending", None, Some(B64.encode(keyward_pki::intermediate_csr(&key, &subject)?)))
        } else {
            let serial = keyward_pki::random_serial()?;
            let der = keyward_pki::root_ca_certificate(&key, &subject, &serial, odt_now(), init.days)?;
            ("active", Some(B64.encode(der)), None)
        };
        let doc = CaDoc {
            generation,
            kind: if init.intermediate { "intermediate" } else { "root" }.into(),
            key_type: kind.as_str().into(),
            common_name,
            organization: identity.organization.clone(),
            status: status.into(),
            cert,
            csr,
            chain: Vec::new(),
            cert_days: init.cert_days,
            crl_days: init.crl_days,
            activated_at: (!init.intermediate).then(now),
            retired_at: None,
        };
        let mut r = row("ca", &id, None, None, &doc)?;
        r.secret = Some(keyring.seal(&secret_context("ca", &id), pk8.expose())?);
        let mut out = vec![Mutation::PutPki(r.clone())];
        if !init.intermediate {
            out.push(Mutation::PutPki(self.build_crl(&r, &doc, &key, &[])?));
        }
        Ok((r, out))
    }

    /// Installs the `pki` component with its first CA, in one transaction.
    pub fn pki_install(&self, caller: &Caller, init: &CaInit) -> Result<CaInfo> {
        authorize(caller, Action::Restore)?;
        if self.store().registry()?.iter().any(|r| r.name == "pki") {
            return Err(Error::invalid("component", "pki is already installed"));
        }
        let _g = self.pki_guard();
        let (ca, mutations) = self.new_ca(init, 1)?;
        let mut batch = vec![Mutation::AddComponent { name: "pki".into(), installed_at: now() }];
        batch.extend(mutations);
        let info = Self::ca_info(&ca, &parse(&ca)?)?;
        self.commit(batch)?;
        self.pki_audit(&caller.id, "install", &ca.id, "ok", format!("{} CA, {}", info.kind, info.key_type))?;
        Ok(info)
    }

    /// Every CA generation, newest first. Public: CA certificates are meant to be distributed.
    pub fn pki_cas(&self) -> Result<Vec<CaInfo>> {
        self.pki_installed()?;
        let mut out = Vec::new();
        for r in self.store().pki_list("ca", None)? {
            out.push(Self::ca_info(&r, &parse(&r)?)?);
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.generation));
        Ok(out)
    }

    /// Every CA certificate (current and retired) and the issuers above them, PEM: what
    /// `openssl verify -CAfile` and mail clients need to validate any certificate ever issued.
    pub fn pki_ca_bundle(&self) -> Result<String> {
        self.pki_installed()?;
        let mut out = String::new();
        let mut seen = std::collections::HashSet::new();
        for r in self.store().pki_list("ca", None)? {
            let d: CaDoc = parse(&r)?;
            for c in Self::chain_of(&d)? {
                if seen.insert(c.clone()) {
                    out.push_str(&keyward_pki::pem("CERTIFICATE", &c));
                }
            }
        }
        Ok(out)
    }

    /// A new CA generation. A root takes over at once and the old one is retired (kept, with its
    /// CRL, so what it issued still validates); an intermediate takes over when imported.
    pub fn pki_ca_rotate(&self, caller: &Caller, init: &CaInit) -> Result<CaInfo> {
        authorize(caller, Action::Restore)?;
        self.pki_installed()?;
        self.pki_step(&caller.id, "ca rotate", "", || {
            let _g = self.pki_guard();
            let cas = self.store().pki_list("ca", None)?;
            let mut generation = 0;
            let mut batch = Vec::new();
            for r in &cas {
                let d: CaDoc = parse(r)?;
                generation = generation.max(d.generation);
                if d.status == "pending" {
                    return Err(refused(format!(
                        "CA generation {} is still waiting for its certificate: import it first",
                        d.generation
                    )));
                }
            }
            let (ca, mutations) = self.new_ca(init, generation + 1)?;
            batch.extend(mutations);
            if !init.intermediate {
                batch.extend(self.retire_active_cas(&cas)?);
            }
            let info = Self::ca_info(&ca, &parse(&ca)?)?;
            self.commit(batch)?;
            Ok((info, format!("generation {}", generation + 1)))
        })
    }

    fn retire_active_cas(&self, cas: &[PkiRow]) -> Result<Vec<Mutation>> {
        let mut out = Vec::new();
        for r in cas {
            let mut d: CaDoc = parse(r)?;
            if d.status == "active" {
                d.status = "retired".into();
                d.retired_at = Some(now());
                out.push(Mutation::PutPki(updated(r, &d)?));
            }
        }
        Ok(out)
    }

    /// Imports the certificate an external root issued for the pending intermediate CA, with
    /// the chain above it (PEM, nearest issuer first).
    pub fn pki_ca_import(&self, caller: &Caller, cert_pem: &str, chain_pem: &str) -> Result<CaInfo> {
        authorize(caller, Action::Restore)?;
        self.pki_installed()?;
        self.pki_step(&caller.id, "ca import", "", || {
            let _g = self.pki_guard();
            let cas = self.store().pki_list("ca", None)?;
            let (r, mut d) = cas
                .iter()
                .filter_map(|r| parse::<CaDoc>(r).ok().map(|d| (r.clone(), d)))
                .find(|(_, d)| d.status == "pending")
                .ok_or_else(|| refused("no intermediate CA is waiting for a certificate"))?;
            let cert = keyward_pki::pem_body(cert_pem, "CERTIFICATE")
                .ok_or_else(|| Error::invalid("certificate", "no -----BEGIN CERTIFICATE----- block"))?;
            let chain = keyward_pki::pem_bodies(chain_pem, "CERTIFICATE");
            let issuer = chain
                .first()
                .ok_or_else(|| Error::invalid("chain", "give the issuing CA's certificate (and any above it)"))?;
            let key = self.ca_key(&r, &d)?;
            let info = keyward_pki::check_imported_ca(&cert, &key, issuer, odt_now())?;
            d.status = "active".into();
            d.cert = Some(B64.encode(&cert));
            d.csr = None;
            d.chain = chain.iter().map(|c| B64.encode(c)).collect();
            d.activated_at = Some(now());
            let new = updated(&r, &d)?;
            let others: Vec<PkiRow> = cas.into_iter().filter(|c| c.id != r.id).collect();
            let mut batch = self.retire_active_cas(&others)?;
            batch.push(Mutation::PutPki(new.clone()));
            batch.push(Mutation::PutPki(self.build_crl(&new, &d, &key, &[])?));
            let view = Self::ca_info(&new, &d)?;
            self.commit(batch)?;
            Ok((view, format!("certificate {} issued by {}", info.serial, info.issuer)))
        })
    }

    // ---- people and enrollment ---------------------------------------------------------------

    fn person(&self, email: &str) -> Result<PkiRow> {
        let email = normalize_email(email)?;
        self.store().pki_lookup("person", &email)?.ok_or_else(|| not_found(format!("person {email}")))
    }

    fn new_token(
        &self,
        person: &PkiRow,
        email: &str,
        purpose: &str,
        ttl_secs: u64,
        by: &str,
    ) -> Result<(Enrollment, PkiRow)> {
        if !(1..=90 * 24 * 3600).contains(&ttl_secs) {
            return Err(Error::invalid("ttl", "an enrollment token lives 1 second to 90 days"));
        }
        let raw = keyward_crypto::random_secret(32)?;
        let token = format!("{ENROLL_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw.expose()));
        let hash = hex::encode(keyward_crypto::sha256(token.as_bytes()));
        let id = Id::new().to_string();
        let doc = TokenDoc {
            purpose: purpose.into(),
            email: email.into(),
            expires_at: at_offset(ttl_secs),
            created_by: by.into(),
            redeemed_at: None,
            voided_at: None,
        };
        let r = row("token", &id, Some(&person.id), Some(&hash), &doc)?;
        Ok((
            Enrollment {
                token: Secret::from_vec(token.into_bytes()),
                id,
                email: email.into(),
                expires_at: doc.expires_at,
            },
            r,
        ))
    }

    /// Enrolls a person and returns their one-time token. Enrolling someone already enrolled is
    /// refused: renew them instead.
    pub fn pki_enroll(&self, caller: &Caller, email: &str, name: &str, ttl_secs: u64) -> Result<Enrollment> {
        authorize(caller, Action::ManagePki)?;
        self.pki_installed()?;
        let email = normalize_email(email)?;
        self.pki_step(&caller.id, "enroll", &email, || {
            let name = name.trim();
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                return Err(Error::invalid("name", "1 to 128 printable characters"));
            }
            let _g = self.pki_guard();
            if self.store().pki_lookup("person", &email)?.is_some() {
                return Err(refused(format!(
                    "{email} is already enrolled: renew their certificates (keyward pki renew)"
                )));
            }
            let doc = PersonDoc { email: email.clone(), name: name.into(), created_by: caller.id.clone() };
            let person = row("person", &Id::new().to_string(), None, Some(&email), &doc)?;
            let (enrollment, token) = self.new_token(&person, &email, "enroll", ttl_secs, &caller.id)?;
            self.commit(vec![Mutation::PutPki(person), Mutation::PutPki(token)])?;
            let detail = format!("token {} expires {}", enrollment.id, enrollment.expires_at);
            Ok((enrollment, detail))
        })
    }

    /// A renewal token for an enrolled person: redeeming it issues new key pairs; the escrow
    /// keeps every encryption key they had.
    pub fn pki_renew(&self, caller: &Caller, email: &str, ttl_secs: u64) -> Result<Enrollment> {
        authorize(caller, Action::ManagePki)?;
        self.pki_installed()?;
        let email = normalize_email(email)?;
        self.pki_step(&caller.id, "renew", &email, || {
            let _g = self.pki_guard();
            let person = self.person(&email)?;
            let (enrollment, token) = self.new_token(&person, &email, "renew", ttl_secs, &caller.id)?;
            self.commit(vec![Mutation::PutPki(token)])?;
            let detail = format!("token {} expires {}", enrollment.id, enrollment.expires_at);
            Ok((enrollment, detail))
        })
    }

    /// Redeems a one-time token: the server makes and escrows an encryption key pair, certifies
    /// it and the signing key of the person's CSR, and returns the PKCS#12 under `password`.
    pub fn pki_redeem(&self, token: &str, csr: &[u8], password: &str) -> Result<Redeemed> {
        self.pki_installed()?;
        let hash = hex::encode(keyward_crypto::sha256(token.trim().as_bytes()));
        let actor = format!("enrollment:{}", &hash[..16]);
        // Anyone can call this route. A token that names no record is refused before the lock,
        // and its audit record joins the next group commit instead of costing an fsync of its
        // own, so a flood of made-up tokens cannot turn into a flood of disk flushes.
        let known = token.trim().starts_with(ENROLL_PREFIX)
            && token.len() <= 128
            && self.store().pki_lookup("token", &hash)?.is_some();
        if !known {
            let e = refused("the enrollment token is not valid: ask your administrator for a new one");
            self.record(
                AuditEntry {
                    at: now(),
                    actor,
                    action: "pki redeem".into(),
                    target: String::new(),
                    outcome: "refused".into(),
                    detail: e.to_string(),
                },
                AuditDurability::Queue,
            )?;
            return Err(e);
        }
        self.pki_step(&actor, "redeem", "", || {
            check_password(password)?;
            let bad_token = || refused("the enrollment token is not valid: ask your administrator for a new one");
            if !token.trim().starts_with(ENROLL_PREFIX) || token.len() > 128 {
                return Err(bad_token());
            }
            let _g = self.pki_guard();
            let t = self.store().pki_lookup("token", &hash)?.ok_or_else(bad_token)?;
            let mut td: TokenDoc = parse(&t)?;
            if let Some(at) = &td.voided_at {
                return Err(refused(format!("this enrollment token was cancelled at {at}: ask your administrator for a new one")));
            }
            if td.redeemed_at.is_some() {
                return Err(refused(format!("this enrollment token was already used at {}: ask your administrator for a new one", td.redeemed_at.unwrap_or_default())));
            }
            if passed(&td.expires_at) {
                return Err(refused(format!("this enrollment token expired at {}: ask your administrator for a new one", td.expires_at)));
            }
            let person_id = t.parent.clone().ok_or_else(bad_token)?;
            let person = self.store().pki_get("person", &person_id)?.ok_or_else(bad_token)?;
            let pd: PersonDoc = parse(&person)?;
            let checked = keyward_pki::check_csr(csr)?;
            if let Some(other) = checked.emails.iter().find(|e| !e.eq_ignore_ascii_case(&pd.email)) {
                return Err(refused(format!(
                    "the certificate request names {other}, but this token is for {}: make a request for your own address",
                    pd.email
                )));
            }
            let (ca_row, ca) = self.active_ca()?;
            let ca_key = self.ca_key(&ca_row, &ca)?;
            let ca_der = der("CA certificate", ca.cert.as_deref().unwrap_or_default())?;
            let ca_cert = keyward_pki::cert_info(&ca_der)?;
            let now_s = odt_now().unix_timestamp();
            if now_s < ca_cert.not_before || now_s >= ca_cert.not_after {
                return Err(refused("the CA certificate is not valid now: the administrator must rotate the CA (keyward pki ca rotate)"));
            }
            // Nothing outlives the CA that vouches for it.
            let days = u32::try_from((ca_cert.not_after - now_s) / 86_400).unwrap_or(u32::MAX).min(ca.cert_days).max(1);
            let keyring = self.keyring()?;

            let enc_pk8 = KeyKind::Rsa3072.generate()?;
            let enc_spki = keyward_pki::public_key_of(KeyKind::Rsa3072, &enc_pk8)?;
            let issue = |usage: Usage, spki: &[u8]| -> Result<(String, Vec<u8>)> {
                let serial = keyward_pki::random_serial()?;
                let leaf = Leaf {
                    email: &pd.email,
                    name: &pd.name,
                    organization: &ca.organization,
                    usage,
                    public_key: spki,
                    serial,
                    not_before: odt_now(),
                    days,
                };
                Ok((keyward_pki::serial_hex(&serial), keyward_pki::issue(&ca_der, &ca_key, &leaf)?))
            };
            let (enc_serial, enc_cert) = issue(Usage::Encryption, &enc_spki)?;
            let (sig_serial, sig_cert) = issue(Usage::Signing, &checked.public_key)?;
            let mut batch = Vec::new();
            for (serial, cert, usage) in [(&enc_serial, &enc_cert, Usage::Encryption), (&sig_serial, &sig_cert, Usage::Signing)] {
                let info = keyward_pki::cert_info(cert)?;
                let doc = CertDoc {
                    email: pd.email.clone(),
                    usage: usage.as_str().into(),
                    ca_id: ca_row.id.clone(),
                    cert: B64.encode(cert),
                    not_before: unix_rfc3339(info.not_before),
                    not_after: unix_rfc3339(info.not_after),
                    revoked_at: None,
                    reason: None,
                };
                let mut r = row("cert", serial, Some(&person.id), None, &doc)?;
                if usage == Usage::Encryption {
                    r.secret = Some(keyring.seal(&secret_context("cert", serial), enc_pk8.expose())?);
                }
                batch.push(Mutation::PutPki(r));
            }
            td.redeemed_at = Some(now());
            batch.push(Mutation::PutPki(updated(&t, &td)?));
            let chain = Self::chain_of(&ca)?;
            let pkcs12 = Zeroizing::new(keyward_pki::pkcs12(
                password,
                &[P12Entry { alias: format!("{} (encryption)", pd.email), key_pkcs8: &enc_pk8, cert_der: &enc_cert }],
                &chain,
                &[(format!("{} (signing)", pd.email), sig_cert.clone())],
            )?);
            // Written before it is handed out: an escrowed key is never one the store lacks.
            self.commit(batch)?;
            let redeemed = Redeemed {
                email: pd.email.clone(),
                pkcs12,
                encryption_certificate: keyward_pki::pem("CERTIFICATE", &enc_cert),
                signing_certificate: keyward_pki::pem("CERTIFICATE", &sig_cert),
                chain: chain.iter().map(|c| keyward_pki::pem("CERTIFICATE", c)).collect(),
                encryption_serial: enc_serial.clone(),
                signing_serial: sig_serial.clone(),
            };
            let detail = format!("{} for {}: encryption {enc_serial} (escrowed), signing {sig_serial} ({})", td.purpose, pd.email, checked.key_description);
            Ok((redeemed, detail))
        })
    }

    // ---- revocation and CRLs -----------------------------------------------------------------

    fn build_crl(&self, ca_row: &PkiRow, ca: &CaDoc, key: &CaKey, certs: &[PkiRow]) -> Result<PkiRow> {
        let ca_der = der("CA certificate", ca.cert.as_deref().unwrap_or_default())?;
        let mut revoked = Vec::new();
        for c in certs {
            let d: CertDoc = parse(c)?;
            if d.ca_id != ca_row.id {
                continue;
            }
            if let (Some(at), Some(reason)) = (&d.revoked_at, &d.reason) {
                let at = humantime::parse_rfc3339_weak(at).unwrap_or(SystemTime::now());
                let secs = at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
                let at = OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| odt_now());
                let code = keyward_pki::REASONS.iter().find(|(n, _)| n == reason).map(|(_, c)| *c).unwrap_or(0);
                revoked.push(keyward_pki::Revoked { serial: c.id.clone(), at, reason: code });
            }
        }
        let this = odt_now();
        let next = this + keyward_pki::Duration::days(i64::from(ca.crl_days));
        // Grows with every CRL, also across a clock step back or within one millisecond. (At
        // install the table does not exist yet, hence `ok()`.)
        let previous = self
            .store()
            .pki_get("crl", &ca_row.id)
            .ok()
            .flatten()
            .and_then(|c| parse::<CrlDoc>(&c).ok())
            .map(|d| d.number)
            .unwrap_or(0);
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
            .max(previous + 1);
        let crl = keyward_pki::crl(&ca_der, key, &revoked, this, next, millis)?;
        let doc = CrlDoc {
            number: millis,
            this_update: unix_rfc3339(this.unix_timestamp()),
            next_update: unix_rfc3339(next.unix_timestamp()),
            der: B64.encode(crl),
        };
        row("crl", &ca_row.id, Some(&ca_row.id), None, &doc)
    }

    fn refresh_crl(&self, ca_id: &str) -> Result<PkiRow> {
        let ca_row = self.store().pki_get("ca", ca_id)?.ok_or_else(|| not_found(format!("CA {ca_id}")))?;
        let ca: CaDoc = parse(&ca_row)?;
        let key = self.ca_key(&ca_row, &ca)?;
        let certs = self.store().pki_list("cert", None)?;
        self.build_crl(&ca_row, &ca, &key, &certs)
    }

    /// Revokes one certificate by serial. The escrowed key (if any) stays escrowed.
    pub fn pki_revoke(&self, caller: &Caller, serial: &str, reason: &str) -> Result<CertView> {
        authorize(caller, Action::ManagePki)?;
        self.pki_installed()?;
        // As openssl prints it too: with colons, and with a leading 00 for a high first byte.
        let mut serial = serial.trim().to_ascii_lowercase().replace(':', "");
        while serial.len() > 2 && serial.starts_with("00") {
            serial.drain(..2);
        }
        self.pki_step(&caller.id, "revoke", &serial, || {
            if !keyward_pki::REASONS.iter().any(|(n, _)| *n == reason) {
                let names: Vec<&str> = keyward_pki::REASONS.iter().map(|(n, _)| *n).collect();
                return Err(Error::invalid("reason", format!("use one of {}", names.join(", "))));
            }
            let _g = self.pki_guard();
            let c = self.store().pki_get("cert", &serial)?.ok_or_else(|| not_found(format!("certificate {serial}")))?;
            let mut d: CertDoc = parse(&c)?;
            if d.revoked_at.is_some() {
                return Err(refused(format!("certificate {serial} is already revoked")));
            }
            d.revoked_at = Some(now());
            d.reason = Some(reason.into());
            let new = updated(&c, &d)?;
            // The revocation and the CRL that lists it are written together: no moment where a
            // certificate is revoked but the published CRL does not say so.
            let ca_row = self.store().pki_get("ca", &d.ca_id)?.ok_or_else(|| not_found(format!("CA {}", d.ca_id)))?;
            let ca: CaDoc = parse(&ca_row)?;
            let key = self.ca_key(&ca_row, &ca)?;
            let mut certs = self.store().pki_list("cert", None)?;
            certs.retain(|x| x.id != new.id);
            certs.push(new.clone());
            let crl = self.build_crl(&ca_row, &ca, &key, &certs)?;
            // The answer is built first: once committed, the call must not fail.
            let view = Self::cert_view(&new, &self.ca_generations()?)?;
            self.commit(vec![Mutation::PutPki(new), Mutation::PutPki(crl)])?;
            Ok((view, format!("{} certificate of {}, reason {reason}", d.usage, d.email)))
        })
    }

    /// Revokes every valid certificate of a person; their escrowed keys stay.
    pub fn pki_revoke_person(&self, caller: &Caller, email: &str, reason: &str) -> Result<Vec<CertView>> {
        authorize(caller, Action::ManagePki)?;
        self.pki_installed()?;
        let person = self.person(email)?;
        // Their outstanding enrollment and renewal tokens go first, so nothing new is issued.
        {
            let _g = self.pki_guard();
            let mut batch = Vec::new();
            for t in self.store().pki_list("token", Some(&person.id))? {
                let mut d: TokenDoc = parse(&t)?;
                if d.redeemed_at.is_none() && d.voided_at.is_none() {
                    d.voided_at = Some(now());
                    batch.push(Mutation::PutPki(updated(&t, &d)?));
                }
            }
            if !batch.is_empty() {
                let n = batch.len();
                self.commit(batch)?;
                self.pki_audit(&caller.id, "token cancel", email, "ok", format!("{n} unused tokens cancelled"))?;
            }
        }
        let mut out = Vec::new();
        for c in self.store().pki_list("cert", Some(&person.id))? {
            if cert_status(&parse(&c)?) == "valid" {
                out.push(self.pki_revoke(caller, &c.id, reason)?);
            }
        }
        Ok(out)
    }

    /// The DER CRL of CA generation `generation` (the active CA's by default). Public.
    pub fn pki_crl(&self, generation: Option<u32>) -> Result<Vec<u8>> {
        self.pki_installed()?;
        let ca_id = match generation {
            None => self.active_ca()?.0.id,
            Some(g) => {
                self.store()
                    .pki_list("ca", None)?
                    .into_iter()
                    .find(|r| parse::<CaDoc>(r).is_ok_and(|d| d.generation == g))
                    .ok_or_else(|| not_found(format!("CA generation {g}")))?
                    .id
            }
        };
        let crl = self.store().pki_get("crl", &ca_id)?.ok_or_else(|| not_found("a CRL for this CA"))?;
        der("CRL", &parse::<CrlDoc>(&crl)?.der)
    }

    /// Re-signs each CA's CRL once half of its validity has passed; the server calls it every
    /// few seconds. Returns how many CRLs were re-signed.
    pub fn pki_refresh_crls_if_due(&self) -> Result<usize> {
        if self.is_sealed() || self.in_maintenance() || self.pki_installed().is_err() {
            return Ok(0);
        }
        let _g = self.pki_guard();
        let mut n = 0;
        for ca_row in self.store().pki_list("ca", None)? {
            let ca: CaDoc = parse(&ca_row)?;
            if ca.status == "pending" {
                continue;
            }
            let due = match self.store().pki_get("crl", &ca_row.id)? {
                None => true,
                Some(c) => {
                    let d: CrlDoc = parse(&c)?;
                    let half = Duration::from_secs(u64::from(ca.crl_days) * 86_400 / 2);
                    humantime::parse_rfc3339_weak(&d.next_update).map(|t| t <= SystemTime::now() + half).unwrap_or(true)
                }
            };
            if due {
                let crl = self.refresh_crl(&ca_row.id)?;
                self.commit(vec![Mutation::PutPki(crl)])?;
                self.pki_audit("scheduler", "crl", &ca_row.id, "ok", format!("generation {}", ca.generation))?;
                n += 1;
            }
        }
        Ok(n)
    }

    // ---- directory ---------------------------------------------------------------------------

    /// CA id to generation, read once per listing.
    fn ca_generations(&self) -> Result<std::collections::HashMap<String, u32>> {
        self.store().pki_list("ca", None)?.iter().map(|r| Ok((r.id.clone(), parse::<CaDoc>(r)?.generation))).collect()
    }

    fn cert_view(c: &PkiRow, generations: &std::collections::HashMap<String, u32>) -> Result<CertView> {
        let d: CertDoc = parse(c)?;
        Ok(CertView {
            serial: c.id.clone(),
            email: d.email.clone(),
            usage: d.usage.clone(),
            status: cert_status(&d).into(),
            not_before: d.not_before.clone(),
            not_after: d.not_after.clone(),
            revoked_at: d.revoked_at.clone(),
            reason: d.reason.clone(),
            escrowed: c.secret.is_some(),
            ca_generation: generations.get(&d.ca_id).copied().unwrap_or(0),
            certificate: keyward_pki::pem("CERTIFICATE", &der("certificate", &d.cert)?),
        })
    }

    fn person_view(p: &PkiRow, certs: &[PkiRow]) -> Result<PersonView> {
        let d: PersonDoc = parse(p)?;
        let mut valid = 0;
        for c in certs {
            if cert_status(&parse(c)?) == "valid" {
                valid += 1;
            }
        }
        Ok(PersonView {
            id: p.id.clone(),
            email: d.email,
            name: d.name,
            created_at: p.created_at.clone(),
            valid_certificates: valid,
            escrowed_keys: certs.iter().filter(|c| c.secret.is_some()).count(),
        })
    }

    /// People whose email or name contains `query` (case-insensitive), by email.
    pub fn pki_people(&self, caller: &Caller, query: Option<&str>) -> Result<Vec<PersonView>> {
        authorize(caller, Action::ReadPki)?;
        self.pki_installed()?;
        let q = query.map(|q| q.to_lowercase());
        // Every certificate once, by person, rather than a query per person.
        let mut certs: std::collections::HashMap<String, Vec<PkiRow>> = std::collections::HashMap::new();
        for c in self.store().pki_list("cert", None)? {
            certs.entry(c.parent.clone().unwrap_or_default()).or_default().push(c);
        }
        let mut out = Vec::new();
        for p in self.store().pki_list("person", None)? {
            let d: PersonDoc = parse(&p)?;
            if q.as_ref().is_none_or(|q| d.email.contains(q.as_str()) || d.name.to_lowercase().contains(q.as_str())) {
                out.push(Self::person_view(&p, certs.get(&p.id).map(Vec::as_slice).unwrap_or_default())?);
            }
        }
        out.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(out)
    }

    /// One person: certificates (valid, expired, revoked), enrollments and recovery history.
    pub fn pki_person(&self, caller: &Caller, email: &str) -> Result<PersonDetail> {
        authorize(caller, Action::ReadPki)?;
        self.pki_installed()?;
        let p = self.person(email)?;
        let store = self.store();
        let certs = store.pki_list("cert", Some(&p.id))?;
        let generations = self.ca_generations()?;
        let certificates = certs.iter().map(|c| Self::cert_view(c, &generations)).collect::<Result<_>>()?;
        let mut recoveries = Vec::new();
        for r in store.pki_list("recovery", Some(&p.id))? {
            recoveries.push(recovery_view(&r, &parse(&r)?));
        }
        let mut enrollments = Vec::new();
        for t in store.pki_list("token", Some(&p.id))? {
            let d: TokenDoc = parse(&t)?;
            enrollments.push(EnrollmentView {
                id: t.id.clone(),
                purpose: d.purpose,
                created_at: t.created_at.clone(),
                expires_at: d.expires_at,
                redeemed_at: d.redeemed_at,
            });
        }
        Ok(PersonDetail { person: Self::person_view(&p, &certs)?, certificates, recoveries, enrollments })
    }

    // ---- officers and recovery ---------------------------------------------------------------

    /// Adds a recovery officer: a new token of role `officer` (shown once), registered as one
    /// of the N officers.
    pub fn pki_officer_add(&self, caller: &Caller, name: &str) -> Result<(Secret, OfficerView)> {
        authorize(caller, Action::ManagePki)?;
        authorize(caller, Action::ManageTokens)?;
        self.pki_installed()?;
        self.pki_step(&caller.id, "officer add", name, || {
            let name = name.trim();
            if name.is_empty() || name.len() > 128 {
                return Err(Error::invalid("name", "1 to 128 characters"));
            }
            let (token, token_row) =
                crate::tokens::issue_token(Role::Officer, Vec::new(), format!("officer {name}"), None)?;
            let doc = OfficerDoc { name: name.into(), added_by: caller.id.clone(), removed_at: None };
            let r = row("officer", &token_row.id, None, None, &doc)?;
            let view =
                OfficerView { id: r.id.clone(), name: name.into(), added_at: r.created_at.clone(), removed_at: None };
            self.commit(vec![Mutation::PutToken(token_row), Mutation::PutPki(r)])?;
            Ok(((token, view.clone()), format!("officer {} ({})", view.name, view.id)))
        })
    }

    /// Removes an officer: their token is revoked and their approvals of open requests no
    /// longer count.
    pub fn pki_officer_remove(&self, caller: &Caller, id: &str) -> Result<OfficerView> {
        authorize(caller, Action::ManagePki)?;
        self.pki_installed()?;
        self.pki_step(&caller.id, "officer remove", id, || {
            let _g = self.pki_guard();
            let r = self.store().pki_get("officer", id)?.ok_or_else(|| not_found(format!("officer {id}")))?;
            let mut d: OfficerDoc = parse(&r)?;
            if d.removed_at.is_some() {
                return Err(refused("this officer was already removed"));
            }
            d.removed_at = Some(now());
            let mut batch = vec![Mutation::PutPki(updated(&r, &d)?)];
            if let Some(mut t) = self.store().list_tokens()?.into_iter().find(|t| t.id == id) {
                t.revoked_at = Some(now());
                batch.push(Mutation::PutToken(t));
            }
            self.commit(batch)?;
            Ok((
                OfficerView {
                    id: r.id.clone(),
                    name: d.name.clone(),
                    added_at: r.created_at.clone(),
                    removed_at: d.removed_at.clone(),
                },
                d.name,
            ))
        })
    }

    pub fn pki_officers(&self, caller: &Caller) -> Result<Vec<OfficerView>> {
        authorize(caller, Action::ReadPki)?;
        self.pki_installed()?;
        self.store()
            .pki_list("officer", None)?
            .iter()
            .map(|r| {
                let d: OfficerDoc = parse(r)?;
                Ok(OfficerView {
                    id: r.id.clone(),
                    name: d.name,
                    added_at: r.created_at.clone(),
                    removed_at: d.removed_at,
                })
            })
            .collect()
    }

    /// Officers who can act now: not removed, and their token neither revoked nor expired.
    fn active_officers(&self) -> Result<Vec<(String, String)>> {
        Ok(self.live_officers()?.into_iter().map(|(r, d)| (r.id, d.name)).collect())
    }

    fn live_officers(&self) -> Result<Vec<(PkiRow, OfficerDoc)>> {
        let tokens = self.store().list_tokens()?;
        let mut out = Vec::new();
        for r in self.store().pki_list("officer", None)? {
            let d: OfficerDoc = parse(&r)?;
            let token_live = tokens
                .iter()
                .any(|t| t.id == r.id && t.revoked_at.is_none() && t.expires_at.as_deref().is_none_or(|e| !passed(e)));
            if d.removed_at.is_none() && token_live {
                out.push((r, d));
            }
        }
        Ok(out)
    }

    /// The officers whose approval of request `r` counts: live now, registered before the
    /// request was opened, and not registered by its requester (who could otherwise hold
    /// every officer token they made and approve their own request).
    fn eligible_officers(&self, r: &PkiRow, d: &RecoveryDoc) -> Result<Vec<String>> {
        Ok(self
            .live_officers()?
            .into_iter()
            .filter(|(o, od)| o.created_at <= r.created_at && od.added_by != d.requested_by)
            .map(|(o, _)| o.id)
            .collect())
    }

    /// An `officer` caller must be a live registered officer for anything pki.
    fn check_officer_caller(&self, caller: &Caller) -> Result<()> {
        if caller.role == Role::Officer {
            let id = caller.id.strip_prefix("token:").unwrap_or_default();
            if !self.active_officers()?.iter().any(|(o, _)| o == id) {
                return Err(refused("you are not a recovery officer"));
            }
        }
        Ok(())
    }

    /// Sets the quorum: `threshold` distinct officers (at least 2) must approve a recovery,
    /// and requests expire after `request_ttl_secs`.
    pub fn pki_policy_set(&self, caller: &Caller, threshold: u32, request_ttl_secs: u64) -> Result<PolicyView> {
        authorize(caller, Action::ManagePki)?;
        self.pki_installed()?;
        self.pki_step(&caller.id, "policy", "", || {
            let officers = self.active_officers()?.len();
            if threshold < 2 {
                return Err(Error::invalid("threshold", "a recovery needs at least 2 officers to approve it"));
            }
            if threshold as usize > officers {
                return Err(Error::invalid(
                    "threshold",
                    format!("there are only {officers} officers: add officers first (keyward pki officer add)"),
                ));
            }
            if !(1..=30 * 86_400).contains(&request_ttl_secs) {
                return Err(Error::invalid("ttl", "a recovery request lives 1 second to 30 days"));
            }
            let doc = PolicyDoc { threshold, request_ttl_secs };
            let r = match self.store().pki_get("policy", "recovery")? {
                Some(old) => updated(&old, &doc)?,
                None => row("policy", "recovery", None, None, &doc)?,
            };
            self.commit(vec![Mutation::PutPki(r)])?;
            Ok((PolicyView { threshold, officers, request_ttl_secs }, format!("{threshold} of {officers}")))
        })
    }

    pub fn pki_policy(&self, caller: &Caller) -> Result<Option<PolicyView>> {
        authorize(caller, Action::ReadPki)?;
        self.pki_installed()?;
        let officers = self.active_officers()?.len();
        Ok(self
            .store()
            .pki_get("policy", "recovery")?
            .map(|r| parse::<PolicyDoc>(&r))
            .transpose()?
            .map(|d| PolicyView { threshold: d.threshold, officers, request_ttl_secs: d.request_ttl_secs }))
    }

    /// Opens a recovery request for a person's escrowed keys (an administrator or an officer;
    /// a requesting officer's approval does not count).
    pub fn pki_recovery_request(&self, caller: &Caller, email: &str, reason: &str) -> Result<RecoveryView> {
        authorize(caller, Action::RequestRecovery)?;
        self.pki_installed()?;
        self.check_officer_caller(caller)?;
        let email = normalize_email(email)?;
        self.pki_step(&caller.id, "recovery request", &email, || {
            if reason.trim().is_empty() || reason.len() > 512 {
                return Err(Error::invalid("reason", "say why the key is recovered (1 to 512 characters)"));
            }
            let policy = self.store().pki_get("policy", "recovery")?.ok_or_else(|| {
                refused("no recovery policy is set: add officers and set one (keyward pki recovery policy)")
            })?;
            let policy: PolicyDoc = parse(&policy)?;
            let person = self.person(&email)?;
            if !self.store().pki_list("cert", Some(&person.id))?.iter().any(|c| c.secret.is_some()) {
                return Err(refused(format!("{email} has no escrowed key to recover")));
            }
            let doc = RecoveryDoc {
                email: email.clone(),
                requested_by: caller.id.clone(),
                reason: reason.trim().into(),
                expires_at: at_offset(policy.request_ttl_secs),
                threshold: policy.threshold,
                approvals: Vec::new(),
                downloaded_at: None,
            };
            let r = row("recovery", &Id::new().to_string(), Some(&person.id), None, &doc)?;
            self.commit(vec![Mutation::PutPki(r.clone())])?;
            let view = recovery_view(&r, &doc);
            let detail = format!("request {}: {} approvals needed, expires {}", r.id, doc.threshold, doc.expires_at);
            Ok((view, detail))
        })
    }

    fn recovery(&self, id: &str) -> Result<(PkiRow, RecoveryDoc)> {
        let r = self.store().pki_get("recovery", id)?.ok_or_else(|| not_found(format!("recovery request {id}")))?;
        let d = parse(&r)?;
        Ok((r, d))
    }

    /// One officer's approval, with their own credentials.
    pub fn pki_recovery_approve(&self, caller: &Caller, id: &str) -> Result<RecoveryView> {
        authorize(caller, Action::ApproveRecovery)?;
        self.pki_installed()?;
        self.pki_step(&caller.id, "recovery approve", id, || {
            let _g = self.pki_guard();
            let officer_id = caller.id.strip_prefix("token:").unwrap_or_default();
            let officers = self.active_officers()?;
            let (_, officer_name) = officers
                .iter()
                .find(|(o, _)| o == officer_id)
                .ok_or_else(|| refused("you are not a recovery officer"))?;
            let (r, mut d) = self.recovery(id)?;
            if d.requested_by == caller.id {
                return Err(refused("you opened this request: another officer must approve it"));
            }
            if !self.eligible_officers(&r, &d)?.iter().any(|o| o == officer_id) {
                return Err(refused(
                    "your approval cannot count for this request: you were registered as an officer by its requester, or after it was opened",
                ));
            }
            if d.downloaded_at.is_some() {
                return Err(refused("this request was already completed"));
            }
            if passed(&d.expires_at) {
                return Err(refused(format!("this request expired at {}: open a new one", d.expires_at)));
            }
            if d.approvals.iter().any(|a| a.officer_id == officer_id) {
                return Err(refused("you already approved this request: another officer must approve it"));
            }
            d.approvals.push(Approval { officer_id: officer_id.into(), officer_name: officer_name.clone(), at: now() });
            let new = updated(&r, &d)?;
            self.commit(vec![Mutation::PutPki(new.clone())])?;
            let detail = format!("approval {} of {} needed, for {}", d.approvals.len(), d.threshold, d.email);
            Ok((recovery_view(&new, &d), detail))
        })
    }

    /// The recovered keys: once, to the requester, after the quorum approved and before expiry.
    pub fn pki_recovery_download(&self, caller: &Caller, id: &str, password: &str) -> Result<Zeroizing<Vec<u8>>> {
        authorize(caller, Action::RequestRecovery)?;
        self.pki_installed()?;
        self.check_officer_caller(caller)?;
        self.pki_step(&caller.id, "recovery download", id, || {
            check_password(password)?;
            let _g = self.pki_guard();
            let (r, mut d) = self.recovery(id)?;
            if d.requested_by != caller.id {
                return Err(refused("only the administrator who opened this request can download it"));
            }
            if let Some(at) = &d.downloaded_at {
                return Err(refused(format!("this recovery was already downloaded at {at}: open a new request")));
            }
            if passed(&d.expires_at) {
                return Err(refused(format!("this request expired at {}: open a new one", d.expires_at)));
            }
            let eligible = self.eligible_officers(&r, &d)?;
            let counted = d.approvals.iter().filter(|a| eligible.contains(&a.officer_id)).count() as u32;
            if counted < d.threshold {
                return Err(refused(format!(
                    "{counted} of {} officer approvals so far: more officers must approve first",
                    d.threshold
                )));
            }
            let person_id = r.parent.clone().unwrap_or_default();
            let keyring = self.keyring()?;
            let mut keys = Vec::new();
            let mut chain = Vec::new();
            for c in self.store().pki_list("cert", Some(&person_id))? {
                let cd: CertDoc = parse(&c)?;
                let Some(blob) = &c.secret else { continue };
                let key = keyring.open_blob(&secret_context("cert", &c.id), blob)?;
                if let Some(ca) = self.store().pki_get("ca", &cd.ca_id)? {
                    for cert in Self::chain_of(&parse(&ca)?)? {
                        if !chain.contains(&cert) {
                            chain.push(cert);
                        }
                    }
                }
                keys.push((c.id.clone(), key, der("certificate", &cd.cert)?));
            }
            let entries: Vec<P12Entry<'_>> = keys
                .iter()
                .map(|(serial, key, cert)| P12Entry {
                    alias: format!("{} {serial}", d.email),
                    key_pkcs8: key,
                    cert_der: cert,
                })
                .collect();
            // Every escrowed key is in its own entry; the CA chain goes along as plain certificates.
            let extra: Vec<(String, Vec<u8>)> =
                chain.iter().enumerate().map(|(i, c)| (format!("ca-{i}"), c.clone())).collect();
            let p12 = Zeroizing::new(keyward_pki::pkcs12(password, &entries, &[], &extra)?);
            d.downloaded_at = Some(now());
            self.commit(vec![Mutation::PutPki(updated(&r, &d)?)])?;
            Ok((p12, format!("{} escrowed keys of {}", keys.len(), d.email)))
        })
    }

    /// Recovery requests, newest first; of one person when `email` is given.
    pub fn pki_recoveries(&self, caller: &Caller, email: Option<&str>) -> Result<Vec<RecoveryView>> {
        if caller.role != Role::Officer {
            authorize(caller, Action::ReadPki)?;
        }
        self.pki_installed()?;
        self.check_officer_caller(caller)?;
        let rows = match email {
            Some(e) => self.store().pki_list("recovery", Some(&self.person(e)?.id))?,
            None => self.store().pki_list("recovery", None)?,
        };
        let mut out = rows.iter().map(|r| Ok(recovery_view(r, &parse(r)?))).collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }
}
