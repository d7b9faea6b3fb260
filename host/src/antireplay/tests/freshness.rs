use std::time::Duration;

use crate::antireplay::{Freshness, FreshnessConfigError, FreshnessError};
use crate::timestamp::Timestamp;

const T: i64 = 1_795_000_000;

fn at(seconds: i64, nanos: u32) -> Timestamp {
    Timestamp::from_unix(seconds, nanos)
}

#[test]
fn defaults_are_300_30_900() {
    let f = Freshness::default();
    assert_eq!(f.max_age(), Duration::from_secs(300));
    assert_eq!(f.future_skew(), Duration::from_secs(30));
    assert_eq!(f.retention(), Duration::from_secs(900));
    assert_eq!(
        Freshness::new(f.max_age(), f.future_skew(), f.retention()),
        Ok(f)
    );
}

#[test]
fn exactly_max_age_is_fresh_one_more_is_stale() {
    let f = Freshness::default();
    assert_eq!(f.check(T, at(T, 0)), Ok(()));
    assert_eq!(f.check(T, at(T + 300, 0)), Ok(()));
    assert_eq!(
        f.check(T, at(T + 301, 0)),
        Err(FreshnessError::Stale {
            age: Duration::from_secs(301),
            max_age: Duration::from_secs(300)
        })
    );
    // The sub-second part of `now` counts: one nanosecond past is stale.
    assert_eq!(
        f.check(T, at(T + 300, 1)),
        Err(FreshnessError::Stale {
            age: Duration::new(300, 1),
            max_age: Duration::from_secs(300)
        })
    );
}

#[test]
fn future_skew_is_tolerated_and_no_more() {
    let f = Freshness::default();
    assert_eq!(f.check(T + 30, at(T, 0)), Ok(()));
    assert_eq!(
        f.check(T + 31, at(T, 0)),
        Err(FreshnessError::Future {
            ahead: Duration::from_secs(31),
            future_skew: Duration::from_secs(30)
        })
    );
    // 30 s ahead of a `now` half a second in: 29.5 s ahead, tolerated.
    assert_eq!(f.check(T + 30, at(T, 500_000_000)), Ok(()));
    // 31 s ahead of a `now` half a second in: 30.5 s ahead, refused.
    assert_eq!(
        f.check(T + 31, at(T, 500_000_000)),
        Err(FreshnessError::Future {
            ahead: Duration::from_millis(30_500),
            future_skew: Duration::from_secs(30)
        })
    );
}

#[test]
fn zero_window_accepts_only_the_same_instant() {
    let f = Freshness::new(Duration::ZERO, Duration::ZERO, Duration::from_secs(1)).unwrap();
    assert_eq!(f.check(T, at(T, 0)), Ok(()));
    assert!(matches!(
        f.check(T, at(T, 1)),
        Err(FreshnessError::Stale { .. })
    ));
    assert!(matches!(
        f.check(T + 1, at(T, 0)),
        Err(FreshnessError::Future { .. })
    ));
}

#[test]
fn extreme_timestamps_do_not_panic() {
    let f = Freshness::default();
    for signed_at in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
        for now in [at(i64::MIN, 0), at(0, 0), at(i64::MAX, 999_999_999)] {
            let _ = f.check(signed_at, now);
        }
    }
    assert!(matches!(
        f.check(i64::MIN, at(i64::MAX, 999_999_999)),
        Err(FreshnessError::Stale { .. })
    ));
    assert!(matches!(
        f.check(i64::MAX, at(i64::MIN, 0)),
        Err(FreshnessError::Future { .. })
    ));
}

#[test]
fn retention_must_cover_the_acceptance_window() {
    let s = Duration::from_secs;
    assert!(Freshness::new(s(300), s(30), s(330)).is_ok());
    assert_eq!(
        Freshness::new(s(300), s(30), s(329)),
        Err(FreshnessConfigError::RetentionTooShort {
            retention: s(329),
            required: s(330)
        })
    );
    assert_eq!(
        Freshness::new(Duration::ZERO, Duration::ZERO, Duration::ZERO),
        Err(FreshnessConfigError::ZeroRetention)
    );
    assert!(matches!(
        Freshness::new(Duration::MAX, s(1), Duration::MAX),
        Err(FreshnessConfigError::WindowOverflow { .. })
    ));
}
