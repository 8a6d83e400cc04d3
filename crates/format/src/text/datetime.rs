//! date, time, timetz, timestamp, timestamptz and interval, as PostgreSQL
//! prints them with `DateStyle = ISO` and `IntervalStyle = postgres`.

use super::push_fmt;

/// Julian day number of 2000-01-01, PostgreSQL's epoch.
const POSTGRES_EPOCH_JDATE: i64 = 2_451_545;
const USECS_PER_DAY: i64 = 86_400_000_000;
const USECS_PER_HOUR: i64 = 3_600_000_000;
const USECS_PER_MINUTE: i64 = 60_000_000;
const USECS_PER_SEC: i64 = 1_000_000;
/// The first Julian day past the last valid date (5874897-12-31).
const DATE_END_JULIAN: i64 = 2_147_483_494;

/// Days since 2000-01-01: `2024-02-29`, `0044-03-15 BC`, `infinity`.
pub(super) fn date(days: i32, out: &mut Vec<u8>) -> Result<(), String> {
    match days {
        i32::MAX => out.extend_from_slice(b"infinity"),
        i32::MIN => out.extend_from_slice(b"-infinity"),
        _ => {
            let jd = i64::from(days) + POSTGRES_EPOCH_JDATE;
            if !(0..DATE_END_JULIAN).contains(&jd) {
                return Err(format!("date {days} is out of range"));
            }
            let (y, m, d) = j2date(jd);
            write_ymd(y, m, d, out);
            bc_suffix(y, out);
        }
    }
    Ok(())
}

/// Microseconds since 2000-01-01 00:00; with `utc`, a timestamptz printed in
/// UTC (`2024-01-02 03:04:05.5+00`, `0044-03-15 12:00:00+00 BC`).
pub(super) fn timestamp(usecs: i64, utc: bool, out: &mut Vec<u8>) -> Result<(), String> {
    match usecs {
        i64::MAX => out.extend_from_slice(b"infinity"),
        i64::MIN => out.extend_from_slice(b"-infinity"),
        _ => {
            let (days, time) = (
                usecs.div_euclid(USECS_PER_DAY),
                usecs.rem_euclid(USECS_PER_DAY),
            );
            let jd = days + POSTGRES_EPOCH_JDATE;
            if jd < 0 {
                return Err(format!("timestamp {usecs} is out of range"));
            }
            let (y, m, d) = j2date(jd);
            write_ymd(y, m, d, out);
            out.push(b' ');
            write_time(time, out);
            if utc {
                out.extend_from_slice(b"+00");
            }
            bc_suffix(y, out);
        }
    }
    Ok(())
}

/// Microseconds since midnight, up to `24:00:00`.
pub(super) fn time(usecs: i64, out: &mut Vec<u8>) -> Result<(), String> {
    if !(0..=USECS_PER_DAY).contains(&usecs) {
        return Err(format!("time {usecs} is out of range"));
    }
    write_time(usecs, out);
    Ok(())
}

/// A time and its zone, in seconds west of UTC: `12:00:00+05:30`.
pub(super) fn timetz(usecs: i64, zone: i32, out: &mut Vec<u8>) -> Result<(), String> {
    time(usecs, out)?;
    let east = -i64::from(zone);
    let abs = east.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    out.push(if east >= 0 { b'+' } else { b'-' });
    match (m, s) {
        (0, 0) => push_fmt(out, format_args!("{h:02}")),
        (_, 0) => push_fmt(out, format_args!("{h:02}:{m:02}")),
        _ => push_fmt(out, format_args!("{h:02}:{m:02}:{s:02}")),
    }
    Ok(())
}

/// An interval's three fields in `IntervalStyle = postgres`:
/// `1 year 2 mons -3 days +04:05:06.000007`. Once a field is negative, every
/// later positive one carries an explicit `+`, so the text also reads back
/// the same under `IntervalStyle = sql_standard`. All three fields at their
/// maximum (minimum) are PostgreSQL 17's `infinity` (`-infinity`).
pub(super) fn interval(usecs: i64, days: i32, months: i32, out: &mut Vec<u8>) {
    match (usecs, days, months) {
        (i64::MAX, i32::MAX, i32::MAX) => return out.extend_from_slice(b"infinity"),
        (i64::MIN, i32::MIN, i32::MIN) => return out.extend_from_slice(b"-infinity"),
        _ => {}
    }
    let start = out.len();
    let mut negative_before = false;
    for (value, unit) in [
        (i64::from(months / 12), "year"),
        (i64::from(months % 12), "mon"),
        (i64::from(days), "day"),
    ] {
        if value == 0 {
            continue;
        }
        let space = if out.len() > start { " " } else { "" };
        let plus = if negative_before && value > 0 {
            "+"
        } else {
            ""
        };
        let s = if value == 1 { "" } else { "s" };
        push_fmt(out, format_args!("{space}{plus}{value} {unit}{s}"));
        negative_before |= value < 0;
    }
    if out.len() == start || usecs != 0 {
        if out.len() > start {
            out.push(b' ');
        }
        if usecs == i64::MIN {
            // PostgreSQL (15 to 18 at least) cannot read its own
            // `-2562047788:00:54.775808` back; it reads this.
            out.extend_from_slice(b"-9223372036854775808 microseconds");
            return;
        }
        if usecs < 0 {
            out.push(b'-');
        } else if negative_before {
            out.push(b'+');
        }
        let abs = usecs.unsigned_abs();
        let usecs_per_hour = USECS_PER_HOUR.unsigned_abs();
        push_fmt(out, format_args!("{:02}:", abs / usecs_per_hour));
        write_min_sec(abs % usecs_per_hour, out);
    }
}

/// `HH:MM:SS[.ffffff]` of microseconds since midnight.
fn write_time(usecs: i64, out: &mut Vec<u8>) {
    let abs = usecs.unsigned_abs();
    let usecs_per_hour = USECS_PER_HOUR.unsigned_abs();
    push_fmt(out, format_args!("{:02}:", abs / usecs_per_hour));
    write_min_sec(abs % usecs_per_hour, out);
}

/// `MM:SS[.ffffff]` (fraction only when nonzero, trailing zeros trimmed).
fn write_min_sec(usecs: u64, out: &mut Vec<u8>) {
    let per_min = USECS_PER_MINUTE.unsigned_abs();
    let per_sec = USECS_PER_SEC.unsigned_abs();
    let (m, rest) = (usecs / per_min, usecs % per_min);
    let (s, frac) = (rest / per_sec, rest % per_sec);
    push_fmt(out, format_args!("{m:02}:{s:02}"));
    if frac != 0 {
        let digits = format!("{frac:06}");
        push_fmt(out, format_args!(".{}", digits.trim_end_matches('0')));
    }
}

/// `YYYY-MM-DD`, with the year of a BC date counted backwards from 1 BC.
fn write_ymd(year: i64, month: u32, day: u32, out: &mut Vec<u8>) {
    let year = if year <= 0 { 1 - year } else { year };
    push_fmt(out, format_args!("{year:04}-{month:02}-{day:02}"));
}

fn bc_suffix(year: i64, out: &mut Vec<u8>) {
    if year <= 0 {
        out.extend_from_slice(b" BC");
    }
}

/// Year (astronomical: 0 is 1 BC), month and day of a Julian day number
/// `jd >= 0`: PostgreSQL's `j2date`.
fn j2date(jd: i64) -> (i64, u32, u32) {
    let mut julian = jd.unsigned_abs() + 32044;
    let mut quad = julian / 146_097;
    let extra = (julian - quad * 146_097) * 4 + 3;
    julian += 60 + quad * 3 + extra / 146_097;
    quad = julian / 1461;
    julian -= quad * 1461;
    let mut y = julian * 4 / 1461;
    julian = if y != 0 {
        (julian + 305) % 365
    } else {
        (julian + 306) % 366
    } + 123;
    y += quad * 4;
    let quad = julian * 2141 / 65536;
    let day = julian - 7834 * quad / 256;
    let month = (quad + 10) % 12 + 1;
    // y < 2^31 + 4800 and day, month are small: the conversions are lossless.
    (y as i64 - 4800, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dates() {
        let d = |days: i32| show(|o| date(days, o).unwrap());
        assert_eq!(d(0), "2000-01-01");
        assert_eq!(d(-1), "1999-12-31");
        assert_eq!(d(59), "2000-02-29");
        assert_eq!(d(8825), "2024-02-29");
        assert_eq!(d(i32::MAX), "infinity");
        assert_eq!(d(i32::MIN), "-infinity");
        // 0001-01-01 and the day before it, 0001-12-31 BC.
        assert_eq!(d(-730_119), "0001-01-01");
        assert_eq!(d(-730_120), "0001-12-31 BC");
        // The first and last dates PostgreSQL has.
        assert_eq!(d(-2_451_545), "4714-11-24 BC");
        assert_eq!(d(2_147_483_493 - 2_451_545), "5874897-12-31");
        let mut out = Vec::new();
        assert!(date(-2_451_546, &mut out).is_err());
        assert!(date(2_147_483_494 - 2_451_545, &mut out).is_err());
    }

    #[test]
    fn timestamps() {
        let ts = |us: i64, utc: bool| show(|o| timestamp(us, utc, o).unwrap());
        assert_eq!(ts(0, false), "2000-01-01 00:00:00");
        assert_eq!(ts(-1, false), "1999-12-31 23:59:59.999999");
        assert_eq!(ts(1_500_000, true), "2000-01-01 00:00:01.5+00");
        assert_eq!(ts(i64::MAX, true), "infinity");
        assert_eq!(ts(i64::MIN, false), "-infinity");
        // 0044-03-15 12:00 BC: Julian day 1705428.
        let bc = ((1_705_428 - POSTGRES_EPOCH_JDATE) * 86_400 + 12 * 3600) * 1_000_000;
        assert_eq!(ts(bc, false), "0044-03-15 12:00:00 BC");
        assert_eq!(ts(bc + 120, true), "0044-03-15 12:00:00.00012+00 BC");
        assert_eq!(
            ts(9_223_371_331_199_999_999, false),
            "294276-12-31 23:59:59.999999"
        );
        assert!(timestamp(-211_813_488_000_000_001, false, &mut Vec::new()).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(show(|o| time(0, o).unwrap()), "00:00:00");
        assert_eq!(show(|o| time(USECS_PER_DAY, o).unwrap()), "24:00:00");
        assert_eq!(show(|o| time(45_296_000_100, o).unwrap()), "12:34:56.0001");
        assert!(time(USECS_PER_DAY + 1, &mut Vec::new()).is_err());
        assert!(time(-1, &mut Vec::new()).is_err());
        let tz = |zone: i32| show(|o| timetz(0, zone, o).unwrap());
        assert_eq!(tz(-3600), "00:00:00+01");
        assert_eq!(tz(0), "00:00:00+00");
        assert_eq!(tz(3600 * 5 + 1800), "00:00:00-05:30");
        assert_eq!(tz(-(5 * 3600 + 30 * 60 + 15)), "00:00:00+05:30:15");
    }

    #[test]
    fn intervals() {
        let iv = |us: i64, d: i32, m: i32| show(|o| interval(us, d, m, o));
        assert_eq!(iv(0, 0, 0), "00:00:00");
        assert_eq!(
            iv(14_706_000_007, -3, 14),
            "1 year 2 mons -3 days +04:05:06.000007"
        );
        assert_eq!(iv(0, 1, 1), "1 mon 1 day");
        assert_eq!(iv(0, 0, 12), "1 year");
        assert_eq!(iv(0, 0, -10), "-10 mons");
        assert_eq!(iv(-1, 0, 0), "-00:00:00.000001");
        assert_eq!(iv(1, -1, 0), "-1 days +00:00:00.000001");
        assert_eq!(
            iv(-3_600_000_000, 2, -13),
            "-1 years -1 mons +2 days -01:00:00"
        );
        assert_eq!(
            iv(i64::MIN + 1, i32::MIN, i32::MIN),
            "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807"
        );
        assert_eq!(
            iv(i64::MIN, 0, 1),
            "1 mon -9223372036854775808 microseconds"
        );
        assert_eq!(iv(i64::MIN, i32::MIN, i32::MIN), "-infinity");
        assert_eq!(iv(i64::MAX, i32::MAX, i32::MAX), "infinity");
        assert_eq!(
            iv(i64::MAX, 0, i32::MAX),
            "178956970 years 7 mons 2562047788:00:54.775807"
        );
    }
}
