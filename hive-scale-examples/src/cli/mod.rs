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

/// Parses the command line as `T` and runs `main`; a usage error exits 2 with one line.
pub fn example<T: Parser>(main: fn(T) -> ExitCode) -> ExitCode {
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
