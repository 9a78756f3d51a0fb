//! Reading what the service sends, leniently, and remembering how it was sent.
//!
//! The service (and the official client) validate with pydantic in its lax
//! mode, so a field may arrive as `2.0` where an integer is expected, as
//! `"42.5"` where a float is, as `null` where a default applies, or be absent.
//! A model reads an object's keys one by one, each value as a [`Value`]
//! ([`Model::put`]); every field takes its value through [`Field`]: the
//! expected JSON kind is taken as it is ([`Field::exact`]), `null` gives the
//! field's default, and any other value is *kept* as it came while the typed
//! field gets the lax-mode conversion of it ([`Field::coerce`], or its
//! default when there is none). No value of a field ever makes the whole
//! object fail to parse; only a missing required key does.
//!
//! The one piece of code generic over the deserializer is [`deserialize`]
//! and its visitor, shared by every model through a `dyn Sink`: each model's
//! own reading code is compiled once, not once per serde_json reader (bytes,
//! text, `Value`); PERFORMANCE.md has what that changed in build time
//! (little) and in parse time (nothing measurable).
//!
//! [`Wire`] remembers, per field, what the typed value alone cannot say: that
//! the key was absent, that it was `null`, or the exact value it had when the
//! typed value is only a conversion of it. Serializing a model puts that back
//! for every field the caller did not change, so a task read and saved goes
//! back key for key, at every depth, as it came.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{Map, Value};

/// A type a model field can have: taken from a JSON value, leniently.
pub(crate) trait Field: Sized + Serialize + PartialEq {
    /// The value when it is of the kind this type takes (the typed value then
    /// writes back exactly as it came), or the value back.
    fn exact(value: Value) -> Result<Self, Value>;

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

/// A model struct (see `model_struct!`), built key by key.
pub(crate) trait Model {
    /// The model's name, for errors (`expected a JSON object (Task)`).
    const NAME: &'static str;
    /// The wire names of the known fields, in serialization order.
    const NAMES: &'static [&'static str];
    /// The fields that must be present, as bits of their index.
    const REQUIRED: u128;

    /// Every field at its default and marked absent.
    fn start() -> Self;

    /// Sets the field `key` names from `value`, or keeps the pair in `extra`.
    fn put(&mut self, key: Cow<'_, str>, value: Value);

    /// The fields that were absent, as bits of their index.
    fn absent(&self) -> u128;
}

/// The first required field among `absent`.
fn missing<M: Model>(absent: u128) -> Option<&'static str> {
    let first = (absent & M::REQUIRED).trailing_zeros() as usize;
    M::NAMES.get(first).copied()
}

/// Reads a model from any deserializer: the object's keys go to
/// [`Model::put`]. Fails on anything but an object, and on a missing
/// required key.
pub(crate) fn deserialize<'de, D: Deserializer<'de>, M: Model>(d: D) -> Result<M, D::Error> {
    let mut model = M::start();
    d.deserialize_map(Entries(&mut model))?;
    Ok(model)
}

/// A model from a JSON object held as a [`Value`]; the value back when it
/// is not an object or lacks a required key.
pub(crate) fn from_object<M: Model>(value: Value) -> Result<M, Value> {
    let Value::Object(map) = value else {
        return Err(value);
    };
    let lacks =
        |(i, name): (usize, &&str)| M::REQUIRED & bit(i as u8) != 0 && !map.contains_key(*name);
    if M::NAMES.iter().enumerate().any(lacks) {
        return Err(Value::Object(map));
    }
    let mut model = M::start();
    for (key, value) in map {
        model.put(Cow::Owned(key), value);
    }
    Ok(model)
}

/// Reads a JSON object, handing each entry to `put` in the order sent.
pub(crate) fn entries<'de, D: Deserializer<'de>>(
    d: D,
    put: &mut dyn FnMut(Cow<'_, str>, Value),
) -> Result<(), D::Error> {
    d.deserialize_map(Entries(&mut Puts(put)))
}

/// Where the entries of an object go: a model, or a closure.
trait Sink {
    /// What the object is, for errors (`a JSON object (Task)`).
    fn name(&self) -> Option<&'static str>;
    fn put(&mut self, key: Cow<'_, str>, value: Value);
    /// The first required key that did not come.
    fn missing(&self) -> Option<&'static str>;
}

impl<M: Model> Sink for M {
    fn name(&self) -> Option<&'static str> {
        Some(M::NAME)
    }
    fn put(&mut self, key: Cow<'_, str>, value: Value) {
        Model::put(self, key, value);
    }
    fn missing(&self) -> Option<&'static str> {
        missing::<M>(self.absent())
    }
}

struct Puts<'p>(&'p mut dyn FnMut(Cow<'_, str>, Value));

impl Sink for Puts<'_> {
    fn name(&self) -> Option<&'static str> {
        None
    }
    fn put(&mut self, key: Cow<'_, str>, value: Value) {
        (self.0)(key, value);
    }
    fn missing(&self) -> Option<&'static str> {
        None
    }
}

/// Sends every entry of a JSON object to its sink (one visitor for every
/// model: no copy per model), then tells a missing required key there, so
/// that the reader adds where the object ends (`line 1 column 2`).
struct Entries<'s>(&'s mut dyn Sink);

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name() {
            Some(name) => write!(f, "a JSON object ({name})"),
            None => f.write_str("a JSON object"),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            self.0.put(key, map.next_value()?);
        }
        match self.0.missing() {
            Some(name) => Err(de::Error::missing_field(name)),
            None => Ok(()),
        }
    }
}

/// An object key, borrowed from the input when it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
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

/// Implements [`Field`] for a type by its [`Field::exact`] and [`Field::coerce`].
macro_rules! field_by_exact {
    ($ty:ty, |$exact:ident| $take:expr, |$value:ident| $coerce:expr) => {
        impl $crate::model::wire::Field for $ty {
            fn exact($exact: ::serde_json::Value) -> Result<Self, ::serde_json::Value> {
                $take
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

// A number where text is expected is read as its decimal text (and sent
// back as the number it was).
field_by_exact!(
    String,
    |v| match v {
        Value::String(s) => Ok(s),
        other => Err(other),
    },
    |value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
);

// pydantic's lax booleans: 0/1, 0.0/1.0, and the usual words.
field_by_exact!(bool, |v| v.as_bool().ok_or(v), |value| match value {
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

/// An integral `f64` as an `i64`, when it is one and fits.
fn integral(x: f64) -> Option<i64> {
    // 2^63 is exactly representable; every f64 below it in magnitude and
    // integral converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (x.fract() == 0.0 && (-LIMIT..LIMIT).contains(&x)).then_some(x as i64)
}

// Integers that fit exactly; pydantic's lax integers (integral floats,
// numeric strings, booleans) through `coerce`.
field_by_exact!(i64, |v| v.as_i64().ok_or(v), |value| match value {
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

// Floats as written; pydantic's lax floats (integers, numeric strings,
// booleans) through `coerce`. NaN is not a value the typed field takes
// (JSON cannot carry it back).
field_by_exact!(
    f64,
    |v| match v.as_f64() {
        Some(x) if v.is_f64() => Ok(x),
        _ => Err(v),
    },
    |value| match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| !x.is_nan()),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
);

// Free-form JSON: any value is exact, but `null` (a field's default, or `None`).
field_by_exact!(
    Value,
    |v| if v.is_null() { Err(v) } else { Ok(v) },
    |value| Some(value.clone())
);

field_by_exact!(
    Map<String, Value>,
    |v| match v {
        Value::Object(map) => Ok(map),
        other => Err(other),
    },
    |value| value.as_object().cloned()
);

/// `null` is `None`, exactly; anything else is read as `T`.
impl<T: Field> Field for Option<T> {
    fn exact(value: Value) -> Result<Self, Value> {
        match value {
            Value::Null => Ok(None),
            other => T::exact(other).map(Some),
        }
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

/// A value of the model as JSON (a model always serializes).
fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl<T: Field> Field for Vec<T> {
    /// An array whose every element is exact; else the whole array is kept
    /// as it came.
    fn exact(value: Value) -> Result<Self, Value> {
        let Value::Array(items) = value else {
            return Err(value);
        };
        let mut typed = Vec::with_capacity(items.len());
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            match T::exact(item) {
                Ok(v) => typed.push(v),
                Err(odd) => {
                    // The elements taken so far write back as they came.
                    let raw = typed.iter().map(to_value).chain([odd]).chain(items);
                    return Err(Value::Array(raw.collect()));
                }
            }
        }
        Ok(typed)
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

/// Per field of one model object (by its index in the model, at most 128:
/// two bitsets are what keep a short object's parse as fast as a parse into
/// a `Value`): was it absent, `null`, or kept as it came (by wire name)?
/// Fields not marked here serialize from their typed value, which is then
/// exactly what came.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Wire {
    pub(crate) absent: u128,
    null: u128,
    raw: Vec<(&'static str, Value)>,
}

/// The bit of field `index`.
pub(crate) const fn bit(index: u8) -> u128 {
    1u128 << (index & 127)
}

impl Wire {
    /// Records what field `index` (`name`) was sent as; answers the typed value.
    pub(crate) fn take<T: Field>(
        &mut self,
        (index, name): (u8, &'static str),
        value: Value,
        default: impl FnOnce() -> T,
    ) -> T {
        // A repeated key: the last one wins, as in any JSON reader.
        self.absent &= !bit(index);
        self.null &= !bit(index);
        if !self.raw.is_empty() {
            self.raw.retain(|(n, _)| *n != name);
        }
        match T::exact(value) {
            Ok(v) => v,
            Err(Value::Null) => {
                self.null |= bit(index);
                default()
            }
            Err(v) => {
                let typed = T::coerce(&v).unwrap_or_else(default);
                self.raw.push((name, v));
                typed
            }
        }
    }

    /// The value field `name` had on the wire when the typed value could
    /// not say it (a conversion or an unreadable value).
    pub(crate) fn raw(&self, name: &str) -> Option<&Value> {
        self.raw.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// `true` when nothing about the fields needs remembering.
    pub(crate) fn is_plain(&self) -> bool {
        self.absent == 0 && self.null == 0 && self.raw.is_empty()
    }

    /// Writes field `index` (`name`) of a model: as it came when the caller
    /// did not change it, from the typed value when the caller did.
    pub(crate) fn write<M: SerializeMap, T: Field>(
        &self,
        map: &mut M,
        (index, name): (u8, &'static str),
        value: &T,
        default: impl Fn() -> T,
    ) -> Result<(), M::Error> {
        if self.absent & bit(index) != 0 && *value == default() {
            return Ok(());
        }
        if self.null & bit(index) != 0 && *value == default() {
            return map.serialize_entry(name, &Value::Null);
        }
        if let Some(raw) = self.raw(name) {
            if *value == T::coerce(raw).unwrap_or_else(default) {
                return map.serialize_entry(name, raw);
            }
            if let Some(merged) = value.write_over(raw) {
                return map.serialize_entry(name, &merged);
            }
        }
        map.serialize_entry(name, value)
    }
}
