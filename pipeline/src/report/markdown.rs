//! `report.md`: the same story in Markdown, for email and chat.

use std::fmt::Write as _;

use super::{area_label, count_or_dash, plain, signed_pct, thousands, trend_words, WeeklyReport};

/// Renders the report as Markdown.
pub fn render(r: &WeeklyReport) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Vigil weekly trends: {} to {}\n", r.week_start, r.week_end);
    if !r.previous_week_available {
        m.push_str("_First week on record: no week-before comparison._\n\n");
    }
    m.push_str("## Headline findings\n\n");
    for (i, f) in r.headline.iter().enumerate() {
        let _ = writeln!(m, "{}. {}", i + 1, f.text);
    }

    m.push_str("\n## Coordinated campaigns\n\n");
    let misuse: Vec<_> = r.campaigns.iter().filter(|c| c.kind.is_misuse()).collect();
    if misuse.is_empty() {
        m.push_str("No coordinated misuse campaign was detected this week.\n");
    } else {
        m.push_str("| Status | Kind | Campaign | Accounts | Conversations | Languages |\n|---|---|---|--:|--:|---|\n");
        for c in &misuse {
            let accounts = match c.previous_accounts {
                Some(p) => format!("{} (was {p})", thousands(c.accounts.max(0) as u64)),
                None => thousands(c.accounts.max(0) as u64),
            };
            let _ = writeln!(
                m,
                "| {} | {} | **{}** (`{}`) | {} | {} | {} |",
                c.status,
                plain(c.kind.as_str()),
                cell(&c.label),
                c.campaign_id,
                accounts,
                thousands(c.conversations.max(0) as u64),
                c.languages.join(", ")
            );
        }
        m.push('\n');
        for c in misuse.iter().filter(|c| c.narrative.is_some()) {
            let _ = writeln!(m, "- **{}**: \u{201c}{}\u{201d}", c.label, c.narrative.as_deref().unwrap_or_default());
        }
    }
    let all_benign = r.campaigns.iter().filter(|c| !c.kind.is_misuse()).count();
    let mut benign: Vec<String> = r
        .campaigns
        .iter()
        .filter(|c| !c.kind.is_misuse())
        .take(super::html::BENIGN_LISTED)
        .map(|c| format!("\u{201c}{}\u{201d} ({} accounts)", c.label, c.accounts))
        .collect();
    if all_benign > super::html::BENIGN_LISTED {
        benign.push(format!("and {} more", all_benign - super::html::BENIGN_LISTED));
    }
    if !benign.is_empty() {
        let _ = writeln!(m, "\nRecognised as benign automation, not misuse: {}.", benign.join("; "));
    }

    m.push_str("\n## Volume by policy area\n\n| Policy area | This week | Week before | Change | High concern |\n|---|--:|--:|--:|--:|\n");
    for a in &r.areas {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            area_label(&a.area),
            thousands(a.total),
            count_or_dash(a.previous),
            signed_pct(a.change_pct),
            thousands(a.high_concern)
        );
    }
    let t = &r.totals;
    let _ = writeln!(
        m,
        "| **All** | **{}** | {} | {} | {} |",
        thousands(t.conversations),
        count_or_dash(t.previous_conversations),
        signed_pct(t.change_pct),
        thousands(t.high_concern)
    );
    let shares: Vec<String> = r.days.iter().zip(&r.concern.daily_high_share).map(|(d, s)| format!("{} {:.1}%", d.get(5..).unwrap_or(d), s * 100.0)).collect();
    let _ = writeln!(m, "\nHigh-concern share per day: {}.", shares.join(", "));

    m.push_str("\n## Top topics\n\n| Topic | Conversations | Accounts | Change | Trend |\n|---|--:|--:|--:|---|\n");
    for c in &r.top_clusters {
        let _ = writeln!(m, "| {} | {} | {} | {} | {} |", cell(&c.name), thousands(c.conversations), thousands(c.accounts), signed_pct(c.change_pct), trend_words(c));
    }
    m.push_str("\n## Emerging topics\n\n");
    if r.emerging_clusters.is_empty() {
        m.push_str("No topic grew markedly this week.\n");
    }
    for c in &r.emerging_clusters {
        let per_day: Vec<String> = c.daily.iter().map(u64::to_string).collect();
        let _ = writeln!(m, "- **{}** ({}): {} conversations, per day {}", c.name, trend_words(c), thousands(c.conversations), per_day.join(" "));
    }
    let _ = writeln!(
        m,
        "\n_Aggregate only: topics need {} accounts and {} conversations, campaigns {} accounts to be described; {} smaller groups counted, not described. {}; text understood by {}._",
        r.privacy.min_accounts, r.privacy.min_conversations, r.privacy.min_accounts, r.campaigns_below_threshold, r.generated_by, super::encoders_line(&r.encoders)
    );
    m
}

/// Keeps a value from breaking a Markdown table row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

