//! Medians, spreads and per-round ratios.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The median and range of one quantity over rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

/// The median (the mean of the middle two for an even count), minimum and
/// maximum of the finite values; `None` without any.
pub fn spread<I: IntoIterator<Item = f64>>(values: I) -> Option<Spread> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Spread {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

/// Values by round.
pub type ByRound = BTreeMap<u32, f64>;

/// `num / den` for every round that has both (and a non-zero `den`).
pub fn ratios(num: &ByRound, den: &ByRound) -> ByRound {
    num.iter()
        .filter_map(|(round, n)| {
            den.get(round)
                .filter(|d| **d != 0.0)
                .map(|d| (*round, n / d))
        })
        .collect()
}

/// The spread of values by round, with the rounds and values kept, as JSON
/// (`null` without values).
pub fn spread_json(values: &ByRound) -> Value {
    match spread(values.values().copied()) {
        None => Value::Null,
        Some(s) => json!({
            "median": s.median,
            "min": s.min,
            "max": s.max,
            "n": s.n,
            "rounds": values.keys().collect::<Vec<_>>(),
            "values": values.values().collect::<Vec<_>>(),
        }),
    }
}

/// `median (min-max)`, or only the median for a single value; `-` for none.
pub fn fmt_spread(s: Option<Spread>, decimals: usize) -> String {
    match s {
        None => "-".to_string(),
        Some(s) if s.n == 1 => format!("{:.decimals$}", s.median),
        Some(s) => format!(
            "{:.decimals$} ({:.decimals$}-{:.decimals$})",
            s.median, s.min, s.max
        ),
    }
}

/// The same, from a [`spread_json`] value.
pub fn fmt_spread_json(v: &Value, decimals: usize) -> String {
    let get = |k: &str| v[k].as_f64();
    let s = match (get("median"), get("min"), get("max"), v["n"].as_u64()) {
        (Some(median), Some(min), Some(max), Some(n)) => Some(Spread {
            median,
            min,
            max,
            n: n as usize,
        }),
        _ => None,
    };
    fmt_spread(s, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_single_empty() {
        let s = spread([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = spread([4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 4.0, 4));
        let s = spread([7.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (7.0, 7.0, 7.0, 1));
        assert_eq!(spread([]), None);
        assert_eq!(spread([f64::NAN]), None);
        assert_eq!(spread([f64::INFINITY, 5.0]).unwrap().n, 1);
    }

    #[test]
    fn ratios_pair_rounds() {
        let num: ByRound = [(1, 90.0), (2, 100.0), (3, 110.0)].into();
        let den: ByRound = [(1, 100.0), (3, 100.0), (4, 50.0)].into();
        let r = ratios(&num, &den);
        assert_eq!(r, [(1, 0.9), (3, 1.1)].into());
        let s = spread(r.values().copied()).unwrap();
        assert!((s.median - 1.0).abs() < 1e-12);
        assert_eq!((s.min, s.max), (0.9, 1.1));
        // A zero denominator drops that round rather than dividing by it.
        let zero: ByRound = [(1, 0.0), (2, 10.0)].into();
        assert_eq!(ratios(&num, &zero), [(2, 10.0)].into());
    }

    #[test]
    fn per_round_ratios_cancel_drift() {
        // Both pairs slow down by the same factor in round 2: the ratio of
        // medians says 0.9, the per-round ratio exactly 0.9 with no spread.
        let rust: ByRound = [(1, 900.0), (2, 450.0), (3, 900.0)].into();
        let c: ByRound = [(1, 1000.0), (2, 500.0), (3, 1000.0)].into();
        let s = spread(ratios(&rust, &c).values().copied()).unwrap();
        assert!((s.median - 0.9).abs() < 1e-12);
        assert!((s.max - s.min).abs() < 1e-12);
    }

    #[test]
    fn formats() {
        assert_eq!(
            fmt_spread(spread([2310.4, 2403.0, 2507.2]), 0),
            "2403 (2310-2507)"
        );
        assert_eq!(fmt_spread(spread([0.8312]), 2), "0.83");
        assert_eq!(fmt_spread(None, 1), "-");
        let v = spread_json(&[(1, 2.0), (2, 4.0)].into());
        assert_eq!(v["median"], 3.0);
        assert_eq!(v["rounds"], json!([1, 2]));
        assert_eq!(v["values"], json!([2.0, 4.0]));
        assert_eq!(fmt_spread_json(&v, 1), "3.0 (2.0-4.0)");
        assert_eq!(spread_json(&ByRound::new()), Value::Null);
        assert_eq!(fmt_spread_json(&Value::Null, 1), "-");
    }
}
