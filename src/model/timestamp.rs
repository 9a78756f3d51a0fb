//! A date-time as the server sent it.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An RFC 3339 / ISO 8601 date-time, with or without a zone offset, that
/// keeps the exact string it was parsed from.
///
/// The server sends both `2026-11-20T10:00:00Z` and `2026-11-20T10:00:01.123456`
/// (no offset). A save must send back exactly what the server sent, so a
/// `Timestamp` serializes as its original string, unchanged.
///
/// Accepted: `YYYY-MM-DD`, a separator `T`, `t` or a space, `hh:mm:ss`, an
/// optional fraction of 1 to 9 digits after `.` or `,`, and an optional zone:
/// `Z`, `z`, `±hh:mm` or `±hhmm`. Ranges are checked (month, day of the month
/// including leap years, hour ≤ 23, minute ≤ 59, second ≤ 60 to allow a leap
/// second, offset below 24 hours).
///
/// Equality and hashing compare the original strings; ordering compares the
/// instants (see [`Timestamp::unix_timestamp_nanos`]) and then the strings.
///
/// ```
/// use xpander_sdk::model::Timestamp;
///
/// let t: Timestamp = "2026-11-20T10:00:01.123456".parse()?;
/// assert_eq!((t.year(), t.month(), t.day()), (2026, 11, 20));
/// assert_eq!((t.hour(), t.minute(), t.second()), (10, 0, 1));
/// assert_eq!(t.nanosecond(), 123_456_000);
/// assert_eq!(t.offset_seconds(), None); // no zone given
/// assert_eq!(t.to_string(), "2026-11-20T10:00:01.123456");
///
/// let z: Timestamp = "2026-11-20T15:30:01.123456+05:30".parse()?;
/// assert_eq!(z.offset_seconds(), Some(5 * 3600 + 30 * 60));
/// assert_eq!(z.unix_timestamp_nanos(), t.unix_timestamp_nanos());
///
/// assert!("2026-02-30T00:00:00Z".parse::<Timestamp>().is_err());
/// # Ok::<(), xpander_sdk::model::TimestampError>(())
/// ```
#[derive(Clone)]
pub struct Timestamp {
    raw: Box<str>,
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    offset_seconds: Option<i32>,
}

/// Why a string is not a valid [`Timestamp`].
///
/// ```
/// use xpander_sdk::model::Timestamp;
///
/// let err = "2026-13-01T00:00:00Z".parse::<Timestamp>().unwrap_err();
/// assert_eq!(err.reason(), "month out of range (01-12)");
/// assert_eq!(
///     err.to_string(),
///     "invalid timestamp \"2026-13-01T00:00:00Z\": month out of range (01-12)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: {reason}")]
pub struct TimestampError {
    input: String,
    reason: &'static str,
}

impl TimestampError {
    /// The rejected input (cut to its first 64 characters).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

const MAX_INPUT_IN_ERROR: usize = 64;

fn error(input: &str, reason: &'static str) -> TimestampError {
    let input = if input.chars().count() > MAX_INPUT_IN_ERROR {
        let mut cut: String = input.chars().take(MAX_INPUT_IN_ERROR).collect();
        cut.push('…');
        cut
    } else {
        input.to_owned()
    };
    TimestampError { input, reason }
}

/// A cursor over the bytes of the input; never slices the `str`.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek();
        if byte.is_some() {
            self.pos += 1;
        }
        byte
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return None,
            }
        }
        Some(value)
    }

    fn expect(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
}

/// Days in `month` of `year` (proleptic Gregorian).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap =
                (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
            if leap {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Timestamp {
    /// Parse a date-time; same as [`str::parse`].
    ///
    /// ```
    /// use xpander_sdk::model::Timestamp;
    /// let t = Timestamp::parse("2026-11-21T08:00:00+00:00")?;
    /// assert_eq!(t.offset_seconds(), Some(0));
    /// # Ok::<(), xpander_sdk::model::TimestampError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, TimestampError> {
        Self::parse_owned(input, |s| s.into())
    }

    fn parse_owned(
        input: &str,
        into_raw: impl FnOnce(&str) -> Box<str>,
    ) -> Result<Self, TimestampError> {
        let mut c = Cursor {
            bytes: input.as_bytes(),
            pos: 0,
        };
        let fail = |reason| Err(error(input, reason));

        let Some(year) = c.digits(4) else {
            return fail("expected a four-digit year");
        };
        if !c.expect(b'-') {
            return fail("expected '-' after the year");
        }
        let Some(month) = c.digits(2) else {
            return fail("expected a two-digit month");
        };
        if !c.expect(b'-') {
            return fail("expected '-' after the month");
        }
        let Some(day) = c.digits(2) else {
            return fail("expected a two-digit day");
        };
        if !(1..=12).contains(&month) {
            return fail("month out of range (01-12)");
        }
        if day < 1 || day > days_in_month(year, month) {
            return fail("day out of range for the month");
        }
        match c.next() {
            Some(b'T' | b't' | b' ') => {}
            None => return fail("expected a time after the date"),
            Some(_) => return fail("expected 'T' or a space between date and time"),
        }
        let Some(hour) = c.digits(2) else {
            return fail("expected a two-digit hour");
        };
        if !c.expect(b':') {
            return fail("expected ':' after the hour");
        }
        let Some(minute) = c.digits(2) else {
            return fail("expected two-digit minutes");
        };
        if !c.expect(b':') {
            return fail("expected ':' after the minutes");
        }
        let Some(second) = c.digits(2) else {
            return fail("expected two-digit seconds");
        };
        if hour > 23 {
            return fail("hour out of range (00-23)");
        }
        if minute > 59 {
            return fail("minute out of range (00-59)");
        }
        if second > 60 {
            return fail("second out of range (00-60)");
        }

        let mut nanosecond = 0u32;
        if matches!(c.peek(), Some(b'.' | b',')) {
            c.pos += 1;
            let mut count = 0u32;
            while let Some(b @ b'0'..=b'9') = c.peek() {
                if count == 9 {
                    return fail("more than 9 fractional digits");
                }
                nanosecond = nanosecond * 10 + u32::from(b - b'0');
                count += 1;
                c.pos += 1;
            }
            if count == 0 {
                return fail("expected digits after the decimal separator");
            }
            nanosecond *= 10u32.pow(9 - count);
        }

        let offset_seconds = match c.next() {
            None => None,
            Some(b'Z' | b'z') => Some(0),
            Some(sign @ (b'+' | b'-')) => {
                let Some(off_hour) = c.digits(2) else {
                    return fail("expected a two-digit offset hour");
                };
                c.expect(b':');
                let Some(off_minute) = c.digits(2) else {
                    return fail("expected two-digit offset minutes");
                };
                if off_hour > 23 || off_minute > 59 {
                    return fail("offset out of range");
                }
                // Both at most 23 * 3600 + 59 * 60, far below i32::MAX.
                let seconds = (off_hour * 3600 + off_minute * 60) as i32;
                Some(if sign == b'-' { -seconds } else { seconds })
            }
            Some(_) => return fail("unexpected character after the time"),
        };
        if c.peek().is_some() {
            return fail("unexpected trailing characters");
        }

        // All values below were range-checked above and fit their types.
        Ok(Timestamp {
            raw: into_raw(input),
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            nanosecond,
            offset_seconds,
        })
    }

    /// The string exactly as it was parsed.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The year (0-9999), as written (local to the offset, if any).
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, 1-31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour, 0-23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The second, 0-60 (60 only for a leap second).
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The fraction of the second in nanoseconds, 0-999 999 999.
    pub fn nanosecond(&self) -> u32 {
        self.nanosecond
    }

    /// The zone offset from UTC in seconds (east positive); `None` when the
    /// string had no zone. `Z` is `Some(0)`.
    pub fn offset_seconds(&self) -> Option<i32> {
        self.offset_seconds
    }

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    ///
    /// A timestamp without a zone offset is taken as UTC (the server writes
    /// UTC times). A leap second (`:60`) counts as the first second of the
    /// next minute.
    ///
    /// ```
    /// use xpander_sdk::model::Timestamp;
    /// let t = Timestamp::parse("1970-01-01T00:00:01.5Z")?;
    /// assert_eq!(t.unix_timestamp_nanos(), 1_500_000_000);
    /// # Ok::<(), xpander_sdk::model::TimestampError>(())
    /// ```
    pub fn unix_timestamp_nanos(&self) -> i128 {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let seconds = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_seconds.unwrap_or(0));
        i128::from(seconds) * 1_000_000_000 + i128::from(self.nanosecond)
    }

    /// The instant as a [`SystemTime`] (no offset: taken as UTC), or `None`
    /// if the platform cannot represent it.
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let nanos = self.unix_timestamp_nanos();
        let magnitude = nanos.unsigned_abs();
        let secs = u64::try_from(magnitude / 1_000_000_000).ok()?;
        // The remainder is below 1e9 and fits a u32.
        let subsec = (magnitude % 1_000_000_000) as u32;
        let duration = Duration::new(secs, subsec);
        if nanos >= 0 {
            UNIX_EPOCH.checked_add(duration)
        } else {
            UNIX_EPOCH.checked_sub(duration)
        }
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(input)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;

    /// Parse, reusing the string's allocation.
    fn try_from(input: String) -> Result<Self, Self::Error> {
        let mut parsed = Timestamp::parse_owned(&input, |_| Box::default())?;
        parsed.raw = input.into_boxed_str();
        Ok(parsed)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.raw)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({:?})", &*self.raw)
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Timestamp {}

impl Hash for Timestamp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    /// By instant, then by string (so that `Ord` agrees with `Eq`).
    fn cmp(&self, other: &Self) -> Ordering {
        self.unix_timestamp_nanos()
            .cmp(&other.unix_timestamp_nanos())
            .then_with(|| self.raw.cmp(&other.raw))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl serde::de::Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time string")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Timestamp, E> {
                Timestamp::parse(value).map_err(E::custom)
            }

            fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Timestamp, E> {
                Timestamp::try_from(value).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn accepted_forms() {
        type Fields = (u16, u8, u8, u8, u8, u8, u32);
        let cases: &[(&str, Fields, Option<i32>)] = &[
            ("2026-11-20T10:00:00Z", (2026, 11, 20, 10, 0, 0, 0), Some(0)),
            (
                "2026-11-20T10:00:01.123456",
                (2026, 11, 20, 10, 0, 1, 123_456_000),
                None,
            ),
            (
                "2026-11-20T10:05:00.5Z",
                (2026, 11, 20, 10, 5, 0, 500_000_000),
                Some(0),
            ),
            (
                "2026-11-21T08:00:00+00:00",
                (2026, 11, 21, 8, 0, 0, 0),
                Some(0),
            ),
            (
                "2026-11-21T08:00:00+05:30",
                (2026, 11, 21, 8, 0, 0, 0),
                Some(19_800),
            ),
            (
                "2026-11-21T08:00:00-0800",
                (2026, 11, 21, 8, 0, 0, 0),
                Some(-28_800),
            ),
            ("2026-11-21t08:00:00z", (2026, 11, 21, 8, 0, 0, 0), Some(0)),
            ("2026-11-21 08:00:00", (2026, 11, 21, 8, 0, 0, 0), None),
            (
                "2026-11-21T08:00:00.123456789Z",
                (2026, 11, 21, 8, 0, 0, 123_456_789),
                Some(0),
            ),
            (
                "2026-11-21T08:00:00,25",
                (2026, 11, 21, 8, 0, 0, 250_000_000),
                None,
            ),
            (
                "2024-02-29T23:59:60Z",
                (2024, 2, 29, 23, 59, 60, 0),
                Some(0),
            ),
            ("2000-02-29T00:00:00Z", (2000, 2, 29, 0, 0, 0, 0), Some(0)),
            ("0000-01-01T00:00:00Z", (0, 1, 1, 0, 0, 0, 0), Some(0)),
            (
                "9999-12-31T23:59:59.999999999-00:00",
                (9999, 12, 31, 23, 59, 59, 999_999_999),
                Some(0),
            ),
        ];
        for (input, (y, mo, d, h, mi, s, ns), offset) in cases {
            let t = ts(input);
            assert_eq!(
                (
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second(),
                    t.nanosecond()
                ),
                (*y, *mo, *d, *h, *mi, *s, *ns),
                "{input}"
            );
            assert_eq!(t.offset_seconds(), *offset, "{input}");
            assert_eq!(t.as_str(), *input);
            assert_eq!(t.to_string(), *input);
            // Serialization gives back the exact string.
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, serde_json::to_string(input).unwrap());
            let back: Timestamp = serde_json::from_str(&json).unwrap();
            assert_eq!(back, t);
            let owned = Timestamp::try_from(input.to_string()).unwrap();
            assert_eq!(owned, t);
            assert_eq!(owned.nanosecond(), t.nanosecond());
        }
    }

    #[test]
    fn rejected_forms() {
        let cases = [
            "",
            "2026",
            "2026-11-20",
            "2026-11-20T",
            "2026-11-20T10:00",
            "2026-11-20T10:00:00.",
            "2026-11-20T10:00:00.1234567890Z",
            "2026-11-20T10:00:00ZZ",
            "2026-11-20T10:00:00+5:30",
            "2026-11-20T10:00:00+05:3",
            "2026-11-20T10:00:00+24:00",
            "2026-11-20T10:00:00+05:60",
            "2026-11-20T10:00:00 ",
            " 2026-11-20T10:00:00",
            "2026-00-20T10:00:00",
            "2026-13-20T10:00:00",
            "2026-11-00T10:00:00",
            "2026-11-31T10:00:00",
            "2026-02-29T10:00:00",
            "1900-02-29T10:00:00",
            "2026-11-20T24:00:00",
            "2026-11-20T10:60:00",
            "2026-11-20T10:00:61",
            "2026-11-20X10:00:00",
            "2026/11/20T10:00:00",
            "26-11-20T10:00:00",
            "+2026-11-20T10:00:00",
            "２０２６-11-20T10:00:00",
            "2026-11-20T10:00:00é",
            "2026-11-20T10:00:00.12é",
            "2026-11-20T10:00:00+é",
            "2026-11-2é10:00:00",
            "2026-11-20T10:00:00\u{0}",
            "🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀🦀",
        ];
        for input in cases {
            let err = input.parse::<Timestamp>().expect_err(input);
            assert!(err.to_string().starts_with("invalid timestamp "), "{err}");
            assert!(!err.reason().is_empty());
        }
    }

    #[test]
    fn error_messages() {
        let err = "2026-02-30T00:00:00Z".parse::<Timestamp>().unwrap_err();
        assert_eq!(err.reason(), "day out of range for the month");
        assert_eq!(err.input(), "2026-02-30T00:00:00Z");
        let long = "x".repeat(1000);
        let err = long.parse::<Timestamp>().unwrap_err();
        assert_eq!(err.input().chars().count(), MAX_INPUT_IN_ERROR + 1);
        // The serde error names the bad value.
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
        assert!(serde_json::from_str::<Timestamp>("null").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        // Every prefix and every single-byte mutation of some valid inputs,
        // plus multi-byte characters everywhere.
        let valid = ["2026-11-20T10:00:01.123456+05:30", "2024-02-29 23:59:60,5z"];
        for input in valid {
            for end in 0..=input.len() {
                let _ = input[..end].parse::<Timestamp>();
            }
            for i in 0..input.len() {
                for replacement in ["", "0", "9", "T", ":", "-", "+", ".", "é", "🦀", "\u{0}"] {
                    let mut s = String::new();
                    s.push_str(&input[..i]);
                    s.push_str(replacement);
                    s.push_str(&input[i + 1..]);
                    if let Ok(t) = s.parse::<Timestamp>() {
                        assert_eq!(t.as_str(), s);
                        let _ = t.unix_timestamp_nanos();
                        let _ = t.to_system_time();
                    }
                }
            }
        }
    }

    #[test]
    fn instants() {
        assert_eq!(ts("1970-01-01T00:00:00Z").unix_timestamp_nanos(), 0);
        assert_eq!(ts("1970-01-01T00:00:00").unix_timestamp_nanos(), 0);
        assert_eq!(
            ts("1969-12-31T23:59:59.5Z").unix_timestamp_nanos(),
            -500_000_000
        );
        assert_eq!(
            ts("2000-03-01T00:00:00Z").unix_timestamp_nanos(),
            951_868_800 * 1_000_000_000
        );
        assert_eq!(
            ts("2026-11-20T10:00:00Z").unix_timestamp_nanos(),
            1_795_168_800 * 1_000_000_000
        );
        assert_eq!(
            ts("2026-11-20T15:30:00+05:30").unix_timestamp_nanos(),
            ts("2026-11-20T10:00:00Z").unix_timestamp_nanos()
        );
        assert_eq!(
            ts("2026-11-20T02:00:00-08:00").unix_timestamp_nanos(),
            ts("2026-11-20T10:00:00Z").unix_timestamp_nanos()
        );
        assert_eq!(
            ts("2026-12-31T23:59:60Z").unix_timestamp_nanos(),
            ts("2027-01-01T00:00:00Z").unix_timestamp_nanos()
        );
        let min = ts("0000-01-01T00:00:00+23:59").unix_timestamp_nanos();
        let max = ts("9999-12-31T23:59:60.999999999-23:59").unix_timestamp_nanos();
        assert!(min < max);

        let t = ts("2026-11-20T10:00:01.25Z");
        let st = t.to_system_time().unwrap();
        let since = st.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(since, Duration::new(1_795_168_801, 250_000_000));
        let before = ts("1969-12-31T23:59:59Z").to_system_time().unwrap();
        assert_eq!(
            UNIX_EPOCH.duration_since(before).unwrap(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn equality_and_ordering() {
        let z = ts("2026-11-20T10:00:00Z");
        let plus = ts("2026-11-20T10:00:00+00:00");
        // Same instant, different strings: not equal, ordered by string.
        assert_ne!(z, plus);
        assert_eq!(z.unix_timestamp_nanos(), plus.unix_timestamp_nanos());
        assert_eq!(plus.cmp(&z), "+".cmp("Z"));
        let later = ts("2026-11-20T09:00:00-05:00");
        assert!(z < later);
        assert!(ts("2026-11-20T10:00:00.000000001Z") > z);
        let mut set = std::collections::HashSet::new();
        set.insert(z.clone());
        assert!(set.contains(&z));
        assert!(!set.contains(&plus));
        assert_eq!(format!("{z:?}"), "Timestamp(\"2026-11-20T10:00:00Z\")");
        assert_eq!(format!("{z:>22}"), "  2026-11-20T10:00:00Z");
    }
}
