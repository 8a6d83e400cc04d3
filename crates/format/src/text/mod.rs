//! COPY BINARY → COPY text, without a server: turns the binary COPY streams an
//! archive stores into the text-format rows of a psql script's
//! `COPY … FROM stdin` blocks.
//!
//! The text is what `COPY FROM` (text format) reads back to the same values in
//! a session with `DateStyle = ISO`, `IntervalStyle = postgres`,
//! `standard_conforming_strings = on` and any `TimeZone` (timestamps with time
//! zone are printed in UTC with an explicit `+00`). Text-like values are passed
//! through byte for byte: the script must set the `client_encoding` the
//! stream was written in.
//!
//! ```
//! use pgferry_format::{BinaryToText, TextType, COPY_BINARY_SIGNATURE};
//! let mut s = COPY_BINARY_SIGNATURE.to_vec();
//! s.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // flags, header extension length
//! s.extend_from_slice(&[0, 2, 0, 0, 0, 4, 0, 0, 0, 42]); // a row: int4 42,
//! s.extend_from_slice(&[0, 0, 0, 3, b'a', b'\t', b'b']); // text "a<TAB>b"
//! s.extend_from_slice(&[0, 2, 0xff, 0xff, 0xff, 0xff]); // a row: NULL,
//! s.extend_from_slice(&[0, 0, 0, 0]); // ""
//! s.extend_from_slice(&[0xff, 0xff]); // trailer
//! let types = ["integer", "text"].map(|t| TextType::builtin(t).unwrap());
//! let mut conv = BinaryToText::new(types.to_vec());
//! let mut out = Vec::new();
//! for chunk in s.chunks(5) {
//!     conv.feed(chunk, &mut out).unwrap();
//! }
//! assert_eq!(conv.finish().unwrap(), 2);
//! assert_eq!(out, b"42\ta\\tb\n\\N\t\n");
//! ```

mod container;
mod datetime;
mod network;
mod number;
mod shapes;
mod stream;

use std::fmt;

pub use stream::BinaryToText;

/// A column's type, as binary COPY carries it, for printing in COPY's text format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextType {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    /// Bytes are the text itself: text, varchar, bpchar, name, json, xml, enum labels (binary = label), citext-like.
    Text,
    /// `"char"` (one byte).
    Char,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Jsonb,
    Inet,
    MacAddr,
    MacAddr8,
    /// bit(n) and bit varying.
    Bit,
    PgLsn,
    Point,
    Money,
    Array(Box<TextType>),
    /// A composite, fields in order (binary records carry field OIDs; use the positional types given here, not the OIDs).
    Record(Vec<TextType>),
    Range(Box<TextType>),
    Multirange(Box<TextType>),
    /// The `hstore` extension's type (`"k"=>"v", "n"=>NULL`).
    Hstore,
    TsVector,
    /// `box` (named so beside `std::boxed::Box`).
    GeoBox,
    Lseg,
    Line,
    Path,
    Polygon,
    Circle,
    /// `xid`, `cid` (4 bytes); `xid8` is [`TextType::Int8`]-like but unsigned.
    Xid,
    Xid8,
}

impl TextType {
    /// A built-in type by its `pg_catalog.format_type` spelling (search_path empty, so built-ins are unqualified):
    /// "boolean", "smallint", "integer", "bigint", "oid", "real", "double precision", "numeric", "numeric(10,2)",
    /// "text", "character varying", "character varying(40)", "character", "character(2)", "bpchar", "name", "\"char\"",
    /// "bytea", "date", "time without time zone", "time(3) without time zone", "time with time zone",
    /// "timestamp without time zone", "timestamp(3) with time zone", "interval", "interval(6)", "interval year to month" etc.,
    /// "uuid", "json", "jsonb", "xml", "inet", "cidr", "macaddr", "macaddr8", "bit(17)", "bit varying", "bit varying(5)",
    /// "pg_lsn", "point", "money", "int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange",
    /// "int4multirange", ..., and any of these followed by "[]" (one or more, all arrays are the same binary format).
    /// None for anything else (user types: the caller resolves domains, enums, composites, and refuses the rest).
    ///
    /// The internal names (`int4`, `varchar`, `timestamptz`, …) are accepted too.
    pub fn builtin(type_sql: &str) -> Option<TextType> {
        let s = type_sql.trim();
        if let Some(elem) = s.strip_suffix("[]") {
            return Some(TextType::Array(Box::new(TextType::builtin(elem)?)));
        }
        let base = without_typmods(s)?;
        use TextType::*;
        let range = |t: TextType| Some(Range(Box::new(t)));
        let multi = |t: TextType| Some(Multirange(Box::new(t)));
        match base.as_str() {
            "boolean" | "bool" => Some(Bool),
            "smallint" | "int2" => Some(Int2),
            "integer" | "int4" | "int" => Some(Int4),
            "bigint" | "int8" => Some(Int8),
            "oid" => Some(Oid),
            "real" | "float4" => Some(Float4),
            "double precision" | "float8" => Some(Float8),
            "numeric" | "decimal" => Some(Numeric),
            "text" | "character varying" | "varchar" | "character" | "bpchar" | "name" | "json"
            | "xml" => Some(Text),
            "\"char\"" => Some(Char),
            "bytea" => Some(Bytea),
            "date" => Some(Date),
            "time without time zone" | "time" => Some(Time),
            "time with time zone" | "timetz" => Some(TimeTz),
            "timestamp without time zone" | "timestamp" => Some(Timestamp),
            "timestamp with time zone" | "timestamptz" => Some(TimestampTz),
            "uuid" => Some(Uuid),
            "jsonb" => Some(Jsonb),
            "inet" | "cidr" => Some(Inet),
            "macaddr" => Some(MacAddr),
            "macaddr8" => Some(MacAddr8),
            "bit" | "bit varying" | "varbit" => Some(Bit),
            "pg_lsn" => Some(PgLsn),
            "point" => Some(Point),
            "tsvector" => Some(TsVector),
            "box" => Some(GeoBox),
            "lseg" => Some(Lseg),
            "line" => Some(Line),
            "path" => Some(Path),
            "polygon" => Some(Polygon),
            "circle" => Some(Circle),
            "xid" | "cid" => Some(Xid),
            "xid8" => Some(Xid8),
            "money" => Some(Money),
            "int4range" => range(Int4),
            "int8range" => range(Int8),
            "numrange" => range(Numeric),
            "tsrange" => range(Timestamp),
            "tstzrange" => range(TimestampTz),
            "daterange" => range(Date),
            "int4multirange" => multi(Int4),
            "int8multirange" => multi(Int8),
            "nummultirange" => multi(Numeric),
            "tsmultirange" => multi(Timestamp),
            "tstzmultirange" => multi(TimestampTz),
            "datemultirange" => multi(Date),
            b if is_interval(b) => Some(Interval),
            _ => None,
        }
    }
}

/// `s` without its type modifiers (`(3)`, `(10,2)`) and with single spaces;
/// None when a parenthesis holds anything but a typmod.
fn without_typmods(s: &str) -> Option<String> {
    let mut plain = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('(') {
        let close = open + rest[open..].find(')')?;
        let inner = &rest[open + 1..close];
        if !inner
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
        {
            return None;
        }
        plain.push_str(&rest[..open]);
        plain.push(' ');
        rest = &rest[close + 1..];
    }
    plain.push_str(rest);
    Some(plain.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `interval` with an optional field restriction (`year to month`, `second`).
fn is_interval(s: &str) -> bool {
    let mut words = s.split(' ');
    words.next() == Some("interval")
        && words.all(|w| {
            matches!(
                w,
                "year" | "month" | "day" | "hour" | "minute" | "second" | "to"
            )
        })
}

impl fmt::Display for TextType {
    /// The type's name as used in error messages (`numeric`, `integer[]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TextType::*;
        let name = match self {
            Bool => "boolean",
            Int2 => "smallint",
            Int4 => "integer",
            Int8 => "bigint",
            Oid => "oid",
            Float4 => "real",
            Float8 => "double precision",
            Numeric => "numeric",
            Text => "text",
            Char => "\"char\"",
            Bytea => "bytea",
            Date => "date",
            Time => "time",
            TimeTz => "time with time zone",
            Timestamp => "timestamp",
            TimestampTz => "timestamp with time zone",
            Interval => "interval",
            Uuid => "uuid",
            Jsonb => "jsonb",
            Inet => "inet",
            MacAddr => "macaddr",
            MacAddr8 => "macaddr8",
            Bit => "bit",
            PgLsn => "pg_lsn",
            Point => "point",
            Money => "money",
            Array(e) => return write!(f, "{e}[]"),
            Record(fields) => return write!(f, "record of {} fields", fields.len()),
            Range(e) => return write!(f, "range of {e}"),
            Multirange(e) => return write!(f, "multirange of {e}"),
            Hstore => "hstore",
            TsVector => "tsvector",
            GeoBox => "box",
            Lseg => "lseg",
            Line => "line",
            Path => "path",
            Polygon => "polygon",
            Circle => "circle",
            Xid => "xid",
            Xid8 => "xid8",
        };
        f.write_str(name)
    }
}

/// Appends the text of one non-null value of type `ty`, whose binary form is
/// `data`, to `out` (unescaped: COPY escaping is applied to whole fields).
fn write_value(ty: &TextType, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    use TextType::*;
    match ty {
        Bool => match fixed::<1>(ty, data)? {
            [0] => out.push(b'f'),
            [1] => out.push(b't'),
            [b] => return Err(format!("{b} is not a boolean")),
        },
        Int2 => push_fmt(
            out,
            format_args!("{}", i16::from_be_bytes(fixed(ty, data)?)),
        ),
        Int4 => push_fmt(
            out,
            format_args!("{}", i32::from_be_bytes(fixed(ty, data)?)),
        ),
        Int8 => push_fmt(
            out,
            format_args!("{}", i64::from_be_bytes(fixed(ty, data)?)),
        ),
        Oid => push_fmt(
            out,
            format_args!("{}", u32::from_be_bytes(fixed(ty, data)?)),
        ),
        Float4 => number::float4(f32::from_be_bytes(fixed(ty, data)?), out),
        Float8 => number::float8(f64::from_be_bytes(fixed(ty, data)?), out),
        Numeric => number::numeric(data, out).map_err(|e| invalid(ty, data, e))?,
        Money => number::money(i64::from_be_bytes(fixed(ty, data)?), out),
        Text => out.extend_from_slice(data),
        Char => match fixed::<1>(ty, data)? {
            [0] => {}
            // PostgreSQL 15+ prints (and reads) a high-bit byte as \ooo.
            [b] if b >= 0x80 => push_fmt(out, format_args!("\\{b:03o}")),
            [b] => out.push(b),
        },
        Bytea => {
            out.extend_from_slice(b"\\x");
            push_hex(data, out);
        }
        Jsonb => match data.split_first() {
            Some((1, json)) => out.extend_from_slice(json),
            Some((v, _)) => return Err(format!("jsonb version {v} is not supported")),
            None => return Err("an empty jsonb".into()),
        },
        Uuid => {
            let u: [u8; 16] = fixed(ty, data)?;
            for (i, part) in [&u[..4], &u[4..6], &u[6..8], &u[8..10], &u[10..]]
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    out.push(b'-');
                }
                push_hex(part, out);
            }
        }
        Date => datetime::date(i32::from_be_bytes(fixed(ty, data)?), out)?,
        Time => datetime::time(i64::from_be_bytes(fixed(ty, data)?), out)?,
        TimeTz => {
            let b: [u8; 12] = fixed(ty, data)?;
            let (t, zone) = b.split_at(8);
            datetime::timetz(be_i64(t), be_i32(zone), out)?;
        }
        Timestamp => datetime::timestamp(i64::from_be_bytes(fixed(ty, data)?), false, out)?,
        TimestampTz => datetime::timestamp(i64::from_be_bytes(fixed(ty, data)?), true, out)?,
        Interval => {
            let b: [u8; 16] = fixed(ty, data)?;
            datetime::interval(be_i64(&b[..8]), be_i32(&b[8..12]), be_i32(&b[12..]), out);
        }
        Inet => network::inet(data, out).map_err(|e| invalid(ty, data, e))?,
        MacAddr => network::mac(&fixed::<6>(ty, data)?, out),
        MacAddr8 => network::mac(&fixed::<8>(ty, data)?, out),
        Bit => network::bits(data, out).map_err(|e| invalid(ty, data, e))?,
        PgLsn => {
            let lsn = u64::from_be_bytes(fixed(ty, data)?);
            push_fmt(out, format_args!("{:X}/{:X}", lsn >> 32, lsn as u32));
        }
        Point => {
            let b: [u8; 16] = fixed(ty, data)?;
            out.push(b'(');
            number::float8(f64::from_bits(be_u64(&b[..8])), out);
            out.push(b',');
            number::float8(f64::from_bits(be_u64(&b[8..])), out);
            out.push(b')');
        }
        Array(elem) => container::array(elem, data, out)?,
        Record(fields) => container::record(fields, data, out)?,
        Range(elem) => container::range(elem, data, out)?,
        Multirange(elem) => container::multirange(elem, data, out)?,
        Hstore => container::hstore(data, out)?,
        TsVector => shapes::tsvector(data, out)?,
        GeoBox => shapes::shape(shapes::Shape::Box, data, out)?,
        Lseg => shapes::shape(shapes::Shape::Lseg, data, out)?,
        Line => shapes::shape(shapes::Shape::Line, data, out)?,
        Path => shapes::shape(shapes::Shape::Path, data, out)?,
        Polygon => shapes::shape(shapes::Shape::Polygon, data, out)?,
        Circle => shapes::shape(shapes::Shape::Circle, data, out)?,
        Xid => push_fmt(
            out,
            format_args!("{}", u32::from_be_bytes(fixed(ty, data)?)),
        ),
        Xid8 => push_fmt(
            out,
            format_args!("{}", u64::from_be_bytes(fixed(ty, data)?)),
        ),
    }
    Ok(())
}

/// The `N` bytes of a fixed-size value.
fn fixed<const N: usize>(ty: &TextType, data: &[u8]) -> Result<[u8; N], String> {
    data.try_into()
        .map_err(|_| format!("{} bytes is not {}", data.len(), a(ty)))
}

/// "N bytes is not a TYPE: why".
fn invalid(ty: &TextType, data: &[u8], why: String) -> String {
    format!("{} bytes is not {}: {why}", data.len(), a(ty))
}

/// "a TYPE" or "an TYPE".
fn a(ty: &TextType) -> String {
    let name = ty.to_string();
    match name.starts_with(['a', 'e', 'i', 'o']) {
        true => format!("an {name}"),
        false => format!("a {name}"),
    }
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_i64(b: &[u8]) -> i64 {
    be_u64(b) as i64
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Appends lowercase hex digits of `bytes`.
fn push_hex(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

/// `write!` into a byte buffer (writing to a `Vec` cannot fail).
fn push_fmt(out: &mut Vec<u8>, args: fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = out.write_fmt(args);
}

/// Reads big-endian values off the front of a value's bytes.
#[derive(Debug)]
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.data.len() {
            return Err(format!(
                "truncated: {n} more bytes needed, {} left",
                self.data.len()
            ));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(be_i32(self.take(4)?))
    }

    /// A length-prefixed value; None for length -1 (NULL).
    fn field(&mut self) -> Result<Option<&'a [u8]>, String> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(format!("bad length {n}")),
            n => self.take(n as usize).map(Some),
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Fails when bytes are left over.
    fn end(&self) -> Result<(), String> {
        match self.data.len() {
            0 => Ok(()),
            n => Err(format!("{n} bytes left over")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of one value of `ty`.
    pub(super) fn text(ty: &TextType, data: &[u8]) -> String {
        let mut out = Vec::new();
        write_value(ty, data, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn builtin_names() {
        use TextType::*;
        let cases = [
            ("numeric(10,2)", Numeric),
            ("character varying(40)", Text),
            ("character(2)", Text),
            ("\"char\"", Char),
            ("time(3) without time zone", Time),
            ("timestamp(3) with time zone", TimestampTz),
            ("interval year to month", Interval),
            ("interval day to second(3)", Interval),
            ("interval(6)", Interval),
            ("bit varying(5)", Bit),
            ("bit(17)", Bit),
            ("cidr", Inet),
            ("tstzmultirange", Multirange(Box::new(TimestampTz))),
            ("daterange", Range(Box::new(Date))),
            ("\"char\"[]", Array(Box::new(Char))),
            (
                "numeric(5,1)[][]",
                Array(Box::new(Array(Box::new(Numeric)))),
            ),
        ];
        for (name, ty) in cases {
            assert_eq!(TextType::builtin(name), Some(ty), "{name}");
        }
        for name in [
            "public.mood",
            "char",
            "interval hours",
            "numeric(a)",
            "tsquery",
            "regclass",
            "\"numeric\"",
        ] {
            assert_eq!(TextType::builtin(name), None, "{name}");
        }
    }

    #[test]
    fn scalars() {
        use TextType::*;
        assert_eq!(text(&Bool, &[1]), "t");
        assert_eq!(text(&Int2, &(-5i16).to_be_bytes()), "-5");
        assert_eq!(text(&Oid, &u32::MAX.to_be_bytes()), "4294967295");
        assert_eq!(text(&Char, &[0]), "");
        assert_eq!(text(&Char, &[0xe9]), "\\351");
        assert_eq!(text(&Bytea, &[0, 0xab, 0x10]), "\\x00ab10");
        assert_eq!(text(&Bytea, &[]), "\\x");
        assert_eq!(text(&Jsonb, b"\x01{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(
            text(&Uuid, &(0..16).collect::<Vec<u8>>()),
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
        assert_eq!(
            text(&PgLsn, &0x16_B374_D848u64.to_be_bytes()),
            "16/B374D848"
        );
        let mut p = 1.5f64.to_be_bytes().to_vec();
        p.extend_from_slice(&(-0.0f64).to_be_bytes());
        assert_eq!(text(&Point, &p), "(1.5,-0)");
        let mut out = Vec::new();
        let e = write_value(&Int4, &[0, 0, 1], &mut out).unwrap_err();
        assert_eq!(e, "3 bytes is not an integer");
        assert!(write_value(&Jsonb, b"\x02{}", &mut out).is_err());
        assert!(write_value(&Bool, &[2], &mut out).is_err());
    }
}
