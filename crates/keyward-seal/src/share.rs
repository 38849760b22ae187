//! The text form of one Shamir share, one per custodian:
//!
//! ```text
//! # comment lines are ignored
//! kwshare1:<set id, 16 hex>:<threshold>:<shares>:<base64 of x || y>:<check, 8 hex>
//! ```
//!
//! The check is the first 4 bytes of SHA-256 over everything before its colon, so a share
//! mistyped or cut short when pasted is refused before it is counted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyward_crypto::Secret;

use crate::{Error, Result};

const PREFIX: &str = "kwshare1";

pub struct ShareFile {
    set_id: String,
    threshold: u8,
    shares: u8,
    bytes: Secret,
}

impl Clone for ShareFile {
    fn clone(&self) -> Self {
        ShareFile {
            set_id: self.set_id.clone(),
            threshold: self.threshold,
            shares: self.shares,
            bytes: self.bytes.duplicate(),
        }
    }
}

impl std::fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShareFile(set {}, index {}, [redacted])", self.set_id, self.index())
    }
}

fn check(body: &str) -> String {
    keyward_crypto::sha256(body.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl ShareFile {
    pub(crate) fn new(set_id: String, threshold: u8, shares: u8, bytes: Secret) -> Result<Self> {
        if bytes.len() < 2 {
            return Err(Error::BadShare("too short"));
        }
        Ok(ShareFile { set_id, threshold, shares, bytes })
    }

    pub fn set_id(&self) -> &str {
        &self.set_id
    }
    /// The share's x coordinate, 1..=shares.
    pub fn index(&self) -> u8 {
        self.bytes.expose().first().copied().unwrap_or(0)
    }
    pub fn threshold(&self) -> u8 {
        self.threshold
    }
    pub fn shares(&self) -> u8 {
        self.shares
    }
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.expose()
    }

    /// The file content to hand to a custodian. The returned text is itself secret.
    pub fn to_text(&self, header: &str) -> Secret {
        let body =
            format!("{PREFIX}:{}:{}:{}:{}", self.set_id, self.threshold, self.shares, B64.encode(self.bytes.expose()));
        let mut text = String::new();
        for line in header.lines() {
            text.push_str("# ");
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&body);
        text.push(':');
        text.push_str(&check(&body));
        text.push('\n');
        Secret::from_vec(text.into_bytes())
    }

    pub fn parse(text: &str) -> Result<Self> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or(Error::BadShare("the file has no share line"))?;
        let (body, sum) = line.rsplit_once(':').ok_or(Error::BadShare("the line is cut short"))?;
        let mut parts = body.split(':');
        if parts.next() != Some(PREFIX) {
            return Err(Error::BadShare("it does not start with kwshare1"));
        }
        if !keyward_crypto::ct_eq(check(body).as_bytes(), sum.as_bytes()) {
            return Err(Error::BadShare("its check digits do not match: it was mistyped or cut short"));
        }
        let set_id = parts.next().ok_or(Error::BadShare("missing set id"))?.to_owned();
        let threshold = parts.next().and_then(|s| s.parse().ok()).ok_or(Error::BadShare("bad threshold"))?;
        let shares = parts.next().and_then(|s| s.parse().ok()).ok_or(Error::BadShare("bad share count"))?;
        let bytes =
            parts.next().and_then(|s| B64.decode(s).ok()).ok_or(Error::BadShare("the share value is not base64"))?;
        if parts.next().is_some() {
            return Err(Error::BadShare("too many fields"));
        }
        ShareFile::new(set_id, threshold, shares, Secret::from_vec(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_typos() {
        let s = ShareFile::new("0011223344556677".into(), 2, 3, Secret::copy_from(&[1, 9, 9, 9])).unwrap();
        let text = String::from_utf8(s.to_text("share 1 of 3\nkeep it safe").expose().to_vec()).unwrap();
        let back = ShareFile::parse(&text).unwrap();
        assert_eq!((back.index(), back.threshold(), back.shares()), (1, 2, 3));
        assert_eq!(back.bytes(), s.bytes());
        let typo = text.replace("kwshare1:0011", "kwshare1:0012");
        assert!(ShareFile::parse(&typo).is_err());
        assert!(ShareFile::parse("# only a comment\n").is_err());
        assert!(ShareFile::parse(&text[..text.len() - 4]).is_err());
    }
}
