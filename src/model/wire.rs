//! Reading what the service sends, leniently, and remembering how it was sent.
//!
//! The service (and the official client) validate with pydantic in its lax
//! mode, so a field may arrive as `2.0` where an integer is expected, as
//! `"42.5"` where a float is, as `null` where a default applies, or be absent.
//! Every model field is read through [`Field`]: the expected JSON kind is
//! taken directly (the fast path), `null` gives the field's default, and any
//! other value is *kept* as it came ([`Read::Other`]) while the typed field
//! gets the lax-mode conversion of it (or its default when there is none).
//! No value of a field ever makes the whole object fail to parse.
//!
//! [`Wire`] remembers, per field, what the typed value alone cannot say: that
//! the key was absent, that it was `null`, or the exact value it had when the
//! typed value is only a conversion of it. Serializing a model puts that back
//! for every field the caller did not change, so a task read and saved goes
//! back key for key, at every depth, as it came.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Number, Value};

/// What reading one field gave.
#[derive(Debug)]
pub(crate) enum Read<T> {
    /// The value, in the kind the model expects: it serializes back as it came.
    Exact(T),
    /// `null` where the model has a default.
    Null,
    /// Any other value, kept as it came.
    Other(Value),
}

/// A type a model field can have: read leniently, converted from a kept value.
pub(crate) trait Field: Sized {
    /// Reads one value. Fails only on broken JSON, never on an odd value.
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Read<Self>, D::Error>;

    /// The lax-mode conversion of a value kept as it came, if there is one.
    fn coerce(value: &Value) -> Option<Self>;

    /// What to write for this value, changed by the caller, in place of
    /// `raw`, the value kept as it came: `None` to write the typed value.
    /// A list the typed view holds only part of keeps the rest (see `Vec`).
    fn write_over(&self, raw: &Value) -> Option<Value> {
        let _ = raw;
        None
    }
}

/// The value a *required* field takes when its key holds a value the type
/// cannot hold at all (the value itself is kept).
pub(crate) trait Fallback {
    fn fallback() -> Self;
}

impl Fallback for String {
    fn fallback() -> Self {
        String::new()
    }
}

impl Fallback for Value {
    fn fallback() -> Self {
        Value::Null
    }
}

impl Fallback for f64 {
    fn fallback() -> Self {
        0.0
    }
}

impl<T> Fallback for Vec<T> {
    fn fallback() -> Self {
        Vec::new()
    }
}

/// Reads a [`Field`] from a map value or a sequence element.
pub(crate) struct ReadSeed<T>(PhantomData<T>);

impl<T> ReadSeed<T> {
    pub(crate) fn new() -> Self {
        ReadSeed(PhantomData)
    }
}

impl<'de, T: Field> DeserializeSeed<'de> for ReadSeed<T> {
    type Value = Read<T>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read<T>, D::Error> {
        T::read(deserializer)
    }
}

/// How a type takes each JSON kind; every kind it does not expect is kept as
/// a [`Value`]. The visitor below dispatches `deserialize_any` to these.
pub(crate) trait Kinds: Sized {
    /// What `expecting` says (only used for errors of broken JSON).
    const EXPECTING: &'static str;

    fn from_bool(v: bool) -> Read<Self> {
        Read::Other(Value::Bool(v))
    }
    fn from_i64(v: i64) -> Read<Self> {
        Read::Other(Value::from(v))
    }
    fn from_u64(v: u64) -> Read<Self> {
        Read::Other(Value::from(v))
    }
    fn from_f64(v: f64) -> Read<Self> {
        Read::Other(float(v))
    }
    fn from_str(v: &str) -> Read<Self> {
        Read::Other(Value::String(v.to_owned()))
    }
    fn from_string(v: String) -> Read<Self> {
        Read::Other(Value::String(v))
    }
    fn from_null() -> Read<Self> {
        Read::Null
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        capture_seq(seq).map(Read::Other)
    }
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Read<Self>, A::Error> {
        capture_map(map).map(Read::Other)
    }
}

/// A JSON number from an `f64` (always finite when it comes from JSON).
fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

pub(crate) fn capture_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Value, A::Error> {
    serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
}

pub(crate) fn capture_map<'de, A: MapAccess<'de>>(map: A) -> Result<Value, A::Error> {
    serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))
}

/// Dispatches every JSON kind to a [`Kinds`] implementation.
pub(crate) struct KindVisitor<T>(PhantomData<T>);

impl<T> KindVisitor<T> {
    pub(crate) fn new() -> Self {
        KindVisitor(PhantomData)
    }
}

impl<'de, T: Kinds> Visitor<'de> for KindVisitor<T> {
    type Value = Read<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Read<T>, E> {
        Ok(T::from_bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Read<T>, E> {
        Ok(T::from_i64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Read<T>, E> {
        Ok(T::from_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Read<T>, E> {
        Ok(T::from_f64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Read<T>, E> {
        Ok(T::from_str(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Read<T>, E> {
        Ok(T::from_string(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Read<T>, E> {
        Ok(T::from_null())
    }
    fn visit_none<E: de::Error>(self) -> Result<Read<T>, E> {
        Ok(T::from_null())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Read<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Read<T>, A::Error> {
        T::from_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read<T>, A::Error> {
        T::from_map(map)
    }
}

/// Implements [`Field`] for a [`Kinds`] type by `deserialize_any`.
macro_rules! field_by_kinds {
    ($ty:ty, |$value:ident| $coerce:expr) => {
        impl $crate::model::wire::Field for $ty {
            fn read<'de, D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<$crate::model::wire::Read<Self>, D::Error> {
                deserializer.deserialize_any($crate::model::wire::KindVisitor::<$ty>::new())
            }
            fn coerce($value: &::serde_json::Value) -> Option<Self> {
                $coerce
            }
        }
    };
}

/// Implements [`crate::redact::FieldDebug`] as the type's own `Debug` (it holds no
/// free-form JSON, or redacts it itself).
macro_rules! field_debug_as_debug {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl $crate::redact::FieldDebug for $ty {
                fn fmt_field(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    ::std::fmt::Debug::fmt(self, f)
                }
            }
        )+
    };
}

field_debug_as_debug!(String, bool, i64, f64);

// ----- text -----------------------------------------------------------------

impl Kinds for String {
    const EXPECTING: &'static str = "a string";
    fn from_str(v: &str) -> Read<Self> {
        Read::Exact(v.to_owned())
    }
    fn from_string(v: String) -> Read<Self> {
        Read::Exact(v)
    }
}

// A number where text is expected is read as its decimal text (and sent
// back as the number it was).
field_by_kinds!(String, |value| match value {
    Value::String(s) => Some(s.clone()),
    Value::Number(n) => Some(n.to_string()),
    _ => None,
});

// ----- flags ----------------------------------------------------------------

impl Kinds for bool {
    const EXPECTING: &'static str = "a boolean";
    fn from_bool(v: bool) -> Read<Self> {
        Read::Exact(v)
    }
}

// pydantic's lax booleans: 0/1, 0.0/1.0, and the usual words.
field_by_kinds!(bool, |value| match value {
    Value::Bool(b) => Some(*b),
    Value::Number(n) => match n.as_f64() {
        Some(0.0) => Some(false),
        Some(1.0) => Some(true),
        _ => None,
    },
    Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
        "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
        "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
        _ => None,
    },
    _ => None,
});

// ----- integers -------------------------------------------------------------

impl Kinds for i64 {
    const EXPECTING: &'static str = "an integer";
    fn from_i64(v: i64) -> Read<Self> {
        Read::Exact(v)
    }
    fn from_u64(v: u64) -> Read<Self> {
        match i64::try_from(v) {
            Ok(v) => Read::Exact(v),
            Err(_) => Read::Other(Value::from(v)),
        }
    }
}

/// An integral `f64` as an `i64`, when it is one and fits.
fn integral(x: f64) -> Option<i64> {
    // 2^63 is exactly representable; every f64 below it in magnitude and
    // integral converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (x.fract() == 0.0 && (-LIMIT..LIMIT).contains(&x)).then_some(x as i64)
}

// pydantic's lax integers: integral floats, numeric strings, booleans.
field_by_kinds!(i64, |value| match value {
    Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral)),
    Value::String(s) => {
        let s = s.trim();
        s.parse::<i64>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(integral))
    }
    Value::Bool(b) => Some(i64::from(*b)),
    _ => None,
});

// ----- floats ---------------------------------------------------------------

impl Kinds for f64 {
    const EXPECTING: &'static str = "a number";
    fn from_f64(v: f64) -> Read<Self> {
        Read::Exact(v)
    }
}

// pydantic's lax floats: integers, numeric strings, booleans. NaN is not a
// value the typed field takes (JSON cannot carry it back).
field_by_kinds!(f64, |value| match value {
    Value::Number(n) => n.as_f64(),
    Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| !x.is_nan()),
    Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
    _ => None,
});

// ----- free-form JSON -------------------------------------------------------

impl Field for Value {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Read<Self>, D::Error> {
        serde::Deserialize::deserialize(deserializer).map(Read::Exact)
    }
    fn coerce(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

impl Kinds for Map<String, Value> {
    const EXPECTING: &'static str = "a JSON object";
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Read<Self>, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map)).map(Read::Exact)
    }
}

field_by_kinds!(Map<String, Value>, |value| value.as_object().cloned());

// ----- optional values ------------------------------------------------------

/// `null` is `None`, exactly; anything else is read as `T`.
impl<T: Field> Field for Option<T> {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Read<Self>, D::Error> {
        struct OptionVisitor<T>(PhantomData<T>);
        impl<'de, T: Field> Visitor<'de> for OptionVisitor<T> {
            type Value = Read<Option<T>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Read::Exact(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Read::Exact(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Ok(match T::read(d)? {
                    Read::Exact(v) => Read::Exact(Some(v)),
                    // Not reachable from JSON (null went to visit_none).
                    Read::Null => Read::Exact(None),
                    Read::Other(v) => Read::Other(v),
                })
            }
        }
        deserializer.deserialize_option(OptionVisitor(PhantomData))
    }

    fn coerce(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::coerce(other).map(Some),
        }
    }

    fn write_over(&self, raw: &Value) -> Option<Value> {
        self.as_ref()?.write_over(raw)
    }
}

// ----- lists ----------------------------------------------------------------

impl<T: Field + Serialize + PartialEq> Kinds for Vec<T> {
    const EXPECTING: &'static str = "a JSON array";
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Read<Self>, A::Error> {
        let mut items: Vec<T> = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        // Set once an element is not of the expected kind: from then on the
        // whole array is kept as it came.
        let mut raw: Option<Vec<Value>> = None;
        while let Some(item) = seq.next_element_seed(ReadSeed::<T>::new())? {
            match (item, &mut raw) {
                (Read::Exact(v), None) => items.push(v),
                (Read::Exact(v), Some(raw)) => raw.push(to_value(&v)),
                (odd, raw_slot) => {
                    let raw = raw_slot.get_or_insert_with(|| items.iter().map(to_value).collect());
                    raw.push(match odd {
                        Read::Other(v) => v,
                        _ => Value::Null,
                    });
                }
            }
        }
        Ok(match raw {
            None => Read::Exact(items),
            Some(raw) => Read::Other(Value::Array(raw)),
        })
    }
}

/// A value of the model as JSON (a model always serializes).
fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl<T: Field + Serialize + PartialEq> Field for Vec<T> {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Read<Self>, D::Error> {
        deserializer.deserialize_any(KindVisitor::<Vec<T>>::new())
    }
    /// The elements that the typed list can hold; the others are left out of
    /// the typed view (the whole array is still kept and sent back as it came
    /// unless the list is changed).
    fn coerce(value: &Value) -> Option<Self> {
        value
            .as_array()
            .map(|items| items.iter().filter_map(T::coerce).collect())
    }
    /// A changed list of an array read in part: the elements the typed view
    /// left out stay where they were, as they came; each element it holds
    /// is written as it came when unchanged, else from its typed value;
    /// elements added go at the end. When the typed list is shorter than
    /// what it was read as (elements removed), which raw elements go with
    /// them is unknown: the typed list is written alone.
    fn write_over(&self, raw: &Value) -> Option<Value> {
        let items = raw.as_array()?;
        let mut typed = self.iter();
        let mut out = Vec::with_capacity(items.len().max(self.len()));
        for item in items {
            match T::coerce(item) {
                None => out.push(item.clone()),
                Some(as_read) => {
                    let now = typed.next()?;
                    out.push(if *now == as_read {
                        item.clone()
                    } else {
                        to_value(now)
                    });
                }
            }
        }
        out.extend(typed.map(to_value));
        Some(Value::Array(out))
    }
}

// ----- string enums ---------------------------------------------------------

/// Implements [`Kinds`] and [`Field`] for a string enum with `From<&str>`.
macro_rules! field_for_wire_enum {
    ($name:ident) => {
        impl $crate::model::wire::Kinds for $name {
            const EXPECTING: &'static str = "a string";
            fn from_str(v: &str) -> $crate::model::wire::Read<Self> {
                $crate::model::wire::Read::Exact($name::from(v))
            }
            fn from_string(v: String) -> $crate::model::wire::Read<Self> {
                $crate::model::wire::Read::Exact($name::from(v))
            }
        }
        field_by_kinds!($name, |value| value.as_str().map($name::from));

        impl $crate::model::wire::Fallback for $name {
            fn fallback() -> Self {
                $name::Unknown(String::new())
            }
        }
    };
}

// ----- how fields appeared --------------------------------------------------

/// Per field of one model object: was it absent, `null`, or kept as it came?
/// Fields not marked here serialize from their typed value, which is then
/// exactly what came.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Wire {
    absent: u128,
    null: u128,
    raw: Vec<(u8, Value)>,
}

impl Wire {
    fn bit(index: u8) -> u128 {
        1u128 << (index & 127)
    }

    /// Records what reading field `index` gave; answers the typed value.
    pub(crate) fn take<T: Field>(&mut self, index: u8, read: Read<T>, default: T) -> T {
        let bit = Self::bit(index);
        // A repeated key: the last one wins, as in any JSON reader.
        self.null &= !bit;
        self.raw.retain(|(i, _)| *i != index);
        match read {
            Read::Exact(v) => v,
            Read::Null => {
                self.null |= bit;
                default
            }
            Read::Other(v) => {
                let typed = T::coerce(&v).unwrap_or(default);
                self.raw.push((index, v));
                typed
            }
        }
    }

    /// Records that field `index` was absent.
    pub(crate) fn absent(&mut self, index: u8) {
        self.absent |= Self::bit(index);
    }

    /// The value field `index` had on the wire when the typed value could
    /// not say it (a conversion or an unreadable value).
    pub(crate) fn raw(&self, index: u8) -> Option<&Value> {
        self.raw.iter().find(|(i, _)| *i == index).map(|(_, v)| v)
    }

    /// `true` when nothing about the fields needs remembering.
    pub(crate) fn is_plain(&self) -> bool {
        self.absent == 0 && self.null == 0 && self.raw.is_empty()
    }

    /// Writes field `index` of a model: as it came when the caller did not
    /// change it, from the typed value when the caller did.
    pub(crate) fn write<M, T>(
        &self,
        map: &mut M,
        index: u8,
        name: &str,
        value: &T,
        default: impl FnOnce() -> T,
    ) -> Result<(), M::Error>
    where
        M: SerializeMap,
        T: Field + Serialize + PartialEq,
    {
        let bit = Self::bit(index);
        if self.absent & bit != 0 {
            if *value == default() {
                return Ok(());
            }
        } else if self.null & bit != 0 {
            if *value == default() {
                return map.serialize_entry(name, &Value::Null);
            }
        } else if let Some(raw) = self.raw(index) {
            let as_read = T::coerce(raw).unwrap_or_else(default);
            if *value == as_read {
                return map.serialize_entry(name, raw);
            }
            if let Some(merged) = value.write_over(raw) {
                return map.serialize_entry(name, &merged);
            }
        }
        map.serialize_entry(name, value)
    }
}

/// Used by models' `Serialize`: starts a map of unknown length.
pub(crate) fn start_map<S: Serializer>(serializer: S) -> Result<S::SerializeMap, S::Error> {
    serializer.serialize_map(None)
}
