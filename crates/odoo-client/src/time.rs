//! Odoo's clock: Odoo datetimes are naive UTC strings "YYYY-MM-DD HH:MM:SS", and the HTTP `Date`
//! header (RFC 9110) is how we read Odoo's clock. The calendar is chrono's and the `Date` header
//! httpdate's (CONTRIBUTING.md, "Hand-written or a library"); only real dates and times pass:
//! 31 February, month 13, hour 24 or second 60 are refused, not carried into the next day.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::time::UNIX_EPOCH;

/// Seconds since the Unix epoch, UTC, whole seconds: the only resolution the API exposes.
pub type UnixSeconds = i64;

/// Renders seconds as Odoo renders datetimes: `2026-11-25 13:35:06`. (Beyond chrono's range,
/// some 262,000 years either side of the epoch, it renders the end of the range.)
pub fn format_odoo(ts: UnixSeconds) -> String {
    let end = if ts < 0 { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC };
    DateTime::from_timestamp(ts, 0).unwrap_or(end).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Parses Odoo's `YYYY-MM-DD HH:MM:SS` (a `T` separator and a fraction of a second are tolerated;
/// the fraction is dropped because the API works in whole seconds). None unless it is a real UTC
/// date and time in exactly that layout.
pub fn parse_odoo(s: &str) -> Option<UnixSeconds> {
    let (head, fraction) = (s.get(..19)?, &s[19..]);
    let b = head.as_bytes();
    if !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let fraction_ok = match fraction.strip_prefix('.') {
        Some(f) => !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()),
        None => fraction.is_empty(),
    };
    if !fraction_ok {
        return None;
    }
    let date = odoo_date(&head[..10])?;
    let time = NaiveTime::from_hms_opt(digits(&head[11..13])?, digits(&head[14..16])?, digits(&head[17..19])?)?;
    Some(date.and_time(time).and_utc().timestamp())
}

/// Odoo's `YYYY-MM-DD`, a real date, or None.
pub(crate) fn odoo_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(&s[..4])? as i32, digits(&s[5..7])?, digits(&s[8..10])?)
}

/// A field of ASCII digits (no sign, no space) as a number.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses an HTTP `Date` header: `Wed, 25 Nov 2026 13:50:36 GMT` (IMF-fixdate), or the obsolete
/// forms HTTP still requires a recipient to read (RFC 850's `Wednesday, 25-Nov-26 13:50:36 GMT`,
/// asctime's `Wed Nov 25 13:50:36 2026`). None for anything else, a date before 1970 included.
pub fn parse_http_date(s: &str) -> Option<UnixSeconds> {
    let t = httpdate::parse_http_date(s).ok()?;
    i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()
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
    fn counts_days_across_eras_and_leap_days() {
        // Moved from the former `civil` crate: days since 1970-01-01 of fixed dates, and days
        // spread over years 0001 to 9999 (every 97th, at varying times) round-trip.
        for (date, days) in [("1970-01-01", 0), ("2000-02-29", 11_016), ("1969-12-31", -1), ("2026-11-25", 20_782)] {
            assert_eq!(parse_odoo(&format!("{date} 00:00:00")), Some(days * 86_400), "{date}");
            assert_eq!(format_odoo(days * 86_400), format!("{date} 00:00:00"));
        }
        for day in (-719_162_i64..2_932_897).step_by(97) {
            let ts = day * 86_400 + day.rem_euclid(86_400);
            assert_eq!(parse_odoo(&format_odoo(ts)), Some(ts), "{ts}");
        }
    }

    #[test]
    fn refuses_dates_and_times_that_do_not_exist() {
        assert_eq!(parse_odoo("2026-02-31 10:00:00"), None); // was 3 March
        assert_eq!(parse_odoo("2026-02-29 10:00:00"), None); // 2026 is not a leap year
        assert_eq!(parse_odoo("2028-02-29 10:00:00"), Some(1_835_431_200));
        assert_eq!(parse_odoo("2100-02-29 00:00:00"), None); // nor is 2100
        for bad in [
            "2026-04-31 10:00:00",
            "2026-00-10 10:00:00",
            "2026-11-00 10:00:00",
            "2026-11-25 24:00:00",
            "2026-11-25 23:60:00",
            "2026-11-25 23:59:60",
            "+026-11-25 13:35:06",
            "2026-11-25 13:35:-6",
            "2026-11-25 13:35:06junk",
            "2026-11-25 13:35:06.",
            "2026-11-25 13:35:06.5Z",
            "2026-11-25_13:35:06",
            "2026-11-25 13:35",
            "2026-11-2é 13:35:06",
            "2026-11-25 1é:35:06",
            "2026-11-25 13:35:06.é",
        ] {
            assert_eq!(parse_odoo(bad), None, "{bad}");
        }
        assert_eq!(odoo_date("2026-02-31"), None);
        assert_eq!(odoo_date("20é-11-25"), None);
        assert_eq!(odoo_date("2028-02-29"), NaiveDate::from_ymd_opt(2028, 2, 29));
    }

    #[test]
    fn formats_any_number_of_seconds() {
        assert_eq!(format_odoo(-62_135_596_800), "0001-01-01 00:00:00");
        assert!(format_odoo(i64::MAX).starts_with('+'));
        assert!(format_odoo(i64::MIN).starts_with('-'));
    }

    #[test]
    fn reads_http_dates() {
        let t = parse_http_date("Wed, 25 Nov 2026 13:50:36 GMT").unwrap();
        assert_eq!(format_odoo(t), "2026-11-25 13:50:36");
        assert_eq!(parse_http_date("yesterday"), None);
        // The two obsolete forms HTTP still requires a recipient to read.
        assert_eq!(parse_http_date("Wednesday, 25-Nov-26 13:50:36 GMT"), Some(t));
        assert_eq!(parse_http_date("Wed Nov 25 13:50:36 2026"), Some(t));
        // A date that does not exist, or that is not that weekday, is no clock reading.
        for bad in [
            "Wed, 31 Feb 2026 13:50:36 GMT",
            "Wed, 25 Nov 2026 24:00:00 GMT",
            "Wed, 25 Nov 2026 13:61:00 GMT",
            "Thu, 25 Nov 2026 13:50:36 GMT",
            "Wed, 25 Nov 2026 13:50:36 PST",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
