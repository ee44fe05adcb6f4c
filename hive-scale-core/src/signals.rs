//! SIGINT and SIGTERM, heard for the whole life of a run.
//!
//! Once a program listens for a signal, the signal no longer ends it: a run that listened only
//! while a phase ran ignored a SIGTERM during teardown and exited 0. [`Signals`] listens from
//! the start and keeps what it heard (the first signal, when, and how many), so any step can
//! ask, wait for the first or the second, and record it.

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Signal {
    /// Ctrl-C.
    #[serde(rename = "SIGINT")]
    Interrupt,
    /// SIGTERM: how Kubernetes stops a Job's pod, and how CI systems cancel.
    #[serde(rename = "SIGTERM")]
    Terminate,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// What has been heard so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// The first signal and when it came.
    pub first: Option<(Signal, Instant)>,
    /// How many signals came.
    pub count: u32,
}

/// The signals heard since [`Signals::install`] (or sent through [`Signals::manual`]'s
/// sender). Clones share what they heard.
#[derive(Debug, Clone)]
pub struct Signals {
    rx: watch::Receiver<Received>,
}

/// Sends signals to a [`Signals`] by hand (tests, programs embedding a run).
#[derive(Debug, Clone)]
pub struct SignalSender {
    tx: std::sync::Arc<watch::Sender<Received>>,
}

impl SignalSender {
    /// Delivers `signal`.
    pub fn send(&self, signal: Signal) {
        self.tx.send_modify(|r| {
            r.count += 1;
            r.first.get_or_insert((signal, Instant::now()));
        });
    }
}

impl Signals {
    /// Listens for SIGINT and SIGTERM (Ctrl-C alone off unix) from now on, for the life of the
    /// process. Needs a tokio runtime.
    pub fn install() -> Self {
        let (signals, sender) = Self::manual();
        tokio::spawn(async move {
            loop {
                match next_os_signal().await {
                    Some(s) => sender.send(s),
                    None => return,
                }
            }
        });
        signals
    }

    /// A [`Signals`] fed only by the returned sender.
    pub fn manual() -> (Self, SignalSender) {
        let (tx, rx) = watch::channel(Received::default());
        (
            Self { rx },
            SignalSender {
                tx: std::sync::Arc::new(tx),
            },
        )
    }

    /// What has been heard so far.
    pub fn received(&self) -> Received {
        *self.rx.borrow()
    }

    /// The first signal, if any came.
    pub fn first(&self) -> Option<Signal> {
        self.received().first.map(|(s, _)| s)
    }

    /// Resolves, with the first signal, once at least `n` signals have come (never, if the
    /// sender is gone first).
    pub async fn at_least(&self, n: u32) -> Signal {
        let mut rx = self.rx.clone();
        let first = match rx.wait_for(|r| r.count >= n).await {
            Ok(r) => Some(r.first.map_or(Signal::Interrupt, |(s, _)| s)),
            Err(_) => None,
        };
        match first {
            Some(s) => s,
            None => std::future::pending().await,
        }
    }

    /// A token cancelled `grace` after the first signal (counted from when it came, so a
    /// signal heard earlier leaves less), or at once on a second: how a run bounds its
    /// teardown once it has been asked to stop. Cancel the token when done with it: that also
    /// ends the timer.
    pub fn stop_after_grace(&self, grace: Duration) -> CancellationToken {
        let stop = CancellationToken::new();
        let (signals, token) = (self.clone(), stop.clone());
        tokio::spawn(async move {
            let graceful = async {
                signals.at_least(1).await;
                let at = signals
                    .received()
                    .first
                    .map_or_else(Instant::now, |(_, at)| at);
                tokio::time::sleep_until(at + grace).await;
            };
            tokio::select! {
                () = graceful => token.cancel(),
                _ = signals.at_least(2) => token.cancel(),
                () = token.cancelled() => {}
            }
        });
        stop
    }
}

/// The next SIGINT or SIGTERM; `None` when no listener can be installed.
async fn next_os_signal() -> Option<Signal> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Each call installs fresh listeners: cheap, and a listener once installed stays for
        // the life of the process anyway.
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return None;
        };
        tokio::select! {
            _ = int.recv() => Some(Signal::Interrupt),
            _ = term.recv() => Some(Signal::Terminate),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok()?;
        Some(Signal::Interrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_grace_runs_from_the_first_signal_and_a_second_ends_it() {
        let (signals, sender) = Signals::manual();
        let stop = signals.stop_after_grace(Duration::from_secs(25));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!stop.is_cancelled(), "no signal, no stop");
        sender.send(Signal::Terminate);
        tokio::time::sleep(Duration::from_secs(24)).await;
        assert!(!stop.is_cancelled());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(stop.is_cancelled(), "25 s after the first signal");
        assert_eq!(signals.first(), Some(Signal::Terminate));

        let (signals, sender) = Signals::manual();
        sender.send(Signal::Interrupt);
        tokio::time::sleep(Duration::from_secs(20)).await;
        // Asked for after the signal: only what is left of the grace remains.
        let stop = signals.stop_after_grace(Duration::from_secs(25));
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(stop.is_cancelled());

        let (signals, sender) = Signals::manual();
        let stop = signals.stop_after_grace(Duration::from_secs(25));
        sender.send(Signal::Interrupt);
        sender.send(Signal::Terminate);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(stop.is_cancelled(), "a second signal stops at once");
        assert_eq!(signals.first(), Some(Signal::Interrupt));
        assert_eq!(signals.received().count, 2);
    }
}
