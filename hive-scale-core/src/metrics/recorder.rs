//! The recorder: snapshots every interval into a JSON Lines file, with phase markers. Each line
//! is written whole and flushed as it is produced, so a crash or Ctrl-C keeps everything
//! recorded so far.
//!
//! ```text
//! {"type":"start","t":1700000000.0,"source":"prometheus http://127.0.0.1:9091/","interval_s":5.0,"profile":{...}}
//! {"type":"snapshot","t":1700000000.0,"source":"...","profile":"default","results":[...],...}
//! {"type":"phase","name":"adopt","t":1700000003.2}
//! {"type":"error","t":1700000005.0,"error":"cannot reach Prometheus at ..."}
//! {"type":"stop","t":1700000010.0,"snapshots":3,"errors":1}
//! ```

use super::MetricsError;
use super::profile::Profile;
use super::snapshot::Snapshot;
use super::source::Source;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RecordLine {
    /// The first line: what is recorded, from where, how often.
    Start {
        /// Unix seconds.
        t: f64,
        /// Where snapshots come from.
        source: String,
        /// Seconds between snapshots.
        interval_s: f64,
        /// The profile, whole (the report reads kinds, units and findings from it).
        profile: Profile,
    },
    /// A phase of the experiment begins (`adopt`, `sync`, `drain`).
    Phase {
        /// The phase's name.
        name: String,
        /// Unix seconds.
        t: f64,
    },
    /// A snapshot.
    Snapshot(Snapshot),
    /// A snapshot could not be taken (the source was down); recording goes on.
    Error {
        /// Unix seconds.
        t: f64,
        /// Why.
        error: String,
    },
    /// The last line of a recording that was stopped (absent after a crash).
    Stop {
        /// Unix seconds.
        t: f64,
        /// Snapshots written.
        snapshots: u64,
        /// Error lines written.
        errors: u64,
    },
}

/// What a recording wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecordingSummary {
    /// The JSON Lines file.
    pub path: PathBuf,
    /// Snapshots written.
    pub snapshots: u64,
    /// Snapshots that failed as a whole (error lines).
    pub errors: u64,
    /// Phase markers written.
    pub phases: u64,
    /// Queries that failed in at least one snapshot.
    pub failed_queries: Vec<String>,
}

struct Writer {
    file: std::fs::File,
    path: PathBuf,
}

impl Writer {
    fn create(path: &Path) -> Result<Self, MetricsError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| MetricsError::io(dir, e))?;
        }
        let file = std::fs::File::create(path).map_err(|e| MetricsError::io(path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// One line, in one write, flushed: a reader never sees half of it unless the process dies
    /// inside the write.
    fn write(&mut self, line: &RecordLine) -> Result<(), MetricsError> {
        let mut buf = serde_json::to_vec(line).map_err(|source| MetricsError::Encode {
            what: "a recording line",
            source,
        })?;
        buf.push(b'\n');
        self.file
            .write_all(&buf)
            .and_then(|_| self.file.flush())
            .map_err(|e| MetricsError::io(&self.path, e))
    }
}

enum Command {
    Phase(String, f64),
    Stop,
}

/// Takes snapshots every interval into a JSON Lines file.
#[derive(Debug)]
pub struct Recorder;

/// A running recording.
#[derive(Debug)]
pub struct RecorderHandle {
    tx: tokio::sync::mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<Result<RecordingSummary, MetricsError>>,
    first: Snapshot,
    path: PathBuf,
}

impl Recorder {
    /// Takes the first snapshot (an unreachable source fails here, before any file is written),
    /// writes the start line and it, then goes on every `interval` in a background task.
    ///
    /// # Errors
    ///
    /// An interval under 100 ms, a source that cannot be reached, or a file that cannot be
    /// created.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), hive_scale_core::metrics::MetricsError> {
    /// use hive_scale_core::metrics::{HttpOptions, Profile, Recorder, Scraper, Source};
    /// use std::time::Duration;
    ///
    /// let scraper = Scraper::new(&["http://127.0.0.1:2112/metrics".into()], &HttpOptions::default())?;
    /// let recording = Recorder::start(
    ///     Source::Scrape(scraper),
    ///     Profile::builtin(),
    ///     Duration::from_secs(5),
    ///     "run.jsonl",
    /// )
    /// .await?;
    /// recording.mark_phase("observe");
    /// tokio::time::sleep(Duration::from_secs(60)).await;
    /// let summary = recording.stop().await?;
    /// println!("{} snapshots", summary.snapshots);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(
        source: Source,
        profile: Profile,
        interval: Duration,
        path: impl Into<PathBuf>,
    ) -> Result<RecorderHandle, MetricsError> {
        if interval < Duration::from_millis(100) {
            return Err(MetricsError::Invalid(format!(
                "the recording interval must be at least 100ms, not {interval:?}"
            )));
        }
        let path = path.into();
        let t = super::now_unix();
        let first = source.snapshot(&profile).await?;
        let mut writer = Writer::create(&path)?;
        writer.write(&RecordLine::Start {
            t,
            source: source.describe(),
            interval_s: interval.as_secs_f64(),
            profile: profile.clone(),
        })?;
        let mut summary = RecordingSummary {
            path: path.clone(),
            ..Default::default()
        };
        let mut failed = BTreeSet::new();
        note_failures(&first, &mut failed);
        writer.write(&RecordLine::Snapshot(first.clone()))?;
        summary.snapshots = 1;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(source, profile, interval, writer, rx, summary, failed));
        Ok(RecorderHandle {
            tx,
            task,
            first,
            path,
        })
    }

    /// Records for `duration`, then stops: the synchronous form.
    pub async fn record_for(
        source: Source,
        profile: Profile,
        interval: Duration,
        path: impl Into<PathBuf>,
        duration: Duration,
    ) -> Result<RecordingSummary, MetricsError> {
        let handle = Self::start(source, profile, interval, path).await?;
        tokio::time::sleep(duration).await;
        handle.stop().await
    }
}

impl RecorderHandle {
    /// Writes a phase marker now.
    pub fn mark_phase(&self, name: &str) {
        // Err: the recording already ended (its error comes out of `stop`).
        let _ = self
            .tx
            .send(Command::Phase(name.to_string(), super::now_unix()));
    }

    /// The first snapshot (taken by `start`).
    pub fn first_snapshot(&self) -> &Snapshot {
        &self.first
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops after the snapshot in progress, writes the stop line and says what was written.
    pub async fn stop(self) -> Result<RecordingSummary, MetricsError> {
        let _ = self.tx.send(Command::Stop);
        match self.task.await {
            Ok(r) => r,
            Err(source) => Err(MetricsError::Task { source }),
        }
    }
}

fn note_failures(s: &Snapshot, failed: &mut BTreeSet<String>) {
    for r in s.failed() {
        if failed.insert(r.name.clone()) {
            tracing::warn!(
                query = %r.name,
                error = r.error().unwrap_or(""),
                "query failed; the other queries are still recorded"
            );
        }
    }
}

async fn run(
    source: Source,
    profile: Profile,
    interval: Duration,
    mut writer: Writer,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Command>,
    mut summary: RecordingSummary,
    mut failed: BTreeSet<String>,
) -> Result<RecordingSummary, MetricsError> {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            cmd = rx.recv() => match cmd {
                Some(Command::Phase(name, t)) => {
                    writer.write(&RecordLine::Phase { name, t })?;
                    summary.phases += 1;
                }
                Some(Command::Stop) | None => break,
            },
            _ = ticker.tick() => match source.snapshot(&profile).await {
                Ok(s) => {
                    note_failures(&s, &mut failed);
                    writer.write(&RecordLine::Snapshot(s))?;
                    summary.snapshots += 1;
                }
                Err(e) => {
                    let error = crate::error::chain(&e);
                    tracing::warn!(%error, "snapshot failed; recording goes on");
                    writer.write(&RecordLine::Error { t: super::now_unix(), error })?;
                    summary.errors += 1;
                }
            },
        }
    }
    writer.write(&RecordLine::Stop {
        t: super::now_unix(),
        snapshots: summary.snapshots,
        errors: summary.errors,
    })?;
    summary.failed_queries = failed.into_iter().collect();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{HttpOptions, Scraper};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A /metrics endpoint whose counter goes up by 5 per scrape.
    async fn serve() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let n = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let n = n.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let count = n.fetch_add(5, Ordering::SeqCst) + 5;
                    let body = format!(
                        "# TYPE workqueue_depth gauge\nworkqueue_depth{{name=\"clusterSync-controller\"}} 7\n# TYPE controller_runtime_reconcile_total counter\ncontroller_runtime_reconcile_total{{controller=\"clusterSync-controller\"}} {count}\n# TYPE hive_sim_time_scale gauge\nhive_sim_time_scale 10\n"
                    );
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        (url, task)
    }

    fn profile() -> Profile {
        Profile::from_yaml(
            "name: t\nqueries:\n  - {name: workqueue_depth, query: x, kind: gauge, unit: items, scrape: {metric: workqueue_depth, op: sum, by: [name]}}\n  - {name: reconcile_rate, query: x, kind: rate, unit: 1/s, scrape: {metric: controller_runtime_reconcile_total, op: rate, by: [controller]}}\n  - {name: promql_only, query: x, kind: gauge}\n",
            "test",
        )
        .unwrap()
    }

    fn lines(path: &Path) -> Vec<RecordLine> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recordings_are_flushed_line_by_line_with_phases_and_errors() {
        let (url, server) = serve().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/run.jsonl");
        let scraper = Scraper::new(&[url], &HttpOptions::default())
            .unwrap()
            .with_rate_window(Duration::ZERO);
        let h = Recorder::start(
            Source::Scrape(scraper),
            profile(),
            Duration::from_millis(150),
            &path,
        )
        .await
        .unwrap();
        assert_eq!(h.path(), path);
        // Written and flushed already: a crash now would keep the start and the first snapshot.
        let early = lines(&path);
        assert!(matches!(&early[0], RecordLine::Start { interval_s, .. } if *interval_s == 0.15));
        assert!(matches!(&early[1], RecordLine::Snapshot(_)));
        let first = h.first_snapshot();
        assert_eq!(first.time_scale, Some(10.0));
        assert!(matches!(
            first.get("reconcile_rate").unwrap().outcome,
            crate::metrics::QueryOutcome::Unavailable { .. }
        ));
        h.mark_phase("adopt");
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.abort();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let s = h.stop().await.unwrap();
        assert!(s.snapshots >= 3, "{s:?}");
        assert!(s.errors >= 1, "the endpoint went away: {s:?}");
        assert_eq!(s.phases, 1);
        let all = lines(&path);
        assert!(
            matches!(all.last(), Some(RecordLine::Stop { snapshots, .. }) if *snapshots == s.snapshots)
        );
        assert!(
            all.iter()
                .any(|l| matches!(l, RecordLine::Phase { name, .. } if name == "adopt"))
        );
        assert!(all.iter().any(|l| matches!(l, RecordLine::Error { error, .. } if error.starts_with("cannot reach the metrics endpoint"))));
        // Later snapshots have a rate: 5 per scrape, per modeled second (divided by 10).
        let rate = all
            .iter()
            .filter_map(|l| match l {
                RecordLine::Snapshot(s) => s.get("reconcile_rate")?.value()?.total(),
                _ => None,
            })
            .next()
            .unwrap();
        assert!(rate > 0.5 && rate < 10.0, "{rate}");
    }

    #[tokio::test]
    async fn a_dead_source_fails_the_start_and_writes_nothing() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let src = || {
            Source::Scrape(
                Scraper::new(
                    &[format!("http://127.0.0.1:{port}/metrics")],
                    &HttpOptions::default(),
                )
                .unwrap(),
            )
        };
        let e = Recorder::start(src(), profile(), Duration::from_secs(1), &path)
            .await
            .unwrap_err();
        assert!(e.is_transport(), "{e}");
        assert!(!path.exists());
        let e = Recorder::start(src(), profile(), Duration::from_millis(10), &path)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("at least 100ms"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn record_for_stops_by_itself() {
        let (url, server) = serve().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let scraper = Scraper::new(&[url], &HttpOptions::default()).unwrap();
        let s = Recorder::record_for(
            Source::Scrape(scraper.with_rate_window(Duration::from_millis(50))),
            profile(),
            Duration::from_millis(100),
            &path,
            Duration::from_millis(350),
        )
        .await
        .unwrap();
        server.abort();
        assert!(s.snapshots >= 3, "{s:?}");
        assert_eq!(s.failed_queries, Vec::<String>::new());
        assert!(matches!(lines(&path).last(), Some(RecordLine::Stop { .. })));
    }
}
