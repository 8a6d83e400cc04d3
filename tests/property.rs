//! Seeded, replayable round-trip property test.
//!
//! Every case builds a fresh source database with 1-4 random tables in 1-2
//! schemas (names that need quoting), 1-12 columns each drawn from a wide
//! type list (arrays, domains, enums, ranges, multiranges, json/jsonb,
//! numeric with odd scales, timestamps at the edges, text with every
//! escape-worthy character, ...), random NULL patterns and 0-200 random rows.
//! It then runs the real binary twice:
//!
//! * `pgferry sync --source SRC --target DST --verify checksums`, and
//! * `pgferry dump` + `pgferry restore` into a third database,
//!
//! and compares each copy with the source: `pg_dump --schema-only` (without
//! the `pgferry` schema), an order-independent hash of every table's rows and
//! the sequences.
//!
//! Then a few incremental syncs follow (the library's `pgferry_engine::sync`,
//! for its report), each after random row edits (updates, inserts, deletes)
//! on the source and, in the first round and now and then after, on the
//! replica. After each the replica must equal the source (the same
//! comparison), and, since only rows changed, no table may be rebuilt and
//! no sync fall back to a full one: a table whose rows were equal on both
//! sides before the sync is kept, the others get a delta or are replaced.
//!
//! Knobs:
//!
//! | variable | meaning |
//! |---|---|
//! | `PGFERRY_PROPTEST_SEED` | the run's seed (default: from the clock; always printed) |
//! | `PGFERRY_PROPTEST_CASES` | number of cases (default 10) |
//! | `PGFERRY_PROPTEST_SAVE` | set: write every case's generated SQL to `target/tmp/` |
//! | `PGFERRY_PROPTEST_CASE` | run only this case number of the seed's sequence |
//! | `PGFERRY_PROPTEST_ROUNDS` | incremental syncs per case after the first sync (default 3) |
//!
//! Every case derives its own generator from the run seed and its number, so
//! `PGFERRY_PROPTEST_SEED=<n> PGFERRY_PROPTEST_CASE=<k>` replays exactly the
//! failing case (on a server of the same major version). On failure the whole
//! generated SQL script is also written to `target/tmp/`.
mod common;

use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::*;
use pgferry_engine::{ConnSpec, SyncOptions, SyncReport, TableAction, VerifyMode};
use pgferry_testkit::{shared_cluster, TestDb};

/// Default number of cases: keeps the test well under a minute on two cores
/// in a debug build.
const DEFAULT_CASES: u64 = 10;

/// Default number of incremental syncs per case after the first sync.
const DEFAULT_ROUNDS: u64 = 3;

// ---------------------------------------------------------------------------
// PRNG (splitmix64): no dependencies, stable across platforms and releases.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next_u64() as u128 % span) as i128) as i64
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize].clone()
    }

    fn digits_in(&mut self, lo: i64, hi: i64) -> String {
        let n = self.range(lo, hi) as usize;
        self.digits(n)
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

fn splitmix(x: u64) -> u64 {
    Rng::new(x).next_u64()
}

// ---------------------------------------------------------------------------
// Quoting
// ---------------------------------------------------------------------------

/// A double-quoted identifier (always quoted, `"` doubled).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A standard-conforming string literal (`'` doubled, backslashes literal).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An element of an array or a field of a record literal: always quoted,
/// `"` and `\` backslash-escaped.
fn quote_elem(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Types and value generators (values are produced in the type's text input
// form; the SQL literal is `'<text>'::<type>`).
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Ty {
    Int2,
    Int4,
    Int8,
    Numeric(Option<(i32, i32)>),
    Float4,
    Float8,
    Bool,
    Text,
    Varchar(usize),
    Bpchar(usize),
    Char1,
    Name,
    Bytea,
    Date,
    Timestamp,
    Timestamptz,
    Time,
    Timetz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Inet,
    Cidr,
    Macaddr,
    Macaddr8,
    Int4Range,
    NumRange,
    TsRange,
    TstzRange,
    DateRange,
    Int4Multirange,
    NumMultirange,
    DateMultirange,
    TsMultirange,
    Bit(usize),
    Varbit(Option<usize>),
    Point,
    Tsvector,
    Xml,
    Oid,
    PgLsn,
    Enum,
    Domain,
    Composite,
    UserRange,
    UserMultirange,
    Array(Box<Ty>, u8),
}

/// The case's user-defined types (qualified, quoted names).
#[derive(Debug, Clone)]
struct UserTypes {
    enum_name: String,
    labels: Vec<String>,
    domain: String,
    composite: String,
    /// A user-defined range over float8, and its multirange (PG14+).
    range: String,
    multirange: String,
}

/// What the generator may use on this server.
#[derive(Debug, Clone)]
struct Caps {
    major: u32,
    xml: bool,
}

#[derive(Debug)]
struct Gen {
    caps: Caps,
    ut: UserTypes,
}

impl Ty {
    fn sql(&self, ut: &UserTypes) -> String {
        match self {
            Ty::Int2 => "int2".into(),
            Ty::Int4 => "int4".into(),
            Ty::Int8 => "int8".into(),
            Ty::Numeric(None) => "numeric".into(),
            Ty::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            Ty::Float4 => "float4".into(),
            Ty::Float8 => "float8".into(),
            Ty::Bool => "bool".into(),
            Ty::Text => "text".into(),
            Ty::Varchar(n) => format!("varchar({n})"),
            Ty::Bpchar(n) => format!("char({n})"),
            Ty::Char1 => "\"char\"".into(),
            Ty::Name => "name".into(),
            Ty::Bytea => "bytea".into(),
            Ty::Date => "date".into(),
            Ty::Timestamp => "timestamp".into(),
            Ty::Timestamptz => "timestamptz".into(),
            Ty::Time => "time".into(),
            Ty::Timetz => "timetz".into(),
            Ty::Interval => "interval".into(),
            Ty::Uuid => "uuid".into(),
            Ty::Json => "json".into(),
            Ty::Jsonb => "jsonb".into(),
            Ty::Inet => "inet".into(),
            Ty::Cidr => "cidr".into(),
            Ty::Macaddr => "macaddr".into(),
            Ty::Macaddr8 => "macaddr8".into(),
            Ty::Int4Range => "int4range".into(),
            Ty::NumRange => "numrange".into(),
            Ty::TsRange => "tsrange".into(),
            Ty::TstzRange => "tstzrange".into(),
            Ty::DateRange => "daterange".into(),
            Ty::Int4Multirange => "int4multirange".into(),
            Ty::NumMultirange => "nummultirange".into(),
            Ty::DateMultirange => "datemultirange".into(),
            Ty::TsMultirange => "tsmultirange".into(),
            Ty::Bit(n) => format!("bit({n})"),
            Ty::Varbit(None) => "varbit".into(),
            Ty::Varbit(Some(n)) => format!("varbit({n})"),
            Ty::Point => "point".into(),
            Ty::Tsvector => "tsvector".into(),
            Ty::Xml => "xml".into(),
            Ty::Oid => "oid".into(),
            Ty::PgLsn => "pg_lsn".into(),
            Ty::Enum => ut.enum_name.clone(),
            Ty::Domain => ut.domain.clone(),
            Ty::Composite => ut.composite.clone(),
            Ty::UserRange => ut.range.clone(),
            Ty::UserMultirange => ut.multirange.clone(),
            Ty::Array(elem, dims) => format!("{}{}", elem.sql(ut), "[]".repeat(*dims as usize)),
        }
    }

    /// Whether `COLLATE` applies.
    fn collatable(&self) -> bool {
        matches!(self, Ty::Text | Ty::Varchar(_) | Ty::Bpchar(_))
    }
}

/// Characters that need escaping somewhere (COPY text, CSV, array and record
/// literals, SQL strings, JSON, ...), plus multi-byte UTF-8. No NUL.
const CHUNKS: &[&str] = &[
    "a",
    "b",
    "Z",
    "0",
    "7",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\\",
    "\\\\",
    "\\N",
    "\\.",
    "'",
    "''",
    "\"",
    ",",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    "|",
    ":",
    "=",
    "NULL",
    "null",
    "$$",
    "--",
    "/*",
    "%",
    "_",
    "\u{1}",
    "\u{8}",
    "\u{b}",
    "\u{c}",
    "\u{1b}",
    "\u{1f}",
    "\u{7f}",
    "\u{80}",
    "\u{a0}",
    "é",
    "ß",
    "€",
    "中文",
    "ありがとう",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "\u{10ffff}",
];

fn gen_string(rng: &mut Rng, max_chars: usize) -> String {
    if max_chars == 0 || rng.chance(1, 12) {
        return String::new();
    }
    // Now and then a long (TOASTed) value, compressible or not.
    if max_chars >= 10_000 && rng.chance(1, 60) {
        let len = rng.range(2_500, 20_000) as usize;
        let mut s = String::new();
        if rng.chance(1, 2) {
            let unit: String = (0..rng.range(1, 8)).map(|_| rng.pick(CHUNKS)).collect();
            while s.chars().count() < len {
                s.push_str(&unit);
            }
        } else {
            while s.len() < len {
                s.push_str(rng.pick(CHUNKS));
            }
        }
        return s.chars().take(max_chars).collect();
    }
    let n = rng.range(1, 24);
    let mut s = String::new();
    let mut count = 0;
    for _ in 0..n {
        let chunk = rng.pick(CHUNKS);
        let c = chunk.chars().count();
        if count + c > max_chars {
            break;
        }
        count += c;
        s.push_str(chunk);
    }
    s
}

fn gen_int(rng: &mut Rng, min: i64, max: i64) -> String {
    if rng.chance(1, 5) {
        let edges = [min, min + 1, -1, 0, 1, max - 1, max];
        return rng.pick(&edges).to_string();
    }
    match rng.below(3) {
        0 => rng.range(-100, 100).to_string(),
        _ => rng.range(min, max).to_string(),
    }
}

fn nonzero_digits(rng: &mut Rng, n: usize) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut s = char::from(b'1' + rng.below(9) as u8).to_string();
    s.push_str(&rng.digits(n - 1));
    s
}

fn gen_numeric(rng: &mut Rng, typmod: Option<(i32, i32)>, major: u32) -> String {
    let sign = if rng.chance(1, 3) { "-" } else { "" };
    if rng.chance(1, 14) {
        return "NaN".into();
    }
    match typmod {
        Some((p, s)) => {
            let (p, s) = (p as i64, s as i64);
            if s < 0 {
                // Rounded to 10^-s; keep one digit of headroom for the rounding.
                let k = rng.range(0, p - s - 1) as usize;
                let frac = if rng.chance(1, 2) {
                    format!(".{}", rng.digits_in(1, 4))
                } else {
                    String::new()
                };
                format!("{sign}{}{frac}", nonzero_digits(rng, k))
            } else if s > p {
                let n = rng.range(0, p) as usize;
                format!("{sign}0.{}{}", "0".repeat((s - p) as usize), rng.digits(n))
            } else {
                let k = rng.range(0, p - s) as usize;
                let f = rng.range(0, s) as usize;
                let frac = if f > 0 {
                    format!(".{}", rng.digits(f))
                } else {
                    String::new()
                };
                format!("{sign}{}{frac}", nonzero_digits(rng, k))
            }
        }
        None => match rng.below(9) {
            0 if major >= 14 => rng.pick(&["Infinity", "-Infinity"]).to_string(),
            1 => {
                // Huge.
                let n = if rng.chance(1, 6) {
                    rng.range(300, 1200)
                } else {
                    rng.range(20, 120)
                } as usize;
                let frac = if rng.chance(1, 2) {
                    format!(".{}", rng.digits_in(1, 30))
                } else {
                    String::new()
                };
                format!("{sign}{}{frac}", nonzero_digits(rng, n))
            }
            2 => {
                // Tiny.
                let zeros = if rng.chance(1, 5) {
                    rng.range(200, 1000)
                } else {
                    rng.range(5, 40)
                } as usize;
                format!("{sign}0.{}{}", "0".repeat(zeros), {
                    let n = rng.range(1, 20) as usize;
                    nonzero_digits(rng, n)
                })
            }
            3 => {
                // Trailing zeros set the display scale.
                format!(
                    "{sign}{}.{}{}",
                    rng.range(0, 99999),
                    rng.digits_in(0, 3),
                    "0".repeat(rng.range(1, 20) as usize)
                )
            }
            4 => {
                let e = rng.range(-300, 300);
                format!("{sign}{}.{}e{e}", rng.range(1, 9), rng.digits(3))
            }
            5 => rng
                .pick(&[
                    "0",
                    "-0",
                    "0.000",
                    "-0.00",
                    "1",
                    "-1",
                    "0.1",
                    "1e-16383",
                    "1e131071",
                    "99999999999999999999.99999999999999999999",
                ])
                .to_string(),
            _ => format!(
                "{sign}{}.{}",
                rng.range(0, 1_000_000_000),
                rng.digits_in(1, 12)
            ),
        },
    }
}

fn gen_f64(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => rng
            .pick(&[
                "NaN",
                "Infinity",
                "-Infinity",
                "-0",
                "0",
                "4.9e-324",
                "-4.9e-324",
                "2.225073858507201e-308",
                "2.2250738585072014e-308",
                "1.7976931348623157e308",
                "-1.7976931348623157e308",
                "0.1",
                "1e-310",
            ])
            .to_string(),
        1 => {
            // A random denormal.
            let v = f64::from_bits(rng.range(1, (1 << 52) - 1) as u64);
            format!("{v:e}")
        }
        2..=4 => format!("{}", rng.range(-1_000_000, 1_000_000) as f64 / 64.0),
        _ => {
            let v = f64::from_bits(rng.next_u64());
            if v.is_nan() {
                "NaN".into()
            } else {
                format!("{v:e}")
            }
        }
    }
}

fn gen_f32(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => rng
            .pick(&[
                "NaN",
                "Infinity",
                "-Infinity",
                "-0",
                "0",
                "1e-45",
                "-1e-45",
                "1.1754942e-38",
                "1.17549435e-38",
                "3.4028235e38",
                "-3.4028235e38",
                "0.1",
            ])
            .to_string(),
        1 => {
            let v = f32::from_bits(rng.range(1, (1 << 23) - 1) as u32);
            format!("{v:e}")
        }
        2..=4 => format!("{}", rng.range(-100_000, 100_000) as f32 / 8.0),
        _ => {
            let v = f32::from_bits(rng.next_u64() as u32);
            if v.is_nan() {
                "NaN".into()
            } else {
                format!("{v:e}")
            }
        }
    }
}

/// (year, month, day, bc) with a broad spread; `max_year` bounds AD years.
fn gen_ymd(rng: &mut Rng, max_year: i64) -> (i64, i64, i64, bool) {
    let (m, d) = (rng.range(1, 12), rng.range(1, 28));
    match rng.below(8) {
        0 => (rng.range(1, 4713), m, d, true),
        1 => (rng.range(10_000, max_year), m, d, false),
        2 => (rng.range(1, 999), m, d, false),
        _ => (rng.range(1900, 2100), m, d, false),
    }
}

fn fmt_ymd(y: i64, m: i64, d: i64) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

fn gen_frac(rng: &mut Rng) -> String {
    if rng.chance(1, 2) {
        String::new()
    } else {
        format!(".{}", rng.digits_in(1, 6))
    }
}

fn gen_hms(rng: &mut Rng) -> String {
    format!(
        "{:02}:{:02}:{:02}{}",
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59),
        gen_frac(rng)
    )
}

fn gen_date(rng: &mut Rng) -> String {
    if rng.chance(1, 6) {
        return rng
            .pick(&[
                "infinity",
                "-infinity",
                "4714-11-24 BC",
                "5874897-12-31",
                "2000-02-29",
                "0001-01-01",
                "0001-12-31 BC",
                "1970-01-01",
                "2000-01-01",
            ])
            .to_string();
    }
    let (y, m, d, bc) = gen_ymd(rng, 5_874_896);
    format!("{}{}", fmt_ymd(y, m, d), if bc { " BC" } else { "" })
}

fn gen_timestamp(rng: &mut Rng, tz: bool) -> String {
    if rng.chance(1, 6) {
        let edge = rng.pick(&[
            "infinity",
            "-infinity",
            "294276-12-31 23:59:59.999999",
            "4714-11-24 00:00:00 BC",
            "2000-01-01 00:00:00",
            "1999-12-31 23:59:59.999999",
            "1970-01-01 00:00:00",
            "0001-01-01 00:00:00 BC",
        ]);
        if tz && !edge.ends_with("infinity") {
            // Put the offset before a BC suffix.
            return match edge.strip_suffix(" BC") {
                Some(e) => format!("{e}+00 BC"),
                None => format!("{edge}+00"),
            };
        }
        return edge.to_string();
    }
    let (y, m, d, bc) = gen_ymd(rng, 294_275);
    let off = if tz {
        gen_offset(rng, 14)
    } else {
        String::new()
    };
    format!(
        "{} {}{off}{}",
        fmt_ymd(y, m, d),
        gen_hms(rng),
        if bc { " BC" } else { "" }
    )
}

fn gen_offset(rng: &mut Rng, max_hours: i64) -> String {
    let sign = if rng.chance(1, 2) { '-' } else { '+' };
    match rng.below(4) {
        0 => format!("{sign}{:02}", rng.range(0, max_hours)),
        1 => format!(
            "{sign}{:02}:{:02}",
            rng.range(0, max_hours),
            rng.range(0, 59)
        ),
        2 => "+00".into(),
        _ => format!(
            "{sign}{:02}:{}",
            rng.range(0, max_hours),
            rng.pick(&["00", "30", "45"])
        ),
    }
}

fn gen_time(rng: &mut Rng) -> String {
    if rng.chance(1, 10) {
        return rng
            .pick(&["24:00:00", "00:00:00", "23:59:59.999999"])
            .to_string();
    }
    gen_hms(rng)
}

fn gen_timetz(rng: &mut Rng) -> String {
    if rng.chance(1, 10) {
        return rng
            .pick(&["24:00:00-15:59", "00:00:00+15:59", "12:00:00+05:30:15"])
            .to_string();
    }
    format!("{}{}", gen_hms(rng), gen_offset(rng, 15))
}

fn gen_interval(rng: &mut Rng, major: u32) -> String {
    if rng.chance(1, 10) {
        let mut edges = vec!["00:00:00", "1 year -1 mons", "-00:00:00.000001"];
        if major >= 15 {
            edges.extend([
                "178956970 years 6 mons 2147483647 days 2562047788:00:54.775807",
                "-178956970 years -7 mons -2147483648 days -2562047788:00:54.775807",
            ]);
        } else {
            // Older servers parse the hours field as int4.
            edges.extend([
                "178956970 years 6 mons 2147483647 days 2147483647:59:59.999999",
                "-178956970 years -7 mons -2147483648 days -2147483647:59:59.999999",
            ]);
        }
        if major >= 17 {
            edges.extend(["infinity", "-infinity"]);
        }
        return rng.pick(&edges).to_string();
    }
    let mut parts = Vec::new();
    if rng.chance(1, 2) {
        parts.push(format!("{} years", rng.range(-5000, 5000)));
    }
    if rng.chance(1, 2) {
        parts.push(format!("{} mons", rng.range(-30, 30)));
    }
    if rng.chance(1, 2) {
        parts.push(format!("{} days", rng.range(-100_000, 100_000)));
    }
    if parts.is_empty() || rng.chance(1, 2) {
        let sign = if rng.chance(1, 3) { "-" } else { "" };
        parts.push(format!(
            "{sign}{:02}:{:02}:{:02}{}",
            rng.range(0, 100_000),
            rng.range(0, 59),
            rng.range(0, 59),
            gen_frac(rng)
        ));
    }
    parts.join(" ")
}

fn gen_uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn json_ws(rng: &mut Rng) -> &'static str {
    rng.pick(&["", "", "", " ", "  ", "\n", "\t", " \r\n "])
}

fn gen_json_string(rng: &mut Rng, allow_nul: bool) -> String {
    let mut s = String::from("\"");
    for _ in 0..rng.range(0, 8) {
        let tok = rng.pick(&[
            "a",
            "Z",
            " ",
            "é",
            "😀",
            "中",
            "'",
            "\\\"",
            "\\\\",
            "\\/",
            "\\b",
            "\\f",
            "\\n",
            "\\r",
            "\\t",
            "\\u00e9",
            "\\u0041",
            "\\ud83d\\ude00",
            "\\u001f",
            "\\u0000",
            "NULL",
            "{",
            ",",
        ]);
        if tok == "\\u0000" && !allow_nul {
            continue;
        }
        s.push_str(tok);
    }
    s.push('"');
    s
}

fn gen_json(rng: &mut Rng, depth: u32, allow_nul: bool) -> String {
    let kinds = if depth >= 3 { 4 } else { 8 };
    match rng.below(kinds) {
        0 => rng.pick(&["null", "true", "false"]).to_string(),
        1 => rng
            .pick(&[
                "0",
                "-0",
                "1",
                "-1.5",
                "1e400",
                "1E-7",
                "2.50",
                "123456789012345678901234567890",
                "0.000",
                "-1.0e+2",
            ])
            .to_string(),
        2 => rng.range(-1_000_000, 1_000_000).to_string(),
        3 => gen_json_string(rng, allow_nul),
        4..=5 => {
            let n = rng.range(0, 4);
            let mut s = String::from("{");
            for i in 0..n {
                if i > 0 {
                    s.push_str(json_ws(rng));
                    s.push(',');
                }
                s.push_str(json_ws(rng));
                if rng.chance(1, 2) {
                    s.push_str(rng.pick(&["\"a\"", "\"b\"", "\"\"", "\"ключ\"", "\"a b\""]));
                } else {
                    s.push_str(&gen_json_string(rng, allow_nul));
                }
                s.push_str(json_ws(rng));
                s.push(':');
                s.push_str(json_ws(rng));
                s.push_str(&gen_json(rng, depth + 1, allow_nul));
            }
            s.push_str(json_ws(rng));
            s.push('}');
            s
        }
        _ => {
            let n = rng.range(0, 4);
            let mut s = String::from("[");
            for i in 0..n {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(json_ws(rng));
                s.push_str(&gen_json(rng, depth + 1, allow_nul));
                s.push_str(json_ws(rng));
            }
            s.push(']');
            s
        }
    }
}

fn fmt_v6(a: u128) -> String {
    (0..8)
        .map(|i| format!("{:x}", (a >> (112 - 16 * i)) & 0xffff))
        .collect::<Vec<_>>()
        .join(":")
}

fn gen_inet(rng: &mut Rng, cidr: bool) -> String {
    if rng.chance(1, 2) {
        let a = rng.next_u64() as u32;
        let m = rng.range(0, 32) as u32;
        let a = if cidr {
            a & u32::MAX.checked_shl(32 - m).unwrap_or(0)
        } else {
            a
        };
        let ip = std::net::Ipv4Addr::from(a);
        if !cidr && rng.chance(1, 3) {
            ip.to_string()
        } else {
            format!("{ip}/{m}")
        }
    } else {
        let a = ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128;
        let a = if rng.chance(1, 3) { a & 0xffff_ffff } else { a };
        let m = rng.range(0, 128) as u32;
        let a = if cidr {
            a & u128::MAX.checked_shl(128 - m).unwrap_or(0)
        } else {
            a
        };
        if !cidr && rng.chance(1, 3) {
            fmt_v6(a)
        } else {
            format!("{}/{m}", fmt_v6(a))
        }
    }
}

fn gen_mac(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| format!("{:02x}", rng.below(256)))
        .collect::<Vec<_>>()
        .join(":")
}

fn brackets(rng: &mut Rng) -> (char, char) {
    (rng.pick(&['[', '(']), rng.pick(&[']', ')']))
}

/// A range literal from ordered bound texts (`None` = unbounded).
fn range_lit(rng: &mut Rng, lo: Option<String>, hi: Option<String>) -> String {
    let (l, r) = brackets(rng);
    let l = if lo.is_none() { '(' } else { l };
    let r = if hi.is_none() { ')' } else { r };
    format!(
        "{l}{},{}{r}",
        lo.unwrap_or_default(),
        hi.unwrap_or_default()
    )
}

fn ordered(rng: &mut Rng, lo: i64, hi: i64) -> (i64, i64) {
    let (a, b) = (rng.range(lo, hi), rng.range(lo, hi));
    (a.min(b), a.max(b))
}

/// Decimal text of `v / 10^scale`.
fn fixed(v: i64, scale: u32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{a}");
    }
    let p = 10u64.pow(scale);
    format!("{sign}{}.{:0w$}", a / p, a % p, w = scale as usize)
}

/// Microseconds since 0001-01-01 within AD 1..9999, as text.
fn ts_from_micros(us: i64) -> String {
    // Civil-from-days (proleptic Gregorian), days since 0001-01-01.
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    format!(
        "{} {:02}:{:02}:{:02}.{:06}",
        fmt_ymd(y, m, d),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rem % 1_000_000
    )
}

fn civil_from_days(days_since_0001: i64) -> (i64, i64, i64) {
    // Shift to days since 1970-01-01 and use Howard Hinnant's algorithm.
    let z = days_since_0001 - 719_162 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MAX_AD_MICROS: i64 = 3_652_058 * 86_400_000_000 - 1; // through 9999-12-31

fn gen_range(rng: &mut Rng, ty: &Ty) -> String {
    if rng.chance(1, 10) {
        return "empty".into();
    }
    if rng.chance(1, 15) {
        return "(,)".into();
    }
    let (lo, hi) = match ty {
        Ty::Int4Range => {
            let (a, b) = ordered(rng, -1_000_000, 1_000_000);
            (a.to_string(), b.to_string())
        }
        Ty::UserRange => {
            let (a, b) = ordered(rng, -1_000_000, 1_000_000);
            let (mut a, mut b) = (format!("{}", a as f64 / 8.0), format!("{}", b as f64 / 8.0));
            if rng.chance(1, 8) {
                a = "-Infinity".into();
            }
            if rng.chance(1, 8) {
                b = "Infinity".into();
            }
            (a, b)
        }
        Ty::NumRange => {
            let (a, b) = ordered(rng, -1_000_000_000, 1_000_000_000);
            let s = rng.range(0, 5) as u32;
            (fixed(a, s), fixed(b, s))
        }
        Ty::DateRange => {
            let (a, b) = ordered(rng, 0, MAX_AD_MICROS);
            let f = |v: i64| ts_from_micros(v)[..10].to_string();
            (f(a), f(b))
        }
        Ty::TsRange | Ty::TstzRange => {
            let (a, b) = ordered(rng, 0, MAX_AD_MICROS);
            let off = if matches!(ty, Ty::TstzRange) {
                gen_offset(rng, 12)
            } else {
                String::new()
            };
            let q = |v: i64| format!("\"{}{off}\"", ts_from_micros(v));
            let (mut a, mut b) = (q(a), q(b));
            if rng.chance(1, 8) {
                a = "-infinity".into();
            }
            if rng.chance(1, 8) {
                b = "infinity".into();
            }
            (a, b)
        }
        _ => unreachable!("not a range: {ty:?}"),
    };
    let lo = (!rng.chance(1, 8)).then_some(lo);
    let hi = (!rng.chance(1, 8)).then_some(hi);
    range_lit(rng, lo, hi)
}

fn gen_multirange(rng: &mut Rng, ty: &Ty) -> String {
    let elem = match ty {
        Ty::Int4Multirange => Ty::Int4Range,
        Ty::NumMultirange => Ty::NumRange,
        Ty::DateMultirange => Ty::DateRange,
        Ty::TsMultirange => Ty::TsRange,
        Ty::UserMultirange => Ty::UserRange,
        _ => unreachable!(),
    };
    let n = rng.range(0, 4);
    let parts: Vec<String> = (0..n)
        .map(|_| loop {
            let r = gen_range(rng, &elem);
            if r != "empty" {
                break r;
            }
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn gen_bits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| if rng.chance(1, 2) { '1' } else { '0' })
        .collect()
}

fn gen_tsvector(rng: &mut Rng) -> String {
    let n = rng.range(0, 5);
    let mut out = Vec::new();
    for _ in 0..n {
        let word = rng.pick(&["cat", "naïve", "😀", "it''s", "a b", "x\\\\y", "中文", "Z"]);
        let mut lex = format!("'{word}'");
        if rng.chance(1, 2) {
            let positions: Vec<String> = (0..rng.range(1, 3))
                .map(|_| format!("{}{}", rng.range(1, 16383), rng.pick(&["", "A", "B", "C"])))
                .collect();
            lex.push(':');
            lex.push_str(&positions.join(","));
        }
        out.push(lex);
    }
    out.join(" ")
}

fn gen_xml(rng: &mut Rng) -> String {
    let text: String = (0..rng.range(0, 6))
        .map(|_| {
            rng.pick(&[
                "a",
                " ",
                "é",
                "😀",
                "&amp;",
                "&lt;",
                "&#x1F600;",
                "\t",
                "\n",
                "'",
                "\"",
                "\\",
            ])
        })
        .collect();
    match rng.below(5) {
        0 => format!("<r a=\"1\" b='x&quot;y'>{text}<c/></r>"),
        1 => format!("<?xml version=\"1.0\"?><doc>{text}</doc>"),
        2 => text.replace('<', "&lt;"),
        3 => format!("<a>{text}</a><!-- c --><b/>"),
        _ => format!("<![CDATA[{text}]]>"),
    }
}

fn gen_composite(g: &Gen, rng: &mut Rng) -> String {
    let mut fields = Vec::new();
    let a = (!rng.chance(1, 4)).then(|| gen_int(rng, i32::MIN as i64, i32::MAX as i64));
    let b = (!rng.chance(1, 4)).then(|| gen_string(rng, 40));
    let c = (!rng.chance(1, 4)).then(|| rng.pick(&g.ut.labels).clone());
    let d = (!rng.chance(1, 4)).then(|| gen_array(g, rng, &Ty::Int4, 1));
    for f in [a, b, c, d] {
        fields.push(f.map(|v| quote_elem(&v)).unwrap_or_default());
    }
    format!("({})", fields.join(","))
}

fn gen_array(g: &Gen, rng: &mut Rng, elem: &Ty, dims: u8) -> String {
    let elem_text = |rng: &mut Rng| {
        if rng.chance(1, 6) {
            "NULL".to_string()
        } else {
            quote_elem(&gen_value(g, rng, elem))
        }
    };
    if dims >= 2 {
        let (r, c) = (rng.range(1, 3), rng.range(1, 3));
        let rows: Vec<String> = (0..r)
            .map(|_| {
                let cells: Vec<String> = (0..c).map(|_| elem_text(rng)).collect();
                format!("{{{}}}", cells.join(","))
            })
            .collect();
        return format!("{{{}}}", rows.join(","));
    }
    let n = if rng.chance(1, 8) { 0 } else { rng.range(1, 5) };
    let cells: Vec<String> = (0..n).map(|_| elem_text(rng)).collect();
    // Now and then a non-default lower bound.
    if n > 0 && rng.chance(1, 8) {
        let lb = rng.range(-3, 5);
        return format!("[{lb}:{}]={{{}}}", lb + n - 1, cells.join(","));
    }
    format!("{{{}}}", cells.join(","))
}

fn gen_value(g: &Gen, rng: &mut Rng, ty: &Ty) -> String {
    let major = g.caps.major;
    match ty {
        Ty::Int2 => gen_int(rng, i16::MIN as i64, i16::MAX as i64),
        Ty::Int4 => gen_int(rng, i32::MIN as i64, i32::MAX as i64),
        Ty::Int8 => gen_int(rng, i64::MIN, i64::MAX),
        Ty::Numeric(tm) => gen_numeric(rng, *tm, major),
        Ty::Float4 => gen_f32(rng),
        Ty::Float8 => gen_f64(rng),
        Ty::Bool => rng
            .pick(&["true", "false", "t", "f", "yes", "off"])
            .to_string(),
        Ty::Text => gen_string(rng, 20_000),
        Ty::Varchar(n) | Ty::Bpchar(n) => gen_string(rng, *n),
        Ty::Char1 => {
            let mut opts = vec!["a", "Z", " ", "'", "\"", ",", "{", ""];
            if major >= 15 {
                opts.push("\\351");
            }
            rng.pick(&opts).to_string()
        }
        Ty::Name => {
            let mut s = gen_string(rng, 40);
            while s.len() > 63 {
                s.pop();
            }
            s
        }
        Ty::Bytea => {
            let n = if rng.chance(1, 30) {
                rng.range(2000, 9000)
            } else {
                rng.range(0, 40)
            };
            let mut s = String::from("\\x");
            for _ in 0..n {
                let b = if rng.chance(1, 3) { 0 } else { rng.below(256) };
                write!(s, "{b:02x}").unwrap();
            }
            s
        }
        Ty::Date => gen_date(rng),
        Ty::Timestamp => gen_timestamp(rng, false),
        Ty::Timestamptz => gen_timestamp(rng, true),
        Ty::Time => gen_time(rng),
        Ty::Timetz => gen_timetz(rng),
        Ty::Interval => gen_interval(rng, major),
        Ty::Uuid => gen_uuid(rng),
        Ty::Json => format!("{}{}{}", json_ws(rng), gen_json(rng, 0, true), json_ws(rng)),
        Ty::Jsonb => gen_json(rng, 0, false),
        Ty::Inet => gen_inet(rng, false),
        Ty::Cidr => gen_inet(rng, true),
        Ty::Macaddr => gen_mac(rng, 6),
        Ty::Macaddr8 => gen_mac(rng, 8),
        Ty::Int4Range | Ty::NumRange | Ty::TsRange | Ty::TstzRange | Ty::DateRange => {
            gen_range(rng, ty)
        }
        Ty::Int4Multirange | Ty::NumMultirange | Ty::DateMultirange | Ty::TsMultirange => {
            gen_multirange(rng, ty)
        }
        Ty::Bit(n) => gen_bits(rng, *n),
        Ty::Varbit(n) => {
            let len = rng.range(0, n.unwrap_or(70) as i64) as usize;
            gen_bits(rng, len)
        }
        Ty::Point => {
            if rng.chance(1, 10) {
                "(NaN,1)".into()
            } else {
                format!(
                    "({},{})",
                    gen_f64(rng).replace("NaN", "0"),
                    gen_f64(rng).replace("NaN", "0")
                )
            }
        }
        Ty::Tsvector => gen_tsvector(rng),
        Ty::Xml => gen_xml(rng),
        Ty::Oid => (rng.next_u64() as u32).to_string(),
        Ty::PgLsn => format!("{:X}/{:X}", rng.next_u64() as u32, rng.next_u64() as u32),
        Ty::Enum => rng.pick(&g.ut.labels).clone(),
        Ty::Domain => {
            if rng.chance(1, 5) {
                rng.pick(&["1", "2147483647"]).to_string()
            } else {
                rng.range(1, i32::MAX as i64).to_string()
            }
        }
        Ty::Composite => gen_composite(g, rng),
        Ty::UserRange => gen_range(rng, ty),
        Ty::UserMultirange => gen_multirange(rng, ty),
        Ty::Array(elem, dims) => gen_array(g, rng, elem, *dims),
    }
}

fn random_scalar(rng: &mut Rng, caps: &Caps) -> Ty {
    let mut all = vec![
        Ty::Int2,
        Ty::Int4,
        Ty::Int8,
        Ty::Numeric(None),
        Ty::Numeric(None),
        Ty::Numeric(Some((0, 0))), // replaced below
        Ty::Numeric(Some((0, 0))),
        Ty::Float4,
        Ty::Float8,
        Ty::Bool,
        Ty::Text,
        Ty::Text,
        Ty::Varchar(rng.range(1, 30) as usize),
        Ty::Bpchar(rng.range(1, 12) as usize),
        Ty::Char1,
        Ty::Name,
        Ty::Bytea,
        Ty::Date,
        Ty::Timestamp,
        Ty::Timestamptz,
        Ty::Time,
        Ty::Timetz,
        Ty::Interval,
        Ty::Uuid,
        Ty::Json,
        Ty::Jsonb,
        Ty::Inet,
        Ty::Cidr,
        Ty::Macaddr,
        Ty::Macaddr8,
        Ty::Int4Range,
        Ty::NumRange,
        Ty::TsRange,
        Ty::TstzRange,
        Ty::DateRange,
        Ty::Bit(rng.range(1, 20) as usize),
        Ty::Varbit(if rng.chance(1, 2) {
            None
        } else {
            Some(rng.range(1, 40) as usize)
        }),
        Ty::Point,
        Ty::Tsvector,
        Ty::Oid,
        Ty::PgLsn,
        Ty::Enum,
        Ty::Enum,
        Ty::Domain,
        Ty::Domain,
        Ty::Composite,
        Ty::Composite,
        Ty::UserRange,
    ];
    if caps.xml {
        all.push(Ty::Xml);
    }
    if caps.major >= 14 {
        all.extend([
            Ty::Int4Multirange,
            Ty::Int4Multirange,
            Ty::NumMultirange,
            Ty::DateMultirange,
            Ty::TsMultirange,
            Ty::UserMultirange,
        ]);
    }
    match rng.pick(&all).clone() {
        Ty::Numeric(Some(_)) => {
            let p = rng.range(1, 40) as i32;
            let s = if caps.major >= 15 && rng.chance(1, 4) {
                if rng.chance(1, 2) {
                    -(rng.range(1, 4) as i32)
                } else {
                    p + rng.range(1, 4) as i32
                }
            } else {
                rng.range(0, p as i64) as i32
            };
            Ty::Numeric(Some((p, s)))
        }
        t => t,
    }
}

fn random_type(rng: &mut Rng, caps: &Caps) -> Ty {
    if rng.chance(1, 4) {
        let elems = [
            Ty::Int4,
            Ty::Int8,
            Ty::Text,
            Ty::Numeric(None),
            Ty::Float8,
            Ty::Bool,
            Ty::Timestamptz,
            Ty::Date,
            Ty::Uuid,
            Ty::Jsonb,
            Ty::Bytea,
            Ty::Interval,
            Ty::Inet,
            Ty::Varchar(rng.range(1, 10) as usize),
            Ty::Bpchar(rng.range(1, 5) as usize),
            Ty::Int4Range,
            Ty::Enum,
            Ty::Enum,
            Ty::Domain,
            Ty::Domain,
            Ty::Composite,
            Ty::UserRange,
        ];
        let elem = rng.pick(&elems).clone();
        let dims = if rng.chance(1, 3) { 2 } else { 1 };
        Ty::Array(Box::new(elem), dims)
    } else {
        random_scalar(rng, caps)
    }
}

// ---------------------------------------------------------------------------
// Schema generation
// ---------------------------------------------------------------------------

const SCHEMA_NAMES: &[&str] = &[
    "public",
    "public",
    "Sales Data",
    "select",
    "MiXed",
    "ünïcødé 😀",
    "we\"ird",
    "s1",
    "order",
];
const TABLE_NAMES: &[&str] = &[
    "t",
    "Order",
    "user",
    "table",
    "my table",
    "ünï_tbl",
    "😀",
    "a\"b",
    "Data.Set",
    "x",
    "Group By",
    "with,comma",
];
const COLUMN_NAMES: &[&str] = &[
    "id",
    "Value",
    "select",
    "from",
    "my col",
    "naïve",
    "😀",
    "q\"uote",
    "x",
    "end",
    "col",
    "CamelCase",
    "null",
    "a,b",
    "tab\there",
    "user",
    "order",
    "ID",
];

#[derive(Debug)]
struct Column {
    name: String,
    ty: Ty,
    /// Probability (out of 10) that a value is NULL: 0 never, 10 always.
    null_tenths: u64,
}

#[derive(Debug)]
struct Table {
    /// `"schema"`.
    schema: String,
    /// The schema's and the table's names, unquoted.
    names: (String, String),
    /// `"schema"."table"`.
    qname: String,
    ddl: String,
    /// `ALTER TABLE`s run after the first `INSERT` (part of `data`).
    alters: String,
    data: String,
    /// The columns a row edit may set, as they are after `alters` (no
    /// identity, serial or generated column).
    columns: Vec<Column>,
}

impl Table {
    /// The table's definition, for failure reports.
    fn report(&self) -> String {
        if self.alters.is_empty() {
            self.ddl.clone()
        } else {
            format!("{}-- after the first INSERT:\n{}", self.ddl, self.alters)
        }
    }
}

#[derive(Debug)]
struct CaseSql {
    /// Schemas and user types (one batch).
    types: String,
    /// `ALTER TYPE … ADD VALUE`, run in its own batch before the tables.
    enum_additions: String,
    tables: Vec<Table>,
    schemas: Vec<String>,
    /// The quoted schema holding the user types.
    type_schema: String,
}

impl CaseSql {
    fn script(&self) -> String {
        let mut s = format!("-- types\n{}\n", self.types);
        if !self.enum_additions.is_empty() {
            writeln!(
                s,
                "-- enum additions (separate transaction)\n{}",
                self.enum_additions
            )
            .unwrap();
        }
        for t in &self.tables {
            writeln!(s, "-- table {}\n{}\n{}", t.qname, t.ddl, t.data).unwrap();
        }
        s
    }

    fn all_ddl(&self) -> String {
        let mut s = format!("{}\n{}\n", self.types, self.enum_additions);
        for t in &self.tables {
            s.push_str(&t.report());
            s.push('\n');
        }
        s
    }
}

fn unique_name(base: &str, taken: &mut Vec<String>) -> String {
    let mut name = base.to_string();
    let mut i = 2;
    while taken.contains(&name) {
        name = format!("{base}_{i}");
        i += 1;
    }
    taken.push(name.clone());
    name
}

fn generate_case(rng: &mut Rng, caps: &Caps) -> (CaseSql, Gen) {
    // Schemas.
    let mut schemas: Vec<String> = Vec::new();
    for _ in 0..rng.range(1, 2) {
        let s = rng.pick(SCHEMA_NAMES).to_string();
        if !schemas.contains(&s) {
            schemas.push(s);
        }
    }
    let mut types = String::new();
    for s in &schemas {
        if s != "public" {
            writeln!(types, "CREATE SCHEMA {};", ident(s)).unwrap();
        }
    }
    // User types, in one of the schemas.
    let ts = ident(&rng.pick(&schemas));
    let mut pool = vec![
        "sad",
        "ok",
        "happy",
        "it's",
        "with space",
        "ünï 😀",
        "a,b",
        "x\"y",
        "{brace}",
        "NULL",
        "back\\slash",
        "Mixed Case",
    ];
    let mut labels = Vec::new();
    for _ in 0..rng.range(1, 6) {
        let i = rng.below(pool.len() as u64) as usize;
        labels.push(pool.remove(i).to_string());
    }
    let enum_name = format!("{ts}.{}", ident(rng.pick(&["Mood", "mood", "my enum"])));
    let domain = format!("{ts}.{}", ident(rng.pick(&["pos int", "posint", "Pos"])));
    let composite = format!("{ts}.{}", ident(rng.pick(&["Pair", "pair", "rec type"])));
    writeln!(
        types,
        "CREATE TYPE {enum_name} AS ENUM ({});",
        labels.iter().map(|l| lit(l)).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    writeln!(
        types,
        "CREATE DOMAIN {domain} AS int4 CONSTRAINT {} CHECK (VALUE > 0);",
        ident("positive!")
    )
    .unwrap();
    writeln!(
        types,
        "CREATE TYPE {composite} AS (a int4, {} text, c {enum_name}, d int4[]);",
        ident("b field")
    )
    .unwrap();
    let range_base = rng.pick(&["Float Range", "floatrange", "fr"]);
    let range = format!("{ts}.{}", ident(range_base));
    let multirange = if rng.chance(1, 2) {
        "Float Multi".to_string()
    } else if range_base.contains("range") {
        range_base.replacen("range", "multirange", 1)
    } else {
        format!("{range_base}_multirange")
    };
    let multirange = format!("{ts}.{}", ident(&multirange));
    let mr_option = if caps.major >= 14 && multirange.contains("Float Multi") {
        format!(", multirange_type_name = {multirange}")
    } else {
        String::new()
    };
    writeln!(
        types,
        "CREATE TYPE {range} AS RANGE (subtype = float8{mr_option});"
    )
    .unwrap();
    // Enum values added later get fractional sort orders.
    let mut enum_additions = String::new();
    for _ in 0..rng.range(0, 2) {
        if pool.is_empty() {
            break;
        }
        let i = rng.below(pool.len() as u64) as usize;
        let new = pool.remove(i).to_string();
        let anchor = rng.pick(&labels).clone();
        let pos = if rng.chance(1, 2) { "BEFORE" } else { "AFTER" };
        writeln!(
            enum_additions,
            "ALTER TYPE {enum_name} ADD VALUE {} {pos} {};",
            lit(&new),
            lit(&anchor)
        )
        .unwrap();
        labels.push(new);
    }
    let g = Gen {
        caps: caps.clone(),
        ut: UserTypes {
            enum_name,
            labels,
            domain,
            composite,
            range,
            multirange,
        },
    };

    let mut tables = Vec::new();
    let mut taken_tables: Vec<(String, Vec<String>)> = Vec::new();
    for _ in 0..rng.range(1, 4) {
        let schema = rng.pick(&schemas).clone();
        let idx = match taken_tables.iter().position(|(s, _)| *s == schema) {
            Some(i) => i,
            None => {
                taken_tables.push((schema.clone(), Vec::new()));
                taken_tables.len() - 1
            }
        };
        let tname = unique_name(rng.pick(TABLE_NAMES), &mut taken_tables[idx].1);
        tables.push(generate_table(rng, &g, &schema, &tname));
    }
    (
        CaseSql {
            types,
            enum_additions,
            tables,
            schemas,
            type_schema: ts,
        },
        g,
    )
}

fn generate_table(rng: &mut Rng, g: &Gen, schema: &str, name: &str) -> Table {
    let qname = format!("{}.{}", ident(schema), ident(name));
    let mut taken = Vec::new();
    let identity = rng.below(6);
    let mut defs = Vec::new();
    if identity < 2 {
        let n = unique_name("row id", &mut taken);
        let kind = if identity == 0 {
            "ALWAYS"
        } else {
            "BY DEFAULT"
        };
        defs.push(format!(
            "{} int8 GENERATED {kind} AS IDENTITY PRIMARY KEY",
            ident(&n)
        ));
    } else if identity == 2 {
        let n = unique_name("serial id", &mut taken);
        defs.push(format!("{} serial", ident(&n)));
    }
    let mut columns = Vec::new();
    let mut comments = String::new();
    for _ in 0..rng.range(1, 12) {
        let name = unique_name(rng.pick(COLUMN_NAMES), &mut taken);
        let ty = random_type(rng, &g.caps);
        let null_tenths = match rng.below(10) {
            0..=2 => 0,
            3 => 10,
            _ => rng.range(1, 9) as u64,
        };
        let mut def = format!("{} {}", ident(&name), ty.sql(&g.ut));
        if ty.collatable() && rng.chance(1, 4) {
            def.push_str(rng.pick(&[" COLLATE \"C\"", " COLLATE \"POSIX\""]));
        }
        if null_tenths == 0 && rng.chance(1, 2) {
            def.push_str(" NOT NULL");
        }
        if rng.chance(1, 8) {
            let v = gen_value(g, rng, &ty);
            write!(def, " DEFAULT {}::{}", lit(&v), ty.sql(&g.ut)).unwrap();
        }
        if rng.chance(1, 10) {
            writeln!(
                comments,
                "COMMENT ON COLUMN {qname}.{} IS {};",
                ident(&name),
                lit(&gen_string(rng, 30))
            )
            .unwrap();
        }
        defs.push(def);
        columns.push(Column {
            name,
            ty,
            null_tenths,
        });
    }
    // A stored generated column over another column.
    let generated_from =
        (g.caps.major >= 12 && rng.chance(1, 5)).then(|| rng.below(columns.len() as u64) as usize);
    if let Some(i) = generated_from {
        let name = unique_name("is null?", &mut taken);
        defs.push(format!(
            "{} bool GENERATED ALWAYS AS ({} IS NULL) STORED",
            ident(&name),
            ident(&columns[i].name)
        ));
    }
    let mut ddl = format!("CREATE TABLE {qname} (\n  {}\n);\n", defs.join(",\n  "));
    if rng.chance(1, 6) {
        writeln!(
            ddl,
            "COMMENT ON TABLE {qname} IS {};",
            lit(&gen_string(rng, 30))
        )
        .unwrap();
    }
    ddl.push_str(&comments);

    let rows = if rng.chance(1, 8) {
        0
    } else if rng.chance(1, 2) {
        rng.range(1, 10)
    } else {
        rng.range(1, 200)
    };
    let mut data = insert_rows(rng, g, &qname, &columns, rows);
    // Later schema changes: a dropped column (a hole in the tuple layout) and
    // an added column with a default (a "missing" value for the old rows).
    let mut alters = String::new();
    if columns.len() > 1 && rng.chance(1, 4) {
        let candidates: Vec<usize> = (0..columns.len())
            .filter(|i| Some(*i) != generated_from)
            .collect();
        let i = rng.pick(&candidates);
        let c = columns.remove(i);
        writeln!(
            alters,
            "ALTER TABLE {qname} DROP COLUMN {};",
            ident(&c.name)
        )
        .unwrap();
    }
    if rng.chance(1, 4) {
        let name = unique_name("added", &mut taken);
        let ty = random_type(rng, &g.caps);
        let v = gen_value(g, rng, &ty);
        writeln!(
            alters,
            "ALTER TABLE {qname} ADD COLUMN {} {} DEFAULT {}::{};",
            ident(&name),
            ty.sql(&g.ut),
            lit(&v),
            ty.sql(&g.ut)
        )
        .unwrap();
        columns.push(Column {
            name,
            ty,
            null_tenths: 3,
        });
    }
    if !alters.is_empty() {
        data.push_str(&alters);
        let more = rng.range(0, 5);
        data.push_str(&insert_rows(rng, g, &qname, &columns, more));
    }
    Table {
        schema: ident(schema),
        names: (schema.to_string(), name.to_string()),
        qname,
        ddl,
        alters,
        data,
        columns,
    }
}

/// `INSERT INTO qname (...) VALUES ...` of `rows` random rows ("" for none).
fn insert_rows(rng: &mut Rng, g: &Gen, qname: &str, columns: &[Column], rows: i64) -> String {
    let mut data = String::new();
    if rows == 0 {
        return data;
    }
    let cols: Vec<String> = columns.iter().map(|c| ident(&c.name)).collect();
    write!(data, "INSERT INTO {qname} ({}) VALUES", cols.join(", ")).unwrap();
    for r in 0..rows {
        let vals: Vec<String> = columns
            .iter()
            .map(|c| {
                if c.null_tenths > 0 && rng.below(10) < c.null_tenths {
                    "NULL".to_string()
                } else {
                    let v = gen_value(g, rng, &c.ty);
                    format!("{}::{}", lit(&v), c.ty.sql(&g.ut))
                }
            })
            .collect();
        write!(
            data,
            "{}\n  ({})",
            if r == 0 { "" } else { "," },
            vals.join(", ")
        )
        .unwrap();
    }
    data.push_str(";\n");
    data
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

struct Ctx<'a> {
    seed: u64,
    case: u64,
    sql: &'a CaseSql,
}

impl Ctx<'_> {
    fn replay(&self) -> String {
        format!(
            "seed {seed}, case {case}\nreplay: PGFERRY_PROPTEST_SEED={seed} cargo test --test property\n\
             only this case: PGFERRY_PROPTEST_SEED={seed} PGFERRY_PROPTEST_CASE={case} cargo test --test property",
            seed = self.seed,
            case = self.case
        )
    }

    /// Writes the whole script next to the build and panics.
    fn fail(&self, what: &str, ddl: &str) -> ! {
        let path = script_path(self.seed, self.case);
        let saved = match std::fs::write(&path, self.sql.script()) {
            Ok(()) => format!("full generated SQL: {}", path.display()),
            Err(e) => format!("(could not write {}: {e})", path.display()),
        };
        panic!(
            "property test failed ({})\n{what}\n--- DDL:\n{ddl}\n--- {saved}\n{}",
            self.replay(),
            self.replay()
        );
    }
}

/// Where a case's generated SQL is written (on failure, or with `PGFERRY_PROPTEST_SAVE`).
fn script_path(seed: u64, case: u64) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("proptest-{seed}-case{case}.sql"))
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not an unsigned integer"))
        })
}

/// Per-table content hashes keyed by `regclass::text`, pgferry's tables removed.
fn contents(db: &TestDb) -> Vec<Vec<Option<String>>> {
    user_contents(db)
}

fn user_sequences(db: &TestDb) -> Vec<Vec<Option<String>>> {
    sequences(db)
        .into_iter()
        .filter(|r| !r[0].as_deref().unwrap_or("").starts_with("pgferry."))
        .collect()
}

/// `count:md5` of a table's rows as the record output function prints them.
fn whole_rows(db: &TestDb, t: &Table) -> Option<String> {
    db.query_one_string(&format!(
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') \
         FROM {} x",
        t.qname
    ))
}

/// `count:md5` of a table's rows as every column's own `::text`.
fn each_column(db: &TestDb, t: &Table) -> Option<String> {
    let expr = raw_row_expr(db, &t.qname);
    db.query_one_string(&format!(
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') \
         FROM (SELECT {expr} AS r FROM {} x) s",
        t.qname
    ))
}

/// Compares `copy` (made by `how`) with the source; panics with context.
fn compare(ctx: &Ctx<'_>, src: &TestDb, copy: &TestDb, how: &str) {
    let (a, b) = (schema_without_pgferry(src), schema_without_pgferry(copy));
    if a != b {
        ctx.fail(
            &format!("{how}: schemas differ:\n{}", first_difference(&a, &b)),
            &ctx.sql.all_ddl(),
        );
    }
    // Row text as the output functions print it (the brief's oracle), then
    // every column's own `::text` (for xml that is the stored text, which
    // the output function does not reproduce exactly).
    let (ca, cb) = (contents(src), contents(copy));
    type Hash<'a> = &'a dyn Fn(&TestDb, &Table) -> Option<String>;
    let hashes: [(&str, Hash<'_>); 2] = [
        ("row text (record output)", &whole_rows),
        ("every column's ::text", &each_column),
    ];
    for (what, hash) in hashes {
        let mut bad = Vec::new();
        let mut ddl = String::new();
        for t in &ctx.sql.tables {
            let (ha, hb) = (hash(src, t), hash(copy, t));
            if ha != hb {
                bad.push(format!("{}: source {:?}, copy {:?}", t.qname, ha, hb));
                ddl.push_str(&t.report());
                ddl.push_str(&first_differing_row(src, copy, &t.qname));
            }
        }
        if bad.is_empty() && what.starts_with("row text") && ca != cb {
            bad.push(format!("{ca:?}\nvs\n{cb:?}"));
            ddl = ctx.sql.all_ddl();
        }
        if !bad.is_empty() {
            ctx.fail(
                &format!(
                    "{how}: table contents differ, compared as {what} (count:hash):\n{}",
                    bad.join("\n")
                ),
                &format!("{}\n{}{ddl}", ctx.sql.types, ctx.sql.enum_additions),
            );
        }
    }
    let (sa, sb) = (user_sequences(src), user_sequences(copy));
    if sa != sb {
        ctx.fail(
            &format!("{how}: sequences differ:\n{sa:?}\nvs\n{sb:?}"),
            &ctx.sql.all_ddl(),
        );
    }
}

/// `concat_ws(',', quote_nullable(x."col"::text), ...)` over the table's live columns.
fn raw_row_expr(db: &TestDb, qname: &str) -> String {
    db.query_one_string(&format!(
        "SELECT string_agg(format('quote_nullable(x.%I::text COLLATE \"C\")', attname), ', ' ORDER BY attnum) \
         FROM pg_attribute WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped",
        lit(qname)
    ))
    .map(|cols| format!("concat_ws(',', {cols})"))
    .unwrap_or_else(|| "''".into())
}

/// Rows of `qname` present on one side but not the other (each column's
/// `::text`, NULL as `NULL`).
fn first_differing_row(src: &TestDb, copy: &TestDb, qname: &str) -> String {
    let q = format!(
        "SELECT {} FROM {qname} x ORDER BY 1",
        raw_row_expr(src, qname)
    );
    let (a, b) = (src.query_strings(&q), copy.query_strings(&q));
    let only_a: Vec<_> = a.iter().filter(|r| !b.contains(r)).take(3).collect();
    let only_b: Vec<_> = b.iter().filter(|r| !a.contains(r)).take(3).collect();
    format!(
        "-- rows only in the source (first 3): {only_a:?}\n-- rows only in the copy (first 3): {only_b:?}\n"
    )
}

/// Random row edits of `t` (which holds about `rows` rows on the side they
/// are for): one to three updates of one column, inserts and deletes, the
/// rows picked by position.
fn random_edits(rng: &mut Rng, g: &Gen, t: &Table, rows: u64) -> String {
    let q = &t.qname;
    let mut sql = String::new();
    let some_rows = |rng: &mut Rng| {
        let (offset, limit) = (rng.below(rows.max(1)), rng.range(1, 3));
        format!("ctid IN (SELECT ctid FROM {q} ORDER BY ctid OFFSET {offset} LIMIT {limit})")
    };
    for _ in 0..rng.range(1, 3) {
        match rng.below(3) {
            0 if rows > 0 => {
                let c = &t.columns[rng.below(t.columns.len() as u64) as usize];
                let v = if c.null_tenths > 0 && rng.chance(1, 3) {
                    "NULL".to_string()
                } else {
                    format!("{}::{}", lit(&gen_value(g, rng, &c.ty)), c.ty.sql(&g.ut))
                };
                let which = some_rows(rng);
                writeln!(
                    sql,
                    "UPDATE {q} SET {} = {v} WHERE {which};",
                    ident(&c.name)
                )
                .unwrap();
            }
            1 if rows > 0 => {
                let which = some_rows(rng);
                writeln!(sql, "DELETE FROM {q} WHERE {which};").unwrap();
            }
            _ => {
                let n = rng.range(1, 3);
                sql.push_str(&insert_rows(rng, g, q, &t.columns, n));
            }
        }
    }
    sql
}

/// An incremental sync through the library (for its report), verified
/// with checksums, on a runtime of its own; a run past 5 minutes hangs.
fn incremental_sync(src: &TestDb, dst: &TestDb) -> Result<SyncReport, pgferry_engine::Error> {
    let spec = |db: &TestDb| ConnSpec::parse(&db.conn_string()).expect("test connection string");
    let (source, target) = (spec(src), spec(dst));
    let opts = SyncOptions {
        verify: VerifyMode::Checksums,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let run = pgferry_engine::sync(&source, &target, &opts);
        tokio::time::timeout(std::time::Duration::from_secs(300), run)
            .await
            .expect("the incremental sync still runs after 5 minutes: it hangs")
    })
}

/// How a sync report may name `t`: `schema.table` as it is, or with each
/// part quoted where needed (`%I.%I`) or always.
fn report_names(db: &TestDb, t: &Table) -> Vec<String> {
    let (schema, name) = &t.names;
    let quoted = db
        .query_one_string(&format!(
            "SELECT format('%I.%I', {}, {})",
            lit(schema),
            lit(name)
        ))
        .unwrap();
    vec![format!("{schema}.{name}"), quoted, t.qname.clone()]
}

/// `rounds` incremental syncs of `src` into `dst` (already a replica),
/// each after random row edits on the source, and on the replica in the
/// first round and now and then after; each must leave the replica equal
/// to the source and keep, delta or replace (never rebuild) each table.
fn incremental_rounds(ctx: &Ctx<'_>, g: &Gen, src: &TestDb, dst: &TestDb, rounds: u64) {
    let mut rng = Rng::new(splitmix(
        ctx.seed ^ splitmix(ctx.case.wrapping_add(1)) ^ 0x696e_6372,
    ));
    let tables = &ctx.sql.tables;
    let mut log = String::new();
    for round in 1..=rounds {
        let on_replica = (round == 1).then(|| rng.below(tables.len() as u64) as usize);
        for (i, t) in tables.iter().enumerate() {
            let sides = [
                ("source", src, rng.chance(2, 3)),
                ("replica", dst, on_replica == Some(i) || rng.chance(1, 5)),
            ];
            for (side, db, edit) in sides {
                if !edit {
                    continue;
                }
                let rows: u64 = db
                    .query_one_string(&format!("SELECT count(*) FROM {}", t.qname))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let sql = random_edits(&mut rng, g, t, rows);
                writeln!(log, "-- round {round}, on the {side}:\n{sql}").unwrap();
                if let Err(e) = db.try_execute_batch(&sql) {
                    ctx.fail(
                        &format!(
                            "generator bug? a row edit failed on the {side}: {}\n--- edits so far:\n{log}",
                            pgferry_testkit::describe_error(&e, Some(&sql))
                        ),
                        &ctx.sql.all_ddl(),
                    );
                }
            }
        }
        // What each table should get: kept when its rows are equal on both sides.
        let equal: Vec<bool> = tables
            .iter()
            .map(|t| {
                whole_rows(src, t) == whole_rows(dst, t)
                    && each_column(src, t) == each_column(dst, t)
            })
            .collect();
        let how = format!("incremental sync {round} of {rounds}");
        let r = match incremental_sync(src, dst) {
            Ok(r) => r,
            Err(e) => ctx.fail(
                &format!("{how} failed: {e:#}\n--- edits:\n{log}"),
                &ctx.sql.all_ddl(),
            ),
        };
        compare(ctx, src, dst, &format!("{how} (edits:\n{log})"));
        let listing: String = r
            .table_actions
            .iter()
            .map(|a| {
                format!(
                    "  {}: {} (+{} -{})\n",
                    a.table,
                    a.action.as_str(),
                    a.rows_written,
                    a.rows_deleted
                )
            })
            .collect();
        let mut bad = Vec::new();
        if let Some(v) = r.verification.as_ref().filter(|v| !v.is_identical()) {
            bad.push(format!(
                "the sync's own verification found differences: {v:?}"
            ));
        }
        if r.full || r.fallback.is_some() {
            bad.push(format!(
                "fell back to a full sync ({:?}) though only rows changed",
                r.fallback
            ));
        }
        if r.table_actions.len() != tables.len() {
            bad.push(format!(
                "{} table actions reported for {} tables",
                r.table_actions.len(),
                tables.len()
            ));
        }
        for (t, equal) in tables.iter().zip(&equal) {
            let names = report_names(src, t);
            let Some(a) = r.table_actions.iter().find(|a| names.contains(&a.table)) else {
                bad.push(format!(
                    "{} is not in the report (as any of {names:?})",
                    t.qname
                ));
                continue;
            };
            // A table copied whole is rebuilt (dropped, created, loaded)
            // where nothing outside the sync depends on it.
            let fine = match a.action {
                TableAction::Kept => *equal,
                TableAction::Delta | TableAction::Replaced | TableAction::Rebuilt => !*equal,
            };
            if !fine {
                bad.push(format!(
                    "{}: {} though its rows were {} on both sides and its definition unchanged",
                    t.qname,
                    a.action.as_str(),
                    if *equal { "equal" } else { "different" }
                ));
            }
        }
        if let Some(v) = r.verification.as_ref().filter(|v| !v.is_identical()) {
            bad.push(format!(
                "the sync's own verification found differences: {v:?}"
            ));
        }
        if !bad.is_empty() {
            ctx.fail(
                &format!(
                    "{how}: {}\n--- report (full: {}):\n{listing}--- edits:\n{log}",
                    bad.join("\n"),
                    r.full
                ),
                &ctx.sql.all_ddl(),
            );
        }
    }
}

fn run_case(seed: u64, case: u64, caps: &Caps, rounds: u64) {
    let started = Instant::now();
    let mut rng = Rng::new(splitmix(seed ^ splitmix(case.wrapping_add(1))));
    let (sql, gn) = generate_case(&mut rng, caps);
    let ctx = Ctx {
        seed,
        case,
        sql: &sql,
    };
    let cluster = shared_cluster();
    let src = cluster.create_database("prop_src");
    let setup = |db: &TestDb, batch: &str, what: &str| {
        if batch.is_empty() {
            return;
        }
        if let Err(e) = db.try_execute_batch(batch) {
            ctx.fail(
                &format!(
                    "generator bug? {what} failed on the source: {}",
                    pgferry_testkit::describe_error(&e, Some(batch))
                ),
                &ctx.sql.all_ddl(),
            );
        }
    };
    setup(&src, &sql.types, "types");
    setup(&src, &sql.enum_additions, "enum additions");
    for t in &sql.tables {
        setup(&src, &t.ddl, &format!("CREATE TABLE {}", t.qname));
        setup(&src, &t.data, &format!("INSERT INTO {}", t.qname));
    }
    let row_total: u64 = contents(&src)
        .iter()
        .filter_map(|r| r[1].as_deref()?.split(':').next()?.parse::<u64>().ok())
        .sum();

    // A stale replica: a table of the same name with another shape, plus junk.
    let dst = cluster.create_database("prop_dst");
    let stale = |rng: &mut Rng| {
        let t = &sql.tables[rng.below(sql.tables.len() as u64) as usize];
        let mut s = format!(
            "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE {} (junk int, more text); \
             INSERT INTO {} VALUES (1, 'stale'), (2, NULL); CREATE TABLE public.\"stale only\" (x int);",
            t.schema, t.qname, t.qname
        );
        if rng.chance(1, 2) {
            // A stale type of the same name, with another definition.
            write!(
                s,
                " CREATE SCHEMA IF NOT EXISTS {}; CREATE TYPE {} AS ENUM ('stale'); \
                 CREATE TABLE public.\"uses stale type\" (v {});",
                sql.type_schema, gn.ut.enum_name, gn.ut.enum_name
            )
            .unwrap();
        }
        s
    };
    if rng.chance(1, 2) {
        dst.execute_batch(&stale(&mut rng));
    }
    let out = pgferry(&[
        "sync",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
        "--verify",
        "checksums",
    ]);
    if !out.status.success() {
        ctx.fail(
            &format!(
                "pgferry sync failed with {:?}\nstderr:\n{}",
                out.status.code(),
                stderr(&out)
            ),
            &sql.all_ddl(),
        );
    }
    compare(&ctx, &src, &dst, "sync");

    // dump + restore into a third database (sometimes over stale contents with --clean).
    let rst = cluster.create_database("prop_rst");
    let clean = rng.chance(1, 3);
    if clean {
        rst.execute_batch(&stale(&mut rng));
    }
    let dir = tempdir();
    let archive = dir.path().join("case.pgf");
    let archive = archive.to_str().unwrap();
    let out = pgferry(&["dump", "--source", &src.conn_string(), "-o", archive]);
    if !out.status.success() {
        ctx.fail(
            &format!(
                "pgferry dump failed with {:?}\nstderr:\n{}",
                out.status.code(),
                stderr(&out)
            ),
            &sql.all_ddl(),
        );
    }
    let target = rst.conn_string();
    let mut args = vec!["restore", "--target", target.as_str()];
    if clean {
        args.push("--clean");
    }
    args.push(archive);
    let out = pgferry(&args);
    if !out.status.success() {
        ctx.fail(
            &format!(
                "pgferry {args:?} failed with {:?}\nstderr:\n{}",
                out.status.code(),
                stderr(&out)
            ),
            &sql.all_ddl(),
        );
    }
    compare(&ctx, &src, &rst, "dump + restore");
    // pgferry's own verification (raw `::text` hashes) must agree too.
    let out = pgferry(&[
        "verify",
        "--source",
        &src.conn_string(),
        "--target",
        &rst.conn_string(),
        "--checksums",
    ]);
    if !out.status.success() {
        ctx.fail(
            &format!(
                "pgferry verify --checksums after dump + restore exited with {:?}\nstdout:\n{}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                stderr(&out)
            ),
            &sql.all_ddl(),
        );
    }

    // The comparison itself can fail: one deleted row is noticed.
    let has_rows = |t: &&Table| {
        rst.query_one_string(&format!("SELECT count(*) > 0 FROM {}", t.qname))
            .as_deref()
            == Some("t")
    };
    if let Some(t) = sql.tables.iter().find(has_rows) {
        rst.execute_batch(&format!(
            "DELETE FROM {q} WHERE ctid IN (SELECT ctid FROM {q} LIMIT 1)",
            q = t.qname
        ));
        assert_ne!(
            contents(&src),
            contents(&rst),
            "the comparison missed a deleted row ({})",
            ctx.replay()
        );
    }

    // Incremental syncs over the first sync's replica.
    incremental_rounds(&ctx, &gn, &src, &dst, rounds);

    if std::env::var_os("PGFERRY_PROPTEST_SAVE").is_some() {
        let path = script_path(seed, case);
        std::fs::write(&path, sql.script()).expect("write the case's SQL");
        eprintln!("property: case {case}: SQL saved to {}", path.display());
    }
    for db in [&src, &dst, &rst] {
        cluster.drop_database(&db.name);
    }
    eprintln!(
        "property: case {case}: {} table(s), {row_total} row(s), schemas {:?}: ok in {:.1?}",
        sql.tables.len(),
        sql.schemas,
        started.elapsed()
    );
}

#[test]
fn random_tables_survive_sync_and_dump_restore() {
    let seed = env_u64("PGFERRY_PROPTEST_SEED").unwrap_or_else(|| {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        splitmix(t ^ u64::from(std::process::id()))
    });
    let cases = env_u64("PGFERRY_PROPTEST_CASES").unwrap_or(DEFAULT_CASES);
    let only = env_u64("PGFERRY_PROPTEST_CASE");
    let rounds = env_u64("PGFERRY_PROPTEST_ROUNDS").unwrap_or(DEFAULT_ROUNDS);
    eprintln!(
        "property: PGFERRY_PROPTEST_SEED={seed} ({cases} cases{}); replay with \
         PGFERRY_PROPTEST_SEED={seed} cargo test --test property",
        only.map(|c| format!(", only case {c}")).unwrap_or_default()
    );
    let cluster = shared_cluster();
    let probe = cluster.create_database("prop_probe");
    let caps = Caps {
        major: cluster.major_version(),
        xml: probe.try_execute_batch("SELECT '<a/>'::xml").is_ok(),
    };
    cluster.drop_database(&probe.name);
    let started = Instant::now();
    let range = match only {
        Some(c) => c..c + 1,
        None => 0..cases,
    };
    for case in range {
        run_case(seed, case, &caps, rounds);
    }
    eprintln!(
        "property: seed {seed}: all cases passed in {:.1?}",
        started.elapsed()
    );
}
