//! numeric, float4/float8 and money.

use super::{push_fmt, Reader};

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// The largest display scale PostgreSQL stores.
const NUMERIC_DSCALE_MAX: u16 = 0x3FFF;

/// A binary numeric (ndigits, weight, sign, dscale, base-10000 digits), with
/// exactly dscale fractional digits, as `numeric_out` prints it.
pub(super) fn numeric(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let head = r.take(8)?;
    let ndigits = i16::from_be_bytes([head[0], head[1]]);
    let weight = i16::from_be_bytes([head[2], head[3]]);
    let sign = u16::from_be_bytes([head[4], head[5]]);
    let dscale = u16::from_be_bytes([head[6], head[7]]);
    if ndigits < 0 {
        return Err(format!("{ndigits} digits"));
    }
    let digits: Vec<u16> = r
        .take(2 * ndigits as usize)?
        .chunks_exact(2)
        .map(|d| u16::from_be_bytes([d[0], d[1]]))
        .collect();
    r.end()?;
    match sign {
        NUMERIC_NAN => return special(b"NaN", &digits, out),
        NUMERIC_PINF => return special(b"Infinity", &digits, out),
        NUMERIC_NINF => return special(b"-Infinity", &digits, out),
        NUMERIC_POS => {}
        NUMERIC_NEG => out.push(b'-'),
        _ => return Err(format!("sign {sign:#06x}")),
    }
    if dscale > NUMERIC_DSCALE_MAX {
        return Err(format!("scale {dscale}"));
    }
    if let Some(d) = digits.iter().find(|&&d| d >= 10000) {
        return Err(format!("digit {d} is not base 10000"));
    }
    // The base-10000 digit worth 10000^e.
    let weight = i32::from(weight);
    let digit = |e: i32| -> u16 {
        usize::try_from(weight - e)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    if weight < 0 {
        out.push(b'0');
    } else {
        push_fmt(out, format_args!("{}", digit(weight)));
        for e in (0..weight).rev() {
            push_fmt(out, format_args!("{:04}", digit(e)));
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let start = out.len();
        let mut e = -1;
        while out.len() - start < usize::from(dscale) {
            push_fmt(out, format_args!("{:04}", digit(e)));
            e -= 1;
        }
        out.truncate(start + usize::from(dscale));
    }
    Ok(())
}

fn special(text: &[u8], digits: &[u16], out: &mut Vec<u8>) -> Result<(), String> {
    if !digits.is_empty() {
        return Err("digits in a special value".into());
    }
    out.extend_from_slice(text);
    Ok(())
}

/// Shortest round-trip text of a float8 (`NaN`, `Infinity`, `-0`, `1e300`, …).
pub(super) fn float8(v: f64, out: &mut Vec<u8>) {
    match special_float(v) {
        Some(text) => out.extend_from_slice(text),
        None if scientific(v) => push_fmt(out, format_args!("{v:e}")),
        None => push_fmt(out, format_args!("{v}")),
    }
}

/// Shortest round-trip text of a float4.
pub(super) fn float4(v: f32, out: &mut Vec<u8>) {
    match special_float(f64::from(v)) {
        Some(text) => out.extend_from_slice(text),
        None if scientific(f64::from(v)) => push_fmt(out, format_args!("{v:e}")),
        None => push_fmt(out, format_args!("{v}")),
    }
}

/// NaN and the infinities as PostgreSQL spells them.
fn special_float(v: f64) -> Option<&'static [u8]> {
    match v {
        _ if v.is_nan() => Some(b"NaN"),
        f64::INFINITY => Some(b"Infinity"),
        f64::NEG_INFINITY => Some(b"-Infinity"),
        _ => None,
    }
}

/// Whether a finite value is shorter with an exponent (Rust's plain `{}`
/// writes every zero of `1e300`).
fn scientific(v: f64) -> bool {
    let a = v.abs();
    a != 0.0 && !(1e-4..1e16).contains(&a)
}

/// Money as a plain number of the currency's units with two decimals
/// (`-12.34`): what `money` reads back whenever `lc_monetary` has two
/// fractional digits (C, POSIX, en_US and most locales).
pub(super) fn money(cents: i64, out: &mut Vec<u8>) {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    push_fmt(out, format_args!("{sign}{}.{:02}", abs / 100, abs % 100));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&ndigits.to_be_bytes());
        b.extend_from_slice(&weight.to_be_bytes());
        b.extend_from_slice(&sign.to_be_bytes());
        b.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    fn show(data: &[u8]) -> Result<String, String> {
        let mut out = Vec::new();
        numeric(data, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn numeric_digits_and_scales() {
        let ok = |n, w, s, d, digits: &[u16]| show(&num(n, w, s, d, digits)).unwrap();
        assert_eq!(ok(0, 0, 0, 0, &[]), "0");
        assert_eq!(ok(0, 0, 0, 3, &[]), "0.000");
        assert_eq!(ok(2, 0, 0, 2, &[1, 5000]), "1.50");
        assert_eq!(ok(2, 0, 0, 1, &[1, 5000]), "1.5");
        assert_eq!(ok(2, 0, 0x4000, 6, &[1, 5000]), "-1.500000");
        assert_eq!(ok(1, 2, 0, 0, &[12]), "1200000000");
        assert_eq!(ok(3, 1, 0, 0, &[12, 3, 4500]), "120003");
        assert_eq!(ok(3, 1, 0, 2, &[12, 3, 4500]), "120003.45");
        assert_eq!(ok(1, -1, 0, 4, &[5]), "0.0005");
        assert_eq!(ok(1, -3, 0x4000, 12, &[1]), "-0.000000000001");
        assert_eq!(ok(1, -3, 0, 9, &[1]), "0.000000000");
        assert_eq!(ok(2, 0, 0, 0, &[9999, 9999]), "9999");
        assert_eq!(ok(0, 0, 0xC000, 0, &[]), "NaN");
        assert_eq!(ok(0, 0, 0xD000, 0, &[]), "Infinity");
        assert_eq!(ok(0, 0, 0xF000, 0, &[]), "-Infinity");
        assert_eq!(ok(1, 100, 0, 0, &[1]).len(), 401);
    }

    #[test]
    fn malformed_numerics() {
        assert!(show(&[0; 5]).unwrap_err().contains("truncated"));
        assert!(show(&num(1, 0, 0, 0, &[10000])).is_err());
        assert!(show(&num(1, 0, 0x1234, 0, &[1])).is_err());
        assert!(show(&num(2, 0, 0, 0, &[1])).is_err());
        assert!(show(&[num(1, 0, 0, 0, &[1]), vec![0]].concat()).is_err());
        assert!(show(&num(0, 0, 0, 0x4000, &[])).is_err());
        assert!(show(&num(-1, 0, 0, 0, &[])).is_err());
    }

    #[test]
    fn floats_and_money() {
        let f8 = |v: f64| {
            let mut out = Vec::new();
            float8(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        let f4 = |v: f32| {
            let mut out = Vec::new();
            float4(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(f8(f64::NAN), "NaN");
        assert_eq!(f8(f64::INFINITY), "Infinity");
        assert_eq!(f8(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(f8(-0.0), "-0");
        assert_eq!(f8(0.1), "0.1");
        assert_eq!(f8(1e300), "1e300");
        assert_eq!(f8(-1.5e-7), "-1.5e-7");
        assert_eq!(f8(5e-324), "5e-324");
        assert_eq!(f8(123456789012345.6), "123456789012345.6");
        assert_eq!(f4(0.1), "0.1");
        assert_eq!(f4(f32::MAX), "3.4028235e38");
        assert_eq!(f4(-0.0), "-0");
        for v in [
            0.1,
            1.0 / 3.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            2.5e-310,
            1e16,
            9.999e15,
        ] {
            assert_eq!(f8(v).parse::<f64>().unwrap(), v);
        }
        let m = |c: i64| {
            let mut out = Vec::new();
            money(c, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(m(-1234), "-12.34");
        assert_eq!(m(5), "0.05");
        assert_eq!(m(0), "0.00");
        assert_eq!(m(i64::MIN), "-92233720368547758.08");
        assert_eq!(m(i64::MAX), "92233720368547758.07");
    }
}
