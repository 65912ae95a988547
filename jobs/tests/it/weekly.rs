//! `vigil weekly`: on two weeks of fixtures, the report's headline names the largest planted
//! influence campaigns and no decoy, everything shown passes the privacy thresholds, no
//! pseudonym leaks, reruns give the same bytes, and headless Chromium draws every chart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use arrow::array::{Array, AsArray};
use vigil::warehouse::{read_batches, Warehouse};

use crate::util::*;

const WEEK_END: &str = "2026-11-22";

fn string_column(w: &Path, table: &str, date: Option<&str>, column: &str) -> Vec<(String, String)> {
    let wh = Warehouse::open(w).unwrap();
    let date = date.map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
    let mut out = Vec::new();
    for b in read_batches(&wh.files(table, date).unwrap()).unwrap() {
        let key = b.column(0).as_string::<i32>();
        let col = b.column_by_name(column).unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((key.value(i).to_owned(), col.value(i).to_owned()));
        }
    }
    out
}

#[test]
fn the_weekly_report_tells_the_week_truthfully_and_privately() {
    let (dir, w, _, _) = fixture_warehouse(14, 500, 42);
    let truth = ground_truth(dir.path());
    let start = chrono::NaiveDate::parse_from_str(truth["start_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let mut day = start;
    let end = chrono::NaiveDate::parse_from_str(WEEK_END, "%Y-%m-%d").unwrap();
    while day <= end {
        run(&["nightly", "--warehouse", path(&w), "--date", &day.to_string()]).ok();
        day = day.succ_opt().unwrap();
    }
    let out = dir.path().join("report");
    let printed = run(&["weekly", "--warehouse", path(&w), "--week-ending", WEEK_END, "--out", path(&out)]).ok().stdout();
    assert!(printed.contains("report.html") && printed.contains("top findings"), "{printed}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["week_start"], "2026-11-16");
    assert_eq!(report["previous_week_available"], true);

    // Map each reported campaign to the planted group most of its conversations came from.
    let mut planted_by_conversation: HashMap<String, (String, String)> = HashMap::new();
    for (group, kind_of) in [("campaigns", "kind"), ("decoys", "kind")] {
        for c in truth[group].as_array().unwrap() {
            for id in c["conversation_ids"].as_array().unwrap() {
                planted_by_conversation.insert(id.as_str().unwrap().to_owned(), (c["name"].as_str().unwrap().to_owned(), c[kind_of].as_str().unwrap().to_owned()));
            }
        }
    }
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let wh = Warehouse::open(&w).unwrap();
    for b in read_batches(&wh.files("campaign_members", None).unwrap()).unwrap() {
        let (c, conv) = (b.column_by_name("campaign_id").unwrap().as_string::<i32>(), b.column_by_name("conversation_id").unwrap().as_string::<i32>());
        for i in 0..b.num_rows() {
            members.entry(c.value(i).to_owned()).or_default().push(conv.value(i).to_owned());
        }
    }
    let planted_of = |campaign: &str| -> (String, String) {
        let mut votes: BTreeMap<(String, String), usize> = BTreeMap::new();
        for conv in &members[campaign] {
            let key = planted_by_conversation.get(conv).cloned().unwrap_or(("organic".into(), "organic".into()));
            *votes.entry(key).or_default() += 1;
        }
        votes.into_iter().max_by_key(|(_, n)| *n).unwrap().0
    };

    // The headline: influence campaigns named, largest planted ones among them, no decoy.
    let headline = report["headline"].as_array().unwrap();
    let named: Vec<(String, String)> = headline
        .iter()
        .filter(|f| f["kind"] == "influence_campaign")
        .filter_map(|f| f["campaign_id"].as_str())
        .map(planted_of)
        .collect();
    assert!(!named.is_empty(), "{headline:?}");
    assert!(named.iter().all(|(_, kind)| kind == "influence"), "the headline named a non-influence group as influence: {named:?}");
    let active_this_week: BTreeSet<String> = members.keys().map(|c| planted_of(c).0).collect();
    let mut largest: Vec<(usize, String)> = truth["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "influence" && active_this_week.contains(c["name"].as_str().unwrap()))
        .map(|c| (c["accounts"].as_array().unwrap().len(), c["name"].as_str().unwrap().to_owned()))
        .collect();
    largest.sort_by(|a, b| b.cmp(a));
    for (_, name) in largest.iter().take(2) {
        assert!(named.iter().any(|(n, _)| n == name), "largest planted influence campaign {name} is not in the headline: {named:?}");
    }
    for f in headline.iter().filter(|f| f["kind"] == "influence_campaign" && f["campaign_id"].is_string()) {
        let id = f["campaign_id"].as_str().unwrap();
        let label = report["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id).unwrap()["label"].as_str().unwrap();
        assert!(f["text"].as_str().unwrap().contains(label), "{f:?} does not name its campaign {label:?}");
    }
    // Decoys are never reported as influence anywhere in the report.
    for c in report["campaigns"].as_array().unwrap() {
        let (name, kind) = planted_of(c["campaign_id"].as_str().unwrap());
        if kind != "influence" && kind != "organic" && c["kind"] == "influence" {
            panic!("decoy {name} ({kind}) reported as influence");
        }
    }

    // Privacy: thresholds hold for everything described; no pseudonym appears anywhere.
    for c in report["top_clusters"].as_array().unwrap().iter().chain(report["emerging_clusters"].as_array().unwrap()) {
        assert!(c["accounts"].as_u64().unwrap() >= 5 && c["conversations"].as_u64().unwrap() >= 15, "{c}");
    }
    for c in report["campaigns"].as_array().unwrap() {
        assert!(c["accounts"].as_i64().unwrap() >= 5, "{c}");
    }
    let texts: Vec<String> = ["report.html", "report.md", "report.json"].iter().map(|f| std::fs::read_to_string(out.join(f)).unwrap()).collect();
    let accounts: BTreeSet<String> = string_column(&w, "accounts", Some(WEEK_END), "summary").into_iter().map(|(a, _)| a).collect();
    assert!(accounts.len() > 100);
    for a in &accounts {
        assert!(texts.iter().all(|t| !t.contains(a.as_str())), "pseudonym {a} in the report");
    }
    // The three renderings tell the same headline.
    for f in headline {
        let text = f["text"].as_str().unwrap();
        assert!(texts[1].contains(text), "report.md lacks {text}");
        let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;");
        assert!(texts[0].contains(&escaped), "report.html lacks {text}");
    }
    // The charts' data: seven days of volume that add up to the total.
    let daily_sum: u64 = report["areas"].as_array().unwrap().iter().map(|a| a["daily"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>()).sum();
    assert_eq!(daily_sum, report["totals"]["conversations"].as_u64().unwrap());

    // Same warehouse, same report bytes; the run is recorded.
    let again = dir.path().join("again");
    run(&["weekly", "--warehouse", path(&w), "--week-ending", WEEK_END, "--out", path(&again)]).ok();
    for f in ["report.html", "report.md", "report.json"] {
        assert_eq!(std::fs::read(out.join(f)).unwrap(), std::fs::read(again.join(f)).unwrap(), "{f} differs on rerun");
    }
    let runs = vigil::manifest::list(&wh, Some("weekly"), None).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].manifest.outputs.iter().any(|o| o.path.ends_with("report.html")));

    // A week reaching before the first nightly run says so first, and counts nothing as rising.
    let early = dir.path().join("early");
    run(&["weekly", "--warehouse", path(&w), "--week-ending", "2026-11-12", "--out", path(&early)]).ok();
    let partial: serde_json::Value = serde_json::from_slice(&std::fs::read(early.join("report.json")).unwrap()).unwrap();
    assert_eq!(partial["missing_days"], serde_json::json!(["2026-11-06", "2026-11-07", "2026-11-08"]));
    assert_eq!(partial["headline"][0]["kind"], "data_gap", "{}", partial["headline"]);
    assert!(partial["emerging_clusters"].as_array().unwrap().iter().all(|c| c["trend"] != "rising"));

    topics_keep_their_identity(dir.path(), &w, &report);
    render_in_chromium(&out);
}

/// The night's topic at `level` of every conversation it clustered there.
fn topics_at(w: &Path, night: chrono::NaiveDate, level: i32) -> HashMap<String, String> {
    let wh = Warehouse::open(w).unwrap();
    let mut topic_of_cluster: HashMap<String, String> = HashMap::new();
    for b in read_batches(&wh.files("clusters", Some(night)).unwrap()).unwrap() {
        let (c, t) = (b.column_by_name("cluster_id").unwrap().as_string::<i32>(), b.column_by_name("topic_id").unwrap().as_string::<i32>());
        for i in 0..b.num_rows() {
            if !t.is_null(i) {
                topic_of_cluster.insert(c.value(i).to_owned(), t.value(i).to_owned());
            }
        }
    }
    let mut out = HashMap::new();
    for b in read_batches(&wh.files("cluster_members", Some(night)).unwrap()).unwrap() {
        let (c, conv) = (b.column_by_name("cluster_id").unwrap().as_string::<i32>(), b.column_by_name("conversation_id").unwrap().as_string::<i32>());
        let levels = b.column_by_name("level").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
        for i in 0..b.num_rows() {
            if levels.value(i) == level {
                if let Some(t) = topic_of_cluster.get(c.value(i)) {
                    out.insert(conv.value(i).to_owned(), t.clone());
                }
            }
        }
    }
    out
}

/// Issue 17's bars on this warehouse (flat organic traffic, a planted one-day news burst):
/// organic conversations keep their topic ids night after night, no organic topic is told as
/// growing or emerging, the burst is emerging in its week, and the report's topic numbers are
/// what SQL over `topic_daily` says.
fn topics_keep_their_identity(dir: &Path, w: &Path, report: &serde_json::Value) {
    let file = std::fs::File::open(dir.join("logs/labels.jsonl.gz")).unwrap();
    let origin: HashMap<String, String> = std::io::BufRead::lines(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
            (v["conversation_id"].as_str().unwrap().to_owned(), v["origin"].as_str().unwrap().to_owned())
        })
        .collect();
    // Seven consecutive nights: an organic conversation clustered on two nights in a row keeps
    // its topic: at the top level (what the report's top topics are) and at the leaves (where
    // HDBSCAN's boundaries move most).
    let end = chrono::NaiveDate::parse_from_str(WEEK_END, "%Y-%m-%d").unwrap();
    let nights: Vec<chrono::NaiveDate> = (0..7).rev().map(|b| end - chrono::Days::new(b)).collect();
    let wh = Warehouse::open(w).unwrap();
    let mut top_level = 0;
    for b in read_batches(&wh.files("clusters", Some(end)).unwrap()).unwrap() {
        let levels = b.column_by_name("level").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
        top_level = top_level.max(levels.values().iter().copied().max().unwrap_or(0));
    }
    for (level, bar) in [(top_level, 0.98), (0, 0.95)] {
        let (mut same, mut compared) = (0usize, 0usize);
        let mut previous = topics_at(w, nights[0] - chrono::Days::new(1), level);
        for night in &nights {
            let current = topics_at(w, *night, level);
            for (conv, topic) in &current {
                if origin.get(conv).is_some_and(|o| o == "organic") {
                    if let Some(before) = previous.get(conv) {
                        compared += 1;
                        same += usize::from(before == topic);
                    }
                }
            }
            previous = current;
        }
        let stable = same as f64 / compared.max(1) as f64;
        eprintln!("level {level}: topic ids kept night to night for {same}/{compared} = {stable:.4} organic conversations");
        assert!(compared > 10_000 && stable >= bar, "level {level}: organic conversations kept their topic on {same} of {compared} night-to-night comparisons");
    }

    // Which planted group (or organic traffic) each reported topic's conversations come from.
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for b in read_batches(&wh.files("cluster_members", Some(end)).unwrap()).unwrap() {
        let (c, conv) = (b.column_by_name("cluster_id").unwrap().as_string::<i32>(), b.column_by_name("conversation_id").unwrap().as_string::<i32>());
        for i in 0..b.num_rows() {
            members.entry(c.value(i).to_owned()).or_default().push(conv.value(i).to_owned());
        }
    }
    let majority = |cluster: &str| -> (String, f64) {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for conv in &members[cluster] {
            *votes.entry(origin.get(conv).map_or("unknown", String::as_str)).or_default() += 1;
        }
        let (o, n) = votes.iter().max_by_key(|(_, n)| **n).unwrap();
        (o.to_string(), *n as f64 / members[cluster].len() as f64)
    };
    // Share of a topic's conversations from the planted arrivals (the burst, the new topic).
    const ARRIVALS: [&str; 2] = ["decoy:earthquake-news-burst", "decoy:heat-pump-questions"];
    let arrivals = |cluster: &str| -> f64 {
        let n = members[cluster].iter().filter(|c| origin.get(*c).is_some_and(|o| ARRIVALS.contains(&o.as_str()))).count();
        n as f64 / members[cluster].len() as f64
    };
    let listed: Vec<&serde_json::Value> = report["top_clusters"].as_array().unwrap().iter().chain(report["emerging_clusters"].as_array().unwrap()).collect();
    for t in &listed {
        let cluster = t["cluster_id"].as_str().unwrap();
        let (o, share) = majority(cluster);
        eprintln!("{:>9} {:>6} {:>5} {:>5} {o} {share:.2} {:.2} {}", t["trend"], t["change_pct"], t["conversations"], t["previous_conversations"], arrivals(cluster), t["name"]);
        // Flat organic traffic: mostly organic and (as a parent) not holding an arrival.
        if o == "organic" && arrivals(cluster) < 0.05 {
            assert!(!matches!(t["trend"].as_str().unwrap(), "growing" | "new" | "rising"), "flat organic topic told as {}: {t}", t["trend"]);
        }
    }
    // The topic that arrived with the week at a steady rate is emerging: most of its
    // conversations are in topics the report lists as emerging.
    let new_topic: BTreeSet<&str> = origin.iter().filter(|(_, o)| *o == "decoy:heat-pump-questions").map(|(c, _)| c.as_str()).collect();
    let reported: BTreeSet<&str> = report["emerging_clusters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| members[t["cluster_id"].as_str().unwrap()].iter().map(String::as_str))
        .filter(|c| new_topic.contains(c))
        .collect();
    assert!(new_topic.len() >= 150 && reported.len() * 2 > new_topic.len(), "{} of the new topic's {} conversations are in emerging topics: {}", reported.len(), new_topic.len(), report["emerging_clusters"]);
    let burst: Vec<&serde_json::Value> = report["emerging_clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| majority(t["cluster_id"].as_str().unwrap()).0 == "decoy:earthquake-news-burst")
        .collect();
    assert!(!burst.is_empty(), "the news burst is not emerging: {}", report["emerging_clusters"]);
    for t in &burst {
        let daily: Vec<u64> = t["daily"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert!(daily[5] * 10 >= daily.iter().sum::<u64>() * 8, "the burst's own series shows its day (2026-11-21): {daily:?}");
    }

    // The report's numbers for a topic are SQL over topic_daily and topics.
    let query = |sql: &str| -> Vec<serde_json::Value> {
        let json = run(&["query", "--warehouse", path(w), "--zone", "aggregate", "--format", "json", sql]).ok().stdout();
        serde_json::from_str::<serde_json::Value>(&json).unwrap().as_array().unwrap().clone()
    };
    let mut series: HashMap<(String, String), BTreeMap<String, u64>> = HashMap::new();
    for r in query("select topic_id, cast(date as varchar) as night, cast(day as varchar) as day, conversations from topic_daily where date >= '2026-11-08'") {
        let key = (r["topic_id"].as_str().unwrap().to_owned(), r["night"].as_str().unwrap().to_owned());
        series.entry(key).or_default().insert(r["day"].as_str().unwrap().to_owned(), r["conversations"].as_u64().unwrap());
    }
    let mut seen: HashMap<(String, String), (u64, Option<i64>)> = HashMap::new();
    for r in query("select topic_id, cast(date as varchar) as night, conversations, net_transfer from topics where cluster_id is not null") {
        seen.insert((r["topic_id"].as_str().unwrap().to_owned(), r["night"].as_str().unwrap().to_owned()), (r["conversations"].as_u64().unwrap(), r["net_transfer"].as_i64()));
    }
    for t in &listed {
        let id = t["topic_id"].as_str().expect("every listed topic has an id").to_owned();
        let now: Vec<u64> = series[&(id.clone(), WEEK_END.to_owned())].values().copied().collect();
        assert_eq!(serde_json::json!(now), t["daily"], "{id}");
        assert_eq!(now.iter().sum::<u64>(), t["conversations"].as_u64().unwrap(), "{id}");
        let before = seen.get(&(id.clone(), "2026-11-15".to_owned())).map(|s| s.0);
        assert_eq!(serde_json::json!(before), t["previous_conversations"], "{id}");
        if before.is_some() && !t["recut"].is_null() {
            let recut: i64 = nights.iter().map(|n| seen[&(id.clone(), n.to_string())].1.unwrap()).sum();
            assert_eq!(serde_json::json!(recut), t["recut"], "{id}");
        }
    }
    // What the transfers say: a topic's window count moves by the day added, less the day
    // dropped, plus what re-cuts moved in or out.
    let mut checked = 0;
    for ((id, night), (count, net)) in &seen {
        let n = chrono::NaiveDate::parse_from_str(night, "%Y-%m-%d").unwrap();
        let p = (n - chrono::Days::new(1)).to_string();
        let (Some((before, _)), Some(net)) = (seen.get(&(id.clone(), p.clone())), net) else { continue };
        let (Some(today), Some(yesterday)) = (series.get(&(id.clone(), night.clone())), series.get(&(id.clone(), p))) else { continue };
        let added = today.get(night).copied().unwrap_or(0) as i64;
        let dropped = yesterday.get(&(n - chrono::Days::new(7)).to_string()).copied().unwrap_or(0) as i64;
        assert_eq!(*count as i64 - *before as i64, added - dropped + net, "{id} on {night}");
        checked += 1;
    }
    assert!(checked > 100, "{checked} night-to-night counts checked");
}

/// Renders the report in headless Chromium (Debian's, via Playwright) and checks every chart
/// was laid out with its data marks on screen.
fn render_in_chromium(out: &Path) {
    if std::env::var("VIGIL_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("VIGIL_SKIP_BROWSER=1: not rendering the report in Chromium");
        return;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} not found: install Debian's chromium (apt-get install chromium; .ci/run does) and `pip install -r requirements-dev.txt`, or set VIGIL_SKIP_BROWSER=1"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/render_report.py");
    let shot = out.join("report.png");
    let result = std::process::Command::new("python3").args([script, path(&out.join("report.html")), path(&shot)]).output().unwrap();
    assert!(result.status.success(), "render_report.py failed: {}", String::from_utf8_lossy(&result.stderr));
    let drawn: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(drawn["errors"].as_array().unwrap().len(), 0, "{drawn}");
    assert_eq!(drawn["external_requests"].as_array().unwrap().len(), 0, "the page must be self-contained: {drawn}");
    let charts = drawn["charts"].as_array().unwrap();
    let by_name: HashMap<&str, &serde_json::Value> = charts.iter().map(|c| (c["chart"].as_str().unwrap(), c)).collect();
    for (chart, min_marks) in [("daily-volume", 7), ("concern", 8), ("top-topics", 3), ("campaign-sizes", 2)] {
        let c = by_name.get(chart).unwrap_or_else(|| panic!("chart {chart} missing: {drawn}"));
        assert!(c["width"].as_f64().unwrap() > 100.0 && c["height"].as_f64().unwrap() > 50.0, "{chart} not laid out: {c}");
        assert!(c["drawn"].as_u64().unwrap() >= min_marks, "{chart}: only {} marks drawn: {c}", c["drawn"]);
        assert_eq!(c["drawn"], c["marks"], "{chart}: some marks have no box on screen: {c}");
    }
    assert!(charts.iter().any(|c| c["chart"].as_str().unwrap().starts_with("emerging-")), "no emerging-topic sparkline: {drawn}");
    assert!(drawn["headline"].as_array().unwrap().len() >= 3, "{drawn}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "screenshot too small to show charts");
}
