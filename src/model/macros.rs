//! Internal code generators for the model types.
//!
//! Two `macro_rules!` live here so that every wire name is written exactly once:
//!
//! * `wire_enum!` generates a string-valued enum with an `Unknown(String)`
//!   fallback that keeps values this SDK does not know and sends them back
//!   unchanged.
//! * `model_struct!` generates a model struct and its [`super::wire::Model`]
//!   (every known key read leniently through [`super::wire::Field`], every
//!   other key kept in `extra`), `Serialize` and `Debug`. This avoids
//!   `#[serde(flatten)]`, which buffers the whole object into an
//!   intermediate representation and is markedly slower.

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

        field_by_exact!(
            $name,
            |v| match v {
                ::serde_json::Value::String(s) => Ok($name::from(s)),
                other => Err(other),
            },
            |value| value.as_str().map($name::from)
        );

        impl $crate::model::wire::Fallback for $name {
            fn fallback() -> Self {
                $name::Unknown(String::new())
            }
        }
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
/// `Deserialize` (through [`super::wire::Model`]), `Serialize` (known fields
/// in declaration order, each written as it came unless the caller changed
/// it, then `extra`), `Debug` (with `@secret` fields redacted), `Clone`,
/// `PartialEq` (and `Default` with the leading `default;`).
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
            use $crate::model::wire::{bit, Model, Wire};

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
                        wire: Wire::default(),
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
            }

            impl Model for $name {
                const NAME: &'static str = stringify!($name);
                const NAMES: &'static [&'static str] = $name::FIELD_NAMES;
                const REQUIRED: u128 = 0 $(| if __has_default!($($default)?) {
                    0
                } else {
                    bit(__Index::$field as u8)
                })+;

                fn start() -> Self {
                    let mut model = $name::__defaults();
                    model.wire.absent = 0 $(| bit(__Index::$field as u8))+;
                    model
                }

                fn put(&mut self, key: ::std::borrow::Cow<'_, str>, value: ::serde_json::Value) {
                    match &*key {
                        $(
                            __wire_name!($field $(, $wire)?) => {
                                self.$field = self.wire.take(
                                    (__Index::$field as u8, __wire_name!($field $(, $wire)?)),
                                    value,
                                    || __default!($ty $(, $default)?),
                                );
                            }
                        )+
                        _ => {
                            self.extra.insert(key.into_owned(), value);
                        }
                    }
                }

                fn absent(&self) -> u128 {
                    self.wire.absent
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
                    d.field("extra", &$crate::redact::ShownField(&self.extra));
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

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    $crate::model::wire::deserialize(deserializer)
                }
            }

            // As a field of another model: an object is read (kept as it came
            // when it lacks a required key), `null` takes the default.
            field_by_exact!($name, |v| $crate::model::wire::from_object(v), |value| {
                $crate::model::wire::from_object(value.clone()).ok()
            });

        };
    };
}
