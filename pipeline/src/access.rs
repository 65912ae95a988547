//! Zones as file-system boundaries: who may read which part of the warehouse.
//!
//! The deployment model: one service account owns the warehouse and runs every job.
//! Investigators, in the *restricted group*, read everything a job writes (per-conversation and
//! per-account tables, `identities`, manifests and the ledger, so they can `vigil verify`).
//! Analysts read only the aggregate tables: through the *aggregate group*, or as anyone on the
//! host when the aggregate zone is made world-readable. Nobody but the owner writes, and
//! without a policy nobody but the owner reads anything.
//!
//! The policy is `W/_access.json`, written by `vigil access`; every job applies it to the
//! directories and files it creates (a file gets its mode and group before it is renamed into
//! place, so it is never visible with looser permissions), and `vigil access` re-applies it to
//! what exists. Staging and locks stay owner-only. The root is traversable (not listable) by
//! others when any zone is shared, so an analyst reaches `W/clusters/` without seeing the rest.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::table;

/// The policy file, under the warehouse root.
pub const ACCESS_FILE: &str = "_access.json";

/// A Unix group, by name and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// As given (a name from the group database, or the number).
    pub name: String,
    /// The group id.
    pub gid: u32,
}

impl Group {
    /// A group by number, or by name from `/etc/group` (groups only a directory service knows
    /// are given by number).
    pub fn resolve(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Ok(gid) = text.parse::<u32>() {
            return Ok(Group { name: text.to_owned(), gid });
        }
        let groups = std::fs::read_to_string("/etc/group").map_err(|e| Error::Config(format!("cannot read /etc/group to find group `{text}`: {e}")))?;
        groups
            .lines()
            .filter_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let gid = fields.nth(1)?.parse::<u32>().ok()?;
                (name == text).then(|| Group { name: name.to_owned(), gid })
            })
            .next()
            .ok_or_else(|| Error::Config(format!("no group `{text}` in /etc/group (give a directory service's group by its number)")))
    }
}

/// Who may read which zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// Reads everything (investigators). None: only the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_group: Option<Group>,
    /// Reads the aggregate tables (analysts). None: the restricted group (or only the owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_group: Option<Group>,
    /// Everyone on the host reads the aggregate tables.
    #[serde(default)]
    pub aggregate_world_readable: bool,
}

/// What a path is, for its permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The warehouse directory itself.
    Root,
    /// A restricted table (per conversation or account, and `identities`).
    Restricted,
    /// An aggregate table (k-anonymous by construction).
    Aggregate,
    /// Manifests, the ledger and the policy: read by whoever reads the restricted zone.
    Records,
    /// Staging and locks: the owner only.
    Private,
}

impl Area {
    /// The area of a table by name.
    pub fn of_table(name: &str) -> Self {
        if table::AGGREGATE.contains(&name) { Area::Aggregate } else { Area::Restricted }
    }
}

/// Modes and group of one area: (directory mode, file mode, group to set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    /// Mode of its directories.
    pub dir: u32,
    /// Mode of its files.
    pub file: u32,
    /// Group its directories and files get (None: left as created).
    pub gid: Option<u32>,
}

impl AccessPolicy {
    /// The warehouse's policy; the default (owner only) when it has none. A policy that does
    /// not parse is an error, not a silent fallback to something looser or stricter.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(ACCESS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() <= 64 * 1024 => {
                serde_json::from_slice(&bytes).map_err(|e| Error::Config(format!("{}: not an access policy: {e}", path.display())))
            }
            Ok(_) => Err(Error::Config(format!("{}: not an access policy (too large)", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AccessPolicy::default()),
            // A reader outside the restricted group may not read it, and needs nothing from it.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(AccessPolicy::default()),
            Err(e) => Err(Error::warehouse(&path, e)),
        }
    }

    /// Whether anyone but the owner reads anything.
    fn shared(&self) -> bool {
        self.restricted_group.is_some() || self.aggregate_group.is_some() || self.aggregate_world_readable
    }

    /// Modes and group of an area.
    pub fn modes(&self, area: Area) -> Modes {
        let owner = Modes { dir: 0o700, file: 0o600, gid: None };
        let group = |g: &Option<Group>| g.as_ref().map(|g| Modes { dir: 0o750, file: 0o640, gid: Some(g.gid) });
        match area {
            Area::Private => owner,
            Area::Restricted | Area::Records => group(&self.restricted_group).unwrap_or(owner),
            Area::Aggregate if self.aggregate_world_readable => {
                Modes { dir: 0o755, file: 0o644, gid: self.aggregate_group.as_ref().or(self.restricted_group.as_ref()).map(|g| g.gid) }
            }
            Area::Aggregate => group(&self.aggregate_group).or_else(|| group(&self.restricted_group)).unwrap_or(owner),
            // Listable by investigators; only traversable by others, when anything is shared.
            Area::Root => match (&self.restricted_group, self.shared()) {
                (Some(g), _) => Modes { dir: 0o751, file: 0o640, gid: Some(g.gid) },
                (None, true) => Modes { dir: 0o711, file: 0o600, gid: None },
                (None, false) => owner,
            },
        }
    }

    /// Gives a directory its area's mode and group.
    pub fn apply_dir(&self, path: &Path, area: Area) -> Result<()> {
        let modes = self.modes(area);
        set(path, modes.dir, modes.gid)
    }

    /// Gives a file its area's mode and group.
    pub fn apply_file(&self, path: &Path, area: Area) -> Result<()> {
        let modes = self.modes(area);
        set(path, modes.file, modes.gid)
    }

    /// Creates `dir` and any missing parents below `base` (which must exist), each with its
    /// area's mode and group.
    pub fn create_dirs(&self, base: &Path, dir: &Path, area: Area) -> Result<()> {
        let relative = dir.strip_prefix(base).map_err(|_| Error::warehouse(dir, "outside the warehouse"))?;
        let mut path = base.to_path_buf();
        for part in relative.components() {
            path.push(part);
            match std::fs::create_dir(&path) {
                Ok(()) => self.apply_dir(&path, area)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::warehouse(&path, e)),
            }
        }
        Ok(())
    }

    /// Applies the policy to everything under the warehouse root (for `vigil access`).
    /// Returns the number of paths set. Links are never followed.
    pub fn apply_all(&self, root: &Path) -> Result<usize> {
        self.apply_dir(root, Area::Root)?;
        let mut count = 1;
        for entry in std::fs::read_dir(root).map_err(|e| Error::warehouse(root, e))? {
            let entry = entry.map_err(|e| Error::warehouse(root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let area = match name.as_str() {
                "_staging" | "_locks" => Area::Private,
                "_runs" | "_ledger" | ACCESS_FILE => Area::Records,
                other if other.starts_with('_') || other.starts_with('.') => continue,
                table => Area::of_table(table),
            };
            count += self.apply_tree(&entry.path(), area)?;
        }
        Ok(count)
    }

    fn apply_tree(&self, path: &Path, area: Area) -> Result<usize> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| Error::warehouse(path, e))?;
        if meta.file_type().is_symlink() {
            return Ok(0);
        }
        if meta.is_file() {
            self.apply_file(path, area)?;
            return Ok(1);
        }
        self.apply_dir(path, area)?;
        let mut count = 1;
        for entry in std::fs::read_dir(path).map_err(|e| Error::warehouse(path, e))? {
            let entry = entry.map_err(|e| Error::warehouse(path, e))?;
            count += self.apply_tree(&entry.path(), area)?;
        }
        Ok(count)
    }
}

fn set(path: &Path, mode: u32, gid: Option<u32>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))
            .map_err(|e| Error::warehouse(path, format!("cannot give it group {gid} ({e}); the warehouse's owner must be a member of the group")))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::warehouse(path, format!("cannot set its mode to {mode:o}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_owner_only_and_groups_widen_only_their_zone() {
        let owner_only = AccessPolicy::default();
        for area in [Area::Root, Area::Restricted, Area::Aggregate, Area::Records, Area::Private] {
            let m = owner_only.modes(area);
            assert_eq!((m.dir & 0o077, m.file & 0o077), (0, 0), "{area:?}");
        }
        let investigators = Group { name: "inv".into(), gid: 4001 };
        let analysts = Group { name: "ana".into(), gid: 4002 };
        let policy = AccessPolicy { restricted_group: Some(investigators), aggregate_group: Some(analysts), aggregate_world_readable: false };
        assert_eq!(policy.modes(Area::Restricted), Modes { dir: 0o750, file: 0o640, gid: Some(4001) });
        assert_eq!(policy.modes(Area::Aggregate), Modes { dir: 0o750, file: 0o640, gid: Some(4002) });
        assert_eq!(policy.modes(Area::Records).gid, Some(4001));
        assert_eq!(policy.modes(Area::Private).file & 0o077, 0);
        assert_eq!(policy.modes(Area::Root).dir, 0o751, "others may traverse, not list");
        let world = AccessPolicy { aggregate_world_readable: true, ..AccessPolicy::default() };
        assert_eq!(world.modes(Area::Aggregate).file, 0o644);
        assert_eq!(world.modes(Area::Restricted).file & 0o077, 0, "restricted stays owner-only");
        assert_eq!(world.modes(Area::Root).dir, 0o711);
        assert_eq!(Area::of_table("clusters"), Area::Aggregate);
        assert_eq!(Area::of_table("identities"), Area::Restricted);
    }

    #[test]
    fn a_policy_round_trips_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(AccessPolicy::load(dir.path()).unwrap(), AccessPolicy::default());
        let policy = AccessPolicy { restricted_group: Some(Group::resolve("0").unwrap()), aggregate_group: None, aggregate_world_readable: true };
        std::fs::write(dir.path().join(ACCESS_FILE), serde_json::to_vec(&policy).unwrap()).unwrap();
        assert_eq!(AccessPolicy::load(dir.path()).unwrap(), policy);
        std::fs::write(dir.path().join(ACCESS_FILE), b"{\"aggregate_world_readable\": \"yes\"}").unwrap();
        assert!(AccessPolicy::load(dir.path()).is_err());
        assert!(Group::resolve("no-such-group-here").is_err());
        assert_eq!(Group::resolve("root").map(|g| g.gid).ok(), Some(0));
    }

    #[test]
    fn created_directories_get_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let policy = AccessPolicy { aggregate_world_readable: true, ..AccessPolicy::default() };
        let deep = dir.path().join("clusters/date=2026-11-22");
        policy.create_dirs(dir.path(), &deep, Area::Aggregate).unwrap();
        assert_eq!(std::fs::metadata(&deep).unwrap().permissions().mode() & 0o777, 0o755);
        let private = dir.path().join("messages/date=2026-11-22");
        policy.create_dirs(dir.path(), &private, Area::Restricted).unwrap();
        assert_eq!(std::fs::metadata(dir.path().join("messages")).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
