//! Writes the embeddings the nightly run computes for a window, for experiments in Python:
//! `<out>.f32` (row-major float32, n × dim) and `<out>.ids` (one conversation id per line).
//!
//! `cargo run --release -p vigil-pipeline --example dump_window -- WAREHOUSE DATE OUT`

use std::io::Write;

use vigil::embed::{Embedder, HashedTfidf, HashedTfidfConfig};
use vigil::nightly::Window;
use vigil::warehouse::Warehouse;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, warehouse, date, out] = args.as_slice() else {
        return Err("usage: dump_window WAREHOUSE DATE OUT".into());
    };
    let window = Window::read(&Warehouse::open(warehouse)?, chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")?, 7)?;
    let requests: Vec<&str> = (0..window.len()).map(|i| window.first_message(i)).collect();
    let embedder = HashedTfidf::fit(&requests, HashedTfidfConfig::default());
    let vectors = embedder.embed(&requests);
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{out}.f32"))?);
    for v in &vectors {
        f.write_all(&v.to_le_bytes())?;
    }
    let mut ids = std::io::BufWriter::new(std::fs::File::create(format!("{out}.ids"))?);
    for i in 0..window.len() {
        writeln!(ids, "{}\t{}", window.conversation_id(i), window.first_message(i).replace(['\n', '\t'], " "))?;
    }
    eprintln!("{} rows × {}", window.len(), embedder.dim());
    Ok(())
}
