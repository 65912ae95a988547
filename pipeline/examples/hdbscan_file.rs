//! HDBSCAN on a raw little-endian `f32` matrix: `hdbscan_file POINTS.f32 DIM MIN_CLUSTER_SIZE
//! MIN_SAMPLES LABELS.txt`. Prints the clustering time in seconds (reading excluded) so a
//! script can compare it with another implementation (`benches/hdbscan_vs_fast_hdbscan.py`).

use std::io::Write;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, points, dim, mcs, ms, out] = args.as_slice() else {
        eprintln!("usage: hdbscan_file POINTS.f32 DIM MIN_CLUSTER_SIZE MIN_SAMPLES LABELS.txt");
        std::process::exit(2);
    };
    let bytes = std::fs::read(points).expect("read points");
    let data: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let dim: usize = dim.parse().expect("DIM");
    let config = vigil::cluster::HdbscanConfig { min_cluster_size: mcs.parse().expect("MIN_CLUSTER_SIZE"), min_samples: ms.parse().expect("MIN_SAMPLES") };
    let started = Instant::now();
    let labels = vigil::cluster::hdbscan(&data, dim, &config).expect("points are n × DIM finite values");
    let seconds = started.elapsed().as_secs_f64();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).expect("create labels file"));
    for l in &labels {
        writeln!(f, "{l}").expect("write labels");
    }
    println!("{seconds:.3}");
}
