//! `vigil nightly`: facets, the topic hierarchy and its privacy gate, account summaries,
//! reruns.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type};

use crate::util::*;

const DATE: &str = "2026-11-22";

fn nightly(w: &Path, extra: &[&str]) -> String {
    let mut args = vec!["nightly", "--warehouse", path(w), "--date", DATE];
    args.extend_from_slice(extra);
    run(&args).ok().stdout()
}

/// One conversation's line in the fixtures' labels.
struct Label {
    topic: String,
    origin: String,
    language: String,
}

/// conversation_id → its label.
fn labels(dir: &Path) -> HashMap<String, Label> {
    let file = std::fs::File::open(dir.join("logs/labels.jsonl.gz")).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
            let field = |k: &str| v[k].as_str().unwrap().to_owned();
            (field("conversation_id"), Label { topic: field("topic"), origin: field("origin"), language: field("language") })
        })
        .collect()
}

struct ClusterRow {
    id: String,
    level: i32,
    name: Option<String>,
    summary: Option<String>,
    exemplar: Option<String>,
    conversations: i64,
    accounts: i64,
    suppressed: bool,
}

fn clusters(w: &Path) -> Vec<ClusterRow> {
    let mut out = Vec::new();
    for b in table(w, "clusters") {
        let s = |c: &str| b.column_by_name(c).unwrap().as_string::<i32>().clone();
        let (id, name, summary, exemplar) = (s("cluster_id"), s("name"), s("summary"), s("exemplar"));
        let level = b.column_by_name("level").unwrap().as_primitive::<Int32Type>().clone();
        let conv = b.column_by_name("conversations").unwrap().as_primitive::<Int64Type>().clone();
        let acc = b.column_by_name("accounts").unwrap().as_primitive::<Int64Type>().clone();
        let sup = b.column_by_name("suppressed").unwrap().as_boolean().clone();
        for i in 0..b.num_rows() {
            let opt = |a: &arrow::array::StringArray| a.is_valid(i).then(|| a.value(i).to_owned());
            out.push(ClusterRow {
                id: id.value(i).to_owned(),
                level: level.value(i),
                name: opt(&name),
                summary: opt(&summary),
                exemplar: opt(&exemplar),
                conversations: conv.value(i),
                accounts: acc.value(i),
                suppressed: sup.value(i),
            });
        }
    }
    out
}

/// (cluster_id, conversation_id, level) rows.
fn members(w: &Path) -> Vec<(String, String, i32)> {
    let batches = table(w, "cluster_members");
    let (c, v) = (strings(&batches, "cluster_id"), strings(&batches, "conversation_id"));
    let levels: Vec<i32> = batches.iter().flat_map(|b| b.column_by_name("level").unwrap().as_primitive::<Int32Type>().values().to_vec()).collect();
    c.into_iter().zip(v).zip(levels).map(|((c, v), l)| (c, v, l)).collect()
}

fn lower_words(text: &str) -> Vec<String> {
    let mut buf = String::new();
    vigil::text::word_spans(text)
        .map(|(s, e)| {
            let w = &text[s..e];
            if vigil::text::is_placeholder(w) {
                w.to_owned()
            } else {
                vigil::text::lower_into(w, &mut buf);
                buf.clone()
            }
        })
        .collect()
}

#[test]
fn the_topic_hierarchy_matches_the_fixture_topics_and_stays_k_anonymous() {
    let (dir, w, _, _) = fixture_warehouse(7, 1200, 11);
    let line = nightly(&w, &[]);
    assert!(line.contains("nightly 2026-11-22") && line.contains("clusters L0"), "{line}");
    let clusters = clusters(&w);
    let members = members(&w);
    let labels = labels(dir.path());

    // Agreement with the generator's topic labels at the level whose size is nearest the
    // number of topics; unclustered conversations count as singletons.
    let topics: BTreeSet<&str> = labels.values().filter(|l| l.origin == "organic").map(|l| l.topic.as_str()).collect();
    let levels: BTreeSet<i32> = clusters.iter().map(|c| c.level).collect();
    let level = *levels
        .iter()
        .min_by_key(|&&l| (clusters.iter().filter(|c| c.level == l).count() as i64 - topics.len() as i64).abs())
        .unwrap();
    let assigned: HashMap<&str, &str> = members.iter().filter(|m| m.2 == level).map(|m| (m.1.as_str(), m.0.as_str())).collect();
    let organic: Vec<(&String, &String)> = labels.iter().filter(|(_, l)| l.origin == "organic").map(|(id, l)| (id, &l.topic)).collect();
    let mut topic_ids: HashMap<&str, i32> = HashMap::new();
    let mut cluster_ids: HashMap<&str, i32> = HashMap::new();
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    for (i, (id, topic)) in organic.iter().enumerate() {
        let n = topic_ids.len() as i32;
        truth.push(*topic_ids.entry(topic.as_str()).or_insert(n));
        predicted.push(match assigned.get(id.as_str()) {
            Some(c) => {
                let n = cluster_ids.len() as i32;
                *cluster_ids.entry(c).or_insert(n)
            }
            None => 1_000_000 + i as i32,
        });
    }
    let ari = vigil::cluster::adjusted_rand_index(&truth, &predicted);
    assert!(ari >= 0.8, "ARI {ari:.3} at level {level} ({} clusters, {} topics)", cluster_ids.len(), topics.len());
    let top = *levels.iter().max().unwrap();
    let top_count = clusters.iter().filter(|c| c.level == top).count();
    assert!((10..=30).contains(&top_count), "top level has {top_count} clusters");

    // The privacy gate.
    for c in &clusters {
        let small = c.accounts < 5 || c.conversations < 15;
        if small {
            assert!(c.suppressed, "{} has {} accounts, {} conversations but is not suppressed", c.id, c.accounts, c.conversations);
        }
        if c.suppressed {
            assert!(c.name.is_none() && c.summary.is_none() && c.exemplar.is_none(), "suppressed {} carries text", c.id);
        } else {
            assert!(c.name.as_deref().is_some_and(|n| !n.is_empty()) && c.summary.is_some(), "{} has no name", c.id);
        }
    }
    assert!(clusters.iter().filter(|c| !c.suppressed).count() >= 10);

    // Every word trigram of every exemplar was written by at least 5 accounts of its cluster.
    let conversations = table(&w, "conversations");
    let texts: HashMap<String, (String, String)> = strings(&conversations, "conversation_id")
        .into_iter()
        .zip(strings(&conversations, "account_id").into_iter().zip(strings(&conversations, "user_text")))
        .collect();
    let mut checked = 0;
    for c in clusters.iter().filter(|c| c.level == 0) {
        let Some(exemplar) = &c.exemplar else { continue };
        let docs: Vec<(&str, Vec<String>)> = members
            .iter()
            .filter(|m| m.0 == c.id)
            .map(|m| {
                let (account, text) = &texts[&m.1];
                (account.as_str(), lower_words(text.split("\n\n").next().unwrap()))
            })
            .collect();
        for segment in exemplar.split('…') {
            let words = lower_words(segment);
            for tri in words.windows(3.min(words.len()).max(1)) {
                let accounts: HashSet<&str> =
                    docs.iter().filter(|(_, ws)| ws.windows(tri.len()).any(|x| x == tri)).map(|(a, _)| *a).collect();
                assert!(accounts.len() >= 5, "{:?} in the exemplar of {} is used by {} accounts", tri, c.id, accounts.len());
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "checked {checked} n-grams");

    // Names: one phrase (or, when every phrase of a cluster names another, two joined by " · ")
    // of at most six words that at least 5 of the cluster's accounts wrote, used once a level.
    let first_words: HashMap<&str, (&str, Vec<String>)> =
        texts.iter().map(|(id, (account, text))| (id.as_str(), (account.as_str(), lower_words(text.split("\n\n").next().unwrap())))).collect();
    let mut members_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for m in &members {
        members_of.entry(m.0.as_str()).or_default().push(m.1.as_str());
    }
    let mut names_seen: HashSet<(i32, String)> = HashSet::new();
    for c in clusters.iter().filter(|c| !c.suppressed) {
        let name = c.name.as_deref().unwrap();
        assert!(names_seen.insert((c.level, name.to_lowercase())), "{name:?} names two clusters of level {}", c.level);
        for phrase in name.split(" · ") {
            let words = lower_words(phrase);
            assert!((1..=6).contains(&words.len()), "{name:?} of {}", c.id);
            let accounts: HashSet<&str> = members_of[c.id.as_str()]
                .iter()
                .map(|id| &first_words[id])
                .filter(|(_, ws)| ws.windows(words.len()).any(|x| x == words.as_slice()))
                .map(|(a, _)| *a)
                .collect();
            assert!(accounts.len() >= 5, "the name {name:?} of {} was written by {} accounts", c.id, accounts.len());
        }
    }
}

/// Issue 13 asks that the same topic asked in Spanish and in English lands in one cluster. With
/// the multilingual encoder, the organic conversations of the fixtures' other languages (de,
/// es, fr, it, pt, ru templates of the same topics) share a leaf with English conversations of
/// their topic. Measured on seed 42 (7 × 2000): 99.2% with use-m3, 49.4% with LSA. Asserted on
/// another seed.
#[test]
fn topics_asked_in_other_languages_share_leaves_with_english_ones() {
    let Some(models) = models_dir() else { return };
    let (dir, w, _, _) = fixture_warehouse(7, 1200, 23);
    let out = vigil()
        .env("VIGIL_KEY", KEY)
        .env("VIGIL_MODELS", &models)
        .args(["nightly", "--warehouse", path(&w), "--date", DATE, "--set", "embedding.backend=use-m3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let labels = labels(dir.path());
    let leaf_of: HashMap<String, String> = members(&w).into_iter().filter(|m| m.2 == 0).map(|m| (m.1, m.0)).collect();
    let mut english: HashMap<(&str, &str), usize> = HashMap::new();
    for (id, l) in labels.iter().filter(|(_, l)| l.origin == "organic" && l.language == "en") {
        if let Some(leaf) = leaf_of.get(id) {
            *english.entry((leaf.as_str(), l.topic.as_str())).or_default() += 1;
        }
    }
    let others: Vec<(&String, &Label)> = labels.iter().filter(|(_, l)| l.origin == "organic" && l.language != "en").collect();
    let together = others
        .iter()
        .filter(|(id, l)| leaf_of.get(*id).is_some_and(|leaf| english.get(&(leaf.as_str(), l.topic.as_str())).copied().unwrap_or(0) >= 3))
        .count();
    let share = together as f64 / others.len() as f64;
    println!("non-English organic conversations sharing a leaf with >= 3 English ones of their topic: {together} of {} ({share:.3})", others.len());
    assert!(others.len() > 300 && share >= 0.9, "{together} of {}", others.len());
}

#[test]
fn facets_and_accounts_describe_the_day() {
    let (dir, w, _, _) = fixture_warehouse(3, 600, 5);
    nightly(&w, &["--window-days", "3"]);
    let truth = ground_truth(dir.path());
    let facets = table(&w, "facets");
    let ids = strings(&facets, "conversation_id");
    let day_conversations = rows(&read_partition(&w, "conversations"));
    assert_eq!(ids.len(), day_conversations, "one facet row per conversation of the day");
    let area: HashMap<String, String> = ids.iter().cloned().zip(strings(&facets, "policy_area")).collect();
    let requests = strings(&facets, "request");
    assert!(requests.iter().all(|r| !r.contains('\n') && r.chars().count() <= 160));
    let concern: Vec<i32> = facets.iter().flat_map(|b| b.column_by_name("concern").unwrap().as_primitive::<Int32Type>().values().to_vec()).collect();
    assert!(concern.iter().all(|c| (1..=5).contains(c)));

    let group_areas = |key: &str, kind: &str| -> BTreeMap<String, u64> {
        let mut h = BTreeMap::new();
        for g in truth[key].as_array().unwrap().iter().filter(|g| g["kind"] == kind) {
            for id in g["conversation_ids"].as_array().unwrap() {
                if let Some(a) = area.get(id.as_str().unwrap()) {
                    *h.entry(a.clone()).or_default() += 1;
                }
            }
        }
        h
    };
    let influence = group_areas("campaigns", "influence");
    let total: u64 = influence.values().sum();
    assert!(total > 20, "{influence:?}");
    assert!(influence.get("influence_operations").copied().unwrap_or(0) * 10 >= total * 9, "influence campaigns: {influence:?}");
    let fraud = group_areas("campaigns", "fraud");
    assert!(fraud.get("fraud_scams").copied().unwrap_or(0) * 10 >= fraud.values().sum::<u64>() * 9, "{fraud:?}");
    for kind in ["classroom", "news_burst", "company_template"] {
        let decoys = group_areas("decoys", kind);
        assert!(decoys.keys().all(|a| a == "none"), "{kind}: {decoys:?}");
    }

    // Accounts: every account active in the window, citing its own conversations.
    let accounts = table(&w, "accounts");
    let conversations = table(&w, "conversations");
    let owner: HashMap<String, String> = strings(&conversations, "conversation_id").into_iter().zip(strings(&conversations, "account_id")).collect();
    let active: HashSet<&String> = owner.values().collect();
    let names = strings(&accounts, "account_id");
    assert_eq!(names.len(), active.len());
    let summaries = strings(&accounts, "summary");
    for b in &accounts {
        let reps = b.column_by_name("representative").unwrap().as_list::<i32>();
        let account = b.column_by_name("account_id").unwrap().as_string::<i32>();
        let hours = b.column_by_name("hour_profile").unwrap().as_list::<i32>();
        let conv = b.column_by_name("conversations").unwrap().as_primitive::<Int32Type>();
        for i in 0..b.num_rows() {
            let r = reps.value(i);
            let r = r.as_string::<i32>();
            assert!(!r.is_empty());
            for id in r.iter().flatten() {
                assert_eq!(owner[id], account.value(i), "a representative conversation of another account");
            }
            let h = hours.value(i);
            let total: i32 = h.as_primitive::<Int32Type>().values().iter().sum();
            assert_eq!((h.len(), total), (24, conv.value(i)));
        }
    }
    assert!(summaries.iter().any(|s| s.contains("influence_operations")), "some account summary names the influence area");
}

fn read_partition(w: &Path, t: &str) -> Vec<arrow::array::RecordBatch> {
    let wh = vigil::warehouse::Warehouse::open(w).unwrap();
    vigil::warehouse::read_batches(&wh.files(t, Some(chrono::NaiveDate::parse_from_str(DATE, "%Y-%m-%d").unwrap())).unwrap()).unwrap()
}

#[test]
fn rerunning_a_date_replaces_its_partitions_with_the_same_bytes() {
    let (_dir, w, _, _) = fixture_warehouse(2, 400, 3);
    nightly(&w, &[]);
    let snapshot = |w: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for t in ["facets", "embeddings", "accounts", "clusters", "cluster_members", "topics", "topic_daily"] {
            let dir = w.join(t).join(format!("date={DATE}"));
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                out.insert(p.strip_prefix(w).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
        out
    };
    let first = snapshot(&w);
    assert_eq!(first.len(), 7, "one file per owned partition: {:?}", first.keys());
    // Another thread count must not change a bit.
    let mut cmd = vigil();
    cmd.env("VIGIL_KEY", KEY).args(["--threads", "1", "nightly", "--warehouse", path(&w), "--date", DATE]);
    assert!(cmd.output().unwrap().status.success());
    assert_eq!(snapshot(&w), first);
    assert!(!w.join("_staging").exists(), "no staging left behind");
}

#[test]
fn nightly_refuses_bad_arguments_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["nightly", "--warehouse", path(dir.path()), "--date", "2026-13-01"]);
    assert!(!out.output.status.success());
    assert!(out.stderr().contains("--date") && out.stderr().lines().count() == 1, "{}", out.stderr());
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[clustering]\nmin_cluster_size = 1\n").unwrap();
    let out = run(&["nightly", "--warehouse", path(dir.path()), "--date", DATE, "--config", path(&config)]);
    assert!(!out.output.status.success() && out.stderr().contains("min_cluster_size"), "{}", out.stderr());
    // Campaign settings that would fail the night after clustering are refused before it, all
    // named at once.
    let out = run(&["nightly", "--warehouse", path(dir.path()), "--date", DATE, "--set", "campaigns.lsh_bands=7", "--set", "campaigns.resolution=0"]);
    assert!(!out.output.status.success() && out.stderr().contains("campaigns.lsh_bands = 7") && out.stderr().contains("campaigns.resolution = 0"), "{}", out.stderr());
    // An empty warehouse is not an error: nothing to analyse, empty partitions.
    let line = run(&["nightly", "--warehouse", path(dir.path()), "--date", DATE]).ok().stdout();
    assert!(line.contains("0 conversations"), "{line}");
}

/// Topics over consecutive nights: a night continues the previous night's topics (same ids for
/// the same conversations), a rerun keeps its ids, and a change of encoder re-anchors the
/// topics once (by their members, recorded in lineage and the manifest) instead of starting
/// a new catalogue.
#[test]
fn topics_keep_their_ids_across_nights_and_are_reanchored_once_when_the_encoder_changes() {
    let (_dir, w, _, _) = fixture_warehouse(4, 600, 13);
    let night = |date: &str, extra: &[&str]| {
        let mut args = vec!["nightly", "--warehouse", path(&w), "--date", date];
        args.extend_from_slice(extra);
        run(&args).ok().stdout()
    };
    let topics_of = |date: &str| -> BTreeMap<String, (String, Vec<String>, bool)> {
        let wh = vigil::warehouse::Warehouse::open(&w).unwrap();
        let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let mut out = BTreeMap::new();
        for b in vigil::warehouse::read_batches(&wh.files("topics", Some(day)).unwrap()).unwrap() {
            let (id, encoder) = (b.column_by_name("topic_id").unwrap().as_string::<i32>(), b.column_by_name("encoder").unwrap().as_string::<i32>());
            let lineage = b.column_by_name("lineage").unwrap().as_list::<i32>();
            let centroid = b.column_by_name("centroid").unwrap();
            for i in 0..b.num_rows() {
                let entries = lineage.value(i);
                let entries: Vec<String> = entries.as_string::<i32>().iter().flatten().map(str::to_owned).collect();
                out.insert(id.value(i).to_owned(), (encoder.value(i).to_owned(), entries, centroid.is_valid(i)));
            }
        }
        out
    };
    let first = night("2026-11-20", &[]);
    assert!(first.contains("topics 0 continued"), "{first}");
    let second = night("2026-11-21", &[]);
    let continued: usize = second.split("topics ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let before = topics_of("2026-11-20");
    let after = topics_of("2026-11-21");
    assert!(continued * 10 >= before.len() * 8, "most topics continue the next night: {second}");
    assert!(before.keys().filter(|id| after.contains_key(*id)).count() == before.len(), "the catalogue keeps every topic within its retention");
    assert!(after.values().all(|(encoder, _, centroid)| encoder.starts_with("use-m3") && *centroid));

    // A rerun of a night with history gives the same catalogue, byte for byte.
    let file = |date: &str| std::fs::read(w.join(format!("topics/date={date}/part-nightly.parquet"))).unwrap();
    let bytes = file("2026-11-21");
    night("2026-11-21", &[]);
    assert_eq!(file("2026-11-21"), bytes, "rerun changed the topic catalogue");

    // Another encoder: the same topics, re-anchored by their members.
    let third = night("2026-11-22", &["--set", "embedding.backend=hashed-tfidf"]);
    assert!(third.contains("re-anchored to the encoder"), "{third}");
    let lsa = topics_of("2026-11-22");
    let reanchored: Vec<&(String, Vec<String>, bool)> = lsa.values().filter(|(e, _, _)| e.starts_with("hashed-tfidf")).collect();
    assert!(!reanchored.is_empty());
    let carried = lsa.iter().filter(|(id, (e, lineage, _))| after.contains_key(*id) && e.starts_with("hashed-tfidf") && lineage.iter().any(|l| l.starts_with("2026-11-22 reanchored_from use-m3"))).count();
    assert!(carried * 2 >= reanchored.len(), "most LSA topics are old ones re-anchored ({carried} of {})", reanchored.len());
    assert!(lsa.values().filter(|(e, _, _)| e.starts_with("hashed-tfidf")).all(|(_, _, centroid)| !centroid), "no centroid in a per-window LSA space");
    let wh = vigil::warehouse::Warehouse::open(&w).unwrap();
    let runs = vigil::manifest::list(&wh, Some("nightly"), Some(chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())).unwrap();
    let summary = &runs.last().unwrap().manifest.summary;
    assert_eq!(summary["topics"]["reanchored"].as_u64().unwrap() as usize, carried, "{summary}");
}
