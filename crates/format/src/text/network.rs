//! inet/cidr, macaddr/macaddr8 and bit strings.

use super::{push_fmt, push_hex, Reader};

/// `PGSQL_AF_INET` and `PGSQL_AF_INET6` as binary inet carries them.
const AF_INET: u8 = 2;
const AF_INET6: u8 = 3;

/// An inet or cidr (family, bits, is_cidr, address length, address) as
/// `inet_out`/`cidr_out` print it: IPv4 dotted, IPv6 compressed (RFC 5952,
/// with PostgreSQL's `::ffff:1.2.3.4` form), `/bits` unless an inet's mask
/// is full.
pub(super) fn inet(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let (family, bits, is_cidr, nb) = (r.u8()?, r.u8()?, r.u8()?, r.u8()?);
    let max_bits = match family {
        AF_INET => 32,
        AF_INET6 => 128,
        f => return Err(format!("address family {f}")),
    };
    if usize::from(nb) != usize::from(max_bits / 8) {
        return Err(format!("{nb}-byte address"));
    }
    if bits > max_bits {
        return Err(format!("{bits} mask bits"));
    }
    let addr = r.take(usize::from(nb))?;
    r.end()?;
    match addr.try_into() {
        Ok(v6) => ipv6(v6, out),
        Err(_) => dotted(addr, out),
    }
    if is_cidr != 0 || bits != max_bits {
        push_fmt(out, format_args!("/{bits}"));
    }
    Ok(())
}

fn dotted(bytes: &[u8], out: &mut Vec<u8>) {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_fmt(out, format_args!("{b}"));
    }
}

/// An IPv6 address, its longest run (the first of equals) of two or more
/// zero groups shortened to `::`, as PostgreSQL's `inet_net_ntop` does.
fn ipv6(addr: &[u8; 16], out: &mut Vec<u8>) {
    let words: Vec<u16> = addr
        .chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect();
    // (start, length) of the longest zero run.
    let (mut best, mut cur) = ((0, 0), (0, 0));
    for (i, &w) in words.iter().enumerate() {
        if w != 0 {
            continue;
        }
        cur = if cur.1 > 0 && cur.0 + cur.1 == i {
            (cur.0, cur.1 + 1)
        } else {
            (i, 1)
        };
        if cur.1 > best.1 {
            best = cur;
        }
    }
    let (base, len) = if best.1 >= 2 { best } else { (8, 0) };
    for (i, &w) in words.iter().enumerate() {
        if (base..base + len).contains(&i) {
            if i == base {
                out.push(b':');
            }
            continue;
        }
        if i > 0 {
            out.push(b':');
        }
        // An IPv4-compatible or IPv4-mapped address ends in dotted form.
        if i == 6 && base == 0 && (len == 6 || (len == 5 && words[5] == 0xffff)) {
            dotted(&addr[12..], out);
            return;
        }
        push_fmt(out, format_args!("{w:x}"));
    }
    if len > 0 && base + len == 8 {
        out.push(b':');
    }
}

/// `08:00:2b:01:02:03` (6 or 8 bytes).
pub(super) fn mac(bytes: &[u8], out: &mut Vec<u8>) {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        push_hex(&[*b], out);
    }
}

/// A bit or bit varying (bit length, bytes) as a string of `0` and `1`.
pub(super) fn bits(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut r = Reader::new(data);
    let len = r.i32()?;
    let len = usize::try_from(len).map_err(|_| format!("bit length {len}"))?;
    let bytes = r.take(len.div_ceil(8))?;
    r.end()?;
    out.extend((0..len).map(|i| match bytes[i / 8] & (0x80 >> (i % 8)) {
        0 => b'0',
        _ => b'1',
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show_inet(family: u8, bits: u8, cidr: bool, addr: &[u8]) -> String {
        let mut data = vec![family, bits, u8::from(cidr), addr.len() as u8];
        data.extend_from_slice(addr);
        let mut out = Vec::new();
        inet(&data, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn v6(words: [u16; 8]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn inet_and_cidr() {
        assert_eq!(show_inet(2, 32, false, &[192, 168, 0, 1]), "192.168.0.1");
        assert_eq!(show_inet(2, 24, false, &[192, 168, 0, 1]), "192.168.0.1/24");
        assert_eq!(show_inet(2, 32, true, &[10, 1, 2, 3]), "10.1.2.3/32");
        assert_eq!(show_inet(2, 8, true, &[10, 0, 0, 0]), "10.0.0.0/8");
        assert_eq!(show_inet(3, 128, false, &[0; 16]), "::");
        assert_eq!(show_inet(3, 0, true, &[0; 16]), "::/0");
        let cases = [
            ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
            ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
            ([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"),
            ([1, 0, 0, 1, 0, 0, 0, 1], "1:0:0:1::1"),
            ([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"),
            (
                [0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a],
                "fe80::1ff:fe23:4567:890a",
            ),
            ([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"),
            ([0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::1.2.3.4"),
            ([0, 0, 0, 0, 0, 0xfffe, 0x0102, 0x0304], "::fffe:102:304"),
        ];
        for (words, text) in cases {
            assert_eq!(show_inet(3, 128, false, &v6(words)), text);
        }
        assert_eq!(
            show_inet(3, 64, true, &v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0])),
            "2001:db8::/64"
        );
        let mut out = Vec::new();
        assert!(inet(&[2, 33, 0, 4, 1, 2, 3, 4], &mut out).is_err());
        assert!(inet(&[2, 32, 0, 16, 1, 2, 3, 4], &mut out).is_err());
        assert!(inet(&[4, 32, 0, 4, 1, 2, 3, 4], &mut out).is_err());
        assert!(inet(&[2, 32, 0, 4, 1, 2, 3], &mut out).is_err());
    }

    #[test]
    fn macs_and_bits() {
        let mut out = Vec::new();
        mac(&[8, 0, 0x2b, 1, 2, 3], &mut out);
        assert_eq!(out, b"08:00:2b:01:02:03");
        let b = |data: &[u8]| {
            let mut out = Vec::new();
            bits(data, &mut out).map(|()| String::from_utf8(out).unwrap())
        };
        assert_eq!(b(&[0, 0, 0, 0]).unwrap(), "");
        assert_eq!(
            b(&[0, 0, 0, 10, 0b1010_0000, 0b0100_0000]).unwrap(),
            "1010000001"
        );
        assert_eq!(b(&[0, 0, 0, 8, 0xff]).unwrap(), "11111111");
        assert!(b(&[0, 0, 0, 9, 0xff]).is_err());
        assert!(b(&[0, 0, 0, 1, 0xff, 0]).is_err());
        assert!(b(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
