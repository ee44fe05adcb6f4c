//! hive-scale, the tool: each task in [`cli`] (one subcommand and one example each), the flags they share in [`flags`], and the helpers every front uses: logging, error lines, exit codes, progress bars.
//!
//! # How a front fails
//!
//! Every front fails the same way: its `run` returns `anyhow::Result<ExitCode>` and [`run`] (or
//! [`finish`], for a front without a runtime) prints an error as exactly one `error:` line on
//! stderr. The exit code says what kind of failure it was:
//!
//! * **2, a bad command line or input**: what clap rejects (printed by [`parse_args`] as one
//!   line), and what only the front can check: a value that depends on another (a clone range,
//!   `-` without `--fake-cluster`), a file named on the command line that cannot be read or
//!   parsed, a directory another run or hub holds. Return [`Failure::usage`], and check before
//!   anything is written or any hub is contacted.
//! * **A tool's own documented code** (3 refused objects, 130/143 signals, `scaletest`'s 4 to 9,
//!   `compare`'s gates): return [`Failure::with_code`] with the code its `--help` lists.
//! * **1, everything else**: a hub that cannot be reached, a write that failed, a clone that
//!   failed. Use `?` or `anyhow::bail!`; no code needs to be named.

pub mod cli;
pub mod exit;
pub mod flags;
pub mod members;
pub mod output;

use std::process::ExitCode;

/// Sets up `tracing` to stderr, filtered by `RUST_LOG` (default `warn`, or `info` when verbose).
///
/// Two of kube's log lines stay off unless `RUST_LOG` names kube's client explicitly: the
/// builder's ERROR line for every failed request (the tools retry and report failures
/// themselves), and the client's WARN line on a response it cannot decode, which carries the
/// whole response body: for a list of Secrets, every kubeconfig in it.
pub fn init_logging(verbose: bool) {
    let quiet = [
        "kube_client::client::builder=off",
        "kube_client::client=error",
    ];
    let default = if verbose { "info" } else { "warn" };
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let asks_for_kube = from_env
        .as_deref()
        .is_some_and(|v| v.contains("kube_client"));
    let mut filter = tracing_subscriber::EnvFilter::try_new(from_env.as_deref().unwrap_or(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    if !asks_for_kube {
        for d in quiet {
            if let Ok(d) = d.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log kept in a file or a CI artifact should not carry colour codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Parses the command line; a usage error is one line on stderr and exit code 2.
pub fn parse_args<T: clap::Parser>() -> Result<T, ExitCode> {
    match T::try_parse() {
        Ok(t) => Ok(t),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayVersion
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = e.print();
            Err(
                if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
        Err(e) => {
            eprintln!("error: {} (see --help)", usage_error_line(&e));
            Err(ExitCode::from(2))
        }
    }
}

/// A clap error in one line, keeping what clap puts on the lines after the first: the
/// arguments that are missing, a tip (`a similar argument exists: '--count'`). Usage and
/// "for more information" are left out: `--help` says more.
pub fn usage_error_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let mut lines = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    let rest: Vec<&str> = lines.collect();
    match (rest.is_empty(), first.strip_suffix(':')) {
        (true, _) => first.to_string(),
        // "the following required arguments were not provided:" and one line each.
        (false, Some(head)) => format!("{head}: {}", rest.join(", ")),
        (false, None) => format!("{first}; {}", rest.join("; ")),
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly instead of panicking.
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Runs an async main on a multi-threaded runtime and ends as [`finish`] does.
pub fn run<F>(fut: F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    finish(rt.block_on(fut))
}

/// The exit code of a front's result: its own on success; on error, one line on stderr and
/// exit code 1, or the code a [`Failure`] carries (see [How a front fails](crate#how-a-front-fails)).
pub fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = e.downcast_ref::<Failure>().map(|f| f.code).unwrap_or(1);
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(code)
        }
    }
}

/// An error that carries its own exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// What to print.
    pub message: String,
}

impl Failure {
    /// A failure with one of the tool's documented exit codes.
    pub fn with_code(code: u8, message: impl Into<String>) -> anyhow::Error {
        Failure {
            code,
            message: message.into(),
        }
        .into()
    }

    /// A bad command line or input: exit code 2.
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Self::with_code(2, message)
    }
}

/// The error and its causes on one line, joined by ": ", without repeating a cause the
/// message already contains.
pub fn one_line(e: &anyhow::Error) -> String {
    hive_scale_core::error::chain(e.as_ref())
}

/// Parses `key=value` for clap.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

/// Draws a progress bar (on a terminal; hidden otherwise) fed by library progress events.
/// Returns the sender to hand to the library and a task that ends when the sender is dropped.
pub fn progress_bar(
    total: u64,
    what: &str,
) -> (
    hive_scale_core::apply::ProgressSink,
    tokio::task::JoinHandle<()>,
) {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}} ETA {{eta}} {{msg}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<hive_scale_core::apply::Event>();
    let task = tokio::spawn(async move {
        let mut failed = 0u64;
        while let Some(ev) = rx.recv().await {
            if ev.outcome == hive_scale_core::apply::Outcome::Failed {
                failed += 1;
                bar.set_message(format!("{failed} failed"));
                tracing::warn!(item = %ev.item, reason = ev.reason.as_deref().unwrap_or(""), "failed");
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
    });
    (Some(tx), task)
}

/// One line: `created 3, updated 0, unchanged 57, failed 0 in 0.41s`.
pub fn summary_line(c: &hive_scale_core::apply::Counts, elapsed: std::time::Duration) -> String {
    let mut parts = vec![
        format!("created {}", c.created),
        format!("updated {}", c.updated),
        format!("unchanged {}", c.unchanged),
    ];
    if c.deleted > 0 {
        parts.push(format!("deleted {}", c.deleted));
    }
    if c.skipped > 0 {
        parts.push(format!("skipped {}", c.skipped));
    }
    parts.push(format!("failed {}", c.failed));
    format!("{} in {:.2}s", parts.join(", "), elapsed.as_secs_f64())
}

/// How often a run that is not on a terminal prints its progress line.
const PROGRESS_LINE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Draws observe phases' progress: a bar with rate and ETA when stderr is a terminal, else one
/// line when a phase starts and then at most every 30 s while it runs (CI logs and Kubernetes
/// Jobs keep those; the runner's own line says how the phase ended). Returns the sender for
/// [`RunSettings::progress`](hive_scale_core::scenario::runner::RunSettings) and the drawing
/// task, which ends when the sender is dropped.
pub fn observe_progress() -> (
    tokio::sync::watch::Sender<hive_scale_core::scenario::runner::ObserveProgress>,
    tokio::task::JoinHandle<()>,
) {
    use std::io::IsTerminal as _;
    let (tx, mut rx) =
        tokio::sync::watch::channel(hive_scale_core::scenario::runner::ObserveProgress::default());
    let terminal = std::io::stderr().is_terminal();
    let task = tokio::spawn(async move {
        let mut phase = PhaseProgress::default();
        let mut bar: Option<indicatif::ProgressBar> = None;
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            if p.expected == 0 && !p.finished {
                continue;
            }
            let now = std::time::Instant::now();
            let first = phase.started.is_none();
            phase.update(now, p.applied);
            if terminal {
                let b = bar.get_or_insert_with(|| {
                    let b = indicatif::ProgressBar::new(p.expected as u64);
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} {prefix} [{bar:30}] {pos}/{len} pairs {per_sec} ETA {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b.set_prefix(p.phase.clone());
                    b
                });
                b.set_length(p.expected as u64);
                b.set_position(p.applied as u64);
            } else if !p.finished
                && (first
                    || phase
                        .printed
                        .is_none_or(|t| now.duration_since(t) >= PROGRESS_LINE_EVERY))
            {
                eprintln!("{}", progress_line(&p, &phase, now));
                phase.printed = Some(now);
            }
            if p.finished {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                phase = PhaseProgress::default();
            }
        }
        if let Some(b) = bar.take() {
            b.finish_and_clear();
        }
    });
    (tx, task)
}

/// One observe phase's progress over time, for rate and ETA.
#[derive(Debug, Default)]
struct PhaseProgress {
    started: Option<(std::time::Instant, usize)>,
    printed: Option<std::time::Instant>,
}

impl PhaseProgress {
    fn update(&mut self, now: std::time::Instant, applied: usize) {
        self.started.get_or_insert((now, applied));
    }

    /// Pairs per second since the phase's first sample.
    fn rate(&self, now: std::time::Instant, applied: usize) -> Option<f64> {
        let (t0, a0) = self.started?;
        let secs = now.duration_since(t0).as_secs_f64();
        (secs >= 1.0).then(|| applied.saturating_sub(a0) as f64 / secs)
    }
}

/// `observe: 1200 of 60000 pairs applied (2.0%), 40.0/s, ETA 24m30s`.
fn progress_line(
    p: &hive_scale_core::scenario::runner::ObserveProgress,
    phase: &PhaseProgress,
    now: std::time::Instant,
) -> String {
    let percent = if p.expected == 0 {
        100.0
    } else {
        p.applied as f64 * 100.0 / p.expected as f64
    };
    let mut line = format!(
        "{}: {} of {} pairs applied ({percent:.1}%)",
        p.phase, p.applied, p.expected
    );
    if let Some(rate) = phase.rate(now, p.applied) {
        line.push_str(&format!(", {rate:.1}/s"));
        let left = p.expected.saturating_sub(p.applied);
        if !p.finished && rate > 0.0 && left > 0 {
            let secs = (left as f64 / rate).round() as u64;
            line.push_str(&format!(", ETA {}", short_duration(secs)));
        }
    }
    if p.finished {
        line.push_str(", phase ended");
    }
    line
}

fn short_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;
    use hive_scale_core::scenario::runner::ObserveProgress;
    use std::time::{Duration, Instant};

    /// The one line a bad command line of `hive-scale ARGS` is reported with.
    fn usage_line(args: &[&str]) -> String {
        let argv = std::iter::once("hive-scale").chain(args.iter().copied());
        let e = crate::cli::Cli::try_parse_from(argv).expect_err("a bad command line");
        let line = usage_error_line(&e);
        assert!(!line.contains('\n'), "{line:?}");
        line
    }

    #[test]
    fn a_bad_command_line_is_one_line_that_keeps_what_matters() {
        for (args, wanted) in [
            // What is missing is named, not only that something is.
            (
                &["teardown"][..],
                &["not provided", "<START|--all|--selector <SELECTOR>>"][..],
            ),
            (&["test-setup"], &["<SPOKE_KUBECONFIG>", "<START>", "<END>"]),
            (&["test-setup", "-", "1"], &["not provided: <END>"]),
            (&["get-kubeconfig"], &["<CLUSTER>"]),
            (&["report"], &["<RECORDING>", "--out <OUT>"]),
            (&["record"], &["--out <OUT>"]),
            (&["compare", "a"], &["<RUN_B>"]),
            (&["completion"], &["<SHELL>"]),
            (&["teardown", "1", "--all"], &["cannot be used with"]),
            // Bad values: which flag, which value, why.
            (
                &["setup-selectorsyncsets", "--count", "x"],
                &["'x'", "--count", "invalid digit"],
            ),
            (&["scaletest", "--clusters", "0"], &["'0'", "--clusters"]),
            (&["hub", "--time-scale", "0"], &["--time-scale"]),
            (
                &["plan", "--workers", "5,x"],
                &["--workers", "positive numbers"],
            ),
            (
                &["teardown", "--all", "--run", "Not_A_Label"],
                &["--run", "not a valid run id"],
            ),
            (
                &["report", "r.jsonl", "--out", "d", "--pipeline", "x"],
                &["--pipeline"],
            ),
            (
                &["hub", "--pipeline"],
                &["--pipeline", "a value is required"],
            ),
            // A typo comes with clap's suggestion.
            (
                &["teardown", "--al"],
                &["--al", "similar argument exists", "--all"],
            ),
        ] {
            let line = usage_line(args);
            for w in wanted {
                assert!(line.contains(w), "{args:?}: {w:?} missing from {line:?}");
            }
            assert!(
                !line.contains("Usage:") && !line.contains("--help"),
                "{line}"
            );
        }
    }

    #[test]
    fn progress_lines_give_rate_and_eta_once_measurable() {
        let t0 = Instant::now();
        let mut phase = PhaseProgress::default();
        phase.update(t0, 0);
        let mut p = ObserveProgress::default();
        p.phase = "observe".into();
        p.expected = 60000;
        assert_eq!(
            progress_line(&p, &phase, t0),
            "observe: 0 of 60000 pairs applied (0.0%)"
        );
        p.applied = 1200;
        assert_eq!(
            progress_line(&p, &phase, t0 + Duration::from_secs(30)),
            "observe: 1200 of 60000 pairs applied (2.0%), 40.0/s, ETA 24m30s"
        );
        p.applied = 60000;
        p.finished = true;
        assert_eq!(
            progress_line(&p, &phase, t0 + Duration::from_secs(7200)),
            "observe: 60000 of 60000 pairs applied (100.0%), 8.3/s, phase ended"
        );
        assert_eq!(short_duration(7260), "2h01m");
    }
}
