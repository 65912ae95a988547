//! Command-line arguments (clap derive). Each command's arguments map to one library config in
//! its `cmd::*` module; nothing here does work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Vigil: misuse analytics over AI-assistant conversation logs.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about, propagate_version = true)]
pub struct Cli {
    /// Log level for plain log lines (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "info", env = "VIGIL_LOG")]
    pub log: String,
    /// Worker threads (default: one per core).
    #[arg(long, global = true, default_value_t = 0)]
    pub threads: usize,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands. A fixed set: a plain enum and a `match` in `main`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic logs (one `YYYY-MM-DD.jsonl.gz` per day) and `ground_truth.json`.
    Fixtures(FixturesArgs),
    /// Stream logs into the warehouse: redacted, pseudonymized, Hive-partitioned Parquet.
    Ingest(IngestArgs),
    /// Analyse one date: facets, embeddings, topic clusters with k-anonymous summaries, accounts.
    Nightly(NightlyArgs),
    /// Write the weekly trend report (HTML with inline charts, Markdown, JSON) for one week.
    Weekly(WeeklyArgs),
    /// List run manifests (job, date, outcome, outputs, timings).
    Runs(RunsArgs),
    /// Check the chain of custody: the ledger's chain and signatures, every manifest against
    /// its entry, every published partition against its manifest; fails on any finding.
    Verify(VerifyArgs),
    /// Run SQL over the warehouse (DataFusion): a statement, a file, or a canned query.
    Query(QueryArgs),
    /// Interactive SQL shell over the warehouse (line editing, history, \d, \format, \timing).
    Sql(SqlArgs),
    /// List detected campaigns or show one: summary, signals, members, timeline, examples.
    Campaign(CampaignArgs),
    /// Redact stdin lines: redacted text, or JSON with entity spans (character offsets).
    Redact(RedactArgs),
    /// Generate a pseudonym key file (32 random bytes as 64 hex characters), a signing key, or
    /// a reveal key split into shares for several key holders.
    Keygen(KeygenArgs),
    /// Reveal the raw account or org ids behind pseudonyms: needs shares of the reveal key
    /// from two key holders and a reason, and records the reveal in the ledger first.
    Reveal(RevealArgs),
    /// List every reveal the ledger records: when, which shares, why, which pseudonyms.
    Audit(AuditArgs),
    /// Show or set who may read which zone of the warehouse (file modes and groups), and apply
    /// it to every existing file.
    Access(AccessArgs),
    /// Run the pipeline end to end on built-in synthetic data and print what it found.
    Demo(DemoArgs),
    /// Check the installed learned models (digests) and say which encoder runs will use.
    Models(ModelsArgs),
    /// Check a job config (with overrides), its policy taxonomy and labelled files, and the
    /// encoder it asks for, reporting every problem at once; runs nothing.
    Validate(ValidateArgs),
}

/// `vigil validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job configuration (TOML; see jobs/nightly.toml). Default: built-in values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Policy taxonomy (default: the config's, else the built-in one).
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    /// Overrides, as `vigil nightly --set` takes them (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `vigil models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Models directory (default: $VIGIL_MODELS, else .vigil/models).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also embed these texts and print their pairwise cosine similarities.
    #[arg(long = "compare", num_args = 1..)]
    pub compare: Vec<String>,
    /// Embed every text of a file (one JSON string per line) and write the unit vectors, one
    /// row per line, as a float32 NumPy array to `--out` (for notebooks and comparisons).
    #[arg(long, requires = "out")]
    pub embed: Option<PathBuf>,
    /// Where `--embed` writes its `.npy` array.
    #[arg(long, requires = "embed")]
    pub out: Option<PathBuf>,
}

/// Size and seed of synthetic logs (shared by `fixtures` and `demo`).
#[derive(Debug, Args)]
pub struct FixtureShape {
    /// Number of days.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Organic conversations per day (campaigns and decoys come on top).
    #[arg(long = "per-day", default_value_t = 2000)]
    pub per_day: u32,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `vigil fixtures`.
#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub shape: FixtureShape,
    /// Last day of the generated window (default: 2026-11-22).
    #[arg(long = "end-date")]
    pub end_date: Option<String>,
    /// Which campaigns and decoys to plant: `standard`, or `adversarial` (campaigns built to
    /// defeat a detector fitted to the standard ones, and a second set of decoys).
    #[arg(long, value_enum, default_value = "standard")]
    pub family: Family,
}

/// Fixture families (see `vigil_fixtures::FixtureFamily`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Family {
    Standard,
    Adversarial,
}

/// Where the pseudonym key comes from.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// File holding the 32-byte key as 64 hex characters (default: $VIGIL_KEY).
    #[arg(long = "key-file")]
    pub key_file: Option<PathBuf>,
}

/// Where the signing key comes from (the key that signs the warehouse's ledger entries).
#[derive(Debug, Args)]
pub struct SigningArgs {
    /// File written by `vigil keygen --signing` (default: $VIGIL_SIGNING_KEY, a path or the key
    /// as 64 hex characters). Without one the run's ledger entries are unsigned, which
    /// `vigil verify` reports; a warehouse whose runs are signed refuses unsigned runs.
    #[arg(long = "signing-key", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
}

/// Input formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputFormat {
    /// Vigil's native JSON Lines schema.
    Native,
    /// Anthropic HH-RLHF transcripts.
    #[value(name = "hh-rlhf")]
    HhRlhf,
}

/// What ingest does with identifiers found in metadata.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum IdentifierActionArg {
    /// Replace each value by its keyed pseudonym (`id_…`).
    Pseudonymize,
    /// Remove the key and its value.
    Drop,
}

/// Whether redaction uses the learned name recogniser.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum NerArg {
    /// When installed and verified; otherwise rules only, with a warning.
    Auto,
    /// Always: fail when the model is missing or altered.
    Required,
    /// Rules only.
    Off,
}

impl From<NerArg> for vigil::redact::NerMode {
    fn from(arg: NerArg) -> Self {
        match arg {
            NerArg::Auto => vigil::redact::NerMode::Auto,
            NerArg::Required => vigil::redact::NerMode::Required,
            NerArg::Off => vigil::redact::NerMode::Off,
        }
    }
}

/// How redaction finds names (shared by `ingest` and `redact`).
#[derive(Debug, Args)]
pub struct NerArgs {
    /// Learned name recognisers (spaCy's English NER, confirmed by its French one; installed by
    /// models/install.py): auto uses what is installed, required fails without both.
    #[arg(long, value_enum, default_value = "auto")]
    pub ner: NerArg,
    /// Models directory (default: $VIGIL_MODELS, else .vigil/models).
    #[arg(long)]
    pub models: Option<PathBuf>,
}

/// `vigil ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Warehouse directory (created if missing).
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Input format.
    #[arg(long, value_enum, default_value = "native")]
    pub format: InputFormat,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Escrow every raw account and org id, encrypted to this reveal key (`reveal.pub` from
    /// `vigil keygen --reveal-shares`, or `age1…`; default: $VIGIL_REVEAL_KEY). A warehouse that
    /// escrows refuses ingests without it.
    #[arg(long = "reveal-key", value_name = "FILE")]
    pub reveal_key: Option<String>,
    /// HH-RLHF: account id for every transcript (default: each transcript its own account).
    #[arg(long)]
    pub account: Option<String>,
    /// HH-RLHF: timestamp for every transcript, RFC 3339 (default: the file's modification time).
    #[arg(long)]
    pub at: Option<String>,
    /// Largest accepted record (one JSON line), in bytes.
    #[arg(long = "max-record-bytes", default_value_t = 16 << 20)]
    pub max_record_bytes: usize,
    /// Largest accepted message, in bytes.
    #[arg(long = "max-message-bytes", default_value_t = 4 << 20)]
    pub max_message_bytes: usize,
    /// Metadata keys that hold identifiers (comma-separated; matched ignoring case and
    /// punctuation, at any depth). Default: user_id, device_id, session_id, email, login,
    /// username, customer_name, phone and the like (see the README).
    #[arg(long = "identifier-keys", value_delimiter = ',')]
    pub identifier_keys: Option<Vec<String>>,
    /// What happens to a metadata value under an identifier key.
    #[arg(long = "identifier-action", value_enum, default_value = "pseudonymize")]
    pub identifier_action: IdentifierActionArg,
    #[command(flatten)]
    pub names: NerArgs,
    /// Print the summary as JSON instead of one line.
    #[arg(long)]
    pub json: bool,
    /// Input files: JSON Lines, plain, gzip or zstd.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `vigil nightly`.
#[derive(Debug, Args)]
pub struct NightlyArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// The run date (YYYY-MM-DD): the window ends on this UTC day.
    #[arg(long)]
    pub date: String,
    /// Job configuration (TOML; see jobs/nightly.toml). Default: built-in values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override the config's window length in days.
    #[arg(long = "window-days")]
    pub window_days: Option<u32>,
    /// Override the config's policy taxonomy file.
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    /// Override any config key, `section.key=value` (TOML value; repeatable), e.g.
    /// `--set clustering.min_cluster_size=20 --set campaigns.enabled=false`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Ingest these log files first (one cron line does everything); needs the key.
    #[arg(long = "input", value_name = "FILE", num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Format of the --input files.
    #[arg(long = "input-format", value_enum, default_value = "native")]
    pub input_format: InputFormat,
    /// With --input: escrow raw ids to this reveal key, as `vigil ingest --reveal-key`
    /// (default: $VIGIL_REVEAL_KEY).
    #[arg(long = "reveal-key", value_name = "FILE")]
    pub reveal_key: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// `vigil weekly`.
#[derive(Debug, Args)]
pub struct WeeklyArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Last day of the week reported (YYYY-MM-DD); needs that night's nightly run.
    #[arg(long = "week-ending")]
    pub week_ending: String,
    /// Directory for report.html, report.md and report.json (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Job configuration (its `[privacy]` thresholds apply). Default: built-in values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// `vigil runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Only this job (ingest, nightly, weekly).
    #[arg(long)]
    pub job: Option<String>,
    /// Only runs for this date (YYYY-MM-DD).
    #[arg(long)]
    pub date: Option<String>,
    /// Print the manifests as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `vigil verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Only partitions of this date (YYYY-MM-DD); the ledger and manifests are checked whole.
    #[arg(long)]
    pub date: Option<String>,
    /// The public key every ledger entry must be signed by (a `.pub` file from
    /// `vigil keygen --signing`, or `ed25519:<hex>`). Default: the first entry's signer.
    #[arg(long, value_name = "PUBKEY")]
    pub trust: Option<String>,
    /// A ledger head printed by an earlier `vigil verify` and kept outside the warehouse: it
    /// must still be in the ledger.
    #[arg(long = "expect-head", value_name = "DIGEST")]
    pub expect_head: Option<String>,
}

/// Output formats of `vigil query`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum QueryFormat {
    /// An aligned table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Parquet (needs --out).
    Parquet,
}

/// Which tables a session registers.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ZoneArg {
    /// Every table (investigators).
    All,
    /// Only the k-anonymous aggregate tables (analysts).
    Aggregate,
}

/// `vigil query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Warehouse directory.
    #[arg(long, required_unless_present = "list")]
    pub warehouse: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
    /// Write the result here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Tables to register.
    #[arg(long, value_enum, default_value = "all")]
    pub zone: ZoneArg,
    /// A named parameter, `name=value`, bound to `$name` in the SQL (repeatable). Values are
    /// typed (integer, decimal, YYYY-MM-DD date, true/false, else text), never spliced.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Read the statement from a file, or run a canned query by name (see --list).
    #[arg(short = 'f', long = "file", conflicts_with = "sql")]
    pub file: Option<String>,
    /// List the canned queries with what they answer and their parameters.
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub limits: SqlLimitArgs,
    /// The SQL statement.
    pub sql: Option<String>,
}

/// Resource bounds of a SQL session.
#[derive(Debug, Args)]
pub struct SqlLimitArgs {
    /// Memory for a statement, in MiB: sorts, joins and aggregates that can spill do (to the
    /// temporary directory), others stop with "resources exhausted"; a result larger than this
    /// is refused too.
    #[arg(long = "memory-limit", value_name = "MiB", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(16..=1 << 24))]
    pub memory_mib: u64,
    /// Time limit of one statement, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    pub timeout: u64,
}

/// `vigil sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Tables to register.
    #[arg(long, value_enum, default_value = "all")]
    pub zone: ZoneArg,
    #[command(flatten)]
    pub limits: SqlLimitArgs,
}

/// `vigil campaign`.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    #[command(subcommand)]
    pub command: CampaignCommand,
}

/// Which warehouse and night.
#[derive(Debug, Args)]
pub struct CampaignWhere {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Nightly run date to read (default: the latest with campaigns).
    #[arg(long)]
    pub date: Option<String>,
}

/// What to show.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Every campaign of the night, strongest first.
    List(CampaignWhere),
    /// One campaign in detail.
    Show {
        /// Campaign id (`camp-…`).
        id: String,
        #[command(flatten)]
        at: CampaignWhere,
    },
}

/// Output of `vigil redact`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RedactFormat {
    /// The redacted line.
    Text,
    /// `{"text": redacted, "entities": [{"type", "start", "end"}]}`, offsets in characters.
    Json,
}

/// `vigil redact`.
#[derive(Debug, Args)]
pub struct RedactArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: RedactFormat,
    #[command(flatten)]
    pub names: NerArgs,
}

/// `vigil keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key (refuses to overwrite); with --reveal-shares, a new directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Write an Ed25519 signing key instead of a pseudonym key; its public key goes to
    /// `<out>.pub`.
    #[arg(long, conflicts_with = "reveal_shares")]
    pub signing: bool,
    /// Make a reveal key and split its private part into this many shares, one per key holder:
    /// `<out>/reveal.pub` (give it to ingest: --reveal-key) and `<out>/share-1` … (0600; hand
    /// each to a different holder and remove it here).
    #[arg(long = "reveal-shares", value_name = "N", value_parser = clap::value_parser!(u8).range(2..))]
    pub reveal_shares: Option<u8>,
    /// Shares needed to reveal (at least 2, at most --reveal-shares).
    #[arg(long, default_value_t = 2, requires = "reveal_shares", value_parser = clap::value_parser!(u8).range(2..))]
    pub threshold: u8,
}

/// `vigil reveal`.
#[derive(Debug, Args)]
pub struct RevealArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// A key holder's share file (`share-K` from `vigil keygen --reveal-shares`); repeat once per
    /// holder, as many as the key's threshold.
    #[arg(long = "share", value_name = "FILE", required = true)]
    pub shares: Vec<PathBuf>,
    /// Why these identities are revealed (recorded in the ledger; required).
    #[arg(long)]
    pub reason: String,
    /// The case or ticket the reveal serves (recorded in the ledger).
    #[arg(long)]
    pub case: Option<String>,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Print JSON (one object per pseudonym) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Account (`acct_…`) or org (`org_…`) pseudonyms.
    #[arg(required = true, value_name = "PSEUDONYM")]
    pub pseudonyms: Vec<String>,
}

/// `vigil access`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Group that reads every table, the manifests and the ledger (investigators): a name from
    /// /etc/group or a number.
    #[arg(long = "restricted-group", value_name = "GROUP")]
    pub restricted_group: Option<String>,
    /// Group that reads the aggregate tables (analysts). Default: the restricted group.
    #[arg(long = "aggregate-group", value_name = "GROUP")]
    pub aggregate_group: Option<String>,
    /// Everyone on the host may read the aggregate tables.
    #[arg(long = "aggregate-world-readable")]
    pub aggregate_world_readable: bool,
    /// Back to the default: only the owner reads anything.
    #[arg(long = "owner-only", conflicts_with_all = ["restricted_group", "aggregate_group", "aggregate_world_readable"])]
    pub owner_only: bool,
}

/// `vigil audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Warehouse directory.
    #[arg(long)]
    pub warehouse: PathBuf,
    /// Print JSON (one object per reveal) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `vigil demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working directory for fixtures, key, warehouse and report.
    #[arg(long, default_value = "vigil-demo")]
    pub dir: PathBuf,
    /// Days of synthetic logs (two weeks by default, so the report compares weeks).
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Organic conversations per day (campaigns and decoys come on top).
    #[arg(long = "per-day", default_value_t = 2000)]
    pub per_day: u32,
    /// Random seed: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
