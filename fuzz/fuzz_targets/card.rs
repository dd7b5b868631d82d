//! The model card parser: `Card::from_json` on any text. No panic (debug assertions are on,
//! so arithmetic overflow counts), and an accepted card survives a round trip.
#![no_main]

use han_models::card::Card;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(card) = Card::from_json(text) {
        let _ = card.input_len();
        let again = Card::from_json(&card.to_json()).expect("a card's own JSON parses");
        assert_eq!(again.name, card.name);
        assert_eq!(again.input_len(), card.input_len());
    }
});
