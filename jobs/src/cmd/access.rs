//! `vigil access`: who may read which zone, as file modes and groups.

use std::io::Write as _;

use anyhow::Context as _;
use vigil::access::{AccessPolicy, Area, Group, ACCESS_FILE};
use vigil::schema::table;

use crate::cli::AccessArgs;

pub fn run(args: AccessArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.warehouse.is_dir(), "warehouse {} does not exist", args.warehouse.display());
    let root = &args.warehouse;
    let changing = args.owner_only || args.restricted_group.is_some() || args.aggregate_group.is_some() || args.aggregate_world_readable;
    let policy = if changing {
        let group = |g: &Option<String>| g.as_deref().map(Group::resolve).transpose();
        let policy = AccessPolicy {
            restricted_group: group(&args.restricted_group).context("--restricted-group")?,
            aggregate_group: group(&args.aggregate_group).context("--aggregate-group")?,
            aggregate_world_readable: args.aggregate_world_readable,
        };
        write_policy(root, &policy)?;
        let paths = policy.apply_all(root)?;
        println!("access: applied to {paths} files and directories of {}", root.display());
        policy
    } else {
        AccessPolicy::load(root)?
    };
    describe(&policy)
}

/// Writes `_access.json` through a temporary file (a reader never sees half a policy).
fn write_policy(root: &std::path::Path, policy: &AccessPolicy) -> anyhow::Result<()> {
    let path = root.join(ACCESS_FILE);
    let tmp = root.join(format!("{ACCESS_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(&serde_json::to_vec_pretty(policy)?)?;
        file.sync_all()?;
    }
    policy.apply_file(&tmp, Area::Records)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn describe(policy: &AccessPolicy) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let who = |area: Area| {
        let m = policy.modes(area);
        let readers = match area {
            _ if m.file & 0o004 != 0 => "everyone".to_owned(),
            _ if m.file & 0o040 != 0 => match m.gid {
                Some(gid) => format!("group {gid}"),
                None => "the file's group".to_owned(),
            },
            _ => "the owner only".to_owned(),
        };
        format!("read by {readers} (directories {:o}, files {:o})", m.dir, m.file)
    };
    let restricted: Vec<&str> = table::RESTRICTED.to_vec();
    writeln!(out, "restricted zone ({}): {}", restricted.join(", "), who(Area::Restricted))?;
    writeln!(out, "aggregate zone ({}): {}", table::AGGREGATE.join(", "), who(Area::Aggregate))?;
    writeln!(out, "manifests, ledger and this policy: {}", who(Area::Records))?;
    writeln!(out, "staging and locks: {}", who(Area::Private))?;
    let root = policy.modes(Area::Root);
    writeln!(out, "warehouse directory: mode {:o} (others may {})", root.dir, if root.dir & 0o001 != 0 { "pass through, not list" } else { "not enter" })?;
    for (flag, group) in [("restricted", &policy.restricted_group), ("aggregate", &policy.aggregate_group)] {
        if let Some(g) = group {
            writeln!(out, "{flag} group: {} (gid {})", crate::term::escape(&g.name), g.gid)?;
        }
    }
    Ok(())
}
