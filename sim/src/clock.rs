//! The simulator's clock and the date/time formats Odoo uses.
//!
//! Times are microseconds since the Unix epoch (UTC), like PostgreSQL's `timestamp`. The clock
//! starts at the real time or at `--clock`, then advances with real time; control calls can
//! jump it forward or set it, so that tests do not have to sleep.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub const MICROS: i64 = 1_000_000;
pub const DAY: i64 = 86_400 * MICROS;

pub struct Clock {
    inner: Mutex<(i64, Instant)>,
}

impl Clock {
    pub fn new(start: Option<i64>) -> Clock {
        let base = start.unwrap_or_else(real_now_micros);
        Clock { inner: Mutex::new((base, Instant::now())) }
    }

    pub fn now(&self) -> i64 {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 + g.1.elapsed().as_micros() as i64
    }

    pub fn advance(&self, micros: i64) -> i64 {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += micros;
        g.0 + g.1.elapsed().as_micros() as i64
    }

    pub fn set(&self, now: i64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *g = (now, Instant::now());
    }
}

pub fn real_now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

struct Parts {
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    us: i64,
    days: i64,
}

fn parts(micros: i64) -> Parts {
    let days = micros.div_euclid(DAY);
    let rem = micros.rem_euclid(DAY);
    let (y, mo, d) = civil_from_days(days);
    let secs = rem / MICROS;
    Parts { y, mo, d, h: secs / 3600, mi: secs / 60 % 60, s: secs % 60, us: rem % MICROS, days }
}

fn push2(out: &mut String, v: i64) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

fn push4(out: &mut String, v: i64) {
    push2(out, v / 100);
    push2(out, v % 100);
}

/// `YYYY-MM-DD HH:MM:SS` (Odoo's datetime format: UTC, no zone, no fraction: truncated).
pub fn write_dt(out: &mut String, micros: i64) {
    let p = parts(micros);
    push4(out, p.y);
    out.push('-');
    push2(out, p.mo);
    out.push('-');
    push2(out, p.d);
    out.push(' ');
    push2(out, p.h);
    out.push(':');
    push2(out, p.mi);
    out.push(':');
    push2(out, p.s);
}

pub fn fmt_dt(micros: i64) -> String {
    let mut s = String::with_capacity(19);
    write_dt(&mut s, micros);
    s
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, the stored value (used by the control interface).
pub fn fmt_dt_micro(micros: i64) -> String {
    let mut s = fmt_dt(micros);
    let us = parts(micros).us;
    s.push('.');
    s.push_str(&format!("{:06}", us));
    s
}

pub fn fmt_date(micros: i64) -> String {
    let p = parts(micros);
    format!("{:04}-{:02}-{:02}", p.y, p.mo, p.d)
}

/// RFC 7231 IMF-fixdate, whole seconds: `Wed, 25 Nov 2026 13:35:06 GMT`.
pub fn http_date(micros: i64) -> String {
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let p = parts(micros);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WD[p.days.rem_euclid(7) as usize],
        p.d,
        MO[(p.mo - 1) as usize],
        p.y,
        p.h,
        p.mi,
        p.s
    )
}

fn num(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64))
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, with `T` instead of the space, an optional
/// fraction of up to 6 digits and an optional trailing `Z`. Returns microseconds.
pub fn parse_dt(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut micros = days_from_civil(y, mo, d) * DAY;
    if b.len() == 10 {
        return Some(micros);
    }
    if b.len() < 19 || (b[10] != b' ' && b[10] != b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    micros += (h * 3600 + mi * 60 + sec) * MICROS;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() > 26 || b.len() == 20 {
            return None;
        }
        let frac = &b[20..];
        let mut us = num(frac)?;
        for _ in frac.len()..6 {
            us *= 10;
        }
        micros += us;
    }
    Some(micros)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let t = parse_dt("2026-11-25 13:35:06.329846").unwrap();
        assert_eq!(fmt_dt(t), "2026-11-25 13:35:06");
        assert_eq!(fmt_dt_micro(t), "2026-11-25 13:35:06.329846");
        assert_eq!(parse_dt("2026-11-25T13:35:06"), parse_dt("2026-11-25 13:35:06"));
        assert_eq!(http_date(t), "Wed, 25 Nov 2026 13:35:06 GMT");
        assert_eq!(parse_dt("2026-11-25 13:35:06.5").unwrap() % MICROS, 500_000);
        assert!(parse_dt("2026-02-30").is_none());
        assert!(parse_dt("nope").is_none());
        assert_eq!(fmt_dt(parse_dt("1969-12-31 23:59:59").unwrap()), "1969-12-31 23:59:59");
    }
}
