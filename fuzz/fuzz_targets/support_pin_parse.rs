//! Fuzzes `SupportPin::parse`: it must never panic, and whatever it accepts must be six ASCII
//! digits that parse again to the same PIN. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run support_pin_parse`
//! (cargo-fuzz wants nightly flags; the bootstrap variable allows them on stable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinpanel::domain::SupportPin;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pin) = SupportPin::parse(text) {
        let digits = pin.expose();
        assert_eq!(digits, text);
        assert_eq!(digits.len(), 6);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert!(pin.matches(text));
        assert_eq!(SupportPin::parse(digits).ok(), Some(pin));
    }
});
