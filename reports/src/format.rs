//! Human formatting of figures: three significant digits and a unit suffix, so tables and
//! axis labels of very different magnitudes stay short and comparable.

/// `v` with three significant digits (no exponent for the magnitudes we print).
pub fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    let decimals = if a >= 100.0 || a == 0.0 {
        0
    } else if a >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// `v` with two significant digits (an interval's half-width needs no more).
pub fn sig2(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let decimals = (1 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.decimals$}")
}

/// Nanoseconds as ns, µs, ms or s.
pub fn ns(v: f64) -> String {
    match v.abs() {
        x if x >= 1e9 => format!("{} s", sig3(v / 1e9)),
        x if x >= 1e6 => format!("{} ms", sig3(v / 1e6)),
        x if x >= 1e3 => format!("{} µs", sig3(v / 1e3)),
        _ => format!("{} ns", sig3(v)),
    }
}

/// Bytes in binary multiples.
pub fn bytes(v: f64) -> String {
    match v.abs() {
        x if x >= 1073741824.0 => format!("{} GiB", sig3(v / 1073741824.0)),
        x if x >= 1048576.0 => format!("{} MiB", sig3(v / 1048576.0)),
        x if x >= 1024.0 => format!("{} KiB", sig3(v / 1024.0)),
        _ => format!("{v:.0} B"),
    }
}

/// A rate per second, short form for axes: "2.35 M/s".
pub fn rate(v: f64) -> String {
    rate_in(v, "/s")
}

fn rate_in(v: f64, unit: &str) -> String {
    let (x, prefix) = match v.abs() {
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    // "2.35 M/s" but "2.35 M req/s".
    let gap = if unit.starts_with('/') || prefix.is_empty() {
        ""
    } else {
        " "
    };
    format!("{} {prefix}{gap}{unit}", sig3(x))
}

/// A ratio as a percentage: 0.453 → "45%"; small ones keep a decimal.
pub fn pct(ratio: f64) -> String {
    let p = ratio * 100.0;
    if !p.is_finite() {
        "–".into()
    } else if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A signed relative change: +0.123 → "+12.3%".
pub fn change(rel: f64) -> String {
    if !rel.is_finite() {
        return "–".into();
    }
    format!("{:+.1}%", rel * 100.0)
}

/// A value in the unit the results file names (`ns`, `bytes`, `req/s`, anything else verbatim).
pub fn unit(unit: &str, v: f64) -> String {
    match unit {
        "ns" => ns(v),
        "bytes" => bytes(v),
        "req/s" => rate_in(v, "req/s"),
        "" | "count" => sig3(v),
        u => format!("{} {u}", sig3(v)),
    }
}

/// A formatted figure without trailing zeros ("1.00 µs" → "1 µs"), for axis labels.
pub fn trim(s: &str) -> String {
    let (num, rest) = s.split_at(s.find(' ').unwrap_or(s.len()));
    if num.contains('.') {
        format!("{}{rest}", num.trim_end_matches('0').trim_end_matches('.'))
    } else {
        s.to_string()
    }
}

/// The formatter for a unit, for chart axes.
pub fn for_unit(unit: &str) -> fn(f64) -> String {
    match unit {
        "ns" => ns,
        "bytes" => bytes,
        "req/s" => rate,
        _ => sig3,
    }
}

/// A Unix timestamp's UTC civil date and time: (year, month, day, hour, minute, second).
pub fn civil(unix: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    // Howard Hinnant's civil-from-days (proleptic Gregorian, 400-year eras).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// UTC date and time of a Unix timestamp, `YYYY-MM-DD HH:MM UTC` (no time-zone crate needed).
pub fn utc(unix: u64) -> String {
    let (y, m, d, h, min, _) = civil(unix);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
}

/// A command line a POSIX shell reads back as the same arguments.
pub fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(ns(321.0), "321 ns");
        assert_eq!(ns(1234.0), "1.23 µs");
        assert_eq!(ns(45_600_000.0), "45.6 ms");
        assert_eq!(bytes(20480.0), "20.0 KiB");
        assert_eq!(rate(2_345_678.0), "2.35 M/s");
        assert_eq!(unit("req/s", 2_345_678.0), "2.35 M req/s");
        assert_eq!(pct(0.453), "45%");
        assert_eq!(pct(0.0123), "1.2%");
        assert_eq!(change(0.3), "+30.0%");
        assert_eq!(trim("1.00 µs"), "1 µs");
        assert_eq!(trim("2.50 k/s"), "2.5 k/s");
        assert_eq!(trim("100 ns"), "100 ns");
    }

    #[test]
    fn dates_and_quoting() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(
            shell_line(&["a".into(), "b c".into(), "it's".into()]),
            r"a 'b c' 'it'\''s'"
        );
    }
}
