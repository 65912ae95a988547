//! The `vigil` command. `main` maps the outcome to an exit code; `run` dispatches commands;
//! every error is printed once, as one line with its causes.

mod cli;
mod cmd;
mod progress;
mod term;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

// Ingest allocates many short-lived strings across threads; mimalloc's per-thread heaps
// measured faster than glibc malloc here (see benches/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    progress::init_logging(&cli.log);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                // `vigil redact | head`: the reader left; not an error.
                return ExitCode::SUCCESS;
            }
            // Errors can quote data (a path, a value in a query's error): escaped like it.
            eprintln!("vigil: {}", term::escape(&term::error_chain(&err)));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.threads > 0 {
        // Best effort: fails only if a pool already exists.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(cli.threads).build_global();
    }
    match cli.command {
        Command::Fixtures(args) => cmd::fixtures::run(args),
        Command::Ingest(args) => cmd::ingest::run(args, cli.threads),
        Command::Nightly(args) => cmd::nightly::run(args, cli.threads),
        Command::Weekly(args) => cmd::weekly::run(args),
        Command::Runs(args) => cmd::runs::list(args),
        Command::Verify(args) => cmd::runs::verify(args),
        Command::Campaign(args) => cmd::campaign::run(args),
        Command::Query(args) => cmd::query::run(args, cli.threads),
        Command::Sql(args) => cmd::sql::run(args, cli.threads),
        Command::Redact(args) => cmd::redact::run(args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Reveal(args) => cmd::reveal::reveal(args),
        Command::Audit(args) => cmd::reveal::audit(args),
        Command::Access(args) => cmd::access::run(args),
        Command::Demo(args) => cmd::demo::run(args, cli.threads),
        Command::Models(args) => cmd::models::run(args),
        Command::Validate(args) => cmd::validate::run(args),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
