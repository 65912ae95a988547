//! Redaction at the door: find personal data in free text and replace it with typed
//! placeholders before anything is written.
//!
//! One [`Redactor`] is built per job and shared across threads. Finding runs in three passes
//! over a text, each cheap when it has nothing to do:
//!
//! 1. one multi-pattern regex (a single automaton for all structured kinds: e-mail, URL,
//!    secrets, IBAN, IP, MAC, wallets, street addresses), each candidate then confirmed by a
//!    checksum or structural check ([`validate`]);
//! 2. a hand-written scan of digit runs ("(415) 555-0132", "4012 8888 8888 1881") that
//!    splits a run into the longest valid card, SSN/ITIN or phone numbers; a regex cannot
//!    express "the longest prefix of this run that passes Luhn";
//! 3. person names from a gazetteer and context cues ("my name is", "Dear", "Mr.");
//! 4. when installed, learned recognisers ([`ner`], spaCy's English and French NER run
//!    in-process) for the names no list or cue catches, on the texts where a name can be (a
//!    capital letter that does not just start the sentence or say "I"). The English model
//!    decides on English text; the French one, trained on Wikipedia, reads French text, and
//!    on English text is asked only about the organisations and places the English one nearly
//!    called persons: where it sees a person inside one, it is one. Text in other languages
//!    gets the rules only (there the English model marks capitalised nouns and phrases).
//!
//! All three run on a copy in which look-alike characters are ASCII (fullwidth and other
//! scripts' digits, no-break spaces, Unicode dashes, zero-width characters: [`normalise`]);
//! offsets are mapped back, so placeholders replace exactly what was written.
//!
//! Text keeps its shape: placeholders are typed (`[EMAIL]`, `[PHONE]`, …) and links keep
//! their scheme and domain (`https://example.com/[PATH]`).

mod names;
pub mod ner;
mod normalise;
mod structured;
pub mod validate;

use std::fmt;
use std::ops::ControlFlow;

use crate::error::Result;

/// A kind of personal data the redactor recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    /// E-mail address.
    Email,
    /// Telephone number, national or international format.
    Phone,
    /// Payment card number (Luhn-valid).
    CreditCard,
    /// US Social Security number.
    UsSsn,
    /// US Individual Taxpayer Identification Number.
    UsItin,
    /// International bank account number (mod-97 valid).
    Iban,
    /// IPv4 or IPv6 address (optionally with a CIDR suffix).
    IpAddress,
    /// MAC address.
    MacAddress,
    /// Cryptocurrency wallet address (checksum-valid).
    Crypto,
    /// API key, token, password, private key or other secret.
    Secret,
    /// Street address.
    StreetAddress,
    /// Person name.
    Person,
    /// Link: its path and query are dropped, its scheme and domain kept.
    Url,
}

impl PiiKind {
    /// Every kind, in the order of [`PiiCounts`].
    pub const ALL: [PiiKind; 13] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::CreditCard,
        PiiKind::UsSsn,
        PiiKind::UsItin,
        PiiKind::Iban,
        PiiKind::IpAddress,
        PiiKind::MacAddress,
        PiiKind::Crypto,
        PiiKind::Secret,
        PiiKind::StreetAddress,
        PiiKind::Person,
        PiiKind::Url,
    ];

    /// The type name used in placeholders, JSON output and the `pii` column.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::CreditCard => "CREDIT_CARD",
            PiiKind::UsSsn => "US_SSN",
            PiiKind::UsItin => "US_ITIN",
            PiiKind::Iban => "IBAN",
            PiiKind::IpAddress => "IP_ADDRESS",
            PiiKind::MacAddress => "MAC_ADDRESS",
            PiiKind::Crypto => "CRYPTO",
            PiiKind::Secret => "SECRET",
            PiiKind::StreetAddress => "STREET_ADDRESS",
            PiiKind::Person => "PERSON",
            PiiKind::Url => "URL",
        }
    }

    /// Lower-case column name for per-conversation counts.
    pub fn column(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit_card",
            PiiKind::UsSsn => "us_ssn",
            PiiKind::UsItin => "us_itin",
            PiiKind::Iban => "iban",
            PiiKind::IpAddress => "ip_address",
            PiiKind::MacAddress => "mac_address",
            PiiKind::Crypto => "crypto",
            PiiKind::Secret => "secret",
            PiiKind::StreetAddress => "street_address",
            PiiKind::Person => "person",
            PiiKind::Url => "url",
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::CreditCard => "[CREDIT_CARD]",
            PiiKind::UsSsn => "[US_SSN]",
            PiiKind::UsItin => "[US_ITIN]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::IpAddress => "[IP_ADDRESS]",
            PiiKind::MacAddress => "[MAC_ADDRESS]",
            PiiKind::Crypto => "[CRYPTO]",
            PiiKind::Secret => "[SECRET]",
            PiiKind::StreetAddress => "[STREET_ADDRESS]",
            PiiKind::Person => "[PERSON]",
            PiiKind::Url => "[URL]",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding: a kind and a byte range into the text it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entity {
    /// What was found.
    pub kind: PiiKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

/// How many entities of each kind were removed from a text (never the values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiCounts(pub [u32; 13]);

impl PiiCounts {
    /// Count for one kind.
    pub fn get(&self, kind: PiiKind) -> u32 {
        self.0[kind.index()]
    }

    /// Total over all kinds.
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &PiiCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

/// The compiled redactor. Cheap to share (`&Redactor` is `Sync`); build once per job.
pub struct Redactor {
    structured: structured::StructuredFinder,
    names: names::NameFinder,
    recogniser: Option<Recogniser>,
}

/// The learned recognisers a redactor runs.
struct Recogniser {
    /// The English model: reads English texts (and those too short to tell) that may hold a
    /// name; its PERSON entities are names.
    primary: ner::NerModel,
    /// The French model: reads French texts, and on English ones is asked about the
    /// primary's near-person entities.
    confirming: Option<ner::NerModel>,
    /// `ner-en@…` or `ner-en@…+ner-fr@…`.
    id: String,
    /// Texts longer than [`NER_MAX_BYTES`] with a possible name past it.
    read_in_part: std::sync::atomic::AtomicU64,
    /// Picks the model for a text by its language.
    languages: crate::lang::LanguageDetector,
}

/// The learned recognisers read at most this much of a text, from its start; the rest of a
/// longer one gets the rules only. They read roughly 300 KB of text a second on one core, so
/// a message at ingest's 4 MiB cap would hold a worker for over ten seconds, and an attacker
/// can send many: 64 KiB keeps any message well under a second. Texts cut short are counted
/// ([`Redactor::texts_read_in_part`]) and reported by ingest and `vigil redact`.
pub const NER_MAX_BYTES: usize = 64 * 1024;

/// The start of `text` the recognisers read: all of it, or up to [`NER_MAX_BYTES`] cut after
/// the last line break, else the last space, else on a character boundary.
fn learned_part(text: &str) -> &str {
    if text.len() <= NER_MAX_BYTES {
        return text;
    }
    let head = crate::text::truncate_at_char(text, NER_MAX_BYTES);
    let cut = head.rfind('\n').or_else(|| head.rfind(' ')).map_or(head.len(), |i| i + 1);
    &text[..cut]
}

impl Recogniser {
    fn new(primary: ner::NerModel, confirming: Option<ner::NerModel>) -> Self {
        let id = match &confirming {
            Some(c) => format!("{}+{}", primary.id(), c.id()),
            None => primary.id().to_string(),
        };
        Recogniser { primary, confirming, id, read_in_part: std::sync::atomic::AtomicU64::new(0), languages: crate::lang::LanguageDetector::new() }
    }
}

/// Whether a job uses the learned recogniser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NerMode {
    /// When it is installed and verifies; otherwise rules only, with a warning.
    #[default]
    Auto,
    /// Always: a missing or altered model is an error.
    Required,
    /// Never: rules only.
    Off,
}

/// The recogniser's id in manifests and reports when none ran.
pub const RULES_ONLY: &str = "rules";

/// The second recogniser is asked about an entity only when the first nearly called it a
/// person: its score for the label it chose beat its score for "person" by less than this.
/// Chosen on seed 1 of `benches/pii_quality_vs_presidio.py` against the finds it adds on
/// 11,516 hh-rlhf turns: without the limit, the French model's persons inside "Syria",
/// "Malaysia" or "Islam" were most of what it added on real chat (69 finds, about 15 of
/// them names); with it, 18 (`benches/README.md`).
const CONFIRM_MARGIN: f32 = 2.0;

/// What a recognised entity says about a person being there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    Person,
    /// A proper noun of another type, which may still be a person's name.
    ProperNoun,
    NotPerson,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

impl Redactor {
    /// Compiles the patterns and loads the name gazetteer.
    pub fn new() -> Result<Self> {
        Ok(Redactor { structured: structured::StructuredFinder::new()?, names: names::NameFinder::new()?, recogniser: None })
    }

    /// The rules plus the learned recogniser under `models_dir` as `mode` asks. Returns the
    /// reason it is not used when `Auto` falls back to rules.
    pub fn with_models(mode: NerMode, models_dir: &std::path::Path) -> Result<(Self, Option<String>)> {
        let mut redactor = Redactor::new()?;
        let load = |language| ner::NerModel::load(models_dir, language);
        let fallback = match mode {
            NerMode::Off => None,
            NerMode::Required => {
                redactor.recogniser = Some(Recogniser::new(load(ner::NerLanguage::English)?, Some(load(ner::NerLanguage::French)?)));
                None
            }
            NerMode::Auto => match load(ner::NerLanguage::English) {
                Ok(primary) => {
                    let (confirming, fallback) = match load(ner::NerLanguage::French) {
                        Ok(model) => (Some(model), None),
                        Err(e) => (None, Some(format!("second name recogniser not used ({e}); install it with `python3 models/install.py`"))),
                    };
                    redactor.recogniser = Some(Recogniser::new(primary, confirming));
                    fallback
                }
                Err(e) => Some(format!("learned name recogniser not used ({e}); install it with `python3 models/install.py`")),
            },
        };
        Ok((redactor, fallback))
    }

    /// How many texts so far were longer than [`NER_MAX_BYTES`] with a possible name after
    /// it, which only the rules read.
    pub fn texts_read_in_part(&self) -> u64 {
        self.recogniser.as_ref().map_or(0, |r| r.read_in_part.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// What finds names: the learned recognisers' ids (`ner-en@…+ner-fr@…`) or
    /// [`RULES_ONLY`].
    pub fn recogniser(&self) -> &str {
        self.recogniser.as_ref().map_or(RULES_ONLY, |r| r.id.as_str())
    }

    /// Finds every entity in `text`, sorted by start, non-overlapping. `out` is cleared first.
    pub fn find(&self, text: &str, out: &mut Vec<Entity>) {
        self.find_counting(text, out, &mut structured::Work::default());
    }

    fn find_counting(&self, text: &str, out: &mut Vec<Entity>, work: &mut structured::Work) {
        // Look-alike digits, spaces and dashes are searched as ASCII; offsets map back.
        SHADOW.with(|cell| {
            let mut shadow = cell.borrow_mut();
            match shadow.fold(text) {
                Some(folded) => {
                    work.bytes += text.len() as u64;
                    self.find_folded(folded, out, work);
                    for e in out.iter_mut() {
                        (e.start, e.end) = (shadow.origin(e.start), shadow.origin(e.end));
                    }
                }
                None => self.find_folded(text, out, work),
            }
        });
    }

    /// [`Redactor::find_counting`] on a text already folded (or with nothing to fold).
    fn find_folded(&self, text: &str, out: &mut Vec<Entity>, work: &mut structured::Work) {
        out.clear();
        self.structured.find_counting(text, out, work);
        sort_entities(out);
        remove_overlaps(out);
        let structured_len = out.len();
        self.names.find(text, out);
        if let Some(recogniser) = &self.recogniser {
            let read = learned_part(text);
            if read.len() < text.len() && may_hold_a_name(&text[read.len()..], |w| self.names.is_listed_name(w)) {
                recogniser.read_in_part.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            NAME_CUES.with(|cues| {
                let mut cues = cues.borrow_mut();
                cues.clear();
                name_cues(read, |w| self.names.is_listed_name(w), |at| {
                    cues.push(at);
                    ControlFlow::Continue(())
                });
                if !cues.is_empty() {
                    self.recognise_names_cached(recogniser, read, &cues, out);
                }
            });
        }
        if out.len() > structured_len {
            // A name never displaces a structured finding ("IBAN DE89…" is an IBAN, not a
            // person called "IBAN DE"): names overlapping one are dropped. Both lists are in
            // order and without overlaps, so one walk over each decides.
            let (mut kept, mut s) = (structured_len, 0);
            for r in structured_len..out.len() {
                let n = out[r];
                while s < structured_len && out[s].end <= n.start {
                    s += 1;
                }
                if s == structured_len || out[s].start >= n.end {
                    out[kept] = n;
                    kept += 1;
                }
            }
            out.truncate(kept);
            sort_entities(out);
            remove_overlaps(out);
        }
    }

    /// Writes `text` with every entity replaced into `out` (cleared first), adds what was
    /// removed to `counts`, and returns whether anything changed. `scratch` holds entities
    /// between calls so the hot loop does not allocate.
    pub fn redact_into(
        &self,
        text: &str,
        out: &mut String,
        counts: &mut PiiCounts,
        scratch: &mut Vec<Entity>,
    ) -> bool {
        self.find(text, scratch);
        out.clear();
        if scratch.is_empty() {
            out.push_str(text);
            return false;
        }
        let mut changed = false;
        let mut pos = 0;
        for e in scratch.iter() {
            out.push_str(&text[pos..e.start]);
            let original = &text[e.start..e.end];
            let before = out.len();
            replacement(e.kind, original, out);
            if &out[before..] != original {
                changed = true;
                counts.0[e.kind.index()] += 1;
            }
            pos = e.end;
        }
        out.push_str(&text[pos..]);
        changed
    }

    /// Convenience: the redacted text as a new string.
    pub fn redact(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut counts = PiiCounts::default();
        let mut scratch = Vec::new();
        self.redact_into(text, &mut out, &mut counts, &mut scratch);
        out
    }

    /// [`Self::recognise_names`], remembered per thread by the text's digest: logs repeat
    /// texts (templates, bots, popular requests, an assistant's stock phrases), and the
    /// recognisers cost a thousand times more than the digest.
    fn recognise_names_cached(&self, recogniser: &Recogniser, text: &str, cues: &[usize], out: &mut Vec<Entity>) {
        // Keyed by the recognisers too: two redactors on one thread may run different ones.
        let mut hasher = blake3::Hasher::new();
        hasher.update(recogniser.id.as_bytes()).update(&[0]).update(text.as_bytes());
        let digest = u128::from_le_bytes(hasher.finalize().as_bytes()[..16].try_into().expect("16 bytes"));
        let found = NAMES_SEEN.with(|cache| {
            let cache = cache.borrow();
            cache.get(&digest).map(|spans| {
                // Offsets of the same text; checked anyway, so that even a digest collision
                // cannot cut a character.
                let valid = |&(s, e): &(u32, u32)| (s as usize) < (e as usize) && text.is_char_boundary(s as usize) && text.is_char_boundary(e as usize) && (e as usize) <= text.len();
                out.extend(spans.iter().filter(|s| valid(s)).map(|&(start, end)| Entity { kind: PiiKind::Person, start: start as usize, end: end as usize }));
            })
        });
        if found.is_some() {
            return;
        }
        let before = out.len();
        if let Err(e) = self.recognise_names(recogniser, text, cues, out) {
            // Inference cannot fail on valid weights; if it does, the rules' names still
            // stand and the failure is loud.
            tracing::error!("name recogniser failed, rules only for this text: {e}");
            out.truncate(before);
            return;
        }
        let spans: Vec<(u32, u32)> = out[before..].iter().map(|e| (e.start as u32, e.end as u32)).collect();
        NAMES_SEEN.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= NAMES_SEEN_ENTRIES {
                cache.clear();
            }
            cache.insert(digest, spans);
        });
    }

    /// Adds the persons the learned recognisers find near `cues` in `text` to `out`.
    fn recognise_names(&self, recogniser: &Recogniser, text: &str, cues: &[usize], out: &mut Vec<Entity>) -> Result<()> {
        let mut push = |span: &ner::NerSpan| {
            if let Some((start, end)) = person_span(text, span.start, span.end) {
                out.push(Entity { kind: PiiKind::Person, start, end });
            }
        };
        NER_SPANS.with(|cell| {
            let (spans, second) = &mut *cell.borrow_mut();
            // Only the cheap, word-based verdict: a statistical guess on a short English
            // sentence full of foreign names often names the names' language.
            match recogniser.languages.detect_by_words(text) {
                // Undecided (too short, no function words): most likely English.
                Some("en") | None => {}
                Some("fr") => {
                    if let Some(french) = &recogniser.confirming {
                        french.recognise_near(text, cues, spans)?;
                        spans.iter().filter(|s| s.label == ner::NerLabel::Person).for_each(&mut push);
                    }
                    return Ok(());
                }
                // Each model reads only its own language. On German the English one calls
                // capitalised nouns persons ("Möglichkeiten", "Schritt"); on Spanish it
                // marks lower-case phrases and brand names ("con tus palabras", "Instagram"),
                // which turned templated campaign texts into look-alikes. Other languages
                // get the rules only.
                _ => return Ok(()),
            }
            recogniser.primary.recognise_near(text, cues, spans)?;
            let mut undecided = false;
            for span in spans.iter() {
                match self.person_evidence(text, span) {
                    Evidence::Person => push(span),
                    Evidence::ProperNoun => undecided = true,
                    Evidence::NotPerson => {}
                }
            }
            if let (true, Some(confirming)) = (undecided, &recogniser.confirming) {
                confirming.recognise_near(text, cues, second)?;
                for span in spans.iter().filter(|s| self.person_evidence(text, s) == Evidence::ProperNoun && s.person_margin < CONFIRM_MARGIN) {
                    // Only a person inside the entity: on English text the French model
                    // also makes sentence-wide spans ("Why is Carlota so impulsive"), which
                    // say nothing about the entity's type. Both lists are in text order.
                    let from = second.partition_point(|p| p.start < span.start);
                    let mut inside = second[from..].iter().take_while(|p| p.start < span.end);
                    if inside.any(|p| p.label == ner::NerLabel::Person && p.end <= span.end) {
                        push(span);
                    }
                }
            }
            Ok(())
        })
    }

    /// What one entity of the primary recogniser says about a person there. Its PERSON is
    /// one. Its other proper-noun labels are trusted for the span (a name-like entity is
    /// there) but not always for the type: trained on English news, it calls many names from
    /// other languages an organisation, a group, a work or a place ("Wisława Szczepańska"
    /// ORG, "Sofia Papadopoulou" GPE). Such a span is a person when it starts with a word the
    /// gazetteer knows as a given name (a place must also have more than one word, so
    /// "Florence" and "Sofia" stay places); otherwise the second recogniser decides, except
    /// for groups (nationalities, religions), which it would too often call persons.
    fn person_evidence(&self, text: &str, span: &ner::NerSpan) -> Evidence {
        use ner::NerLabel::*;
        let (place, otherwise) = match span.label {
            Person => return Evidence::Person,
            Organisation | Work => (false, Evidence::ProperNoun),
            // Nationalities, religions, parties ("Jews", "Chinese"): a person only by the
            // gazetteer, never on the second model's word.
            Group => (false, Evidence::NotPerson),
            Facility | Place | Location => (true, Evidence::ProperNoun),
            Other => return Evidence::NotPerson,
        };
        let mut words = text[span.start..span.end].split(|c: char| c.is_whitespace() || c == '-').filter(|w| !w.is_empty());
        let first = words.next().map_or("", |w| w.trim_matches(|c: char| !c.is_alphabetic()));
        if (!place || words.next().is_some()) && self.names.is_given_name(first) {
            Evidence::Person
        } else {
            otherwise
        }
    }
}

/// Whether the learned recogniser should read `text`: it has a [name cue](name_cues).
/// Ordinary chat ("How do I fix this?") costs nothing.
fn may_hold_a_name(text: &str, is_listed_name: impl Fn(&str) -> bool) -> bool {
    name_cues(text, is_listed_name, |_| ControlFlow::Break(()))
}

/// Calls `cue` with the byte offset of each word where a name may start, in order: a capital
/// letter that neither starts a sentence nor is the pronoun "I" ("… to Anna", "Quarto
/// Angelo"), a sentence whose first word is followed by a comma ("Kuba, can I…"), or a
/// sentence that starts with a word `is_listed_name` knows ("Tatjana called."). Returns
/// whether `cue` stopped the search. One pass, no allocation.
fn name_cues(text: &str, is_listed_name: impl Fn(&str) -> bool, mut cue: impl FnMut(usize) -> ControlFlow<()>) -> bool {
    let mut sentence_start = true;
    let mut prev: Option<char> = None;
    // The sentence's first word while nothing but spaces or quotes follow it.
    let mut first_word: Option<usize> = None;
    for (at, c) in text.char_indices() {
        if c.is_alphabetic() {
            let word_start = !prev.is_some_and(|p| p.is_alphanumeric() || p == '\'' || p == '’' || p == '-');
            if word_start && c.is_uppercase() {
                // "I", "I'm", "I'll" are the pronoun, not a name.
                let found = if sentence_start {
                    let rest = &text[at..];
                    is_listed_name(&rest[..rest.find(|c: char| !c.is_alphabetic()).unwrap_or(rest.len())])
                } else {
                    c != 'I'
                };
                if found && cue(at).is_break() {
                    return true;
                }
            }
            if word_start {
                first_word = (sentence_start && c.is_uppercase()).then_some(at);
                sentence_start = false;
            }
        } else if matches!(c, '.' | '!' | '?' | '\n' | ':' | '"' | '“' | '(' | '>' | '*' | '-' | '•') {
            sentence_start = true;
            first_word = None;
        } else if let (',', Some(word)) = (c, first_word) {
            first_word = None;
            if cue(word).is_break() {
                return true;
            }
        } else if !c.is_whitespace() && c != '\'' && c != '’' {
            first_word = None;
        }
        prev = Some(c);
    }
    false
}

/// A PERSON span without possessive "'s" or edge punctuation, or `None` when nothing of a
/// name is left or it is a hashtag ("#VoteUnity": the recogniser calls many of them persons).
fn person_span(text: &str, start: usize, mut end: usize) -> Option<(usize, usize)> {
    if text[..start].ends_with('#') {
        return None;
    }
    let span = &text[start..end];
    for suffix in ["'s", "’s", "'S", "’S"] {
        if span.len() > suffix.len() && span.ends_with(suffix) {
            end -= suffix.len();
            break;
        }
    }
    let trimmed = text[start..end].trim_end_matches(|c: char| !c.is_alphanumeric() && c != '.');
    let end = start + trimmed.len();
    text[start..end].chars().any(char::is_alphabetic).then_some((start, end))
}

/// Texts whose names each thread remembers before it starts afresh.
const NAMES_SEEN_ENTRIES: usize = 16 * 1024;

thread_local! {
    /// Where names may start in the text being searched ([`name_cues`]).
    static NAME_CUES: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Persons the recognisers found, by text digest ([`Redactor::recognise_names_cached`]).
    static NAMES_SEEN: std::cell::RefCell<std::collections::HashMap<u128, Vec<(u32, u32)>>> = std::cell::RefCell::new(std::collections::HashMap::new());
    /// The recognisers' output for the text being searched (primary, confirming).
    static NER_SPANS: std::cell::RefCell<(Vec<ner::NerSpan>, Vec<ner::NerSpan>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    /// The folded copy of the text being searched, reused so folding does not allocate.
    static SHADOW: std::cell::RefCell<normalise::Shadow> = std::cell::RefCell::new(normalise::Shadow::default());
}

/// The one order of entities: by start, the longer first, then by kind (so equal spans of
/// two kinds always resolve the same way).
fn sort_entities(entities: &mut [Entity]) {
    entities.sort_unstable_by_key(|e| (e.start, std::cmp::Reverse(e.end), e.kind));
}

/// Drops entities that overlap an earlier (or same-start, longer) one.
fn remove_overlaps(entities: &mut Vec<Entity>) {
    let mut last_end = 0;
    entities.retain(|e| {
        if e.start < last_end {
            return false;
        }
        last_end = e.end;
        true
    });
}

/// Appends the placeholder for one entity. Links keep scheme and host; a link with nothing
/// after its host is left as it was (a domain alone identifies no one).
fn replacement(kind: PiiKind, original: &str, out: &mut String) {
    if kind != PiiKind::Url {
        out.push_str(kind.placeholder());
        return;
    }
    let (scheme, rest) = match original.find("://") {
        Some(i) => original.split_at(i + 3),
        None => ("", original),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // Credentials in `user:pass@host` never survive.
    let host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..authority_end],
        None => &rest[..authority_end],
    };
    let tail = &rest[authority_end..];
    out.push_str(scheme);
    out.push_str(host);
    if tail.is_empty() || tail == "/" {
        out.push_str(tail);
    } else {
        out.push_str("/[PATH]");
    }
}

/// Character offsets of entities into the text they were found in, for entities in order
/// (as [`Redactor::find`] returns them): one pass over the text, however many there are.
pub fn char_spans<'a>(text: &'a str, entities: &'a [Entity]) -> impl Iterator<Item = (usize, usize)> + 'a {
    let (mut byte, mut chars) = (0, 0);
    entities.iter().map(move |e| {
        // Out-of-order entities restart the count rather than count backwards.
        if e.start < byte {
            (byte, chars) = (0, 0);
        }
        chars += text[byte..e.start].chars().count();
        let start = chars;
        chars += text[e.start..e.end].chars().count();
        byte = e.end;
        (start, chars)
    })
}

#[cfg(test)]
mod tests;
