//! Fuzz target: the decoder must never panic, and whatever it accepts must re-encode to exactly
//! the input bytes (canonical encoding). The framing helper and the tree dump ride along because
//! they also see attacker-controlled data.

#![no_main]

use keyward_kmip::{Limits, decode, encode, message_length};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = message_length(data, &limits);
    if let Ok(item) = decode(data, &limits) {
        assert_eq!(encode(&item), data, "decoded input must re-encode byte for byte");
        let _ = item.to_string();
        let _ = item.redacted().to_string();
        let _ = item.unredacted().to_string();
    }
});
