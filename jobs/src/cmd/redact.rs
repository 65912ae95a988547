//! `vigil redact`: stdin lines → redacted lines or JSON spans.

use std::io::{BufRead, BufWriter, Write};

use anyhow::Context as _;
use vigil::redact::{char_spans, PiiCounts, Redactor};

use crate::cli::{RedactArgs, RedactFormat};

pub fn run(args: RedactArgs) -> anyhow::Result<()> {
    let models = vigil::embed::models_dir(args.names.models.as_deref());
    let (redactor, fallback) = Redactor::with_models(args.names.ner.into(), &models)?;
    if let Some(reason) = fallback {
        eprintln!("warning: {reason}");
    }
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let (mut redacted, mut entities, mut counts) = (String::new(), Vec::new(), PiiCounts::default());
    for line in stdin.split(b'\n') {
        let line = line.context("reading stdin")?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let text = String::from_utf8_lossy(line);
        redactor.redact_into(&text, &mut redacted, &mut counts, &mut entities);
        match args.format {
            RedactFormat::Text => writeln!(out, "{redacted}")?,
            RedactFormat::Json => {
                let spans: Vec<serde_json::Value> = entities
                    .iter()
                    .zip(char_spans(&text, &entities))
                    .map(|(e, (start, end))| serde_json::json!({"type": e.kind.name(), "start": start, "end": end}))
                    .collect();
                serde_json::to_writer(&mut out, &serde_json::json!({"text": redacted, "entities": spans}))?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    let partial = redactor.texts_read_in_part();
    if partial > 0 {
        eprintln!(
            "warning: {partial} lines longer than {} KiB: the learned name recognisers read their first {} KiB, the rules all of them",
            vigil::redact::NER_MAX_BYTES >> 10,
            vigil::redact::NER_MAX_BYTES >> 10
        );
    }
    Ok(())
}
