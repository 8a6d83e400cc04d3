//! The two libpq connection string forms: key=value pairs and URIs.
use super::error::{invalid, malformed, ConnError, KNOWN_KEYS};

/// Splits a libpq key=value string into pairs (in order; duplicates kept).
pub(super) fn parse_kv(s: &str) -> Result<Vec<(String, String)>, ConnError> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut pairs = Vec::new();
    loop {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        while i < n && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if key.is_empty() {
            return Err(malformed(format!(
                "missing keyword before \"=\" at offset {start}"
            )));
        }
        if i >= n || chars[i] != '=' {
            // Only echo the word if it is a keyword: a stray word may be part of a password.
            return Err(malformed(if KNOWN_KEYS.contains(&key.as_str()) {
                format!("missing \"=\" after \"{key}\"")
            } else {
                format!("expected keyword=value at offset {start}")
            }));
        }
        i += 1;
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < n && chars[i] == '\'' {
            i += 1;
            loop {
                if i >= n {
                    return Err(malformed(format!(
                        "unterminated quoted value for \"{key}\""
                    )));
                }
                match chars[i] {
                    '\\' => {
                        i += 1;
                        if i >= n {
                            return Err(malformed(format!(
                                "unterminated quoted value for \"{key}\""
                            )));
                        }
                        value.push(chars[i]);
                        i += 1;
                    }
                    '\'' if i + 1 < n && chars[i + 1] == '\'' => {
                        value.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < n && !chars[i].is_whitespace() {
                if chars[i] == '\\' {
                    i += 1;
                    if i < n {
                        value.push(chars[i]);
                        i += 1;
                    }
                } else {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------------------------
// URI form

/// Parses what follows `postgresql://`. Deviation from libpq: the user info ends at the
/// *last* `@` before the first `/`, so unencoded `@` in passwords works.
pub(super) fn parse_uri(rest: &str) -> Result<Vec<(String, String)>, ConnError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let slash = rest.find('/').unwrap_or(rest.len());
    let mut rest = rest;
    if let Some(at) = rest[..slash].rfind('@') {
        let userinfo = &rest[..at];
        let (user, password) = match userinfo.find(':') {
            Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
            None => (userinfo, None),
        };
        let user = percent_decode(user, "user name")?;
        if !user.is_empty() {
            pairs.push(("user".into(), user));
        }
        if let Some(pw) = password {
            let pw = percent_decode(pw, "password")?;
            if !pw.is_empty() {
                pairs.push(("password".into(), pw));
            }
        }
        rest = &rest[at + 1..];
    }

    // Host list.
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    let bytes = rest.as_bytes();
    let mut i = 0;
    loop {
        let host;
        if bytes.get(i) == Some(&b'[') {
            let close = rest[i..]
                .find(']')
                .ok_or_else(|| ConnError::BadUri("missing \"]\" in IPv6 host address".into()))?
                + i;
            host = rest[i + 1..close].to_string();
            if host.is_empty() {
                return Err(ConnError::BadUri("empty IPv6 host address".into()));
            }
            i = close + 1;
            if !matches!(bytes.get(i), None | Some(b':' | b',' | b'/' | b'?')) {
                return Err(ConnError::BadUri(
                    "unexpected character after IPv6 host address".into(),
                ));
            }
        } else {
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b':' | b',' | b'/' | b'?') {
                i += 1;
            }
            host = percent_decode(&rest[start..i], "host")?;
        }
        let mut port = String::new();
        if bytes.get(i) == Some(&b':') {
            i += 1;
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b',' | b'/' | b'?') {
                i += 1;
            }
            port = percent_decode(&rest[start..i], "port")?;
            // Not echoed: a malformed URI may put part of a password here.
            if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConnError::BadUri("invalid port number in host list".into()));
            }
        }
        hosts.push(host);
        ports.push(port);
        if bytes.get(i) == Some(&b',') {
            i += 1;
            continue;
        }
        break;
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        pairs.push(("host".into(), hosts.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        pairs.push(("port".into(), ports.join(",")));
    }

    let mut rest = &rest[i..];
    if let Some(r) = rest.strip_prefix('/') {
        let end = r.find('?').unwrap_or(r.len());
        let db = percent_decode(&r[..end], "database name")?;
        if !db.is_empty() {
            pairs.push(("dbname".into(), db));
        }
        rest = &r[end..];
    }
    if let Some(q) = rest.strip_prefix('?') {
        for param in q.split('&') {
            if param.is_empty() {
                continue;
            }
            let Some(eq) = param.find('=') else {
                return Err(ConnError::BadUri("missing \"=\" in query parameter".into()));
            };
            let key = percent_decode(&param[..eq], "query parameter name")?;
            let value = percent_decode(&param[eq + 1..], &format!("value of \"{key}\""))?;
            if key == "ssl" {
                // JDBC-style, accepted by libpq.
                if value == "true" {
                    pairs.push(("sslmode".into(), "require".into()));
                    continue;
                }
                return Err(invalid("ssl", &value));
            }
            pairs.push((key, value));
        }
    } else if !rest.is_empty() {
        return Err(ConnError::BadUri(
            "unexpected text after the host list".into(),
        ));
    }
    Ok(pairs)
}

/// Decodes `%XX` escapes; `what` names the URI component in errors (never its value).
pub(super) fn percent_decode(s: &str, what: &str) -> Result<String, ConnError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(ConnError::BadUri(format!(
                    "invalid percent-encoded token in {what}"
                )));
            };
            let byte = u8::try_from(hi * 16 + lo).unwrap_or(0);
            if byte == 0 {
                return Err(ConnError::BadUri(format!(
                    "forbidden value %00 in percent-encoded {what}"
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ConnError::BadUri(format!("percent-encoded {what} is not valid UTF-8")))
}

pub(super) fn is_uri(s: &str) -> bool {
    uri_rest(s).is_some()
}

pub(super) fn uri_rest(s: &str) -> Option<&str> {
    s.strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
}
