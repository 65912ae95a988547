//! Accuracy and speed of language identification against the fixtures' labels:
//! `cargo run --release --example language_accuracy -- DAY.jsonl.gz labels.jsonl.gz`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::time::Instant;

fn gz_lines(path: &str) -> impl Iterator<Item = String> {
    let file = std::fs::File::open(path).expect("open input");
    // Fixture files hold some invalid UTF-8 on purpose: skip those lines, don't stop at them.
    BufReader::new(flate2::read::MultiGzDecoder::new(file))
        .split(b'\n')
        .map_while(Result::ok)
        .filter_map(|line| String::from_utf8(line).ok())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (logs, labels) = (args.next().expect("DAY.jsonl.gz"), args.next().expect("labels.jsonl.gz"));
    let mut expected = HashMap::new();
    for line in gz_lines(&labels) {
        let v: serde_json::Value = serde_json::from_str(&line).expect("label json");
        expected.insert(v["conversation_id"].as_str().unwrap_or_default().to_owned(), v["language"].as_str().unwrap_or_default().to_owned());
    }
    let mut items = Vec::new();
    for line in gz_lines(&logs) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let Some(lang) = v["conversation_id"].as_str().and_then(|id| expected.get(id)) else { continue };
        let Some(messages) = v["messages"].as_array() else { continue };
        let user: Vec<&str> = messages.iter().filter(|m| m["role"] == "user").filter_map(|m| m["content"].as_str()).collect();
        items.push((user.join("\n\n"), lang.clone()));
    }
    let detector = vigil::lang::LanguageDetector::new();
    let started = Instant::now();
    for (text, _) in &items {
        detector.detect(text); // loads lingua's models
    }
    println!("first pass (loads lingua's models): {:.2}s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut confusions: BTreeMap<(String, &str), u32> = BTreeMap::new();
    let mut correct = 0;
    for (text, lang) in &items {
        let got = detector.detect(text);
        if got == lang {
            correct += 1;
        } else {
            *confusions.entry((lang.clone(), got)).or_default() += 1;
        }
    }
    let per_text = started.elapsed().as_secs_f64() * 1e6 / items.len() as f64;
    println!("{} conversations: accuracy {:.4}, {per_text:.1} µs per conversation", items.len(), f64::from(correct) / items.len() as f64);
    println!("confusions (expected, got): {confusions:?}");
}
