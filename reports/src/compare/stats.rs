//! Welch's t test for the difference of two means with unequal variances — the per-process
//! values of a figure in two runs — expressed relative to the base mean, the smallest change
//! such a test can flag, and Holm's step-down adjustment of p-values over a family of tests.

use filterbench_results::stats::Estimate;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The change of one figure between two runs, relative to the base mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Welch {
    /// `new/base − 1` of the means.
    pub change: f64,
    /// Its two-sided 95% interval.
    pub lo95: f64,
    pub hi95: f64,
    /// Its two-sided 90% interval: the two one-sided 5% tests of equivalence (TOST).
    pub lo90: f64,
    pub hi90: f64,
    /// Two-sided p-value of "no change".
    pub p: f64,
}

/// The standard error of the difference of the means and its Welch–Satterthwaite degrees of
/// freedom (infinite when both sides repeat exactly), or `None` when it cannot be estimated
/// (fewer than two processes on a side, or a zero base).
fn standard_error(base: &Estimate, new: &Estimate) -> Option<(f64, f64)> {
    if base.n < 2 || new.n < 2 || base.mean == 0.0 || !base.mean.is_finite() {
        return None;
    }
    let vb = base.stdev.powi(2) / base.n as f64;
    let vn = new.stdev.powi(2) / new.n as f64;
    let se = (vb + vn).sqrt();
    if se == 0.0 {
        return Some((0.0, f64::INFINITY));
    }
    let df =
        (vb + vn).powi(2) / (vb.powi(2) / (base.n - 1) as f64 + vn.powi(2) / (new.n - 1) as f64);
    Some((se, df))
}

/// Welch's test of `new` against `base`, or `None` when it cannot be estimated (fewer than two
/// processes on a side, or a zero base).
pub fn welch(base: &Estimate, new: &Estimate) -> Option<Welch> {
    let (se, df) = standard_error(base, new)?;
    let d = new.mean - base.mean;
    // Relative to the base mean, taken as exact: its own spread is already in `se`.
    let m = base.mean.abs();
    if se == 0.0 {
        // Identical repeats on both sides: the change is known exactly.
        let p = if d == 0.0 { 1.0 } else { 0.0 };
        let c = d / m;
        return Some(Welch {
            change: c,
            lo95: c,
            hi95: c,
            lo90: c,
            hi90: c,
            p,
        });
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let half = |level: f64| t.inverse_cdf(0.5 + level / 2.0) * se;
    let (h95, h90) = (half(0.95), half(0.90));
    Some(Welch {
        change: d / m,
        lo95: (d - h95) / m,
        hi95: (d + h95) / m,
        lo90: (d - h90) / m,
        hi90: (d + h90) / m,
        p: 2.0 * (1.0 - t.cdf((d / se).abs())),
    })
}

/// The smallest relative change (of the base mean) Welch's two-sided test at level `alpha`
/// rejects with these two spreads: `t(1 − α/2, df) · se / |base mean|`. A true change of
/// exactly this size is flagged about half the time; `None` when the test cannot run (then
/// no change can be flagged).
pub fn detectable(base: &Estimate, new: &Estimate, alpha: f64) -> Option<f64> {
    let (se, df) = standard_error(base, new)?;
    if se == 0.0 {
        return Some(0.0);
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(1.0 - alpha / 2.0) * se / base.mean.abs())
}

/// The relative change `new/base − 1` of the means and its 95% interval.
pub fn relative_change(base: &Estimate, new: &Estimate) -> Option<(f64, f64, f64)> {
    welch(base, new).map(|w| (w.change, w.lo95, w.hi95))
}

/// Holm's step-down adjusted p-values, in the order given (NaN stays NaN and does not count
/// in the family): the smallest p is multiplied by m, the next by m − 1, …, kept monotone.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_results::stats::estimate;

    #[test]
    fn welch_interval_by_hand() {
        let b = estimate(&[100.0, 102.0, 98.0]).unwrap();
        let n = estimate(&[130.0, 133.0, 127.0]).unwrap();
        let w = welch(&b, &n).unwrap();
        assert!((w.change - 0.30).abs() < 1e-12);
        // se = sqrt(4/3 + 9/3) = 2.0817; df = 4.333^2 / ((1.333^2 + 3^2) / 2) = 3.4825;
        // t(0.975, 3.48) ≈ 2.9238 → half ≈ 6.087.
        assert!((w.hi95 - w.change - 0.06087).abs() < 5e-4, "{w:?}");
        assert!(w.lo90 > w.lo95 && w.hi90 < w.hi95);
        // t = 30 / 2.0817 = 14.4 on 3.48 df: p well below 0.001.
        assert!(w.p < 1e-3 && w.p > 0.0, "{}", w.p);
        let same = welch(&b, &b).unwrap();
        assert_eq!(same.change, 0.0);
        assert!((same.p - 1.0).abs() < 1e-12);
        let one = estimate(&[1.0]).unwrap();
        assert_eq!(welch(&one, &b), None);
    }

    #[test]
    fn detectable_change_by_hand() {
        // Equal spreads and counts: se = sqrt(1/3 + 1/3) = 0.816497, df = 2·(3 − 1) = 4 exactly.
        let b = estimate(&[99.0, 100.0, 101.0]).unwrap();
        let n = estimate(&[199.0, 200.0, 201.0]).unwrap();
        let se = (2.0f64 / 3.0).sqrt();
        // One test at α = 0.05: t(0.975, 4) = 2.776445 (tables) → 2.776445 · 0.816497 / 100.
        let one = detectable(&b, &n, 0.05).unwrap();
        assert!((one - 2.776_445 * se / 100.0).abs() < 1e-6, "{one}");
        assert!((one - 0.022_670).abs() < 1e-5, "{one}");
        // The first Holm step of ten gates, α/10 = 0.005: t(0.9975, 4) = 5.597568 → 4.570%.
        let ten = detectable(&b, &n, 0.005).unwrap();
        assert!((ten - 5.597_568 * se / 100.0).abs() < 1e-6, "{ten}");
        // Exactly what Welch's test needs: a change of that size has p = α.
        let at = estimate(&[99.0 + 100.0 * ten, 100.0 + 100.0 * ten, 101.0 + 100.0 * ten]).unwrap();
        assert!((welch(&b, &at).unwrap().p - 0.005).abs() < 1e-9);
        // Exact repeats detect any change; one process, none.
        let flat = estimate(&[5.0, 5.0]).unwrap();
        assert_eq!(detectable(&flat, &flat, 0.05), Some(0.0));
        assert_eq!(detectable(&estimate(&[1.0]).unwrap(), &b, 0.05), None);
    }

    #[test]
    fn holm_by_hand() {
        // m = 3: 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → kept at 0.06 (monotone).
        let adj = holm(&[0.04, f64::NAN, 0.01, 0.03]);
        assert!((adj[2] - 0.03).abs() < 1e-12);
        assert!((adj[3] - 0.06).abs() < 1e-12, "{adj:?}");
        assert!((adj[0] - 0.06).abs() < 1e-12, "monotone: {adj:?}");
        assert!(adj[1].is_nan());
    }
}
