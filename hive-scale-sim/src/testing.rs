//! For tests that drive real programs against the embedded hub (kubectl, Prometheus).

use std::io::Write;
use std::path::PathBuf;

/// The environment variable that makes a missing program a failure instead of a skip.
/// `hack/test.sh` (the test command CI runs) sets it after installing what the tests need.
pub const REQUIRE_TOOLS: &str = "HIVE_SCALE_REQUIRE_TOOLS";

/// Finds `name` on `PATH`. When it is missing, the test should return early: under
/// [`REQUIRE_TOOLS`] this panics instead, and otherwise it says on the terminal which test is
/// skipped and why (written to stderr directly, so the test harness does not swallow it).
///
/// # Panics
///
/// When `name` is missing and [`REQUIRE_TOOLS`] is set.
pub fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    });
    if found.is_none() {
        let why = format!(
            "{name} is not on PATH (hack/test.sh installs what the tests need and runs them all)"
        );
        assert!(
            std::env::var_os(REQUIRE_TOOLS).is_none(),
            "{test}: {why}; {REQUIRE_TOOLS} is set, so this is a failure"
        );
        let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
    }
    found
}
