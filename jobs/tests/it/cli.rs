//! CLI contract: help on every command, clear refusals, the demo.

use crate::util::*;
use std::path::Path;

#[test]
fn every_command_has_help() {
    for cmd in ["fixtures", "ingest", "redact", "keygen", "demo"] {
        let out = vigil().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{cmd}");
    }
}

#[test]
fn ingest_refuses_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{}\n").unwrap();
    let w = dir.path().join("w");
    let out = vigil().args(["ingest", "--warehouse", path(&w), path(&input)]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
    assert!(err.contains("VIGIL_KEY") && err.contains("--key-file"), "{err}");
    assert!(!w.exists(), "nothing written without a key");
}

#[test]
fn ingest_rejects_a_bad_key_and_missing_input() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    let out = vigil().env("VIGIL_KEY", "abc").args(["ingest", "--warehouse", path(&w), "/nonexistent.jsonl"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex"));
    let r = run(&["ingest", "--warehouse", path(&w), "/nonexistent.jsonl"]);
    assert!(!r.output.status.success());
    assert!(r.stderr().contains("/nonexistent.jsonl"), "{}", r.stderr());
    let r = run(&["ingest", "--warehouse", path(&w), path(dir.path())]);
    assert!(!r.output.status.success());
    assert!(r.stderr().contains("not a regular file"), "{}", r.stderr());
}

/// No date or argument makes `vigil` panic: out-of-range and malformed dates are refused with
/// one line naming the flag, and the largest accepted date runs.
#[test]
fn hostile_dates_are_refused_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    std::fs::create_dir(&w).unwrap();
    for date in ["+262142-12-31", "262142-12-31", "-0001-01-01", "1969-12-31", "2026-13-01", "2026-11-22\u{1b}[2J", "20261122"] {
        for args in [
            vec!["nightly", "--warehouse", path(&w), "--date", date],
            vec!["weekly", "--warehouse", path(&w), "--week-ending", date, "--out", path(dir.path())],
            vec!["verify", "--warehouse", path(&w), "--date", date],
            vec!["fixtures", "--out", path(dir.path()), "--end-date", date, "--days", "1", "--per-day", "1"],
        ] {
            let out = run(&args);
            // 1: refused by vigil in one line; 2: clap's usage error (`-0001…` reads as a flag).
            let code = out.output.status.code();
            assert!(code == Some(1) && out.stderr().lines().count() == 1 || code == Some(2), "{args:?}: {code:?} {}", out.stderr());
            assert!(!out.stderr().contains("panicked") && !out.stderr().contains('\u{1b}'), "{args:?}: {}", out.stderr());
        }
    }
    run(&["nightly", "--warehouse", path(&w), "--date", "9999-12-31"]).ok();
}

#[test]
fn key_file_and_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    run(&["keygen", "--out", path(&key)]).ok();
    let hex = std::fs::read_to_string(&key).unwrap();
    assert_eq!(hex.trim().len(), 64);
    assert!(!run(&["keygen", "--out", path(&key)]).output.status.success(), "never overwrites a key");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, r#"{"conversation_id":"c1","account_id":"alice","created_at":"2026-11-20T10:00:00Z","messages":[{"role":"user","content":"hi there"}]}"#).unwrap();
    let w = dir.path().join("w");
    let out = vigil().args(["ingest", "--warehouse", path(&w), "--key-file", path(&key), path(&input)]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accounts = strings(&table(&w, "conversations"), "account_id");
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].starts_with("acct_") && !accounts[0].contains("alice"));
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let r = run(&["demo", "--dir", path(&demo), "--days", "2", "--per-day", "300"]).ok();
    let out = r.stdout();
    assert!(out.contains("ingest: read"), "{out}");
    assert!(out.contains("redacted:"), "{out}");
    assert!(demo.join("pseudonym.key").exists());
    assert!(!demo.join("warehouse/pseudonym.key").exists());
    assert!(rows(&table(&demo.join("warehouse"), "conversations")) > 600);
    // Running it again starts from a clean warehouse and gives the same counts.
    let again = run(&["demo", "--dir", path(&demo), "--days", "2", "--per-day", "300"]).ok();
    assert_eq!(summary_number(&out, "written"), summary_number(&again.stdout(), "written"));
}

#[test]
fn the_example_schedules_use_only_real_commands_and_flags() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut checked = 0;
    for file in ["crontab", "cronjob.yaml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (i, piece) in text.split("vigil ").enumerate().skip(1) {
            let words: Vec<&str> = piece.split_whitespace().collect();
            let Some(command) = words.first().filter(|w| w.chars().all(|c| c.is_ascii_lowercase())) else { continue };
            let help = run(&[command, "--help"]);
            assert!(help.output.status.success(), "{file}: `vigil {command}` is not a command");
            let help = help.stdout();
            // The command ends at a redirect, a `&&`, or the YAML around it.
            let command_words = words.iter().take_while(|w| !w.contains(">>") && !w.starts_with("&&") && !w.ends_with(':') && **w != "---" && **w != "-");
            for flag in command_words.filter(|w| w.starts_with("--") && w.chars().nth(2).is_some_and(|c| c.is_ascii_lowercase())) {
                assert!(help.contains(flag), "{file} (use {i}): `vigil {command}` has no flag {flag}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} flags checked");
}

#[test]
fn validate_checks_config_taxonomy_and_encoder_without_running_anything() {
    let good = run(&["validate"]).ok().stdout();
    for part in ["built-in config: ok", "built-in taxonomy: ok", "roles: influence = influence_operations, spam = spam, fraud = fraud_scams", "encoder: "] {
        assert!(good.contains(part), "missing {part:?} in:\n{good}");
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("nightly.toml");
    let out = run(&["validate", "--config", shipped.to_str().unwrap()]).ok().stdout();
    assert!(out.contains("nightly.toml: ok (0 overrides)") && out.contains("taxonomy: ok"), "{out}");

    // Everything wrong at once: a config value, an override, the taxonomy's sections.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "window_days = 0\n").unwrap();
    let taxonomy = dir.path().join("taxonomy.toml");
    std::fs::write(
        &taxonomy,
        "[[area]]\nname = 'a'\nseverity = 9\nmin_score = 1.0\nsaturation = 2.0\nrole = 'influence'\nexamples = ['x']\n\
         [[area]]\nname = 'b'\nseverity = 3\nmin_score = 1.0\nsaturation = 2.0\nrole = 'influence'\nexamples = ['y']\n",
    )
    .unwrap();
    let bad = run(&["validate", "--config", path(&config), "--set", "campaigns.lsh_bands=7", "--taxonomy", path(&taxonomy)]);
    assert!(!bad.output.status.success());
    let err = bad.stderr();
    for part in ["2 files would stop a run", "window_days = 0", "lsh_bands", "severity 9", "role `influence` is already area `a`'s"] {
        assert!(err.contains(part), "missing {part:?} in:\n{err}");
    }
    let models = run(&["validate", "--set", "embedding.backend=use-m3", "--set", &format!("embedding.models_dir={}", path(dir.path()))]);
    assert!(!models.output.status.success() && models.stderr().contains("encoder: model"), "{}", models.stderr());
}
