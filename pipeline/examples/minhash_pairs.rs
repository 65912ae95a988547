//! Near-duplicate pairs among texts (one per line of a file): `minhash_pairs TEXTS.txt
//! THRESHOLD PAIRS.txt`. Prints signing and LSH times in seconds; writes `i j estimate` lines.
//! Used by `benches/minhash_vs_datasketch.py`.

use std::io::{BufRead, Write};
use std::time::Instant;

use vigil::coordinate::{MinHashConfig, MinHasher};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, texts, threshold, out] = args.as_slice() else {
        eprintln!("usage: minhash_pairs TEXTS.txt THRESHOLD PAIRS.txt");
        std::process::exit(2);
    };
    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::open(texts).expect("open texts")).lines().map_while(Result::ok).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let hasher = MinHasher::new(MinHashConfig { threshold: threshold.parse().expect("THRESHOLD"), ..MinHashConfig::default() }).expect("valid settings");
    let started = Instant::now();
    let signatures = hasher.signatures(&refs);
    let signed = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let pairs = hasher.near_duplicate_pairs(&signatures);
    let lsh = started.elapsed().as_secs_f64();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).expect("create pairs file"));
    for (i, j, e) in &pairs {
        writeln!(f, "{i} {j} {e:.4}").expect("write pairs");
    }
    println!("{signed:.3} {lsh:.3}");
}
