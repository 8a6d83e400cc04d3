//! Talking to a test server from test code: running async client work off
//! the caller's runtime, connecting, rendering server errors, and quoting
//! database names into connection strings and URIs.

/// Runs a future to completion on a dedicated thread with its own
/// current-thread tokio runtime and returns its output. Safe to call from
/// inside another tokio runtime (it never blocks on the caller's runtime).
/// A panic inside the future is propagated to the caller.
pub fn block_on<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send,
    Fut: std::future::Future<Output = T>,
    T: Send,
{
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("pgferry-testkit: cannot build a tokio runtime");
            rt.block_on(f())
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

pub(crate) async fn connect_on_current_runtime(
    conn: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Renders a tokio-postgres error with all server-side fields, and the line of
/// `sql` the error position points at.
pub fn describe_error(err: &tokio_postgres::Error, sql: Option<&str>) -> String {
    let Some(db) = err.as_db_error() else {
        let mut s = err.to_string();
        let mut src = std::error::Error::source(err);
        while let Some(e) = src {
            s.push_str(": ");
            s.push_str(&e.to_string());
            src = e.source();
        }
        return s;
    };
    let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(d) = db.detail() {
        s.push_str(&format!("\n  DETAIL: {d}"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("\n  HINT: {h}"));
    }
    if let Some(w) = db.where_() {
        s.push_str(&format!("\n  WHERE: {w}"));
    }
    if let (Some(sql), Some(tokio_postgres::error::ErrorPosition::Original(pos))) =
        (sql, db.position())
    {
        // `pos` is a 1-based character index into the query string.
        let before: String = sql
            .chars()
            .take((*pos as usize).saturating_sub(1))
            .collect();
        let line_no = before.matches('\n').count() + 1;
        let line = sql.lines().nth(line_no - 1).unwrap_or("");
        s.push_str(&format!("\n  at SQL line {line_no}: {line}"));
    }
    s
}

pub(crate) fn excerpt(sql: &str) -> String {
    const MAX: usize = 400;
    if sql.len() <= MAX {
        sql.to_string()
    } else {
        let mut end = MAX;
        while !sql.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes total)", &sql[..end], sql.len())
    }
}

pub(crate) fn libpq_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && c != '\'' && c != '\\')
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
    }
}

pub(crate) fn percent_encode(v: &str) -> String {
    let mut s = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::sh_quote;

    #[test]
    fn quoting() {
        assert_eq!(libpq_quote("t_a_1"), "t_a_1");
        assert_eq!(libpq_quote("a b'c"), r"'a b\'c'");
        assert_eq!(libpq_quote(""), "''");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
