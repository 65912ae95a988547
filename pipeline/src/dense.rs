//! The learned models' dense layers on CPU: a weight matrix multiplied through the `gemm`
//! crate (the kernel candle itself calls), and layer normalisation.
//!
//! Why not candle's `Tensor::matmul`: per call it allocates two tensors and asks the system
//! how many cores there are (it reads `/proc/cpuinfo`), then splits even a 30-row product
//! across rayon threads. The name recogniser multiplies a few dozen rows at a time from inside
//! rayon's workers, and there that overhead (syscalls, futex wake-ups) took 40% of its time.
//! Callers parallelise over texts, so each product here runs on the calling thread.

use crate::error::{Error, Result};

/// A dense layer's weight: `rows` inputs × `cols` outputs, row-major.
pub(crate) struct Dense {
    weight: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Dense {
    /// A `(rows, cols)` row-major weight; `None` when `weight` does not have that many values.
    pub(crate) fn new(weight: Vec<f32>, rows: usize, cols: usize) -> Option<Dense> {
        (rows.checked_mul(cols) == Some(weight.len())).then_some(Dense { weight, rows, cols })
    }

    /// Concatenates weights with the same inputs side by side: `(rows, Σ cols)`.
    pub(crate) fn side_by_side(parts: &[Dense]) -> Option<Dense> {
        let rows = parts.first()?.rows;
        if parts.iter().any(|p| p.rows != rows) {
            return None;
        }
        let cols = parts.iter().map(|p| p.cols).sum();
        let mut weight = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for p in parts {
                weight.extend_from_slice(&p.weight[r * p.cols..(r + 1) * p.cols]);
            }
        }
        Some(Dense { weight, rows, cols })
    }

}

/// `x (rows × w.rows) · w`, row-major; `model` names the model in errors.
#[allow(unsafe_code)] // the project's one `unsafe` block: see the SAFETY note
pub(crate) fn matmul(x: &[f32], rows: usize, w: &Dense, model: &str) -> Result<Vec<f32>> {
    if rows.checked_mul(w.rows) != Some(x.len()) {
        return Err(Error::model(model, format!("inference: {} inputs are not {rows} rows of {}", x.len(), w.rows)));
    }
    let mut out = vec![0.0f32; rows * w.cols];
    if rows == 0 || w.cols == 0 {
        return Ok(out);
    }
    // SAFETY: the three buffers are contiguous row-major matrices whose lengths were checked
    // above (x: rows × k, weight: k × cols by construction in `Dense::new`, out: rows × cols),
    // and the strides below describe exactly that layout; `out` does not alias the inputs.
    unsafe {
        gemm::gemm(
            rows,
            w.cols,
            w.rows,
            out.as_mut_ptr(),
            1,
            w.cols as isize,
            false,
            x.as_ptr(),
            1,
            w.rows as isize,
            w.weight.as_ptr(),
            1,
            w.cols as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(out)
}

/// Layer normalisation of each row (width = the parameters' length).
pub(crate) fn layer_norm(x: &mut [f32], (gain, bias): &(Vec<f32>, Vec<f32>), eps: f32) {
    let width = gain.len();
    for row in x.chunks_exact_mut(width) {
        let mean = row.iter().sum::<f32>() / width as f32;
        row.iter_mut().for_each(|v| *v -= mean);
        let var = row.iter().map(|v| v * v).sum::<f32>() / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gain).zip(bias) {
            *v = *v * inv * g + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_row_major_matrices() {
        // [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11]
        let w = Dense::new(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 3, 2).unwrap();
        assert_eq!(matmul(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, &w, "t").unwrap(), vec![4.0, 5.0, 10.0, 11.0]);
        assert!(matmul(&[1.0, 2.0], 1, &w, "t").is_err(), "an input of the wrong width is an error, not a read past it");
        assert!(Dense::new(vec![1.0; 5], 3, 2).is_none());
        let both = Dense::side_by_side(&[Dense::new(vec![1.0, 2.0], 2, 1).unwrap(), Dense::new(vec![3.0, 4.0, 5.0, 6.0], 2, 2).unwrap()]).unwrap();
        assert_eq!((both.weight.as_slice(), both.rows, both.cols), (&[1.0, 3.0, 4.0, 2.0, 5.0, 6.0][..], 2, 3));
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        layer_norm(&mut x, &(vec![1.0; 4], vec![0.5; 4]), 0.0);
        assert!((x.iter().sum::<f32>() - 2.0).abs() < 1e-5);
        assert!((x[3] - x[0] - 2.0 * 1.5 / 1.25f32.sqrt()).abs() < 1e-4);
    }
}
