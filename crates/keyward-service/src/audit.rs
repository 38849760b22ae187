//! The audit trail: recording API calls and verifying the hash chain.

use keyward_store::{AuditDurability, AuditEntry, AuditRow};

use crate::authz::{Action, authorize};
use crate::{Caller, Result, Service, audit_chain_hash};

/// The result of checking the chain from its first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub records: u64,
    /// The sequence number of the first record whose hash or link does not match.
    pub first_broken: Option<u64>,
    pub problem: Option<String>,
}

/// Walks the whole chain; stops at the first broken record.
pub fn verify_chain(store: &dyn keyward_store::Store) -> Result<AuditReport> {
    let mut prev = [0u8; 32];
    let mut expected_seq = 1u64;
    let mut after = 0u64;
    loop {
        let page = store.audit_records(after, 5000)?;
        if page.is_empty() {
            return Ok(AuditReport { records: expected_seq - 1, first_broken: None, problem: None });
        }
        for AuditRow { seq, entry, prev_hash, hash } in page {
            let broken = |problem: &str| AuditReport {
                records: expected_seq - 1,
                first_broken: Some(seq),
                problem: Some(problem.into()),
            };
            if seq != expected_seq {
                return Ok(AuditReport {
                    records: expected_seq - 1,
                    first_broken: Some(expected_seq),
                    problem: Some(format!("record {expected_seq} is missing (next present is {seq})")),
                });
            }
            if prev_hash != prev {
                return Ok(broken("its link to the previous record does not match"));
            }
            if audit_chain_hash(&prev, &AuditRow::canonical_bytes(seq, &entry)) != hash {
                return Ok(broken("its content does not match its hash: it was altered"));
            }
            prev = hash;
            expected_seq += 1;
            after = seq;
        }
    }
}

impl Service {
    pub fn record(&self, entry: AuditEntry, durability: AuditDurability) -> Result<()> {
        let _gate = self.swap_gate.read();
        if self.in_maintenance() {
            // The store is being replaced: keep the record and write it to the new one.
            if let Ok(mut held) = self.held_audit.lock() {
                held.push(entry);
            }
            return Ok(());
        }
        Ok(self.store().audit(entry, durability)?)
    }

    pub fn audit_verify(&self, caller: &Caller) -> Result<AuditReport> {
        authorize(caller, Action::ReadAudit)?;
        verify_chain(self.store().as_ref())
    }
}
