//! `keyward init`: creating a node's identity, master key, keyring, component registry and
//! root token in one transaction.

use keyward_seal::{Issued, NewSecret};
use keyward_store::{ComponentRow, IdentityRow, KeyringRow, Mutation, Store};
use keyward_types::{Id, Role};

use crate::tokens::issue_token;
use crate::{Error, Result, now};

pub struct InitOptions {
    pub organization: String,
    pub site: String,
    pub server_name: String,
    pub secret: NewSecret,
}

pub struct InitOutcome {
    pub identity: IdentityRow,
    /// Shown once; only its hash is stored.
    pub root_token: keyward_crypto::Secret,
    pub issued: Issued,
}

/// Initialises an empty store. Nothing is written unless everything is.
pub fn initialize(store: &dyn Store, opts: InitOptions) -> Result<InitOutcome> {
    if let Some(existing) = store.identity()? {
        return Err(Error::AlreadyInitialized { server_name: existing.server_name, server_id: existing.server_id });
    }
    for (field, value) in
        [("organization", &opts.organization), ("site", &opts.site), ("server name", &opts.server_name)]
    {
        if value.trim().is_empty() || value.len() > 128 {
            return Err(Error::invalid(field, "must be 1 to 128 characters"));
        }
    }
    let created_at = now();
    let (config, master, issued) = keyward_seal::create(opts.secret)?;
    let data_key = keyward_seal::new_data_key(&master, 1)?;
    let identity = IdentityRow {
        organization: opts.organization,
        site: opts.site,
        server_name: opts.server_name,
        server_id: Id::new().to_string(),
        incarnation: 1,
        created_at: created_at.clone(),
    };
    let (root_token, root_row) = issue_token(Role::Admin, Vec::new(), "root".into(), None)?;
    let mut batch = vec![
        Mutation::SetIdentity(identity.clone()),
        Mutation::SetSeal { config: config.to_json() },
        Mutation::PutKeyring(KeyringRow {
            version: data_key.version,
            wrapped: data_key.wrapped,
            created_at: created_at.clone(),
        }),
    ];
    for c in keyward_store::components::COMPONENTS.iter().filter(|c| c.required) {
        batch.push(Mutation::PutComponent(ComponentRow {
            name: c.name.into(),
            schema_version: c.version,
            installed_at: created_at.clone(),
        }));
    }
    batch.push(Mutation::PutServer(keyward_store::ServerRow {
        server_id: identity.server_id.clone(),
        organization: identity.organization.clone(),
        site: identity.site.clone(),
        server_name: identity.server_name.clone(),
        status: "active".into(),
        registered_at: created_at.clone(),
        retired_at: None,
        replaced_by: None,
    }));
    batch.push(Mutation::PutToken(root_row));
    store.commit(batch)?;
    store.audit(
        keyward_store::AuditEntry {
            at: created_at,
            actor: "local".into(),
            action: "init".into(),
            target: identity.server_id.clone(),
            outcome: "ok".into(),
            detail: format!(
                "organization={} site={} server={}",
                identity.organization, identity.site, identity.server_name
            ),
        },
        keyward_store::AuditDurability::Wait,
    )?;
    Ok(InitOutcome { identity, root_token, issued })
}
