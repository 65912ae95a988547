//! Language identification for conversations.
//!
//! Measured on this project's chat fixtures (2 cores, `examples/stage_timings.rs`): lingua in
//! low-accuracy mode costs ~400 µs per text and whatlang ~80 µs; at a million conversations a
//! night either alone would dominate ingest. So detection runs in three tiers, cheapest first:
//!
//! 1. script: Cyrillic, Han, kana, Hangul, Arabic and Devanagari text decide by script alone;
//! 2. function words: Latin-script text is scored by its function words ("the", "und", "les",
//!    "que", …), one hash lookup per word, which settles almost every sentence-length request;
//! 3. lingua, on a bounded prefix, for what is left: a tie between languages is settled by a
//!    lingua detector built from the tied languages only (two or three instead of eighteen:
//!    a fraction of the n-gram lookups, and the answer stays one the function words allow),
//!    text with no function words at all by one built from every language here.

use lingua::{Language, LanguageDetectorBuilder};

/// Shortest text (in letters) worth classifying; below it the answer is `und`.
const MIN_LETTERS: usize = 8;
/// How much of a text is looked at.
const PREFIX_BYTES: usize = 240;
/// How much of a text lingua (the slow tier) looks at.
const LINGUA_BYTES: usize = 120;

/// A thread-safe language detector returning ISO 639-1 codes (`und` when unknown).
pub struct LanguageDetector {
    function_words: FunctionWords,
    inner: lingua::LanguageDetector,
}

impl std::fmt::Debug for LanguageDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LanguageDetector")
    }
}

const LANGUAGES: &[Language] = &[
    Language::English,
    Language::French,
    Language::German,
    Language::Spanish,
    Language::Portuguese,
    Language::Italian,
    Language::Russian,
    Language::Chinese,
    Language::Japanese,
    Language::Arabic,
    Language::Turkish,
    Language::Polish,
    Language::Dutch,
    Language::Ukrainian,
    Language::Korean,
    Language::Hindi,
    Language::Indonesian,
    Language::Vietnamese,
];

impl LanguageDetector {
    /// Loads the compiled-in language models (lazily, on first use per language).
    pub fn new() -> Self {
        let inner = LanguageDetectorBuilder::from_languages(LANGUAGES).with_low_accuracy_mode().build();
        LanguageDetector { function_words: FunctionWords::new(), inner }
    }

    /// The text's language when its script or its function words settle it (the two cheap
    /// tiers), else `None`: no statistical guess, which proper nouns could sway ("Ricardo
    /// had given Ana…" is English however Spanish its names).
    pub fn detect_by_words(&self, text: &str) -> Option<&'static str> {
        match self.cheap_tiers(text) {
            Ok(code) if code != "und" => Some(code),
            _ => None,
        }
    }

    /// The script and function-word tiers: a verdict, or the prefix and the languages tied on
    /// function words (none: no evidence) for lingua.
    fn cheap_tiers<'t>(&self, text: &'t str) -> Result<&'static str, (&'t str, u16)> {
        let prefix = crate::text::truncate_at_char(text, PREFIX_BYTES);
        if prefix.is_ascii() {
            // Latin script for sure: skip the script census.
            if prefix.bytes().filter(u8::is_ascii_alphabetic).take(MIN_LETTERS).count() < MIN_LETTERS {
                return Ok("und");
            }
        } else {
            if prefix.chars().filter(|c| c.is_alphabetic()).take(MIN_LETTERS).count() < MIN_LETTERS {
                return Ok("und");
            }
            if let Some(code) = by_script(prefix) {
                return Ok(code);
            }
        }
        match self.function_words.detect(prefix) {
            FunctionWordVerdict::Language(code) => Ok(code),
            FunctionWordVerdict::Tie(tied) => Err((prefix, tied)),
            FunctionWordVerdict::NoEvidence => Err((prefix, 0)),
        }
    }

    /// ISO 639-1 code of the text's language, or `und`.
    pub fn detect(&self, text: &str) -> &'static str {
        let (prefix, candidates) = match self.cheap_tiers(text) {
            Ok(code) => return code,
            Err(undecided) => undecided,
        };
        // lingua's cost grows with the text; its first words carry the verdict.
        let head = crate::text::truncate_at_char(prefix, LINGUA_BYTES);
        // The texts that reach lingua are short, and short requests repeat (popular
        // questions, templates): remember recent verdicts per thread.
        let digest = fx_hash(head) ^ u64::from(candidates);
        if let Some(code) = LINGUA_CACHE.with(|c| c.borrow().get(&digest).copied()) {
            return code;
        }
        let code = if candidates == 0 {
            self.inner.detect_language_of(head).map_or("und", iso_639_1)
        } else {
            TIE_DETECTORS.with(|d| {
                let mut detectors = d.borrow_mut();
                let detector = detectors.entry(candidates).or_insert_with(|| tie_detector(candidates));
                // lingua declines only on an exact tie of its own: the first tied language.
                detector.detect_language_of(head).map_or(FUNCTION_WORDS[candidates.trailing_zeros() as usize].0, iso_639_1)
            })
        };
        LINGUA_CACHE.with(|c| {
            let mut cache = c.borrow_mut();
            if cache.len() >= LINGUA_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(digest, code);
        });
        code
    }
}

impl Default for LanguageDetector {
    fn default() -> Self {
        Self::new()
    }
}

/// Verdicts remembered per thread before the cache is cleared.
const LINGUA_CACHE_ENTRIES: usize = 16 * 1024;

thread_local! {
    static LINGUA_CACHE: std::cell::RefCell<rustc_hash::FxHashMap<u64, &'static str>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
    /// lingua detectors for sets of tied languages (bit set over `FUNCTION_WORDS`). Few sets
    /// occur (mostly pairs), and lingua shares its models between detectors, so one costs a
    /// few hash sets.
    static TIE_DETECTORS: std::cell::RefCell<rustc_hash::FxHashMap<u16, lingua::LanguageDetector>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
}

/// A lingua detector that can only answer one of the `tied` languages.
fn tie_detector(tied: u16) -> lingua::LanguageDetector {
    let languages: Vec<Language> =
        FUNCTION_WORDS.iter().enumerate().filter(|(i, _)| tied & (1 << i) != 0).map(|(_, (code, _))| language_of(code)).collect();
    LanguageDetectorBuilder::from_languages(&languages).with_low_accuracy_mode().build()
}

/// What the function words say about a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FunctionWordVerdict {
    /// One language leads.
    Language(&'static str),
    /// These languages (bit set over `FUNCTION_WORDS`) share the lead.
    Tie(u16),
    /// No function word of any language.
    NoEvidence,
}

fn fx_hash(text: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(text)
}

/// Decides by writing system alone where one system means one language here.
fn by_script(text: &str) -> Option<&'static str> {
    let (mut letters, mut cyrillic, mut ukrainian, mut han, mut kana, mut hangul, mut arabic, mut devanagari) = (0, 0, 0, 0, 0, 0, 0, 0);
    for c in text.chars() {
        if !c.is_alphabetic() {
            continue;
        }
        letters += 1;
        match c {
            'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ' => {
                cyrillic += 1;
                ukrainian += 1;
            }
            '\u{0400}'..='\u{04FF}' => cyrillic += 1,
            '\u{3040}'..='\u{30FF}' => kana += 1,
            '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' => han += 1,
            '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}' => hangul += 1,
            '\u{0600}'..='\u{06FF}' => arabic += 1,
            '\u{0900}'..='\u{097F}' => devanagari += 1,
            _ => {}
        }
    }
    let majority = |n: usize| n * 2 > letters;
    if majority(cyrillic) {
        Some(if ukrainian > 0 { "uk" } else { "ru" })
    } else if kana > 0 && majority(kana + han) {
        Some("ja")
    } else if majority(han) {
        Some("zh")
    } else if majority(hangul) {
        Some("ko")
    } else if majority(arabic) {
        Some("ar")
    } else if majority(devanagari) {
        Some("hi")
    } else {
        None
    }
}

/// Latin-script languages scored by function words.
const FUNCTION_WORDS: &[(&str, &str)] = &[
    ("en", "the and is are was were to of in that it for you with on this have be not but what how can my me do i your an a at by from they we if or would should could about there which when it's so all some any one get like just than then also into out up no yes please thanks thank more less tell give make write explain help why who where much many does did"),
    ("es", "el la los las de que y en un una es por para con no se su al lo como más pero sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante mi qué cómo puedes"),
    ("fr", "le la les de des du et est en un une que qui dans pour pas sur au avec ce il elle ne se plus par je vous nous mon ma mes son sa leurs comment quelle quel peux faut très"),
    ("de", "der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es an als wie wir ich sie er kann wenn noch mein meine dass oder aber bei nach wird sind was warum"),
    ("pt", "o a os as de que e do da em um uma para com não no na por mais dos das como mas ao ele ela seu sua ou quando muito já eu também só pelo pela isso meu minha você está são"),
    ("it", "il lo la i gli le di che e è un una per non in con del della dei su come ma anche sono mi ti ci si questo questa quando perché molto può puoi mio mia"),
    ("nl", "de het een en van ik te dat die in is niet op zijn met voor hij het maar ook als aan er om dan wat bij nog naar hoe kan mijn je jij"),
    ("pl", "i w na nie z się do to że jest o jak ale po co tak za od mnie czy jego już tylko może być są dla mój moja jestem"),
    ("tr", "ve bir bu da de için ile çok ne ben sen o mi mı daha ama gibi var yok olan nasıl neden benim ki"),
    ("id", "yang dan di ini itu dengan untuk tidak dari dalam akan pada juga saya ke karena ada bisa anda apa bagaimana kami mereka"),
    ("vi", "của và là những không được có trong một cho với này người các tôi bạn làm như thế nào đã sẽ"),
];

/// Letters that point at one language, used only to break function-word ties.
const DIACRITIC_HINTS: &[(&str, &str)] = &[
    ("¿¡ñÑ", "es"),
    ("ãõÃÕ", "pt"),
    ("äöüßÄÖÜ", "de"),
    ("èêëçœÈÊ", "fr"),
    ("ìòÌÒ", "it"),
    ("łśżźęąćńŁŚŻŹ", "pl"),
    ("ğşıİĞŞ", "tr"),
    ("ơưđăƠƯĐĂ", "vi"),
];

/// The best (index, score) and the runner-up's score.
fn leader(scores: &[u32; 16]) -> ((usize, u32), u32) {
    let mut best = (0, 0u32);
    let mut second = 0u32;
    for (i, &s) in scores.iter().enumerate().take(FUNCTION_WORDS.len()) {
        if s > best.1 {
            second = best.1;
            best = (i, s);
        } else if s > second {
            second = s;
        }
    }
    (best, second)
}

/// Longest function word in the lists, in bytes ("bagaimana").
const MAX_FUNCTION_WORD_BYTES: usize = 10;

/// Function-word scorer: one hash lookup per short word of the prefix.
struct FunctionWords {
    /// Packed lower-case word (`text::packed_lower`) → bit set of languages (index into
    /// `FUNCTION_WORDS`).
    words: rustc_hash::FxHashMap<u128, u16>,
}

impl FunctionWords {
    fn new() -> Self {
        let mut words = rustc_hash::FxHashMap::default();
        for (i, (_, list)) in FUNCTION_WORDS.iter().enumerate() {
            for w in list.split_whitespace() {
                let key = crate::text::packed_lower(w.as_bytes(), false).expect("function words are at most 16 bytes");
                *words.entry(key).or_insert(0u16) |= 1 << i;
            }
        }
        FunctionWords { words }
    }

    /// Adds the score of one word, lower-cased except perhaps for ASCII letters.
    #[inline]
    fn score(&self, word: &[u8], scores: &mut [u32; 16]) {
        let Some(key) = crate::text::packed_lower(word, false) else { return };
        if let Some(&mask) = self.words.get(&key) {
            // A word only one language uses is stronger evidence than a shared one ("a").
            let weight = if mask.count_ones() == 1 { 2 } else { 1 };
            let mut languages = mask;
            while languages != 0 {
                scores[languages.trailing_zeros() as usize] += weight;
                languages &= languages - 1;
            }
        }
    }

    /// The language with the highest function-word score, unless there is a tie (words unique
    /// to one language score 2, shared ones 1). On the fixtures (146k conversations) this
    /// alone is as accurate as sending weak leads to lingua (98.6%) at a fifth of the cost.
    fn detect(&self, text: &str) -> FunctionWordVerdict {
        let mut scores = [0u32; 16];
        let mut buf = [0u8; 24];
        if text.is_ascii() {
            // Bytes, not chars: this runs on every conversation.
            let bytes = text.as_bytes();
            let is_word_byte = |b: u8| b.is_ascii_alphabetic() || b == b'\'';
            let mut i = 0;
            while i < bytes.len() {
                while i < bytes.len() && !is_word_byte(bytes[i]) {
                    i += 1;
                }
                let start = i;
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                let len = i - start;
                // Function words are short; longer words cannot score.
                if len == 0 || len > MAX_FUNCTION_WORD_BYTES {
                    continue;
                }
                // (`score` lower-cases ASCII as it packs the word.)
                self.score(&bytes[start..i], &mut scores);
            }
        } else {
            for word in text.split(|c: char| !(c.is_alphabetic() || c == '\'')).filter(|w| !w.is_empty()) {
                if word.len() > MAX_FUNCTION_WORD_BYTES {
                    continue;
                }
                let mut n = 0;
                for c in word.chars().flat_map(char::to_lowercase) {
                    let len = c.len_utf8();
                    if n + len > buf.len() {
                        break;
                    }
                    c.encode_utf8(&mut buf[n..]);
                    n += len;
                }
                self.score(&buf[..n], &mut scores);
            }
        }
        let (mut best, mut second) = leader(&scores);
        if best.1 == second && best.1 > 0 && !text.is_ascii() {
            // A tie: letters only some languages write break it ("¿", "ñ" → Spanish).
            for c in text.chars() {
                for &(chars, language) in DIACRITIC_HINTS {
                    if chars.contains(c)
                        && let Some(i) = FUNCTION_WORDS.iter().position(|(l, _)| *l == language) {
                            scores[i] += 1;
                        }
                }
            }
            (best, second) = leader(&scores);
        }
        // Any lead decides: lingua (80x slower) did no better on the near-ties it was given,
        // which are mostly mixed-language requests. Only ties go on to lingua.
        if best.1 == 0 {
            FunctionWordVerdict::NoEvidence
        } else if best.1 > second {
            FunctionWordVerdict::Language(FUNCTION_WORDS[best.0].0)
        } else {
            let tied = scores.iter().take(FUNCTION_WORDS.len()).enumerate().filter(|&(_, &s)| s == best.1).fold(0u16, |m, (i, _)| m | 1 << i);
            FunctionWordVerdict::Tie(tied)
        }
    }
}

/// The lingua language of an ISO 639-1 code used in `FUNCTION_WORDS`.
fn language_of(code: &str) -> Language {
    LANGUAGES.iter().copied().find(|&l| iso_639_1(l) == code).expect("every function-word language is in LANGUAGES")
}

fn iso_639_1(language: Language) -> &'static str {
    match language {
        Language::English => "en",
        Language::French => "fr",
        Language::German => "de",
        Language::Spanish => "es",
        Language::Portuguese => "pt",
        Language::Italian => "it",
        Language::Russian => "ru",
        Language::Chinese => "zh",
        Language::Japanese => "ja",
        Language::Arabic => "ar",
        Language::Turkish => "tr",
        Language::Polish => "pl",
        Language::Dutch => "nl",
        Language::Ukrainian => "uk",
        Language::Korean => "ko",
        Language::Hindi => "hi",
        Language::Indonesian => "id",
        Language::Vietnamese => "vi",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_languages() {
        let d = LanguageDetector::new();
        assert_eq!(d.detect("How do I bake sourdough bread at home?"), "en");
        assert_eq!(d.detect("Comment puis-je améliorer mon CV pour un poste de développeur ?"), "fr");
        assert_eq!(d.detect("Wie kann ich meine Steuererklärung online einreichen?"), "de");
        assert_eq!(d.detect("¿Cuál es la mejor manera de aprender a programar?"), "es");
        assert_eq!(d.detect("Как приготовить борщ дома?"), "ru");
        assert_eq!(d.detect("如何提高我的中文写作水平和表达能力"), "zh");
        assert_eq!(d.detect("ok"), "und");
    }

    #[test]
    fn ties_are_settled_among_the_tied_languages_only() {
        let words = FunctionWords::new();
        // "para" and "a" are Spanish and Portuguese (and "a" English): a tie.
        let text = "Redacta un correo educado a mi vecino para pedir a raise";
        let FunctionWordVerdict::Tie(tied) = words.detect(text) else { panic!("expected a tie: {:?}", words.detect(text)) };
        let tied_codes: Vec<&str> = (0..FUNCTION_WORDS.len()).filter(|i| tied & (1 << i) != 0).map(|i| FUNCTION_WORDS[i].0).collect();
        assert!(tied_codes.len() >= 2, "{tied_codes:?}");
        let code = LanguageDetector::new().detect(text);
        assert!(tied_codes.contains(&code), "{code} not among {tied_codes:?}");
        assert_eq!(words.detect("zzz qqq"), FunctionWordVerdict::NoEvidence);
        assert_eq!(words.detect("what is the best way to learn"), FunctionWordVerdict::Language("en"));
    }

    #[test]
    fn every_function_word_language_maps_to_lingua() {
        for (code, _) in FUNCTION_WORDS {
            assert_eq!(iso_639_1(language_of(code)), *code);
        }
    }
}
