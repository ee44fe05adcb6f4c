//! Which clones: `START..=END`, checked once when made.
//!
//! Clone `i` is namespace `ns<i>` holding ClusterDeployment `c<i>`, so indices start at 1, and
//! a range names at least one clone. Adoption, teardown, scenarios and the command lines all
//! take a [`CloneRange`], so that rule is written here and nowhere else.

use std::fmt;
use std::ops::RangeInclusive;

/// Clones `start..=end`: `1 <= start <= end` (a range of one clone, `start == end`, is allowed).
///
/// # Examples
///
/// ```
/// use hive_scale_core::adopt::{CloneRange, CloneRangeError};
///
/// let r = CloneRange::new(1, 250)?;
/// assert_eq!((r.start(), r.end(), r.count()), (1, 250, 250));
/// assert_eq!(r.to_string(), "1..=250");
/// assert_eq!(CloneRange::new(0, 3), Err(CloneRangeError::StartsAtZero));
/// assert!(CloneRange::try_from(5..=1).is_err());
/// # Ok::<(), CloneRangeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloneRange {
    start: u32,
    end: u32,
}

/// Why two indices are not a [`CloneRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloneRangeError {
    /// The first index is 0: clones are numbered from 1.
    #[error("clone indices start at 1 (clones are c1, c2, ...), not 0")]
    StartsAtZero,
    /// The first index is past the last.
    #[error("the first clone index ({start}) is greater than the last ({end})")]
    Reversed {
        /// The first index given.
        start: u32,
        /// The last index given.
        end: u32,
    },
}

impl CloneRange {
    /// Clones `start..=end`.
    ///
    /// # Errors
    ///
    /// `start` is 0, or greater than `end`.
    pub const fn new(start: u32, end: u32) -> Result<Self, CloneRangeError> {
        if start == 0 {
            Err(CloneRangeError::StartsAtZero)
        } else if start > end {
            Err(CloneRangeError::Reversed { start, end })
        } else {
            Ok(Self { start, end })
        }
    }

    /// The first clone.
    pub const fn start(self) -> u32 {
        self.start
    }

    /// The last clone (inclusive).
    pub const fn end(self) -> u32 {
        self.end
    }

    /// How many clones (at least 1).
    pub const fn count(self) -> u64 {
        self.end as u64 - self.start as u64 + 1
    }

    /// Whether clone `i` is in the range.
    pub const fn contains(self, i: u32) -> bool {
        self.start <= i && i <= self.end
    }

    /// The indices, in order.
    pub fn indices(self) -> RangeInclusive<u32> {
        self.start..=self.end
    }
}

impl TryFrom<RangeInclusive<u32>> for CloneRange {
    type Error = CloneRangeError;

    fn try_from(r: RangeInclusive<u32>) -> Result<Self, Self::Error> {
        Self::new(*r.start(), *r.end())
    }
}

impl From<CloneRange> for RangeInclusive<u32> {
    fn from(r: CloneRange) -> Self {
        r.indices()
    }
}

impl IntoIterator for CloneRange {
    type Item = u32;
    type IntoIter = RangeInclusive<u32>;

    fn into_iter(self) -> Self::IntoIter {
        self.indices()
    }
}

impl fmt::Display for CloneRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_start_at_one_and_never_run_backwards() {
        assert_eq!(CloneRange::new(0, 0), Err(CloneRangeError::StartsAtZero));
        assert_eq!(CloneRange::new(0, 5), Err(CloneRangeError::StartsAtZero));
        assert_eq!(
            CloneRange::new(5, 1),
            Err(CloneRangeError::Reversed { start: 5, end: 1 })
        );
        let one = CloneRange::new(7, 7).unwrap();
        assert_eq!(
            (one.count(), one.indices().collect::<Vec<_>>()),
            (1, vec![7])
        );
        let all = CloneRange::new(1, u32::MAX).unwrap();
        assert_eq!(all.count(), u64::from(u32::MAX));
        assert!(all.contains(u32::MAX) && !all.contains(0));
        assert_eq!(RangeInclusive::from(one), 7..=7);
        assert_eq!(
            CloneRange::try_from(2..=4)
                .unwrap()
                .into_iter()
                .sum::<u32>(),
            9
        );
    }

    #[test]
    fn the_errors_say_what_is_wrong_in_words() {
        assert_eq!(
            CloneRange::new(5, 1).unwrap_err().to_string(),
            "the first clone index (5) is greater than the last (1)"
        );
        assert!(
            CloneRange::new(0, 1)
                .unwrap_err()
                .to_string()
                .contains("start at 1")
        );
    }
}
