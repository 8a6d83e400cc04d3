//! Running syncs unattended: every interval, with jitter, backing off after
//! failures, stopping cleanly when asked.
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{record_interrupted, sync, SyncOptions, SyncReport};
use crate::conn::ConnSpec;
use crate::error::Error;

/// When syncs run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Time between the starts of two successful syncs.
    pub every: Duration,
    /// Random spread, as a fraction of `every` (0.1 = ±10 %).
    pub jitter: f64,
    /// First retry delay after a failure (doubles per consecutive failure, capped at `every`).
    pub retry: Duration,
    /// Deadline of one cycle: a cycle still running after it is cancelled
    /// (rolled back), recorded as failed and retried with back-off. `None`:
    /// [`Schedule::cycle_deadline`]'s default.
    pub cycle_timeout: Option<Duration>,
}

impl Schedule {
    /// Every `every`, ±10 % jitter, first retry after 30 s (or `every` if shorter).
    pub fn every(every: Duration) -> Self {
        Schedule {
            every,
            jitter: 0.1,
            retry: Duration::from_secs(30).min(every),
            cycle_timeout: None,
        }
    }

    /// The deadline of the next cycle: `cycle_timeout` when set; else four
    /// times the last successful cycle, at least 10 minutes; else (no cycle
    /// succeeded yet) one hour. (`sync_every` doubles a default deadline
    /// after each cycle it cut short, until one succeeds.)
    pub fn cycle_deadline(&self, last_good: Option<Duration>) -> Duration {
        self.cycle_timeout.unwrap_or_else(|| match last_good {
            Some(d) => d.saturating_mul(4).max(Duration::from_secs(600)),
            None => Duration::from_secs(3600),
        })
    }

    /// Delay before the next sync after `failures` consecutive failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let base = if failures == 0 {
            self.every
        } else {
            let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
            self.retry.saturating_mul(factor).min(self.every)
        };
        // Cheap jitter source: the clock's nanoseconds.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let unit = f64::from(nanos % 1_000_000) / 1_000_000.0 * 2.0 - 1.0; // -1..1
        base.mul_f64((1.0 + self.jitter * unit).max(0.0))
    }
}

/// One cycle's outcome, for logging.
#[derive(Debug)]
pub struct Cycle {
    /// 1-based cycle number.
    pub number: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// The sync's result.
    pub result: Result<SyncReport, Error>,
    /// Delay until the next cycle.
    pub next_in: Duration,
}

/// Syncs on `schedule` until `shutdown` completes. A sync in flight when
/// `shutdown` fires is dropped (its target transaction rolls back) and
/// recorded as interrupted. Never two syncs at once: each cycle takes the
/// target's advisory lock; a cycle that finds it taken fails and is retried.
pub async fn sync_every<S, F>(
    source: &ConnSpec,
    target: &ConnSpec,
    opts: &SyncOptions,
    schedule: Schedule,
    shutdown: S,
    mut on_cycle: F,
) where
    S: Future<Output = ()>,
    F: FnMut(&Cycle),
{
    futures::pin_mut!(shutdown);
    let mut failures = 0u32;
    let mut last_good: Option<Duration> = None;
    // A default deadline that cut a cycle short doubles for the next one, so
    // a database that grew past it is not cancelled forever.
    let mut boost = 1u32;
    for number in 1.. {
        let started = Instant::now();
        let mut cycle_opts = opts.clone();
        cycle_opts.deadline = Some(schedule.cycle_deadline(last_good).saturating_mul(boost));
        let result = tokio::select! {
            biased;
            _ = &mut shutdown => {
                record_interrupted(source, target, "interrupted by a signal; rolled back").await;
                return;
            }
            r = sync(source, target, &cycle_opts) => r,
        };
        if result.is_ok() {
            last_good = Some(started.elapsed());
            boost = 1;
        } else if matches!(result, Err(Error::Deadline { .. })) && schedule.cycle_timeout.is_none()
        {
            boost = boost.saturating_mul(2).min(64);
        }
        failures = if result.is_ok() { 0 } else { failures + 1 };
        let next_in = schedule.delay(failures).saturating_sub(if failures == 0 {
            started.elapsed()
        } else {
            Duration::ZERO
        });
        on_cycle(&Cycle {
            number,
            elapsed: started.elapsed(),
            result,
            next_in,
        });
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(next_in) => {}
        }
    }
}

/// Parses `20m`, `2s`, `1h30m`, `500ms`, `90` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        if secs == 0 {
            return Err(format!("invalid duration {s:?}: must be more than zero"));
        }
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected e.g. 20m, 30s, 1h"))?;
        let secs = match unit.as_str() {
            "ms" => v / 1000.0,
            "s" => v,
            "m" | "min" => v * 60.0,
            "h" => v * 3600.0,
            "d" => v * 86400.0,
            _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
        };
        total = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| format!("invalid duration {s:?}: too long"))?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(format!(
            "invalid duration {s:?}: expected e.g. 20m, 30s, 1h"
        ));
    }
    if total.is_zero() {
        return Err(format!("invalid duration {s:?}: must be more than zero"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20m").unwrap(), Duration::from_secs(1200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = Schedule {
            every: Duration::from_secs(600),
            jitter: 0.0,
            retry: Duration::from_secs(30),
            cycle_timeout: None,
        };
        assert_eq!(s.delay(0), Duration::from_secs(600));
        assert_eq!(s.delay(1), Duration::from_secs(30));
        assert_eq!(s.delay(2), Duration::from_secs(60));
        assert_eq!(s.delay(5), Duration::from_secs(480));
        assert_eq!(s.delay(9), Duration::from_secs(600));
        let j = Schedule { jitter: 0.1, ..s };
        let d = j.delay(0).as_secs_f64();
        assert!((540.0..=660.0).contains(&d), "{d}");
    }

    #[test]
    fn cycle_deadline_follows_the_last_good_cycle() {
        let s = Schedule::every(Duration::from_secs(60));
        assert_eq!(s.cycle_deadline(None), Duration::from_secs(3600));
        assert_eq!(
            s.cycle_deadline(Some(Duration::from_secs(5))),
            Duration::from_secs(600)
        );
        assert_eq!(
            s.cycle_deadline(Some(Duration::from_secs(900))),
            Duration::from_secs(3600)
        );
        let fixed = Schedule {
            cycle_timeout: Some(Duration::from_secs(7)),
            ..s
        };
        assert_eq!(
            fixed.cycle_deadline(Some(Duration::from_secs(900))),
            Duration::from_secs(7)
        );
    }
}
