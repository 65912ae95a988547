//! `vigil reveal` and `vigil audit`: two-party re-identification and its audit trail.

use std::io::Write as _;

use vigil::escrow::{self, RevealRequest, Share};
use vigil::ledger::{Ledger, Record};

use crate::cli::{AuditArgs, RevealArgs};
use crate::term::escape;

pub fn reveal(args: RevealArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.warehouse.is_dir(), "warehouse {} does not exist", args.warehouse.display());
    let shares: Vec<Share> = args.shares.iter().map(|p| Share::from_file(p)).collect::<Result<_, _>>()?;
    let warehouse = super::open_for_runs(&args.warehouse, &args.signing)?;
    let request = RevealRequest { reason: args.reason, case: args.case, pseudonyms: args.pseudonyms };
    let outcome = escrow::reveal(&warehouse, &shares, &request)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for r in &outcome.revealed {
            let line = serde_json::json!({
                "pseudonym": r.pseudonym, "kind": r.kind, "raw": r.raw,
                "first_seen": r.first_seen.and_then(chrono::DateTime::from_timestamp_micros).map(|t| t.to_rfc3339()),
                "ledger_seq": outcome.seq,
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let found = outcome.revealed.iter().filter(|r| r.raw.is_some()).count();
    writeln!(out, "revealed {found} of {} (recorded as ledger entry #{}; head {})", outcome.revealed.len(), outcome.seq, outcome.head)?;
    for r in &outcome.revealed {
        match &r.raw {
            // A raw id is whatever a client sent: escaped before it reaches the terminal.
            Some(raw) => writeln!(out, "{}\t{}\t{}", r.pseudonym, r.kind, escape(raw))?,
            None => writeln!(out, "{}\t{}\t(not escrowed in this warehouse)", r.pseudonym, r.kind)?,
        }
    }
    Ok(())
}

pub fn audit(args: AuditArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.warehouse.is_dir(), "warehouse {} does not exist", args.warehouse.display());
    let warehouse = vigil::warehouse::Warehouse::open(&args.warehouse)?;
    let lines = Ledger::of(&warehouse).read()?;
    let mut out = std::io::stdout().lock();
    let mut reveals = 0usize;
    for line in &lines {
        let Ok(entry) = &line.entry else { continue };
        let Record::Reveal { reveal_key, shares, reason, case, pseudonyms, found } = &entry.record else { continue };
        reveals += 1;
        let signed = match (entry.valid_signer(), &entry.signer) {
            (Some(key), _) => key.to_text(),
            (None, Some(_)) => "INVALID SIGNATURE".to_owned(),
            (None, None) => "UNSIGNED".to_owned(),
        };
        if args.json {
            let row = serde_json::json!({
                "seq": entry.seq, "at": entry.at, "case": case, "reason": reason, "shares": shares,
                "pseudonyms": pseudonyms, "found": found, "reveal_key": reveal_key, "signed_by": signed,
            });
            writeln!(out, "{row}")?;
            continue;
        }
        // Everything in an entry came from a caller or from a file anyone with write access
        // could edit: escaped.
        writeln!(out, "#{} {}  case {}  shares {}  signed by {}", entry.seq, escape(&entry.at), escape(case.as_deref().unwrap_or("-")), escape(&shares.join(", ")), signed)?;
        writeln!(out, "    reason: {}", escape(reason))?;
        writeln!(out, "    {found} of {} revealed: {}", pseudonyms.len(), escape(&pseudonyms.join(" ")))?;
    }
    if !args.json {
        writeln!(out, "audit: {reveals} reveals in {} ledger entries (`vigil verify` checks their chain and signatures)", lines.len())?;
    }
    Ok(())
}
