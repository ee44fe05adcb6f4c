//! The tools, one module each. Each module's `Args` is both the example's command line and the
//! `hive-scale` subcommand's, and its `main` runs the tool, so the two fronts cannot drift.

pub mod compare;
pub mod get_kubeconfig;
pub mod hub;
pub mod plan;
pub mod record;
pub mod report;
pub mod scaletest;
pub mod setup_selectorsyncsets;
pub mod snapshot;
pub mod teardown;
pub mod test_setup;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// A tool's `after_help`: its examples, each a `hive-scale` command line under a `#` line saying
/// what it does (a test parses every one with the tool's `Args`), then `more` (exit codes...).
pub(crate) fn after_help(examples: &[(&str, &str)], more: &str) -> String {
    let mut text = String::from("Examples:\n");
    for (what, command) in examples {
        text.push_str(&format!("  # {what}\n  {command}\n"));
    }
    if !more.is_empty() {
        text.push('\n');
        text.push_str(more);
    }
    text
}

/// The environment variable that makes an example run the `hub` tool instead of its own:
/// how `scaletest --hubs N` started as an example (`cargo run --example scaletest`) starts
/// its hubs from its own code, with no `hive-scale` installed.
pub const RUN_AS_HUB: &str = "HIVE_SCALE_RUN_AS_HUB";

/// Parses the command line as `T` and runs `main`; a usage error exits 2 with one line.
pub fn example<T: Parser>(main: fn(T) -> ExitCode) -> ExitCode {
    if std::env::var_os(RUN_AS_HUB).is_some() {
        return match crate::parse_args::<hub::Args>() {
            Ok(args) => hub::main(args),
            Err(code) => code,
        };
    }
    match crate::parse_args::<T>() {
        Ok(args) => main(args),
        Err(code) => code,
    }
}

/// Scale tests for OpenShift Hive: adopt clones, create SelectorSyncSets, observe and report.
#[derive(Parser, Debug)]
#[command(name = "hive-scale", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Examples of `completion` in its `--help`, each checked to parse.
const COMPLETION_EXAMPLES: &[(&str, &str)] = &[
    (
        "Bash: save it as ~/.local/share/bash-completion/completions/hive-scale",
        "hive-scale completion bash",
    ),
    (
        "Zsh: save it as _hive-scale in a directory of your fpath",
        "hive-scale completion zsh",
    ),
];

/// One subcommand per tool (each is also an example of the same name with `_` for `-`).
#[derive(Subcommand, Debug)]
enum Command {
    Hub(hub::Args),
    SetupSelectorsyncsets(setup_selectorsyncsets::Args),
    TestSetup(test_setup::Args),
    GetKubeconfig(get_kubeconfig::Args),
    Teardown(teardown::Args),
    Plan(plan::Args),
    Snapshot(snapshot::Args),
    Record(record::Args),
    Report(report::Args),
    Scaletest(scaletest::Args),
    Compare(compare::Args),
    /// Print a shell completion script for hive-scale.
    #[command(after_help = after_help(COMPLETION_EXAMPLES, ""))]
    Completion {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn main(self) -> ExitCode {
        match self.command {
            Command::Hub(a) => hub::main(a),
            Command::SetupSelectorsyncsets(a) => setup_selectorsyncsets::main(a),
            Command::TestSetup(a) => test_setup::main(a),
            Command::GetKubeconfig(a) => get_kubeconfig::main(a),
            Command::Teardown(a) => teardown::main(a),
            Command::Plan(a) => plan::main(a),
            Command::Snapshot(a) => snapshot::main(a),
            Command::Record(a) => record::main(a),
            Command::Report(a) => report::main(a),
            Command::Scaletest(a) => scaletest::main(a),
            Command::Compare(a) => compare::main(a),
            Command::Completion { shell } => {
                let mut out = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "hive-scale", &mut out);
                match crate::print_stdout(&String::from_utf8_lossy(&out)) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: cannot write the completion script: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
