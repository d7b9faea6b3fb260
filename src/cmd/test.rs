//! `verdict test`: runs a policy's `test_*` rules in the sandbox (as `opa test`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use verdict_host::claims::DataDocument;
use verdict_host::policy::{RegoModule, RegoTools, TestCase, TestOutcome};
use verdict_host::timestamp::Timestamp;

use crate::{Outcome, files};

#[derive(clap::Args)]
pub struct Args {
    /// .rego files or directories; every .rego file under them is loaded and
    /// every `test_*` rule in them is run.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// The data document the tests see (a JSON object).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Report line coverage of each policy file (test files excluded).
    #[arg(long)]
    coverage: bool,
    /// With --coverage: fail unless total coverage is at least this percentage.
    #[arg(long, requires = "coverage", value_name = "PCT")]
    threshold: Option<f64>,
    /// Print how long each test took.
    #[arg(long)]
    bench: bool,
    /// Print the print() output of failing tests.
    #[arg(short, long)]
    verbose: bool,
    /// Run as of this RFC 3339 time (what time.now_ns() returns) instead of now.
    #[arg(long)]
    at: Option<Timestamp>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let modules = rego_modules(&args.paths)?;
    let data = files::data(args.data.as_deref())?;
    let tools = files::runtime()?
        .rego_tools()
        .context("starting the Rego engine")?;
    let tests = tools.list_tests(&modules)?;
    if tests.is_empty() {
        bail!("no test_* rules in {} module(s)", modules.len());
    }
    let now = args.at.unwrap_or_else(Timestamp::now);
    let suite = Suite {
        tools: &tools,
        modules: &modules,
        data: &data,
        now,
    };
    let mut failed = 0;
    let mut coverage = Coverage::default();
    for test in &tests {
        let started = Instant::now();
        let outcome = suite.run(test, args.coverage);
        let took = started.elapsed();
        let timing = if args.bench {
            format!("  {took:?}")
        } else {
            String::new()
        };
        match outcome {
            Ok(outcome) if outcome.passed => {
                println!("PASS  {}  ({}){timing}", test.rule, test.location);
                coverage.add(&outcome);
            }
            Ok(outcome) => {
                failed += 1;
                println!("FAIL  {}  ({}){timing}", test.rule, test.location);
                println!("      {}", outcome.failure.as_deref().unwrap_or("not true"));
                if args.verbose {
                    for line in &outcome.prints {
                        eprintln!("      print: {line}");
                    }
                }
                coverage.add(&outcome);
            }
            Err(error) => {
                failed += 1;
                println!("FAIL  {}  ({}){timing}", test.rule, test.location);
                println!("      {error:#}");
            }
        }
    }
    println!("{} passed, {failed} failed", tests.len() - failed);
    let covered_enough = if args.coverage {
        coverage.report(args.threshold)
    } else {
        true
    };
    Ok(if failed == 0 && covered_enough {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}

struct Suite<'a> {
    tools: &'a RegoTools,
    modules: &'a [RegoModule],
    data: &'a DataDocument,
    now: Timestamp,
}

impl Suite<'_> {
    fn run(&self, test: &TestCase, coverage: bool) -> Result<TestOutcome> {
        Ok(self
            .tools
            .run_test(self.modules, self.data, &test.rule, self.now, coverage)?)
    }
}

/// Lines covered by any test, and lines no test reached, per policy file.
#[derive(Default)]
struct Coverage {
    files: BTreeMap<String, (BTreeSet<u32>, BTreeSet<u32>)>,
}

impl Coverage {
    fn add(&mut self, outcome: &TestOutcome) {
        for file in &outcome.coverage {
            if file.path.ends_with("_test.rego") {
                continue;
            }
            let (covered, not_covered) = self.files.entry(file.path.clone()).or_default();
            covered.extend(&file.covered);
            not_covered.extend(&file.not_covered);
        }
    }

    /// Prints per-file and total coverage; false when below `threshold`.
    fn report(&self, threshold: Option<f64>) -> bool {
        let (mut total_covered, mut total_lines) = (0usize, 0usize);
        for (path, (covered, not_covered)) in &self.files {
            let missed: Vec<u32> = not_covered.difference(covered).copied().collect();
            let lines = covered.len() + missed.len();
            total_covered += covered.len();
            total_lines += lines;
            println!(
                "coverage  {path}  {:.1}% ({}/{lines} lines){}",
                percent(covered.len(), lines),
                covered.len(),
                if missed.is_empty() {
                    String::new()
                } else {
                    format!("; not covered: {missed:?}")
                }
            );
        }
        let total = percent(total_covered, total_lines);
        println!("coverage  total  {total:.1}%");
        match threshold {
            Some(min) if total < min => {
                eprintln!("coverage {total:.1}% is below the threshold of {min}%");
                false
            }
            _ => true,
        }
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Every `.rego` file named or under a named directory, sorted, each named
/// by its path (so messages say where).
pub fn rego_modules(paths: &[PathBuf]) -> Result<Vec<RegoModule>> {
    let mut found = BTreeSet::new();
    for path in paths {
        collect_rego(path, &mut found)?;
    }
    if found.is_empty() {
        bail!("no .rego files in {}", display_paths(paths));
    }
    found
        .into_iter()
        .map(|path| {
            Ok(RegoModule {
                name: path.display().to_string(),
                source: files::read_text(&path, "policy")?,
            })
        })
        .collect()
}

fn collect_rego(path: &Path, found: &mut BTreeSet<PathBuf>) -> Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_file() {
        found.insert(path.to_path_buf());
        return Ok(());
    }
    let entries =
        std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
        let child = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let hidden = child
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || child.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if is_dir {
            collect_rego(&child, found)?;
        } else if child.extension().is_some_and(|e| e == "rego") {
            found.insert(child);
        }
    }
    Ok(())
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
