//! `vigil sql`: an interactive SQL shell over the warehouse — line editing and history
//! (rustyline) on a terminal, statements read from standard input otherwise; multi-line
//! statements end with `;`; `\d`, `\d NAME`, `\format`, `\timing`, `\queries`, `\q`.

use std::io::{BufRead, IsTerminal};
use std::time::Instant;

use anyhow::Context as _;
use vigil::query::{QueryEngine, Zone};
use vigil::warehouse::Warehouse;

use super::query::{runtime, write, QUERIES, VIEWS};
use crate::cli::{QueryFormat, SqlArgs, ZoneArg};

const HELP: &str = "\
statements end with ';' and may span lines. Meta-commands:
  \\d              list tables and views          \\d NAME        describe one
  \\format F       table | csv | json             \\timing on|off  time each query
  \\queries        canned queries (vigil query --list)
  \\q              quit                           \\?             this help
Ctrl-C cancels a running query; Ctrl-D quits.";

struct Shell {
    engine: QueryEngine,
    runtime: tokio::runtime::Runtime,
    format: QueryFormat,
    timing: bool,
}

pub fn run(args: SqlArgs, threads: usize) -> anyhow::Result<()> {
    if !args.warehouse.is_dir() {
        anyhow::bail!("warehouse {} does not exist", args.warehouse.display());
    }
    let warehouse = Warehouse::open(&args.warehouse)?;
    let zone = match args.zone {
        ZoneArg::All => Zone::All,
        ZoneArg::Aggregate => Zone::Aggregate,
    };
    let runtime = runtime(threads)?;
    let engine = runtime.block_on(QueryEngine::open(&warehouse, zone, Some(VIEWS), threads, super::query::limits(&args.limits)))?;
    let interactive = std::io::stdin().is_terminal();
    let mut shell = Shell { engine, runtime, format: QueryFormat::Table, timing: interactive };
    if interactive {
        println!("vigil sql — {} tables, {} views. \\? for help.", shell.engine.tables().len(), shell.engine.views().len());
        shell.interactive()
    } else {
        let mut buffer = String::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading standard input")?;
            if !shell.feed(&line, &mut buffer) {
                break;
            }
        }
        if !buffer.trim().is_empty() {
            shell.execute(buffer.trim());
        }
        Ok(())
    }
}

impl Shell {
    fn interactive(&mut self) -> anyhow::Result<()> {
        let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
        let history = std::env::var_os("VIGIL_HISTORY")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".vigil_history")));
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        let mut buffer = String::new();
        loop {
            let prompt = if buffer.is_empty() { "vigil> " } else { "  ...> " };
            match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    if !self.feed(&line, &mut buffer) {
                        break;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
                Err(rustyline::error::ReadlineError::Eof) => break,
                Err(e) => return Err(e).context("reading a line"),
            }
        }
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        Ok(())
    }

    /// Takes one input line; runs a meta-command or a complete statement. `false` to quit.
    fn feed(&mut self, line: &str, buffer: &mut String) -> bool {
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            return self.meta(trimmed);
        }
        buffer.push_str(line);
        buffer.push('\n');
        let statements = vigil::query::split_statements(buffer);
        if ends_statement(buffer) {
            for s in statements {
                self.execute(&s);
            }
            buffer.clear();
        }
        true
    }

    fn meta(&mut self, command: &str) -> bool {
        let mut words = command.split_whitespace();
        match (words.next().unwrap_or(""), words.next()) {
            ("\\q", _) => return false,
            ("\\?" | "\\h", _) => println!("{HELP}"),
            ("\\d", None) => {
                for t in self.engine.tables() {
                    println!("table  {t}");
                }
                for v in self.engine.views() {
                    println!("view   {v}");
                }
            }
            ("\\d", Some(name)) => {
                let sql = "select column_name, data_type, is_nullable from information_schema.columns where table_name = $name order by ordinal_position";
                self.run_statement(sql, &[("name".to_owned(), name.to_owned())], QueryFormat::Table);
            }
            ("\\format", Some(f)) => match f {
                "table" => self.format = QueryFormat::Table,
                "csv" => self.format = QueryFormat::Csv,
                "json" => self.format = QueryFormat::Json,
                other => eprintln!("unknown format {other:?}: table, csv or json"),
            },
            ("\\timing", Some(v)) => self.timing = v == "on",
            ("\\queries", _) => {
                for (name, sql) in QUERIES {
                    let what = sql.lines().next().unwrap_or("").trim_start_matches("--").trim();
                    println!("{what}");
                    let _ = name;
                }
            }
            (other, _) => eprintln!("unknown meta-command {other:?} (\\? for help)"),
        }
        true
    }

    fn execute(&self, statement: &str) {
        self.run_statement(statement, &[], self.format);
    }

    fn run_statement(&self, statement: &str, params: &[(String, String)], format: QueryFormat) {
        let started = Instant::now();
        let result = self.runtime.block_on(async {
            tokio::select! {
                r = self.engine.query(statement, params) => r.map_err(anyhow::Error::from),
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("cancelled")),
            }
        });
        match result.and_then(|(schema, batches)| write(&schema, &batches, format, None)) {
            Ok(()) => {
                if self.timing {
                    println!("({:.3} s)", started.elapsed().as_secs_f64());
                }
            }
            Err(e) => eprintln!("error: {e:#}"),
        }
    }
}

/// Whether the buffered text ends with a `;` outside quotes and comments.
fn ends_statement(buffer: &str) -> bool {
    let code: String = buffer.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let (mut single, mut double) = (false, false);
    let mut last = None;
    for c in code.chars() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
        if !c.is_whitespace() {
            last = Some((c, single || double));
        }
    }
    matches!(last, Some((';', false)))
}

#[cfg(test)]
mod tests {
    use super::ends_statement;

    #[test]
    fn statements_end_at_a_semicolon_outside_quotes() {
        assert!(ends_statement("select 1;"));
        assert!(ends_statement("select\n  1;  -- done\n"));
        assert!(!ends_statement("select ';"));
        assert!(!ends_statement("select 1"));
    }
}
