//! Numbers in cells (docs/formats.md rule 4) and column names with units (rule 3).

/// Why a cell is not a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellError {
    /// `1,5` where the manifest did not declare a decimal comma.
    DecimalComma,
    NotANumber,
    /// A number too large for a 64-bit float (`1e400`): refused like `nan`, never read as
    /// missing.
    Overflow,
}

/// Values of this magnitude or more are instruments' "missing" markers.
pub const MISSING_ABOVE: f64 = 1e300;

/// Parses a cell: `Ok(None)` when empty or a missing-value marker (|x| >= 1e300).
pub fn number(cell: &str, decimal_comma: bool) -> Result<Option<f64>, CellError> {
    let s = trim_cell(cell);
    if s.is_empty() {
        return Ok(None);
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Err(CellError::NotANumber);
    }
    if let Some(v) = fast_decimal(s.as_bytes()) {
        return Ok(Some(v));
    }
    let parsed = if decimal_comma && s.contains(',') {
        s.replace(',', ".").parse::<f64>()
    } else {
        s.parse::<f64>()
    };
    match parsed {
        Ok(v) if v.is_finite() && v.abs() < MISSING_ABOVE => Ok(Some(v)),
        Ok(v) if v.is_infinite() => Err(CellError::Overflow),
        Ok(v) if v.abs() >= MISSING_ABOVE => Ok(None),
        Ok(_) => Err(CellError::NotANumber),
        Err(_)
            if !decimal_comma && s.contains(',') && s.replace(',', ".").parse::<f64>().is_ok() =>
        {
            Err(CellError::DecimalComma)
        }
        Err(_) => Err(CellError::NotANumber),
    }
}

/// The cell without the spaces and double quotes around it (both ASCII: trimmed as bytes, so
/// what is left is still whole characters).
fn trim_cell(cell: &str) -> &str {
    let b = cell.as_bytes();
    let strip = |c: &u8| *c == b' ' || *c == b'"';
    let start = b.iter().position(|c| !strip(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !strip(c)).map_or(start, |e| e + 1);
    &cell[start..end.max(start)]
}

/// Exact powers of ten as doubles: 10^0 to 10^22.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path for the plain decimals instruments write (`-0.1034546763`,
/// `4.550614606E-7`): sign, digits, a point, digits, an exponent. When the digits, read as an
/// integer, are at most 2^53 and the decimal exponent is within +-22, both are exact doubles and
/// one multiplication or division rounds the exact quotient correctly: the value `str::parse`
/// gives, bit for bit (tests), at a fraction of its cost. None for anything else (more digits,
/// larger exponents, stray characters), which goes to `str::parse`.
fn fast_decimal(s: &[u8]) -> Option<f64> {
    const LIMIT: u64 = 1 << 53;
    let (neg, mut i) = match s.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    // The digits before and after the point, as one integer: at most 19 digits, so it cannot
    // overflow (19 nines < 2^64); more go to the slow path.
    let mut mant = 0u64;
    let digits_from = |i: &mut usize, mant: &mut u64| -> usize {
        let from = *i;
        while let Some(&c) = s.get(*i).filter(|c| c.is_ascii_digit()) {
            *mant = mant.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            *i += 1;
        }
        *i - from
    };
    let int_digits = digits_from(&mut i, &mut mant);
    let frac_digits = if s.get(i) == Some(&b'.') {
        i += 1;
        digits_from(&mut i, &mut mant)
    } else {
        0
    };
    let digits = int_digits + frac_digits;
    if digits == 0 || digits > 19 {
        return None;
    }
    let mut exp = -(frac_digits as i32);
    if let Some(&c) = s.get(i) {
        if c != b'e' && c != b'E' {
            return None;
        }
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let (mut e, mut edigits) = (0i32, 0);
        while let Some(&c) = s.get(i) {
            if !c.is_ascii_digit() || edigits >= 4 {
                return None;
            }
            e = e * 10 + i32::from(c - b'0');
            edigits += 1;
            i += 1;
        }
        if edigits == 0 {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if mant > LIMIT {
        return None;
    }
    let m = mant as f64;
    let v = if mant == 0 {
        0.0
    } else if (0..=22).contains(&exp) {
        m * POW10[exp as usize]
    } else if (-22..0).contains(&exp) {
        m / POW10[(-exp) as usize]
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// A column name compared case-insensitively, with `u`, `µ` (U+00B5) and `μ` (U+03BC) all micro
/// and runs of white space folded.
pub fn norm(name: &str) -> String {
    let lowered: String = name
        .chars()
        .map(|c| match c {
            '\u{00B5}' | '\u{03BC}' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect::<String>()
        .to_lowercase();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `Stress (MPa)` into (`Stress`, `MPa`) and `Force_µN` into (`Force`, `µN`); a name
/// without a unit gives an empty unit.
pub fn split_unit(name: &str) -> (String, String) {
    let t = name.trim();
    if let Some(open) = t.rfind(['(', '[']) {
        let close = if t[open..].starts_with('(') { ')' } else { ']' };
        if t.ends_with(close) && open > 0 {
            return (
                t[..open].trim().to_owned(),
                t[open + 1..t.len() - 1].trim().to_owned(),
            );
        }
    }
    if let Some(us) = t.rfind('_') {
        let unit = &t[us + 1..];
        if us > 0 && !unit.is_empty() && unit.len() <= 4 && !unit.contains(' ') {
            return (t[..us].trim().to_owned(), unit.to_owned());
        }
    }
    (t.to_owned(), String::new())
}

/// A physical quantity agingflow reads from files, with its canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// seconds
    Time,
    /// MPa
    Stress,
    /// kelvin
    Temperature,
    /// fraction (not %)
    Strain,
    /// nm
    Depth,
    /// µN
    Load,
    /// MPa (storage and loss moduli)
    Modulus,
    /// Hz
    Frequency,
    /// W/g (heat flow per mass)
    HeatFlowPerMass,
    /// W (heat flow of the whole sample)
    Power,
    /// dimensionless (tan delta)
    Ratio,
}

/// The factor and offset taking a value in `unit` to the canonical unit of `q`
/// (`canonical = value * factor + offset`); `None` for a unit not known for that quantity.
/// An empty unit means the canonical one.
pub fn conversion(q: Quantity, unit: &str) -> Option<(f64, f64)> {
    let u = norm(unit).replace(['°', ' '], "");
    let f = |x: f64| Some((x, 0.0));
    match q {
        Quantity::Time => match u.as_str() {
            "" | "s" | "sec" => f(1.0),
            "ms" => f(1e-3),
            "min" => f(60.0),
            "h" | "hr" => f(3600.0),
            _ => None,
        },
        Quantity::Stress => match u.as_str() {
            "" | "mpa" => f(1.0),
            "kpa" => f(1e-3),
            "pa" => f(1e-6),
            "gpa" => f(1e3),
            _ => None,
        },
        Quantity::Temperature => match u.as_str() {
            "" | "k" => f(1.0),
            "c" | "degc" => Some((1.0, 273.15)),
            _ => None,
        },
        Quantity::Strain => match u.as_str() {
            "" | "1" | "mm/mm" | "fraction" => f(1.0),
            "%" => f(0.01),
            _ => None,
        },
        Quantity::Depth => match u.as_str() {
            "" | "nm" => f(1.0),
            "um" => f(1e3),
            "mm" => f(1e6),
            _ => None,
        },
        Quantity::Load => match u.as_str() {
            "" | "un" => f(1.0),
            "mn" => f(1e3),
            "n" => f(1e6),
            _ => None,
        },
        Quantity::Modulus => match u.as_str() {
            "" | "mpa" => f(1.0),
            "kpa" => f(1e-3),
            "pa" => f(1e-6),
            "gpa" => f(1e3),
            _ => None,
        },
        Quantity::Frequency => match u.as_str() {
            "" | "hz" => f(1.0),
            "khz" => f(1e3),
            "rad/s" => f(1.0 / std::f64::consts::TAU),
            _ => None,
        },
        Quantity::HeatFlowPerMass => match u.as_str() {
            "" | "w/g" | "mw/mg" => f(1.0),
            "mw/g" => f(1e-3),
            _ => None,
        },
        Quantity::Power => match u.as_str() {
            "mw" => f(1e-3),
            "w" => f(1.0),
            "uw" => f(1e-6),
            _ => None,
        },
        Quantity::Ratio => match u.as_str() {
            "" | "1" => f(1.0),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_gives_what_str_parse_gives_bit_for_bit() {
        let mut r = rng::Rng::new(3, 4);
        let mut fast = 0;
        for k in 0..200_000 {
            let digits = 1 + (r.uniform() * 19.0) as usize;
            let mut s = String::new();
            if r.uniform() < 0.4 {
                s.push(if r.uniform() < 0.8 { '-' } else { '+' });
            }
            let point = (r.uniform() * (digits + 2) as f64) as usize;
            for d in 0..digits {
                if d == point {
                    s.push('.');
                }
                s.push(char::from(b'0' + (r.uniform() * 10.0) as u8));
            }
            if k % 3 == 0 {
                s.push(if k % 2 == 0 { 'E' } else { 'e' });
                let e = (r.uniform() * 60.0) as i32 - 30;
                s.push_str(&e.to_string());
            }
            let want = s.parse::<f64>();
            let got = fast_decimal(s.as_bytes());
            match (want, got) {
                (Ok(w), Some(g)) => {
                    fast += 1;
                    assert_eq!(w.to_bits(), g.to_bits(), "{s}: {w:e} vs {g:e}");
                }
                (Err(_), Some(g)) => panic!("{s}: str::parse refuses it, the fast path gave {g}"),
                (_, None) => {}
            }
        }
        // Most instrument-like numbers take the fast path.
        assert!(fast > 100_000, "{fast}");
        for s in [
            "", "-", ".", "+.", "1e", "1e+", "1.2.3", "1e5x", "--1", "0x10", "1,5", "nan",
        ] {
            assert_eq!(fast_decimal(s.as_bytes()), None, "{s}");
        }
        assert_eq!(
            fast_decimal(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(fast_decimal(b"5."), Some(5.0));
        assert_eq!(fast_decimal(b".5"), Some(0.5));
        assert_eq!(trim_cell(" \"-1.5\" "), "-1.5");
        assert_eq!(trim_cell(" \" "), "");
    }

    #[test]
    fn numbers() {
        assert_eq!(number(".004166667", false), Ok(Some(0.004166667)));
        assert_eq!(number("6.66667E-4", false), Ok(Some(6.66667e-4)));
        assert_eq!(number("-3.0", false), Ok(Some(-3.0)));
        assert_eq!(number(" ", false), Ok(None));
        assert_eq!(number("1.7976931348623157e308", false), Ok(None));
        assert_eq!(number("1,5", false), Err(CellError::DecimalComma));
        assert_eq!(number("1,5", true), Ok(Some(1.5)));
        assert_eq!(number("abc", false), Err(CellError::NotANumber));
        assert_eq!(number("inf", false), Err(CellError::NotANumber));
        assert_eq!(number("1e999", false), Err(CellError::Overflow));
        assert_eq!(number("-1e400", false), Err(CellError::Overflow));
    }

    #[test]
    fn names_and_units() {
        assert_eq!(norm("Load (µN)"), norm("load  (uN)"));
        assert_eq!(norm("Load (μN)"), "load (un)");
        assert_eq!(
            split_unit("Temperature (°C)"),
            ("Temperature".into(), "°C".into())
        );
        assert_eq!(split_unit("Force_µN"), ("Force".into(), "µN".into()));
        assert_eq!(
            split_unit("Piezo Extension_nm"),
            ("Piezo Extension".into(), "nm".into())
        );
        assert_eq!(split_unit("sigma [MPa]"), ("sigma".into(), "MPa".into()));
        assert_eq!(split_unit("Modulus"), ("Modulus".into(), "".into()));
        assert_eq!(conversion(Quantity::Time, "min"), Some((60.0, 0.0)));
        assert_eq!(conversion(Quantity::Temperature, "°C"), Some((1.0, 273.15)));
        assert_eq!(conversion(Quantity::Strain, "%"), Some((0.01, 0.0)));
        assert_eq!(conversion(Quantity::Load, "μN"), Some((1.0, 0.0)));
        assert_eq!(conversion(Quantity::Load, "mN"), Some((1e3, 0.0)));
        assert_eq!(conversion(Quantity::Stress, "furlong"), None);
    }
}
