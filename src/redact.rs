//! Keeping credentials out of what a program shows.
//!
//! The crate's own `Debug`, `Display`, errors and traces never show a
//! credential. [`redact_credentials`] applies the same rule to JSON your
//! program prints or logs (a task, an event, an activity thread), as the
//! `xpander-tasks` tool does with everything it prints.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

// Inside the crate:
// * `Redacted` prints a secret field as `<redacted>` (an object's keys stay
//   visible, never its values).
// * `ShownField` prints a free-form object (a model's `extra`) with the
//   values of credential-looking keys redacted, at any depth.
// * `redact_json_text` does the same on JSON *text* that may be broken (a
//   body that failed to decode, an error body), without parsing it.
// * `scrub` removes one known secret (the API key) from any text.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

/// The text that stands in for a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// `true` for a key whose value may be a credential: tokens, secrets, keys,
/// passwords, auth headers, and the objects that carry them
/// (`headers`, `env_vars`, payload extensions).
pub(crate) fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    const EXACT: &str = "headers env_vars payload_extension tool_call_payload_extension \
        llm_gateway user_tokens authorization proxy-authorization cookie set-cookie key";
    const PARTS: &str = "token secret password passwd api_key apikey api-key credential \
        private_key auth_header";
    if EXACT.split_whitespace().any(|exact| key == exact) {
        return true;
    }
    // Token *counts* (`tokens`, `prompt_tokens`, ...) are not credentials.
    if key == "tokens" || key.ends_with("_tokens") {
        return false;
    }
    PARTS.split_whitespace().any(|part| key.contains(part))
}

/// Replaces, in place and at any depth, the value of every key that may
/// hold a credential by the string `"<redacted>"`, as the crate's `Debug`
/// shows them: tokens, secrets, keys, passwords, auth headers, and the
/// objects that carry them (`user_oidc_token`, `user_tokens`,
/// `payload_extension`, an MCP server's `api_key`, `client_secret`,
/// `headers` and `env_vars`, an auth event's `access_token`, and such keys
/// among a model's unknown fields).
///
/// A credential object keeps its keys (each value redacted), so the JSON
/// keeps its shape; a `null` stays `null`, so "not set" still shows. Token
/// *counts* (`tokens`, `prompt_tokens`) are not credentials and stay.
///
/// ```
/// use serde_json::json;
///
/// let mut task = json!({
///     "id": "task_xyz",
///     "user_oidc_token": "eyJ-secret",
///     "mcp_servers": [{"name": "crm", "api_key": "mcp-secret",
///                      "headers": {"Authorization": "Bearer h-secret"}}],
///     "payload_extension": null,
///     "tokens": {"prompt_tokens": 12}
/// });
/// xpander_sdk::redact::redact_credentials(&mut task);
/// assert_eq!(task["user_oidc_token"], "<redacted>");
/// assert_eq!(task["mcp_servers"][0]["api_key"], "<redacted>");
/// assert_eq!(task["mcp_servers"][0]["headers"]["Authorization"], "<redacted>");
/// assert_eq!(task["mcp_servers"][0]["name"], "crm");
/// assert!(task["payload_extension"].is_null());
/// assert_eq!(task["tokens"]["prompt_tokens"], 12);
/// ```
pub fn redact_credentials(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if is_credential_key(key) {
                    redact_whole(member);
                } else {
                    redact_credentials(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_credentials),
        _ => {}
    }
}

/// A credential's value: an object keeps its keys, anything else but
/// `null` becomes `"<redacted>"`.
fn redact_whole(value: &mut Value) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for member in map.values_mut().filter(|v| !v.is_null()) {
                *member = Value::String(REDACTED.into());
            }
        }
        other => *other = Value::String(REDACTED.into()),
    }
}

/// How a field shows in `Debug`, the one rule for every value the crate
/// prints. [`fmt_field`](FieldDebug::fmt_field): free-form JSON with the
/// values of credential-looking keys redacted at any depth, every other
/// type as its own `Debug` shows it. [`fmt_secret`](FieldDebug::fmt_secret)
/// (a field marked secret): `"<redacted>"`, with an object's keys (never
/// its values) and a `null` or `None` still shown. Every type a model
/// field can have implements it, so that a free-form field added later
/// cannot be printed whole by mistake.
pub(crate) trait FieldDebug {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    fn fmt_secret(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REDACTED:?}")
    }
}

/// `value` after `redact`, as `Debug` shows it (an object as its map): the
/// JSON shows with the rule [`redact_credentials`] applies.
fn fmt_redacted(
    mut value: Value,
    redact: fn(&mut Value),
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    redact(&mut value);
    match &value {
        Value::Object(map) => fmt::Debug::fmt(map, f),
        other => fmt::Debug::fmt(other, f),
    }
}

impl FieldDebug for Value {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_redacted(self.clone(), redact_credentials, f)
    }

    fn fmt_secret(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_redacted(self.clone(), redact_whole, f)
    }
}

impl FieldDebug for Map<String, Value> {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_redacted(Value::Object(self.clone()), redact_credentials, f)
    }

    fn fmt_secret(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_redacted(Value::Object(self.clone()), redact_whole, f)
    }
}

impl<T: FieldDebug> FieldDebug for Option<T> {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_ref().map(ShownField), f)
    }

    fn fmt_secret(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_ref().map(Redacted), f)
    }
}

impl<T: FieldDebug> FieldDebug for Vec<T> {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(ShownField)).finish()
    }
}

/// `Debug` of a secret field, through [`FieldDebug::fmt_secret`].
pub(crate) struct Redacted<'a, T: ?Sized>(pub(crate) &'a T);

/// `Debug` of a model field, through [`FieldDebug::fmt_field`].
pub(crate) struct ShownField<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: FieldDebug + ?Sized> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_secret(f)
    }
}

impl<T: FieldDebug + ?Sized> fmt::Debug for ShownField<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_field(f)
    }
}

/// Defines a struct, the names of its fields and its `Debug`, the one way
/// for a hand-written `Debug` to keep credentials out: each field shows as its own
/// `Debug` does, or through the wrapper named after its type
/// (`[crate::redact::Redacted]`: a secret; `[crate::redact::ShownField]`:
/// free-form JSON with credential-looking keys redacted).
macro_rules! redacting_debug {
    ($(#[$sm:meta])* $svis:vis struct $name:ident {
        $( $(#[$m:meta])* $vis:vis $field:ident : $ty:ty $([$wrap:path])? ),* $(,)?
    }) => {
        $(#[$sm])* $svis struct $name { $( $(#[$m])* $vis $field: $ty ),* }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($field), &{ let v = &self.$field; $(let v = $wrap(v);)? v }))*
                    .finish()
            }
        }

        impl $name {
            /// The names of the fields, in order.
            #[allow(dead_code)]
            pub(crate) const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };
}
pub(crate) use redacting_debug;

/// A URL with its `user:password@` part replaced by `<redacted>@`.
///
/// Everything before the last `@` goes, not only what comes before the
/// first `/`, `?` or `#`: a password with one of them unencoded is a
/// mistake this text is shown for (in the error refusing it). A proxy URL
/// has no path worth showing.
pub(crate) fn redact_userinfo(url: &str) -> String {
    crate::security::Url::split(url).redacted()
}

/// `text` without any of `secrets`, whole or in part, as the crate's own
/// errors show none: each whole secret (as is, JSON-escaped or
/// percent-encoded), every run of 8 characters or more of one (what a cut
/// leaves of it), and a start of one (4 characters or more) at the very
/// end of the text, become `<redacted>`. A secret shorter than 4
/// characters is left alone (it would erase that text everywhere).
///
/// For text your program shows that may quote a server (the
/// `xpander-tasks` tool passes everything it prints through it, the API
/// key as the secret).
///
/// ```
/// let key = "xpk-live-0123456789abcdef";
/// let text = "gateway says: key xpk-live-0123456789abcdef is bad; cut: xpk-live-0123";
/// let shown = xpander_sdk::redact::scrub_secrets(text, &[key]);
/// assert_eq!(shown, "gateway says: key <redacted> is bad; cut: <redacted>");
/// ```
pub fn scrub_secrets(text: &str, secrets: &[&str]) -> String {
    Secrets::of(secrets).scrub(text).into_owned()
}

/// As [`scrub_secrets`], on every string (keys and values) of a JSON
/// value, in place: the JSON keeps its shape.
pub fn scrub_secrets_json(value: &mut Value, secrets: &[&str]) {
    Secrets::of(secrets).scrub_json(value);
}

/// The first [`crate::error::SNIPPET_LIMIT`] bytes of a body as text, cut on a character
/// boundary, scrubbed of `secrets` *before* the cut (a secret the cut would
/// split goes whole).
pub(crate) fn snippet(body: &[u8], secrets: &Secrets) -> String {
    // Enough of the body that scrubbing (which may shorten it) still leaves
    // SNIPPET_LIMIT bytes of it.
    let taken = body
        .get(..crate::sans_io::MAX_ERROR_BODY_BYTES)
        .unwrap_or(body);
    let text = String::from_utf8_lossy(taken);
    let mut text = secrets.scrub_then_cut(&text, crate::error::SNIPPET_LIMIT);
    if taken.len() < body.len() && !text.ends_with('…') {
        text.push('…');
    }
    // Values of credential-bearing keys never reach an error (a value cut
    // by the limit is redacted up to the cut).
    redact_json_text(&text)
}

/// The shortest run of a secret that is scrubbed wherever it shows: a
/// text cut anywhere (an error body, a message bounded to some length, a
/// value quoted in a parse error) keeps no run of a secret this long.
pub(crate) const MIN_RUN: usize = 8;

/// The shortest start of a secret scrubbed at the very end of a text (a
/// text cut inside the secret), and the shortest end of one at its start.
pub(crate) const MIN_EDGE: usize = 4;

/// The secrets of one client, in every form a server may echo them back
/// in, and the scrubbing of any text that may hold them.
///
/// Scrubbing removes each whole secret, and also every run of
/// [`MIN_RUN`] bytes or more of one: a text that was cut *before* being
/// scrubbed (by a length limit, here or in another layer: a body limit, a
/// bounded message, a parse error quoting a value) cannot show the part
/// of the secret before the cut. A start of a secret of [`MIN_EDGE`] bytes
/// or more at the very end of the text (before a trailing `…`), or an end
/// of one at its very start, goes too. Scrub first, then cut: then no part
/// shows at all.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    forms: Vec<Form>,
    /// The runs of all forms (sorted): one look-up per byte of a text.
    runs: Vec<u64>,
}

/// One form of a secret (its runs of [`MIN_RUN`] bytes are the secrets').
#[derive(Clone)]
struct Form {
    text: String,
    /// Its start and end are scrubbed at a text's edges (not for base64
    /// forms, whose edges depend on the bytes around the secret).
    edges: bool,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets(<{} forms>)", self.forms.len())
    }
}

/// `text` as a person reads it, in lower case: JSON `\u` escapes (and
/// `\/`, `\"`, `\\`, `\n`, `\r`, `\t`) and `%XX` escapes decoded, whitespace (and,
/// with `tags`, HTML tags) dropped; with, for each byte read, the byte range of `text`
/// it was read from. A server may echo a secret in any of these forms.
fn read_as_shown(text: &str, tags: bool) -> (Vec<u8>, Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut read = Vec::with_capacity(bytes.len());
    let mut spans = Vec::with_capacity(bytes.len());
    let hex = |from: usize, len: usize| -> Option<u32> {
        let digits = bytes.get(from..from.checked_add(len)?)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut i: usize = 0;
    while let Some(&b) = bytes.get(i) {
        let at = |offset: usize| i.saturating_add(offset);
        let next = bytes.get(at(1)).copied();
        // A tag: `<name ...>` or `</name>`, short, on one line; its length.
        let tag = || -> Option<usize> {
            let rest = bytes.get(at(1)..)?;
            let name = rest.strip_prefix(b"/").unwrap_or(rest);
            name.first().filter(|c| c.is_ascii_alphabetic())?;
            let end = rest
                .iter()
                .take(128)
                .position(|&c| matches!(c, b'>' | b'<' | b'\n'))?;
            (rest.get(end) == Some(&b'>')).then(|| end.saturating_add(2))
        };
        // What the bytes from `i` read as, and how many bytes they are.
        let mut utf8 = [0u8; 4];
        let unicode = (b == b'\\' && next == Some(b'u')).then(|| hex(at(2), 4));
        let percent = (b == b'%').then(|| hex(at(1), 2)).flatten();
        let (shown, len): (&[u8], usize) =
            if let Some(c) = unicode.flatten().and_then(char::from_u32) {
                (c.encode_utf8(&mut utf8).as_bytes(), 6)
            } else if b == b'\\' && matches!(next, Some(b'/' | b'"' | b'\\' | b'n' | b'r' | b't')) {
                let quoted = bytes
                    .get(at(1)..at(2))
                    .filter(|c| c != b"n" && c != b"r" && c != b"t");
                (quoted.unwrap_or_default(), 2)
            } else if let Some(byte) = percent.and_then(|v| u8::try_from(v).ok()) {
                utf8 = [byte; 4];
                (utf8.get(..1).unwrap_or_default(), 3)
            } else if let Some(len) = (tags && b == b'<').then(tag).flatten() {
                (&[], len)
            } else if b.is_ascii_whitespace() {
                (&[], 1)
            } else {
                (bytes.get(i..at(1)).unwrap_or_default(), 1)
            };
        for byte in shown {
            read.push(byte.to_ascii_lowercase());
            spans.push((i, at(len)));
        }
        i = at(len);
    }
    (read, spans)
}

/// The run of [`MIN_RUN`] bytes at the start of `bytes`, as one number.
fn run_at(bytes: &[u8]) -> Option<u64> {
    let run: [u8; MIN_RUN] = bytes.get(..MIN_RUN)?.try_into().ok()?;
    Some(u64::from_le_bytes(run))
}

impl Secrets {
    /// No secret.
    pub(crate) const fn new() -> Secrets {
        Secrets {
            forms: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// These secrets (see [`Secrets::add`]).
    fn of(secrets: &[&str]) -> Secrets {
        let mut all = Secrets::new();
        for secret in secrets {
            all.add(secret);
        }
        all
    }

    /// True when there is no secret to scrub.
    pub(crate) fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Adds a secret, with the forms a server may echo it in. Texts are
    /// read as a person reads them before matching (see [`read_as_shown`]:
    /// JSON `\u` escapes and `%XX` decoded, whitespace and HTML tags
    /// dropped, any case), so the secret as is covers its JSON-escaped,
    /// percent-encoded, split and case-changed echoes; its base64 forms
    /// (at each of the three alignments, standard and URL-safe) are added
    /// as runs. Nothing for an empty secret.
    pub(crate) fn add(&mut self, secret: &str) {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        use base64::Engine as _;
        if secret.is_empty() {
            return;
        }
        self.add_form(secret.to_ascii_lowercase(), true);
        let bytes = secret.as_bytes();
        for skip in 0..3 {
            let Some(rest) = bytes.get(skip..) else { break };
            // Only the characters made of the secret's bytes alone.
            let whole = (rest.len() / 3).saturating_mul(4);
            for engine in [&STANDARD, &URL_SAFE] {
                let encoded = engine.encode(rest);
                if let Some(part) = encoded.get(..whole).filter(|p| p.len() >= MIN_RUN) {
                    self.add_form(part.to_ascii_lowercase(), false);
                }
            }
        }
    }

    /// Adds the credentials of a URL's `user:password@` part: the
    /// password (as written and percent-decoded) and the
    /// `Proxy-Authorization: Basic` token made of them.
    pub(crate) fn add_userinfo(&mut self, userinfo: &str) {
        use base64::Engine as _;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        // A userinfo without a password is a token (`http://TOKEN@proxy`):
        // the user part is then the secret.
        let secret = if password.is_empty() { user } else { password };
        if !secret.is_empty() {
            self.add(secret);
            self.add(&decode(secret));
        }
        let basic = format!("{}:{}", decode(user), decode(password));
        self.add(&base64::engine::general_purpose::STANDARD.encode(basic));
    }

    /// `text` (already in lower case) as one form; `edges`: its start and
    /// end are scrubbed at a text's edges too.
    fn add_form(&mut self, text: String, edges: bool) {
        // A "secret" shorter than MIN_EDGE (a test's key `k`) would erase
        // that text from every message, and is no secret anyway.
        if text.len() < MIN_EDGE || self.forms.iter().any(|f| f.text == text) {
            return;
        }
        self.runs
            .extend(text.as_bytes().windows(MIN_RUN).filter_map(run_at));
        self.runs.sort_unstable();
        self.runs.dedup();
        self.forms.push(Form { text, edges });
    }

    /// `text` without any secret, whole or in part (see [`Secrets`]).
    pub(crate) fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.forms.is_empty() || text.is_empty() {
            return text.into();
        }
        // Read as is (a secret may sit between `<` and `>`), then with HTML
        // tags dropped (a secret may be split by them).
        let once = self.scrub_pass(text, false);
        if !once.contains('<') {
            return once;
        }
        match once {
            Cow::Borrowed(text) => self.scrub_pass(text, true),
            Cow::Owned(once) => self.scrub_pass(&once, true).into_owned().into(),
        }
    }

    /// One reading of `text` scrubbed; `tags`: HTML tags dropped.
    fn scrub_pass<'t>(&self, text: &'t str, tags: bool) -> Cow<'t, str> {
        let (read, spans) = read_as_shown(text, tags);
        let bytes = read.as_slice();
        // The text's bytes to replace: those read as `read[from..from + len]`.
        let mut hidden = vec![false; text.len()];
        let mut hide = |from: usize, len: usize| {
            let last = len.checked_sub(1).map(|last| from.saturating_add(last));
            if let (Some(first), Some(last)) = (spans.get(from), last.and_then(|l| spans.get(l))) {
                hidden
                    .get_mut(first.0..last.1)
                    .into_iter()
                    .flatten()
                    .for_each(|h| *h = true);
            }
        };
        // Runs of MIN_RUN bytes of any form, wherever a cut left them
        // (whole occurrences are made of them).
        for (i, window) in bytes.windows(MIN_RUN).enumerate() {
            if run_at(window).is_some_and(|run| self.runs.binary_search(&run).is_ok()) {
                hide(i, MIN_RUN);
            }
        }
        for form in &self.forms {
            let secret = form.text.as_bytes();
            if secret.len() < MIN_RUN {
                // Whole occurrences (the only rule for short secrets).
                for (i, window) in bytes.windows(secret.len().max(1)).enumerate() {
                    if window == secret {
                        hide(i, secret.len());
                    }
                }
            }
            if !form.edges {
                continue;
            }
            // A start of the secret at the very end (before a `…`), an end
            // of it at the very start.
            let body = bytes.strip_suffix("…".as_bytes()).unwrap_or(bytes);
            let mut lengths = (MIN_EDGE..secret.len().min(MIN_RUN)).rev();
            if let Some(len) = lengths
                .clone()
                .find(|&len| secret.get(..len).is_some_and(|start| body.ends_with(start)))
            {
                hide(body.len().saturating_sub(len), len);
            }
            let end = |len: usize| secret.get(secret.len().saturating_sub(len)..);
            if let Some(len) =
                lengths.find(|&len| end(len).is_some_and(|end| bytes.starts_with(end)))
            {
                hide(0, len);
            }
        }
        if !hidden.contains(&true) {
            return text.into();
        }
        // Whole characters only (a secret is ASCII in practice); one
        // `<redacted>` for each stretch of hidden ones.
        let mut out = String::with_capacity(text.len());
        let mut after_hidden = false;
        for (at, c) in text.char_indices() {
            let hidden = hidden
                .get(at..at.saturating_add(c.len_utf8()))
                .is_some_and(|bytes| bytes.contains(&true));
            if !hidden {
                out.push(c);
            } else if !after_hidden {
                out.push_str(REDACTED);
            }
            after_hidden = hidden;
        }
        out.into()
    }

    /// `error` with every text it shows scrubbed: an API error's body and
    /// detail, a decode error's snippet and message, a transport error's
    /// message (its source is dropped when the message held a secret: the
    /// HTTP crate's own error would show it), a configuration error.
    pub(crate) fn scrub_error(&self, mut error: crate::Error) -> crate::Error {
        use crate::Error;
        if self.is_empty() {
            return error;
        }
        let scrub = |text: &mut String| match self.scrub(text) {
            Cow::Owned(clean) => {
                *text = clean;
                true
            }
            Cow::Borrowed(_) => false,
        };
        match &mut error {
            Error::Api(api) => {
                let texts = [
                    Some(&mut api.body),
                    api.detail.as_mut(),
                    api.retry_after.as_mut(),
                ];
                texts.into_iter().flatten().for_each(|text| {
                    scrub(text);
                });
            }
            Error::Decode(decode) => {
                scrub(&mut decode.snippet);
                let mut message = decode.source.to_string();
                if scrub(&mut message) {
                    decode.source = serde::de::Error::custom(message);
                }
            }
            Error::Transport(transport) => {
                let mut source_text = transport
                    .source
                    .as_ref()
                    .map(|s| format!("{s} {s:?}"))
                    .unwrap_or_default();
                if scrub(&mut transport.message) | scrub(&mut source_text) {
                    transport.source = None;
                }
            }
            Error::Config(text) | Error::InvalidArgument { reason: text, .. } => {
                scrub(text);
            }
            _ => {}
        }
        error
    }

    /// Every string of `value` (keys included) scrubbed, in place.
    pub(crate) fn scrub_json(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Cow::Owned(clean) = self.scrub(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            Value::Object(map) => {
                if map.keys().any(|k| matches!(self.scrub(k), Cow::Owned(_))) {
                    let old = std::mem::take(map).into_iter();
                    *map = old.map(|(k, v)| (self.scrub(&k).into_owned(), v)).collect();
                }
                map.values_mut().for_each(|v| self.scrub_json(v));
            }
            _ => {}
        }
    }

    /// `text` scrubbed, *then* cut to at most `limit` bytes on a character
    /// boundary (with `…` when it was cut).
    pub(crate) fn scrub_then_cut(&self, text: &str, limit: usize) -> String {
        let scrubbed = self.scrub(text);
        if scrubbed.len() <= limit {
            return scrubbed.into_owned();
        }
        let mut end = limit;
        while end > 0 && !scrubbed.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        let mut cut = scrubbed.get(..end).unwrap_or("").to_owned();
        cut.push('…');
        cut
    }
}

/// JSON text with the values of credential-looking keys replaced by
/// `"<redacted>"`. Works on broken or cut JSON: it only tokenizes strings
/// and brackets, so a value is redacted up to its end or the end of the text.
pub(crate) fn redact_json_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let skip_space = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i = i.saturating_add(1);
        }
        i
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // bytes of `text` already copied to `out`
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) != Some(&b'"') {
            i = i.saturating_add(1);
            continue;
        }
        let end = string_end(bytes, i);
        let key = text
            .get(i.saturating_add(1)..end.saturating_sub(1))
            .unwrap_or("");
        let colon = skip_space(end);
        i = end;
        if bytes.get(colon) == Some(&b':') && is_credential_key(&unescape(key)) {
            let start = skip_space(colon.saturating_add(1));
            let value_end = value_end(bytes, start);
            if value_end > start && text.get(start..value_end) != Some("null") {
                out.push_str(text.get(copied..start).unwrap_or(""));
                out.push_str(&format!("\"{REDACTED}\""));
                copied = value_end;
            }
            i = value_end.max(start);
        }
    }
    out.push_str(text.get(copied..).unwrap_or(""));
    out
}

/// Enough unescaping to compare a key (`\u005f` style escapes of ASCII).
fn unescape(key: &str) -> String {
    if !key.contains('\\') {
        return key.to_owned();
    }
    serde_json::from_str::<String>(&format!("\"{key}\"")).unwrap_or_else(|_| key.to_owned())
}

/// The index just past the string starting at `start` (a `"`), or the end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start.saturating_add(1);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i = i.saturating_add(2),
            b'"' => return i.saturating_add(1),
            _ => i = i.saturating_add(1),
        }
    }
    bytes.len()
}

/// The index just past the JSON value starting at `start`: a string, a
/// bracketed value (to its matching bracket), or a scalar (to `,` `}` `]`
/// or white space; a string in a broken one is skipped whole).
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' if i == start => return string_end(bytes, i),
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth = depth.saturating_add(1),
            b'}' | b']' if depth == 1 => return i.saturating_add(1),
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => return i,
            b if depth == 0 && b.is_ascii_whitespace() => return i,
            _ => {}
        }
        i = i.saturating_add(1);
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_token_without_a_password_is_a_secret() {
        let mut secrets = Secrets::new();
        secrets.add_userinfo("tok-0123456789abcdef");
        let shown = secrets.scrub("proxy said: bad token tok-0123456789abcdef here");
        assert!(!shown.contains("0123456789"), "{shown}");
    }

    #[test]
    fn snippet_is_bounded_and_keeps_short_bodies() {
        let none = Secrets::new();
        assert_eq!(snippet(b"abc", &none), "abc");
        let long = "é".repeat(crate::error::SNIPPET_LIMIT);
        let s = snippet(long.as_bytes(), &none);
        assert!(s.len() <= crate::error::SNIPPET_LIMIT + 8);
        assert!(s.ends_with('…'));
    }

    redacting_debug! {
        struct Sample {
            name: String,
            token: Option<String> [Redacted],
            schema: Option<Value> [ShownField],
        }
    }

    #[test]
    fn redacted_debug_shows_marked_fields_redacted() {
        let sample = Sample {
            name: "crm".into(),
            token: Some("t-s3cret".into()),
            schema: Some(serde_json::json!({"api_key": "k-s3cret", "type": "object"})),
        };
        let shown = format!("{sample:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.starts_with("Sample { name: \"crm\", token: Some(\"<redacted>\")"),
            "{shown}"
        );
        assert!(shown.contains("\"type\": String(\"object\")"), "{shown}");
        assert!(
            shown.contains("\"api_key\": String(\"<redacted>\")"),
            "{shown}"
        );
    }

    #[test]
    fn credential_keys() {
        for key in [
            "api_key",
            "X-Api-Key",
            "user_oidc_token",
            "access_token",
            "client_secret",
            "Authorization",
            "headers",
            "env_vars",
            "payload_extension",
            "user_tokens",
            "db_password",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "id",
            "status",
            "result",
            "input",
            "text",
            "title",
            "tokens",
            "prompt_tokens",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
    }

    #[test]
    fn credentials_are_redacted_at_any_depth_and_the_rest_kept() {
        let mut v = serde_json::json!({
            "id": "t",
            "user_tokens": {"github": "u-s3cret", "none": null},
            "extra_field": {"deep": [{"refresh_token": "r-s3cret", "n": 1}]},
            "env_vars": {"DB": {"password": "e-s3cret"}},
            "data": {"type": "token_ready", "data": {"access_token": "a-s3cret"}},
            "key": ["k-s3cret"],
            "client_secret": 42,
            "result": "ok",
            "usage": {"tokens": 3, "completion_tokens": 2}
        });
        redact_credentials(&mut v);
        let text = v.to_string();
        for secret in [
            "u-s3cret", "r-s3cret", "e-s3cret", "a-s3cret", "k-s3cret", "42",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(v["user_tokens"]["github"], REDACTED);
        assert!(v["user_tokens"]["none"].is_null());
        assert_eq!(v["env_vars"]["DB"], REDACTED);
        assert_eq!(v["extra_field"]["deep"][0]["n"], 1);
        assert_eq!(v["data"]["type"], "token_ready");
        assert_eq!(v["key"], REDACTED);
        assert_eq!(v["result"], "ok");
        assert_eq!(
            v["usage"],
            serde_json::json!({"tokens": 3, "completion_tokens": 2})
        );
    }

    #[test]
    fn json_text_is_redacted_even_when_broken() {
        let text = r#"{"id":"t","user_oidc_token":"oidc-s3cret","mcp_servers":[{"api_key":"mcp-s3cret","headers":{"Authorization":"Bearer h-s3cret"}}],"user_tokens":{"a":"u-s3cret"},"payload_extension":null,"result":"ok","created_at": 12"#;
        let out = redact_json_text(text);
        for secret in ["oidc-s3cret", "mcp-s3cret", "h-s3cret", "u-s3cret"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains(r#""result":"ok""#));
        assert!(out.contains(r#""payload_extension":null"#));
        // Cut inside a secret value: still redacted.
        let cut = r#"{"id":"t","user_oidc_token":"oidc-s3c"#;
        assert!(!redact_json_text(cut).contains("oidc-s3c"));
        let cut = r#"{"headers":{"x":"h-s3c"#;
        assert!(!redact_json_text(cut).contains("h-s3c"));
        // Escaped key names are matched.
        let escaped = r#"{"api\u005fkey":"e-s3cret"}"#;
        assert!(!redact_json_text(escaped).contains("e-s3cret"));
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "",
            "\"",
            "\"a\":",
            "{\"token\":",
            "{\"token\":\"\\",
            "é\"🦀\":\"x",
            "{\"key\":[[[[",
        ] {
            let _ = redact_json_text(text);
        }
    }

    /// Replaces every occurrence of `secret` in `text` (nothing for an empty
    /// secret), and every part of it a cut may have left (see [`Secrets`]).
    fn scrub(text: &str, secret: &str) -> String {
        scrub_secrets(text, &[secret])
    }

    #[test]
    fn scrub_replaces_the_secret() {
        assert_eq!(
            scrub("key=abc123; again abc123", "abc123"),
            "key=<redacted>; again <redacted>"
        );
        assert_eq!(scrub("nothing", ""), "nothing");
    }

    #[test]
    fn scrub_reads_the_text_as_a_person_would() {
        let key = "Xpk-live-a1b2c3d4e5";
        for (text, shown) in [
            ("bad key <Xpk-live-a1b2c3d4e5>", "bad key <<redacted>>"),
            ("key=xpk-LIVE-A1B2C3D4E5.", "key=<redacted>."),
            ("k:\\u0058pk-live-a1b2c3d4e5", "k:<redacted>"),
            ("k:Xpk%2dlive%2Da1b2c3d4e5!", "k:<redacted>!"),
            (
                "k:Xpk-live-<b>a1b2</b>c3d4e5!",
                "k:<redacted><b><redacted>!",
            ),
            ("k:Xpk-live-a1\nb2c3d4e5!", "k:<redacted>!"),
        ] {
            assert_eq!(scrub(text, key), shown, "{text}");
        }
        // A secret with a quote and a backslash, echoed in JSON.
        let key = r#"pa"ss\w0rd-9"#;
        for text in [
            r#"{"p":"pa\"ss\\w0rd-9"}"#,
            r#"{"p":"\u0070a\"ss\\w0rd-9"}"#,
        ] {
            assert_eq!(scrub(text, key), r#"{"p":"<redacted>"}"#, "{text}");
        }
    }
}
