//! Process exit codes: the fronts decide them from what the engine reports (the library
//! chooses none).

/// Exit codes of `scaletest`, one per kind of failure.
pub mod scaletest {
    /// The codes in one line, for `--help`.
    pub const HELP: &str = "Exit codes: 0 passed, 1 a phase failed, 2 bad command line or scenario, 3 teardown refused objects, 4 an observe phase timed out, 5 drain threshold failed, 6 P99 fan-out threshold failed, 7 error threshold failed, 8 teardown failed or timed out (objects left behind), 9 API call latency SLO failed (P99 of the hub's API server over a 5-minute window above its limit), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM (both leave the summary with status interrupted).";

    /// Everything held.
    pub const OK: u8 = 0;
    /// A phase failed (the hub refused writes, a clone failed...).
    pub const PHASE_FAILED: u8 = 1;
    /// Bad command line or scenario.
    pub const USAGE: u8 = 2;
    /// Teardown left objects the deprovision interlock refused to delete.
    pub const REFUSED: u8 = 3;
    /// An observe phase did not settle before its timeout.
    pub const TIMEOUT: u8 = 4;
    /// The drain threshold did not hold.
    pub const DRAIN: u8 = 5;
    /// The P99 fan-out threshold did not hold.
    pub const FANOUT: u8 = 6;
    /// The error threshold did not hold.
    pub const ERRORS: u8 = 7;
    /// Teardown failed or timed out: objects were left behind (the summary lists them).
    pub const TEARDOWN: u8 = 8;
    /// The hub's API server missed the API call latency SLO (times `--max-api-p99-factor`).
    pub const API_SLO: u8 = 9;
    /// Interrupted by Ctrl-C (SIGINT): 128 + 2.
    pub const INTERRUPTED: u8 = 130;
    /// Stopped by SIGTERM (a Job's pod being deleted, a CI job cancelled): 128 + 15.
    pub const TERMINATED: u8 = 143;
}

/// Exit codes of `compare`.
pub mod compare {
    /// The codes in one line, for `--help`.
    pub const HELP: &str = "Exit codes: 0 no gated metric regressed past its limit, 1 a gated metric regressed, 2 bad command line or input (missing or unreadable result directory, unknown metric), 3 a gated metric is missing from one of the runs (it cannot be checked).";
    /// Nothing regressed past its limit.
    pub const OK: u8 = 0;
    /// A gated metric regressed past its limit.
    pub const REGRESSION: u8 = 1;
    /// Bad command line or input.
    pub const USAGE: u8 = 2;
    /// A gated metric is missing from one run.
    pub const MISSING: u8 = 3;
}
