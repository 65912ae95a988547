//! `vigil validate`: checks a job config (with `--set` overrides), the policy taxonomy it names
//! (with its labelled files) and the encoder it asks for, without a warehouse and without
//! running anything. Every problem is reported at once; the exit status says whether a night
//! run with these files would start.

use std::io::Write as _;

use vigil::embed::EncoderChoice;
use vigil::facets::Taxonomy;
use vigil::nightly::NightlyConfig;
use vigil::schema::CampaignKind;

use super::nightly::{load_config, load_taxonomy};
use crate::cli::ValidateArgs;
use crate::term::{error_chain, escape};

pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut problems: Vec<String> = Vec::new();
    let config_name = args.config.as_ref().map_or_else(|| "built-in config".to_owned(), |p| format!("config {}", p.display()));
    let (config, base) = match load_config(args.config.as_deref(), &args.set) {
        Ok((config, base)) => {
            writeln!(out, "{}: ok ({} override{})", escape(&config_name), args.set.len(), if args.set.len() == 1 { "" } else { "s" })?;
            (Some(config), base)
        }
        Err(e) => {
            problems.push(error_chain(&e));
            (None, None)
        }
    };
    // The taxonomy: `--taxonomy`, else the config's, else the built-in one. A config that did
    // not load still lets an explicit taxonomy be checked.
    let mut taxonomy_config = config.clone().unwrap_or_default();
    if let Some(path) = &args.taxonomy {
        taxonomy_config.taxonomy = Some(path.clone());
    }
    if config.is_some() || args.taxonomy.is_some() {
        let name = taxonomy_config.taxonomy.as_ref().map_or_else(|| "built-in taxonomy".to_owned(), |p| format!("taxonomy {}", p.display()));
        match load_taxonomy(&taxonomy_config, if args.taxonomy.is_some() { None } else { base.as_deref() }) {
            Ok(taxonomy) => writeln!(out, "{}: ok ({})", escape(&name), describe(&taxonomy))?,
            Err(e) => problems.push(error_chain(&e)),
        }
    }
    if let Some(config) = &config {
        match encoder(config) {
            Ok(line) => writeln!(out, "encoder: {}", escape(&line))?,
            Err(e) => problems.push(format!("encoder: {e}")),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    // One line each: the error line `main` prints escapes line breaks.
    let mut err = std::io::stderr().lock();
    for problem in &problems {
        writeln!(err, "{}", escape(problem))?;
    }
    anyhow::bail!("{} file{} would stop a run (above)", problems.len(), if problems.len() == 1 { "" } else { "s" })
}

/// What the taxonomy holds, and which areas the campaign classifier relies on.
fn describe(t: &Taxonomy) -> String {
    let roles: Vec<String> = CampaignKind::ALL
        .into_iter()
        .filter(|k| k.is_area_role())
        .map(|k| match t.area_with_role(k) {
            Some(i) => format!("{k} = {}", t.areas()[usize::from(i)].name),
            None => format!("{k} = none"),
        })
        .collect();
    let mut line = format!("{} policy areas, {} tasks; roles: {}", t.areas().len(), t.tasks().len(), roles.join(", "));
    if t.area_with_role(CampaignKind::Influence).is_none() {
        line.push_str("; no area has role `influence`: influence campaigns are then found from the behaviour examples alone");
    }
    line
}

/// The encoder a night would use; an error when the config requires one that is not installed.
fn encoder(config: &NightlyConfig) -> vigil::Result<String> {
    let choice = config.embedding.resolve()?;
    Ok(match &choice {
        EncoderChoice::Lsa { reason: Some(reason), .. } => format!("{} ({reason})", choice.id()),
        _ => choice.id(),
    })
}
