//! `keyward-kmip`: a pure codec for KMIP's TTLV (Tag-Type-Length-Value) wire format.
//!
//! This crate turns bytes into an [`Item`] tree and back, and knows the names and values of KMIP
//! tags and enumerations. It does no IO, has no async, contains no `unsafe`, and does not panic on
//! any input: everything a network peer controls is validated and reported as a [`DecodeError`].
//! Message semantics (which operations exist, which fields a request must have) belong to the
//! server built on top of it.
//!
//! # Wire format
//!
//! Every item is a 3-byte tag, a 1-byte type, a 4-byte big-endian length and the value, zero-padded
//! to a multiple of 8 bytes (KMIP 1.0–1.4 and 2.0/2.1 §9.1). Types `0x01`–`0x0B` are supported,
//! including KMIP 2.0's Date-Time Extended.
//!
//! # Reading requests from a stream
//!
//! ```
//! use keyward_kmip::{HEADER_LEN, Limits, decode, message_length};
//!
//! # fn read_exact(buf: &mut [u8]) {}
//! let limits = Limits::default();
//! let mut header = [0u8; HEADER_LEN];
//! read_exact(&mut header);
//! # let header = [0x42, 0x00, 0x78, 0x01, 0, 0, 0, 0];
//! match message_length(&header, &limits) {
//!     Ok(Some(total)) => {
//!         let mut message = header.to_vec();
//!         message.resize(total, 0);
//!         read_exact(&mut message[HEADER_LEN..]);
//!         match decode(&message, &limits) {
//!             Ok(request) => { /* dispatch */ }
//!             Err(e) if e.framing_intact() => { /* answer "Invalid Message", keep the connection */ }
//!             Err(_) => { /* close the connection */ }
//!         }
//!     }
//!     Ok(None) => { /* need more header bytes */ }
//!     Err(_) => { /* unframeable: close the connection */ }
//! }
//! ```
//!
//! # Building and inspecting items
//!
//! ```
//! use keyward_kmip::enums::{ObjectType, Operation};
//! use keyward_kmip::{Item, Tag, decode, encode, Limits};
//!
//! let batch_item = Item::structure(Tag::BATCH_ITEM, vec![
//!     Item::enumeration(Tag::OPERATION, Operation::Get),
//!     Item::structure(Tag::REQUEST_PAYLOAD, vec![Item::text(Tag::UNIQUE_IDENTIFIER, "key-1")]),
//! ]);
//! let bytes = encode(&batch_item);
//! let back = decode(&bytes, &Limits::default()).unwrap();
//! assert_eq!(back, batch_item);
//! assert_eq!(back.child(Tag::OPERATION).and_then(|i| i.as_kmip_enum()), Some(Operation::Get));
//! let id = back.child(Tag::REQUEST_PAYLOAD).and_then(|p| p.child(Tag::UNIQUE_IDENTIFIER));
//! assert_eq!(id.and_then(Item::as_text), Some("key-1"));
//! # let _ = ObjectType::SymmetricKey;
//! ```
//!
//! # Where the numbers come from
//!
//! The tag table ([`Tag`]) and the enumerations ([`enums`]) follow the OASIS KMIP 1.0–1.4 and 2.0
//! specifications. Every value was cross-checked between two independent transcriptions of the spec
//! tables (PyKMIP's `kmip/core/enums.py` and gemalto/kmip-go's generated 1.4/2.0 tables), and the
//! few values only one of them carries (KMIP 2.0 usage-mask bits, Offset/Located Items) against
//! libkmip as a third. Tag values are exercised by unit tests so a slip shows up as a failure.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![warn(missing_docs)]

mod decode;
mod display;
mod encode;
pub mod enums;
mod error;
mod item;
mod tag;

pub use decode::{HEADER_LEN, Limits, decode, message_length};
pub use display::{Redacted, Unredacted};
pub use encode::{encode, encode_into, encoded_len, try_encode, try_encode_into};
pub use enums::{KmipEnum, UnknownEnumValue};
pub use error::{DecodeError, EncodeError};
pub use item::{Item, ItemType, Value};
pub use tag::{InvalidTag, Tag};
