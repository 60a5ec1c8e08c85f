//! Welch's t interval for the difference of two means with unequal variances — the per-process
//! values of a figure in two runs — expressed relative to the base mean.

use filterbench_results::stats::{Estimate, t95};

/// The relative change `new/base − 1` of the means and its 95% confidence interval, or
/// `None` when it cannot be estimated (fewer than two processes on a side, or a zero base).
pub fn relative_change(base: &Estimate, new: &Estimate) -> Option<(f64, f64, f64)> {
    if base.n < 2 || new.n < 2 || base.mean == 0.0 || !base.mean.is_finite() {
        return None;
    }
    let vb = base.stdev.powi(2) / base.n as f64;
    let vn = new.stdev.powi(2) / new.n as f64;
    let se = (vb + vn).sqrt();
    let d = new.mean - base.mean;
    let half = if se == 0.0 {
        0.0
    } else {
        // Welch–Satterthwaite degrees of freedom.
        let df = (vb + vn).powi(2)
            / (vb.powi(2) / (base.n - 1) as f64 + vn.powi(2) / (new.n - 1) as f64);
        t95(df) * se
    };
    // Relative to the base mean, taken as exact: its own spread is already in `se`.
    let m = base.mean.abs();
    Some((d / m, (d - half) / m, (d + half) / m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_results::stats::estimate;

    #[test]
    fn welch_interval_by_hand() {
        let b = estimate(&[100.0, 102.0, 98.0]).unwrap();
        let n = estimate(&[130.0, 133.0, 127.0]).unwrap();
        let (c, lo, hi) = relative_change(&b, &n).unwrap();
        assert!((c - 0.30).abs() < 1e-12);
        // se = sqrt(4/3 + 9/3) = 2.0817; df = 4.333^2 / ((1.333^2 + 3^2) / 2) = 3.4825;
        // t(0.975, 3.48) ≈ 2.9238 → half ≈ 6.087.
        assert!((hi - c - 0.06087).abs() < 5e-4, "{lo} {hi}");
        assert!(lo > 0.0);
        let same = relative_change(&b, &b).unwrap();
        assert_eq!(same.0, 0.0);
        assert!(same.1 < 0.0 && same.2 > 0.0);
        let one = estimate(&[1.0]).unwrap();
        assert_eq!(relative_change(&one, &b), None);
    }
}
