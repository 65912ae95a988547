//! Embeds `sql/views.sql` and `sql/queries/*.sql` in the binary, so `vigil query --list` and
//! `vigil query -f NAME` work wherever the binary runs.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time, not with `env!`: a build script compiled in one checkout and reused
    // from a shared target directory by another must look in the checkout being built.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let sql = Path::new(&manifest_dir).join("../sql");
    println!("cargo:rerun-if-changed={}", sql.display());
    let queries = sql.join("queries");
    println!("cargo:rerun-if-changed={}", queries.display());
    let mut entries: Vec<_> = std::fs::read_dir(&queries)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sql")).collect())
        .unwrap_or_default();
    entries.sort();
    let mut out = String::from("/// Canned queries: (name, SQL text with its header comment).\npub const QUERIES: &[(&str, &str)] = &[\n");
    for path in &entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 file name");
        let _ = writeln!(out, "    ({name:?}, include_str!({:?})),", path.canonicalize().expect("query file").display().to_string());
    }
    out.push_str("];\n");
    let views = sql.join("views.sql").canonicalize().expect("sql/views.sql");
    let _ = writeln!(out, "/// `sql/views.sql`.\npub const VIEWS: &str = include_str!({:?});", views.display().to_string());
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("sql.rs");
    std::fs::write(dest, out).expect("write sql.rs");
}
