//! Times the per-record stages of ingest (redaction, language identification) on the user
//! text of a JSON Lines file: `cargo run --release --example stage_timings -- FILE.jsonl.gz`.

use std::io::{BufRead, BufReader};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: stage_timings FILE.jsonl[.gz]");
    let file = std::fs::File::open(&path).expect("open input");
    let reader: Box<dyn BufRead> = if path.ends_with(".gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut texts = Vec::new();
    // Fixture files hold invalid UTF-8 on purpose: skip those lines rather than stop.
    for line in reader.split(b'\n').map_while(Result::ok) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else { continue };
        if let Some(messages) = v["messages"].as_array() {
            for m in messages {
                if let Some(c) = m["content"].as_str() {
                    texts.push(c.to_owned());
                }
            }
        }
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let redactor = vigil::redact::Redactor::new().expect("patterns compile");
    let languages = vigil::lang::LanguageDetector::new();
    let (mut out, mut counts, mut scratch) = (String::new(), vigil::redact::PiiCounts::default(), Vec::new());
    // Repeat so the figures are not dominated by timer noise on small inputs.
    let rounds = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let t = Instant::now();
    for _ in 0..rounds {
        for text in &texts {
            redactor.redact_into(text, &mut out, &mut counts, &mut scratch);
        }
    }
    let redact = t.elapsed().as_secs_f64() / rounds as f64;
    if std::env::var("ONLY_REDACT").is_ok() {
        println!("redact: {redact:.3}s ({:.1} MB/s)", bytes as f64 / 1e6 / redact);
        return;
    }
    let t = Instant::now();
    let mut found = Vec::new();
    for text in &texts {
        redactor.find(text, &mut found);
    }
    let find = t.elapsed().as_secs_f64();
    // The first pass loads lingua's models lazily; time the second.
    for text in &texts {
        std::hint::black_box(languages.detect(text));
    }
    let t = Instant::now();
    for text in &texts {
        std::hint::black_box(languages.detect(text));
    }
    let lang = t.elapsed().as_secs_f64();
    use vigil::embed::Embedder as _;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    let model = vigil::embed::HashedTfidf::fit(&refs, vigil::embed::HashedTfidfConfig::default());
    let fit = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let vectors = model.embed(&refs);
    let embed = t.elapsed().as_secs_f64();
    std::hint::black_box(vectors);
    let mb = bytes as f64 / 1e6;
    println!("{} texts, {mb:.1} MB", texts.len());
    println!("redact: {redact:.3}s ({:.1} MB/s, {:.0} texts/s)", mb / redact, texts.len() as f64 / redact);
    println!("find:   {find:.3}s ({:.1} MB/s)", mb / find);
    println!("lang:   {lang:.3}s ({:.0} texts/s)", texts.len() as f64 / lang);
    println!("embed:  fit {fit:.3}s, transform {embed:.3}s ({:.0} texts/s, all threads)", texts.len() as f64 / embed);
}
