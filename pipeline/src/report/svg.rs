//! Inline SVG charts for the report: stacked columns, paired horizontal bars, a line, and
//! sparklines.
//!
//! Written by hand rather than with a plotting crate: four small chart shapes, text-only
//! output, no fonts or raster back-end to build, and the markup stays predictable (every data
//! mark has class `mark`, every chart `data-chart`), which is what the browser test checks.

use std::fmt::Write as _;

/// Colours for series; `none` (no policy concern) is drawn grey.
pub const PALETTE: &[&str] = &["#c0392b", "#2e86c1", "#d68910", "#7d3c98", "#17a589", "#cb4335", "#2874a6", "#b7950b", "#6c3483", "#148f77", "#a04000"];
/// The grey of "no concern" and of last week's bars.
pub const GREY: &str = "#b3b6b7";
const INK: &str = "#1c2833";
const FONT: &str = "font-family=\"system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif\"";

/// Escapes text for XML/HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn open(out: &mut String, name: &str, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" data-chart=\"{name}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{}\" {FONT} font-size=\"12\"><title>{}</title>",
        esc(label),
        esc(label)
    );
}

/// A "nice" axis maximum ≥ `max` (1, 2, 2.5 or 5 times a power of ten).
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= max {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_tick(v: f64) -> String {
    if v >= 1000.0 { format!("{}k", trim(v / 1000.0)) } else { trim(v) }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Stacked daily columns, one colour per series, with a legend.
pub fn stacked_columns(name: &str, label: &str, days: &[String], series: &[(String, String, Vec<u64>)]) -> String {
    let (width, plot_h, left, top) = (720.0, 220.0, 48.0, 12.0);
    let legend_rows = series.len().div_ceil(3) as f64;
    let height = top + plot_h + 28.0 + legend_rows * 18.0 + 8.0;
    let totals: Vec<u64> = (0..days.len()).map(|d| series.iter().map(|s| s.2.get(d).copied().unwrap_or(0)).sum()).collect();
    let max = nice_max(totals.iter().copied().max().unwrap_or(0) as f64);
    let mut out = String::new();
    open(&mut out, name, width, height, label);
    axis(&mut out, left, top, width - left - 8.0, plot_h, max);
    let slot = (width - left - 8.0) / days.len().max(1) as f64;
    let bar = slot * 0.62;
    for (d, day) in days.iter().enumerate() {
        let x = left + slot * d as f64 + (slot - bar) / 2.0;
        let mut y = top + plot_h;
        for (sname, color, values) in series {
            let v = values.get(d).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = v as f64 / max * plot_h;
            y -= h;
            let _ = write!(
                out,
                "<rect class=\"mark\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{} {}: {}</title></rect>",
                esc(day),
                esc(sname),
                v
            );
        }
        let short = day.get(5..).unwrap_or(day);
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>", x + bar / 2.0, top + plot_h + 16.0, esc(short));
    }
    for (i, (sname, color, _)) in series.iter().enumerate() {
        let (col, row) = ((i % 3) as f64, (i / 3) as f64);
        let (lx, ly) = (left + col * 220.0, top + plot_h + 30.0 + row * 18.0);
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{INK}\">{}</text>",
            ly,
            lx + 14.0,
            ly + 9.0,
            esc(sname)
        );
    }
    out.push_str("</svg>");
    out
}

fn axis(out: &mut String, left: f64, top: f64, width: f64, height: f64, max: f64) {
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + height - height * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e8e8\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#566573\">{}</text>",
            left + width,
            left - 6.0,
            y + 4.0,
            fmt_tick(v)
        );
    }
}

/// Horizontal bars, one row per item: this week's value in colour, last week's (when known)
/// as a thin grey bar beneath, and a note at the end of the row.
pub fn paired_bars(name: &str, label: &str, rows: &[(String, u64, Option<u64>, String)], color: &str) -> String {
    let (width, row_h, label_w) = (720.0, 30.0, 260.0);
    let height = 10.0 + row_h * rows.len().max(1) as f64 + 10.0;
    let max = nice_max(rows.iter().map(|r| r.1.max(r.2.unwrap_or(0))).max().unwrap_or(0) as f64);
    let plot_w = width - label_w - 150.0;
    let mut out = String::new();
    open(&mut out, name, width, height, label);
    for (i, (text, now, before, note)) in rows.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let shown: String = if text.chars().count() > 38 { text.chars().take(37).collect::<String>() + "\u{2026}" } else { text.clone() };
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{INK}\">{}</text>", label_w - 8.0, y + 13.0, esc(&shown));
        let w = (*now as f64 / max * plot_w).max(1.0);
        let _ = write!(
            out,
            "<rect class=\"mark\" x=\"{label_w}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"14\" fill=\"{color}\"><title>{}: {now}</title></rect>",
            esc(text)
        );
        if let Some(b) = before {
            let wb = (*b as f64 / max * plot_w).max(1.0);
            let _ = write!(out, "<rect x=\"{label_w}\" y=\"{:.1}\" width=\"{wb:.1}\" height=\"5\" fill=\"{GREY}\"><title>week before: {b}</title></rect>", y + 17.0);
        }
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#566573\">{}</text>", label_w + w + 6.0, y + 12.0, esc(note));
    }
    out.push_str("</svg>");
    out
}

/// A line over the days with a dot per day; values are shares (0–1) shown as percent.
pub fn share_line(name: &str, label: &str, days: &[String], shares: &[f64], color: &str) -> String {
    let (width, plot_h, left, top) = (720.0, 160.0, 48.0, 12.0);
    let height = top + plot_h + 26.0;
    let max = nice_max(shares.iter().copied().fold(0.0, f64::max) * 100.0);
    let mut out = String::new();
    open(&mut out, name, width, height, label);
    axis(&mut out, left, top, width - left - 8.0, plot_h, max);
    let slot = (width - left - 8.0) / days.len().max(1) as f64;
    let points: Vec<(f64, f64)> =
        shares.iter().enumerate().map(|(d, s)| (left + slot * (d as f64 + 0.5), top + plot_h - s * 100.0 / max * plot_h)).collect();
    let path: Vec<String> = points.iter().enumerate().map(|(i, (x, y))| format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" })).collect();
    let _ = write!(out, "<path class=\"mark\" d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"/>", path.join(" "));
    for (d, ((x, y), s)) in points.iter().zip(shares).enumerate() {
        let day = &days[d];
        let _ = write!(out, "<circle class=\"mark\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"><title>{}: {:.2}%</title></circle>", esc(day), s * 100.0);
        let _ = write!(out, "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>", top + plot_h + 16.0, esc(day.get(5..).unwrap_or(day)));
    }
    out.push_str("</svg>");
    out
}

/// A small column sparkline of daily counts.
pub fn sparkline(name: &str, label: &str, values: &[u64], color: &str) -> String {
    let (width, height) = (140.0, 28.0);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = width / values.len().max(1) as f64;
    let mut out = String::new();
    open(&mut out, name, width, height, label);
    for (i, v) in values.iter().enumerate() {
        let h = (*v as f64 / max * (height - 2.0)).max(1.0);
        let _ = write!(
            out,
            "<rect class=\"mark\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{v}</title></rect>",
            slot * i as f64 + 1.0,
            height - h,
            slot - 2.0
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_and_escape_text() {
        let days: Vec<String> = (16..=22).map(|d| format!("2026-11-{d}")).collect();
        let svg = stacked_columns("volume", "a <b>", &days, &[("x&y".into(), PALETTE[0].into(), vec![1, 2, 3, 4, 5, 6, 7])]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("class=\"mark\"").count(), 7);
        assert!(svg.contains("a &lt;b&gt;") && svg.contains("x&amp;y") && !svg.contains("x&y"));
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
        let bars = paired_bars("top", "t", &[("topic".into(), 10, Some(5), "+100%".into())], PALETTE[1]);
        assert_eq!(bars.matches("class=\"mark\"").count(), 1);
        let line = share_line("concern", "c", &days, &[0.01, 0.02, 0.0, 0.03, 0.01, 0.02, 0.05], PALETTE[2]);
        assert_eq!(line.matches("<circle class=\"mark\"").count(), 7);
        assert_eq!(nice_max(730.0), 1000.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(2.3), 2.5);
    }
}
