//! A date-time as the server sent it, with a typed view through `jiff`
//! ([`Timestamp`]), and conversions with `chrono` and `time` (features of
//! the same names). Shared by both faces, no I/O.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::time::SystemTime;

use jiff::civil::DateTime;
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::Offset;
use serde_json::Value;

/// A date-time that keeps the exact JSON value the server sent, and reads it
/// as a date-time through [`jiff`].
///
/// The service reads date-times as pydantic does in its lax mode, so it may
/// send any of these, and a save must send back exactly the one it sent:
///
/// | form | example |
/// |---|---|
/// | RFC 3339 / ISO 8601, with `T`, `t` or a space, any fraction | `2026-11-20T10:00:01.123456Z` |
/// | with any offset, `±hh:mm`, `±hhmm` or `±hh` | `2026-11-20T15:30:00+05:30` |
/// | without an offset (taken as UTC) | `2026-11-20T10:00:01.123456` |
/// | without seconds | `2026-11-20T10:00` |
/// | a date alone (midnight) | `2026-11-20` |
/// | Unix time, seconds or milliseconds (above 2·10¹⁰), integer or float, or such a number as text | `1763632800`, `1763632800123.5` |
///
/// A `Timestamp` serializes as the value it was read from, unchanged, even
/// one that is not a date-time at all: such a value is kept ([`Timestamp::as_value`])
/// and its typed views answer `None`. [`Timestamp::parse`] and the `From`
/// conversions build valid ones.
///
/// Equality and hashing compare the values as sent (a string is not the
/// number it spells); ordering compares the instants (see
/// [`Timestamp::to_jiff`]), then the values as sent, and agrees with
/// equality.
///
/// ```
/// use xpander_sdk::model::Timestamp;
///
/// let t: Timestamp = "2026-11-20T10:00:01.123456".parse()?;
/// let civil = t.civil().unwrap();
/// assert_eq!((civil.year(), civil.month(), civil.day()), (2026, 11, 20));
/// assert_eq!(civil.subsec_nanosecond(), 123_456_000);
/// assert_eq!(t.offset(), None); // no offset given: the instant is read as UTC
/// assert_eq!(t.to_string(), "2026-11-20T10:00:01.123456");
///
/// let z: Timestamp = "2026-11-20T15:30:01.123456+05:30".parse()?;
/// assert_eq!(z.offset().map(|o| o.seconds()), Some(5 * 3600 + 30 * 60));
/// assert_eq!(z.to_jiff(), t.to_jiff());
///
/// // Unix seconds, as the service may send them, keep their form.
/// let unix: Timestamp = serde_json::from_str("1763632800")?;
/// assert_eq!(unix.to_jiff().unwrap().to_string(), "2025-11-20T10:00:00Z");
/// assert_eq!(serde_json::to_string(&unix)?, "1763632800");
///
/// assert!("2026-02-30T00:00:00Z".parse::<Timestamp>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Timestamp {
    raw: Value,
    parsed: Option<Parsed>,
}

/// The date-time a value stands for: the wall-clock time as written and its
/// offset, if one was written.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Parsed {
    civil: DateTime,
    offset: Option<Offset>,
}

impl Parsed {
    fn instant(self) -> Option<jiff::Timestamp> {
        self.offset
            .unwrap_or(Offset::UTC)
            .to_timestamp(self.civil)
            .ok()
    }
}

/// Why a string is not a valid [`Timestamp`].
///
/// ```
/// use xpander_sdk::model::Timestamp;
///
/// let err = "2026-13-01T00:00:00Z".parse::<Timestamp>().unwrap_err();
/// assert_eq!(err.input(), "2026-13-01T00:00:00Z");
/// assert!(err.to_string().starts_with("invalid timestamp \"2026-13-01T00:00:00Z\": "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: {reason}")]
pub struct TimestampError {
    input: String,
    reason: String,
}

impl TimestampError {
    /// The rejected input (cut to its first 64 characters).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

const MAX_INPUT_IN_ERROR: usize = 64;

fn error(input: &str, reason: impl fmt::Display) -> TimestampError {
    let mut cut: String = input.chars().take(MAX_INPUT_IN_ERROR).collect();
    if cut.len() < input.len() {
        cut.push('…');
    }
    TimestampError {
        input: cut,
        reason: reason.to_string(),
    }
}

/// pydantic's rule: Unix numbers above 2·10¹⁰ in magnitude are milliseconds.
const MILLIS_ABOVE: f64 = 2e10;

fn utc(instant: jiff::Timestamp) -> Parsed {
    Parsed {
        civil: Offset::UTC.to_datetime(instant),
        offset: Some(Offset::UTC),
    }
}

/// An integral Unix time: seconds, or milliseconds above 2·10¹⁰.
fn from_unix_int(number: i64) -> Option<Parsed> {
    let instant = match (number as f64).abs() > MILLIS_ABOVE {
        true => jiff::Timestamp::from_millisecond(number),
        false => jiff::Timestamp::from_second(number),
    };
    instant.ok().map(utc)
}

/// A fractional Unix time, to the microsecond (as Python's datetime keeps it).
fn from_unix_float(number: f64) -> Option<Parsed> {
    if !number.is_finite() {
        return None;
    }
    let micros = if number.abs() > MILLIS_ABOVE {
        (number * 1e3).round()
    } else {
        (number * 1e6).round()
    };
    // Out-of-range values saturate here and are refused by jiff.
    jiff::Timestamp::from_microsecond(micros as i64)
        .ok()
        .map(utc)
}

/// A Unix time, exact when it is an integer.
fn from_unix(int: Option<i64>, float: f64) -> Option<Parsed> {
    int.map_or_else(|| from_unix_float(float), from_unix_int)
}

/// Offsets of a day or more are not offsets (RFC 3339: hours 00-23).
const MAX_OFFSET_SECONDS: i32 = 24 * 3600;

fn parse_text(input: &str) -> Result<Parsed, TimestampError> {
    let text = input.trim();
    let looks_numeric = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
        && !text.contains(':')
        && text.bytes().filter(|b| *b == b'-').count() <= 1;
    if let Some(float) = text.parse::<f64>().ok().filter(|_| looks_numeric) {
        return from_unix(text.parse().ok(), float)
            .ok_or_else(|| error(input, "Unix time out of range"));
    }
    let pieces = Pieces::parse(text).map_err(|e| error(input, e))?;
    let time = pieces.time().unwrap_or(jiff::civil::Time::midnight());
    let civil = pieces.date().to_datetime(time);
    let offset = match pieces.offset() {
        None => None,
        Some(PiecesOffset::Numeric(numeric)) => Some(numeric.offset()),
        // `Z`, and any kind of offset a later jiff may add, as UTC.
        Some(_) => Some(Offset::UTC),
    };
    if offset.is_some_and(|o| o.seconds().abs() >= MAX_OFFSET_SECONDS) {
        return Err(error(input, "offset of a day or more"));
    }
    let parsed = Parsed { civil, offset };
    (parsed.instant().map(|_| parsed)).ok_or_else(|| error(input, "out of the supported range"))
}

fn parse_value(value: &Value) -> Option<Parsed> {
    match value {
        Value::String(s) => parse_text(s).ok(),
        Value::Number(n) => from_unix(n.as_i64(), n.as_f64()?),
        _ => None,
    }
}

impl Timestamp {
    /// Parses a date-time in any form of the table above; same as [`str::parse`].
    ///
    /// ```
    /// use xpander_sdk::model::Timestamp;
    /// let t = Timestamp::parse("2026-11-21 08:00")?;
    /// assert_eq!(t.to_jiff().unwrap().to_string(), "2026-11-21T08:00:00Z");
    /// assert_eq!(t.as_str(), Some("2026-11-21 08:00"));
    /// # Ok::<(), xpander_sdk::model::TimestampError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::try_from(input.to_owned())
    }

    /// Now, written as RFC 3339 in UTC.
    pub fn now() -> Timestamp {
        Timestamp::from(jiff::Timestamp::now())
    }

    /// A timestamp holding `value` exactly as the server sent it, read as a
    /// date-time when it is one.
    pub(crate) fn from_wire(value: Value) -> Timestamp {
        let parsed = parse_value(&value);
        Timestamp { raw: value, parsed }
    }

    /// The value as the server sent it (a string or a number, usually).
    pub fn as_value(&self) -> &Value {
        &self.raw
    }

    /// The value as the server sent it, when it was a string.
    pub fn as_str(&self) -> Option<&str> {
        self.raw.as_str()
    }

    /// `true` when the value is a date-time this type can read.
    pub fn is_valid(&self) -> bool {
        self.parsed.is_some()
    }

    /// The instant. A date-time written without an offset is taken as UTC
    /// (the service writes UTC). `None` when the value is not a date-time.
    pub fn to_jiff(&self) -> Option<jiff::Timestamp> {
        self.parsed.and_then(Parsed::instant)
    }

    /// The wall-clock date and time as written (no offset applied).
    pub fn civil(&self) -> Option<DateTime> {
        self.parsed.map(|p| p.civil)
    }

    /// The offset written with the time (`Z` is zero; Unix numbers are UTC),
    /// or `None` when none was written.
    pub fn offset(&self) -> Option<Offset> {
        self.parsed.and_then(|p| p.offset)
    }

    /// The instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> Option<SystemTime> {
        self.to_jiff().map(SystemTime::from)
    }

    /// The instant as a `chrono` UTC date-time (feature `chrono`).
    #[cfg(feature = "chrono")]
    #[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
    pub fn to_chrono(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let t = self.to_jiff()?;
        // jiff gives a negative fraction before 1970 (-0.5 s is 0 s and
        // -500,000,000 ns); chrono wants one in 0..1 s (-1 s and 500,000,000).
        let (mut seconds, mut nanos) = (t.as_second(), t.subsec_nanosecond());
        if nanos < 0 {
            seconds = seconds.checked_sub(1)?;
            nanos = nanos.checked_add(1_000_000_000)?;
        }
        chrono::DateTime::from_timestamp(seconds, nanos.try_into().ok()?)
    }

    /// The instant as a `time` date-time in UTC (feature `time`).
    #[cfg(feature = "time")]
    #[cfg_attr(docsrs, doc(cfg(feature = "time")))]
    pub fn to_time(&self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.to_jiff()?.as_nanosecond()).ok()
    }

    /// The JSON kind of the value as sent and its text, for equality,
    /// hashing and ordering: a string is never equal to the number it spells.
    fn key(&self) -> (u8, std::borrow::Cow<'_, str>) {
        let kind = match &self.raw {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        };
        (kind, self.text())
    }

    /// The value as text, for display and ordering.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match &self.raw {
            Value::String(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.to_string()),
        }
    }
}

impl Default for Timestamp {
    /// The Unix epoch, `1970-01-01T00:00:00Z`.
    fn default() -> Timestamp {
        // Written out: a model starts every parse from its defaults.
        Timestamp {
            raw: Value::String("1970-01-01T00:00:00Z".to_owned()),
            parsed: Some(utc(jiff::Timestamp::UNIX_EPOCH)),
        }
    }
}

impl From<jiff::Timestamp> for Timestamp {
    /// Written as RFC 3339 in UTC (`2026-11-20T10:00:00Z`).
    fn from(instant: jiff::Timestamp) -> Timestamp {
        Timestamp {
            raw: Value::String(instant.to_string()),
            parsed: Some(utc(instant)),
        }
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimestampError;
    fn try_from(time: SystemTime) -> Result<Timestamp, TimestampError> {
        jiff::Timestamp::try_from(time)
            .map(Timestamp::from)
            .map_err(|e| error("(system time)", e))
    }
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl TryFrom<chrono::DateTime<chrono::Utc>> for Timestamp {
    type Error = TimestampError;
    fn try_from(time: chrono::DateTime<chrono::Utc>) -> Result<Timestamp, TimestampError> {
        jiff::Timestamp::new(time.timestamp(), time.timestamp_subsec_nanos() as i32)
            .map(Timestamp::from)
            .map_err(|e| error(&time.to_rfc3339(), e))
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl TryFrom<time::OffsetDateTime> for Timestamp {
    type Error = TimestampError;
    fn try_from(time: time::OffsetDateTime) -> Result<Timestamp, TimestampError> {
        jiff::Timestamp::from_nanosecond(time.unix_timestamp_nanos())
            .map(Timestamp::from)
            .map_err(|e| error("(time::OffsetDateTime)", e))
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
    fn try_from(input: String) -> Result<Self, Self::Error> {
        let parsed = parse_text(&input)?;
        Ok(Timestamp {
            raw: Value::String(input),
            parsed: Some(parsed),
        })
    }
}

impl fmt::Display for Timestamp {
    /// The value as the server sent it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.raw)
    }
}

// Equality, hashing and ordering all look at the value as sent through its
// kind and its JSON text, so that they agree: `-0.0` is not `0.0` (as
// `Value` would have it), and `"1763632800"` is not `1763632800` (as the
// text alone would have it).

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Timestamp {}

impl Hash for Timestamp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    /// By instant (values that are not date-times first), then by the
    /// value as sent (its JSON kind, then its text).
    fn cmp(&self, other: &Self) -> Ordering {
        self.to_jiff()
            .cmp(&other.to_jiff())
            .then_with(|| self.key().cmp(&other.key()))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    /// Any JSON value: a date-time is read, anything else is kept (and
    /// `is_valid` is false). `null` reads as the epoch.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match <Value as serde::Deserialize>::deserialize(deserializer)? {
                Value::Null => Timestamp::default(),
                value => Timestamp::from_wire(value),
            },
        )
    }
}

field_debug_as_debug!(Timestamp);

// Any scalar but `null` is the value as sent (read as a date-time when it is
// one); an array or an object is kept as it came, as the value of a
// timestamp too.
field_by_exact!(
    Timestamp,
    |v| match v {
        Value::Null | Value::Array(_) | Value::Object(_) => Err(v),
        scalar => Ok(Timestamp::from_wire(scalar)),
    },
    |value| (!value.is_null()).then(|| Timestamp::from_wire(value.clone()))
);

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(input: &str) -> String {
        Timestamp::parse(input)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .to_jiff()
            .unwrap()
            .to_string()
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
            ("2026-11-20t10:00:00z", "2026-11-20T10:00:00Z"),
            ("2026-11-20 10:00:00", "2026-11-20T10:00:00Z"),
            ("2026-11-20T10:00", "2026-11-20T10:00:00Z"),
            ("2026-11-20", "2026-11-20T00:00:00Z"),
            ("2026-11-20T10:00:01.123456", "2026-11-20T10:00:01.123456Z"),
            ("2026-11-20T10:00:01,5Z", "2026-11-20T10:00:01.5Z"),
            ("2026-11-20T15:30:00+05:30", "2026-11-20T10:00:00Z"),
            ("2026-11-20T15:30:00+0530", "2026-11-20T10:00:00Z"),
            ("2026-11-20T05:00:00-05", "2026-11-20T10:00:00Z"),
            (
                "2026-11-20T10:00:00.123456789-00:00",
                "2026-11-20T10:00:00.123456789Z",
            ),
            ("1763632800", "2025-11-20T10:00:00Z"),
            ("1763632800.5", "2025-11-20T10:00:00.5Z"),
            ("1763632800123", "2025-11-20T10:00:00.123Z"),
            ("1763632800.123", "2025-11-20T10:00:00.123Z"),
            ("1763632800123.5", "2025-11-20T10:00:00.1235Z"),
            ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(instant(input), expected, "{input}");
            assert_eq!(Timestamp::parse(input).unwrap().to_string(), input);
        }
    }

    #[test]
    fn numbers_keep_their_form() {
        for text in ["1763632800", "1763632800.25", "1763632800123", "-1"] {
            let t: Timestamp = serde_json::from_str(text).unwrap();
            assert!(t.is_valid(), "{text}");
            assert_eq!(serde_json::to_string(&t).unwrap(), text);
        }
        let ms: Timestamp = serde_json::from_str("1763632800123").unwrap();
        assert_eq!(
            ms.to_jiff().unwrap().to_string(),
            "2025-11-20T10:00:00.123Z"
        );
    }

    #[test]
    fn rejected_forms_are_kept_when_read() {
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-13-01",
            "2026-11-20T24:00:01",
            "yesterday",
            "",
            "2026-11-20T10:00:00+25:00",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
            let read: Timestamp = serde_json::from_value(Value::String(bad.into())).unwrap();
            assert!(!read.is_valid());
            assert_eq!(read.as_str(), Some(bad));
            assert_eq!(read.to_jiff(), None);
        }
        let odd: Timestamp = serde_json::from_str(r#"{"at": 1}"#).unwrap();
        assert_eq!(serde_json::to_string(&odd).unwrap(), r#"{"at":1}"#);
    }

    #[test]
    fn error_messages_cut_the_input() {
        let long = "x".repeat(200);
        let err = Timestamp::parse(&long).unwrap_err();
        assert_eq!(err.input().chars().count(), MAX_INPUT_IN_ERROR + 1);
        assert!(!err.reason().is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            "9999999999999999999999999",
            "-9e300",
            "1e400",
            "NaN",
            "inf",
            "2026-11-20T10:00:00.1234567890123Z",
            "+002026-11-20T10:00:00Z",
            "2026-11-20T10:00:00[America/New_York]",
            "é🦀",
            "\u{0}",
            "-",
            "+",
        ];
        for input in inputs {
            let _ = Timestamp::parse(input);
            let t = Timestamp::from_wire(Value::String(input.into()));
            let _ = (t.to_jiff(), t.to_system_time(), t.civil(), t.offset());
        }
        for n in [f64::MAX, f64::MIN, 1e300, -1e300, 0.0, f64::NAN] {
            let _ = from_unix_float(n);
        }
        for n in [i64::MAX, i64::MIN, 0] {
            let _ = from_unix_int(n);
        }
    }

    #[test]
    fn equality_hash_and_order() {
        let a = Timestamp::parse("2026-11-20T10:00:00Z").unwrap();
        let b = Timestamp::parse("2026-11-20T15:30:00+05:30").unwrap();
        assert_ne!(a, b, "different values as sent");
        assert_eq!(a.to_jiff(), b.to_jiff());
        assert_eq!(a.cmp(&b), a.text().cmp(&b.text()));
        let later = Timestamp::parse("2026-11-20T10:00:01Z").unwrap();
        assert!(a < later && b < later);
    }

    /// `Eq`, `Hash` and `Ord` agree: equal values hash alike and compare
    /// `Equal`, and `Equal` means equal (a `BTreeSet` and a `HashSet` of
    /// timestamps hold the same ones).
    #[test]
    fn equality_hash_and_order_agree() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |t: &Timestamp| {
            let mut h = DefaultHasher::new();
            t.hash(&mut h);
            h.finish()
        };
        let values = [
            "\"1763632800\"",
            "1763632800",
            "1763632800.0",
            "0.0",
            "-0.0",
            "0",
            "\"0\"",
            "\"{\\\"a\\\":1}\"",
            "{\"a\":1}",
            "[1]",
            "\"[1]\"",
            "true",
            "\"true\"",
            "\"2026-11-20T10:00:00Z\"",
            "\"2026-11-20T15:30:00+05:30\"",
        ];
        let all: Vec<Timestamp> = values
            .iter()
            .map(|v| serde_json::from_str(v).unwrap())
            .collect();
        for a in &all {
            for b in &all {
                let equal = a == b;
                assert_eq!(equal, a.cmp(b) == Ordering::Equal, "{a:?} {b:?}");
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a:?} {b:?}");
                if equal {
                    assert_eq!(hash(a), hash(b), "{a:?} {b:?}");
                }
            }
        }
        // Values as sent: the text "1763632800" is not the number.
        assert_ne!(all[0], all[1]);
        assert_eq!(all[0].to_jiff(), all[1].to_jiff());
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn chrono_conversions_both_ways() {
        for text in [
            "2026-11-20T10:00:00.123456789Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.500Z",
            "1900-06-01T12:00:00.000000001Z",
        ] {
            let t = Timestamp::parse(text).unwrap();
            let c = t.to_chrono().unwrap_or_else(|| panic!("{text}"));
            assert_eq!(c.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), text);
            assert_eq!(Timestamp::try_from(c).unwrap().to_jiff(), t.to_jiff());
        }
        let odd = Timestamp::from_wire(Value::String("yesterday".into()));
        assert_eq!(odd.to_chrono(), None);
    }

    #[cfg(feature = "time")]
    #[test]
    fn time_conversions_both_ways() {
        for (text, nanos) in [
            ("2026-11-20T10:00:00.123456789Z", 1_795_168_800_123_456_789),
            ("1969-12-31T23:59:59.5Z", -500_000_000),
        ] {
            let t = Timestamp::parse(text).unwrap();
            let converted = t.to_time().unwrap_or_else(|| panic!("{text}"));
            assert_eq!(converted.unix_timestamp_nanos(), nanos, "{text}");
            assert_eq!(
                Timestamp::try_from(converted).unwrap().to_jiff(),
                t.to_jiff()
            );
        }
    }

    #[test]
    fn ordering_agrees_with_equality() {
        // The same instant and the same text, one a string, one a number:
        // not equal, so not `Equal` either (a BTreeSet keeps both).
        let text: Timestamp = serde_json::from_str(r#""1763632800""#).unwrap();
        let number: Timestamp = serde_json::from_str("1763632800").unwrap();
        assert_eq!(text.to_jiff(), number.to_jiff());
        assert_ne!(text, number);
        assert_ne!(text.cmp(&number), Ordering::Equal);
        assert_eq!(text.cmp(&number), number.cmp(&text).reverse());
        let set: std::collections::BTreeSet<_> = [text, number].into_iter().collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn conversions() {
        let now = Timestamp::now();
        assert!(now.is_valid());
        let epoch = Timestamp::default();
        assert_eq!(epoch.as_str(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(epoch.to_system_time(), Some(std::time::UNIX_EPOCH));
        let back = Timestamp::try_from(std::time::UNIX_EPOCH).unwrap();
        assert_eq!(back.to_jiff(), epoch.to_jiff());
    }
}
