//! Time conventions: timestamps are UTC, shown in Japan time (UTC+9, no daylight
//! saving, so a fixed offset is exact and needs no tz database). Calendar dates such
//! as delivery dates are civil dates, never timestamps.

use jiff::{Timestamp, civil::Date, tz::TimeZone};

pub fn japan() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(9))
}

/// Stored form of a timestamp: RFC 3339 in UTC with second precision, so that text
/// order is time order on both stores.
pub fn format_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn parse_ts(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// `2026/11/24 14:05` in Japan time, for the admin UI.
pub fn display_ts(ts: Timestamp) -> String {
    ts.to_zoned_datetime(japan())
        .strftime("%Y/%m/%d %H:%M")
        .to_string()
}

/// The Japan-time calendar date of a timestamp.
pub fn japan_date(ts: Timestamp) -> Date {
    ts.to_zoned_datetime(japan()).date()
}

/// Parses `YYYY-MM-DD` (also `YYYY/MM/DD`), rejecting dates that do not exist.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let t = s.trim().replace('/', "-");
    t.parse::<Date>()
        .map_err(|_| format!("日付の形式が正しくないか、存在しない日付です: {s}（例: 2026-11-24）"))
}

/// Start of a Japan-time day as a UTC timestamp (for date-range search).
pub fn japan_day_start(d: Date) -> Timestamp {
    d.to_zoned_datetime(japan())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_that_do_not_exist_are_refused() {
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2028-02-29").is_ok());
        assert!(parse_date("2026/11/24").is_ok());
        assert!(parse_date("24.11.2026").is_err());
    }

    #[test]
    fn japan_day_boundaries() {
        let d = parse_date("2026-11-24").unwrap();
        assert_eq!(format_ts(japan_day_start(d)), "2026-11-23T15:00:00Z");
        let ts: Timestamp = "2026-11-23T15:30:00Z".parse().unwrap();
        assert_eq!(japan_date(ts), d);
        assert_eq!(display_ts(ts), "2026/11/24 00:30");
    }

    #[test]
    fn stored_form_round_trips() {
        let ts: Timestamp = "2026-11-24T05:06:07Z".parse().unwrap();
        assert_eq!(parse_ts(&format_ts(ts)), Some(ts));
    }
}
