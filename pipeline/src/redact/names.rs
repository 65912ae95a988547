//! Person names without a model: a gazetteer of given names and family names, plus cues
//! ("my name is", "Dear", "Mr.", "my colleague") that make an unknown capitalised word a name.
//!
//! Why not NER: the pipeline must run on CPU at hundreds of MB/s with no model files.
//! Cues catch the self-introductions and salutations where names actually appear in
//! assistant conversations; the gazetteer catches names mentioned in passing.

use std::cell::RefCell;
use rustc_hash::FxHashSet as HashSet;

use super::{Entity, PiiKind};
use crate::text::{lower_into, packed_lower, swar};
use crate::error::Result;

const FIRST_NAMES: &str = include_str!("first_names.txt");
const AMBIGUOUS_NAMES: &str = include_str!("ambiguous_names.txt");
const SURNAMES: &str = include_str!("surnames.txt");

/// Titles before a name; the title is part of the entity ("Mr. May" → `[PERSON]`).
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "mme", "mlle", "madame",
    "monsieur", "herr", "frau", "sr", "sra", "srta", "señor", "señora", "sig", "signor", "signora",
];

/// Cues after which any capitalised word is a name.
const STRONG_CUES: &[&[&str]] = &[
    &["my", "name", "is"],
    &["name", "is"],
    &["name's"],
    &["named"],
    &["called"],
    &["call", "me"],
    &["me", "llamo"],
    &["nombre", "es"],
    &["m'appelle"],
    &["appelle"],
    &["heiße"],
    &["heisse"],
    &["name", "ist"],
    &["nome", "é"],
    &["nome", "è"],
    &["chiamo"],
    &["signed"],
    &["sincerely"],
    &["regards"],
];

/// Strong cues in which people give their own name.
const SELF_INTRODUCTIONS: &[&[&str]] = &[
    &["my", "name", "is"], &["my", "name's"], &["me", "llamo"], &["mi", "nombre", "es"], &["m'appelle"],
    &["ich", "heiße"], &["ich", "heisse"], &["mi", "chiamo"], &["meu", "nome", "é"],
];

/// Cues after which a capitalised word is a name when it is followed by punctuation or an end
/// of line ("Dear Maria,", "Thanks, Tom!") or is a known given name.
const SALUTATIONS: &[&str] = &[
    "dear", "hi", "hello", "hey", "hiya", "greetings", "thanks", "thank", "cheers", "best", "hola",
    "querido", "querida", "estimado", "estimada", "bonjour", "cher", "chère", "salut", "hallo",
    "liebe", "lieber", "ciao", "caro", "cara", "olá", "oi", "love", "xoxo",
];

/// People words: "my colleague X", "my boss X".
const RELATIONS: &[&str] = &[
    "colleague", "coworker", "co-worker", "friend", "boss", "manager", "wife", "husband", "partner",
    "brother", "sister", "son", "daughter", "mom", "mum", "dad", "mother", "father", "neighbor",
    "neighbour", "teacher", "student", "roommate", "flatmate", "girlfriend", "boyfriend", "uncle",
    "aunt", "cousin", "landlord", "landlady", "doctor", "lawyer", "client", "employee", "assistant",
    "ex", "fiancé", "fiancee", "fiance", "grandma", "grandpa", "grandmother", "grandfather", "nephew",
    "niece", "supervisor", "tenant", "therapist", "coach", "classmate", "bff", "buddy", "pal",
];

/// Cues after which only a known given name counts ("I'm Sarah", not "I'm Tired").
const WEAK_CUES: &[&[&str]] = &[&["i", "am"], &["i'm"], &["im"], &["this", "is"], &["it's"], &["je", "suis"], &["ich", "bin"], &["soy"], &["sou"], &["sono"]];

/// Form labels after which, with a colon, a value is a name ("Name: Müller, Jürgen",
/// "Nombre: ANA").
const LABELS: &[&str] = &[
    "name", "surname", "forename", "firstname", "lastname", "fullname", "nombre", "apellido", "apellidos",
    "nom", "prénom", "prenom", "vorname", "nachname", "cognome", "nome", "sobrenome",
];

/// Words before which two capitalised words are a full name ("a meeting with Xiomara
/// Abernathy"), even when neither is in the gazetteer.
const CONTACT_WORDS: &[&str] = &[
    "with", "to", "from", "by", "met", "meet", "meeting", "asked", "ask", "told", "tell", "emailed", "called",
    "cc", "contact", "contacted", "visited", "hired", "fired", "married", "dating", "avec", "con", "mit",
];

/// Capitalised words that are never names even after a cue.
const NOT_NAMES: &[&str] = &[
    "i", "a", "an", "the", "and", "or", "but", "if", "so", "to", "of", "in", "on", "at", "for", "with",
    "is", "are", "was", "be", "it", "this", "that", "there", "here", "all", "everyone", "everybody",
    "team", "sir", "madam", "guys", "folks", "friends", "world", "assistant", "claude", "chatgpt",
    "gpt", "ai", "bot", "customer", "valued", "colleagues", "hiring", "manager", "again", "so",
    "very", "much", "not", "no", "yes", "please", "you", "your", "we", "they", "he", "she", "my",
    "our", "their", "his", "her", "its", "what", "how", "why", "when", "where", "who", "which",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "july", "august", "september", "october", "november", "december",
    "god", "jesus", "lord", "mom", "dad", "mum", "ok", "okay", "good", "great", "just", "also",
    "now", "today", "tomorrow", "yesterday", "morning", "evening", "afternoon", "night", "well",
    "sorry", "dr", "mr", "mrs", "ms", "new", "old", "can", "could", "would", "should", "will",
    "do", "does", "did", "have", "has", "had", "let", "lets", "let's", "make", "give", "tell",
    "write", "help", "english", "french", "german", "spanish", "american", "british", "europe",
    "usa", "us", "uk", "eu", "un", "nato", "covid", "http", "https", "www", "ps", "btw", "fyi",
    "lol", "haha", "hehe", "pls", "plz", "thx", "ty", "xd", "lmao", "here", "too", "btw", "though",
];

/// A word token: byte range and its shape.
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    capitalised: bool,
    /// A one-letter initial followed by a dot ("M.").
    initial: bool,
}

/// Text between token `i` and the next word (or the end of the text).
fn gap_after<'t>(text: &'t str, tokens: &[Token], i: usize) -> &'t str {
    let end = tokens.get(i + 1).map_or(text.len(), |n| n.start);
    &text[tokens[i].end..end]
}

/// Only a space (or ". " after an initial) separates token `i` from the next word.
fn space_after(text: &str, tokens: &[Token], i: usize) -> bool {
    let gap = gap_after(text, tokens, i);
    gap == " " || (tokens[i].initial && gap == ". ")
}

/// Punctuation or a line break (or the end of the text) follows token `i`.
fn clause_end(text: &str, tokens: &[Token], i: usize) -> bool {
    let gap = gap_after(text, tokens, i);
    i + 1 == tokens.len() || gap.contains(['\n', ',', '!', '?', ';', ':']) || (gap.contains('.') && !tokens[i].initial)
}

/// Last words of the strong cues, after which a lower-case given name still counts
/// ("my name is dan"). A length switch first: this runs for every lower-case word.
fn is_strong_cue_end(word: &str) -> bool {
    let any = |options: &[&str]| options.iter().any(|o| word.eq_ignore_ascii_case(o));
    match word.len() {
        2 => any(&["is", "me", "es"]) || word == "é" || word == "è",
        3 => any(&["ist"]),
        5 => any(&["llamo", "named"]),
        6 => any(&["heisse", "chiamo", "called"]) || word == "heiße",
        7 => any(&["appelle"]),
        9 => any(&["m'appelle"]),
        _ => false,
    }
}

pub(super) struct NameFinder {
    /// Every word any rule cares about, with what it is (one lookup per word): ASCII words of
    /// up to 16 bytes by their packed key (nearly every lookup), the rest by text.
    packed: rustc_hash::FxHashMap<u128, u16>,
    words: rustc_hash::FxHashMap<String, u16>,
}

/// What a word is to the name rules; a word can be several.
mod word {
    pub const FIRST: u16 = 1;
    pub const AMBIGUOUS: u16 = 1 << 1;
    pub const SURNAME: u16 = 1 << 2;
    pub const NOT_NAME: u16 = 1 << 3;
    pub const TITLE: u16 = 1 << 4;
    pub const SALUTATION: u16 = 1 << 5;
    pub const RELATION: u16 = 1 << 6;
    /// Last word of a cue, relation or salutation.
    pub const CUE_END: u16 = 1 << 7;
    /// A word people's full names follow ("a meeting with", "refer to", "asked").
    pub const CONTACT: u16 = 1 << 8;
    /// A form label ("Name:", "Nachname:").
    pub const LABEL: u16 = 1 << 9;
    /// Words that lead up to a name and are never part of one.
    pub const CUE: u16 = TITLE | SALUTATION | RELATION | CUE_END | CONTACT | LABEL;
}

thread_local! {
    static SCRATCH: RefCell<(Vec<Token>, String)> = const { RefCell::new((Vec::new(), String::new())) };
}

fn word_list(text: &str) -> HashSet<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .map(str::to_lowercase)
        .collect()
}

impl NameFinder {
    pub(super) fn new() -> Result<Self> {
        let mut words: rustc_hash::FxHashMap<String, u16> = rustc_hash::FxHashMap::default();
        let mut add = |list: &mut dyn Iterator<Item = String>, flag: u16| {
            for w in list {
                *words.entry(w).or_default() |= flag;
            }
        };
        add(&mut word_list(AMBIGUOUS_NAMES).into_iter(), word::AMBIGUOUS);
        add(&mut word_list(FIRST_NAMES).into_iter(), word::FIRST);
        add(&mut word_list(SURNAMES).into_iter(), word::SURNAME);
        add(&mut NOT_NAMES.iter().map(|w| (*w).to_owned()), word::NOT_NAME);
        add(&mut TITLES.iter().map(|w| (*w).to_owned()), word::TITLE);
        add(&mut SALUTATIONS.iter().map(|w| (*w).to_owned()), word::SALUTATION | word::CUE_END);
        add(&mut RELATIONS.iter().map(|w| (*w).to_owned()), word::RELATION | word::CUE_END);
        add(&mut STRONG_CUES.iter().chain(WEAK_CUES).filter_map(|c| c.last()).map(|w| (*w).to_owned()), word::CUE_END);
        add(&mut CONTACT_WORDS.iter().map(|w| (*w).to_owned()), word::CONTACT | word::CUE_END);
        add(&mut LABELS.iter().map(|w| (*w).to_owned()), word::LABEL | word::CUE_END);
        // An ambiguous name is never an unambiguous given name.
        for flags in words.values_mut() {
            if *flags & word::AMBIGUOUS != 0 {
                *flags &= !word::FIRST;
            }
        }
        let mut packed = rustc_hash::FxHashMap::default();
        words.retain(|w, flags| match packed_lower(w.as_bytes(), true) {
            Some(key) => {
                packed.insert(key, *flags);
                false
            }
            None => true,
        });
        Ok(NameFinder { packed, words })
    }

    /// Flags of a word (case-insensitive); `lower` is scratch.
    fn flags(&self, w: &str, lower: &mut String) -> u16 {
        // For ASCII, Unicode lower-casing (how the lexicon was built) is ASCII lower-casing.
        if let Some(key) = packed_lower(w.as_bytes(), true) {
            return self.packed.get(&key).copied().unwrap_or(0);
        }
        lower_into(w, lower);
        self.words.get(lower.as_str()).copied().unwrap_or(0)
    }

    pub(super) fn find(&self, text: &str, out: &mut Vec<Entity>) {
        // Fast exit: no upper-case letter and no cue word means no name we could find.
        if !text.bytes().any(|b| b.is_ascii_uppercase()) && !text.chars().any(char::is_uppercase) && !self.has_lowercase_cue(text) {
            return;
        }
        SCRATCH.with(|cell| {
            let (tokens, lower) = &mut *cell.borrow_mut();
            tokenize(text, tokens);
            self.find_in_tokens(text, tokens, lower, out);
        });
    }

    fn has_lowercase_cue(&self, text: &str) -> bool {
        // Lower-case names are only taken after a strong cue ("my name is dan").
        text.contains("name") || text.contains("llamo") || text.contains("appelle") || text.contains("call me")
    }

    fn find_in_tokens(&self, text: &str, tokens: &[Token], lower: &mut String, out: &mut Vec<Entity>) {
        let word = |t: &Token| &text[t.start..t.end];
        let mut i = 0;
        while i < tokens.len() {
            let t = tokens[i];
            // Lower-case words matter only right after a strong cue ("my name is dan"). Most
            // words are lower-case: this test comes first.
            let after_cue = !t.capitalised && i > 0 && is_strong_cue_end(word(&tokens[i - 1]));
            if !t.capitalised && !after_cue {
                i += 1;
                continue;
            }
            // Placeholders from earlier passes ("[PERSON]") are not names.
            let bytes = text.as_bytes();
            if (t.start > 0 && matches!(bytes[t.start - 1], b'[' | b'_')) || matches!(bytes.get(t.end), Some(b']' | b'_')) {
                i += 1;
                continue;
            }
            let flags = self.flags(word(&t), lower);
            let is_title = flags & word::TITLE != 0;
            let is_first = flags & word::FIRST != 0;

            // Title + capitalised word(s): "Mr. Mayers", "mrs. Kennedy", "Dr PLUM".
            if is_title && (space_after(text, tokens, i) || text[t.end..].starts_with('.'))
                && let Some(next) = tokens.get(i + 1) {
                    let gap = &text[t.end..next.start];
                    if next.capitalised && gap.len() <= 3 && !gap.contains('\n') && !self.is_not_name(word(next), lower) {
                        let end = self.extend_name(text, tokens, i + 1, Extend::default(), lower);
                        out.push(Entity { kind: PiiKind::Person, start: t.start, end: tokens[end].end });
                        i = end + 1;
                        continue;
                    }
                }

            // "SMITH, JOHN", "Garcia, Maria": a family name, a comma, a given name.
            if t.capitalised && flags & word::SURNAME != 0 && flags & word::NOT_NAME == 0 && gap_after(text, tokens, i) == ", "
                && let Some(next) = tokens.get(i + 1)
                && next.capitalised
                && self.flags(word(next), lower) & word::FIRST != 0
                && is_all_caps(word(&t)) == is_all_caps(word(next))
            {
                out.push(Entity { kind: PiiKind::Person, start: t.start, end: next.end });
                i += 2;
                continue;
            }

            if (t.capitalised || is_first || after_cue)
                && let Some(end) = self.name_at(text, tokens, i, flags, lower) {
                    out.push(Entity { kind: PiiKind::Person, start: t.start, end: tokens[end].end });
                    i = end + 1;
                    continue;
                }
            i += 1;
        }
    }

    /// Whether token `i` (with word flags `flags`) starts a name; returns the index of its
    /// last token.
    fn name_at(&self, text: &str, tokens: &[Token], i: usize, flags: u16, lower: &mut String) -> Option<usize> {
        let t = tokens[i];
        let w = &text[t.start..t.end];
        if flags & word::NOT_NAME != 0 || w.chars().nth(1).is_none() {
            return None;
        }
        // Letters glued to digits ("DE89") are not names.
        let glued_to_digit = text[t.end..].starts_with(|c: char| c.is_ascii_digit()) || text[..t.start].ends_with(|c: char| c.is_ascii_digit());
        if glued_to_digit {
            return None;
        }
        let cue = self.cue_before(text, tokens, i, lower);
        // Acronyms ("IBAN", "MAC") are not names, except after a cue itself written in
        // capitals ("MY NAME IS JOHN SMITH", "DEAR MARIA GONZALEZ"; "Dear IT team" is no
        // one), a self-introduction ("my name is JOHN") or a form label ("Name: JOHN SMITH").
        let shouting = is_all_caps(w);
        if shouting {
            let cue_shouted = i > 0 && is_all_caps(&text[tokens[i - 1].start..tokens[i - 1].end]);
            let allowed = match cue {
                // "called THC" names a thing; "my name is JOHN" a person.
                Cue::Strong => cue_shouted || self.introduces_oneself(text, tokens, i),
                Cue::Label => true,
                Cue::Salutation => cue_shouted,
                Cue::None | Cue::Weak | Cue::Contact => false,
            };
            if !allowed {
                return None;
            }
        }
        let known_first = flags & word::FIRST != 0;
        let ambiguous = flags & word::AMBIGUOUS != 0;
        let next_flags = match tokens.get(i + 1) {
            Some(n) if space_after(text, tokens, i) && (n.capitalised || n.initial) => Some(self.flags(&text[n.start..n.end], lower)),
            _ => None,
        };
        let next_is_surname = next_flags.is_some_and(|f| f & word::SURNAME != 0 && tokens[i + 1].capitalised);
        let next_capitalised = next_flags.is_some_and(|f| f & word::NOT_NAME == 0);

        let accept = match cue {
            Cue::Strong | Cue::Label => {
                t.capitalised || known_first || ambiguous || (flags & word::CUE == 0 && self.introduces_oneself(text, tokens, i))
            }
            Cue::Salutation => t.capitalised && (known_first || ambiguous || clause_end(text, tokens, i) || next_capitalised),
            Cue::Weak => t.capitalised && (known_first || ambiguous),
            // (An ambiguous name is never also a known given name: see `NameFinder::new`.)
            Cue::Contact => {
                t.capitalised && (known_first || next_is_surname || (next_capitalised && !is_sentence_start(text, t.start)))
            }
            Cue::None => {
                t.capitalised
                    && (known_first
                        || (ambiguous && next_capitalised && !is_sentence_start(text, t.start))
                        || (ambiguous && next_is_surname)
                        || (next_is_surname && !is_sentence_start(text, t.start)))
            }
        };
        if !accept {
            return None;
        }
        let how = Extend { shouting, after_label: cue == Cue::Label };
        let end = self.extend_name(text, tokens, i, how, lower);
        if end == i && !t.capitalised && cue == Cue::Strong {
            return Some(self.extend_lower_case(text, tokens, i, lower));
        }
        Some(end)
    }

    /// Whether the words before token `i` are someone giving their own name ("my name is",
    /// "me llamo"): after these even an unknown lower-case word is a name ("my name is jane
    /// doe"), where after "the file name is" it is not.
    fn introduces_oneself(&self, text: &str, tokens: &[Token], i: usize) -> bool {
        let word = |k: usize| &text[tokens[k].start..tokens[k].end];
        SELF_INTRODUCTIONS.iter().any(|cue| i >= cue.len() && cue.iter().enumerate().all(|(j, c)| eq_lower(word(i - cue.len() + j), c)))
    }

    /// Extends a name over following capitalised words and initials ("Richard M. Nixon"); in
    /// a line in capitals, never over a cue word ("DEAR JOHN THANKS"); after a form label,
    /// over one comma between family and given name ("Name: Müller, Jürgen").
    fn extend_name(&self, text: &str, tokens: &[Token], mut i: usize, how: Extend, lower: &mut String) -> usize {
        let mut added = 0;
        let mut comma_taken = !how.after_label;
        while added < 2 {
            let (t, Some(n)) = (tokens[i], tokens.get(i + 1)) else { break };
            let gap = &text[t.end..n.start];
            let mut joined = gap == " " || (t.initial && gap == ". ");
            // A comma joins only a value that is not itself a label ("Name: Ana, Age: 34").
            if !joined && !comma_taken && gap == ", " && !gap_after(text, tokens, i + 1).starts_with(':') {
                joined = true;
                comma_taken = true;
            }
            let next = &text[n.start..n.end];
            if !joined || !(n.capitalised || n.initial) {
                break;
            }
            let next_flags = self.flags(next, lower);
            if next_flags & word::NOT_NAME != 0 || (how.shouting && next_flags & word::CUE != 0) {
                break;
            }
            i += 1;
            added += 1;
        }
        i
    }

    /// After a strong cue, a lower-case name takes one more lower-case word when that word is
    /// a known name or ends the clause ("my name is jane doe"), never a function word ("my
    /// name is dan and …").
    fn extend_lower_case(&self, text: &str, tokens: &[Token], i: usize, lower: &mut String) -> usize {
        let Some(n) = tokens.get(i + 1) else { return i };
        if !space_after(text, tokens, i) || n.capitalised || n.end - n.start < 2 {
            return i;
        }
        let flags = self.flags(&text[n.start..n.end], lower);
        let known = flags & (word::FIRST | word::SURNAME | word::AMBIGUOUS) != 0;
        let take = flags & (word::NOT_NAME | word::CUE) == 0 && (known || clause_end(text, tokens, i + 1));
        if take { i + 1 } else { i }
    }

    /// Whether `w` is in the gazetteer as a given name (perhaps also a family name) and is
    /// not an ambiguous word like "Florence" or "May", nor one that is never a name.
    pub(super) fn is_given_name(&self, w: &str) -> bool {
        SCRATCH.with(|cell| {
            let lower = &mut cell.borrow_mut().1;
            self.flags(w, lower) & (word::FIRST | word::AMBIGUOUS | word::NOT_NAME | word::CUE) == word::FIRST
        })
    }

    /// Whether `w` is in the gazetteer as a given or family name and is not an ambiguous
    /// word ("Will", "May") or one that is never a name.
    pub(super) fn is_listed_name(&self, w: &str) -> bool {
        SCRATCH.with(|cell| {
            let flags = self.flags(w, &mut cell.borrow_mut().1);
            flags & (word::FIRST | word::SURNAME) != 0 && flags & (word::AMBIGUOUS | word::NOT_NAME | word::CUE) == 0
        })
    }

    fn is_not_name(&self, w: &str, lower: &mut String) -> bool {
        self.flags(w, lower) & word::NOT_NAME != 0
    }

    fn cue_before(&self, text: &str, tokens: &[Token], i: usize, lower: &mut String) -> Cue {
        if i == 0 {
            return Cue::None;
        }
        let word = |k: usize| &text[tokens[k].start..tokens[k].end];
        let prev = self.flags(word(i - 1), lower);
        if prev & word::CUE_END == 0 {
            return Cue::None;
        }
        if prev & word::LABEL != 0 && text[tokens[i - 1].end..tokens[i].start].trim_end_matches([' ', '\t']) == ":" {
            return Cue::Label;
        }
        let matches = |cue: &[&str]| i >= cue.len() && cue.iter().enumerate().all(|(j, c)| eq_lower(word(i - cue.len() + j), c));
        // Line breaks between a cue and the name only count for salutations and sign-offs.
        let same_line = !text[tokens[i - 1].end..tokens[i].start].contains('\n');
        if same_line && STRONG_CUES.iter().any(|cue| matches(cue)) {
            return Cue::Strong;
        }
        if same_line && i >= 2 && prev & word::RELATION != 0 && POSSESSIVES.iter().any(|p| eq_lower(word(i - 2), p)) {
            return Cue::Strong;
        }
        if prev & word::SALUTATION != 0 {
            return Cue::Salutation;
        }
        if same_line && WEAK_CUES.iter().any(|cue| matches(cue)) {
            return Cue::Weak;
        }
        if same_line && prev & word::CONTACT != 0 {
            return Cue::Contact;
        }
        Cue::None
    }
}

/// Compares a word with a lower-case cue word, without allocating for ASCII words.
fn eq_lower(word: &str, cue: &str) -> bool {
    if word.is_ascii() {
        word.eq_ignore_ascii_case(cue)
    } else {
        word.chars().flat_map(char::to_lowercase).eq(cue.chars())
    }
}

/// Possessives before a relation word ("my colleague X").
const POSSESSIVES: &[&str] = &["my", "our", "his", "her", "their", "your", "mi", "mon", "ma", "mein", "meine"];

/// How [`NameFinder::extend_name`] may extend a name.
#[derive(Debug, Clone, Copy, Default)]
struct Extend {
    /// The name is written in capitals: stop at cue words.
    shouting: bool,
    /// The name is a form value: one comma may separate family and given name.
    after_label: bool,
}

/// A word of at least two letters, all of them capitals.
fn is_all_caps(w: &str) -> bool {
    w.len() > 1 && w.chars().all(char::is_uppercase)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    None,
    Weak,
    /// A contact word: two capitalised words after it are a full name.
    Contact,
    Salutation,
    Strong,
    /// A form label and a colon ("Name: …").
    Label,
}

/// Whether `at` begins a sentence: start of text, or after `.`, `!`, `?`, `:` or a line break.
fn is_sentence_start(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '\t', '"', '\'', '(', '*', '-']);
    before.is_empty() || before.ends_with(['.', '!', '?', '\n', ':', ';'])
}

/// The character at byte `i` and its length; ASCII without decoding.
#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        (b as char, 1)
    } else {
        let c = text[i..].chars().next().unwrap_or(' ');
        (c, c.len_utf8())
    }
}

#[inline]
fn is_letter(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphabetic() } else { c.is_alphabetic() }
}

const ASCII_OTHER: u8 = 0;
const ASCII_LETTER: u8 = 1;
const NON_ASCII: u8 = 2;

/// Class of every byte, so the tokenizer's inner loops are one table load per byte.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [ASCII_OTHER; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = if b >= 0x80 {
            NON_ASCII
        } else if (b as u8).is_ascii_alphabetic() {
            ASCII_LETTER
        } else {
            ASCII_OTHER
        };
        b += 1;
    }
    table
};

/// Index of the first byte at or after `from` that is not an ASCII letter, or `bytes.len()`.
///
/// Eight bytes per step (SWAR): letter runs are most of chat text, and the byte-at-a-time loop
/// was the tokenizer's main cost (the tokenizer was 7% of ingest time in `perf`).
#[inline]
fn ascii_letters_end(bytes: &[u8], from: usize) -> usize {
    swar::position(bytes, from, |x| !swar::in_range(swar::fold_case(x), b'a', b'z') & swar::HIGH, |b| !b.is_ascii_alphabetic())
}

/// Splits `text` into word tokens (letters, with inner apostrophes and hyphens). A trailing
/// possessive `'s` is left out of the token so "Sarah's" yields the name "Sarah".
fn tokenize(text: &str, tokens: &mut Vec<Token>) {
    tokens.clear();
    let bytes = text.as_bytes();
    let n = text.len();
    let mut i = 0;
    while i < n {
        // ASCII fast paths: most chat text is ASCII, and decoding chars costs more than the rest.
        while i < n && BYTE_CLASS[bytes[i] as usize] == ASCII_OTHER {
            i += 1;
        }
        if i == n {
            break;
        }
        let (capitalised, len) = if BYTE_CLASS[bytes[i] as usize] == ASCII_LETTER {
            (bytes[i].is_ascii_uppercase(), 1)
        } else {
            let (c, len) = char_at(text, i);
            if !is_letter(c) {
                i += len;
                continue;
            }
            (c.is_uppercase(), len)
        };
        let start = i;
        let mut end = i + len;
        while end < n {
            end = ascii_letters_end(bytes, end);
            if end == n {
                break;
            }
            // Not an ASCII letter: a space or punctuation ends the word, unless it is an inner
            // ' or -.
            if BYTE_CLASS[bytes[end] as usize] == ASCII_OTHER && !matches!(bytes[end], b'\'' | b'-') {
                break;
            }
            let (d, dlen) = char_at(text, end);
            if is_letter(d) {
                end += dlen;
            } else if matches!(d, '\'' | '’' | '-') && end + dlen < n && is_letter(char_at(text, end + dlen).0) {
                // Inner apostrophe or hyphen, unless it starts a possessive "'s".
                let rest = &text[end + dlen..];
                let possessive = d != '-' && (rest.starts_with('s') || rest.starts_with('S')) && !rest[1..].starts_with(is_letter);
                if possessive {
                    break;
                }
                end += dlen;
            } else {
                break;
            }
        }
        let single_letter = end - start == len;
        let initial = single_letter && capitalised && text[end..].starts_with('.');
        tokens.push(Token { start, end, capitalised, initial });
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::ascii_letters_end;

    fn naive(bytes: &[u8], from: usize) -> usize {
        (from..bytes.len()).find(|&i| !bytes[i].is_ascii_alphabetic()).unwrap_or(bytes.len())
    }

    #[test]
    fn letter_runs_end_at_the_first_non_letter() {
        assert_eq!(ascii_letters_end(b"Hello, world", 0), 5);
        assert_eq!(ascii_letters_end(b"abcdefghijklmnopqrstuvwxyz", 0), 26);
        assert_eq!(ascii_letters_end(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3), 26);
        // The neighbours of A-Z and a-z, and bytes above ASCII, end a run.
        for stop in [b'@', b'[', b'`', b'{', 0xC3, 0x80, 0xFF, 0x01] {
            let mut text = b"abcdefghijk".to_vec();
            text.insert(9, stop);
            assert_eq!(ascii_letters_end(&text, 0), 9, "byte {stop:#x}");
        }
    }

    proptest! {
        #[test]
        fn letter_runs_match_a_byte_loop(bytes in proptest::collection::vec(any::<u8>(), 0..48), from in 0usize..48) {
            let from = from.min(bytes.len());
            prop_assert_eq!(ascii_letters_end(&bytes, from), naive(&bytes, from));
        }

        #[test]
        fn letter_runs_match_on_words(text in "[A-Za-z]{0,30}[ ,.'@\\[`{é]?[A-Za-z ]{0,20}") {
            prop_assert_eq!(ascii_letters_end(text.as_bytes(), 0), naive(text.as_bytes(), 0));
        }
    }
}
