//! A byte buffer for secrets: zeroized on drop, redacted in `Debug`, never `Clone`.

use zeroize::Zeroize;

/// `Default` is the empty secret.
#[derive(Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn zeroed(len: usize) -> Self {
        Secret(vec![0u8; len])
    }
    pub fn from_vec(v: Vec<u8>) -> Self {
        Secret(v)
    }
    /// Copies `bytes`; the caller remains responsible for its own copy.
    pub fn copy_from(bytes: &[u8]) -> Self {
        Secret(bytes.to_vec())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn truncate(&mut self, len: usize) {
        // Zero the tail first: Vec::truncate would leave it in the allocation.
        if let Some(tail) = self.0.get_mut(len..) {
            tail.zeroize();
        }
        self.0.truncate(len);
    }
    /// An explicit copy, for the rare places that must hand a secret on and keep it.
    pub fn duplicate(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        crate::ct_eq(&self.0, &other.0)
    }
}
