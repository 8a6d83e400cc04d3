//! Masking passwords in raw connection strings for logs.
use super::parse::is_uri;

/// Text shown in place of a password by [`redact`].
pub(super) const MASK: &str = "********";

/// Masks passwords in a raw connection string for logging: `password=...` values
/// (quoted or not, in key=value strings and URI query strings) and the `:pass` of
/// `user:pass@` in URIs. Tolerates malformed input.
pub fn redact(s: &str) -> String {
    let lead = s.len() - s.trim_start().len();
    if is_uri(&s[lead..]) {
        redact_uri(s)
    } else {
        redact_kv(s)
    }
}

pub(super) fn redact_uri(s: &str) -> String {
    let Some(scheme_end) = s.find("://").map(|p| p + 3) else {
        return s.to_string();
    };
    let qpos = s[scheme_end..]
        .find('?')
        .map_or(s.len(), |p| p + scheme_end);
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..scheme_end]);
    let pre = &s[scheme_end..qpos];
    // The last '@' anywhere before the query: over-masks rather than leaks.
    match pre.rfind('@') {
        Some(at) => {
            let userinfo = &pre[..at];
            match userinfo.find(':') {
                Some(c) => {
                    out.push_str(&userinfo[..=c]);
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&pre[at..]);
        }
        None => out.push_str(pre),
    }
    if qpos < s.len() {
        out.push('?');
        let params: Vec<String> = s[qpos + 1..]
            .split('&')
            .map(|p| match p.find('=') {
                Some(eq) if is_password_key(&p[..eq]) => format!("{}={MASK}", &p[..eq]),
                _ => p.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

pub(super) fn is_password_key(k: &str) -> bool {
    let k = k.trim();
    k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("%70assword")
}

pub(super) fn redact_kv(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < n {
        // Copy whitespace.
        while i < n && chars[i].is_whitespace() {
            out.push(chars[i]);
            i += 1;
        }
        if i >= n {
            break;
        }
        let kstart = i;
        while i < n && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[kstart..i].iter().collect();
        let mut j = i;
        while j < n && chars[j].is_whitespace() {
            j += 1;
        }
        if j >= n || chars[j] != '=' {
            // Bare word: copy it and carry on.
            out.push_str(&key);
            continue;
        }
        j += 1;
        while j < n && chars[j].is_whitespace() {
            j += 1;
        }
        out.extend(&chars[kstart..j]);
        let vstart = j;
        if j < n && chars[j] == '\'' {
            j += 1;
            while j < n {
                match chars[j] {
                    '\\' => j += 2,
                    '\'' if j + 1 < n && chars[j + 1] == '\'' => j += 2,
                    '\'' => {
                        j += 1;
                        break;
                    }
                    _ => j += 1,
                }
            }
        } else {
            while j < n && !chars[j].is_whitespace() {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
        }
        let j = j.min(n);
        let raw: String = chars[vstart..j].iter().collect();
        if key.eq_ignore_ascii_case("password") {
            out.push_str(MASK);
        } else if raw.contains("://") {
            // e.g. dbname=postgresql://user:pass@host/db
            let lead: String = raw.chars().take_while(|c| *c == '\'').collect();
            out.push_str(&lead);
            out.push_str(&redact_uri(&raw[lead.len()..]));
        } else {
            out.push_str(&raw);
        }
        i = j;
    }
    out
}
