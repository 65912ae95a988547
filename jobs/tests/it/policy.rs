//! Policy areas on real text: the hh-rlhf red-team transcripts (`../shared/data/hh-rlhf`),
//! against 330 hand labels written before any tuning (`fixtures/hh-rlhf/labels.jsonl`, every
//! line i with i % 7 == 3, rules in `fixtures/hh-rlhf/LABELLING.md`). The policy head trains on
//! the other 1,982 transcripts (`jobs/labelled/hh-rlhf.jsonl`, labelled under the same rules),
//! never on these; earlier sessions chose examples on the labelled lines of the first half of
//! the file, so the bars are asserted on the second half only.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::util::{models_dir, path, run, strings, table};

/// Lines below this were read when examples were written (sessions 6-8); the rest are held out.
const TUNING_LINES: usize = 1156;

fn shared_hh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hh-rlhf/harmless-base-test.jsonl.gz")
}


struct Label {
    line: usize,
    area: String,
}

fn labels() -> Vec<Label> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hh-rlhf/labels.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Label { line: v["line"].as_u64().unwrap() as usize, area: v["area"].as_str().unwrap().to_owned() }
        })
        .collect()
}

/// Conversation id per line, as `vigil ingest --format hh-rlhf` derives it.
fn conversation_ids(file: &Path) -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap()).read_to_string(&mut text).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("hh_{}", &blake3::hash(v["chosen"].as_str().unwrap().as_bytes()).to_hex()[..32])
        })
        .collect()
}

#[derive(Default)]
struct Scores {
    harmful: usize,
    harmful_flagged: usize,
    harmful_right: usize,
    benign: usize,
    benign_none: usize,
    /// Per area: (labelled, predicted, both).
    per_area: BTreeMap<String, (usize, usize, usize)>,
}

impl Scores {
    fn add(&mut self, label: &str, predicted: &str) {
        if label == "none" {
            self.benign += 1;
            self.benign_none += usize::from(predicted == "none");
        } else {
            self.harmful += 1;
            self.harmful_flagged += usize::from(predicted != "none");
            self.harmful_right += usize::from(predicted == label);
        }
        self.per_area.entry(label.to_owned()).or_default().0 += 1;
        self.per_area.entry(predicted.to_owned()).or_default().1 += 1;
        if label == predicted {
            self.per_area.entry(label.to_owned()).or_default().2 += 1;
        }
    }

    fn rates(&self) -> (f64, f64, f64) {
        let r = |a: usize, b: usize| a as f64 / b.max(1) as f64;
        (r(self.harmful_flagged, self.harmful), r(self.harmful_right, self.harmful), r(self.benign_none, self.benign))
    }

    fn report(&self, name: &str) -> String {
        let (flagged, right, none) = self.rates();
        let mut out = format!(
            "{name}: {} harmful, {:.1}% flagged, {:.1}% right area; {} benign, {:.1}% stay none\n  area: labelled / predicted / precision / recall\n",
            self.harmful,
            100.0 * flagged,
            100.0 * right,
            self.benign,
            100.0 * none
        );
        for (area, (labelled, predicted, both)) in &self.per_area {
            let p = if *predicted > 0 { format!("{:.2}", *both as f64 / *predicted as f64) } else { "-".into() };
            let r = if *labelled > 0 { format!("{:.2}", *both as f64 / *labelled as f64) } else { "-".into() };
            out.push_str(&format!("  {area}: {labelled} / {predicted} / {p} / {r}\n"));
        }
        out
    }
}

/// Issue 13's bars, asserted on held-out labels: at least 85% of the harmful get an area and
/// 70% the right one, and 80% of the benign stay `none`. Measured here: session 6 (nearest
/// examples, 264 written) 80.9% / 60.0% / 67.3%; session 8 (766 examples) 74.5% / 61.8% /
/// 81.8%; session 14 (softmax head on the examples, 1,982 labelled transcripts and 480 ordinary
/// requests) 85.5% / 71.8% / 87.3% (before the learned encoder: 4% flagged). Five-fold
/// cross-validation on the training transcripts puts the head at 81.6% / 68.0% / 76.2%, so
/// these are not far above what a new sample would show (`benches/README.md`). The pipeline is
/// deterministic on one machine; a different CPU's SIMD path could move a transcript or two.
const FLOOR_FLAGGED: f64 = 0.85;
const FLOOR_RIGHT: f64 = 0.70;
const FLOOR_BENIGN_NONE: f64 = 0.80;

/// The labelled conversations the head trains on are never the evaluation sample's.
#[test]
fn the_policy_head_never_trains_on_the_evaluation_sample() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("labelled/hh-rlhf.jsonl")).unwrap();
    let evaluated: std::collections::BTreeSet<usize> = labels().iter().map(|l| l.line).collect();
    let mut trained = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let source = v["source"].as_str().unwrap();
        let n: usize = source.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(source.starts_with("hh-rlhf harmless-base-test line ") && !evaluated.contains(&n), "{source} is in the evaluation sample");
        trained += 1;
    }
    assert_eq!(trained + evaluated.len(), 2312, "every transcript is either trained on or evaluated");
}

#[test]
fn hh_rlhf_policy_areas_on_held_out_labels() {
    let Some(models) = models_dir() else { return };
    let file = shared_hh();
    assert!(file.exists(), "{} is missing (shared/ beside the clone)", file.display());
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    run(&["ingest", "--warehouse", path(&w), "--format", "hh-rlhf", "--at", "2026-11-20T12:00:00Z", path(&file)]).ok();
    let out = super::util::vigil()
        .env("VIGIL_KEY", super::util::KEY)
        .env("VIGIL_MODELS", &models)
        .args(["nightly", "--warehouse", path(&w), "--date", "2026-11-20", "--set", "embedding.backend=use-m3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("encoder use-m3@"), "the summary names the encoder: {stdout}");

    let facets = table(&w, "facets");
    let area_of: BTreeMap<String, String> = strings(&facets, "conversation_id").into_iter().zip(strings(&facets, "policy_area")).collect();
    let ids = conversation_ids(&file);
    let (mut tuning, mut held_out) = (Scores::default(), Scores::default());
    for label in labels() {
        let predicted = area_of.get(&ids[label.line]).unwrap_or_else(|| panic!("line {} has no facets row", label.line));
        if label.line < TUNING_LINES { &mut tuning } else { &mut held_out }.add(&label.area, predicted);
    }
    let all_flagged = area_of.values().filter(|a| *a != "none").count();
    println!("hh-rlhf: {all_flagged} of {} conversations get a policy area", area_of.len());
    println!("{}", tuning.report("tuning half (lines < 1156)"));
    println!("{}", held_out.report("held-out half (lines >= 1156)"));
    let (flagged, right, none) = held_out.rates();
    assert!(
        flagged >= FLOOR_FLAGGED && right >= FLOOR_RIGHT && none >= FLOOR_BENIGN_NONE,
        "held-out results fell below the floors:\n{}",
        held_out.report("held out")
    );
}
