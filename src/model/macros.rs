//! Internal code generators for the model types.
//!
//! Two `macro_rules!` live here so that every wire name is written exactly once:
//!
//! * `wire_enum!` generates a string-valued enum with an `Unknown(String)`
//!   fallback that keeps values this SDK does not know and sends them back
//!   unchanged.
//! * `model_struct!` generates a model struct together with hand-written
//!   `Deserialize` (a visitor that matches known keys and collects every other
//!   key into `extra`), `Serialize` (known fields in declaration order, then
//!   `extra`) and `Debug` (with `@secret` fields redacted). This avoids
//!   `#[serde(flatten)]`, which buffers the whole object into an intermediate
//!   representation and is markedly slower.

/// The wire name of a field: its identifier, or the explicit `=> "name"`.
macro_rules! __wire_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $wire:literal) => {
        $wire
    };
}

/// Debug output for one field; `secret` fields are redacted.
macro_rules! __debug_field {
    ($d:ident, $name:expr, $value:expr) => {
        $d.field($name, $value)
    };
    ($d:ident, $name:expr, $value:expr, secret) => {
        $d.field($name, &$crate::model::Redacted($value))
    };
}

/// Store the value of one field while deserializing. Fields with a default
/// also accept `null` (taken as the default); required fields do not.
macro_rules! __take_field {
    ($map:ident, $slot:ident, $ty:ty, $wire:expr) => {{
        if $slot.is_some() {
            return Err(<A::Error as ::serde::de::Error>::duplicate_field($wire));
        }
        $slot = Some($map.next_value::<$ty>()?);
    }};
    ($map:ident, $slot:ident, $ty:ty, $wire:expr, $default:expr) => {{
        if $slot.is_some() {
            return Err(<A::Error as ::serde::de::Error>::duplicate_field($wire));
        }
        $slot = Some(match $map.next_value::<Option<$ty>>()? {
            Some(value) => value,
            None => $default,
        });
    }};
}

/// The final value of one field after the whole object was read.
macro_rules! __finish_field {
    ($slot:ident, $wire:expr) => {
        match $slot {
            Some(value) => value,
            None => return Err(<A::Error as ::serde::de::Error>::missing_field($wire)),
        }
    };
    ($slot:ident, $wire:expr, $default:expr) => {
        match $slot {
            Some(value) => value,
            None => $default,
        }
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
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct EnumVisitor;
                impl ::serde::de::Visitor<'_> for EnumVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a string (", stringify!($name), ")"))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<$name, E> {
                        Ok($name::from(value))
                    }
                    fn visit_string<E: ::serde::de::Error>(self, value: String) -> Result<$name, E> {
                        Ok($name::from(value))
                    }
                }
                deserializer.deserialize_str(EnumVisitor)
            }
        }

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
/// A field without `= default` is required.
macro_rules! model_struct {
    (
        default;
        $(#[$smeta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $(@$flag:ident)? $field:ident : $ty:ty $(= $default:expr)? $(=> $wire:literal)?
            ),+ $(,)?
        }
    ) => {
        model_struct! {
            $(#[$smeta])*
            pub struct $name {
                $(
                    $(#[$fmeta])*
                    $(@$flag)? $field : $ty $(= $default)? $(=> $wire)?
                ),+
            }
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $($default)?,)+
                    extra: ::serde_json::Map::new(),
                }
            }
        }
    };
    (
        $(#[$smeta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $(@$flag:ident)? $field:ident : $ty:ty $(= $default:expr)? $(=> $wire:literal)?
            ),+ $(,)?
        }
    ) => {
        $(#[$smeta])*
        #[derive(Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )+
            /// Every key of the wire object this SDK does not know, kept as it
            /// came and sent back on serialization (after the known fields).
            pub extra: ::serde_json::Map<String, ::serde_json::Value>,
        }

        impl $name {
            /// The wire names of the fields this SDK knows, in serialization order.
            pub const FIELD_NAMES: &'static [&'static str] =
                &[$(__wire_name!($field $(, $wire)?)),+];

            /// `true` if `key` is the wire name of a known field.
            fn is_known_field(key: &str) -> bool {
                matches!(key, $(__wire_name!($field $(, $wire)?))|+)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                $(
                    __debug_field!(d, __wire_name!($field $(, $wire)?), &self.$field $(, $flag)?);
                )+
                d.field("extra", &self.extra);
                d.finish()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let extra_len = self
                    .extra
                    .keys()
                    .filter(|key| !Self::is_known_field(key))
                    .count();
                let mut map = serializer.serialize_map(Some(Self::FIELD_NAMES.len() + extra_len))?;
                $(
                    map.serialize_entry(__wire_name!($field $(, $wire)?), &self.$field)?;
                )+
                for (key, value) in &self.extra {
                    // A known field always wins over an `extra` entry of the same name.
                    if !Self::is_known_field(key) {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }

        const _: () = {
            #[allow(non_camel_case_types)]
            enum __Field {
                $($field,)+
                __Other(String),
            }

            struct __FieldVisitor;

            impl ::serde::de::Visitor<'_> for __FieldVisitor {
                type Value = __Field;
                fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str("a field name")
                }
                fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<__Field, E> {
                    Ok(match value {
                        $(__wire_name!($field $(, $wire)?) => __Field::$field,)+
                        other => __Field::__Other(other.to_owned()),
                    })
                }
                fn visit_string<E: ::serde::de::Error>(self, value: String) -> Result<__Field, E> {
                    Ok(match value.as_str() {
                        $(__wire_name!($field $(, $wire)?) => __Field::$field,)+
                        _ => __Field::__Other(value),
                    })
                }
            }

            impl<'de> ::serde::Deserialize<'de> for __Field {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    deserializer.deserialize_identifier(__FieldVisitor)
                }
            }

            struct __Visitor;

            impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                type Value = $name;

                fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                }

                fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                    $(
                        let mut $field: Option<$ty> = None;
                    )+
                    let mut extra = ::serde_json::Map::new();
                    while let Some(key) = map.next_key::<__Field>()? {
                        match key {
                            $(
                                __Field::$field => __take_field!(
                                    map, $field, $ty, __wire_name!($field $(, $wire)?) $(, $default)?
                                ),
                            )+
                            __Field::__Other(name) => {
                                let value = map.next_value::<::serde_json::Value>()?;
                                extra.insert(name, value);
                            }
                        }
                    }
                    Ok($name {
                        $(
                            $field: __finish_field!($field, __wire_name!($field $(, $wire)?) $(, $default)?),
                        )+
                        extra,
                    })
                }
            }

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    deserializer.deserialize_map(__Visitor)
                }
            }
        };
    };
}
