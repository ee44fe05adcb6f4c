//! How a fleet's clusters are spread over its hubs.

/// How many of the scenario's clusters a hub takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    /// Exactly this many.
    Clusters(u32),
    /// A share of what the hubs with fixed counts leave, in proportion to the weights.
    Weight(f64),
}

/// Splits `total` clusters over hubs by `shares`: fixed counts first, the rest in proportion
/// to the weights (largest remainder, so the counts add up exactly). When every hub has a
/// fixed count the fleet's total is their sum, whatever `total` says.
///
/// # Errors
///
/// Fixed counts above `total`, a weight that is not a positive number, or a hub that would get
/// no cluster (it would have nothing to observe), as one line naming the hub's position.
pub fn spread(total: u32, shares: &[Share]) -> std::result::Result<Vec<u32>, String> {
    if shares.is_empty() {
        return Err("a fleet needs at least one hub".into());
    }
    let fixed: u64 = shares
        .iter()
        .map(|s| match s {
            Share::Clusters(n) => u64::from(*n),
            Share::Weight(_) => 0,
        })
        .sum();
    let weights: f64 = shares
        .iter()
        .map(|s| match s {
            Share::Weight(w) => *w,
            Share::Clusters(_) => 0.0,
        })
        .sum();
    for (i, s) in shares.iter().enumerate() {
        match s {
            Share::Weight(w) if !(w.is_finite() && *w > 0.0) => {
                return Err(format!("hub {}: weight must be a positive number", i + 1));
            }
            Share::Clusters(0) => {
                return Err(format!("hub {}: clusters must be at least 1", i + 1));
            }
            _ => {}
        }
    }
    if weights == 0.0 {
        return u32::try_from(fixed)
            .map(|_| {
                shares
                    .iter()
                    .map(|s| match s {
                        Share::Clusters(n) => *n,
                        Share::Weight(_) => 0,
                    })
                    .collect()
            })
            .map_err(|_| "too many clusters".into());
    }
    let Some(rest) = u64::from(total).checked_sub(fixed) else {
        return Err(format!(
            "the hubs' fixed cluster counts ({fixed}) exceed the scenario's {total} clusters"
        ));
    };
    let ideal: Vec<f64> = shares
        .iter()
        .map(|s| match s {
            Share::Weight(w) => rest as f64 * w / weights,
            Share::Clusters(_) => 0.0,
        })
        .collect();
    let mut counts: Vec<u64> = ideal.iter().map(|v| v.floor() as u64).collect();
    let mut left = rest - counts.iter().sum::<u64>();
    let mut by_remainder: Vec<usize> = (0..shares.len())
        .filter(|i| matches!(shares[*i], Share::Weight(_)))
        .collect();
    by_remainder.sort_by(|a, b| {
        let (ra, rb) = (ideal[*a] - ideal[*a].floor(), ideal[*b] - ideal[*b].floor());
        rb.total_cmp(&ra).then(a.cmp(b))
    });
    for i in by_remainder.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[*i] += 1;
        left -= 1;
    }
    let mut out = Vec::with_capacity(shares.len());
    for (i, (s, n)) in shares.iter().zip(counts).enumerate() {
        out.push(match s {
            Share::Clusters(c) => *c,
            Share::Weight(_) if n == 0 => {
                return Err(format!(
                    "hub {} would get no cluster of the scenario's {total} (more clusters, or fewer hubs)",
                    i + 1
                ));
            }
            Share::Weight(_) => n as u32,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_adds_up_and_honours_fixed_counts() {
        let w = Share::Weight(1.0);
        assert_eq!(spread(10, &[w, w, w]).unwrap(), vec![4, 3, 3]);
        assert_eq!(spread(300, &[w, w, w]).unwrap(), vec![100, 100, 100]);
        assert_eq!(
            spread(
                100,
                &[Share::Clusters(40), Share::Weight(1.0), Share::Weight(2.0)]
            )
            .unwrap(),
            vec![40, 20, 40]
        );
        // Every hub fixed: their sum, whatever the scenario says.
        assert_eq!(
            spread(5, &[Share::Clusters(7), Share::Clusters(8)]).unwrap(),
            vec![7, 8]
        );
        for total in [7, 11, 1000] {
            let n = spread(total, &[Share::Weight(0.3), Share::Weight(2.0), w]).unwrap();
            assert_eq!(n.iter().sum::<u32>(), total, "{n:?}");
        }
    }

    #[test]
    fn spread_refuses_what_cannot_be_split() {
        let w = Share::Weight(1.0);
        assert!(
            spread(2, &[w, w, w])
                .unwrap_err()
                .contains("hub 3 would get no cluster")
        );
        assert!(
            spread(10, &[Share::Clusters(11), w])
                .unwrap_err()
                .contains("exceed")
        );
        assert!(
            spread(10, &[Share::Weight(-1.0)])
                .unwrap_err()
                .contains("weight")
        );
        assert!(spread(10, &[Share::Weight(f64::NAN)]).is_err());
        assert!(spread(10, &[Share::Clusters(0)]).is_err());
        assert!(spread(10, &[]).is_err());
    }
}
