//! `vigil models`: which learned models are installed, whether their files are the pinned
//! ones, and (with `--compare`) what the encoder makes of a few texts.

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
    if !recognisers_ok {
        anyhow::bail!("the name recognisers are not installed intact: redaction with `--ner auto` uses fewer of them or rules only; {reinstall}");
    }
    Ok(())
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
