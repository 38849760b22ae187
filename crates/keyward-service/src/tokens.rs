//! API tokens: 256-bit random bearer tokens, stored as SHA-256 hashes.
//!
//! A fast hash is enough: the token has 256 bits of entropy, so the hash cannot be reversed
//! by guessing, and lookups stay cheap on every request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_crypto::Secret;
use keyward_store::{Mutation, TokenRow};
use keyward_types::{Id, Role};

use crate::authz::{Action, authorize};
use crate::{Caller, Error, Result, Service, now};

const TOKEN_PREFIX: &str = "kw.";

pub struct NewToken {
    pub role: Role,
    pub prefixes: Vec<String>,
    pub name: String,
    pub ttl_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: String,
    pub role: Role,
    pub prefixes: Vec<String>,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl TokenInfo {
    fn from_row(row: TokenRow) -> Self {
        TokenInfo {
            id: row.id,
            role: row.role.parse().unwrap_or(Role::App),
            prefixes: row.prefixes,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

pub(crate) fn issue_token(
    role: Role,
    prefixes: Vec<String>,
    name: String,
    ttl_secs: Option<u64>,
) -> Result<(Secret, TokenRow)> {
    let raw = keyward_crypto::random_secret(32)?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw.expose()));
    let hash = keyward_crypto::sha256(token.as_bytes()).to_vec();
    let expires_at = ttl_secs.map(|s| {
        humantime::format_rfc3339_millis(std::time::SystemTime::now() + std::time::Duration::from_secs(s)).to_string()
    });
    let row = TokenRow {
        id: Id::new().to_string(),
        hash,
        role: role.as_str().into(),
        prefixes,
        name,
        created_at: now(),
        expires_at,
        revoked_at: None,
    };
    Ok((Secret::from_vec(token.into_bytes()), row))
}

/// Whether an expiry has passed; an expiry that cannot be read counts as passed (fail closed).
fn expired(at: &Option<String>) -> bool {
    at.as_deref().is_some_and(|s| humantime::parse_rfc3339_weak(s).map_or(true, |t| t <= std::time::SystemTime::now()))
}

impl Service {
    /// Resolves a bearer token to its caller. Any failure is the same `Unauthenticated`.
    pub fn authenticate(&self, token: &str) -> Result<Caller> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(Error::Unauthenticated);
        }
        let hash = keyward_crypto::sha256(token.as_bytes());
        let row = self.token_by_hash(&hash)?.ok_or(Error::Unauthenticated)?;
        if !keyward_crypto::ct_eq(&row.hash, &hash) || row.revoked_at.is_some() || expired(&row.expires_at) {
            return Err(Error::Unauthenticated);
        }
        let role: Role = row.role.parse().map_err(|_| Error::Unauthenticated)?;
        Ok(Caller { id: format!("token:{}", row.id), role, prefixes: row.prefixes.clone() })
    }

    pub fn token_create(&self, caller: &Caller, new: NewToken) -> Result<(Secret, TokenInfo)> {
        authorize(caller, Action::ManageTokens)?;
        if new.role == Role::App && new.prefixes.is_empty() {
            return Err(Error::invalid(
                "prefixes",
                "an app token needs at least one key-name prefix (use \"\" to allow every key)",
            ));
        }
        if new.role != Role::App && !new.prefixes.is_empty() {
            return Err(Error::invalid("prefixes", "only app tokens are limited to key-name prefixes"));
        }
        if new.name.len() > 128 {
            return Err(Error::invalid("name", "at most 128 characters"));
        }
        let (token, row) = issue_token(new.role, new.prefixes, new.name, new.ttl_secs)?;
        self.commit(vec![Mutation::PutToken(row.clone())])?;
        Ok((token, TokenInfo::from_row(row)))
    }

    pub fn token_list(&self, caller: &Caller) -> Result<Vec<TokenInfo>> {
        authorize(caller, Action::ManageTokens)?;
        Ok(self.store().list_tokens()?.into_iter().map(TokenInfo::from_row).collect())
    }

    pub fn token_revoke(&self, caller: &Caller, id: &str) -> Result<TokenInfo> {
        authorize(caller, Action::ManageTokens)?;
        let mut row = self
            .store()
            .list_tokens()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::NoSuchToken { id: id.chars().take(64).collect() })?;
        if row.revoked_at.is_none() {
            row.revoked_at = Some(now());
            self.commit(vec![Mutation::PutToken(row.clone())])?;
        }
        Ok(TokenInfo::from_row(row))
    }
}

/// Creates a token directly in a store, for offline tooling on a node that is not serving (a
/// disaster drill on a scratch restore). Returns the token, shown once.
pub fn bootstrap_token(store: &dyn keyward_store::Store, role: Role, name: &str) -> Result<Secret> {
    let (token, row) = issue_token(role, Vec::new(), name.into(), Some(24 * 3600))?;
    store.commit(vec![Mutation::PutToken(row)])?;
    Ok(token)
}
