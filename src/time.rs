//! Instants (UTC, microsecond precision), ISO-8601 parsing, and the graph's clock.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A UTC instant: microseconds since the Unix epoch.
///
/// Serialised (audit events, journals) as ISO-8601 text, `2024-06-01T12:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Instant::parse("instant", &text).map_err(serde::de::Error::custom)
    }
}

impl Instant {
    /// The wall clock, now.
    pub fn now() -> Self {
        Instant(Utc::now().timestamp_micros())
    }

    /// 00:00 UTC of `date`.
    pub fn from_date(date: NaiveDate) -> Self {
        Instant(date.and_time(NaiveTime::MIN).and_utc().timestamp_micros())
    }

    /// The instant of a UTC calendar date and time.
    pub fn from_naive_utc(dt: NaiveDateTime) -> Self {
        Instant(dt.and_utc().timestamp_micros())
    }

    /// This instant as a chrono UTC datetime.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The calendar date (UTC) of this instant.
    pub fn date(self) -> NaiveDate {
        self.to_datetime().date_naive()
    }

    /// True at 00:00:00.000000 UTC.
    pub fn is_midnight(self) -> bool {
        self.0.rem_euclid(86_400_000_000) == 0
    }

    /// A bare date (`2024-06-01`) at midnight UTC, else the instant ([`Instant::to_iso`]):
    /// how registries, reviews and reports write an expiry.
    pub fn to_date_or_iso(self) -> String {
        if self.is_midnight() {
            self.date().to_string()
        } else {
            self.to_iso()
        }
    }

    /// ISO-8601 text, `2024-06-01T12:00:00Z` (fractions only when present).
    pub fn to_iso(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// The first and last instants accepted: years 1 to 9999 in UTC, the range of
    /// Python's `datetime`, so every instant converts back.
    pub const MIN: Instant = Instant(-62_135_596_800_000_000);
    /// See [`Instant::MIN`].
    pub const MAX: Instant = Instant(253_402_300_799_999_999);

    /// Parses an ISO-8601 date or datetime; a date means 00:00 UTC, a naive time is UTC.
    pub fn parse(field: &'static str, text: &str) -> Result<Self> {
        let at = Self::parse_any(field, text)?;
        if at < Self::MIN || at > Self::MAX {
            return Err(Error::invalid(
                field,
                text,
                "an instant between years 1 and 9999 in UTC",
            ));
        }
        Ok(at)
    }

    fn parse_any(field: &'static str, text: &str) -> Result<Self> {
        let s = text.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Ok(Instant(dt.with_timezone(&Utc).timestamp_micros()));
        }
        let zoned = [
            "%Y-%m-%dT%H:%M%#z",
            "%Y-%m-%d %H:%M%#z",
            "%Y-%m-%d %H:%M:%S%.f%#z",
        ];
        for f in zoned {
            if let Ok(dt) = DateTime::parse_from_str(s, f) {
                return Ok(Instant(dt.with_timezone(&Utc).timestamp_micros()));
            }
        }
        let body = s
            .strip_suffix('Z')
            .or_else(|| s.strip_suffix('z'))
            .unwrap_or(s);
        let naive = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ];
        for f in naive {
            if let Ok(dt) = NaiveDateTime::parse_from_str(body, f) {
                return Ok(Instant::from_naive_utc(dt));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(body, "%Y-%m-%d") {
            if body.len() == 10 {
                return Ok(Instant::from_date(d));
            }
        }
        Err(Error::invalid(
            field,
            text,
            "an ISO-8601 date or datetime such as `2024-06-01` or `2024-06-01T12:00:00Z`",
        ))
    }
}

/// Parses an ISO-8601 calendar date (`2024-06-01`); a datetime gives its UTC date.
pub fn parse_date(field: &'static str, text: &str) -> Result<NaiveDate> {
    let s = text.trim();
    let bad = || Error::invalid(field, text, "an ISO-8601 date such as `2024-06-01`");
    let date = if s.len() == 10 && s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?
    } else {
        Instant::parse(field, text)
            .map(Instant::date)
            .map_err(|_| bad())?
    };
    // Years 1 to 9999 only: Python's `date` cannot hold the others.
    if !(1..=9999).contains(&chrono::Datelike::year(&date)) {
        return Err(bad());
    }
    Ok(date)
}

/// "Never expires" where an expiry is a bare `i64` of microseconds (the check-path
/// views, grants and memberships): above [`Instant::MAX`], so no parsed instant is it.
pub const NEVER: i64 = i64::MAX;

const LIVE: i64 = i64::MIN;

/// The graph's clock: the wall clock, or a frozen instant (tests, audits).
#[derive(Debug)]
pub struct Clock {
    frozen: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            frozen: AtomicI64::new(LIVE),
        }
    }
}

impl Clock {
    /// Freezes the clock at `at`, or returns it to the wall clock with `None`.
    pub fn set(&self, at: Option<Instant>) {
        self.frozen
            .store(at.map_or(LIVE, |i| i.0.max(LIVE + 1)), Ordering::Release);
    }

    /// The frozen instant, if any.
    pub fn frozen(&self) -> Option<Instant> {
        match self.frozen.load(Ordering::Acquire) {
            LIVE => None,
            v => Some(Instant(v)),
        }
    }

    /// The clock's current instant.
    pub fn now(&self) -> Instant {
        self.frozen().unwrap_or_else(Instant::now)
    }
}

/// The instant a query is judged at, read from the clock only when an expiry needs it:
/// most memberships and grants never expire, and a check then never reads the clock.
pub struct At<'a> {
    value: Option<Instant>,
    clock: &'a Clock,
}

impl<'a> At<'a> {
    /// `at` if given, else the clock (read lazily).
    pub fn new(at: Option<Instant>, clock: &'a Clock) -> Self {
        At { value: at, clock }
    }

    /// The instant, reading the clock the first time.
    #[inline]
    pub fn get(&mut self) -> Instant {
        if let Some(v) = self.value {
            return v;
        }
        let v = self.clock.now();
        self.value = Some(v);
        v
    }

    /// Like [`At::alive`] for the check-path encoding (`i64::MAX` = never expires).
    #[inline]
    pub fn alive_raw(&mut self, expires: i64) -> bool {
        expires == NEVER || self.get().0 < expires
    }

    /// True while something with this expiry is still valid: `at < expires`.
    #[inline]
    pub fn alive(&mut self, expires: Option<Instant>) -> bool {
        match expires {
            None => true,
            Some(e) => self.get() < e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> i64 {
        Instant::parse("t", s).map_or(-1, |i| i.0)
    }

    #[test]
    fn parses_the_usual_forms() {
        let midnight = p("2024-06-01");
        assert_eq!(midnight, 1_717_200_000_000_000);
        assert_eq!(p("2024-06-01T00:00:00Z"), midnight);
        assert_eq!(p("2024-06-01T02:00:00+02:00"), midnight);
        assert_eq!(p("2024-06-01T00:00"), midnight);
        assert_eq!(p("2024-06-01 00:00:00"), midnight);
        assert_eq!(p("2024-06-01T00:00Z"), midnight);
        assert_eq!(p("2024-06-01T12:00:00.5Z"), midnight + 43_200_500_000);
        assert!(Instant::parse("expires", "2024-13-01").is_err());
        assert!(Instant::parse("expires", "soon").is_err());
        assert!(Instant::parse("expires", "2024-6-1").is_err());
        assert!(Instant::parse("expires", "9999-12-31T23:59:59-01:00").is_err());
        for bad in ["-024-01-02", "0000-01-01", "2024-1-02", "+12024-01-01"] {
            assert!(parse_date("reviewed", bad).is_err(), "{bad}");
        }
        assert!(parse_date("reviewed", "0001-01-01").is_ok());
        assert_eq!(p("9999-12-31T23:59:59.999999Z"), Instant::MAX.0);
        assert_eq!(p("0001-01-01"), Instant::MIN.0);
    }

    #[test]
    fn formats_iso() {
        assert_eq!(
            Instant(1_717_200_000_000_000).to_iso(),
            "2024-06-01T00:00:00Z"
        );
        assert!(Instant(1_717_200_000_000_000).is_midnight());
    }

    #[test]
    fn clock_is_lazy_and_freezable() {
        let c = Clock::default();
        assert!(c.frozen().is_none());
        c.set(Some(Instant(5)));
        let mut at = At::new(None, &c);
        assert!(at.alive(None));
        assert!(at.alive(Some(Instant(6))));
        assert!(!at.alive(Some(Instant(5))));
        c.set(None);
        assert!(c.frozen().is_none());
    }
}
