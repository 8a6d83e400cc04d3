//! Arrays, records (composites), ranges and multiranges, with the quoting of
//! PostgreSQL's array, record and range literals.

use super::{push_fmt, write_value, Reader, TextType};

/// PostgreSQL's limit on array dimensions.
const MAXDIM: i32 = 6;

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;
const RANGE_LB_NULL: u8 = 0x20;
const RANGE_UB_NULL: u8 = 0x40;

/// A binary array (ndim, has-nulls flag, element OID, per dimension its size
/// and lower bound, then the elements) as `array_out` prints it:
/// `{1,NULL,"a b"}`, `{{1,2},{3,4}}`, `[0:1]={x,y}`.
pub(super) fn array(elem: &TextType, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let ndim = r.i32()?;
    let _has_nulls = r.i32()?;
    let _elem_oid = r.i32()?;
    if !(0..=MAXDIM).contains(&ndim) {
        return Err(format!("{ndim} array dimensions"));
    }
    let mut dims = Vec::new();
    for _ in 0..ndim {
        let (len, lb) = (r.i32()?, r.i32()?);
        let len = usize::try_from(len).map_err(|_| format!("array dimension of size {len}"))?;
        dims.push((len, lb));
    }
    // Every element takes at least its 4-byte length: a bound on the count
    // that keeps a corrupt size from looping for long.
    let count = dims
        .iter()
        .try_fold(1usize, |n, &(len, _)| n.checked_mul(len))
        .filter(|&n| dims.is_empty() || n <= r.rest().len() / 4)
        .ok_or("array dimensions larger than its data")?;
    if count == 0 || dims.is_empty() {
        r.end()?;
        out.extend_from_slice(b"{}");
        return Ok(());
    }
    if dims.iter().any(|&(_, lb)| lb != 1) {
        for &(len, lb) in &dims {
            let ub = i64::from(lb) + len as i64 - 1;
            push_fmt(out, format_args!("[{lb}:{ub}]"));
        }
        out.push(b'=');
    }
    let mut index = 0;
    array_dim(elem, &dims, &mut r, &mut index, out)?;
    r.end()
}

/// The elements of one dimension, `{…}`, recursing into the next ones.
fn array_dim(
    elem: &TextType,
    dims: &[(usize, i32)],
    r: &mut Reader<'_>,
    index: &mut usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.push(b'{');
    for i in 0..dims[0].0 {
        if i > 0 {
            out.push(b',');
        }
        if dims.len() > 1 {
            array_dim(elem, &dims[1..], r, index, out)?;
            continue;
        }
        *index += 1;
        match r
            .field()
            .map_err(|e| format!("array element {index}: {e}"))?
        {
            None => out.extend_from_slice(b"NULL"),
            Some(value) => {
                let text = value_text(elem, value)
                    .map_err(|e| format!("array element {index} ({elem}): {e}"))?;
                let special = |b: u8| b"\"\\{},".contains(&b) || is_space(b);
                let needs_quotes = text.is_empty()
                    || text.eq_ignore_ascii_case(b"NULL")
                    || text.iter().any(|&b| special(b));
                quote(&text, needs_quotes, b'\\', out);
            }
        }
    }
    out.push(b'}');
    Ok(())
}

/// A binary record (field count, then per field its type OID, length and
/// bytes), its fields read as `fields`, as `record_out` prints it:
/// `(1,,"a b")` (NULL is nothing).
pub(super) fn record(fields: &[TextType], data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let n = r.i32()?;
    if usize::try_from(n).ok() != Some(fields.len()) {
        return Err(format!("record of {n} fields, expected {}", fields.len()));
    }
    out.push(b'(');
    for (i, ty) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let field = r.i32().and_then(|_oid| r.field());
        let field = field.map_err(|e| format!("record field {}: {e}", i + 1))?;
        if let Some(value) = field {
            let text =
                value_text(ty, value).map_err(|e| format!("record field {} ({ty}): {e}", i + 1))?;
            let needs_quotes =
                text.is_empty() || text.iter().any(|&b| b"\"\\(),".contains(&b) || is_space(b));
            quote(&text, needs_quotes, 0, out);
        }
    }
    out.push(b')');
    r.end()
}

/// A binary range (flags, then each finite bound length-prefixed) as
/// `range_out` prints it: `empty`, `[1,5)`, `(,"2024-01-01 00:00:00")`.
pub(super) fn range(elem: &TextType, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let flags = r.u8()?;
    if flags & RANGE_EMPTY != 0 {
        r.end()?;
        out.extend_from_slice(b"empty");
        return Ok(());
    }
    out.push(if flags & RANGE_LB_INC != 0 {
        b'['
    } else {
        b'('
    });
    range_bound(
        elem,
        flags & (RANGE_LB_INF | RANGE_LB_NULL) == 0,
        &mut r,
        out,
    )
    .map_err(|e| format!("lower bound: {e}"))?;
    out.push(b',');
    range_bound(
        elem,
        flags & (RANGE_UB_INF | RANGE_UB_NULL) == 0,
        &mut r,
        out,
    )
    .map_err(|e| format!("upper bound: {e}"))?;
    out.push(if flags & RANGE_UB_INC != 0 {
        b']'
    } else {
        b')'
    });
    r.end()
}

fn range_bound(
    elem: &TextType,
    present: bool,
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if !present {
        return Ok(());
    }
    let value = r.field()?.ok_or("NULL bound")?;
    let text = value_text(elem, value)?;
    let needs_quotes = text.is_empty()
        || text
            .iter()
            .any(|&b| b"\"\\()[],".contains(&b) || is_space(b));
    quote(&text, needs_quotes, 0, out);
    Ok(())
}

/// A binary multirange (count, then length-prefixed ranges): `{[1,2),[3,4)}`.
pub(super) fn multirange(elem: &TextType, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let n = r.i32()?;
    if n < 0 {
        return Err(format!("{n} ranges"));
    }
    out.push(b'{');
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        let at = |e: String| format!("range {}: {e}", i + 1);
        let value = r.field().map_err(at)?.ok_or_else(|| at("NULL".into()))?;
        range(elem, value, out).map_err(at)?;
    }
    out.push(b'}');
    r.end()
}

/// A binary `hstore` (pair count, then each key and value length-prefixed,
/// a value of length -1 NULL) as `hstore_out` prints it: `"a"=>"1",
/// "b"=>NULL`, keys and values quoted, `"` and `\` backslash-escaped.
pub(super) fn hstore(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let n = r.i32()?;
    for i in 0..n {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        let key = r
            .field()?
            .ok_or_else(|| format!("hstore pair {}: a NULL key", i + 1))?;
        quote(key, true, b'\\', out);
        out.extend_from_slice(b"=>");
        match r.field()? {
            Some(value) => quote(value, true, b'\\', out),
            None => out.extend_from_slice(b"NULL"),
        }
    }
    r.end()
}

/// The text of a nested value.
fn value_text(ty: &TextType, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut text = Vec::new();
    write_value(ty, data, &mut text)?;
    Ok(text)
}

/// Appends `text`, in double quotes when `needs_quotes`, where `"` and `\`
/// are escaped by `escape` (arrays: a backslash) or, with 0, doubled
/// (records and ranges, as PostgreSQL writes them).
fn quote(text: &[u8], needs_quotes: bool, escape: u8, out: &mut Vec<u8>) {
    if !needs_quotes {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for &b in text {
        if b == b'"' || b == b'\\' {
            out.push(if escape == 0 { b } else { escape });
        }
        out.push(b);
    }
    out.push(b'"');
}

/// C's `isspace` in the C locale, as the literal parsers use it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::super::tests::text as show;
    use super::*;

    fn field(out: &mut Vec<u8>, v: Option<&[u8]>) {
        match v {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }

    /// A binary array of `dims` (size, lower bound) holding `elems`.
    fn arr(dims: &[(i32, i32)], elems: &[Option<&[u8]>]) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [dims.len() as i32, 0, 25] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        for (len, lb) in dims {
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&lb.to_be_bytes());
        }
        for e in elems {
            field(&mut b, *e);
        }
        b
    }

    fn text_array() -> TextType {
        TextType::Array(Box::new(TextType::Text))
    }

    #[test]
    fn array_quoting() {
        let elems: [Option<&[u8]>; 8] = [
            Some(b"plain"),
            Some(b""),
            None,
            Some(b"null"),
            Some(b"a b"),
            Some(b"x\"y\\z"),
            Some(b"{,}"),
            Some(b"tab\there"),
        ];
        assert_eq!(
            show(&text_array(), &arr(&[(8, 1)], &elems)),
            r#"{plain,"",NULL,"null","a b","x\"y\\z","{,}","tab	here"}"#
        );
        assert_eq!(show(&text_array(), &arr(&[], &[])), "{}");
        assert_eq!(
            show(&text_array(), &arr(&[(2, 0)], &[Some(b"x"), Some(b"y")])),
            "[0:1]={x,y}"
        );
        let one = 1i32.to_be_bytes();
        let two = 2i32.to_be_bytes();
        let int2d = TextType::Array(Box::new(TextType::Int4));
        let grid = arr(
            &[(2, 1), (3, -1)],
            &[Some(&one), None, Some(&two), Some(&two), Some(&one), None],
        );
        assert_eq!(show(&int2d, &grid), "[1:2][-1:1]={{1,NULL,2},{2,1,NULL}}");
        let grid = arr(&[(2, 1), (1, 1)], &[Some(&one), Some(&two)]);
        assert_eq!(show(&int2d, &grid), "{{1},{2}}");
        // Arrays of bytea and of records quote their elements' text.
        let bytea = TextType::Array(Box::new(TextType::Bytea));
        assert_eq!(
            show(&bytea, &arr(&[(1, 1)], &[Some(&[0xab])])),
            r#"{"\\xab"}"#
        );
        let mut out = Vec::new();
        let short = &arr(&[(3, 1)], &[Some(b"x")]);
        assert!(array(&TextType::Text, short, &mut out).is_err());
        let huge = &arr(&[(i32::MAX, 1), (i32::MAX, 1)], &[]);
        assert!(array(&TextType::Text, huge, &mut out).is_err());
        let bad = &arr(&[(1, 1)], &[Some(b"abc")]);
        let e = array(&TextType::Int4, bad, &mut out).unwrap_err();
        assert_eq!(e, "array element 1 (integer): 3 bytes is not an integer");
    }

    fn rec(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut b = (fields.len() as i32).to_be_bytes().to_vec();
        for f in fields {
            b.extend_from_slice(&25u32.to_be_bytes());
            field(&mut b, *f);
        }
        b
    }

    #[test]
    fn record_quoting() {
        let ty = TextType::Record(vec![
            TextType::Int4,
            TextType::Text,
            TextType::Text,
            TextType::Text,
        ]);
        let one = 1i32.to_be_bytes();
        let data = rec(&[Some(&one), None, Some(b""), Some(b"a \"(b)\", \\c")]);
        assert_eq!(show(&ty, &data), r#"(1,,"","a ""(b)"", \\c")"#);
        // A record inside an array is quoted again, array-style.
        let arr_ty = TextType::Array(Box::new(ty.clone()));
        let data = arr(
            &[(1, 1)],
            &[Some(&rec(&[Some(&one), None, Some(b"x"), Some(b"a b")]))],
        );
        assert_eq!(show(&arr_ty, &data), r#"{"(1,,x,\"a b\")"}"#);
        let mut out = Vec::new();
        let e = record(&[TextType::Int4], &rec(&[None, None]), &mut out).unwrap_err();
        assert_eq!(e, "record of 2 fields, expected 1");
    }

    fn rng(flags: u8, bounds: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![flags];
        for bound in bounds {
            field(&mut b, Some(bound));
        }
        b
    }

    #[test]
    fn hstore_pairs() {
        let mut data = 2i32.to_be_bytes().to_vec();
        for (k, v) in [(&b"a\"b"[..], Some(&b"1"[..])), (&b"n"[..], None)] {
            field(&mut data, Some(k));
            field(&mut data, v);
        }
        assert_eq!(show(&TextType::Hstore, &data), r#""a\"b"=>"1", "n"=>NULL"#);
        assert_eq!(show(&TextType::Hstore, &0i32.to_be_bytes()), "");
    }

    #[test]
    fn ranges_and_multiranges() {
        let int = TextType::Range(Box::new(TextType::Int4));
        let (one, five) = (1i32.to_be_bytes(), 5i32.to_be_bytes());
        assert_eq!(show(&int, &rng(RANGE_EMPTY, &[])), "empty");
        assert_eq!(show(&int, &rng(RANGE_LB_INC, &[&one, &five])), "[1,5)");
        assert_eq!(
            show(&int, &rng(RANGE_LB_INF | RANGE_UB_INC, &[&five])),
            "(,5]"
        );
        assert_eq!(show(&int, &rng(RANGE_LB_INF | RANGE_UB_INF, &[])), "(,)");
        let text = TextType::Range(Box::new(TextType::Text));
        let r = rng(RANGE_LB_INC | RANGE_UB_INC, &[b"", b"a]b"]);
        assert_eq!(show(&text, &r), r#"["","a]b"]"#);
        let r = rng(RANGE_LB_INC, &[b"q\"", b"x y"]);
        assert_eq!(show(&text, &r), r#"["q""","x y")"#);
        let multi = TextType::Multirange(Box::new(TextType::Int4));
        let mut m = 2i32.to_be_bytes().to_vec();
        field(&mut m, Some(&rng(RANGE_LB_INC, &[&one, &five])));
        field(&mut m, Some(&rng(RANGE_LB_INC | RANGE_UB_INF, &[&five])));
        assert_eq!(show(&multi, &m), "{[1,5),[5,)}");
        assert_eq!(show(&multi, &0i32.to_be_bytes()), "{}");
        let mut out = Vec::new();
        assert!(range(&TextType::Int4, &rng(RANGE_LB_INC, &[&one]), &mut out).is_err());
        assert!(range(&TextType::Int4, &rng(RANGE_EMPTY, &[&one]), &mut out).is_err());
    }
}
