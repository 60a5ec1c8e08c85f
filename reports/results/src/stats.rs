//! Statistics over repeated measurements (one value per worker process).

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Location and spread of a set of repeated measurements.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    /// Sample standard deviation (0 for n = 1).
    pub stdev: f64,
    /// 95% confidence interval of the mean (Student's t); equal to the mean when n = 1.
    pub ci_low: f64,
    pub ci_high: f64,
    pub min: f64,
    pub max: f64,
}

impl Estimate {
    /// Half-width of the confidence interval relative to the mean.
    pub fn relative_ci(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            (self.ci_high - self.ci_low) / 2.0 / self.mean.abs()
        }
    }
}

pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Two-sided 95% Student's t quantile for `df` degrees of freedom.
pub fn t95(df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// Estimate from values; `None` when there are none.
pub fn estimate(values: &[f64]) -> Option<Estimate> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let stdev = if n > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let half = if n > 1 {
        t95((n - 1) as f64) * stdev / (n as f64).sqrt()
    } else {
        0.0
    };
    Some(Estimate {
        n,
        median: median(&v),
        mean,
        stdev,
        ci_low: mean - half,
        ci_high: mean + half,
        min: v[0],
        max: v[n - 1],
    })
}

/// Least-squares slope of y over x (e.g. RSS over number of VMs).
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// A least-squares line and how well it fits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub slope: f64,
    /// Share of the variance of y the line explains; `None` when y does not vary at all (a
    /// flat line fits exactly).
    pub r2: Option<f64>,
}

/// Least-squares fit of y over x with its R²; `None` with fewer than two distinct x.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let slope = slope(points)?;
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let sse: f64 = points
        .iter()
        .map(|p| (p.1 - my - slope * (p.0 - mx)).powi(2))
        .sum();
    Some(Fit {
        slope,
        r2: (syy > 0.0).then(|| 1.0 - sse / syy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_matches_hand_computation() {
        let e = estimate(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!(e.median, 12.0);
        assert_eq!(e.mean, 12.0);
        assert!((e.stdev - 2.0).abs() < 1e-12);
        // t(0.975, 2) = 4.3027; half-width = 4.3027 * 2 / sqrt(3)
        assert!((e.ci_high - 12.0 - 4.302_652_7 * 2.0 / 3f64.sqrt()).abs() < 1e-4);
        assert_eq!(estimate(&[]), None);
        let one = estimate(&[5.0]).unwrap();
        assert_eq!((one.ci_low, one.ci_high), (5.0, 5.0));
    }

    #[test]
    fn slope_of_a_line() {
        let pts: Vec<(f64, f64)> = (1..=5)
            .map(|i| (i as f64, 100.0 + 7.0 * i as f64))
            .collect();
        assert!((slope(&pts).unwrap() - 7.0).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 1.0)]), None);
    }

    #[test]
    fn fit_tells_a_line_from_noise() {
        let line: Vec<(f64, f64)> = (1..=8).map(|i| (i as f64, 3.0 * i as f64)).collect();
        let f = fit(&line).unwrap();
        assert!((f.slope - 3.0).abs() < 1e-9);
        assert!((f.r2.unwrap() - 1.0).abs() < 1e-9);
        let zigzag: Vec<(f64, f64)> = (1..=8)
            .map(|i| (i as f64, if i % 2 == 0 { 10.0 } else { 0.0 }))
            .collect();
        assert!(fit(&zigzag).unwrap().r2.unwrap() < 0.2);
        let flat = fit(&[(1.0, 5.0), (2.0, 5.0), (3.0, 5.0)]).unwrap();
        assert_eq!((flat.slope, flat.r2), (0.0, None));
        assert_eq!(fit(&[(1.0, 1.0)]), None);
    }
}
