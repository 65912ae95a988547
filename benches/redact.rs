//! Redaction throughput on chat-like text: messages with and without personal data, and the
//! 72-character lines the Presidio comparison uses (`benches/redact_vs_presidio.py`); the
//! same with the learned name recognisers (when installed: `python3 models/install.py`), on
//! those texts and on sentences full of names; and redaction time of one message at ingest's
//! 4 MiB cap made of a unit written to make a scanner backtrack or rescan (issue 14: under a
//! second each), and of one made of names for the recognisers to read.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use vigil::redact::{NerMode, PiiCounts, Redactor};

fn corpus() -> Vec<(&'static str, Vec<String>)> {
    let clean = [
        "Can you give me a recipe for banana bread that uses coconut milk?",
        "My Python script throws KeyError when I loop over a dictionary. How do I fix it?",
        "Write a polite email to my landlord asking for a repair in the kitchen.",
        "Explain the causes of the French Revolution in about 300 words for my class.",
        "Sure! Here's a step-by-step answer.\n\n1. Start with the basics.\n2. Adjust to your situation.",
    ];
    let with_pii = [
        "My email is jane.doe42@example.org and my phone is (415) 555-0132, call after 5pm.",
        "I was charged twice on my card 4111 1111 1111 1111, how do I dispute it?",
        "Dear Ms. Okonkwo, please wire the deposit to IBAN DE89 3704 0044 0532 0130 00.",
        "Here is my config: api_key = sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX. Why 401?",
        "I live at 742 Maple Street, Springfield, IL 62704 and my SSN is 078-05-1123.",
    ];
    let short: Vec<String> = with_pii.iter().chain(clean.iter()).map(|t| t.chars().take(72).collect()).collect();
    vec![
        ("clean", clean.iter().map(|s| s.to_string()).collect()),
        ("with_pii", with_pii.iter().map(|s| s.to_string()).collect()),
        ("presidio_72_chars", short),
    ]
}

/// Sentences where every text holds names the rules do not know, so the recognisers run on
/// all of them (the first model on each, the second where the first finds an organisation
/// or a place).
fn name_dense() -> Vec<String> {
    [
        "Kuba, can I please speak to your boss about the invoice from last week?",
        "You can tell Gregorian was a huge Rareș Dobre fan. Written when he was 82.",
        "I'm Quarto Angelo, originally from Križe, and I need help with my visa application.",
        "Please forward the contract to Olumide Adeyemi and Siobhán Ní Bhriain by Friday.",
        "Wisława Szczepańska's killers sentenced to 20 years, the court in Gdańsk said.",
        "Zsófia Kovács reviewed the draft; Mateusz Wróblewski will send it to Lidköping.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The redactor with both learned recognisers, or `None` (with a notice) when they are not
/// installed.
fn with_recognisers() -> Option<Redactor> {
    let models = vigil::embed::models_dir(None);
    match Redactor::with_models(NerMode::Required, &models) {
        Ok((redactor, _)) => Some(redactor),
        Err(e) => {
            eprintln!("skipping the recogniser benchmarks: {e}");
            None
        }
    }
}

fn bench(c: &mut Criterion) {
    let rules = Redactor::new().expect("patterns compile");
    bench_group(c, "redact", &rules, corpus());
    if let Some(learned) = with_recognisers() {
        let mut texts = corpus();
        texts.push(("name_dense", name_dense()));
        // The redactor remembers the recognisers' finds per text (16k texts a thread):
        // numbered copies, more of them than it remembers, make every text new to it, so
        // this measures the recognisers and not the memo.
        let distinct = texts.into_iter().map(|(name, texts)| (name, numbered(&texts, DISTINCT_TEXTS))).collect();
        bench_group(c, "redact_ner", &learned, distinct);
    }
}

/// More texts than the redactor's per-thread memo of recognised names holds.
const DISTINCT_TEXTS: usize = 20_000;

/// `n` texts cycling through `texts`, each ending in its own number.
fn numbered(texts: &[String], n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{} ({i})", texts[i % texts.len()])).collect()
}

fn bench_group(c: &mut Criterion, group: &str, redactor: &Redactor, corpus: Vec<(&'static str, Vec<String>)>) {
    let mut group = c.benchmark_group(group);
    group.sample_size(10);
    for (name, texts) in corpus {
        let bytes: usize = texts.iter().map(String::len).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &texts, |b, texts| {
            let (mut out, mut counts, mut scratch) = (String::new(), PiiCounts::default(), Vec::new());
            b.iter(|| {
                for t in texts {
                    redactor.redact_into(black_box(t), &mut out, &mut counts, &mut scratch);
                }
            })
        });
    }
    group.finish();
}

/// Units that made an earlier scanner quadratic or that open a candidate at every byte.
const HOSTILE_UNITS: &[&str] = &[
    "1.2.3.4.", "http://a.co/x)", "www.a/", "a@a.", "-----BEGIN PRIVATE KEY-----", "4 1 ", "a [at] ", "\u{ff14}\u{a0}",
    "Name: A, ", "password is aaaaaaaaaaaaaaa ", "de89 ", "a",
];

fn bench_hostile(c: &mut Criterion) {
    let redactor = Redactor::new().expect("patterns compile");
    let mut group = c.benchmark_group("redact_hostile_4mib");
    group.sample_size(10);
    for unit in HOSTILE_UNITS {
        let text = unit.repeat((4 << 20) / unit.len());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(unit.escape_debug()), &text, |b, text| {
            let (mut out, mut counts, mut scratch) = (String::new(), PiiCounts::default(), Vec::new());
            b.iter(|| redactor.redact_into(black_box(text), &mut out, &mut counts, &mut scratch))
        });
    }
    group.finish();
}

/// One 4 MiB message of names the recognisers must read: the cost of the worst message an
/// attacker can send them.
fn bench_hostile_names(c: &mut Criterion) {
    let Some(redactor) = with_recognisers() else { return };
    let mut group = c.benchmark_group("redact_ner_hostile_4mib");
    group.sample_size(10);
    for unit in ["Rareș Dobre and ", "Kuba, Tatjana, "] {
        let text = unit.repeat((4 << 20) / unit.len());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(unit.escape_debug()), &text, |b, text| {
            let (mut out, mut counts, mut scratch) = (String::new(), PiiCounts::default(), Vec::new());
            // A new first word each time, so the memo of recognised names never answers.
            let mut run = 0u64;
            b.iter_batched(
                || {
                    run += 1;
                    format!("{run} {text}")
                },
                |text| redactor.redact_into(black_box(&text), &mut out, &mut counts, &mut scratch),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_hostile, bench_hostile_names);
criterion_main!(benches);
