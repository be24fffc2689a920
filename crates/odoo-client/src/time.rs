//! Odoo's clock arithmetic without a date library: Odoo datetimes are naive UTC strings
//! "YYYY-MM-DD HH:MM:SS", and the HTTP `Date` header (RFC 7231) is how we read Odoo's clock.

/// Seconds since the Unix epoch, UTC, whole seconds: the only resolution the API exposes.
pub type UnixSeconds = i64;

use civil::{civil_from_days, days_from_civil};

/// Renders seconds as Odoo renders datetimes: `2026-11-25 13:35:06`.
pub fn format_odoo(ts: UnixSeconds) -> String {
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Parses Odoo's `YYYY-MM-DD HH:MM:SS` (a `T` separator and a fraction are tolerated; the
/// fraction is dropped because the API works in whole seconds).
pub fn parse_odoo(s: &str) -> Option<UnixSeconds> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Parses an HTTP `Date` header: `Wed, 25 Nov 2026 13:50:36 GMT`.
pub fn parse_http_date(s: &str) -> Option<UnixSeconds> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let d: u32 = parts[1].parse().ok()?;
    let m = MONTHS.iter().position(|x| *x == parts[2])? as u32 + 1;
    let y: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4].split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if hms.len() != 3 || d == 0 || d > 31 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_odoo_datetimes() {
        for s in ["1970-01-01 00:00:00", "2026-11-25 13:35:06", "2000-02-29 23:59:59", "1969-12-31 23:59:59"] {
            assert_eq!(format_odoo(parse_odoo(s).unwrap()), s);
        }
        assert_eq!(parse_odoo("2026-11-25T13:35:06"), parse_odoo("2026-11-25 13:35:06"));
        assert_eq!(parse_odoo("2026-11-25 13:35:06.329846"), parse_odoo("2026-11-25 13:35:06"));
        assert_eq!(parse_odoo("2026-13-25 13:35:06"), None);
        assert_eq!(parse_odoo("false"), None);
    }

    #[test]
    fn reads_http_dates() {
        let t = parse_http_date("Wed, 25 Nov 2026 13:50:36 GMT").unwrap();
        assert_eq!(format_odoo(t), "2026-11-25 13:50:36");
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
