//! Bytes to text (docs/formats.md rule 1) and text to lines (rule 2).

use std::borrow::Cow;

/// The encoding a file was found to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16LeNoBom,
    Utf16Be,
    Windows1252,
    /// Not text: an Excel workbook (its strings are decoded by the workbook reader).
    Binary,
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// UTF-16 text with an odd number of bytes or unpaired surrogates.
    BadUtf16,
}

/// Windows-1252 code points for bytes 0x80..=0x9F (0 where the byte is undefined).
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Decodes a file's bytes: BOMs first, then UTF-16LE without BOM (NUL bytes at odd offsets),
/// then strict UTF-8, else Windows-1252. UTF-8 text is borrowed, not copied.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Encoding), DecodeError> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, false).map(|s| (Cow::Owned(s), Encoding::Utf16Le));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, true).map(|s| (Cow::Owned(s), Encoding::Utf16Be));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF])
        && let Ok(s) = std::str::from_utf8(rest)
    {
        return Ok((Cow::Borrowed(s), Encoding::Utf8Bom));
    }
    if looks_utf16le(bytes) {
        return utf16(bytes, false).map(|s| (Cow::Owned(s), Encoding::Utf16LeNoBom));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok((Cow::Borrowed(s), Encoding::Utf8)),
        Err(_) => Ok((Cow::Owned(windows_1252(bytes)), Encoding::Windows1252)),
    }
}

/// Many NUL bytes at odd offsets and few at even ones: ASCII text in UTF-16LE.
fn looks_utf16le(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(4096)];
    if sample.len() < 4 {
        return false;
    }
    let odd_nul = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    let even_nul = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let pairs = sample.len() / 2;
    odd_nul * 10 >= pairs * 7 && even_nul * 10 < pairs
}

fn utf16(bytes: &[u8], big_endian: bool) -> Result<String, DecodeError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(DecodeError::BadUtf16);
    }
    let unit = |c: &[u8]| {
        if big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    };
    // ASCII units (nearly all of an export) go straight to bytes; other runs through decode_utf16.
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() / 2);
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut Vec<u8>| -> Result<(), DecodeError> {
        if !pending.is_empty() {
            for c in char::decode_utf16(pending.drain(..)) {
                let c = c.map_err(|_| DecodeError::BadUtf16)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
        Ok(())
    };
    for c in bytes.chunks_exact(2) {
        let u = unit(c);
        if u < 0x80 {
            flush(&mut pending, &mut out)?;
            out.push(u as u8);
        } else {
            pending.push(u);
        }
    }
    flush(&mut pending, &mut out)?;
    String::from_utf8(out).map_err(|_| DecodeError::BadUtf16)
}

/// Windows-1252 (Latin-1 plus the 0x80..0x9F punctuation block).
pub fn windows_1252(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    while !rest.is_empty() {
        let ascii = rest.iter().position(|&b| b >= 0x80).unwrap_or(rest.len());
        // An all-ASCII run is valid UTF-8 (checked fast by the standard library).
        out.push_str(std::str::from_utf8(&rest[..ascii]).unwrap_or_default());
        if let Some(&b) = rest.get(ascii) {
            out.push(match b {
                0x80..=0x9F => {
                    let u = CP1252_HIGH[usize::from(b - 0x80)];
                    if u == 0 {
                        '\u{FFFD}'
                    } else {
                        char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}')
                    }
                }
                _ => char::from(b),
            });
            rest = &rest[ascii + 1..];
        } else {
            rest = &[];
        }
    }
    out
}

/// Encodes text as Windows-1252 (characters outside it become `?`), for the simulator.
pub fn to_windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| {
            let u = c as u32;
            if u < 0x80 || (0xA0..=0xFF).contains(&u) {
                u as u8
            } else {
                CP1252_HIGH
                    .iter()
                    .position(|&h| u32::from(h) == u && h != 0)
                    .map(|i| 0x80 + i as u8)
                    .unwrap_or(b'?')
            }
        })
        .collect()
}

/// Encodes text as UTF-16LE with a BOM, for the simulator.
pub fn to_utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + text.len() * 2);
    out.extend_from_slice(&[0xFF, 0xFE]);
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

/// The lines of a text with their 1-based numbers; CRLF, LF and a bare CR all end a line.
pub fn lines(text: &str) -> Lines<'_> {
    Lines {
        rest: text,
        line: 0,
    }
}

/// Iterator of [`lines`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        self.line += 1;
        let bytes = self.rest.as_bytes();
        match memchr::memchr2(b'\n', b'\r', bytes) {
            None => {
                let l = self.rest;
                self.rest = "";
                Some((self.line, l))
            }
            Some(i) => {
                let l = &self.rest[..i];
                let skip = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                self.rest = &self.rest[i + skip..];
                Some((self.line, l))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_detected() {
        assert_eq!(decode(b"abc").unwrap(), ("abc".into(), Encoding::Utf8));
        assert_eq!(
            decode(&[0xEF, 0xBB, 0xBF, b'a']).unwrap(),
            ("a".into(), Encoding::Utf8Bom)
        );
        assert_eq!(
            decode(&to_utf16le_bom("Load (µN)")).unwrap(),
            ("Load (µN)".into(), Encoding::Utf16Le)
        );
        let no_bom = &to_utf16le_bom("Time (min)\tStress")[2..];
        assert_eq!(
            decode(no_bom).unwrap(),
            ("Time (min)\tStress".into(), Encoding::Utf16LeNoBom)
        );
        assert_eq!(
            decode(&[0xFE, 0xFF, 0, b'h', 0, b'i']).unwrap(),
            ("hi".into(), Encoding::Utf16Be)
        );
        assert_eq!(
            decode(b"Load (\xb5N)").unwrap(),
            ("Load (µN)".into(), Encoding::Windows1252)
        );
        assert_eq!(decode(b"\x80\x93").unwrap().0, "€“");
        assert_eq!(decode(&[0xFF, 0xFE, 0x41]), Err(DecodeError::BadUtf16));
        assert_eq!(to_windows_1252("µ€x"), vec![0xB5, 0x80, b'x']);
    }

    #[test]
    fn every_line_end_ends_a_line() {
        let v: Vec<_> = lines("a\r\nb\nc\rd\r\re").collect();
        assert_eq!(
            v,
            vec![(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, ""), (6, "e")]
        );
        assert_eq!(lines("x\n").count(), 1);
        assert_eq!(lines("").count(), 0);
    }
}
