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

/// A nightly run on the built-in embedder. Crash safety does not depend on the encoder, and
/// the kill-point test makes ~55 runs: the learned encoder costs ~20 s a run on 3 × 400
/// conversations here, the built-in one ~4 s (byte-identical reruns under the learned encoder
/// are tested in nightly.rs).
fn crash_nightly_cmd(w: &Path) -> std::process::Command {
    let mut cmd = nightly_cmd(w);
    cmd.env("VIGIL_MODELS", w.with_extension("no-models")).env_remove("VIGIL_REQUIRE_MODELS");
    cmd
}

/// Starts a nightly run that pauses at `point`, waits until it is there, and SIGKILLs it.
fn kill_at(w: &Path, point: &str) {
    let mut child = crash_nightly_cmd(w).env("VIGIL_PAUSE_AT", point).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
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
    let out = crash_nightly_cmd(&clean).env("VIGIL_KILL_POINTS", "trace").output().unwrap();
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
        let follow_up = crash_nightly_cmd(&w).output().unwrap();
        assert!(follow_up.status.success(), "{point}: {}", String::from_utf8_lossy(&follow_up.stderr));
        let got = snapshot(&w);
        let differing: Vec<&String> = expected.keys().chain(got.keys()).filter(|k| expected.get(*k) != got.get(*k)).collect();
        assert!(differing.is_empty(), "killed at {point}, the follow-up run left a different warehouse: {differing:?}");
        run(&["verify", "--warehouse", path(&w)]).ok();
        std::fs::remove_dir_all(&w).unwrap();
    }

    // And at random moments (seeded), wherever they fall.
    let started = Instant::now();
    assert!(crash_nightly_cmd(&clean).output().unwrap().status.success());
    let run_time = started.elapsed();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..5 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = run_time.mul_f64((state % 1000) as f64 / 1000.0);
        let w = dir.path().join(format!("r{i}"));
        copy_dir(&base, &w);
        let mut child = crash_nightly_cmd(&w).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();
        assert_published_files_whole(&w, &format!("random kill after {delay:?}"));
        assert!(crash_nightly_cmd(&w).output().unwrap().status.success());
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
    assert_eq!(nightly.outputs.len(), 9, "one file per owned table");
    for o in &nightly.outputs {
        let bytes = std::fs::read(w.join(&o.path)).unwrap();
        assert_eq!(blake3::hash(&bytes).to_hex().to_string(), o.blake3, "{}", o.path);
        assert_eq!(o.bytes, bytes.len() as u64);
    }
    let facets = nightly.outputs.iter().find(|o| o.table.as_deref() == Some("facets")).unwrap();
    assert_eq!(facets.rows, Some(nightly.summary["conversations_on_date"].as_u64().unwrap()));
    let stages: Vec<&str> = nightly.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["read", "facets", "embeddings", "policy", "clusters", "topics", "accounts", "campaigns", "publish"]);
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

/// Two-party reveal through the command line: ingest escrows raw ids to a reveal key split
/// into three shares; two different holders reveal a planted campaign's accounts; every
/// refusal leaves the ledger as it was; `vigil audit` lists the reveal and `vigil verify`
/// catches it being dropped or re-signed.
#[test]
fn two_key_holders_reveal_a_campaigns_accounts_and_every_reveal_is_audited() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures(dir.path(), 1, 150, 21);
    let keys = dir.path().join("reveal");
    let made = run(&["keygen", "--reveal-shares", "3", "--threshold", "2", "--out", path(&keys)]).ok().stdout();
    assert!(made.contains("age1") && made.contains("share-3"), "{made}");
    for k in 1..=3 {
        assert_eq!(std::fs::metadata(keys.join(format!("share-{k}"))).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!run(&["keygen", "--reveal-shares", "3", "--out", path(&keys)]).output.status.success(), "never overwrites shares");
    assert!(!run(&["keygen", "--reveal-shares", "2", "--threshold", "3", "--out", path(&dir.path().join("x"))]).output.status.success());

    let w = dir.path().join("w");
    let reveal_pub = keys.join("reveal.pub");
    let mut args = vec!["ingest", "--warehouse", path(&w), "--reveal-key", path(&reveal_pub)];
    args.extend(files.iter().map(|f| path(f)));
    let line = run(&args).ok().stdout();
    assert!(line.contains("new ids escrowed to the reveal key"), "{line}");
    // The escrow table holds ciphertexts only: no raw id appears in it.
    let truth = ground_truth(dir.path());
    let campaign = truth["campaigns"].as_array().unwrap().iter().find(|c| c["kind"] == "influence").unwrap();
    let raw_accounts: std::collections::BTreeSet<String> = campaign["accounts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    let escrow_files = vigil::warehouse::Warehouse::open(&w).unwrap().files("identities", None).unwrap();
    assert!(!escrow_files.is_empty());
    let escrow_bytes: Vec<u8> = escrow_files.iter().flat_map(|f| std::fs::read(f).unwrap()).collect();
    for raw in &raw_accounts {
        assert!(!escrow_bytes.windows(raw.len()).any(|w| w == raw.as_bytes()), "{raw} stored in the clear");
    }
    // Ingest without the reveal key, into a warehouse that escrows, is refused.
    let unescrowed = run(&["ingest", "--warehouse", path(&w), path(&files[0])]);
    assert!(!unescrowed.output.status.success() && unescrowed.stderr().contains("--reveal-key"), "{}", unescrowed.stderr());

    // The campaign's conversations → their account pseudonyms.
    let conversations = table(&w, "conversations");
    let planted: std::collections::HashSet<&str> = campaign["conversation_ids"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let pseudonyms: std::collections::BTreeSet<String> = strings(&conversations, "conversation_id")
        .into_iter()
        .zip(strings(&conversations, "account_id"))
        .filter(|(c, _)| planted.contains(c.as_str()))
        .map(|(_, a)| a)
        .collect();
    assert!(pseudonyms.len() >= 3, "{pseudonyms:?}");
    let [s1, s2, s3] = [1, 2, 3].map(|k| keys.join(format!("share-{k}")).display().to_string());
    let ledger = w.join("_ledger/ledger.jsonl");
    let entries = || std::fs::read_to_string(&ledger).unwrap().lines().count();
    let before = entries();

    // Refusals: one share, one share twice, a share of another key, no reason, not a pseudonym.
    let other_keys = dir.path().join("other");
    run(&["keygen", "--reveal-shares", "2", "--out", path(&other_keys)]).ok();
    let [o1, o2] = [1, 2].map(|k| other_keys.join(format!("share-{k}")).display().to_string());
    let first = pseudonyms.iter().next().unwrap().clone();
    let refusals: [(Vec<&str>, &str); 5] = [
        (vec!["--share", &s1, "--reason", "r"], "needs 2 shares"),
        (vec!["--share", &s2, "--share", &s2, "--reason", "r"], "given twice"),
        (vec!["--share", &s1, "--share", &o2, "--reason", "r"], "different reveal keys"),
        (vec!["--share", &s1, "--share", &s3, "--reason", "  "], "needs a reason"),
        (vec!["--share", &s1, "--share", &s3, "--reason", "r", "acct_not_a_pseudonym"], "not an account or org pseudonym"),
    ];
    for (extra, why) in refusals {
        let mut args = vec!["reveal", "--warehouse", path(&w)];
        args.extend(extra.iter().copied());
        if !args.iter().any(|a| a.starts_with("acct_")) {
            args.push(&first);
        }
        let out = run(&args);
        assert!(!out.output.status.success(), "{args:?} revealed:\n{}", out.stdout());
        let err = out.stderr();
        assert!(err.contains(why) && err.trim().lines().count() == 1, "{args:?}: {err}");
        assert!(!out.stdout().contains(raw_accounts.iter().next().unwrap()), "a refusal printed an id");
        assert_eq!(entries(), before, "a refusal wrote to the ledger");
    }
    // Both shares of another key: they rebuild a key, but not this warehouse's.
    let wrong = run(&["reveal", "--warehouse", path(&w), "--share", &o1, "--share", &o2, "--reason", "r", &first]);
    assert!(!wrong.output.status.success() && wrong.stderr().contains("this warehouse escrows to"), "{}", wrong.stderr());
    assert_eq!(entries(), before);

    // Two holders: every pseudonym of the campaign comes back as one of its planted accounts.
    let mut args = vec!["reveal", "--warehouse", path(&w), "--share", &s3, "--share", &s1, "--reason", "campaign takedown review", "--case", "CASE-7", "--json"];
    args.extend(pseudonyms.iter().map(String::as_str));
    let out = run(&args).ok().stdout();
    let revealed: std::collections::BTreeSet<String> =
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["raw"].as_str().unwrap().to_owned()).collect();
    assert_eq!(revealed.len(), pseudonyms.len(), "{out}");
    assert!(revealed.is_subset(&raw_accounts), "{revealed:?} vs {raw_accounts:?}");
    assert_eq!(entries(), before + 1);

    let audit = run(&["audit", "--warehouse", path(&w)]).ok().stdout();
    assert!(audit.contains("case CASE-7") && audit.contains("campaign takedown review") && audit.contains("/3") && audit.contains("/1"), "{audit}");
    assert!(audit.contains(&format!("{} of {} revealed", pseudonyms.len(), pseudonyms.len())) && audit.contains("signed by ed25519:"), "{audit}");
    let clean = run(&["verify", "--warehouse", path(&w)]).ok().stdout();
    assert!(clean.contains("(1 reveals)"), "{clean}");
    let head = ledger_head(&clean);

    // Dropping the reveal's entry breaks the chain after it, or the anchored head if it was last.
    let original = std::fs::read_to_string(&ledger).unwrap();
    let kept: Vec<&str> = original.lines().filter(|l| !l.contains("\"kind\":\"reveal\"")).collect();
    std::fs::write(&ledger, kept.join("\n") + "\n").unwrap();
    let dropped = run(&["verify", "--warehouse", path(&w), "--expect-head", &head]);
    assert!(!dropped.output.status.success() && dropped.stdout().contains("anchored head"), "{}", dropped.stdout());
    // A reveal entry re-signed with another key (a forged record of who revealed what).
    std::fs::write(&ledger, &original).unwrap();
    let own = dir.path().join("own.key");
    run(&["keygen", "--signing", "--out", path(&own)]).ok();
    let forged = vigil()
        .env("VIGIL_KEY", KEY)
        .env("VIGIL_SIGNING_KEY", path(&own))
        .args(["reveal", "--warehouse", path(&w), "--share", &s2, "--share", &s3, "--reason", "r", &first])
        .output()
        .unwrap();
    assert!(!forged.status.success() && String::from_utf8_lossy(&forged.stderr).contains("signed by"), "another signing key is refused");
    drop(dir);
}

/// Every path under the warehouse with its mode (permission bits) and group.
fn modes(w: &Path) -> BTreeMap<String, (u32, u32)> {
    use std::os::unix::fs::MetadataExt as _;
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, u32)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            out.insert(p.strip_prefix(root).unwrap().display().to_string(), (meta.mode() & 0o777, meta.gid()));
            if meta.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    let meta = std::fs::metadata(w).unwrap();
    out.insert(String::new(), (meta.mode() & 0o777, meta.gid()));
    walk(w, w, &mut out);
    out
}

/// Zones as access boundaries: a new warehouse is readable by its owner only; `vigil access`
/// shares the restricted zone with a group and the aggregate zone with everyone, existing files
/// and later runs' alike; a user in neither can query the aggregate zone and read nothing else.
#[test]
fn zones_are_file_system_boundaries() {
    use std::os::unix::fs::MetadataExt as _;
    let (dir, w, files, _) = fixture_warehouse(1, 150, 5);
    run(&["nightly", "--warehouse", path(&w), "--date", DATE]).ok();
    for (p, (mode, _)) in modes(&w) {
        assert_eq!(mode & 0o077, 0, "{p:?} is {mode:o} in a warehouse nobody shared");
    }
    assert!(run(&["access", "--warehouse", path(&w)]).ok().stdout().contains("restricted zone (conversations"));

    // The group this process creates files with: one its owner can always hand files to.
    let gid = std::fs::metadata(dir.path().join("w/_ledger/ledger.jsonl")).unwrap().gid();
    let set = run(&["access", "--warehouse", path(&w), "--restricted-group", &gid.to_string(), "--aggregate-world-readable"]).ok().stdout();
    assert!(set.contains("aggregate zone (clusters, topics, topic_daily): read by everyone"), "{set}");
    // Later runs follow the policy too: a rerun replaces clusters, an ingest adds conversations.
    run(&["nightly", "--warehouse", path(&w), "--date", DATE]).ok();
    let extra = dir.path().join("extra.jsonl");
    std::fs::write(&extra, "{\"conversation_id\":\"c-extra\",\"account_id\":\"a\",\"created_at\":\"2026-11-22T10:00:00Z\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}\n").unwrap();
    run(&["ingest", "--warehouse", path(&w), path(&extra)]).ok();
    let after = modes(&w);
    assert_eq!(after[""].0, 0o751, "others pass through the root without listing it");
    for (p, (mode, group)) in &after {
        let top = p.split('/').next().unwrap();
        let dir = std::fs::symlink_metadata(w.join(p)).unwrap().is_dir();
        let expected = match top {
            "" => continue,
            "clusters" | "topics" | "topic_daily" => if dir { 0o755 } else { 0o644 },
            "_locks" | "_staging" => if dir { 0o700 } else { 0o600 },
            _ => if dir { 0o750 } else { 0o640 },
        };
        assert_eq!(*mode, expected, "{p}: {mode:o}");
        if top != "_locks" && top != "_staging" {
            assert_eq!(*group, gid, "{p}");
        }
    }
    assert!(after.keys().any(|p| p.starts_with("conversations/") && p.ends_with(".parquet") && !files.is_empty()));

    // A user in neither group, where the host lets this test become one.
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_vigil")])
            .args(args)
            .env("VIGIL_LOG", "error")
            .output()
    };
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    match as_nobody(&["--version"]) {
        Ok(out) if out.status.success() => {
            let aggregate = as_nobody(&["query", "--warehouse", path(&w), "--zone", "aggregate", "--format", "csv", "select count(*) as n from clusters"]).unwrap();
            assert!(aggregate.status.success(), "{}", String::from_utf8_lossy(&aggregate.stderr));
            assert!(String::from_utf8_lossy(&aggregate.stdout).lines().nth(1).is_some_and(|n| n.trim().parse::<u64>().unwrap() > 0));
            let restricted = as_nobody(&["query", "--warehouse", path(&w), "--format", "csv", "select count(*) as n from conversations"]).unwrap();
            assert!(!restricted.status.success(), "a user outside the groups read conversations:\n{}", String::from_utf8_lossy(&restricted.stdout));
        }
        _ => eprintln!("zones_are_file_system_boundaries: cannot run as another user here (needs root and setpriv); modes checked only"),
    }
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
