//! Checksums and structural checks that turn pattern candidates into confident findings.
//!
//! Patterns alone over-match (any 16 digits, any 34 base58 characters); these checks are what
//! keep order numbers and hashes out of the placeholders while never letting a real card, IBAN
//! or wallet through.

/// Luhn (mod 10) check over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// A payment card number: 13–19 digits, a known issuer prefix, and a valid Luhn digit.
pub fn card_valid(digits: &[u8]) -> bool {
    let n = digits.len();
    if !(13..=19).contains(&n) || !matches!(digits[0], b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
        return false;
    }
    // 13-digit numbers starting with 1 are overwhelmingly not cards (UATP is 15 digits).
    if digits[0] == b'1' && n == 13 {
        return false;
    }
    // A run of one repeated digit passes Luhn for some lengths but is filler, not a card.
    if digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    luhn_valid(digits)
}

/// What a 9-digit US taxpayer number is, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxId {
    /// A Social Security number.
    Ssn,
    /// An Individual Taxpayer Identification Number (area 9xx, restricted group ranges).
    Itin,
}

/// Classifies 9 ASCII digits as an SSN or ITIN following the SSA's and IRS's published rules.
pub fn us_tax_id(digits: &[u8]) -> Option<TaxId> {
    if digits.len() != 9 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        digits[r].iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let (area, group, serial) = (num(0..3), num(3..5), num(5..9));
    if digits.iter().all(|&d| d == digits[0]) {
        return None;
    }
    if area >= 900 {
        let itin_group =
            matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
        return itin_group.then_some(TaxId::Itin);
    }
    if area == 0 || area == 666 || group == 0 || serial == 0 {
        return None;
    }
    // Numbers famous for appearing in advertising (Woolworth's wallet card) and in examples.
    if matches!(digits, b"078051120" | b"219099999" | b"123456789") {
        return None;
    }
    Some(TaxId::Ssn)
}

/// Expected IBAN length by country (SWIFT IBAN registry).
fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"AD" => 24, b"AE" => 23, b"AL" => 28, b"AT" => 20, b"AZ" => 28, b"BA" => 20,
        b"BE" => 16, b"BG" => 22, b"BH" => 22, b"BI" => 27, b"BR" => 29, b"BY" => 28,
        b"CH" => 21, b"CR" => 22, b"CY" => 28, b"CZ" => 24, b"DE" => 22, b"DJ" => 27,
        b"DK" => 18, b"DO" => 28, b"EE" => 20, b"EG" => 29, b"ES" => 24, b"FI" => 18,
        b"FK" => 18, b"FO" => 18, b"FR" => 27, b"GB" => 22, b"GE" => 22, b"GI" => 23,
        b"GL" => 18, b"GR" => 27, b"GT" => 28, b"HR" => 21, b"HU" => 28, b"IE" => 22,
        b"IL" => 23, b"IQ" => 23, b"IS" => 26, b"IT" => 27, b"JO" => 30, b"KW" => 30,
        b"KZ" => 20, b"LB" => 28, b"LC" => 32, b"LI" => 21, b"LT" => 20, b"LU" => 20,
        b"LV" => 21, b"LY" => 25, b"MC" => 27, b"MD" => 24, b"ME" => 22, b"MK" => 19,
        b"MN" => 20, b"MR" => 27, b"MT" => 31, b"MU" => 30, b"NI" => 28, b"NL" => 18,
        b"NO" => 15, b"OM" => 23, b"PK" => 24, b"PL" => 28, b"PS" => 29, b"PT" => 25,
        b"QA" => 29, b"RO" => 24, b"RS" => 22, b"RU" => 33, b"SA" => 24, b"SC" => 31,
        b"SD" => 18, b"SE" => 24, b"SI" => 19, b"SK" => 24, b"SM" => 27, b"SO" => 23,
        b"ST" => 25, b"SV" => 28, b"TL" => 23, b"TN" => 24, b"TR" => 26, b"UA" => 29,
        b"VA" => 22, b"VG" => 24, b"XK" => 20, b"YE" => 30,
        _ => return None,
    };
    Some(len)
}

/// Validates a compact IBAN (upper-case letters and digits, no spaces): registry length for
/// its country and the ISO 13616 mod-97 check.
pub fn iban_valid(compact: &[u8]) -> bool {
    if compact.len() < 15 || !compact[..2].iter().all(u8::is_ascii_uppercase) {
        return false;
    }
    if iban_length(&compact[..2]) != Some(compact.len()) {
        return false;
    }
    if !compact[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut rem = 0u32;
    let rearranged = compact[4..].iter().chain(&compact[..4]);
    for &c in rearranged {
        match c {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// The registry length of an IBAN for the country code at the start of `text`.
pub fn iban_expected_length(text: &[u8]) -> Option<usize> {
    text.get(..2).and_then(iban_length)
}

/// Base58Check address of Bitcoin (P2PKH/P2SH), Litecoin or Dogecoin.
pub fn base58_address_valid(text: &str) -> bool {
    match bs58::decode(text).with_check(None).into_vec() {
        Ok(payload) => {
            payload.len() == 21 && matches!(payload[0], 0x00 | 0x05 | 0x30 | 0x32 | 0x1e | 0x16)
        }
        Err(_) => false,
    }
}

/// Bech32/Bech32m segwit address (BIP-173/350) for Bitcoin main/test net or Litecoin.
pub fn bech32_address_valid(text: &str) -> bool {
    match bech32::segwit::decode(text) {
        Ok((hrp, _version, _program)) => {
            matches!(hrp.as_str(), "bc" | "tb" | "ltc" | "BC" | "TB" | "LTC")
        }
        Err(_) => false,
    }
}

/// An Ethereum address `0x` + 40 hex digits: all-lower and all-upper forms carry no checksum;
/// mixed case must satisfy EIP-55.
pub fn eth_address_valid(text: &str) -> bool {
    let hex = match text.strip_prefix("0x") {
        Some(h) if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) => h,
        _ => return false,
    };
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    if !(has_lower && has_upper) {
        return true;
    }
    use sha3::{Digest, Keccak256};
    let lower = hex.to_ascii_lowercase();
    let hash = Keccak256::digest(lower.as_bytes());
    hex.bytes().enumerate().all(|(i, b)| {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0xf;
        match b {
            b'a'..=b'f' => nibble < 8,
            b'A'..=b'F' => nibble >= 8,
            _ => true,
        }
    })
}

/// Shannon entropy in bits per character, over bytes.
pub fn entropy(text: &[u8]) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in text {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_cards() {
        assert!(card_valid(b"4111111111111111"));
        assert!(card_valid(b"371449635398431"));
        assert!(!card_valid(b"4012888888881882"));
        assert!(!card_valid(b"1748503543012"));
        assert!(!card_valid(b"0000000000000000"));
    }

    #[test]
    fn ssn_and_itin_rules() {
        assert_eq!(us_tax_id(b"078051123"), Some(TaxId::Ssn));
        assert_eq!(us_tax_id(b"078051120"), None);
        assert_eq!(us_tax_id(b"666000000"), None);
        assert_eq!(us_tax_id(b"078001123"), None);
        assert_eq!(us_tax_id(b"911701234"), Some(TaxId::Itin));
        assert_eq!(us_tax_id(b"911891234"), None);
    }

    #[test]
    fn iban_checksums() {
        assert!(iban_valid(b"DE89370400440532013000"));
        assert!(iban_valid(b"GB29NWBK60161331926819"));
        assert!(!iban_valid(b"DE89370400440532013001"));
        assert!(!iban_valid(b"DE8937040044053201300"));
        assert!(!iban_valid(b"ZZ89370400440532013000"));
    }

    #[test]
    fn crypto_addresses() {
        assert!(base58_address_valid("16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ"));
        assert!(base58_address_valid("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!base58_address_valid("16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ2"));
        assert!(bech32_address_valid("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        assert!(!bech32_address_valid("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx"));
        assert!(eth_address_valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
        assert!(!eth_address_valid("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
        assert!(eth_address_valid("0x52908400098527886e0f7030069857d2e4169ee7"));
    }

    #[test]
    fn entropy_separates_keys_from_words() {
        assert!(entropy(b"aaaaaaaa") < 0.1);
        assert!(entropy(b"Zx8kQ2vN7pL4mR9t") > 3.5);
    }
}
