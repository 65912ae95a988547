//! The chain of custody's costs: appending a ledger entry (what each manifest write adds to a
//! run, three per run), signed and unsigned, and checking a ledger's chain and signatures.
//! Appends sync the file, so their time is the disk's as much as the CPU's.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil::ledger::{Ledger, Record, RunEvent, SigningKey};
use vigil::manifest::{verify, VerifyOptions};
use vigil::warehouse::Warehouse;

fn record(i: u64) -> Record {
    Record::Run {
        event: RunEvent::Committed,
        job: "nightly".into(),
        date: "2026-11-22".into(),
        run_id: format!("20261122T023000Z-{i:08x}"),
        manifest: format!("_runs/nightly/2026-11-22/20261122T023000Z-{i:08x}.json"),
        manifest_blake3: blake3::hash(&i.to_le_bytes()).to_hex().to_string(),
        pseudonym_key: None,
        reveal_key: None,
    }
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes([9; 32]);
    let mut group = c.benchmark_group("ledger");
    group.sample_size(20);
    for (name, signer) in [("append signed", Some(&key)), ("append unsigned", None)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let ledger = Ledger::of(&Warehouse::open(dir.path()).expect("warehouse"));
        let mut i = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                ledger.append(record(i), signer).expect("append")
            })
        });
    }
    // Verify a ledger of 3,000 signed entries (a year of three runs a night): the chain and
    // every signature (the manifests they name are absent, so every run reads as removed).
    let dir = tempfile::tempdir().expect("temp dir");
    let warehouse = Warehouse::open(dir.path()).expect("warehouse");
    let ledger = Ledger::of(&warehouse);
    for i in 0..3000 {
        ledger.append(record(i), Some(&key)).expect("append");
    }
    group.throughput(Throughput::Elements(3000));
    group.bench_function("verify 3000 signed entries", |b| b.iter(|| verify(&warehouse, &VerifyOptions::default()).expect("verify")));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
