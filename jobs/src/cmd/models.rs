//! `vigil models`: which learned models are installed, whether their files are the pinned
//! ones, and (with `--compare`) what the encoder makes of a few texts.

use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::Path;

use anyhow::Context as _;
use vigil::embed::{cosine, models_dir, verify_installation, InstalledFile, UseM3, USE_M3_DIM, USE_M3_NAME};
use vigil::redact::ner::{NerLanguage, NerModel};

use crate::cli::ModelsArgs;

pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let models = models_dir(args.dir.as_deref());
    let dir = models.join(USE_M3_NAME);
    println!("{USE_M3_NAME} (Universal Sentence Encoder multilingual v3, 512-d) in {}", dir.display());
    let encoder_ok = print_files(&verify_installation(&dir));
    let mut recognisers_ok = true;
    for language in NerLanguage::ALL {
        let role = match language {
            NerLanguage::English => "names in redaction",
            NerLanguage::French => "confirms names the English model calls something else",
        };
        println!("{} (spaCy named-entity recogniser; {role}) in {}", language.name(), models.join(language.name()).display());
        if print_files(&language.verify_installation(&models)) {
            let model = NerModel::load(&models, language).with_context(|| format!("loading {}", language.name()))?;
            println!("  recogniser id {}", model.id());
        } else {
            recognisers_ok = false;
        }
    }
    let reinstall = format!("install them with `python3 models/install.py --dir {}`", models.display());
    if !encoder_ok {
        anyhow::bail!("the learned encoder is not installed intact: nightly runs with `embedding.backend = \"auto\"` fall back to LSA; {reinstall}");
    }
    let model = UseM3::load(&dir).context("loading the encoder")?;
    println!("encoder id {} (recorded with every vector, manifest and report)", model.id());
    if !args.compare.is_empty() {
        let texts: Vec<&str> = args.compare.iter().map(String::as_str).collect();
        let v = model.encode(&texts)?;
        for (i, a) in texts.iter().enumerate() {
            for (j, b) in texts.iter().enumerate().skip(i + 1) {
                let s = cosine(&v[i * USE_M3_DIM..(i + 1) * USE_M3_DIM], &v[j * USE_M3_DIM..(j + 1) * USE_M3_DIM]);
                println!("{s:+.3}  {a:?} ~ {b:?}");
            }
        }
    }
    if let (Some(input), Some(out)) = (&args.embed, &args.out) {
        let rows = embed_file(&model, input, out)?;
        println!("embedded {rows} texts from {} into {}", input.display(), out.display());
    }
    if !recognisers_ok {
        anyhow::bail!("the name recognisers are not installed intact: redaction with `--ner auto` uses fewer of them or rules only; {reinstall}");
    }
    Ok(())
}

/// Texts embedded per call to the encoder by `--embed` (bounds memory on large files).
const EMBED_CHUNK: usize = 1024;

/// `--embed`: one JSON string per line of `input` → a float32 `.npy` array of unit rows in
/// `out`, written through a temporary file so a failure leaves no half array behind.
fn embed_file(model: &UseM3, input: &Path, out: &Path) -> anyhow::Result<usize> {
    let reader = BufReader::new(File::open(input).with_context(|| format!("opening {}", input.display()))?);
    let mut vectors: Vec<f32> = Vec::new();
    let mut chunk: Vec<String> = Vec::with_capacity(EMBED_CHUNK);
    let flush = |chunk: &mut Vec<String>, vectors: &mut Vec<f32>| -> anyhow::Result<()> {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        vectors.extend(model.encode(&texts).context("embedding")?);
        chunk.clear();
        Ok(())
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {} line {}", input.display(), n + 1))?;
        let text: String = serde_json::from_str(&line).with_context(|| format!("{} line {}: expected one JSON string", input.display(), n + 1))?;
        chunk.push(text);
        if chunk.len() == EMBED_CHUNK {
            flush(&mut chunk, &mut vectors)?;
        }
    }
    flush(&mut chunk, &mut vectors)?;
    let rows = vectors.len() / USE_M3_DIM;
    let tmp = out.with_extension("npy.tmp");
    let mut w = BufWriter::new(File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
    w.write_all(&npy_header(rows, USE_M3_DIM))?;
    for x in &vectors {
        w.write_all(&x.to_le_bytes())?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(rows)
}

/// A NumPy format 1.0 header for a C-order little-endian float32 matrix, padded so the data
/// starts on a 64-byte boundary as the format asks.
fn npy_header(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + dict.len() + 1;
    let len = dict.len() + (64 - unpadded % 64) % 64 + 1;
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&(len as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.resize(10 + len - 1, b' ');
    h.push(b'\n');
    h
}

/// Prints each file's state; whether all are intact.
fn print_files(files: &[InstalledFile]) -> bool {
    for f in files {
        let state = match &f.actual {
            None => "MISSING".to_owned(),
            Some(_) if f.ok() => "ok".to_owned(),
            Some(actual) => format!("ALTERED (BLAKE3 {actual})"),
        };
        println!("  {:<18} {:>11} bytes  {state}", f.name, f.bytes);
    }
    files.iter().all(InstalledFile::ok)
}

#[cfg(test)]
mod tests {
    use super::npy_header;

    #[test]
    fn npy_header_is_aligned_and_describes_the_matrix() {
        for rows in [0, 1, 7, 123_456_789] {
            let h = npy_header(rows, 512);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
            assert_eq!(usize::from(u16::from_le_bytes([h[8], h[9]])) + 10, h.len());
            assert_eq!(h.last(), Some(&b'\n'));
            let text = std::str::from_utf8(&h[10..]).unwrap();
            assert!(text.contains(&format!("'shape': ({rows}, 512)")) && text.contains("'<f4'"), "{text}");
        }
    }
}
