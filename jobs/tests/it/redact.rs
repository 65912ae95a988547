//! `vigil redact` as a filter.

use std::io::Write;
use std::process::Stdio;

use crate::util::*;

fn redact(format: &str, input: &str) -> String {
    let mut child = vigil().args(["redact", "--format", format]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn text_output_is_line_for_line() {
    let out = redact("text", "mail bob@example.com\nnothing here\ncall +1 415 555 0132\n");
    assert_eq!(out, "mail [EMAIL]\nnothing here\ncall [PHONE]\n");
}

#[test]
fn json_offsets_are_characters() {
    let input = "Grüße an José: jose@example.es, Tel. +49 30 1234567";
    let out = redact("json", &format!("{input}\n"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let chars: Vec<char> = input.chars().collect();
    let spans: Vec<(String, String)> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (s, t) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
            (e["type"].as_str().unwrap().to_owned(), chars[s..t].iter().collect())
        })
        .collect();
    assert!(spans.contains(&("EMAIL".into(), "jose@example.es".into())), "{spans:?}");
    assert!(spans.contains(&("PHONE".into(), "+49 30 1234567".into())), "{spans:?}");
    assert!(v["text"].as_str().unwrap().contains("[EMAIL]"));
}

#[test]
fn closed_pipe_is_not_an_error() {
    let mut child = vigil().args(["redact"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    drop(child.stdout.take());
    let big = "a@b.co some text\n".repeat(200_000);
    let _ = stdin.write_all(big.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The learned recognisers: `vigil models` verifies both, `--ner required` finds a name the
/// English model alone files as an organisation, `--ner off` is rules only, and a models
/// directory missing the French model is refused when required and reported when not.
#[test]
fn learned_recognisers_find_names_and_say_which_ran() {
    let Some(models) = models_dir() else { return };
    let out = vigil().args(["models", "--dir"]).arg(&models).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("recogniser id ner-en@") && stdout.contains("recogniser id ner-fr@"), "{stdout}");

    let text = "They had 6: Tatjana, Terezija, Mia, Franciska, Božena and Miroslav.\n";
    let run = |ner: &str, dir: &std::path::Path| {
        let mut child = vigil()
            .args(["redact", "--ner", ner, "--models"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("required", &models);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "They had 6: [PERSON], Terezija, [PERSON], Franciska, Božena and Miroslav.\n");
    let out = run("off", &models);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "They had 6: Tatjana, Terezija, [PERSON], Franciska, Božena and Miroslav.\n", "the rules know Mia only");

    // Only the English model: required fails and names the missing one; auto runs with it.
    let partial = tempfile::tempdir().unwrap();
    let copy = partial.path().join("ner-en");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(models.join("ner-en")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let out = run("required", partial.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ner-fr"), "{stderr}");
    let out = run("auto", partial.path());
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("second name recogniser not used"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "They had 6: Tatjana, Terezija, [PERSON], Franciska, Božena and Miroslav.\n", "the English model alone calls Tatjana an organisation");
}
