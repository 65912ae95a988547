//! Word-level text helpers shared by facets, summaries and coordination: one tokenizer so
//! that "the same n-gram" means the same thing in every stage.

use std::sync::LazyLock;

use rustc_hash::FxHashSet;

/// Byte spans of the words of `text`: runs of alphanumeric characters, apostrophes and
/// hyphens inside a word kept ("don't", "well-known"). Placeholders such as `[PERSON]` come
/// out as one word including the brackets, so they can be recognised and skipped.
pub fn word_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, c) = chars.next()?;
            if c == '[' {
                // `[UPPER_CASE]` placeholder: one token.
                let rest = &bytes[start + 1..];
                let len = rest.iter().take_while(|b| b.is_ascii_uppercase() || **b == b'_').count();
                if len > 0 && rest.get(len) == Some(&b']') {
                    let end = start + len + 2;
                    while chars.peek().is_some_and(|(i, _)| *i < end) {
                        chars.next();
                    }
                    return Some((start, end));
                }
                continue;
            }
            if !c.is_alphanumeric() {
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_alphanumeric() {
                    end = i + c.len_utf8();
                    chars.next();
                } else if (c == '\'' || c == '’' || c == '-') && text[i + c.len_utf8()..].chars().next().is_some_and(char::is_alphanumeric) {
                    chars.next();
                } else {
                    break;
                }
            }
            return Some((start, end));
        }
    })
}

/// A short word as one integer key: its bytes, ASCII letters lower-cased, packed little-endian
/// into a `u128` (zero bytes pad; words hold none). `None` for words over 16 bytes or with
/// bytes outside ASCII when `ascii_only`.
///
/// Why: word lexicons are looked up for most words of every message (names, function words).
/// Hashing a `u128` and comparing it is a few instructions; a `str` key costs a lower-cased
/// copy, a byte-wise hash and a `memcmp` call.
#[inline]
pub fn packed_lower(word: &[u8], ascii_only: bool) -> Option<u128> {
    if word.len() > 16 || (ascii_only && !word.is_ascii()) {
        return None;
    }
    let mut halves = [0u64; 2];
    for (i, &b) in word.iter().enumerate() {
        halves[i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    // A-Z lower-cased eight bytes at a time: 0x80 (the mark of a hit) >> 2 is 0x20.
    let lower = |half: u64| half | (swar::in_range(half, b'A', b'Z') >> 2);
    Some(u128::from(lower(halves[0])) | (u128::from(lower(halves[1])) << 64))
}

/// Tests on eight bytes at once in a `u64` (SWAR), for the byte scans on every message
/// (digit runs, letter runs, word keys). A test returns the word with the high bit (0x80) of
/// each matching byte set and every other bit clear.
pub(crate) mod swar {
    const ONES: u64 = 0x0101_0101_0101_0101;
    /// The high bit of every byte: what a test sets for a matching byte.
    pub(crate) const HIGH: u64 = ONES * 0x80;
    const LOW7: u64 = ONES * 0x7f;

    /// The bytes `lo <= b <= hi` (both ASCII); bytes from 0x80 up never match.
    #[inline]
    pub(crate) fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
        debug_assert!(0 < lo && lo <= hi && hi < 0x80);
        let low = x & LOW7;
        // `low + (0x80 - k)` sets a byte's high bit iff that byte is >= k; it stays below
        // 0x100, so no carry crosses into the next byte.
        let at_least_lo = (low + ONES * (0x80 - u64::from(lo))) & HIGH;
        let above_hi = (low + ONES * (0x80 - u64::from(hi) - 1)) & HIGH;
        at_least_lo & !above_hi & !x & HIGH
    }

    /// The bytes equal to `b`, exactly (no carries cross bytes).
    #[inline]
    pub(crate) fn eq(x: u64, b: u8) -> u64 {
        let y = x ^ (ONES * u64::from(b));
        !(((y & LOW7) + LOW7) | y) & HIGH
    }

    /// `x` with 0x20 set in every byte: folds ASCII A-Z onto a-z (and keeps the high bits).
    #[inline]
    pub(crate) fn fold_case(x: u64) -> u64 {
        x | (ONES * 0x20)
    }

    /// Index of the first byte at or after `from` that `hits` marks (eight at a time) or, in the
    /// last under-eight bytes, that `hit` accepts; `bytes.len()` if none. The two must agree.
    #[inline]
    pub(crate) fn position(bytes: &[u8], from: usize, hits: impl Fn(u64) -> u64, hit: impl Fn(u8) -> bool) -> usize {
        let mut i = from;
        while let Some(word) = bytes.get(i..i + 8) {
            let marked = hits(u64::from_le_bytes(word.try_into().expect("eight bytes")));
            if marked != 0 {
                return i + (marked.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while i < bytes.len() && !hit(bytes[i]) {
            i += 1;
        }
        i
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub fn truncate_at_char(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether a token is a redaction placeholder like `[PERSON]`.
pub fn is_placeholder(word: &str) -> bool {
    word.starts_with('[') && word.ends_with(']')
}

/// Lower-cases `word` into `out` (cleared first), without allocating when `out` has room.
pub fn lower_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// Function words of the languages the fixtures and most traffic use. Distinctive phrases,
/// names and keywords never consist only of these.
pub fn is_stopword(lower: &str) -> bool {
    STOPWORDS.contains(lower)
}

static STOPWORDS: LazyLock<FxHashSet<&'static str>> = LazyLock::new(|| {
    const WORDS: &str = "a an the and or but if then so of to in on at by for with from about into over under as is are was were be been being am do does did done have has had having i me my mine you your yours he him his she her hers it its we us our they them their this that these those there here what which who whom whose when where why how can could would should will shall may might must not no yes all any some each every more most other such own same than too very just also only again out up down off per via i'm i've i'd i'll it's don't can't won't what's let's please thanks thank hi hello okay ok get got give make like want need know tell one two";
    const OTHER: &str = "el la los las un una unos unas y o de del al en con por para que qué como cómo es son mi mis tu tus su sus me te se lo le les yo más muy sin sobre le la les un une des et ou de du au aux en dans avec pour par que qui quoi comment est sont mon ma mes ton ta tes son sa ses je tu il elle nous vous ils elles ce cette plus très sans sur pas ne der die das ein eine einen einem einer und oder von zu im in mit für auf ist sind mein meine dein deine sein seine ich du er sie es wir ihr wie was wenn nicht noch o a os as um uma e ou de do da dos das em no na com por para que como é são meu minha seu sua eu você ele ela mais muito sem il lo gli le un uno una e o di del della in con per che come è sono mio mia tuo tua io";
    WORDS.split_whitespace().chain(OTHER.split_whitespace()).collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        word_spans(text).map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn splits_words_and_keeps_placeholders_whole() {
        assert_eq!(words("Hi [PERSON], don't re-send it!"), ["Hi", "[PERSON]", "don't", "re-send", "it"]);
        assert_eq!(words("¿Cómo está? Ça va."), ["Cómo", "está", "Ça", "va"]);
        assert_eq!(words("[not a placeholder] x"), ["not", "a", "placeholder", "x"]);
        assert_eq!(words("#StopHarborBill 2x+5=17"), ["StopHarborBill", "2x", "5", "17"]);
        assert!(words("").is_empty());
        assert!(words("-- ' ").is_empty());
    }

    /// What `packed_lower` must equal: the lower-cased bytes, little-endian, zero-padded.
    fn packed_naive(word: &[u8]) -> u128 {
        let mut buf = [0u8; 16];
        for (slot, b) in buf.iter_mut().zip(word) {
            *slot = b.to_ascii_lowercase();
        }
        u128::from_le_bytes(buf)
    }

    #[test]
    fn packs_short_words_lower_cased() {
        assert_eq!(packed_lower(b"Sarah", true), packed_lower(b"sARAH", true));
        assert_ne!(packed_lower(b"sarah", true), packed_lower(b"sara", true));
        assert_eq!(packed_lower(b"@[`{", true), Some(packed_naive(b"@[`{")));
        assert_eq!(packed_lower("José".as_bytes(), true), None);
        assert_eq!(packed_lower("José".as_bytes(), false), Some(packed_naive("José".as_bytes())));
        assert_eq!(packed_lower(b"abcdefghijklmnopq", false), None);
        assert_eq!(packed_lower(b"ABCDEFGHIJKLMNOP", true), packed_lower(b"abcdefghijklmnop", true));
    }

    proptest::proptest! {
        #[test]
        fn packing_matches_byte_wise_lower_casing(word in proptest::collection::vec(1u8..=255, 0..=16)) {
            proptest::prop_assert_eq!(packed_lower(&word, false), Some(packed_naive(&word)));
        }
    }

    #[test]
    fn lowercases_without_surprises() {
        let mut s = String::new();
        lower_into("ÉCRIS", &mut s);
        assert_eq!(s, "écris");
        lower_into("Post", &mut s);
        assert_eq!(s, "post");
        assert!(is_stopword("the") && is_stopword("una") && !is_stopword("recipe"));
    }
}
