//! Parsing and printing of TIME (`--at`): RFC 3339, bare dates, `now`, and durations ago.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use thiserror::Error;

/// The accepted forms, repeated in every error so the user sees the fix next to the problem.
const FORMS: &str = "use RFC 3339 (2026-11-01T12:00:00Z), a date (2026-11-01), \"now\", \
                     or a duration ago (36h, -36h, 3d)";

/// Why a TIME argument was refused; each message names the problem and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// The argument was empty or only whitespace.
    #[error("empty time: {FORMS}")]
    Empty,
    /// The argument matched none of the accepted forms.
    #[error("cannot read time {input:?}: {FORMS}")]
    Unreadable {
        /// The argument as given.
        input: String,
    },
    /// A date-time without `Z` or an offset: UTC and local time would both be guesses.
    #[error("time {input:?} has no time zone: add Z for UTC ({suggestion}) or an offset (+02:00)")]
    MissingZone {
        /// The argument as given.
        input: String,
        /// The same wall-clock time read as UTC, in RFC 3339.
        suggestion: String,
    },
    /// A duration so long that going back by it leaves the representable range.
    #[error("duration {input:?} reaches too far back: use a shorter duration or an absolute time")]
    OutOfRange {
        /// The argument as given.
        input: String,
    },
    /// The time lies after now; there is no state to show or restore yet.
    #[error(
        "time {input:?} ({time}) is in the future (now is {now}): give a time at or before now"
    )]
    Future {
        /// The argument as given.
        input: String,
        /// The parsed time, in RFC 3339 UTC.
        time: String,
        /// The reference "now", in RFC 3339 UTC.
        now: String,
    },
}

/// Turns a user's TIME argument into an instant, relative forms counted back from `now`.
pub fn parse_time(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TimeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(TimeError::Empty);
    }
    let t = parse_absolute_or_relative(input, s, now)?;
    if t > now {
        return Err(TimeError::Future {
            input: input.to_string(),
            time: format_time(t),
            now: format_time(now),
        });
    }
    Ok(t)
}

/// Renders an instant as RFC 3339 UTC with whole seconds and `Z`, the form S3 users read and paste.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Tries every accepted form on the trimmed argument `s`; `input` is kept for error messages.
fn parse_absolute_or_relative(
    input: &str,
    s: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, TimeError> {
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    // Offsets written without a colon (+0200), which RFC 3339 does not allow but people type.
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Some(naive) = parse_zoneless(s) {
        return Err(TimeError::MissingZone {
            input: input.to_string(),
            suggestion: format_time(naive.and_utc()),
        });
    }
    // "-36h" reads as "36h ago", as people write an offset back from now; never with "ago" too.
    let duration_part = match s.strip_prefix('-') {
        Some(back) if back.starts_with(|c: char| c.is_ascii_digit()) && strip_ago(back) == back => {
            back
        }
        _ => strip_ago(s),
    };
    let Ok(d) = humantime::parse_duration(duration_part) else {
        return Err(TimeError::Unreadable {
            input: input.to_string(),
        });
    };
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| TimeError::OutOfRange {
            input: input.to_string(),
        })
}

/// Recognises a date-time that lacks a zone, so it can be refused with a precise message.
fn parse_zoneless(s: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Removes an optional trailing word `ago` (any case) separated by whitespace.
fn strip_ago(s: &str) -> &str {
    match s.rsplit_once(char::is_whitespace) {
        Some((head, last)) if last.eq_ignore_ascii_case("ago") => head.trim_end(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn ok(input: &str) -> DateTime<Utc> {
        parse_time(input, now()).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn err(input: &str) -> TimeError {
        match parse_time(input, now()) {
            Ok(t) => panic!("{input:?} parsed as {t}"),
            Err(e) => e,
        }
    }

    #[test]
    fn rfc3339_with_z() {
        assert_eq!(ok("2026-11-01T12:00:00Z"), utc(2026, 11, 1, 12, 0, 0));
        assert_eq!(ok("2026-11-01t12:00:00z"), utc(2026, 11, 1, 12, 0, 0));
    }

    #[test]
    fn rfc3339_with_offset() {
        assert_eq!(ok("2026-11-01T12:00:00+02:00"), utc(2026, 11, 1, 10, 0, 0));
        assert_eq!(ok("2026-11-01T12:00:00-05:30"), utc(2026, 11, 1, 17, 30, 0));
        assert_eq!(ok("2026-11-01T12:00:00+0200"), utc(2026, 11, 1, 10, 0, 0));
    }

    #[test]
    fn rfc3339_fractional_seconds_are_kept() {
        let t = ok("2026-11-01T12:00:00.250Z");
        assert_eq!(t, utc(2026, 11, 1, 12, 0, 0) + Duration::milliseconds(250));
    }

    #[test]
    fn rfc3339_with_space_separator() {
        assert_eq!(ok("2026-11-01 12:00:00Z"), utc(2026, 11, 1, 12, 0, 0));
    }

    #[test]
    fn bare_date_is_midnight_utc() {
        assert_eq!(ok("2026-11-01"), utc(2026, 11, 1, 0, 0, 0));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(ok("  2026-11-01\n"), utc(2026, 11, 1, 0, 0, 0));
        assert_eq!(ok(" 3d "), now() - Duration::days(3));
    }

    #[test]
    fn now_in_any_case() {
        assert_eq!(ok("now"), now());
        assert_eq!(ok("NOW"), now());
        assert_eq!(ok(" Now "), now());
    }

    #[test]
    fn relative_durations() {
        assert_eq!(ok("3d"), now() - Duration::days(3));
        assert_eq!(ok("36h"), now() - Duration::hours(36));
        assert_eq!(ok("90m"), now() - Duration::minutes(90));
        assert_eq!(ok("1h30m"), now() - Duration::minutes(90));
        assert_eq!(ok("1h 30m"), now() - Duration::minutes(90));
        assert_eq!(ok("2w"), now() - Duration::weeks(2));
        assert_eq!(ok("45s"), now() - Duration::seconds(45));
        assert_eq!(ok("0s"), now());
    }

    #[test]
    fn relative_durations_with_ago() {
        assert_eq!(ok("36h ago"), now() - Duration::hours(36));
        assert_eq!(ok("-36h"), now() - Duration::hours(36));
        assert_eq!(ok("-90m"), now() - Duration::minutes(90));
        assert_eq!(ok("36h AGO"), now() - Duration::hours(36));
        assert_eq!(ok("1h 30m  Ago"), now() - Duration::minutes(90));
    }

    #[test]
    fn format_is_rfc3339_utc_seconds_z() {
        assert_eq!(
            format_time(utc(2026, 11, 1, 12, 0, 0)),
            "2026-11-01T12:00:00Z"
        );
        let frac = utc(2026, 11, 1, 12, 0, 0) + Duration::milliseconds(999);
        assert_eq!(format_time(frac), "2026-11-01T12:00:00Z");
    }

    #[test]
    fn format_then_parse_round_trips() {
        let t = utc(2026, 1, 2, 3, 4, 5);
        assert_eq!(ok(&format_time(t)), t);
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(err(""), TimeError::Empty);
        assert_eq!(err("   "), TimeError::Empty);
        assert!(err("").to_string().contains("RFC 3339"));
    }

    #[test]
    fn unreadable_names_input_and_forms() {
        let e = err("yesterdayish");
        assert_eq!(
            e.to_string(),
            "cannot read time \"yesterdayish\": use RFC 3339 (2026-11-01T12:00:00Z), \
             a date (2026-11-01), \"now\", or a duration ago (36h, -36h, 3d)"
        );
        for bad in [
            "ago",
            "3 ago",
            "-3d ago",
            "--3d",
            "-",
            "3d from now",
            "2026-02-30",
            "2026-11-01T25:00:00Z",
        ] {
            assert!(
                matches!(err(bad), TimeError::Unreadable { .. }),
                "{bad:?} should be unreadable"
            );
        }
    }

    #[test]
    fn zoneless_date_time_is_ambiguous() {
        let e = err("2026-11-01T12:00:00");
        assert_eq!(
            e,
            TimeError::MissingZone {
                input: "2026-11-01T12:00:00".into(),
                suggestion: "2026-11-01T12:00:00Z".into(),
            }
        );
        assert_eq!(
            e.to_string(),
            "time \"2026-11-01T12:00:00\" has no time zone: add Z for UTC \
             (2026-11-01T12:00:00Z) or an offset (+02:00)"
        );
        for bad in [
            "2026-11-01 12:00",
            "2026-11-01T12:00",
            "2026-11-01 12:00:00.5",
        ] {
            assert!(
                matches!(err(bad), TimeError::MissingZone { .. }),
                "{bad:?} should be ambiguous"
            );
        }
    }

    #[test]
    fn future_is_an_error() {
        let e = err("2026-11-10T12:00:01Z");
        assert_eq!(
            e.to_string(),
            "time \"2026-11-10T12:00:01Z\" (2026-11-10T12:00:01Z) is in the future \
             (now is 2026-11-10T12:00:00Z): give a time at or before now"
        );
        assert!(matches!(err("2027-01-01"), TimeError::Future { .. }));
        assert!(matches!(
            err("2026-11-10T13:00:00+00:30"),
            TimeError::Future { .. }
        ));
    }

    #[test]
    fn exactly_now_is_not_future() {
        assert_eq!(ok("2026-11-10T12:00:00Z"), now());
        assert_eq!(ok("2026-11-10T14:00:00+02:00"), now());
    }

    #[test]
    fn absurdly_long_duration_is_out_of_range() {
        assert!(matches!(
            err("500000000y ago"),
            TimeError::OutOfRange { .. }
        ));
        assert!(matches!(err("300000y"), TimeError::OutOfRange { .. }));
        assert!(err("300000y").to_string().contains("shorter duration"));
    }
}
