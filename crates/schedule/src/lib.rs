//! Cron schedules as pg_cron and the reference's SYNC_SCHEDULE write them (`*/15 * * * *`:
//! minute, hour, day of month, month, day of week), plus an optional leading seconds field
//! (`*/5 * * * * *`) for tests and short intervals, and `@hourly` / `@daily`. Times are UTC,
//! as in pg_cron. Day of month and day of week combine as in cron: when both are restricted,
//! either may match.

use civil::civil_from_days;
use std::fmt;

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
    let mut set = vec![false; max as usize + 1];
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| err("bad step"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(err("step 0"));
        }
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().map_err(|_| err("bad number"))?, b.parse().map_err(|_| err("bad number"))?)
        } else {
            let v: u32 = range.parse().map_err(|_| err("bad number"))?;
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
    /// None if there is none within about four years (e.g. 31 February).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let mut t = after + 1;
        let limit = after + 4 * 366 * 86_400;
        while t < limit {
            let days = t.div_euclid(86_400);
            let (_, month, day) = civil_from_days(days);
            let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
            if !self.months[month as usize] || !self.day_matches(day, weekday) {
                t = (days + 1) * 86_400;
                continue;
            }
            let secs = t.rem_euclid(86_400);
            let (h, m, s) = ((secs / 3600) as usize, (secs % 3600 / 60) as usize, (secs % 60) as usize);
            if !self.hours[h] {
                t = days * 86_400 + (h as i64 + 1) * 3600;
                continue;
            }
            if !self.minutes[m] {
                t = days * 86_400 + h as i64 * 3600 + (m as i64 + 1) * 60;
                continue;
            }
            if !self.seconds[s] {
                t += 1;
                continue;
            }
            return Some(t);
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
        assert_eq!(civil_from_days(n / 86_400), (2027, 1, 1));
        assert_eq!(Schedule::parse("0 0 31 2 *").unwrap().next_after(T), None);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "* * * *", "61 * * * *", "*/0 * * * *", "a b c d e", "1-0 * * * *", "* * * * * * *"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
