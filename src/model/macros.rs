//! Internal code generators for the model types.
//!
//! Two `macro_rules!` live here so that every wire name is written exactly once:
//!
//! * `wire_enum!` generates a string-valued enum with an `Unknown(String)`
//!   fallback that keeps values this SDK does not know and sends them back
//!   unchanged.
//! * `model_struct!` generates a model struct together with hand-written
//!   `Deserialize` (a visitor that reads every known key leniently through
//!   [`super::wire::Field`] and collects every other key into `extra`),
//!   `Serialize` (known fields in declaration order, each written as it came
//!   unless the caller changed it, then `extra`) and `Debug` (with `@secret`
//!   fields redacted). This avoids `#[serde(flatten)]`, which buffers the
//!   whole object into an intermediate representation and is markedly slower.

/// The wire name of a field: its identifier, or the explicit `=> "name"`.
macro_rules! __wire_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $wire:literal) => {
        $wire
    };
}

/// The default of a field: the declared one, or the type's fallback for a
/// required field (used only when a required key holds an unreadable value).
macro_rules! __default {
    ($ty:ty) => {
        <$ty as $crate::model::wire::Fallback>::fallback()
    };
    ($ty:ty, $default:expr) => {
        $default
    };
}

/// `true` when the field has a declared default (it may then be absent).
macro_rules! __has_default {
    () => {
        false
    };
    ($default:expr) => {
        true
    };
}

/// Debug output for one field: `secret` fields are redacted, free-form JSON
/// shows with its credential-looking keys redacted (see
/// [`crate::redact::FieldDebug`]).
macro_rules! __debug_field {
    ($d:ident, $name:expr, $value:expr) => {
        $d.field($name, &$crate::redact::ShownField($value))
    };
    ($d:ident, $name:expr, $value:expr, secret) => {
        $d.field($name, &$crate::redact::Redacted($value))
    };
}

/// Generate a string-valued wire enum with an `Unknown(String)` fallback.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal
            ),+ $(,)?
        }
        $(default = $default:ident;)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, ::serde::Deserialize)]
        #[serde(from = "String")]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("Wire value `", $wire, "`.")]
                $variant,
            )+
            /// A value this version of the SDK does not know, kept verbatim and
            /// sent back unchanged. Build values with `FromStr`/`From<&str>`, which
            /// map known strings to their variant: `Unknown` holding a known
            /// string does not compare equal to that variant.
            Unknown(String),
        }

        impl $name {
            /// Every variant this SDK knows (without `Unknown`).
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire string of this value.
            #[inline]
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(other) => other.as_str(),
                }
            }

            /// `true` for a value this SDK does not know.
            #[inline]
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }

            #[inline]
            fn known(value: &str) -> Option<Self> {
                match value {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::convert::From<&str> for $name {
            #[inline]
            fn from(value: &str) -> Self {
                Self::known(value).unwrap_or_else(|| $name::Unknown(value.to_owned()))
            }
        }

        impl ::std::convert::From<String> for $name {
            #[inline]
            fn from(value: String) -> Self {
                Self::known(&value).unwrap_or($name::Unknown(value))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            /// Never fails: a value this SDK does not know becomes `Unknown`.
            #[inline]
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        field_for_wire_enum!($name);
        field_debug_as_debug!($name);

        $(
            impl ::std::default::Default for $name {
                fn default() -> Self {
                    $name::$default
                }
            }
        )?
    };
}

/// Generate a model struct with an `extra` map for unknown keys, plus
/// `Deserialize`, `Serialize`, `Debug`, `Clone`, `PartialEq` (and `Default`
/// with the leading `default;`).
///
/// Field syntax: `[docs] [@secret] name: Type [= default] [=> "wire name"]`.
/// A field without `= default` is required: its key must be present (any
/// value is read, leniently).
///
/// `PartialEq` compares the typed fields and `extra`, not how the fields
/// appeared on the wire.
macro_rules! model_struct {
    (
        $($with_default:ident;)?
        $(#[$smeta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $(@$flag:ident)? $field:ident : $ty:ty $(= $default:expr)? $(=> $wire:literal)?
            ),+ $(,)?
        }
    ) => {
        $(#[$smeta])*
        #[derive(Clone)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )+
            /// Every key of the wire object this SDK does not know, kept as it
            /// came and sent back on serialization (after the known fields).
            pub extra: ::serde_json::Map<String, ::serde_json::Value>,
            /// How the known fields appeared on the wire (absent, `null`, or a
            /// value the typed field holds only a conversion of).
            wire: $crate::model::wire::Wire,
        }

        $(
            impl ::std::default::Default for $name {
                fn default() -> Self {
                    let _ = stringify!($with_default);
                    $name::__defaults()
                }
            }
        )?

        const _: () = {
            #[allow(non_camel_case_types, dead_code)]
            #[repr(u8)]
            enum __Index { $($field,)+ __Count }
            assert!((__Index::__Count as usize) <= 128, "at most 128 fields per model");

            // (Unused on the crate-private models, like the event envelope.)
            #[allow(dead_code)]
            impl $name {
                /// Every field at its default (a required one at its type's).
                pub(crate) fn __defaults() -> Self {
                    $name {
                        $($field: __default!($ty $(, $default)?),)+
                        extra: ::serde_json::Map::new(),
                        wire: $crate::model::wire::Wire::default(),
                    }
                }

                /// The wire names of the fields this SDK knows, in serialization order.
                pub const FIELD_NAMES: &'static [&'static str] =
                    &[$(__wire_name!($field $(, $wire)?)),+];

                /// The value a known field had on the wire when its typed field
                /// holds only a conversion of it, or could not hold it at all
                /// (for example `"42.5"` for a number, `12` for text, an object
                /// where a list was expected). Such a value is sent back as it
                /// came unless the field is changed. `None` for a field whose
                /// typed value is exactly what came (or that was absent or `null`).
                pub fn raw_value(&self, field: &str) -> Option<&::serde_json::Value> {
                    self.wire.raw(field)
                }

                /// The known fields whose wire value is kept as it came (see
                /// [`Self::raw_value`]), with that value.
                pub fn raw_values(&self) -> impl Iterator<Item = (&'static str, &::serde_json::Value)> {
                    Self::FIELD_NAMES
                        .iter()
                        .filter_map(move |name| self.raw_value(name).map(|v| (*name, v)))
                }

                /// `true` when every known field was present on the wire with a
                /// value of the expected kind (or the value was built in code).
                pub fn is_plain_wire(&self) -> bool {
                    self.wire.is_plain()
                }

                /// Reads the object's keys (the `{` already consumed).
                fn __read_map<'de, A: ::serde::de::MapAccess<'de>>(mut map: A) -> Result<$name, A::Error> {
                    use $crate::model::wire::ReadSeed;
                    let mut wire = $crate::model::wire::Wire::default();
                    $(let mut $field: Option<$ty> = None;)+
                    let mut extra = ::serde_json::Map::new();
                    while let Some(key) = map.next_key::<$crate::model::wire::Key<'de>>()? {
                        match &*key.0 {
                            $(
                                __wire_name!($field $(, $wire)?) => {
                                    let read = map.next_value_seed(ReadSeed::<$ty>::new())?;
                                    $field = Some(wire.take(
                                        (__Index::$field as u8, __wire_name!($field $(, $wire)?)),
                                        read,
                                        __default!($ty $(, $default)?),
                                    ));
                                }
                            )+
                            _ => {
                                let value = map.next_value::<::serde_json::Value>()?;
                                extra.insert(key.0.into_owned(), value);
                            }
                        }
                    }
                    Ok($name {
                        $(
                            $field: match $field {
                                Some(value) => value,
                                None if __has_default!($($default)?) => {
                                    wire.absent(__Index::$field as u8);
                                    __default!($ty $(, $default)?)
                                }
                                None => {
                                    return Err(<A::Error as ::serde::de::Error>::missing_field(
                                        __wire_name!($field $(, $wire)?),
                                    ))
                                }
                            },
                        )+
                        extra,
                        wire,
                    })
                }
            }

            impl ::std::cmp::PartialEq for $name {
                fn eq(&self, other: &Self) -> bool {
                    $(self.$field == other.$field &&)+ self.extra == other.extra
                }
            }

            impl ::std::fmt::Debug for $name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    let mut d = f.debug_struct(stringify!($name));
                    $(
                        __debug_field!(d, __wire_name!($field $(, $wire)?), &self.$field $(, $flag)?);
                    )+
                    d.field("extra", &$crate::redact::RedactedMap(&self.extra));
                    d.finish()
                }
            }

            field_debug_as_debug!($name);

            impl ::serde::Serialize for $name {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    use ::serde::ser::SerializeMap;
                    let mut map = serializer.serialize_map(None)?;
                    $(
                        self.wire.write(
                            &mut map,
                            (__Index::$field as u8, __wire_name!($field $(, $wire)?)),
                            &self.$field,
                            || __default!($ty $(, $default)?),
                        )?;
                    )+
                    for (key, value) in &self.extra {
                        // A known field always wins over an `extra` entry of the same name.
                        if !Self::FIELD_NAMES.contains(&key.as_str()) {
                            map.serialize_entry(key, value)?;
                        }
                    }
                    map.end()
                }
            }

            struct __Visitor;

            impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                type Value = $name;

                fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                }

                fn visit_map<A: ::serde::de::MapAccess<'de>>(self, map: A) -> Result<$name, A::Error> {
                    $name::__read_map(map)
                }
            }

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    deserializer.deserialize_map(__Visitor)
                }
            }

            // As a field of another model: an object is read, `null` takes the
            // default, anything else is kept as it came.
            impl $crate::model::wire::Field for $name {
                fn from_map<'de, A: ::serde::de::MapAccess<'de>>(
                    map: A,
                ) -> Result<$crate::model::wire::Read<Self>, A::Error> {
                    $name::__read_map(map).map($crate::model::wire::Read::Exact)
                }
                fn coerce(value: &::serde_json::Value) -> Option<Self> {
                    match value {
                        ::serde_json::Value::Object(_) => ::serde_json::from_value(value.clone()).ok(),
                        _ => None,
                    }
                }
            }

            impl $crate::model::wire::Fallback for $name {
                fn fallback() -> Self {
                    $name::__defaults()
                }
            }
        };
    };
}
