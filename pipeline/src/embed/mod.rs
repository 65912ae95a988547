//! Text embeddings: the learned multilingual encoder when it is installed, LSA otherwise.
//!
//! | encoder | what it is | vectors comparable across nights |
//! |---|---|---|
//! | [`UseM3`] (`use-m3`) | Universal Sentence Encoder multilingual v3: 16 languages, 512-d, learned on translation pairs and semantic similarity, run in-process on CPU | yes: computed once per conversation and reused |
//! | [`HashedTfidf`] (`hashed-tfidf`) | LSA of hashed word and character n-grams, fitted on each window; no model file | no: refitted every night |
//!
//! [`EncoderChoice`] says which one a run uses; its [`EncoderChoice::id`] goes into the
//! `embeddings` table's `model` column, the run manifest and the weekly report, so every
//! number says which encoder produced it.

mod lsa;
pub(crate) mod use_m3;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use lsa::{HashedTfidf, HashedTfidfConfig};
pub use crate::model_files::InstalledFile;
pub use use_m3::{verify_installation, UseM3, USE_M3_DIM, USE_M3_NAME};

use crate::error::Result;

/// Something that turns texts into unit vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Row-major `texts.len() × dim` matrix of L2-normalised vectors (zero for a text with no
    /// known feature).
    fn embed(&self, texts: &[&str]) -> Vec<f32>;
}

/// Dot product: the cosine similarity when both are unit vectors (as embeddings are).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Which embeddings a run asks for (the job config's `embedding.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EmbeddingBackend {
    /// The learned encoder when its files are installed, LSA otherwise (with a warning).
    #[default]
    Auto,
    /// The learned encoder; a run fails if it is not installed or does not verify.
    UseM3,
    /// Hashed word and character n-gram TF-IDF with LSA (no model file).
    HashedTfidf,
}

/// Where installed models live when neither the config nor `VIGIL_MODELS` says: the
/// project-local directory `models/install.py` writes to.
pub const DEFAULT_MODELS_DIR: &str = ".vigil/models";

/// The models directory: `configured`, else `$VIGIL_MODELS`, else [`DEFAULT_MODELS_DIR`].
pub fn models_dir(configured: Option<&Path>) -> PathBuf {
    configured
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("VIGIL_MODELS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODELS_DIR))
}

/// The encoder a run resolved to.
pub enum EncoderChoice {
    /// The learned encoder, loaded and verified.
    Learned(UseM3),
    /// LSA, fitted on the window at run time; `reason` says why not the learned one.
    Lsa {
        /// Settings of the fit.
        config: HashedTfidfConfig,
        /// Why the learned encoder is not used (`None` when the config asked for LSA).
        reason: Option<String>,
    },
}

impl EncoderChoice {
    /// Resolves `backend` against the models installed under `dir`.
    pub fn resolve(backend: EmbeddingBackend, dir: &Path, lsa: HashedTfidfConfig) -> Result<Self> {
        match backend {
            EmbeddingBackend::HashedTfidf => Ok(EncoderChoice::Lsa { config: lsa, reason: None }),
            EmbeddingBackend::UseM3 => Ok(EncoderChoice::Learned(UseM3::load(&dir.join(USE_M3_NAME))?)),
            EmbeddingBackend::Auto => match UseM3::load(&dir.join(USE_M3_NAME)) {
                Ok(model) => Ok(EncoderChoice::Learned(model)),
                Err(e) => {
                    let reason = format!("learned encoder not used ({e}); install it with `python3 models/install.py`");
                    tracing::warn!("{reason}; falling back to LSA");
                    Ok(EncoderChoice::Lsa { config: lsa, reason: Some(reason) })
                }
            },
        }
    }

    /// The identity written next to every vector and into manifests and reports:
    /// `use-m3@<digest prefix>` or `hashed-tfidf-v1 dim=… ` (LSA is refitted per window, so
    /// its vectors are never reused).
    pub fn id(&self) -> String {
        match self {
            EncoderChoice::Learned(m) => m.id().to_owned(),
            EncoderChoice::Lsa { config, .. } => format!("hashed-tfidf-v1 dim={}", config.dim),
        }
    }

    /// Whether a vector stored under [`Self::id`] can be reused on a later night.
    pub fn is_stable(&self) -> bool {
        matches!(self, EncoderChoice::Learned(_))
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        match self {
            EncoderChoice::Learned(_) => USE_M3_DIM,
            EncoderChoice::Lsa { config, .. } => config.dim,
        }
    }

    /// The learned model, if that is the choice.
    pub fn learned(&self) -> Option<&UseM3> {
        match self {
            EncoderChoice::Learned(m) => Some(m),
            EncoderChoice::Lsa { .. } => None,
        }
    }
}

/// The encoder a window's vectors came from, ready to place more texts in the same space (a
/// cluster's candidate names, to compare with its centroid): the learned model, or the LSA
/// fitted on that window.
pub enum WindowEncoder<'a> {
    /// The learned model.
    Learned(&'a UseM3),
    /// LSA fitted on the window's requests.
    Lsa(HashedTfidf),
}

impl WindowEncoder<'_> {
    /// Row-major `texts.len() × dim` unit vectors.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<f32>> {
        match self {
            WindowEncoder::Learned(model) => model.encode(texts),
            WindowEncoder::Lsa(lsa) => Ok(lsa.embed(texts)),
        }
    }
}

/// A unit vector's int8 code (`round(x * 127)`), as the `embeddings` table stores it.
pub fn quantize(x: f32) -> i8 {
    (x * 127.0).round().clamp(-127.0, 127.0) as i8
}

/// The vector an int8 code stands for.
pub fn dequantize(q: i8) -> f32 {
    f32::from(q) / 127.0
}

/// Replaces `v` by its int8 round trip: the vector every later night reads back, so that a
/// conversation's vector is the same whether computed tonight or reused. Not renormalised (the
/// norm stays within about 0.2% of 1), so that storing it again gives the same codes.
pub fn round_trip(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = dequantize(quantize(*x)));
}

/// Scales `v` to unit length (leaves a zero vector alone).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_a_fixed_point_and_close() {
        let mut v: Vec<f32> = (0..64).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
        normalise(&mut v);
        let original = v.clone();
        round_trip(&mut v);
        assert!(cosine(&v, &original) > 0.995);
        let once = v.clone();
        round_trip(&mut v);
        assert_eq!(v, once, "reading back a stored vector and storing it again changes nothing");
    }

    #[test]
    fn models_dir_prefers_the_config() {
        assert_eq!(models_dir(Some(Path::new("/srv/models"))), PathBuf::from("/srv/models"));
    }
}
