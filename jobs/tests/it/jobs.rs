//! Unattended operation: crash safety at every kill point of a nightly run, manifests,
//! `vigil runs`, `vigil verify`, `nightly --input` and config overrides.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

const DATE: &str = "2026-11-22";

/// Every file of the warehouse except run bookkeeping (`_runs`, `_ledger`, `_locks`), by relative path.
fn snapshot(w: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("_runs") || rel.starts_with("_ledger") || rel.starts_with("_locks") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(w, w, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// Every visible (published) Parquet file reads completely: no partial partition.
fn assert_published_files_whole(w: &Path, context: &str) {
    for rel in snapshot(w).into_keys() {
        if rel.starts_with('_') || !rel.ends_with(".parquet") {
            continue;
        }
        let file = std::fs::File::open(w.join(&rel)).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap_or_else(|e| panic!("{context}: {rel} is not a whole Parquet file: {e}"));
        for batch in reader.build().unwrap() {
            batch.unwrap_or_else(|e| panic!("{context}: {rel} does not read: {e}"));
        }
    }
}

fn nightly_cmd(w: &Path) -> std::process::Command {
    let mut cmd = vigil();
    cmd.env("VIGIL_KEY", KEY).args(["nightly", "--warehouse", path(w), "--date", DATE]);
    cmd
}

/// Starts a nightly run that pauses at `point`, waits until it is there, and SIGKILLs it.
fn kill_at(w: &Path, point: &str) {
    let mut child = nightly_cmd(w).env("VIGIL_PAUSE_AT", point).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("paused at kill point") {
                let _ = tx.send(line);
            }
        }
    });
    let reached = rx.recv_timeout(Duration::from_secs(120));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(reached.is_ok(), "the run never reached kill point {point} (exit {status})");
}

#[test]
fn a_nightly_killed_at_any_point_is_finished_by_the_next_run_with_identical_bytes() {
    let (dir, base, _, _) = fixture_warehouse(3, 400, 21);
    // The clean run, tracing the kill points it passes.
    let clean = dir.path().join("clean");
    copy_dir(&base, &clean);
    let out = nightly_cmd(&clean).env("VIGIL_KILL_POINTS", "trace").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let points: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("vigil: kill point "))
        .map(str::to_owned)
        .collect();
    let expected = snapshot(&clean);
    assert!(points.len() >= 20, "{} kill points: {points:?}", points.len());
    for stage in ["nightly.read#1", "nightly.embeddings#1", "nightly.clusters#1", "nightly.campaigns#1", "publish.committed#1", "publish.renamed#4", "manifest.finishing#1"] {
        assert!(points.iter().any(|p| p == stage), "no kill point {stage} in {points:?}");
    }

    for (i, point) in points.iter().enumerate() {
        let w = dir.path().join(format!("k{i}"));
        copy_dir(&base, &w);
        kill_at(&w, point);
        assert_published_files_whole(&w, point);
        let runs = vigil::manifest::list(&vigil::warehouse::Warehouse::open(&w).unwrap(), Some("nightly"), None).unwrap();
        assert_eq!(runs.len(), 1, "{point}: the killed run left its manifest");
        assert!(runs[0].interrupted, "{point}: listed as interrupted once its lock is gone");
        let follow_up = nightly_cmd(&w).output().unwrap();
        assert!(follow_up.status.success(), "{point}: {}", String::from_utf8_lossy(&follow_up.stderr));
        let got = snapshot(&w);
        let differing: Vec<&String> = expected.keys().chain(got.keys()).filter(|k| expected.get(*k) != got.get(*k)).collect();
        assert!(differing.is_empty(), "killed at {point}, the follow-up run left a different warehouse: {differing:?}");
        run(&["verify", "--warehouse", path(&w)]).ok();
        std::fs::remove_dir_all(&w).unwrap();
    }

    // And at random moments (seeded), wherever they fall.
    let started = Instant::now();
    assert!(nightly_cmd(&clean).output().unwrap().status.success());
    let run_time = started.elapsed();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..5 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = run_time.mul_f64((state % 1000) as f64 / 1000.0);
        let w = dir.path().join(format!("r{i}"));
        copy_dir(&base, &w);
        let mut child = nightly_cmd(&w).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        assert_published_files_whole(&w, &format!("random kill after {delay:?}"));
        assert!(nightly_cmd(&w).output().unwrap().status.success());
        assert!(snapshot(&w) == expected, "random kill after {delay:?}: the follow-up differs");
        std::fs::remove_dir_all(&w).unwrap();
    }
}

#[test]
fn manifests_record_runs_and_verify_catches_tampering() {
    let (dir, w, files, _) = fixture_warehouse(2, 300, 8);
    // One cron line: ingest the same files again (all duplicates) and analyse.
    let mut args = vec!["nightly", "--warehouse", path(&w), "--date", DATE, "--set", "clustering.min_cluster_size=12", "--input"];
    args.extend(files.iter().map(|f| path(f)));
    let line = run(&args).ok().stdout();
    assert!(line.contains("duplicates") && line.contains("nightly 2026-11-22"), "{line}");

    let wh = vigil::warehouse::Warehouse::open(&w).unwrap();
    let runs = vigil::manifest::list(&wh, None, None).unwrap();
    let jobs: Vec<&str> = runs.iter().map(|r| r.manifest.job.as_str()).collect();
    assert_eq!(jobs, ["ingest", "ingest", "nightly"], "two ingests (fixture setup, --input), then nightly");
    let nightly = &runs[2].manifest;
    assert_eq!(nightly.outcome, vigil::manifest::Outcome::Succeeded);
    assert_eq!(nightly.config["clustering"]["min_cluster_size"], 12, "the override is what ran");
    assert!(nightly.inputs.iter().all(|f| f.table.as_deref() == Some("conversations") && f.blake3.len() == 64));
    assert_eq!(nightly.inputs.len(), 2, "two days of conversations read");
    assert_eq!(nightly.outputs.len(), 7, "one file per owned table");
    for o in &nightly.outputs {
        let bytes = std::fs::read(w.join(&o.path)).unwrap();
        assert_eq!(blake3::hash(&bytes).to_hex().to_string(), o.blake3, "{}", o.path);
        assert_eq!(o.bytes, bytes.len() as u64);
    }
    let facets = nightly.outputs.iter().find(|o| o.table.as_deref() == Some("facets")).unwrap();
    assert_eq!(facets.rows, Some(nightly.summary["conversations_on_date"].as_u64().unwrap()));
    let stages: Vec<&str> = nightly.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["read", "facets", "embeddings", "policy", "clusters", "accounts", "campaigns", "publish"]);
    let second_ingest = &runs[1].manifest;
    assert_eq!(second_ingest.summary["duplicates"].as_u64(), second_ingest.summary["read"].as_u64());
    assert!(second_ingest.outputs.iter().all(|o| o.rows.is_some()));
    assert_eq!(second_ingest.inputs.len(), files.len(), "the log files, hashed");

    let listing = run(&["runs", "--warehouse", path(&w)]).ok().stdout();
    assert_eq!(listing.lines().filter(|l| l.contains("succeeded")).count(), 3, "{listing}");
    let json: serde_json::Value = serde_json::from_str(&run(&["runs", "--warehouse", path(&w), "--job", "nightly", "--json"]).ok().stdout()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);

    let ok = run(&["verify", "--warehouse", path(&w)]).ok().stdout();
    assert!(ok.contains(" 0 altered, 0 missing, 0 unaccounted"), "{ok}");
    // Flip one byte of a published partition: verify names it and fails.
    let target = w.join(&facets.path);
    let mut bytes = std::fs::read(&target).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&target, bytes).unwrap();
    let bad = run(&["verify", "--warehouse", path(&w)]);
    assert!(!bad.output.status.success());
    assert!(bad.stdout().contains(&format!("ALTERED     {}", facets.path)), "{}", bad.stdout());
    drop(dir);
}

fn ledger_head(verify_stdout: &str) -> String {
    let line = verify_stdout.lines().find(|l| l.starts_with("ledger head: ")).unwrap_or_else(|| panic!("no head in {verify_stdout}"));
    line.strip_prefix("ledger head: ").unwrap().get(..64).unwrap().to_owned()
}

/// The tamper suite through the command line: signed runs, keys bound to the warehouse, and
/// every tampering named by `vigil verify`.
#[test]
fn the_ledger_binds_keys_and_verify_names_every_tampering() {
    let (dir, w, files, _) = fixture_warehouse(2, 150, 21);
    // A signing key of one's own, written 0600 with its public half beside it.
    let own = dir.path().join("signing.key");
    run(&["keygen", "--signing", "--out", path(&own)]).ok();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&own).unwrap().permissions().mode() & 0o777, 0o600);
    let public = std::fs::read_to_string(dir.path().join("signing.key.pub")).unwrap();
    assert!(public.starts_with("ed25519:"), "{public}");
    assert!(!run(&["keygen", "--signing", "--out", path(&own)]).output.status.success(), "never overwrites a key");

    // The fixture warehouse's runs are signed by the tests' key: another key, no key, or
    // another pseudonym key is refused before anything is written.
    let runs_before = vigil::manifest::list(&vigil::warehouse::Warehouse::open(&w).unwrap(), None, None).unwrap().len();
    let other_signer = vigil().env("VIGIL_KEY", KEY).args(["nightly", "--warehouse", path(&w), "--date", DATE, "--signing-key", path(&own)]).output().unwrap();
    assert!(!other_signer.status.success());
    assert!(String::from_utf8_lossy(&other_signer.stderr).contains("signed by ed25519:"), "{}", String::from_utf8_lossy(&other_signer.stderr));
    let unsigned = vigil().env_remove("VIGIL_SIGNING_KEY").env("VIGIL_KEY", KEY).args(["nightly", "--warehouse", path(&w), "--date", DATE]).output().unwrap();
    assert!(!unsigned.status.success());
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("--signing-key"), "{}", String::from_utf8_lossy(&unsigned.stderr));
    let other_key = "11".repeat(32);
    let second_key = vigil().env("VIGIL_KEY", &other_key).args(["ingest", "--warehouse", path(&w), path(&files[0])]).output().unwrap();
    let err = String::from_utf8_lossy(&second_key.stderr);
    assert!(!second_key.status.success() && err.contains("pseudonymized with the key whose fingerprint is") && !err.contains(&other_key), "{err}");
    assert_eq!(vigil::manifest::list(&vigil::warehouse::Warehouse::open(&w).unwrap(), None, None).unwrap().len(), runs_before, "refused runs leave no manifest");

    run(&["nightly", "--warehouse", path(&w), "--date", DATE]).ok();
    let clean = run(&["verify", "--warehouse", path(&w)]).ok().stdout();
    let head = ledger_head(&clean);
    assert!(clean.contains("0 chain breaks, 0 signature findings"), "{clean}");
    // Trusting one's own key instead: every entry is signed by another.
    let distrust = run(&["verify", "--warehouse", path(&w), "--trust", path(&dir.path().join("signing.key.pub"))]);
    assert!(!distrust.output.status.success() && distrust.stdout().contains("not by the trusted key"), "{}", distrust.stdout());

    let snapshot_dir = dir.path().join("pristine");
    copy_dir(&w, &snapshot_dir);
    let fresh = |name: &str| {
        let copy = dir.path().join(name);
        copy_dir(&snapshot_dir, &copy);
        copy
    };
    let verify_fails = |w: &Path, extra: &[&str]| {
        let mut args = vec!["verify", "--warehouse", path(w)];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(!out.output.status.success(), "verify passed:\n{}", out.stdout());
        out.stdout()
    };
    let wh = |w: &Path| vigil::warehouse::Warehouse::open(w).unwrap();
    let nightly = |w: &Path| vigil::manifest::list(&wh(w), Some("nightly"), None).unwrap().pop().unwrap();

    // A forged file with its digest and size patched into the manifest.
    let w1 = fresh("forged");
    let run1 = nightly(&w1);
    let out = run1.manifest.outputs.iter().find(|o| o.table.as_deref() == Some("campaigns")).unwrap();
    std::fs::write(w1.join(&out.path), b"PAR1 forged").unwrap();
    let text = std::fs::read_to_string(&run1.path).unwrap().replace(&out.blake3, &blake3::hash(b"PAR1 forged").to_hex().to_string());
    std::fs::write(&run1.path, text).unwrap();
    let found = verify_fails(&w1, &[]);
    assert!(found.contains("MANIFEST    _runs/nightly/") && found.contains(&run1.manifest.run_id), "{found}");

    // A whole run deleted, manifest and files.
    let w2 = fresh("removed");
    let run2 = nightly(&w2);
    std::fs::remove_file(&run2.path).unwrap();
    for o in &run2.manifest.outputs {
        std::fs::remove_file(w2.join(&o.path)).unwrap();
    }
    let found = verify_fails(&w2, &[]);
    assert!(found.contains(&format!("REMOVED     run {}", run2.manifest.run_id)), "{found}");

    // One more record ingested for a day, then that day's original files deleted.
    let w3 = fresh("appended");
    let extra = dir.path().join("extra.jsonl");
    std::fs::write(&extra, "{\"conversation_id\":\"c-extra\",\"account_id\":\"a\",\"created_at\":\"2026-11-22T10:00:00Z\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}\n").unwrap();
    run(&["ingest", "--warehouse", path(&w3), path(&extra)]).ok();
    let day = chrono::NaiveDate::parse_from_str(DATE, "%Y-%m-%d").unwrap();
    let originals = wh(&w3).files("conversations", Some(day)).unwrap();
    assert_eq!(originals.len(), 2, "{originals:?}");
    std::fs::remove_file(&originals[0]).unwrap();
    let found = verify_fails(&w3, &[]);
    assert!(found.contains("MISSING     conversations/date=2026-11-22/"), "{found}");

    // The ledger edited, entries reordered, the tail cut (caught by the anchored head).
    let w4 = fresh("edited");
    let ledger = w4.join("_ledger/ledger.jsonl");
    let original = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, original.replacen("\"event\":\"finished\"", "\"event\":\"committed\"", 1)).unwrap();
    let found = verify_fails(&w4, &[]);
    assert!(found.contains("SIGNATURE   line") && found.contains("does not verify"), "{found}");
    let mut lines: Vec<&str> = original.lines().collect();
    lines.swap(1, 2);
    std::fs::write(&ledger, lines.join("\n") + "\n").unwrap();
    assert!(verify_fails(&w4, &[]).contains("LEDGER      line 2: sequence number"));
    let lines: Vec<&str> = original.lines().collect();
    std::fs::write(&ledger, lines[..lines.len() - 3].join("\n") + "\n").unwrap();
    let found = verify_fails(&w4, &["--expect-head", &head]);
    assert!(found.contains("anchored head"), "{found}");
    drop(dir);
}

#[test]
fn a_second_run_on_the_same_date_is_refused_while_one_holds_the_lock() {
    let (_dir, w, _, _) = fixture_warehouse(1, 200, 4);
    let mut first = nightly_cmd(&w).env("VIGIL_PAUSE_AT", "nightly.read#1").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut reader = std::io::BufReader::new(first.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("paused at") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "first run ended early");
    }
    let second = nightly_cmd(&w).output().unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("locked"), "{}", String::from_utf8_lossy(&second.stderr));
    let listing = run(&["runs", "--warehouse", path(&w), "--job", "nightly"]).ok().stdout();
    assert!(listing.contains("interrupted"), "{listing}");
    let _: PathBuf = w;
}
