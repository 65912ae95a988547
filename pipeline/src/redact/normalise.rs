//! A shadow of a text in which look-alike characters are plain ASCII, so the finders see
//! `4111 1111 1111 1111` whether it was typed with fullwidth or Arabic-Indic digits, with
//! non-breaking spaces, en dashes or zero-width spaces between the groups.
//!
//! The finders run on the shadow and every offset is mapped back to the original text, so
//! redaction always replaces the characters the user wrote. Most text is ASCII or holds no
//! look-alike; it is searched as it is, without a copy.

/// What a look-alike character stands for in the shadow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Folded {
    /// An ASCII character.
    Ascii(u8),
    /// Nothing: an invisible character (zero-width space, soft hyphen, byte-order mark).
    Dropped,
}

/// The code point of the digit zero in each Unicode block of ten decimal digits that chat
/// text is likely to hold (Arabic-Indic, Extended Arabic-Indic, NKo, the Indic scripts, Thai,
/// Lao, Tibetan, Myanmar, Khmer, Mongolian, fullwidth). Each block is the ten digits in order.
const DIGIT_ZEROS: [u32; 22] = [
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x17E0, 0x1810, 0x1946, 0xA9D0, 0xFF10,
];

/// The ASCII stand-in for a non-ASCII character, if it has one.
fn fold(c: char) -> Option<Folded> {
    let cp = c as u32;
    if cp < 0x80 {
        return None;
    }
    if let Some(zero) = DIGIT_ZEROS.iter().find(|&&z| (z..z + 10).contains(&cp)) {
        return Some(Folded::Ascii(b'0' + (cp - zero) as u8));
    }
    let folded = match cp {
        // Fullwidth forms of printable ASCII ("＋４４", "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ").
        0xFF01..=0xFF5E => Folded::Ascii((cp - 0xFF01 + 0x21) as u8),
        // Spaces: no-break, figure, thin, narrow no-break, ideographic and the rest of the
        // Unicode space separators.
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Folded::Ascii(b' '),
        // Hyphens and dashes, the minus sign, small and fullwidth hyphen-minus.
        0x2010..=0x2015 | 0x2212 | 0xFE58 | 0xFE63 => Folded::Ascii(b'-'),
        // Small commercial at; ideographic full stop.
        0xFE6B => Folded::Ascii(b'@'),
        0x3002 => Folded::Ascii(b'.'),
        // Soft hyphen, Mongolian vowel separator, zero-width space/joiners, word joiner,
        // byte-order mark: invisible, so they hide nothing.
        0x00AD | 0x180E | 0x200B..=0x200D | 0x2060 | 0xFEFF => Folded::Dropped,
        _ => return None,
    };
    Some(folded)
}

/// A reusable shadow: the folded text and, for each of its bytes, the byte of the original
/// text it came from.
#[derive(Debug, Default)]
pub(super) struct Shadow {
    text: String,
    /// `origin[i]` is the original offset of shadow byte `i`; one more entry maps the end.
    origin: Vec<u32>,
}

impl Shadow {
    /// Folds `text` into this shadow and returns it, or returns `None` (leaving the shadow
    /// untouched) when nothing in `text` folds, so the caller searches `text` itself.
    ///
    /// Offsets are kept in `u32`: a text longer than 4 GiB is searched unfolded rather than
    /// mapped wrongly (ingest caps messages far below that).
    pub(super) fn fold<'s>(&'s mut self, text: &str) -> Option<&'s str> {
        if text.is_ascii() || u32::try_from(text.len()).is_err() || !text.chars().any(|c| fold(c).is_some()) {
            return None;
        }
        self.text.clear();
        self.origin.clear();
        for (at, c) in text.char_indices() {
            match fold(c) {
                Some(Folded::Ascii(b)) => {
                    self.text.push(b as char);
                    self.origin.push(at as u32);
                }
                Some(Folded::Dropped) => {}
                None => {
                    self.text.push(c);
                    self.origin.extend((at..at + c.len_utf8()).map(|i| i as u32));
                }
            }
        }
        self.origin.push(text.len() as u32);
        Some(&self.text)
    }

    /// The original offset of a shadow offset (a char boundary of the shadow maps to a char
    /// boundary of the original). An entity that ends just before a dropped character takes
    /// it along: it is invisible.
    pub(super) fn origin(&self, at: usize) -> usize {
        self.origin[at] as usize
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Shadow;

    #[test]
    fn look_alikes_become_ascii_and_map_back() {
        let mut shadow = Shadow::default();
        let text = "tel ＋４４\u{a0}٢٠–7946\u{200b}0958!";
        let folded = shadow.fold(text).expect("folds").to_owned();
        assert_eq!(folded, "tel +44 20-79460958!");
        // "+44" in the shadow is "＋４４" in the original.
        let (start, end) = (shadow.origin(4), shadow.origin(7));
        assert_eq!(&text[start..end], "＋４４");
        // The zero-width space is inside the span that covers the digits around it.
        let (start, end) = (shadow.origin(11), shadow.origin(19));
        assert_eq!(&text[start..end], "7946\u{200b}0958");
        assert_eq!(shadow.origin(folded.len()), text.len());
    }

    #[test]
    fn text_without_look_alikes_is_not_copied() {
        let mut shadow = Shadow::default();
        assert!(shadow.fold("plain ascii 4111").is_none());
        assert!(shadow.fold("naïve café, Москва, 東京").is_none());
    }

    proptest! {
        /// Every char boundary of the shadow maps to a char boundary of the original, in order,
        /// and folding the original's slice between two mapped offsets gives the shadow's slice.
        #[test]
        fn offsets_map_to_char_boundaries(text in "[a-z0-9 ]{0,8}[\u{a0}\u{200b}\u{2013}\u{ff10}-\u{ff19}\u{660}-\u{669}é東]{1,6}[a-z0-9 \u{ff21}]{0,8}") {
            let mut shadow = Shadow::default();
            let Some(folded) = shadow.fold(&text) else { return Ok(()) };
            let folded = folded.to_owned();
            let mut last = 0;
            for (i, _) in folded.char_indices().chain([(folded.len(), ' ')]) {
                let o = shadow.origin(i);
                prop_assert!(text.is_char_boundary(o));
                prop_assert!(o >= last);
                last = o;
            }
            prop_assert_eq!(shadow.origin(folded.len()), text.len());
        }
    }
}
