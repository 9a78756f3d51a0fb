//! Request heads: `httparse` does the parsing; this module reads what the
//! connection needs from the head (framing, keep-alive, `Expect`) and
//! refuses what it will not serve.

const MAX_HEADERS: usize = 100;

/// What the connection needs from a request head.
pub(crate) struct Head {
    pub method: String,
    pub target: String,
    /// Names lowercased, values trimmed, in arrival order.
    pub headers: Vec<(String, String)>,
    pub keep_alive: bool,
    pub content_length: usize,
    pub chunked: bool,
    pub expect_continue: bool,
    /// The head's length in bytes.
    pub len: usize,
}

/// A head, not yet a whole one, or the status and message it is refused with.
pub(crate) enum Parsed {
    Partial,
    Done(Head),
    Error(u16, &'static str),
}

pub(crate) fn parse_head(buf: &[u8]) -> Parsed {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut hs);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(431, "Too many headers"),
        Err(_) => return Parsed::Error(400, "Malformed HTTP request"),
    };
    let (Some(method), Some(target), Some(version)) = (r.method, r.path, r.version) else {
        return Parsed::Error(400, "Malformed HTTP request");
    };
    let mut h = Head {
        method: method.to_string(),
        target: target.to_string(),
        headers: Vec::with_capacity(r.headers.len()),
        keep_alive: version >= 1,
        content_length: 0,
        chunked: false,
        expect_continue: false,
        len,
    };
    let mut saw_length = false;
    for raw in r.headers.iter() {
        let name = raw.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(raw.value).trim().to_string();
        match name.as_str() {
            "content-length" => {
                let Ok(n) = value.parse::<usize>() else {
                    return Parsed::Error(400, "Invalid Content-Length");
                };
                if saw_length && n != h.content_length {
                    return Parsed::Error(400, "Conflicting Content-Length");
                }
                saw_length = true;
                h.content_length = n;
            }
            "transfer-encoding" if !value.eq_ignore_ascii_case("identity") => h.chunked = true,
            "connection" => {
                for tok in value.split(',').map(str::trim) {
                    if tok.eq_ignore_ascii_case("close") {
                        h.keep_alive = false;
                    } else if tok.eq_ignore_ascii_case("keep-alive") {
                        h.keep_alive = true;
                    }
                }
            }
            "expect" => h.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
        h.headers.push((name, value));
    }
    Parsed::Done(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_or_refused() {
        let Parsed::Done(h) =
            parse_head(b"GET /a?b HTTP/1.0\r\nConnection: keep-alive\r\nX-A: 1\r\n\r\n")
        else {
            panic!("not parsed")
        };
        assert!(h.keep_alive);
        assert_eq!(
            h.headers,
            [
                ("connection".into(), "keep-alive".into()),
                ("x-a".into(), "1".into())
            ]
        );
        assert!(matches!(parse_head(b"GET / HTTP/1.1\r\n"), Parsed::Partial));
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"),
            Parsed::Error(400, _)
        ));
    }
}
