//! Key management: create, list, show, rotate, lifecycle states, enable/disable, destroy.

use std::sync::Arc;

use keyward_crypto::{LoadedKey, Secret};
use keyward_store::{KeyVersionRow, Mutation, ObjectFilter, ObjectRow};
use keyward_types::{Id, KeyName, KeyState, KeyType};

use crate::authz::{Action, authorize};
use crate::{Caller, Error, Result, Service, now};

pub struct CreateKey {
    pub name: String,
    pub key_type: KeyType,
    pub exportable: bool,
    /// Create in KMIP's pre-active state instead of active.
    pub pre_active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ListKeys {
    pub prefix: Option<String>,
    pub key_type: Option<KeyType>,
    pub state: Option<KeyState>,
    /// Paging cursor: the last name of the previous page.
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: u32,
    pub created_at: String,
    pub destroyed: bool,
}

/// A key's metadata. Never holds material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    pub key_type: KeyType,
    pub state: KeyState,
    pub enabled: bool,
    pub exportable: bool,
    pub current_version: u32,
    pub created_at: String,
    pub updated_at: String,
    pub activated_at: Option<String>,
    pub deactivated_at: Option<String>,
    pub destroyed_at: Option<String>,
    /// Filled by `show`; empty in lists.
    pub versions: Vec<VersionInfo>,
}

/// Refuses the kinds of object only KMIP clients register, with the list of what can be made.
pub(crate) fn usable_type(key_type: KeyType) -> Result<()> {
    if key_type.is_usable() {
        return Ok(());
    }
    let usable: Vec<&str> = KeyType::ALL.iter().filter(|t| t.is_usable()).map(|t| t.as_str()).collect();
    Err(Error::invalid(
        "type",
        format!(
            "{key_type} objects are registered by KMIP clients, not made here; choose one of {}",
            usable.join(", ")
        ),
    ))
}

pub(crate) fn material_context(object_id: &str, version: u32) -> Vec<u8> {
    format!("keyward/key/{object_id}/{version}").into_bytes()
}

pub(crate) fn parse_row(row: &ObjectRow) -> Result<(KeyType, KeyState)> {
    let corrupt = |what: &str| keyward_store::Error::Corrupt(format!("object {} has an unknown {what}", row.id));
    let t = row.key_type.parse().map_err(|_| corrupt("key type"))?;
    let s = row.state.parse().map_err(|_| corrupt("state"))?;
    Ok((t, s))
}

fn info(row: &ObjectRow, versions: Vec<VersionInfo>) -> Result<KeyInfo> {
    let (key_type, state) = parse_row(row)?;
    Ok(KeyInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        key_type,
        state,
        enabled: row.enabled,
        exportable: row.exportable,
        current_version: row.current_version,
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
        activated_at: row.activated_at.clone(),
        deactivated_at: row.deactivated_at.clone(),
        destroyed_at: row.destroyed_at.clone(),
        versions,
    })
}

impl Service {
    pub(crate) fn find(&self, name: &str) -> Result<ObjectRow> {
        self.object_by_name(name)?
            .map(|row| ObjectRow::clone(&row))
            .ok_or_else(|| Error::NoSuchKey { name: name.chars().take(140).collect() })
    }

    /// The parsed key for one version, from the cache or decrypted from the store.
    pub(crate) fn loaded_key(&self, row: &ObjectRow, key_type: KeyType, version: u32) -> Result<Arc<LoadedKey>> {
        let cache_key = (row.id.clone(), version);
        if let Some(k) = self.loaded.read().ok().and_then(|c| c.get(&cache_key).cloned()) {
            return Ok(k);
        }
        let keyring = self.keyring()?;
        let stored = self
            .store()
            .key_version(&row.id, version)?
            .ok_or_else(|| Error::NoSuchVersion { name: row.name.clone(), version })?;
        let blob = stored.material.ok_or(Error::KeyState {
            name: row.name.clone(),
            state: KeyState::Destroyed.as_str(),
            operation: "be used",
        })?;
        let material = keyring.open_blob(&material_context(&row.id, version), &blob)?;
        let key = Arc::new(LoadedKey::load(key_type, material)?);
        if let Ok(mut c) = self.loaded.write() {
            // A plain bound keeps memory predictable; a miss costs one AES-GCM open and a parse.
            if c.len() >= 10_000 {
                c.clear();
            }
            c.insert(cache_key, key.clone());
        }
        Ok(key)
    }

    pub fn key_create(&self, caller: &Caller, req: CreateKey) -> Result<KeyInfo> {
        let name = KeyName::parse(&req.name).map_err(|e| Error::invalid("name", e.to_string()))?;
        authorize(caller, Action::ManageKey(name.as_str()))?;
        usable_type(req.key_type)?;
        self.keyring()?;
        let material = keyward_crypto::generate_material(req.key_type)?;
        self.insert_key(name, req.key_type, material, req.exportable, req.pre_active)
    }

    /// Stores a new key (created or imported) with its first version, in one commit.
    pub(crate) fn insert_key(
        &self,
        name: KeyName,
        key_type: KeyType,
        material: Secret,
        exportable: bool,
        pre_active: bool,
    ) -> Result<KeyInfo> {
        let keyring = self.keyring()?;
        let loaded = LoadedKey::load(key_type, material)?;
        let id = Id::new().to_string();
        let at = now();
        let blob = keyring.seal(&material_context(&id, 1), loaded.material().expose())?;
        let row = ObjectRow {
            id: id.clone(),
            name: name.as_str().into(),
            key_type: key_type.as_str().into(),
            state: if pre_active { KeyState::PreActive } else { KeyState::Active }.as_str().into(),
            enabled: true,
            exportable,
            current_version: 1,
            created_at: at.clone(),
            updated_at: at.clone(),
            activated_at: (!pre_active).then(|| at.clone()),
            deactivated_at: None,
            destroyed_at: None,
            attributes: "{}".into(),
        };
        let version = KeyVersionRow {
            object_id: id,
            version: 1,
            material: Some(blob),
            public_key: loaded.public_key_der(),
            created_at: at,
        };
        self.commit(vec![Mutation::InsertObject(row.clone()), Mutation::PutKeyVersion(version.clone())]).map_err(
            |e| match e {
                Error::Store(keyward_store::Error::NameTaken { name }) => Error::NameTaken { name },
                e => e,
            },
        )?;
        info(&row, vec![VersionInfo { version: 1, created_at: version.created_at, destroyed: false }])
    }

    pub fn key_list(&self, caller: &Caller, req: ListKeys) -> Result<Vec<KeyInfo>> {
        authorize(caller, Action::ListKeys)?;
        let filter = ObjectFilter {
            name_prefix: req.prefix,
            key_type: req.key_type.map(|t| t.as_str().into()),
            state: req.state.map(|s| s.as_str().into()),
            after: req.after,
            limit: req.limit.clamp(1, 1000),
        };
        self.store()
            .list_objects(&filter)?
            .iter()
            .filter(|row| caller.in_scope(&row.name))
            .map(|row| info(row, Vec::new()))
            .collect()
    }

    pub fn key_show(&self, caller: &Caller, name: &str) -> Result<KeyInfo> {
        authorize(caller, Action::ReadKey(name))?;
        let row = self.find(name)?;
        let versions = self
            .store()
            .key_versions(&row.id)?
            .into_iter()
            .map(|v| VersionInfo { version: v.version, created_at: v.created_at, destroyed: v.material.is_none() })
            .collect();
        info(&row, versions)
    }

    /// Adds a new version; it encrypts and signs from now on, older ones still decrypt and verify.
    pub fn key_rotate(&self, caller: &Caller, name: &str) -> Result<KeyInfo> {
        authorize(caller, Action::ManageKey(name))?;
        let _serial = self.row_write_guard();
        let keyring = self.keyring()?;
        let mut row = self.find(name)?;
        let (key_type, state) = parse_row(&row)?;
        if !matches!(state, KeyState::Active | KeyState::PreActive) {
            return Err(Error::KeyState { name: row.name, state: state.as_str(), operation: "be rotated" });
        }
        let loaded = LoadedKey::load(key_type, keyward_crypto::generate_material(key_type)?)?;
        let version = row.current_version + 1;
        let at = now();
        let blob = keyring.seal(&material_context(&row.id, version), loaded.material().expose())?;
        row.current_version = version;
        row.updated_at = at.clone();
        let v = KeyVersionRow {
            object_id: row.id.clone(),
            version,
            material: Some(blob),
            public_key: loaded.public_key_der(),
            created_at: at,
        };
        self.commit(vec![Mutation::PutKeyVersion(v), Mutation::UpdateObject(row)])?;
        self.key_show(caller, name)
    }

    pub fn key_set_enabled(&self, caller: &Caller, name: &str, enabled: bool) -> Result<KeyInfo> {
        authorize(caller, Action::ManageKey(name))?;
        let _serial = self.row_write_guard();
        self.keyring()?;
        let mut row = self.find(name)?;
        let (_, state) = parse_row(&row)?;
        if state.is_destroyed() {
            return Err(Error::KeyState { name: row.name, state: state.as_str(), operation: "be enabled or disabled" });
        }
        if row.enabled != enabled {
            row.enabled = enabled;
            row.updated_at = now();
            self.commit(vec![Mutation::UpdateObject(row)])?;
        }
        self.key_show(caller, name)
    }

    /// Moves a key along the KMIP lifecycle (activate, deactivate, compromise).
    pub fn key_set_state(&self, caller: &Caller, name: &str, to: KeyState) -> Result<KeyInfo> {
        authorize(caller, Action::ManageKey(name))?;
        let _serial = self.row_write_guard();
        self.keyring()?;
        if to.is_destroyed() {
            return Err(Error::invalid("state", "use destroy to destroy a key"));
        }
        let mut row = self.find(name)?;
        let (_, state) = parse_row(&row)?;
        if state != to {
            if !state.can_become(to) {
                return Err(Error::KeyState {
                    name: row.name,
                    state: state.as_str(),
                    operation: "make that state change",
                });
            }
            let at = now();
            match to {
                KeyState::Active => row.activated_at = Some(at.clone()),
                KeyState::Deactivated | KeyState::Compromised => {
                    row.deactivated_at.get_or_insert(at.clone());
                }
                _ => {}
            }
            row.state = to.as_str().into();
            row.updated_at = at;
            self.commit(vec![Mutation::UpdateObject(row)])?;
        }
        self.key_show(caller, name)
    }

    /// Erases every version's material and leaves a tombstone with the metadata. An active key
    /// must be deactivated first (KMIP), or `force` does both.
    pub fn key_destroy(&self, caller: &Caller, name: &str, force: bool) -> Result<KeyInfo> {
        authorize(caller, Action::ManageKey(name))?;
        let _serial = self.row_write_guard();
        self.keyring()?;
        let mut row = self.find(name)?;
        let (_, state) = parse_row(&row)?;
        if state.is_destroyed() {
            return self.key_show(caller, name);
        }
        if state == KeyState::Active && !force {
            return Err(Error::ActiveKey { name: row.name });
        }
        let at = now();
        if state == KeyState::Active {
            row.deactivated_at = Some(at.clone());
        }
        let to = if state == KeyState::Compromised { KeyState::DestroyedCompromised } else { KeyState::Destroyed };
        row.state = to.as_str().into();
        row.destroyed_at = Some(at.clone());
        row.updated_at = at;
        let id = row.id.clone();
        self.commit(vec![Mutation::EraseMaterial { object_id: id }, Mutation::UpdateObject(row)])?;
        self.key_show(caller, name)
    }
}
