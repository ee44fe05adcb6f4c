//! One way to write an instant: every artefact that names one (summaries, NDJSON, the fleet's
//! failures) says it the same.

/// `unix_seconds` as RFC 3339 in UTC, rounded to the millisecond (`2026-12-07T08:14:32.57Z`);
/// empty when out of range.
pub fn rfc3339(unix_seconds: f64) -> String {
    jiff::Timestamp::from_millisecond((unix_seconds * 1000.0).round() as i64)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_round_to_the_millisecond() {
        assert_eq!(super::rfc3339(90.0), "1970-01-01T00:01:30Z");
        assert_eq!(super::rfc3339(1.0006), "1970-01-01T00:00:01.001Z");
        assert_eq!(super::rfc3339(f64::MAX), "");
    }
}
