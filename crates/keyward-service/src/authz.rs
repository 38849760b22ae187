//! Who may do what. One table, consulted by every operation.

use keyward_types::Role;

use crate::{Error, Result};

/// An authenticated caller: a token or a mapped client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token id or certificate identity, as the audit log names it.
    pub id: String,
    pub role: Role,
    /// For `app` callers: the key-name prefixes they may use. Empty for other roles.
    pub prefixes: Vec<String>,
}

impl Caller {
    /// The identity of offline commands run by the operator on the data directory itself.
    pub fn local_operator() -> Self {
        Caller { id: "local".into(), role: Role::Admin, prefixes: Vec::new() }
    }

    /// Whether this caller's scope covers key `name`.
    pub fn in_scope(&self, name: &str) -> bool {
        self.role != Role::App || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// The things the table decides on.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Read a key's metadata.
    ReadKey(&'a str),
    /// Create, rotate, change state, destroy, import.
    ManageKey(&'a str),
    /// Encrypt, decrypt, sign, verify, HMAC, data keys, wrapped export.
    UseKey(&'a str),
    ExportPlaintext(&'a str),
    /// Take a key's material away in plaintext over a mutually authenticated channel, as KMIP
    /// clients (databases, storage) do with Get. The key must also be exportable.
    FetchKey(&'a str),
    ListKeys,
    Seal,
    Rekey,
    ManageTokens,
    ReadAudit,
    /// Take a backup of the node.
    Backup,
    /// Replace the node's data from a backup.
    Restore,
    /// Run the doctor's checks.
    Doctor,
    /// Enroll people, revoke certificates, manage officers, open and complete recoveries.
    ManagePki,
    /// Read the people directory, certificates and recovery history.
    ReadPki,
    /// Approve a recovery (the caller must also be a registered officer).
    ApproveRecovery,
    /// Open a recovery request and, once approved, download it.
    RequestRecovery,
}

impl Action<'_> {
    fn describe(&self) -> String {
        match self {
            Action::ReadKey(n) => format!("read key {n:?}"),
            Action::ManageKey(n) => format!("manage key {n:?}"),
            Action::UseKey(n) => format!("use key {n:?}"),
            Action::ExportPlaintext(n) => format!("export key {n:?} in plaintext"),
            Action::FetchKey(n) => format!("fetch key {n:?}"),
            Action::ListKeys => "list keys".into(),
            Action::Seal => "seal the node".into(),
            Action::Rekey => "change the startup secret".into(),
            Action::ManageTokens => "manage tokens".into(),
            Action::ReadAudit => "read the audit log".into(),
            Action::Backup => "take backups".into(),
            Action::Restore => "restore backups".into(),
            Action::Doctor => "run the doctor's checks".into(),
            Action::ManagePki => "manage certificates and escrow".into(),
            Action::ReadPki => "read the certificate directory".into(),
            Action::ApproveRecovery => "approve key recoveries".into(),
            Action::RequestRecovery => "request key recoveries".into(),
        }
    }
}

pub fn authorize(caller: &Caller, action: Action<'_>) -> Result<()> {
    use Role::*;
    let allowed = match (caller.role, action) {
        (Admin, _) => true,
        (Operator, Action::ReadKey(_) | Action::ManageKey(_) | Action::UseKey(_) | Action::ListKeys) => true,
        (Operator, Action::Seal | Action::ReadAudit | Action::ReadPki) => true,
        (Officer, Action::ApproveRecovery | Action::RequestRecovery) => true,
        (Backup, Action::ReadKey(_) | Action::ListKeys | Action::ReadAudit | Action::Backup) => true,
        (App, Action::ReadKey(n) | Action::UseKey(n) | Action::FetchKey(n)) => caller.in_scope(n),
        (App, Action::ListKeys) => true,
        _ => false,
    };
    if allowed { Ok(()) } else { Err(Error::Forbidden { role: caller.role, action: action.describe() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, prefixes: &[&str]) -> Caller {
        Caller { id: "t".into(), role, prefixes: prefixes.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn roles() {
        let app = caller(Role::App, &["orders."]);
        assert!(authorize(&app, Action::UseKey("orders.db")).is_ok());
        assert!(authorize(&app, Action::UseKey("payroll.db")).is_err());
        assert!(authorize(&app, Action::ManageKey("orders.db")).is_err());
        let op = caller(Role::Operator, &[]);
        assert!(authorize(&op, Action::ManageKey("x")).is_ok());
        assert!(authorize(&op, Action::ManageTokens).is_err());
        assert!(authorize(&op, Action::ExportPlaintext("x")).is_err());
        assert!(authorize(&op, Action::FetchKey("x")).is_err());
        assert!(authorize(&app, Action::FetchKey("orders.db")).is_ok());
        assert!(authorize(&app, Action::FetchKey("payroll.db")).is_err());
        let backup = caller(Role::Backup, &[]);
        assert!(authorize(&backup, Action::UseKey("x")).is_err());
        assert!(authorize(&caller(Role::Admin, &[]), Action::Rekey).is_ok());
    }
}
