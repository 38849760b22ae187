//! Sealing, unsealing (with throttling of wrong secrets), and changing the startup secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_crypto::Secret;
use keyward_seal::{Issued, Keyring, NewSecret, SealConfig, SecretKind, ShareFile, StartupSecret, WrappedDataKey};
use keyward_store::{AuditDurability, AuditEntry, Mutation};

use crate::authz::{Action, authorize};
use crate::{Caller, Error, Result, SealState, Service, now};

/// Failures allowed before waiting starts; the wait then doubles per failure up to the cap.
const FREE_FAILURES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct Throttle {
    failures: u32,
    until: Option<Instant>,
}

impl Throttle {
    fn check(&self) -> Result<()> {
        match self.until {
            Some(t) if t > Instant::now() => {
                Err(Error::Throttled { retry_after_secs: (t - Instant::now()).as_secs().max(1) })
            }
            _ => Ok(()),
        }
    }
    fn failed(&mut self) {
        self.failures += 1;
        if self.failures >= FREE_FAILURES {
            let exp = (self.failures - FREE_FAILURES).min(6);
            let wait = Duration::from_secs(1 << exp).min(MAX_WAIT);
            self.until = Some(Instant::now() + wait);
        }
    }
    fn succeeded(&mut self) {
        *self = Throttle::default();
    }
}

/// One unseal submission.
pub enum UnsealInput {
    Passphrase(Secret),
    KeyFile(Secret),
    /// The text of one share file; shares accumulate until the threshold is reached.
    Share(Secret),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStatus {
    pub sealed: bool,
    pub kind: SecretKind,
    pub threshold: Option<u8>,
    pub shares: Option<u8>,
    /// Shares accepted so far toward the threshold.
    pub progress: usize,
}

impl Service {
    fn seal_config(&self) -> Result<SealConfig> {
        let json = self.store().seal_config()?.ok_or(Error::NotInitialized)?;
        Ok(SealConfig::from_json(&json)?)
    }

    pub fn seal_status(&self) -> Result<SealStatus> {
        let config = self.seal_config()?;
        let (sealed, progress) = match self.seal.read().as_deref() {
            Ok(SealState::Unsealed { .. }) => (false, 0),
            Ok(SealState::Sealed { pending_shares }) => (true, pending_shares.len()),
            Err(_) => (true, 0),
        };
        Ok(SealStatus {
            sealed,
            kind: config.kind,
            threshold: config.layout.as_ref().map(|l| l.threshold),
            shares: config.layout.as_ref().map(|l| l.shares),
            progress,
        })
    }

    fn audit_seal_event(&self, action: &str, outcome: &str, detail: String) {
        let _ = self.store().audit(
            AuditEntry {
                at: now(),
                actor: "unauthenticated".into(),
                action: action.into(),
                target: "seal".into(),
                outcome: outcome.into(),
                detail,
            },
            AuditDurability::Wait,
        );
    }

    /// Takes one unseal submission. Wrong secrets are refused, change nothing, and after a few
    /// failures make the next attempt wait.
    pub fn unseal(&self, input: UnsealInput) -> Result<SealStatus> {
        if !self.is_sealed() {
            return self.seal_status();
        }
        self.throttle.lock().map_err(|_| Error::Sealed)?.check()?;
        let config = self.seal_config()?;
        let secret = match input {
            UnsealInput::Passphrase(p) => StartupSecret::Passphrase(p),
            UnsealInput::KeyFile(k) => StartupSecret::KeyFile(k),
            UnsealInput::Share(text) => {
                let text = std::str::from_utf8(text.expose())
                    .map_err(|_| keyward_seal::Error::BadShare("the file is not text"))?;
                let share = ShareFile::parse(text)?;
                if let Err(e) = keyward_seal::check_share(&config, &share) {
                    self.record_failure(&e);
                    return Err(e.into());
                }
                let mut guard = self.seal.write().map_err(|_| Error::Sealed)?;
                let SealState::Sealed { pending_shares } = &mut *guard else {
                    drop(guard);
                    return self.seal_status();
                };
                if !pending_shares.iter().any(|s| s.index() == share.index()) {
                    pending_shares.push(share);
                }
                let threshold = config.layout.as_ref().map(|l| usize::from(l.threshold)).unwrap_or(usize::MAX);
                if pending_shares.len() < threshold {
                    drop(guard);
                    return self.seal_status();
                }
                StartupSecret::Shares(std::mem::take(pending_shares))
            }
        };
        let master = match keyward_seal::unseal(&config, &secret) {
            Ok(m) => m,
            Err(e) => {
                self.record_failure(&e);
                return Err(e.into());
            }
        };
        let wrapped: Vec<WrappedDataKey> = self
            .store()
            .keyring()?
            .into_iter()
            .map(|r| WrappedDataKey { version: r.version, wrapped: r.wrapped })
            .collect();
        let keyring = Keyring::open(&master, &wrapped)?;
        if let Ok(mut t) = self.throttle.lock() {
            t.succeeded();
        }
        *self.seal.write().map_err(|_| Error::Sealed)? =
            SealState::Unsealed { master: Arc::new(master), keyring: Arc::new(keyring) };
        self.audit_seal_event("unseal", "ok", String::new());
        self.seal_status()
    }

    fn record_failure(&self, e: &keyward_seal::Error) {
        if let Ok(mut t) = self.throttle.lock() {
            t.failed();
        }
        self.audit_seal_event("unseal", "refused", e.to_string());
    }

    /// Drops the master key, the keyring and every loaded key.
    pub fn seal(&self, caller: &Caller) -> Result<()> {
        authorize(caller, Action::Seal)?;
        self.seal_now();
        Ok(())
    }

    /// Seals without a caller: for shutdown.
    pub fn seal_now(&self) {
        if let Ok(mut s) = self.seal.write() {
            *s = SealState::Sealed { pending_shares: Vec::new() };
        }
        if let Ok(mut l) = self.loaded.write() {
            l.clear();
        }
    }

    /// Replaces the startup secret: proves the current one, then re-wraps the master key under
    /// the new one. Nothing else changes.
    pub fn rekey(&self, caller: &Caller, current: StartupSecret, new: NewSecret) -> Result<Issued> {
        authorize(caller, Action::Rekey)?;
        self.keyring()?;
        self.throttle.lock().map_err(|_| Error::Sealed)?.check()?;
        let config = self.seal_config()?;
        let master = match keyward_seal::unseal(&config, &current) {
            Ok(m) => m,
            Err(e) => {
                self.record_failure(&e);
                return Err(e.into());
            }
        };
        let (new_config, issued) = keyward_seal::rekey(&master, new)?;
        self.commit(vec![Mutation::SetSeal { config: new_config.to_json() }])?;
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_waits_after_free_failures() {
        let mut t = Throttle::default();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed();
            assert!(t.check().is_ok());
        }
        t.failed();
        assert!(matches!(t.check(), Err(Error::Throttled { .. })));
        t.succeeded();
        assert!(t.check().is_ok());
    }
}
