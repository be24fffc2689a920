//! Cron schedules as pg_cron and the reference's SYNC_SCHEDULE write them (`*/15 * * * *`:
//! minute, hour, day of month, month, day of week), plus an optional leading seconds field
//! (`*/5 * * * * *`) for tests and short intervals, and `@hourly` / `@daily`. Times are UTC,
//! as in pg_cron. Day of month and day of week combine as in cron: when both are restricted
//! (anything but a bare `*`), either may match. (pg_cron, like Vixie cron, also counts a field
//! that starts with `*`, as `*/2`, as unrestricted; croner agrees with us.) The parser is ours and the calendar chrono's (CONTRIBUTING.md, "Hand-written
//! or a library", says why not the `croner` or `cron` crate).

use chrono::{DateTime, Datelike, Days, Months, NaiveTime, Timelike};
use std::fmt;

/// How far ahead [`Schedule::next_after`] looks: nine years. The longest wait for a schedule
/// that runs at all is eight years (29 February, from 2096 to 2104: 2100 is no leap year).
const HORIZON_DAYS: u64 = 9 * 366;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    seconds: Vec<bool>,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn field(spec: &str, name: &str, min: u32, max: u32) -> Result<Vec<bool>, ParseError> {
    let err = |why: &str| {
        ParseError(format!("{name} field \"{spec}\": {why} (allowed {min}-{max}, *, */n, a-b, a-b/n, lists)"))
    };
    // Digits only: Rust's parse would also take a sign, and `+` means something else to croner.
    let number = |text: &str, why: &str| {
        if text.bytes().all(|c| c.is_ascii_digit()) {
            text.parse::<u32>().map_err(|_| err(why))
        } else {
            Err(err(why))
        }
    };
    let mut set = vec![false; max as usize + 1];
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, number(s, "bad step")?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(err("step 0"));
        }
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, "bad number")?, number(b, "bad number")?)
        } else {
            let v = number(range, "bad number")?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(err("out of range"));
        }
        let mut v = lo;
        while v <= hi {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok(set)
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ParseError> {
        let expanded = match text.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest) = match parts.len() {
            5 => ("0", &parts[..]),
            6 => (parts[0], &parts[1..]),
            n => {
                return Err(ParseError(format!(
                "\"{text}\" has {n} fields; a cron schedule has 5 (minute hour day month weekday) or 6 (seconds first)"
            )))
            }
        };
        let mut weekdays = field(rest[4], "day-of-week", 0, 7)?;
        if weekdays[7] {
            weekdays[0] = true; // 7 is Sunday too
        }
        Ok(Schedule {
            seconds: field(sec, "seconds", 0, 59)?,
            minutes: field(rest[0], "minute", 0, 59)?,
            hours: field(rest[1], "hour", 0, 23)?,
            days: field(rest[2], "day-of-month", 1, 31)?,
            months: field(rest[3], "month", 1, 12)?,
            weekdays,
            days_restricted: rest[2] != "*",
            weekdays_restricted: rest[4] != "*",
        })
    }

    fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let d = self.days[day as usize];
        let w = self.weekdays[weekday as usize];
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => d || w,
            (true, false) => d,
            (false, true) => w,
            (false, false) => true,
        }
    }

    /// The first time strictly after `after` (Unix seconds, UTC) that the schedule matches;
    /// None if there is none within nine years (e.g. 31 February).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let from = DateTime::from_timestamp(after.checked_add(1)?, 0)?.naive_utc();
        let last = from.date().checked_add_days(Days::new(HORIZON_DAYS))?;
        let (mut day, mut not_before) = (from.date(), from.time().num_seconds_from_midnight());
        while day <= last {
            if !self.months[day.month() as usize] {
                day = day.with_day(1)?.checked_add_months(Months::new(1))?;
                not_before = 0;
                continue;
            }
            if self.day_matches(day.day(), day.weekday().num_days_from_sunday()) {
                if let Some(secs) = self.first_second_of_day(not_before) {
                    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)?;
                    return Some(day.and_time(time).and_utc().timestamp());
                }
            }
            day = day.succ_opt()?;
            not_before = 0;
        }
        None
    }

    /// The first second of a matching day, at or after `not_before` seconds past midnight, that
    /// the hour, minute and second fields match.
    fn first_second_of_day(&self, not_before: u32) -> Option<u32> {
        let (h0, m0, s0) = (not_before / 3600, not_before % 3600 / 60, not_before % 60);
        for h in (h0..24).filter(|&h| self.hours[h as usize]) {
            let m_from = if h == h0 { m0 } else { 0 };
            for m in (m_from..60).filter(|&m| self.minutes[m as usize]) {
                let s_from = if (h, m) == (h0, m0) { s0 } else { 0 };
                if let Some(s) = (s_from..60).find(|&s| self.seconds[s as usize]) {
                    return Some(h * 3600 + m * 60 + s);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-25 13:50:36 UTC, a Wednesday.
    const T: i64 = 1_795_614_636;

    fn hms(t: i64) -> (i64, i64, i64) {
        let s = t.rem_euclid(86_400);
        (s / 3600, s % 3600 / 60, s % 60)
    }

    fn ymd(t: i64) -> (i32, u32, u32) {
        let d = DateTime::from_timestamp(t, 0).unwrap().date_naive();
        (d.year(), d.month(), d.day())
    }

    fn at(text: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap().and_utc().timestamp()
    }

    #[test]
    fn every_fifteen_minutes() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        let n = s.next_after(T).unwrap();
        assert_eq!(hms(n), (14, 0, 0));
        assert_eq!(s.next_after(n).unwrap() - n, 900);
    }

    #[test]
    fn hourly_and_seconds() {
        assert_eq!(hms(Schedule::parse("@hourly").unwrap().next_after(T).unwrap()), (14, 0, 0));
        let s = Schedule::parse("*/5 * * * * *").unwrap();
        assert_eq!(hms(s.next_after(T).unwrap()), (13, 50, 40));
    }

    #[test]
    fn days_months_and_weekdays() {
        // Mondays at 02:30: the next is 2026-11-30.
        let n = Schedule::parse("30 2 * * 1").unwrap().next_after(T).unwrap();
        assert_eq!((n - T) / 86_400, 4);
        assert_eq!(hms(n), (2, 30, 0));
        // 1 January at midnight.
        let n = Schedule::parse("0 0 1 1 *").unwrap().next_after(T).unwrap();
        assert_eq!(ymd(n), (2027, 1, 1));
        assert_eq!(Schedule::parse("0 0 31 2 *").unwrap().next_after(T), None);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "* * * *", "61 * * * *", "*/0 * * * *", "a b c d e", "1-0 * * * *", "* * * * * * *"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_signed_numbers() {
        // Rust's parse takes "+5" as 5; cron has no signs (and to croner `+` means "and").
        for bad in ["+5 * * * *", "0 0 1 * +1", "*/+5 * * * *", "1-+5 * * * *", "0 0 -1 * *"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_leap_day_across_a_century_that_is_no_leap_year() {
        // After 29 February 2096 the next is 2104: 2100 is not a leap year.
        let s = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(s.next_after(at("2096-03-01 00:00:00")), Some(at("2104-02-29 00:00:00")));
        assert_eq!(s.next_after(T), Some(at("2028-02-29 00:00:00")));
        assert_eq!(Schedule::parse("0 0 31 4 *").unwrap().next_after(T), None);
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // The 13th or a Friday; the 1st to the 7th or a Monday; only Sundays (7 is Sunday too).
        assert_eq!(Schedule::parse("0 0 13 * 5").unwrap().next_after(T), Some(at("2026-11-27 00:00:00")));
        assert_eq!(Schedule::parse("0 0 1-7 * 1").unwrap().next_after(T), Some(at("2026-11-30 00:00:00")));
        assert_eq!(Schedule::parse("0 0 1-7 * 4").unwrap().next_after(T), Some(at("2026-11-26 00:00:00")));
        assert_eq!(Schedule::parse("0 0 * * 7").unwrap().next_after(T), Some(at("2026-11-29 00:00:00")));
        assert_eq!(Schedule::parse("0 0 13 * *").unwrap().next_after(T), Some(at("2026-12-13 00:00:00")));
    }

    #[test]
    fn next_after_is_the_first_matching_second() {
        // Against a scan of every second with chrono's fields, from starts around day, hour and
        // year boundaries.
        let matches = |s: &Schedule, t: i64| {
            let d = DateTime::from_timestamp(t, 0).unwrap().naive_utc();
            s.seconds[d.second() as usize]
                && s.minutes[d.minute() as usize]
                && s.hours[d.hour() as usize]
                && s.months[d.month() as usize]
                && s.day_matches(d.day(), d.weekday().num_days_from_sunday())
        };
        let starts = [T, at("2026-12-31 23:59:59"), at("2028-02-28 23:58:30"), at("1969-12-31 23:30:00"), T + 1234];
        for text in
            ["*/15 * * * *", "*/7 */5 * * * *", "59 23 * * *", "10-50/20 3,4 * * *", "30 0 1,15 * 5", "5 0 * 1,3,11 *"]
        {
            let s = Schedule::parse(text).unwrap();
            for start in starts {
                let scanned = (start + 1..start + 3 * 86_400).find(|&t| matches(&s, t));
                assert!(scanned.is_some(), "{text} after {start}: the scan is too short");
                assert_eq!(s.next_after(start), scanned, "{text} after {start}");
            }
        }
    }
}
