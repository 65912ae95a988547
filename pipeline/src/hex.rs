//! Lower-case hexadecimal text for keys, digests, signatures and share bytes: one definition
//! for every module that writes or reads them.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the two lower-case digits of `byte`.
pub(crate) fn push_byte(out: &mut String, byte: u8) {
    out.push(DIGITS[usize::from(byte >> 4)] as char);
    out.push(DIGITS[usize::from(byte & 15)] as char);
}

/// `bytes` as lower-case hex.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_byte(&mut out, b);
    }
    out
}

/// Exactly `N` bytes from `2N` hex digits of either case, or `None`.
pub(crate) fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes from an even number of hex digits of either case, or `None`.
pub(crate) fn decode_vec(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits.chunks_exact(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xab, 0xff];
        assert_eq!(encode(&bytes), "00017f80abff");
        assert_eq!(decode::<6>("00017F80ABff"), Some(bytes));
        assert_eq!(decode::<6>("00017f80ab"), None, "too short");
        assert_eq!(decode_vec("abc"), None, "odd length");
        assert_eq!(decode_vec("zz"), None);
        assert_eq!(decode_vec("é1"), None, "multi-byte characters are not digits");
        assert_eq!(decode_vec(""), Some(Vec::new()));
    }
}
