//! Objects by identifier, as KMIP clients manage them.
//!
//! KMIP names every managed object by its Unique Identifier, keeps free-form attributes with it,
//! and lets clients register objects Keyward never uses itself (certificates, secret data,
//! opaque blobs, keys of other algorithms). This module gives the KMIP listener exactly that on
//! top of the same rows, authorization table and lifecycle as the REST API: a key created here is
//! listed and usable over REST, and the reverse. Attributes are a JSON object kept in the row; the
//! protocol layer decides what goes into it.

use std::sync::Arc;

use keyward_crypto::{LoadedKey, Secret};
use keyward_store::{KeyVersionRow, Mutation, ObjectFilter, ObjectRow};
use keyward_types::{Id, KeyName, KeyState, KeyType, Usage};
use serde_json::{Map, Value};

use crate::authz::{Action, authorize};
use crate::keys::{material_context, parse_row};
use crate::{Caller, Error, Result, Service, now};

/// An object to store: created by the server or registered by a client.
pub struct NewObject {
    /// From [`Service::new_object_id`], so objects that link to each other can be made at once.
    pub id: String,
    pub key_type: KeyType,
    /// Secret material in Keyward's stored form (raw bytes, or PKCS#8 for private keys).
    pub material: Option<Secret>,
    /// Public bytes: SubjectPublicKeyInfo for key pairs and public keys, DER for certificates.
    pub public: Option<Vec<u8>>,
    /// Used as the Keyward name when it is a valid, free key name; otherwise one is made up.
    pub name_hint: Option<String>,
    pub attributes: Map<String, Value>,
    pub pre_active: bool,
    /// Whether the material may be fetched in plaintext (KMIP's Extractable).
    pub exportable: bool,
}

/// Secret material: from the parsed-key cache for the key types Keyward uses (no store read and
/// no unsealing per operation), or opened from its barrier blob for the others.
pub enum Material {
    Parsed(Arc<LoadedKey>),
    Opened(Secret),
}

impl Material {
    pub fn expose(&self) -> &[u8] {
        match self {
            Material::Parsed(k) => k.material().expose(),
            Material::Opened(s) => s.expose(),
        }
    }
}

/// An object with its current material, for the protocol layer to return or use.
pub struct Fetched {
    pub row: ObjectRow,
    pub key_type: KeyType,
    pub state: KeyState,
    pub attributes: Map<String, Value>,
    pub material: Option<Material>,
    pub public: Option<Vec<u8>>,
}

/// The attributes JSON of a row (an empty object when it holds none or garbage).
pub fn attributes_of(row: &ObjectRow) -> Map<String, Value> {
    match serde_json::from_str::<Value>(&row.attributes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The Cryptographic Usage Mask a KMIP client set on an object, as the KMIP layer stores
/// attributes (`{"Cryptographic Usage Mask": [{"t": "int", "v": <mask>}]}`); the one reader of it
/// outside that layer, so REST honours the same mask.
pub fn stored_usage_mask(attributes: &Map<String, Value>) -> Option<i32> {
    let v = attributes.get("Cryptographic Usage Mask")?.get(0)?;
    if v.get("t")?.as_str()? != "int" {
        return None;
    }
    v.get("v")?.as_i64().and_then(|m| i32::try_from(m).ok())
}

impl Service {
    pub fn new_object_id() -> String {
        Id::new().to_string()
    }

    /// Stores objects in one commit. Objects whose name hint is unusable get `kmip-<id>`.
    pub fn objects_register(&self, caller: &Caller, objects: Vec<NewObject>) -> Result<Vec<ObjectRow>> {
        let keyring = self.keyring()?;
        let at = now();
        let mut batch = Vec::new();
        let mut rows = Vec::new();
        for o in objects {
            let generated = format!("kmip-{}", o.id);
            let name = match o.name_hint.as_deref().map(KeyName::parse) {
                Some(Ok(n)) if self.object_by_name(n.as_str())?.is_none() => n.as_str().to_owned(),
                _ => generated,
            };
            authorize(caller, Action::ManageKey(&name))?;
            let blob = o.material.map(|m| keyring.seal(&material_context(&o.id, 1), m.expose())).transpose()?;
            let row = ObjectRow {
                id: o.id.clone(),
                name,
                key_type: o.key_type.as_str().into(),
                state: if o.pre_active { KeyState::PreActive } else { KeyState::Active }.as_str().into(),
                enabled: true,
                exportable: o.exportable,
                current_version: 1,
                created_at: at.clone(),
                updated_at: at.clone(),
                activated_at: (!o.pre_active).then(|| at.clone()),
                deactivated_at: None,
                destroyed_at: None,
                attributes: Value::Object(o.attributes).to_string(),
            };
            batch.push(Mutation::InsertObject(row.clone()));
            batch.push(Mutation::PutKeyVersion(KeyVersionRow {
                object_id: o.id,
                version: 1,
                material: blob,
                public_key: o.public,
                created_at: at.clone(),
            }));
            rows.push(row);
        }
        self.commit(batch).map_err(|e| match e {
            Error::Store(keyward_store::Error::NameTaken { name }) => Error::NameTaken { name },
            e => e,
        })?;
        Ok(rows)
    }

    /// The row, or "no such object" when the caller's scope does not cover it: an `app` caller
    /// learns neither the name nor the existence of objects outside its prefixes.
    fn object_in_scope(&self, caller: &Caller, id: &str) -> Result<ObjectRow> {
        let row = self.object_row(id)?;
        if !caller.in_scope(&row.name) {
            return Err(Error::NoSuchObject { id: id.chars().take(80).collect() });
        }
        Ok(row)
    }

    fn object_row(&self, id: &str) -> Result<ObjectRow> {
        // Names never change, so an id once seen leads to the row cache, which is kept by name.
        let known = self.rows.read().ok().and_then(|c| c.ids.get(id).cloned());
        if let Some(name) = known
            && let Some(row) = self.object_by_name(&name)?
            && row.id == id
        {
            return Ok(ObjectRow::clone(&row));
        }
        let row = self.store().object(id)?.ok_or_else(|| Error::NoSuchObject { id: id.chars().take(80).collect() })?;
        if let Ok(mut cache) = self.rows.write() {
            if cache.ids.len() >= crate::MAX_CACHED_OBJECTS {
                cache.ids.clear();
            }
            cache.ids.insert(id.to_owned(), row.name.clone());
        }
        Ok(self.object_by_name(&row.name)?.map(|r| ObjectRow::clone(&r)).unwrap_or(row))
    }

    /// An object's metadata.
    pub fn object_meta(&self, caller: &Caller, id: &str) -> Result<ObjectRow> {
        self.keyring()?;
        let row = self.object_in_scope(caller, id)?;
        authorize(caller, Action::ReadKey(&row.name))?;
        Ok(row)
    }

    fn with_material(&self, row: ObjectRow, want_secret: bool) -> Result<Fetched> {
        let (key_type, state) = parse_row(&row)?;
        if want_secret && key_type.is_usable() && !state.is_destroyed() {
            let key = self.loaded_key(&row, key_type, row.current_version)?;
            let public = key.public_key_der();
            let attributes = attributes_of(&row);
            return Ok(Fetched { row, key_type, state, attributes, material: Some(Material::Parsed(key)), public });
        }
        let version = self.store().key_version(&row.id, row.current_version)?;
        let public = version.as_ref().and_then(|v| v.public_key.clone());
        let material = match (want_secret, version.and_then(|v| v.material)) {
            (true, Some(blob)) => Some(Material::Opened(
                self.keyring()?.open_blob(&material_context(&row.id, row.current_version), &blob)?,
            )),
            _ => None,
        };
        let attributes = attributes_of(&row);
        Ok(Fetched { row, key_type, state, attributes, material, public })
    }

    /// An object with its material, for a client to take away (KMIP Get). Secret material
    /// leaves only when the object is exportable and the caller may fetch it.
    pub fn object_fetch(&self, caller: &Caller, id: &str) -> Result<Fetched> {
        let row = self.object_meta(caller, id)?;
        let (key_type, state) = parse_row(&row)?;
        // A destroyed object's tombstone keeps its metadata, but as a managed object it is gone.
        if state.is_destroyed() {
            return Err(Error::NoSuchObject { id: id.chars().take(80).collect() });
        }
        if key_type.is_secret() {
            authorize(caller, Action::FetchKey(&row.name))?;
            if !row.exportable {
                return Err(Error::NotExportable { name: row.name });
            }
        }
        self.with_material(row, key_type.is_secret())
    }

    /// An object's material for a cryptographic operation done on the caller's behalf.
    pub fn object_for_use(&self, caller: &Caller, id: &str, usage: Usage) -> Result<Fetched> {
        let operation = if usage == Usage::Protect { "protect new data" } else { "process data" };
        self.usable_object(caller, id, operation, |state| state.allows(usage))
    }

    /// The base object of a key derivation. KMIP forbids pre-active keys from protecting data;
    /// deriving makes a new object instead, so a registered seed or password may be derived from
    /// before it is activated (as PyKMIP's clients and its reference server expect).
    pub fn object_for_derivation(&self, caller: &Caller, id: &str) -> Result<Fetched> {
        self.usable_object(caller, id, "derive keys", |state| matches!(state, KeyState::PreActive | KeyState::Active))
    }

    fn usable_object(
        &self,
        caller: &Caller,
        id: &str,
        operation: &'static str,
        state_allows: impl FnOnce(KeyState) -> bool,
    ) -> Result<Fetched> {
        self.keyring()?;
        let row = self.object_in_scope(caller, id)?;
        authorize(caller, Action::UseKey(&row.name))?;
        let (_, state) = parse_row(&row)?;
        if !row.enabled {
            return Err(Error::KeyDisabled { name: row.name });
        }
        if !state_allows(state) {
            return Err(Error::KeyState { name: row.name, state: state.as_str(), operation });
        }
        self.with_material(row, true)
    }

    /// Changes an object's attributes (and anything else in its row) in one commit.
    pub fn object_update(
        &self,
        caller: &Caller,
        id: &str,
        change: impl FnOnce(&mut ObjectRow, &mut Map<String, Value>) -> Result<()>,
    ) -> Result<ObjectRow> {
        self.keyring()?;
        let _serial = self.row_write_guard();
        let mut row = self.object_in_scope(caller, id)?;
        authorize(caller, Action::ManageKey(&row.name))?;
        let (_, state) = parse_row(&row)?;
        if state.is_destroyed() {
            return Err(Error::KeyState { name: row.name, state: state.as_str(), operation: "be changed" });
        }
        let mut attributes = attributes_of(&row);
        change(&mut row, &mut attributes)?;
        row.attributes = Value::Object(attributes).to_string();
        row.updated_at = now();
        self.commit(vec![Mutation::UpdateObject(row.clone())])?;
        Ok(row)
    }

    /// Moves an object along the KMIP lifecycle.
    pub fn object_set_state(&self, caller: &Caller, id: &str, to: KeyState) -> Result<ObjectRow> {
        let row = self.object_meta(caller, id)?;
        self.key_set_state(caller, &row.name, to)?;
        self.object_row(id)
    }

    /// Destroys an object: KMIP refuses an active one, and a destroyed one is gone for KMIP.
    pub fn object_destroy(&self, caller: &Caller, id: &str) -> Result<ObjectRow> {
        let row = self.object_meta(caller, id)?;
        let (_, state) = parse_row(&row)?;
        if state.is_destroyed() {
            return Err(Error::NoSuchObject { id: id.chars().take(80).collect() });
        }
        self.key_destroy(caller, &row.name, false)?;
        self.object_row(id)
    }

    /// Every object the caller may see, destroyed ones included, in name order.
    pub fn object_rows(&self, caller: &Caller) -> Result<Vec<ObjectRow>> {
        authorize(caller, Action::ListKeys)?;
        self.keyring()?;
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let filter = ObjectFilter { after: after.clone(), limit: 1000, ..ObjectFilter::default() };
            let page = self.store().list_objects(&filter)?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            let full = page.len() == 1000;
            out.extend(page.into_iter().filter(|row| caller.in_scope(&row.name)));
            if !full {
                break;
            }
        }
        Ok(out)
    }
}
