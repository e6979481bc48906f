//! Progress of long work: the hook a caller hands to a long core call, and the throttle
//! ([`Meter`]) through which the call's loop reports to it.
//!
//! A call that takes a hook (`Option<&mut dyn Progress>`) reports `(0, total)` first,
//! then a growing `done` strictly between 0 and `total` — at most once per 1 % of
//! `total`, and once per 100 ms while a 1 % step takes longer — then `(total, total)`
//! once, when the work succeeded. `total` stays the same through the call and is counted
//! in the call's own unit (bytes of a document, events of a log). A hook that returns
//! [`Stop`] stops the work: the call returns `Error::Stopped` carrying it, having changed
//! nothing (a read changes nothing anyway; a load or an import builds its result aside
//! and keeps its all-or-nothing contract). Without a hook a call pays one comparison per
//! step.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a layer whose errors cannot carry a [`Stop`] says when its [`Meter`]'s hook stopped
/// the work; the caller hands back [`Meter::stopped`] instead.
pub const STOPPED: &str = "the work was stopped by its progress callback";

/// The hook's own error, which stopped the work; the call returns it as
/// `Error::Stopped`, and the binding hands the caller's exception back unchanged.
#[derive(Clone)]
pub struct Stop(Arc<dyn std::error::Error + Send + Sync>);

impl Stop {
    /// Stops the work because of `reason`.
    pub fn new(reason: impl std::error::Error + Send + Sync + 'static) -> Self {
        Stop(Arc::new(reason))
    }

    /// What the hook raised.
    pub fn reason(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stop").field(&self.0.to_string()).finish()
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped by the progress callback: {}", self.0)
    }
}

impl std::error::Error for Stop {}

/// Two stops are equal when they carry the same error (so `Error` stays `Eq`).
impl PartialEq for Stop {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Stop {}

/// What long work reports to: `report(done, total)`; an error stops the work.
pub trait Progress {
    /// `done` units of `total` are done.
    /// An error ([`Stop`]) stops the work.
    fn report(&mut self, done: u64, total: u64) -> Result<(), Stop>;
}

impl<F: FnMut(u64, u64) -> Result<(), Stop>> Progress for F {
    fn report(&mut self, done: u64, total: u64) -> Result<(), Stop> {
        self(done, total)
    }
}

/// The optional hook a long call takes.
pub type Hook<'a> = Option<&'a mut dyn Progress>;

/// The hook of work done in two passes of `first` and `second` units, each reporting to
/// it as a call of its own (from `(0, its total)` to `(its total, its total)`): the hook
/// underneath hears one call of `first + second` units, the first pass's first.
pub struct Passes<'a> {
    hook: &'a mut dyn Progress,
    first: u64,
    second: u64,
    in_second: bool,
    /// The last `done` passed on (`None` before the start).
    last: Option<u64>,
}

impl<'a> Passes<'a> {
    /// Two passes of `first` and `second` units reporting to `hook`.
    pub fn new(hook: &'a mut dyn Progress, first: u64, second: u64) -> Self {
        Passes {
            hook,
            first,
            second,
            in_second: false,
            last: None,
        }
    }

    /// The second pass begins.
    pub fn next(&mut self) {
        self.in_second = true;
    }
}

impl Progress for Passes<'_> {
    fn report(&mut self, done: u64, total: u64) -> Result<(), Stop> {
        let all = self.first.saturating_add(self.second);
        // Each pass's own units, scaled to the share it was given.
        let scaled = |share: u64| {
            if total == 0 {
                share
            } else {
                u64::try_from(u128::from(done.min(total)) * u128::from(share) / u128::from(total))
                    .unwrap_or(share)
            }
        };
        let at = if self.in_second {
            // Only the second pass's end is the end.
            let d = self.first.saturating_add(scaled(self.second));
            if done < total {
                d.min(all.saturating_sub(1))
            } else {
                all
            }
        } else {
            scaled(self.first).min(all.saturating_sub(1))
        };
        // Passed on only going forward (the start once, the end once).
        if self.last.is_some_and(|l| at <= l) {
            return Ok(());
        }
        self.last = Some(at);
        self.hook.report(at, all)
    }
}

/// Reports at most this often while a 1 % step takes longer.
const EVERY: Duration = Duration::from_millis(100);

/// Reports at most once per 1 % of the total (`total / STEPS` units).
const STEPS: u64 = 100;

/// Reads the clock at most once per 0.1 % of the total.
const TICKS: u64 = 1000;

/// The throttle between a loop and its hook: the loop calls [`Meter::at`] with how much
/// is done after each step (one comparison without a hook, or until the next check),
/// and [`Meter::finish`] when the work succeeded.
pub struct Meter<'a> {
    hook: Option<&'a mut dyn Progress>,
    total: u64,
    /// The last `done` reported.
    last: u64,
    /// Report when `done` reaches this.
    next: u64,
    /// Look again (at `next` and the clock) when `done` reaches this; `u64::MAX`
    /// without a hook.
    check: u64,
    /// When the hook last heard.
    heard: Instant,
    /// Whether `(0, total)` was reported ([`Meter::later`] waits for [`Meter::begin`]).
    begun: bool,
    /// What the hook stopped the work with, kept for a caller whose own error type
    /// cannot carry it ([`Meter::stopped`]).
    stop: Option<Stop>,
}

impl<'a> Meter<'a> {
    /// A meter for `total` units, reporting `(0, total)` to `hook` now.
    pub fn start(hook: Hook<'a>, total: u64) -> Result<Self, Stop> {
        let mut meter = Meter {
            hook,
            total,
            last: 0,
            next: step(total),
            check: u64::MAX,
            heard: Instant::now(),
            begun: false,
            stop: None,
        };
        meter.begin(total)?;
        Ok(meter)
    }

    /// A meter whose total is learnt during the work: it reports nothing until
    /// [`Meter::begin`] tells it the total.
    pub fn later(hook: Hook<'a>) -> Self {
        Meter {
            hook,
            total: 0,
            last: 0,
            next: u64::MAX,
            check: u64::MAX,
            heard: Instant::now(),
            begun: false,
            stop: None,
        }
    }

    /// The work counts `total` units: reports `(0, total)`. Only the first call counts:
    /// work that starts over (a read retried) goes on with the same total, and reports
    /// again once it gets past where it was.
    pub fn begin(&mut self, total: u64) -> Result<(), Stop> {
        if self.begun {
            return Ok(());
        }
        self.begun = true;
        self.total = total;
        self.next = step(total);
        if let Some(h) = self.hook.as_deref_mut() {
            if let Err(stop) = h.report(0, total) {
                self.stop = Some(stop.clone());
                return Err(stop);
            }
            self.check = tick(total).min(self.next);
        }
        Ok(())
    }

    /// The [`Stop`] the hook returned, if it stopped the work.
    pub fn stopped(&self) -> Option<Stop> {
        self.stop.clone()
    }

    /// A meter without a hook: reports nothing.
    pub fn none() -> Meter<'static> {
        Meter {
            hook: None,
            total: 0,
            last: 0,
            next: u64::MAX,
            check: u64::MAX,
            heard: Instant::now(),
            begun: true,
            stop: None,
        }
    }

    /// Whether a hook listens (a caller may skip counting work without one).
    pub fn listens(&self) -> bool {
        self.hook.is_some()
    }

    /// The total the meter counts to.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// `done` units are done.
    #[inline]
    pub fn at(&mut self, done: u64) -> Result<(), Stop> {
        if done < self.check {
            return Ok(());
        }
        self.look(done)
    }

    #[cold]
    fn look(&mut self, done: u64) -> Result<(), Stop> {
        let Some(hook) = self.hook.as_deref_mut() else {
            return Ok(());
        };
        if done >= self.total {
            // `(total, total)` is `finish`'s, once.
            self.check = u64::MAX;
            return Ok(());
        }
        let now = Instant::now();
        if done > self.last && (done >= self.next || now.duration_since(self.heard) >= EVERY) {
            if let Err(stop) = hook.report(done, self.total) {
                self.stop = Some(stop.clone());
                return Err(stop);
            }
            self.last = done;
            self.next = done.saturating_add(step(self.total));
            self.heard = Instant::now();
        }
        self.check = done.saturating_add(tick(self.total)).min(self.next);
        Ok(())
    }

    /// The work succeeded: reports `(total, total)` (after `(0, total)` if the work
    /// never learnt its total: a [`Meter::later`] never begun counts nothing, `0`).
    pub fn finish(mut self) -> Result<(), Stop> {
        self.begin(0)?;
        match self.hook.as_deref_mut() {
            Some(h) => h.report(self.total, self.total),
            None => Ok(()),
        }
    }
}

fn step(total: u64) -> u64 {
    (total / STEPS).max(1)
}

fn tick(total: u64) -> u64 {
    (total / TICKS).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Enough;
    impl fmt::Display for Enough {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("enough")
        }
    }
    impl std::error::Error for Enough {}

    fn run(total: u64, upto: u64, calls: &mut Vec<(u64, u64)>) -> Result<(), Stop> {
        let mut hook = |d: u64, t: u64| {
            calls.push((d, t));
            Ok(())
        };
        let mut m = Meter::start(Some(&mut hook), total)?;
        for done in 1..=upto {
            m.at(done)?;
        }
        m.finish()
    }

    #[test]
    fn reports_start_each_percent_and_the_end_once() -> Result<(), Stop> {
        let mut calls = Vec::new();
        run(100_000, 100_000, &mut calls)?;
        assert_eq!(calls.first(), Some(&(0, 100_000)));
        assert_eq!(calls.last(), Some(&(100_000, 100_000)));
        assert_eq!(calls.iter().filter(|c| c.0 == 100_000).count(), 1);
        let inner = calls.get(1..calls.len() - 1).unwrap_or_default();
        let middle: Vec<u64> = inner.iter().map(|c| c.0).collect();
        // Every 1 %: 99 steps strictly between 0 and the total (a slow machine may add
        // a few by the clock, never more than one per 100 ms).
        assert!(middle.len() >= 99 && middle.len() < 120, "{}", middle.len());
        assert!(
            middle.windows(2).all(|w| w.first() < w.last()),
            "{middle:?}"
        );
        assert!(middle.iter().all(|&d| d > 0 && d < 100_000));
        assert!(calls.iter().all(|c| c.1 == 100_000));
        Ok(())
    }

    #[test]
    fn small_totals_report_every_unit_and_zero_reports_start_and_end() -> Result<(), Stop> {
        let mut calls = Vec::new();
        run(3, 3, &mut calls)?;
        assert_eq!(calls, [(0, 3), (1, 3), (2, 3), (3, 3)]);
        calls.clear();
        run(0, 0, &mut calls)?;
        assert_eq!(calls, [(0, 0), (0, 0)]);
        Ok(())
    }

    #[test]
    fn a_slow_step_is_reported_after_100_ms() -> Result<(), Stop> {
        let mut calls = Vec::new();
        let mut hook = |d: u64, t: u64| {
            calls.push((d, t));
            Ok(())
        };
        // 1 % is 10_000 units: without the clock, units 1..=20 would say nothing.
        let mut m = Meter::start(Some(&mut hook), 1_000_000)?;
        m.at(1_000)?;
        std::thread::sleep(Duration::from_millis(120));
        m.at(2_000)?;
        m.at(2_500)?;
        m.finish()?;
        assert_eq!(
            calls,
            [(0, 1_000_000), (2_000, 1_000_000), (1_000_000, 1_000_000)]
        );
        Ok(())
    }

    #[test]
    fn never_goes_back_nor_reports_total_before_the_end() -> Result<(), Stop> {
        let mut calls = Vec::new();
        let mut hook = |d: u64, t: u64| {
            calls.push((d, t));
            Ok(())
        };
        {
            let mut m = Meter::start(Some(&mut hook), 10)?;
            for d in [5, 3, 5, 10, 12, 10] {
                m.at(d)?;
            }
        } // an error: no end
        assert_eq!(calls, [(0, 10), (5, 10)]);
        Ok(())
    }

    #[test]
    fn the_hooks_error_stops_the_loop() {
        let mut seen = 0;
        let mut hook = |d: u64, _t: u64| {
            seen = d;
            if d >= 50 {
                return Err(Stop::new(Enough));
            }
            Ok(())
        };
        let mut loops = 0;
        let result = (|| {
            let mut m = Meter::start(Some(&mut hook), 100)?;
            for d in 1..=100 {
                loops = d;
                m.at(d)?;
            }
            m.finish()
        })();
        let err = result.err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("stopped by the progress callback: enough")
        );
        assert_eq!((seen, loops), (50, 50));
    }

    #[test]
    fn without_a_hook_nothing_is_reported_and_no_check_is_due() -> Result<(), Stop> {
        let mut m = Meter::start(None, 1000)?;
        assert!(!m.listens());
        assert_eq!(m.check, u64::MAX);
        for d in 0..=1000 {
            m.at(d)?;
        }
        m.finish()?;
        let mut n = Meter::none();
        n.at(u64::MAX - 1)?;
        n.finish()
    }

    #[test]
    fn a_later_meter_reports_from_begin_and_keeps_its_first_total() -> Result<(), Stop> {
        let mut calls = Vec::new();
        let mut hook = |d: u64, t: u64| {
            calls.push((d, t));
            Ok(())
        };
        let mut m = Meter::later(Some(&mut hook));
        m.at(5)?; // before the total is known: nothing
        m.begin(4)?;
        m.at(1)?;
        m.at(2)?;
        // Started over: the same total, nothing reported until past 2.
        m.begin(9)?;
        m.at(1)?;
        m.at(2)?;
        m.at(3)?;
        m.finish()?;
        assert_eq!(calls, [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]);
        calls.clear();
        Meter::later(Some(&mut |d: u64, t: u64| {
            calls.push((d, t));
            Ok(())
        }))
        .finish()?;
        assert_eq!(calls, [(0, 0), (0, 0)]);
        Ok(())
    }

    #[test]
    fn a_meter_keeps_the_stop_its_hook_returned() {
        let stop = Stop::new(Enough);
        let given = stop.clone();
        let mut hook = move |d: u64, _t: u64| {
            if d >= 3 {
                return Err(given.clone());
            }
            Ok(())
        };
        let mut m = Meter::later(Some(&mut hook));
        assert!(m.begin(5).is_ok());
        assert!(m.stopped().is_none());
        assert!(m.at(3).is_err());
        assert_eq!(m.stopped(), Some(stop));
    }

    #[test]
    fn two_passes_are_heard_as_one_call() -> Result<(), Stop> {
        let mut calls = Vec::new();
        let mut hook = |d: u64, t: u64| {
            calls.push((d, t));
            Ok(())
        };
        let mut passes = Passes::new(&mut hook, 10, 30);
        let mut m = Meter::start(Some(&mut passes), 10)?;
        for d in 1..=10 {
            m.at(d)?;
        }
        m.finish()?;
        passes.next();
        // the second pass counts its own total (not the share it was given)
        let mut m = Meter::start(Some(&mut passes), 60)?;
        for d in 1..=60 {
            m.at(d)?;
        }
        m.finish()?;
        assert_eq!(calls.first(), Some(&(0, 40)));
        assert_eq!(calls.last(), Some(&(40, 40)));
        assert_eq!(calls.iter().filter(|c| c.0 == 40).count(), 1);
        let dones: Vec<u64> = calls.iter().map(|c| c.0).collect();
        assert!(dones.windows(2).all(|w| w.first() < w.last()), "{dones:?}");
        assert!(calls.iter().all(|c| c.1 == 40));
        assert!(dones.contains(&9) && dones.contains(&39), "{dones:?}");
        Ok(())
    }

    #[test]
    fn stops_compare_by_identity() {
        let a = Stop::new(Enough);
        assert_eq!(a, a.clone());
        assert_ne!(a, Stop::new(Enough));
        assert_eq!(a.reason().to_string(), "enough");
    }
}
