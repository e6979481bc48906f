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

    /// ISO-8601 text, `2024-06-01T12:00:00Z` (fractions only when present: 3 or 6 digits).
    pub fn to_iso(self) -> String {
        let mut out = String::with_capacity(27);
        self.write_iso(&mut out);
        out
    }

    /// Appends [`Instant::to_iso`]'s text to `out`: years 0 to 9999 by hand, others by
    /// chrono, which gives them a sign. Both write the same text (tested).
    fn write_iso(self, out: &mut String) {
        let secs = self.0.div_euclid(1_000_000);
        let micros = u32::try_from(self.0.rem_euclid(1_000_000)).unwrap_or(0);
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let Ok(year) = u32::try_from(y) else {
            return out.push_str(&self.chrono_iso());
        };
        if year > 9999 {
            return out.push_str(&self.chrono_iso());
        }
        let sod = u32::try_from(sod).unwrap_or(0);
        let mut buf = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                if let Some(b) = buf.get_mut(i) {
                    *b = b'0' + u8::try_from(v % 10).unwrap_or(0);
                }
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, sod / 3600);
        put(14, 2, sod / 60 % 60);
        put(17, 2, sod % 60);
        put(20, 6, micros);
        // chrono's `AutoSi`: no fraction, milliseconds, or microseconds.
        let end = if micros == 0 {
            19
        } else if micros % 1000 == 0 {
            23
        } else {
            26
        };
        out.push_str(std::str::from_utf8(buf.get(..end).unwrap_or_default()).unwrap_or_default());
        out.push('Z');
    }

    fn chrono_iso(self) -> String {
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
        if let Some(at) = parse_canonical(s) {
            return Ok(at);
        }
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

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * i64::from((m + 9) % 12) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`, the inverse).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The instant of the text [`Instant::write_iso`] writes (`2024-06-01T12:00:00Z`, with 1
/// to 9 fraction digits, truncated to microseconds), read without chrono: every
/// journal line and snapshot record holds one or two. `None` for any other text (a
/// leap second, an offset, a lower-case `t` or `z`, a bad date): the general parser
/// decides those, and gives the same instant where both read one (tested).
fn parse_canonical(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let mut v = 0u32;
        for &digit in bytes.get(from..from + len)? {
            if !digit.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(digit - b'0');
        }
        Some(v)
    };
    let at = |i: usize, c: u8| bytes.get(i) == Some(&c);
    if bytes.len() < 20
        || !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':'))
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hh, mm, ss) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let micros = match bytes.get(19..)? {
        [b'Z'] => 0,
        [b'.', frac @ .., b'Z']
            if (1..=9).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit) =>
        {
            // Microseconds: the first six digits, zero-padded; the rest truncated.
            (0..6).fold(0u32, |v, i| {
                v * 10 + u32::from(frac.get(i).map_or(0, |digit| digit - b'0'))
            })
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hh * 3600 + mm * 60 + ss);
    Some(Instant(secs * 1_000_000 + i64::from(micros)))
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

    /// A small deterministic generator (xorshift), so a failure names its case.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn chrono_parse(s: &str) -> Option<i64> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|dt| dt.with_timezone(&Utc).timestamp_micros())
    }

    #[test]
    fn the_hand_written_iso_text_is_chronos() {
        let span = Instant::MAX.0 - Instant::MIN.0;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let edges = [
            Instant::MIN.0,
            Instant::MAX.0,
            0,
            -1,
            1,
            951_782_400_000_000,     // 2000-02-29
            -2_203_891_200_000_000,  // 1900-03-01
            253_402_300_799_000_000, // 9999-12-31T23:59:59Z
        ];
        let randoms = (0..200_000).map(|i| {
            let at = Instant::MIN.0 + i64::try_from(rng.below(span.unsigned_abs())).unwrap_or(0);
            // Whole seconds and milliseconds too: the fraction's width depends on them.
            match i % 3 {
                0 => at - at.rem_euclid(1_000_000),
                1 => at - at.rem_euclid(1000),
                _ => at,
            }
        });
        for at in edges.into_iter().chain(randoms) {
            let i = Instant(at);
            let text = i.to_iso();
            assert_eq!(text, i.chrono_iso(), "{at}");
            assert_eq!(parse_canonical(&text), Some(i), "{text}");
            assert_eq!(chrono_parse(&text), Some(at), "{text}");
        }
        // Outside years 0-9999 chrono writes it (with a sign).
        for at in [Instant::MIN.0 - 400 * 366 * 86_400_000_000, i64::MAX / 2] {
            assert_eq!(Instant(at).to_iso(), Instant(at).chrono_iso());
        }
    }

    #[test]
    fn the_fast_reader_agrees_with_chrono_or_leaves_the_text_to_it() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut read = 0;
        for _ in 0..300_000 {
            // Canonical-looking text with fields that may be out of range, fractions of
            // 0 to 10 digits, and now and then a stray character.
            let mut s = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                rng.below(10_000),
                rng.below(14),
                rng.below(33),
                rng.below(26),
                rng.below(62),
                rng.below(62),
            );
            let digits = rng.below(11);
            if digits > 0 {
                s.push('.');
                for _ in 0..digits {
                    s.push(char::from(b'0' + u8::try_from(rng.below(10)).unwrap_or(0)));
                }
            }
            s.push(match rng.below(20) {
                0 => 'z',
                1 => '+',
                _ => 'Z',
            });
            if rng.below(50) == 0 {
                let at = usize::try_from(rng.below(s.len() as u64)).unwrap_or(0);
                s.replace_range(at..=at, "x");
            }
            if let Some(fast) = parse_canonical(&s) {
                read += 1;
                assert_eq!(Some(fast.0), chrono_parse(&s), "{s}");
            }
        }
        assert!(read > 100_000, "the fast reader read only {read} texts");
        assert_eq!(
            parse_canonical("2024-02-29T00:00:00Z"),
            Some(Instant(1_709_164_800_000_000))
        );
        assert_eq!(parse_canonical("2023-02-29T00:00:00Z"), None);
        assert_eq!(
            parse_canonical("2016-12-31T23:59:60Z"),
            None,
            "leap seconds: chrono's"
        );
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
