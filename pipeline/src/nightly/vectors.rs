//! The window's embeddings under the run's encoder.
//!
//! Under a fixed learned encoder a conversation's vector never changes, so it is computed once,
//! on the night of the conversation's day, stored in that night's `embeddings` partition, and
//! read back on every later night whose window holds the conversation: a 7-day window encodes
//! about one day of new text a night, not seven. Only rows whose stored `model` equals tonight's
//! encoder id are reused. Fresh vectors go through the same int8 round trip as stored ones, so
//! a conversation's vector is bit-identical whether it was computed tonight or read back, and
//! a rerun gives the same bytes whatever earlier nights left behind. LSA is refitted on each
//! window and never reused.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int8Type;
use rustc_hash::FxHashMap;

use super::window::Window;
use crate::embed::{dequantize, round_trip, Embedder, EncoderChoice, HashedTfidf, WindowEncoder};
use crate::error::Result;
use crate::schema::table;
use crate::warehouse::{read_columns, Warehouse};

/// How the window's vectors were obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorCounts {
    /// Read back from earlier nights' `embeddings` partitions.
    pub reused: usize,
    /// Computed tonight.
    pub computed: usize,
}

/// Row-major `window.len() × encoder.dim()` vectors, and the encoder that placed them (LSA
/// fitted on this window), for texts that must be compared with them.
///
/// The learned encoder reads a conversation's user turns together (cut to its token limit):
/// intent often shows only in a follow-up turn, and on the hand-labelled hh-rlhf sample all
/// turns found more harmful requests than the first alone. LSA keeps the first message, whose
/// phrasing its n-grams were built around.
pub(super) fn embed_window<'a>(warehouse: &Warehouse, window: &Window, encoder: &'a EncoderChoice) -> Result<(Vec<f32>, VectorCounts, WindowEncoder<'a>)> {
    let requests: Vec<&str> = (0..window.len())
        .map(|i| if encoder.is_stable() { window.user_text(i) } else { window.first_message(i) })
        .collect();
    match encoder {
        EncoderChoice::Lsa { config, .. } => {
            let lsa = HashedTfidf::fit(&requests, config.clone());
            Ok((lsa.embed(&requests), VectorCounts { reused: 0, computed: requests.len() }, WindowEncoder::Lsa(lsa)))
        }
        EncoderChoice::Learned(model) => {
            let dim = encoder.dim();
            let mut vectors = vec![0.0f32; window.len() * dim];
            let mut known = vec![false; window.len()];
            let reused = read_stored(warehouse, window, model.id(), dim, &mut vectors, &mut known)?;
            let missing: Vec<usize> = (0..window.len()).filter(|&i| !known[i]).collect();
            let texts: Vec<&str> = missing.iter().map(|&i| requests[i]).collect();
            let fresh = model.encode(&texts)?;
            for (k, &i) in missing.iter().enumerate() {
                let row = &mut vectors[i * dim..(i + 1) * dim];
                row.copy_from_slice(&fresh[k * dim..(k + 1) * dim]);
                round_trip(row);
            }
            Ok((vectors, VectorCounts { reused, computed: missing.len() }, WindowEncoder::Learned(model)))
        }
    }
}

/// Fills `vectors` for window rows of earlier days whose stored vector `model` wrote; returns
/// how many. A partition that cannot be read as embeddings is skipped with a warning (its
/// conversations are encoded again), never trusted half-way.
fn read_stored(warehouse: &Warehouse, window: &Window, model: &str, dim: usize, vectors: &mut [f32], known: &mut [bool]) -> Result<usize> {
    let row_of: FxHashMap<&str, usize> = (0..window.len()).map(|i| (window.conversation_id(i), i)).collect();
    let mut reused = 0;
    let mut day = window.start;
    while day < window.end {
        let files = warehouse.files(table::EMBEDDINGS, Some(day))?;
        match read_columns(&files, &["conversation_id", "model", "vector"]) {
            Ok(batches) => {
                for batch in batches {
                    let (Some(ids), Some(models), Some(list)) =
                        (batch.column(0).as_string_opt::<i32>(), batch.column(1).as_string_opt::<i32>(), batch.column(2).as_fixed_size_list_opt())
                    else {
                        tracing::warn!(%day, "embeddings partition has unexpected column types; re-encoding its conversations");
                        break;
                    };
                    if list.value_length() as usize != dim {
                        continue;
                    }
                    let Some(codes) = list.values().as_primitive_opt::<Int8Type>() else { continue };
                    for r in 0..batch.num_rows() {
                        if ids.is_null(r) || models.is_null(r) || list.is_null(r) || models.value(r) != model {
                            continue;
                        }
                        let Some(&i) = row_of.get(ids.value(r)) else { continue };
                        if known[i] {
                            continue;
                        }
                        let start = list.value_offset(r) as usize;
                        for (x, &q) in vectors[i * dim..(i + 1) * dim].iter_mut().zip(&codes.values()[start..start + dim]) {
                            *x = dequantize(q);
                        }
                        known[i] = true;
                        reused += 1;
                    }
                }
            }
            Err(e) => tracing::warn!(%day, error = %e, "embeddings partition unreadable; re-encoding its conversations"),
        }
        day = day.succ_opt().expect("dates before 262143 CE");
    }
    Ok(reused)
}
