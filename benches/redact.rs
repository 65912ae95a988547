//! Redaction throughput on chat-like text: messages with and without personal data, and the
//! 72-character lines the Presidio comparison uses (`benches/redact_vs_presidio.py`); and
//! redaction time of one message at ingest's 4 MiB cap made of a unit written to make a
//! scanner backtrack or rescan (issue 14: under a second each).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vigil::redact::{PiiCounts, Redactor};

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

fn bench(c: &mut Criterion) {
    let redactor = Redactor::new().expect("patterns compile");
    let mut group = c.benchmark_group("redact");
    for (name, texts) in corpus() {
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

criterion_group!(benches, bench, bench_hostile);
criterion_main!(benches);
