//! `vigil models`: which learned models are installed, whether their files are the pinned
//! ones, and (with `--compare`) what the encoder makes of a few texts.

use anyhow::Context as _;
use vigil::embed::{cosine, models_dir, verify_installation, UseM3, USE_M3_DIM, USE_M3_NAME};

use crate::cli::ModelsArgs;

pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let dir = models_dir(args.dir.as_deref()).join(USE_M3_NAME);
    let files = verify_installation(&dir);
    println!("{USE_M3_NAME} (Universal Sentence Encoder multilingual v3, 512-d) in {}", dir.display());
    for f in &files {
        let state = match &f.actual {
            None => "MISSING".to_owned(),
            Some(_) if f.ok() => "ok".to_owned(),
            Some(actual) => format!("ALTERED (BLAKE3 {actual})"),
        };
        println!("  {:<18} {:>11} bytes  {state}", f.name, f.bytes);
    }
    if !files.iter().all(|f| f.ok()) {
        anyhow::bail!(
            "the learned encoder is not installed intact: nightly runs with `embedding.backend = \"auto\"` fall back to LSA; install it with `python3 models/install.py --dir {}`",
            dir.parent().map_or_else(|| ".".into(), |p| p.display().to_string())
        );
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
    Ok(())
}
