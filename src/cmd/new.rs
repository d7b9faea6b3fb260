//! `verdict new rego NAME`: a policy and its tests to start from.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::Outcome;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write NAME.rego and NAME_test.rego, which pass `verdict test`.
    Rego(RegoArgs),
}

#[derive(clap::Args)]
pub struct RegoArgs {
    /// The policy's name, also its package: lowercase letters, digits and `_`.
    name: String,
    /// The directory to write into.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

pub fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Rego(args) => rego(&args),
    }
}

fn rego(args: &RegoArgs) -> Result<Outcome> {
    let name = &args.name;
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!(
            "`{name}` is not a package name: use lowercase letters, digits and `_`, starting with a letter"
        );
    }
    let policy = format!(
        "# {name}: allows a request when no deny rule applies (docs/policies.md).\n\
         package {name}\n\n\
         default allow := false\n\n\
         allow if count(deny) == 0\n\n\
         deny contains \"the caller is not named\" if not is_string(input.caller)\n\n\
         deny contains sprintf(\"%s is not an operator\", [input.caller]) if {{\n\
         \tis_string(input.caller)\n\
         \tnot input.caller in data.operators\n\
         }}\n"
    );
    let tests = format!(
        "# Tests of {name}.rego: run them with `verdict test`.\n\
         package {name}_test\n\n\
         import data.{name}\n\n\
         test_allows_an_operator if {{\n\
         \t{name}.allow with input as {{\"caller\": \"ann\"}} with data.operators as [\"ann\"]\n\
         }}\n\n\
         test_denies_anyone_else if {{\n\
         \tnot {name}.allow with input as {{\"caller\": \"bob\"}} with data.operators as [\"ann\"]\n\
         \t\"bob is not an operator\" in {name}.deny with input as {{\"caller\": \"bob\"}} with data.operators as [\"ann\"]\n\
         }}\n\n\
         test_denies_an_unnamed_caller if {{\n\
         \tnot {name}.allow with input as {{}} with data.operators as [\"ann\"]\n\
         }}\n"
    );
    create(&args.dir.join(format!("{name}.rego")), &policy)?;
    create(&args.dir.join(format!("{name}_test.rego")), &tests)?;
    eprintln!(
        "wrote {name}.rego and {name}_test.rego in {}; run `verdict test {}`",
        args.dir.display(),
        args.dir.display()
    );
    Ok(Outcome::Ok)
}

/// Writes a new file; an existing one is never overwritten.
fn create(path: &Path, text: &str) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot create {}", path.display()))
}
