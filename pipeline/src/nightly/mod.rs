//! The nightly analysis for one date: over the trailing window ending that day, facets for
//! every conversation, embeddings, a topic hierarchy with k-anonymous names and summaries, and
//! per-account usage summaries.
//!
//! ```text
//!  conversations (window) ─▶ facets ─▶ embeddings ─▶ PCA ─▶ HDBSCAN leaves ─▶ Ward parents
//!                                │                                   │
//!                                └──────────▶ account summaries ◀────┘ ─▶ names, summaries
//! ```
//!
//! A run owns the `date=D` partitions of `facets`, `embeddings` (conversations of day D),
//! `accounts`, `clusters`, `cluster_members`, `campaigns`, `campaign_members`, `topic_daily`
//! (the window ending on D) and `topics` (the topic catalogue after night D, see [`topics`]). It writes them with
//! fixed file names through a replacing staged publish: rerunning a date swaps each partition
//! atomically, and the same inputs and config give the same bytes (every parallel step
//! collects in index order and every float sum runs in a fixed order).

pub mod accounts;
pub mod campaigns;
pub mod clusters;
mod tables;
pub mod topics;
mod vectors;
pub mod window;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::privacy::PrivacyConfig;
pub use clusters::{Cluster, ClusteringConfig, Hierarchy};
pub use topics::{Topics, TopicsConfig};
pub use vectors::VectorCounts;
pub use window::Window;

use crate::coordinate::CampaignConfig;
use crate::embed::{models_dir, EmbeddingBackend, EncoderChoice, HashedTfidfConfig};
use crate::error::{Error, Result};
use crate::facets::{word_document_frequency, Facet, Scratch, Taxonomy};
use crate::manifest::{self, RunRecorder};
use crate::warehouse::{LockGuard, PublishedFile, Warehouse};

/// Which embeddings and how large.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingConfig {
    /// `auto` (the learned encoder when installed, else LSA), `use-m3` or `hashed-tfidf`.
    pub backend: EmbeddingBackend,
    /// Where installed models are (`None`: `$VIGIL_MODELS`, else `.vigil/models`).
    pub models_dir: Option<std::path::PathBuf>,
    /// LSA: vector dimension.
    pub dim: usize,
    /// LSA: log2 of the hashed feature space.
    pub buckets_log2: u32,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        let d = HashedTfidfConfig::default();
        EmbeddingConfig { backend: EmbeddingBackend::Auto, models_dir: None, dim: d.dim, buckets_log2: d.buckets_log2 }
    }
}

impl EmbeddingConfig {
    /// The LSA settings (used when LSA is the backend or the fallback).
    pub fn lsa(&self) -> HashedTfidfConfig {
        HashedTfidfConfig { dim: self.dim, buckets_log2: self.buckets_log2, ..HashedTfidfConfig::default() }
    }

    /// Resolves the backend to a loaded encoder (the learned model is loaded and verified).
    pub fn resolve(&self) -> Result<EncoderChoice> {
        EncoderChoice::resolve(self.backend, &models_dir(self.models_dir.as_deref()), self.lsa())
    }
}

/// Facet settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FacetsConfig {
    /// Keywords kept per conversation.
    pub keywords: usize,
    /// A keyword must occur in at least this many conversations of the window.
    pub keyword_min_conversations: u32,
}

impl Default for FacetsConfig {
    fn default() -> Self {
        FacetsConfig { keywords: 5, keyword_min_conversations: 5 }
    }
}

/// What the nightly analysis does (the `[nightly]`-level keys of a job config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NightlyConfig {
    /// Days in the trailing window ending on the run date.
    pub window_days: u32,
    /// Policy taxonomy file, relative to the config file (`None`: the built-in taxonomy).
    /// Resolved and loaded by the caller.
    pub taxonomy: Option<std::path::PathBuf>,
    /// Privacy thresholds.
    pub privacy: PrivacyConfig,
    /// Facets.
    pub facets: FacetsConfig,
    /// Embeddings.
    pub embedding: EmbeddingConfig,
    /// Clustering and naming.
    pub clustering: ClusteringConfig,
    /// Coordinated campaign detection.
    pub campaigns: CampaignConfig,
    /// Topic identity across nights.
    pub topics: TopicsConfig,
}

impl Default for NightlyConfig {
    fn default() -> Self {
        NightlyConfig {
            window_days: 7,
            taxonomy: None,
            privacy: PrivacyConfig::default(),
            facets: FacetsConfig::default(),
            embedding: EmbeddingConfig::default(),
            clustering: ClusteringConfig::default(),
            campaigns: CampaignConfig::default(),
            topics: TopicsConfig::default(),
        }
    }
}

impl NightlyConfig {
    /// Checks every value, reporting all problems at once.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if !(1..=366).contains(&self.window_days) {
            problems.push(format!("window_days = {} (must be 1..=366)", self.window_days));
        }
        problems.extend(self.privacy.problems());
        if !(16..=4096).contains(&self.embedding.dim) {
            problems.push(format!("embedding.dim = {} (must be 16..=4096)", self.embedding.dim));
        }
        if !(10..=24).contains(&self.embedding.buckets_log2) {
            problems.push(format!("embedding.buckets_log2 = {} (must be 10..=24)", self.embedding.buckets_log2));
        }
        let c = &self.clustering;
        if c.pca_components == 0 || c.pca_components > self.embedding.dim.min(crate::embed::USE_M3_DIM) {
            problems.push(format!("clustering.pca_components = {} (must be 1..=embedding.dim, and at most {})", c.pca_components, crate::embed::USE_M3_DIM));
        }
        if c.min_cluster_size < 2 {
            problems.push(format!("clustering.min_cluster_size = {} (must be at least 2)", c.min_cluster_size));
        }
        if c.max_exact < 1000 {
            problems.push(format!("clustering.max_exact = {} (must be at least 1000)", c.max_exact));
        }
        if !(-1.0..=1.0).contains(&c.assign_min_similarity) {
            problems.push(format!("clustering.assign_min_similarity = {} (must be -1..=1)", c.assign_min_similarity));
        }
        if c.top_min == 0 || c.top_min > c.top_max {
            problems.push(format!("clustering.top_min = {} and top_max = {} (need 1 <= top_min <= top_max)", c.top_min, c.top_max));
        }
        if c.branching < 2 {
            problems.push(format!("clustering.branching = {} (must be at least 2)", c.branching));
        }
        if !(0.0..=1.0).contains(&c.exemplar_max_masked) {
            problems.push(format!("clustering.exemplar_max_masked = {} (must be 0..=1)", c.exemplar_max_masked));
        }
        problems.extend(self.campaigns.problems());
        problems.extend(self.topics.problems());
        if problems.is_empty() { Ok(()) } else { Err(Error::Config(format!("{} problem(s): {}", problems.len(), problems.join("; ")))) }
    }
}

/// What a nightly run did.
#[derive(Debug, Clone)]
pub struct NightlySummary {
    /// The run date.
    pub date: NaiveDate,
    /// First day of the window.
    pub window_start: NaiveDate,
    /// Conversations analysed (window).
    pub conversations: usize,
    /// Distinct accounts in the window.
    pub accounts: usize,
    /// Conversations of the run date (facets and embeddings written).
    pub conversations_on_date: usize,
    /// Conversations in some leaf cluster.
    pub clustered: usize,
    /// Clusters per level, and how many of them are suppressed.
    pub levels: Vec<(usize, usize)>,
    /// Whether leaves came from a sample.
    pub sampled: bool,
    /// Campaigns by (status, kind).
    pub campaigns: BTreeMap<(crate::schema::CampaignStatus, crate::schema::CampaignKind), usize>,
    /// Topics continued, created and re-anchored tonight, and the catalogue's size.
    pub topics: TopicCounts,
    /// The encoder that produced the embeddings ([`EncoderChoice::id`]).
    pub encoder: String,
    /// How the window's vectors were obtained.
    pub vectors: VectorCounts,
    /// Wall time per stage.
    pub timings: Vec<(&'static str, Duration)>,
    /// Files published.
    pub published: Vec<PublishedFile>,
    /// Files of an interrupted earlier run finished by this one.
    pub recovered_files: usize,
    /// The run's id and manifest file.
    pub run_id: String,
    /// Where the run's manifest is.
    pub manifest: std::path::PathBuf,
}

/// What tonight did to the topic catalogue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TopicCounts {
    /// Topics continued by tonight's clusters.
    pub continued: usize,
    /// Topics created tonight.
    pub created: usize,
    /// Topics continued under a new encoder (centroids moved to its space once).
    pub reanchored: usize,
    /// Topics in the catalogue after tonight (seen tonight or within the retention period).
    pub catalogue: usize,
}

/// Everything the analysis computed, for callers that go on (campaign detection, tests).
#[derive(Debug)]
pub struct Analysis {
    /// The window read.
    pub window: Window,
    /// Per window row.
    pub facets: Vec<Facet>,
    /// Row-major `window.len() × dim` unit vectors.
    pub embeddings: Vec<f32>,
    /// Embedding dimension.
    pub dim: usize,
    /// The encoder that produced `embeddings` ([`EncoderChoice::id`]).
    pub encoder: String,
    /// What the `embeddings` table's `model` column says: the encoder id, plus the window for
    /// LSA (refitted per window, so its vectors are never reused).
    pub vector_model: String,
    /// The taxonomy's behaviours embedded, when the learned encoder made `embeddings` (campaign
    /// kinds are then decided from behaviour, else from policy-area shares).
    pub behaviours: Option<crate::facets::BehaviourPrototypes>,
    /// Why the learned encoder was not used, when the config allowed it.
    pub encoder_fallback: Option<String>,
    /// How the window's vectors were obtained.
    pub vectors: VectorCounts,
    /// The cluster hierarchy.
    pub hierarchy: Hierarchy,
    /// The hierarchy's clusters as catalogue topics.
    pub topics: Topics,
    /// Account summaries.
    pub accounts: Vec<accounts::AccountSummary>,
    /// Campaigns (active ones, then the previous night's that ended).
    pub campaigns: Vec<campaigns::Campaign>,
}

struct Stopwatch {
    timings: Vec<(&'static str, Duration)>,
    last: Instant,
}

impl Stopwatch {
    fn new() -> Self {
        Stopwatch { timings: Vec::new(), last: Instant::now() }
    }
    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        tracing::info!(stage, seconds = format!("{:.2}", (now - self.last).as_secs_f64()), "nightly stage done");
        crate::killpoint::reached(&format!("nightly.{stage}"));
        self.timings.push((stage, now - self.last));
        self.last = now;
    }
}

/// Runs the analysis for `date` and publishes its partitions, recording the run in a manifest
/// (`W/_runs/nightly/<date>/<run-id>.json`).
pub fn run(warehouse: &Warehouse, date: NaiveDate, config: &NightlyConfig, taxonomy: &Taxonomy) -> Result<(NightlySummary, Analysis)> {
    config.validate()?;
    let encoder = config.embedding.resolve()?;
    let lock = warehouse.lock(&manifest::lock_name("nightly", date))?;
    let recovered_files = warehouse.recover_staging(&lock)?.len();
    let run_id = manifest::new_run_id(date.to_string().as_bytes());
    let config_json = serde_json::to_value(config)?;
    let digest = manifest::config_digest(&config_json, &[taxonomy.digest(), &encoder.id()]);
    let mut recorder = RunRecorder::start(warehouse, "nightly", date, &run_id, config_json, digest, crate::ledger::RunKeys::default())?;
    crate::killpoint::reached("nightly.started");
    match run_recorded(warehouse, &lock, date, config, taxonomy, &encoder, &mut recorder) {
        Ok((mut summary, analysis)) => {
            summary.recovered_files = recovered_files;
            summary.manifest = recorder.path().to_path_buf();
            recorder.finish(None)?;
            Ok((summary, analysis))
        }
        Err(e) => {
            // Best effort: the error itself matters more than recording it.
            let _ = recorder.finish(Some(&e));
            Err(e)
        }
    }
}

fn run_recorded(
    warehouse: &Warehouse,
    lock: &LockGuard,
    date: NaiveDate,
    config: &NightlyConfig,
    taxonomy: &Taxonomy,
    encoder: &EncoderChoice,
    recorder: &mut RunRecorder,
) -> Result<(NightlySummary, Analysis)> {
    let mut clock = Stopwatch::new();
    let analysis = analyse(warehouse, date, config, taxonomy, encoder, &mut clock)?;
    recorder.add_inputs(&input_files(warehouse, &analysis.window)?)?;
    recorder.add_inputs(&analysis.topics.files)?;
    let mut staged = warehouse.stage_replacing(lock, recorder.run_id(), "part-nightly")?;
    let written = tables::write(&mut staged, date, &analysis, config, taxonomy)?;
    let committed = staged.commit()?;
    recorder.committing(&committed.files())?;
    let published = committed.publish()?;
    clock.lap("publish");
    let h = &analysis.hierarchy;
    let summary = NightlySummary {
        date,
        window_start: analysis.window.start,
        conversations: analysis.window.len(),
        accounts: analysis.accounts.len(),
        conversations_on_date: written,
        clustered: h.leaf_of.iter().filter(|l| l.is_some()).count(),
        levels: h.levels.iter().map(|l| (l.len(), l.iter().filter(|c| c.suppressed).count())).collect(),
        sampled: h.sampled,
        campaigns: analysis.campaigns.iter().fold(BTreeMap::new(), |mut m, c| {
            *m.entry((c.status, c.kind)).or_default() += 1;
            m
        }),
        topics: TopicCounts {
            continued: analysis.topics.continued,
            created: analysis.topics.created,
            reanchored: analysis.topics.reanchored,
            catalogue: analysis.topics.catalogue.len(),
        },
        encoder: analysis.encoder.clone(),
        vectors: analysis.vectors,
        timings: clock.timings,
        published,
        recovered_files: 0,
        run_id: recorder.run_id().to_owned(),
        manifest: recorder.path().to_path_buf(),
    };
    recorder.set_stages(&summary.timings);
    recorder.set_summary(serde_json::json!({
        "window_start": summary.window_start.to_string(),
        "conversations": summary.conversations,
        "accounts": summary.accounts,
        "conversations_on_date": summary.conversations_on_date,
        "clustered": summary.clustered,
        "clusters_per_level": summary.levels.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "suppressed_per_level": summary.levels.iter().map(|(_, s)| s).collect::<Vec<_>>(),
        "campaigns": analysis.campaigns.len(),
        "encoder": analysis.encoder,
        "encoder_fallback": analysis.encoder_fallback,
        "vectors_reused": analysis.vectors.reused,
        "vectors_computed": analysis.vectors.computed,
        "topics": {
            "previous_night": analysis.topics.previous_night.map(|d| d.to_string()),
            "members_compared": analysis.topics.members_compared,
            "continued": summary.topics.continued,
            "created": summary.topics.created,
            "reanchored": summary.topics.reanchored,
            "catalogue": summary.topics.catalogue,
        },
    }));
    Ok((summary, analysis))
}

/// What a run reads: the window's `conversations` files and the earlier nights' campaigns in
/// the window (matched for stable ids).
fn input_files(warehouse: &Warehouse, window: &Window) -> Result<Vec<std::path::PathBuf>> {
    let mut files = window.files.clone();
    let mut day = window.start;
    while day < window.end {
        files.extend(warehouse.files(crate::schema::table::CAMPAIGNS, Some(day))?);
        files.extend(warehouse.files(crate::schema::table::CAMPAIGN_MEMBERS, Some(day))?);
        day = day.succ_opt().expect("dates before 262143 CE");
    }
    Ok(files)
}

fn analyse(
    warehouse: &Warehouse,
    date: NaiveDate,
    config: &NightlyConfig,
    taxonomy: &Taxonomy,
    encoder: &EncoderChoice,
    clock: &mut Stopwatch,
) -> Result<Analysis> {
    let window = Window::read(warehouse, date, config.window_days)?;
    clock.lap("read");
    let mut facets: Vec<Facet> =
        (0..window.len()).into_par_iter().map_init(Scratch::default, |s, i| taxonomy.facet(window.user_text(i), s)).collect();
    clock.lap("facets");
    let (embeddings, vectors, window_encoder) = vectors::embed_window(warehouse, &window, encoder)?;
    tracing::info!(encoder = %encoder.id(), reused = vectors.reused, computed = vectors.computed, "embeddings");
    clock.lap("embeddings");
    let mut behaviours = None;
    if let Some(model) = encoder.learned() {
        behaviours = taxonomy.behaviour_prototypes(model)?;
        // Training embeds a few thousand examples: not worth it for an empty window.
        let head = if window.is_empty() { None } else { taxonomy.policy_head(model)? };
        if let Some(head) = head {
            let guesses = head.classify_all(&embeddings)?;
            facets.iter_mut().zip(&guesses).for_each(|(f, g)| taxonomy.apply_learned(f, g));
        }
    }
    // Recorded with either encoder, so every manifest lists the same stages.
    clock.lap("policy");
    let dim = encoder.dim();
    // Last night's topics: continued by tonight's clusters, and their memberships keep the
    // hierarchy's upper levels steady (read here, so its time counts as clustering).
    let previous = topics::Previous::read(warehouse, date, &window, &config.topics)?;
    let prior = previous.as_ref().map_or(&[][..], |p| p.memberships());
    let hierarchy = clusters::build(&window, &facets, &embeddings, dim, &window_encoder, config, taxonomy, prior, &date.to_string())?;
    clock.lap("clusters");
    let topics = topics::assign(previous.as_ref(), date, &window, &hierarchy, &encoder.id(), encoder.is_stable(), &config.topics);
    clock.lap("topics");
    let accounts = accounts::summarize(&window, &facets, &hierarchy, taxonomy);
    clock.lap("accounts");
    let encoder_fallback = match encoder {
        EncoderChoice::Lsa { reason, .. } => reason.clone(),
        EncoderChoice::Learned(_) => None,
    };
    let vector_model = if encoder.is_stable() { encoder.id() } else { format!("{} window={}..{}", encoder.id(), window.start, window.end) };
    let mut analysis = Analysis {
        dim,
        encoder: encoder.id(),
        vector_model,
        encoder_fallback,
        vectors,
        window,
        facets,
        embeddings,
        hierarchy,
        topics,
        accounts,
        behaviours,
        campaigns: Vec::new(),
    };
    analysis.campaigns = campaigns::campaigns(warehouse, date, &analysis, config, taxonomy)?;
    clock.lap("campaigns");
    Ok(analysis)
}

/// Lower-cased word document frequencies of the run date's requests, for keywords.
pub(crate) fn keyword_df(window: &Window) -> rustc_hash::FxHashMap<String, u32> {
    word_document_frequency((0..window.len()).map(|i| window.first_message(i)))
}
