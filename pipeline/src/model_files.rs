//! Reading an installed model's files: every file's BLAKE3 checked against the digest the
//! code pins (so a run's numbers always come from the weights its manifest names), and
//! safetensors tensors fetched by name with their shape checked.
//!
//! Shared by the text encoder (`embed::use_m3`) and the named-entity recogniser
//! (`redact::ner`); `models/install.py` writes the files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;

use crate::error::{Error, Result};

/// Reads `dir/<name>` for each pinned `(name, BLAKE3 hex)` and refuses any file whose digest
/// differs. The contents come back in the order of `files`.
pub(crate) fn read_pinned(dir: &Path, files: &[(&str, &str)]) -> Result<Vec<Vec<u8>>> {
    let mut data = Vec::with_capacity(files.len());
    for (name, expected) in files {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| Error::model(&path, format!("cannot read ({e})")))?;
        let actual = blake3::hash(&bytes).to_hex();
        if actual.as_str() != *expected {
            return Err(Error::model(&path, format!("BLAKE3 {actual} is not the pinned {expected}: altered or not made by models/install.py")));
        }
        data.push(bytes);
    }
    Ok(data)
}

/// One file of an installation as checked by [`check_pinned`].
#[derive(Debug, Clone)]
pub struct InstalledFile {
    /// File name.
    pub name: &'static str,
    /// Full path.
    pub path: PathBuf,
    /// Pinned BLAKE3 digest.
    pub expected: &'static str,
    /// Digest found (`None`: missing or unreadable).
    pub actual: Option<String>,
    /// Size in bytes (0 when missing).
    pub bytes: u64,
}

impl InstalledFile {
    /// Whether the file is present with the pinned digest.
    pub fn ok(&self) -> bool {
        self.actual.as_deref() == Some(self.expected)
    }
}

/// Hashes the files under `dir` against their pinned digests, for reporting (`vigil
/// models`); loading uses [`read_pinned`], which refuses the first mismatch.
pub(crate) fn check_pinned(dir: &Path, files: &[(&'static str, &'static str)]) -> Vec<InstalledFile> {
    files
        .iter()
        .map(|&(name, expected)| {
            let path = dir.join(name);
            let (actual, bytes) = match std::fs::read(&path) {
                Ok(data) => (Some(blake3::hash(&data).to_hex().to_string()), data.len() as u64),
                Err(_) => (None, 0),
            };
            InstalledFile { name, path, expected, actual, bytes }
        })
        .collect()
}

/// The tensors of one safetensors file, with errors that name the file.
pub(crate) struct Tensors {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl Tensors {
    /// Parses safetensors `bytes` read from `path` onto the CPU.
    pub(crate) fn parse(path: PathBuf, bytes: &[u8]) -> Result<Self> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &candle_core::Device::Cpu).map_err(|e| Error::model(&path, e))?;
        Ok(Tensors { path, tensors })
    }

    /// A model error about this file.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::model(&self.path, message)
    }

    /// The dimensions of tensor `name`, if the file has it.
    pub(crate) fn dims(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|t| t.dims())
    }

    /// Tensor `name`, which must have exactly `shape`.
    pub(crate) fn get(&self, name: &str, shape: &[usize]) -> Result<&Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| self.error(format!("no tensor `{name}`")))?;
        if t.dims() != shape {
            return Err(self.error(format!("tensor `{name}` has shape {:?}, expected {shape:?}", t.dims())));
        }
        Ok(t)
    }

    /// Tensor `name` of `shape` as float32 values, row-major.
    pub(crate) fn f32s(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self.get(name, shape)?;
        t.to_dtype(candle_core::DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(|e| self.error(e))
    }
}

/// For tests that need real weights: the model `name`, loaded by `load` from the models
/// directory (`$VIGIL_MODELS`, or the repository's `.vigil/models`). Without it the test is skipped with
/// a message, unless `VIGIL_REQUIRE_MODELS` is set, which makes a missing model a failure.
#[cfg(test)]
pub(crate) fn installed_for_test<T, E: std::fmt::Display>(name: &str, load: impl FnOnce(&Path) -> std::result::Result<T, E>) -> Option<T> {
    let dir = std::env::var_os("VIGIL_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(crate::embed::DEFAULT_MODELS_DIR));
    match load(&dir) {
        Ok(m) => Some(m),
        Err(e) if std::env::var_os("VIGIL_REQUIRE_MODELS").is_some() => panic!("VIGIL_REQUIRE_MODELS is set but {e}"),
        Err(e) => {
            eprintln!("SKIPPED: test without the `{name}` model ({e}); run `python3 models/install.py`");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_differs_from_its_pin_is_refused() {
        let dir = std::env::temp_dir().join(format!("vigil-model-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.bin"), b"weights").unwrap();
        let pin = blake3::hash(b"weights").to_hex().to_string();
        let read = read_pinned(&dir, &[("a.bin", pin.as_str())]).unwrap();
        assert_eq!(read, vec![b"weights".to_vec()]);
        std::fs::write(dir.join("a.bin"), b"weightz").unwrap();
        let err = read_pinned(&dir, &[("a.bin", pin.as_str())]).unwrap_err().to_string();
        assert!(err.contains("is not the pinned") && err.contains("a.bin"), "{err}");
        let err = read_pinned(&dir, &[("missing.bin", pin.as_str())]).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
