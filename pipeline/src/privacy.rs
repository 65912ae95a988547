//! The k-anonymity thresholds every published aggregate meets: one definition, used by nightly
//! (cluster names, summaries and exemplars) and by the weekly report (trends, campaign
//! narratives), so the two can never disagree about what may be shown.

use serde::{Deserialize, Serialize};

/// Thresholds that keep aggregates k-anonymous (the job config's `[privacy]` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Fewest distinct accounts behind a named cluster, and behind any n-gram in aggregate text.
    pub min_accounts: usize,
    /// Fewest conversations behind a named cluster.
    pub min_conversations: usize,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig { min_accounts: 5, min_conversations: 15 }
    }
}

impl PrivacyConfig {
    /// Settings that would publish text one person wrote, named for the config's problem list.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.min_accounts < 2 {
            problems.push(format!("privacy.min_accounts = {} (must be at least 2)", self.min_accounts));
        }
        problems
    }
}
