//! Learned encoder throughput (texts per second) on fixture requests, beside LSA's fit and
//! embed on the same texts. Needs the model: `python3 models/install.py` (or `VIGIL_MODELS`).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil::embed::{Embedder, HashedTfidf, HashedTfidfConfig, UseM3, USE_M3_NAME};

fn texts() -> Vec<String> {
    // One day of the fixture generator's traffic: its conversations' user turns.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = vigil_fixtures::FixtureConfig { days: 1, per_day: 4000, seed: 3, ..Default::default() };
    let summary = vigil_fixtures::generate(&config, dir.path()).expect("fixtures");
    // Bytes, not a string: the generator plants lines that are not UTF-8 (ingest quarantines
    // them), and this reads past them.
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(&summary.files[0]).expect("day file")), &mut data).expect("gzip");
    let mut out = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            let user: Vec<&str> = v["messages"].as_array().into_iter().flatten().filter(|m| m["role"] == "user").filter_map(|m| m["content"].as_str()).collect();
            if !user.is_empty() {
                out.push(user.join("\n\n"));
            }
        }
    }
    out.truncate(4000);
    out
}

fn bench(c: &mut Criterion) {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("encoder");
    group.sample_size(10);
    group.throughput(Throughput::Elements(refs.len() as u64));
    let dir = std::env::var_os("VIGIL_MODELS").map_or_else(|| PathBuf::from("../.vigil/models"), PathBuf::from).join(USE_M3_NAME);
    match UseM3::load(&dir) {
        Ok(model) => {
            group.bench_function("use-m3 encode", |b| b.iter(|| model.encode(&refs).unwrap()));
        }
        Err(e) => eprintln!("skipping use-m3: {e}"),
    }
    group.bench_function("lsa fit+embed", |b| {
        b.iter(|| {
            let lsa = HashedTfidf::fit(&refs, HashedTfidfConfig::default());
            lsa.embed(&refs)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
