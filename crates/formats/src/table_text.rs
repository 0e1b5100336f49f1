//! Building columns from delimited rows, shared by every reader, and the CSV/TSV reader.

use crate::cell::{self, CellError};
use crate::{Block, Column, FormatError, text};

/// Accumulates rows of delimited numbers into columns.
pub(crate) struct Columns {
    cols: Vec<Column>,
    segment: Vec<u32>,
    lines: Vec<usize>,
    current: u32,
    /// Text in a cell is an error (true) or a missing value (false, TRIOS).
    strict: bool,
    decimal_comma: bool,
}

impl Columns {
    /// Columns named `names` (with their units split off).
    pub(crate) fn new(names: &[&str], strict: bool, decimal_comma: bool) -> Self {
        let cols = names
            .iter()
            .map(|n| {
                let (name, unit) = cell::split_unit(n);
                Column {
                    name,
                    unit,
                    values: Vec::new(),
                }
            })
            .collect();
        Columns {
            cols,
            segment: Vec::new(),
            lines: Vec::new(),
            current: 0,
            strict,
            decimal_comma,
        }
    }

    /// Columns with separately given units (TRIOS has a units row).
    pub(crate) fn with_units(
        names: &[&str],
        units: &[&str],
        strict: bool,
        decimal_comma: bool,
    ) -> Self {
        let cols = names
            .iter()
            .enumerate()
            .map(|(i, n)| Column {
                name: n.trim().to_owned(),
                unit: units
                    .get(i)
                    .map(|u| u.trim().to_owned())
                    .unwrap_or_default(),
                values: Vec::new(),
            })
            .collect();
        Columns {
            cols,
            segment: Vec::new(),
            lines: Vec::new(),
            current: 0,
            strict,
            decimal_comma,
        }
    }

    pub(crate) fn width(&self) -> usize {
        self.cols.len()
    }

    pub(crate) fn rows(&self) -> usize {
        self.lines.len()
    }

    /// Starts a new segment, unless the current one has no row yet.
    pub(crate) fn new_segment(&mut self) {
        if self.segment.last() == Some(&self.current) {
            self.current += 1;
        }
    }

    /// Parses one row of cells (see [`cells`]); a missing trailing cell is a missing value only when not strict.
    pub(crate) fn push<'a>(
        &mut self,
        line: usize,
        cells: impl Iterator<Item = &'a str>,
    ) -> Result<(), FormatError> {
        let width = self.cols.len();
        let mut n = 0;
        for c in cells {
            if n >= width {
                if c.trim().is_empty() {
                    continue;
                }
                return Err(FormatError::at(
                    line,
                    format!("more than the {width} values the column header names"),
                ));
            }
            let v = match cell::number(c, self.decimal_comma) {
                Ok(v) => v,
                Err(e) if self.strict => {
                    let col = &self.cols[n].name;
                    let shown: String = c.trim().chars().take(40).collect();
                    return Err(FormatError::at(
                        line,
                        match e {
                            CellError::DecimalComma => format!(
                                "column `{col}`: `{shown}` has a decimal comma; declare `decimal_comma: true` in the manifest if the file uses one"
                            ),
                            CellError::NotANumber => {
                                format!("column `{col}`: `{shown}` is not a number")
                            }
                            CellError::Overflow => format!(
                                "column `{col}`: `{shown}` is too large for a number (beyond 1.8e308)"
                            ),
                        },
                    ));
                }
                Err(_) => None,
            };
            self.cols[n].values.push(v);
            n += 1;
        }
        if n < width {
            if self.strict {
                // Roll back the partial row so columns stay aligned, then refuse it.
                for col in &mut self.cols[..n] {
                    col.values.pop();
                }
                return Err(FormatError::at(
                    line,
                    format!("{n} values where the column header names {width} (truncated row?)"),
                ));
            }
            for col in &mut self.cols[n..] {
                col.values.push(None);
            }
        }
        self.segment.push(self.current);
        self.lines.push(line);
        Ok(())
    }

    pub(crate) fn finish(self, name: &str) -> Block {
        Block {
            name: name.to_owned(),
            columns: self.cols,
            segment: self.segment,
            lines: self.lines,
        }
    }
}

/// The cells of a line split at an ASCII separator, as `str::split` gives them (an empty cell
/// after a trailing separator included) but without a searcher set up per cell: data cells are
/// a dozen bytes, and the scaled campaign splits some 160 million of them.
pub(crate) fn cells(line: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            // `sep` is ASCII: the bytes either side are character boundaries.
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Reads CSV/TSV: separator sniffed from the header line (tab, semicolon, comma; not comma when
/// the file uses a decimal comma), the first non-empty line names the columns.
pub(crate) fn parse_csv(text: &str, decimal_comma: bool) -> Result<crate::Contents, FormatError> {
    let mut lines = text::lines(text).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(FormatError::file("the file is empty"));
    };
    let count = |c: char| header.matches(c).count();
    let sep = if count('\t') > 0 {
        '\t'
    } else if count(';') > 0 {
        ';'
    } else if count(',') > 0 && !decimal_comma {
        ','
    } else {
        return Err(FormatError::at(
            1,
            "no separator (tab, semicolon or comma) in the header line",
        ));
    };
    let names: Vec<&str> = header
        .split(sep)
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    let mut lines = lines.peekable();
    let units = lines
        .peek()
        .and_then(|(_, l)| units_row(l, sep, names.len(), decimal_comma));
    let mut cols = match &units {
        Some(units) => {
            lines.next();
            // A unit in the units row wins; an empty cell keeps the header's own `(unit)`.
            let split: Vec<(String, String)> = names.iter().map(|n| cell::split_unit(n)).collect();
            let names: Vec<&str> = split.iter().map(|(n, _)| n.as_str()).collect();
            let units: Vec<&str> = split
                .iter()
                .enumerate()
                .map(|(i, (_, u))| match units.get(i) {
                    Some(v) if !v.is_empty() => v.as_str(),
                    _ => u.as_str(),
                })
                .collect();
            Columns::with_units(&names, &units, true, decimal_comma)
        }
        None => Columns::new(&names, true, decimal_comma),
    };
    for (no, line) in lines {
        cols.push(no, cells(line, sep as u8))?;
    }
    if cols.rows() == 0 {
        return Err(FormatError::file("the file has a header but no data rows"));
    }
    Ok((vec![], vec![cols.finish("data")]))
}

/// The units of a units row under a CSV header (`[s],[K],[mW/mg]`, `s;°C;mW`, `(nm)\t(uN)`), or
/// None when the line is data: no cell is a number, at least one is not empty, no more cells
/// than the header, and every cell short (at most 16 characters) and not starting with a digit. Brackets and parentheses around a unit are removed.
fn units_row(line: &str, sep: char, width: usize, decimal_comma: bool) -> Option<Vec<String>> {
    let cells: Vec<&str> = line
        .split(sep)
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    if cells.len() > width || cells.iter().all(|c| c.is_empty()) {
        return None;
    }
    let mut units = Vec::with_capacity(cells.len());
    for c in cells {
        if cell::number(c, decimal_comma).is_ok_and(|v| v.is_some()) || c.chars().count() > 16 {
            return None;
        }
        let inner = c
            .strip_prefix('[')
            .and_then(|u| u.strip_suffix(']'))
            .or_else(|| c.strip_prefix('(').and_then(|u| u.strip_suffix(')')))
            .unwrap_or(c)
            .trim();
        if inner.starts_with(|ch: char| ch.is_ascii_digit()) {
            return None;
        }
        units.push(inner.to_owned());
    }
    Some(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_split_as_str_split_does() {
        for line in [
            "",
            "\t",
            "a",
            "a\tb",
            "a\t\tb\t",
            "\tµN\t°C",
            "1.5\t-2e-3\t x ",
        ] {
            for sep in [b'\t', b';', b','] {
                let want: Vec<&str> = line.split(sep as char).collect();
                assert_eq!(cells(line, sep).collect::<Vec<_>>(), want, "{line:?}");
            }
        }
    }

    #[test]
    fn a_units_row_under_the_header_gives_the_units() {
        let (_, b) = parse_csv(
            "Time,Temp,Heat Flow\n[s],[k],[mW/mg]\n0,273.15,0\n6,311.8,-0.03\n",
            false,
        )
        .unwrap();
        let cols: Vec<(&str, &str)> = b[0]
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.unit.as_str()))
            .collect();
        assert_eq!(
            cols,
            vec![("Time", "s"), ("Temp", "k"), ("Heat Flow", "mW/mg")]
        );
        assert_eq!(b[0].rows(), 2);
        // An empty units cell keeps the header's own unit; data rows are never units.
        let (_, b) = parse_csv("t [min]\tsigma\n\tkPa\n1\t2\n", false).unwrap();
        assert_eq!(b[0].columns[0].unit, "min");
        assert_eq!(b[0].columns[1].unit, "kPa");
        let (_, b) = parse_csv("a;b\n1;2\n3;4\n", false).unwrap();
        assert_eq!(b[0].rows(), 2);
        assert!(parse_csv("a,b\nx,y\n1,2\n", false).is_ok());
        assert!(parse_csv("a,b\n1,x\n", false).is_err());
    }
}
