//! Text search vectors and geometric values, printed as their output
//! functions print them: `tsvector` (`'a':1A 'b'`), `box`, `lseg`, `line`,
//! `path`, `polygon`, `circle`.
use super::number::float8;
use super::{push_fmt, Reader};

/// A binary `tsvector` (lexeme count, then per lexeme its text ending in a
/// zero byte, a position count and the positions, weight in the top two
/// bits) as `tsvectorout` prints it.
pub(super) fn tsvector(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let n = r.i32()?;
    for i in 0..n {
        if i > 0 {
            out.push(b' ');
        }
        let rest = r.rest();
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("lexeme {}: no end", i + 1))?;
        let lexeme = r.take(len)?;
        r.take(1)?;
        out.push(b'\'');
        for &b in lexeme {
            if b == b'\'' || b == b'\\' {
                out.push(b);
            }
            out.push(b);
        }
        out.push(b'\'');
        let npos = u16::from_be_bytes([r.u8()?, r.u8()?]);
        for k in 0..npos {
            let p = u16::from_be_bytes([r.u8()?, r.u8()?]);
            out.push(if k == 0 { b':' } else { b',' });
            push_fmt(out, format_args!("{}", p & 0x3fff));
            match p >> 14 {
                3 => out.push(b'A'),
                2 => out.push(b'B'),
                1 => out.push(b'C'),
                _ => {}
            }
        }
    }
    r.end()
}

/// Which geometric type a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Box,
    Lseg,
    Line,
    Path,
    Polygon,
    Circle,
}

fn f64_of(r: &mut Reader<'_>) -> Result<f64, String> {
    let b = r.take(8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(f64::from_be_bytes(a))
}

fn point(r: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let (x, y) = (f64_of(r)?, f64_of(r)?);
    out.push(b'(');
    float8(x, out);
    out.push(b',');
    float8(y, out);
    out.push(b')');
    Ok(())
}

fn points(r: &mut Reader<'_>, n: i32, out: &mut Vec<u8>) -> Result<(), String> {
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        point(r, out)?;
    }
    Ok(())
}

/// A binary geometric value as its output function prints it.
pub(super) fn shape(kind: Shape, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    match kind {
        Shape::Box => {
            point(&mut r, out)?;
            out.push(b',');
            point(&mut r, out)?;
        }
        Shape::Lseg => {
            out.push(b'[');
            points(&mut r, 2, out)?;
            out.push(b']');
        }
        Shape::Line => {
            out.push(b'{');
            for i in 0..3 {
                if i > 0 {
                    out.push(b',');
                }
                float8(f64_of(&mut r)?, out);
            }
            out.push(b'}');
        }
        Shape::Path => {
            let closed = r.u8()? != 0;
            let n = r.i32()?;
            out.push(if closed { b'(' } else { b'[' });
            points(&mut r, n, out)?;
            out.push(if closed { b')' } else { b']' });
        }
        Shape::Polygon => {
            let n = r.i32()?;
            out.push(b'(');
            points(&mut r, n, out)?;
            out.push(b')');
        }
        Shape::Circle => {
            out.push(b'<');
            point(&mut r, out)?;
            out.push(b',');
            float8(f64_of(&mut r)?, out);
            out.push(b'>');
        }
    }
    r.end()
}

#[cfg(test)]
mod tests {
    use super::super::tests::text as show;
    use super::super::TextType;

    fn f(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    #[test]
    fn tsvectors() {
        let mut data = 2i32.to_be_bytes().to_vec();
        data.extend_from_slice(b"a'b\0");
        data.extend_from_slice(&2u16.to_be_bytes());
        data.extend_from_slice(&((3u16 << 14) | 1).to_be_bytes());
        data.extend_from_slice(&7u16.to_be_bytes());
        data.extend_from_slice(b"cat\0");
        data.extend_from_slice(&0u16.to_be_bytes());
        assert_eq!(show(&TextType::TsVector, &data), "'a''b':1A,7 'cat'");
        assert_eq!(show(&TextType::TsVector, &0i32.to_be_bytes()), "");
    }

    #[test]
    fn shapes() {
        assert_eq!(
            show(&TextType::GeoBox, &f(&[2.0, 3.0, 0.5, -1.0])),
            "(2,3),(0.5,-1)"
        );
        assert_eq!(
            show(&TextType::Lseg, &f(&[0.0, 0.0, 1.0, 1.0])),
            "[(0,0),(1,1)]"
        );
        assert_eq!(show(&TextType::Line, &f(&[1.0, -1.0, 0.0])), "{1,-1,0}");
        assert_eq!(show(&TextType::Circle, &f(&[1.0, 2.0, 3.0])), "<(1,2),3>");
        let mut path = vec![1u8];
        path.extend_from_slice(&2i32.to_be_bytes());
        path.extend(f(&[0.0, 0.0, 1.0, 0.0]));
        assert_eq!(show(&TextType::Path, &path), "((0,0),(1,0))");
        path[0] = 0;
        assert_eq!(show(&TextType::Path, &path), "[(0,0),(1,0)]");
        let mut poly = 1i32.to_be_bytes().to_vec();
        poly.extend(f(&[5.0, 6.0]));
        assert_eq!(show(&TextType::Polygon, &poly), "((5,6))");
    }
}
