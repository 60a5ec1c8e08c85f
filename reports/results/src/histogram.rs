//! Latency histograms as the results file keeps them: each process's HdrHistogram whole (its V2
//! deflate serialization, base64, as HdrHistogram's own interval logs carry it) beside its
//! quantile points. Points of several processes can only be mixed approximately; the whole
//! histograms add exactly, so a percentile over every process is the one a single histogram
//! of all their requests would give.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::Histogram;

/// A latency HdrHistogram in ns, as the runners record one.
pub type Hdr = hdrhistogram::Histogram<u64>;

#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    #[error("no histogram to merge")]
    Empty,
    #[error("{what} keeps no serialized histogram (written before they were kept)")]
    NotKept { what: String },
    #[error("{what}: the serialized histogram is not base64: {source}")]
    Base64 {
        what: String,
        source: base64::DecodeError,
    },
    #[error("{what}: the serialized histogram does not decode: {source}")]
    Decode {
        what: String,
        source: hdrhistogram::serialization::DeserializeError,
    },
    #[error("{what} cannot be added to the others: {source}")]
    Add {
        what: String,
        source: hdrhistogram::AdditionError,
    },
    #[error("{what} is not of the same filter × scenario × arm as {first}")]
    Mixed { what: String, first: String },
}

impl Histogram {
    /// The stored form of `h`, recorded by worker `process` on `filter` × `scenario` × `arm`:
    /// its summary, its quantile points and the whole histogram serialized.
    pub fn from_hdr(filter: &str, scenario: &str, arm: &str, process: u32, h: &Hdr) -> Histogram {
        Histogram {
            filter: filter.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            process,
            count: h.len(),
            mean_ns: h.mean(),
            stdev_ns: h.stdev(),
            max_ns: h.max(),
            points: quantile_points(h, 1),
            // Serializing into memory fails only if deflate does; the points still stand
            // then, and the histogram is absent rather than wrong.
            hdr_base64: encode(h).ok(),
        }
    }

    /// Names the histogram in messages: `filter/scenario/arm process N`.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{} process {}",
            self.filter, self.scenario, self.arm, self.process
        )
    }

    /// The whole histogram, decoded from its serialized form.
    pub fn decode(&self) -> Result<Hdr, HistogramError> {
        let text = self
            .hdr_base64
            .as_deref()
            .ok_or_else(|| HistogramError::NotKept { what: self.label() })?;
        let bytes = STANDARD
            .decode(text)
            .map_err(|source| HistogramError::Base64 {
                what: self.label(),
                source,
            })?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|source| HistogramError::Decode {
                what: self.label(),
                source,
            })
    }
}

/// HdrHistogram's V2 deflate serialization of `h`, in base64 (standard alphabet, padded): the
/// payload of an HdrHistogram interval log line, so its tools read it too.
pub fn encode(h: &Hdr) -> Result<String, hdrhistogram::serialization::V2DeflateSerializeError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut bytes)?;
    Ok(STANDARD.encode(bytes))
}

/// `h` as (quantile, value in ns, count since the previous point), in quantile order: the
/// points of HdrHistogram's percentile distribution with `ticks_per_half_distance` steps each
/// time the distance to 100% halves (1 for the stored points, 5 for an `.hgrm` file).
pub fn quantile_points(h: &Hdr, ticks_per_half_distance: u32) -> Vec<(f64, u64, u64)> {
    h.iter_quantiles(ticks_per_half_distance)
        .map(|v| {
            (
                v.quantile_iterated_to(),
                v.value_iterated_to(),
                v.count_since_last_iteration(),
            )
        })
        .collect()
}

/// The exact union of histograms of one filter × scenario × arm (one per worker process):
/// each decoded and added. Err when any lacks its serialized form (an older file), does not
/// decode, or is of another filter × scenario × arm.
pub fn merge_exact(hs: &[&Histogram]) -> Result<Hdr, HistogramError> {
    let (first, rest) = hs.split_first().ok_or(HistogramError::Empty)?;
    let mut sum = first.decode()?;
    // A later process may have recorded beyond the first one's range.
    sum.auto(true);
    for h in rest {
        if (&h.filter, &h.scenario, &h.arm) != (&first.filter, &first.scenario, &first.arm) {
            return Err(HistogramError::Mixed {
                what: h.label(),
                first: first.label(),
            });
        }
        sum.add(h.decode()?).map_err(|source| HistogramError::Add {
            what: h.label(),
            source,
        })?;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(values: impl IntoIterator<Item = u64>) -> Hdr {
        let mut h = Hdr::new_with_bounds(1, 100_000_000_000, 3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn a_kept_histogram_decodes_to_the_recorded_one() {
        let h = hdr((1..=5000).map(|i| i * 37));
        let kept = Histogram::from_hdr("f", "s", "a", 2, &h);
        assert_eq!(kept.count, 5000);
        assert_eq!(kept.decode().unwrap(), h);
        let json = serde_json::to_string(&kept).unwrap();
        assert_eq!(serde_json::from_str::<Histogram>(&json).unwrap(), kept);
    }

    #[test]
    fn merging_is_exact_where_mixing_points_is_not() {
        // Two processes far apart: the p50 of all requests lies in neither's own points.
        let a = hdr((0..9000).map(|i| 1_000 + i % 100));
        let b = hdr((0..1000).map(|i| 50_000 + i));
        let all = hdr((0..9000)
            .map(|i| 1_000 + i % 100)
            .chain((0..1000).map(|i| 50_000 + i)));
        let (ka, kb) = (
            Histogram::from_hdr("f", "s", "a", 0, &a),
            Histogram::from_hdr("f", "s", "a", 1, &b),
        );
        let merged = merge_exact(&[&ka, &kb]).unwrap();
        assert_eq!(merged.len(), 10_000);
        for q in [0.5, 0.9, 0.95, 0.999, 1.0] {
            assert_eq!(merged.value_at_quantile(q), all.value_at_quantile(q), "{q}");
        }
        assert_eq!(merged.max(), all.max());
    }

    #[test]
    fn merging_refuses_what_it_cannot_do_exactly() {
        let h = Histogram::from_hdr("f", "s", "a", 0, &hdr([5, 6]));
        let old = Histogram {
            hdr_base64: None,
            ..h.clone()
        };
        let other = Histogram {
            arm: "b".into(),
            ..h.clone()
        };
        let broken = Histogram {
            hdr_base64: Some("not base64!".into()),
            ..h.clone()
        };
        assert!(matches!(merge_exact(&[]), Err(HistogramError::Empty)));
        assert!(matches!(
            merge_exact(&[&h, &old]),
            Err(HistogramError::NotKept { .. })
        ));
        assert!(matches!(
            merge_exact(&[&h, &other]),
            Err(HistogramError::Mixed { .. })
        ));
        assert!(matches!(
            merge_exact(&[&broken]),
            Err(HistogramError::Base64 { .. })
        ));
    }
}
