//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! resources), headline findings first.

use std::fmt::Write as _;

use super::svg::{self, esc, GREY, PALETTE};
use super::{area_label, count_or_dash, plain, signed_pct, thousands, CampaignEntry, WeeklyReport};

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1c2833;max-width:820px;margin:32px auto;padding:0 16px;line-height:1.45}\
h1{font-size:26px;margin-bottom:2px}h2{font-size:19px;margin-top:34px;border-bottom:1px solid #d5d8dc;padding-bottom:4px}\
.sub{color:#566573;margin-top:0}.headline{background:#fdf2e9;border-left:4px solid #d35400;padding:10px 18px}\
.headline li{margin:6px 0}table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaecee;vertical-align:top}\
th{color:#566573;font-weight:600}td.n{text-align:right;white-space:nowrap}.tag{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;color:#fff}\
.new{background:#c0392b}.growing{background:#d68910}.continuing{background:#7f8c8d}.ended{background:#b3b6b7;color:#1c2833}.rising{background:#d68910}.steady{background:#7f8c8d}.shrinking{background:#b3b6b7;color:#1c2833}\
.quote{color:#424949;font-style:italic}.note{color:#566573;font-size:13px}svg{max-width:100%;height:auto}";

/// Benign automation groups named before "and N more".
pub(super) const BENIGN_LISTED: usize = 10;

/// Renders the report as HTML.
pub fn render(r: &WeeklyReport) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("Vigil weekly trends: {} to {}", r.week_start, r.week_end);
    let _ = write!(h, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>", esc(&title));
    let _ = write!(h, "<h1>{}</h1><p class=\"sub\">Misuse trends across assistant conversations. ", esc(&title));
    if r.previous_week_available {
        h.push_str("Changes are against the week before.</p>");
    } else {
        h.push_str("First week on record: no week-before comparison.</p>");
    }

    h.push_str("<h2>Headline findings</h2><ol class=\"headline\">");
    for f in &r.headline {
        let _ = write!(h, "<li data-kind=\"{}\">{}</li>", esc(f.kind.as_str()), esc(&f.text));
    }
    h.push_str("</ol>");

    campaigns(&mut h, r);
    volume(&mut h, r);
    concern(&mut h, r);
    topics(&mut h, r);

    let _ = write!(
        h,
        "<h2>About this report</h2><p class=\"note\">Built from the warehouse by {}; text understood by {}. Aggregate only: no account is named; a topic appears only when at least {} accounts and {} conversations are behind it, and a campaign is described only with at least {} accounts, in phrases at least that many of its accounts wrote (the rest shown as \u{2026}). Smaller coordinated groups are counted, not described ({} this week). Campaign ids lead investigators to the evidence: <code>vigil campaign show ID</code>. Every number here is in report.json.</p>",
        esc(&r.generated_by),
        esc(&super::encoders_line(&r.encoders)),
        r.privacy.min_accounts,
        r.privacy.min_conversations,
        r.privacy.min_accounts,
        r.campaigns_below_threshold
    );
    h.push_str("</body></html>\n");
    h
}

fn campaigns(h: &mut String, r: &WeeklyReport) {
    h.push_str("<h2>Coordinated campaigns</h2>");
    let misuse: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| c.kind.is_misuse()).collect();
    if misuse.is_empty() {
        h.push_str("<p>No coordinated misuse campaign was detected this week.</p>");
    } else {
        let rows: Vec<(String, u64, Option<u64>, String)> = misuse
            .iter()
            .map(|c| {
                let note = match c.previous_accounts {
                    Some(p) => format!("{} accounts ({} a week ago)", c.accounts, p),
                    None => format!("{} accounts, {}", c.accounts, c.status),
                };
                (format!("{} \u{2014} {}", plain(c.kind.as_str()), c.label), c.accounts.max(0) as u64, c.previous_accounts.map(|p| p.max(0) as u64), note)
            })
            .collect();
        h.push_str(&svg::paired_bars("campaign-sizes", "Accounts per campaign, this week against a week ago", &rows, PALETTE[0]));
        h.push_str("<table><tr><th>Status</th><th>Campaign</th><th class=\"n\">Accounts</th><th class=\"n\">Conversations</th><th>Languages</th></tr>");
        for c in &misuse {
            let previous = c.previous_accounts.map_or(String::new(), |p| format!(" <span class=\"note\">(was {p})</span>"));
            let _ = write!(
                h,
                "<tr><td><span class=\"tag {}\">{}</span></td><td><b>{}</b> \u{2014} {}<br><span class=\"quote\">{}</span><br><span class=\"note\">{} \u{00b7} active {} to {} \u{00b7} score {:.2}</span></td><td class=\"n\">{}{previous}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(c.status.as_str()),
                esc(c.status.as_str()),
                esc(&plain(c.kind.as_str())),
                esc(&c.label),
                esc(c.narrative.as_deref().map_or("(narrative withheld: too few accounts share its wording)", |n| n)),
                esc(&c.campaign_id),
                esc(&c.first_seen),
                esc(&c.last_seen),
                c.score,
                thousands(c.accounts.max(0) as u64),
                thousands(c.conversations.max(0) as u64),
                esc(&c.languages.join(", "))
            );
        }
        h.push_str("</table>");
    }
    let benign: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| !c.kind.is_misuse()).collect();
    if !benign.is_empty() {
        let mut names: Vec<String> = benign.iter().take(BENIGN_LISTED).map(|c| format!("\u{201c}{}\u{201d} ({} accounts)", esc(&c.label), c.accounts)).collect();
        if benign.len() > BENIGN_LISTED {
            names.push(format!("and {} more", benign.len() - BENIGN_LISTED));
        }
        let _ = write!(
            h,
            "<p class=\"note\">Recognised as benign automation and not counted as misuse: {}.</p>",
            names.join("; ")
        );
    }
}

fn volume(h: &mut String, r: &WeeklyReport) {
    h.push_str("<h2>Daily volume by policy area</h2>");
    let mut color = 0;
    let series: Vec<(String, String, Vec<u64>)> = r
        .areas
        .iter()
        .map(|a| {
            let c = if a.area == "none" {
                GREY.to_owned()
            } else {
                color += 1;
                PALETTE[(color - 1) % PALETTE.len()].to_owned()
            };
            (area_label(&a.area), c, a.daily.clone())
        })
        .collect();
    h.push_str(&svg::stacked_columns("daily-volume", "Conversations per day by policy area", &r.days, &series));
    h.push_str("<table><tr><th>Policy area</th><th class=\"n\">This week</th><th class=\"n\">Week before</th><th class=\"n\">Change</th><th class=\"n\">High concern</th></tr>");
    for a in &r.areas {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&area_label(&a.area)),
            thousands(a.total),
            count_or_dash(a.previous),
            signed_pct(a.change_pct),
            thousands(a.high_concern)
        );
    }
    let t = &r.totals;
    let _ = write!(
        h,
        "<tr><td><b>All</b></td><td class=\"n\"><b>{}</b></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></table>",
        thousands(t.conversations),
        count_or_dash(t.previous_conversations),
        signed_pct(t.change_pct),
        thousands(t.high_concern)
    );
}

fn concern(h: &mut String, r: &WeeklyReport) {
    let c = &r.concern;
    h.push_str("<h2>Concern trend</h2>");
    let _ = write!(
        h,
        "<p>Share of conversations at concern level {}\u{2013}5: <b>{:.1}%</b> this week{}.</p>",
        super::HIGH_CONCERN,
        c.week_high_share * 100.0,
        c.previous_high_share.map_or(String::new(), |p| format!(", {:.1}% the week before", p * 100.0))
    );
    h.push_str(&svg::share_line("concern", "Share of high-concern conversations per day", &r.days, &c.daily_high_share, PALETTE[0]));
}

fn topics(h: &mut String, r: &WeeklyReport) {
    h.push_str("<h2>Top topics</h2>");
    if r.top_clusters.is_empty() {
        h.push_str("<p>No topic passed the privacy thresholds.</p>");
    } else {
        let rows: Vec<(String, u64, Option<u64>, String)> = r
            .top_clusters
            .iter()
            .map(|t| {
                let note = match t.change_pct {
                    Some(_) => signed_pct(t.change_pct),
                    None if t.trend == "new" => "new".to_owned(),
                    None => format!("{} accounts", thousands(t.accounts)),
                };
                (t.name.clone(), t.conversations, t.previous_conversations, note)
            })
            .collect();
        h.push_str(&svg::paired_bars("top-topics", "Largest topics: conversations this week (grey: the week before)", &rows, PALETTE[1]));
    }
    h.push_str("<h2>Emerging topics</h2>");
    if r.emerging_clusters.is_empty() {
        h.push_str("<p>No topic grew markedly this week.</p>");
        return;
    }
    h.push_str("<table><tr><th>Topic</th><th>Trend</th><th class=\"n\">Conversations</th><th>Per day</th></tr>");
    for (i, t) in r.emerging_clusters.iter().enumerate() {
        let spark = svg::sparkline(&format!("emerging-{i}"), &format!("{}: conversations per day", t.name), &t.daily, PALETTE[2]);
        let change = t.change_pct.map_or(String::new(), |_| format!(" ({})", signed_pct(t.change_pct)));
        let _ = write!(
            h,
            "<tr><td><b>{}</b><br><span class=\"quote\">{}</span><br><span class=\"note\">{}</span></td><td><span class=\"tag {}\">{}</span>{}</td><td class=\"n\">{}</td><td>{spark}</td></tr>",
            esc(&t.name),
            esc(t.exemplar.as_deref().unwrap_or("")),
            esc(&plain(&t.policy_area)),
            esc(&t.trend),
            esc(&super::trend_words(t)),
            change,
            thousands(t.conversations)
        );
    }
    h.push_str("</table>");
}
