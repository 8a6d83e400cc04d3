//! The password file (`~/.pgpass`): reading it as libpq does, and matching its lines.
use std::path::Path;

/// One `hostname:port:database:username:password` line; `None` fields are `*`.
pub(super) struct PgpassEntry {
    fields: [Option<String>; 4],
    password: String,
}

/// Reads a password file, ignoring it (with a warning) when it is not a regular file or is
/// group/world accessible, like libpq. A missing file is silently ignored.
pub(super) fn read_pgpass(path: &Path) -> Option<Vec<PgpassEntry>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot read password file");
            }
            return None;
        }
    };
    if !meta.is_file() {
        tracing::warn!(path = %path.display(), "password file is not a plain file; ignored");
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "password file has group or world access; permissions should be u=rw (0600) or less; ignored"
            );
            return None;
        }
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read password file");
            return None;
        }
    };
    Some(parse_pgpass(&text))
}

pub(super) fn parse_pgpass(text: &str) -> Vec<PgpassEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Split on unescaped ':' into 4 fields + password, de-escaping as we go.
        let mut parts: Vec<(String, bool)> = Vec::new(); // (text, was exactly "*")
        let mut cur = String::new();
        let mut raw_star = true;
        let mut raw_len = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == ':' && parts.len() < 4 {
                parts.push((std::mem::take(&mut cur), raw_star && raw_len == 1));
                raw_star = true;
                raw_len = 0;
                continue;
            }
            if c == ':' {
                // Unescaped ':' ends the password (libpq).
                break;
            }
            raw_len += 1;
            if c == '\\' {
                raw_star = false;
                if let Some(next) = chars.next() {
                    cur.push(next);
                } else {
                    cur.push('\\');
                }
            } else {
                if c != '*' {
                    raw_star = false;
                }
                cur.push(c);
            }
        }
        if parts.len() < 4 {
            continue; // malformed line
        }
        let fields = [0, 1, 2, 3].map(|i| {
            let (text, star) = &parts[i];
            if *star {
                None
            } else {
                Some(text.clone())
            }
        });
        out.push(PgpassEntry {
            fields,
            password: cur,
        });
    }
    out
}

pub(super) fn pgpass_match(
    entries: &[PgpassEntry],
    host: &str,
    port: &str,
    db: &str,
    user: &str,
) -> Option<String> {
    let want = [host, port, db, user];
    entries
        .iter()
        .find(|e| {
            e.fields
                .iter()
                .zip(want)
                .all(|(f, w)| f.as_deref().is_none_or(|f| f == w))
        })
        .map(|e| e.password.clone())
}
