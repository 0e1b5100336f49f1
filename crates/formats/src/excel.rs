//! Excel exports (.xls, .xlsx, .ods through calamine): the Keysight/Agilent G200 NanoSuite
//! workbook (one `Test NNN` sheet per indent) and TRIOS "Export to Excel" (a `Details` sheet and
//! one sheet per procedure step).
//!
//! Rows are reported 1-based as Excel shows them, with the sheet's name in the message. calamine
//! is wrapped so a damaged workbook is an error, never a panic.

use std::io::Cursor;

use calamine::{Data, Range, Reader, Sheets};

use crate::{Block, Column, Contents, FormatError};

use crate::cell::MISSING_ABOVE;

/// The OLE2 (BIFF .xls) and ZIP (.xlsx, .ods) signatures.
pub(crate) fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
        || bytes.starts_with(b"PK\x03\x04")
}

/// Runs a calamine call, turning its errors and panics into a file error.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, FormatError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(FormatError::file(format!("{what}: {e}"))),
        Err(_) => Err(FormatError::file(format!(
            "{what}: the workbook is damaged (the Excel reader gave up)"
        ))),
    }
}

type Book<'a> = Sheets<Cursor<&'a [u8]>>;

fn open(bytes: &[u8]) -> Result<Book<'_>, FormatError> {
    guarded("not a readable Excel workbook", || {
        calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| e.to_string())
    })
}

fn sheet(book: &mut Book<'_>, name: &str) -> Result<Range<Data>, FormatError> {
    guarded(&format!("sheet `{name}`"), || {
        book.worksheet_range(name).map_err(|e| e.to_string())
    })
}

/// The sheet names of a workbook, in file order.
pub(crate) fn sheet_names(bytes: &[u8]) -> Result<Vec<String>, FormatError> {
    let book = open(bytes)?;
    Ok(book.sheet_names())
}

/// Which layout a workbook has, from its sheet names.
pub(crate) fn layout(names: &[String]) -> Option<crate::Format> {
    if names.iter().any(|n| is_test_sheet(n)) {
        Some(crate::Format::KeysightXls)
    } else if names.iter().any(|n| n == "Details") {
        Some(crate::Format::TriosExcel)
    } else {
        None
    }
}

fn is_test_sheet(name: &str) -> bool {
    name.strip_prefix("Test ")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// A cell as a number: numbers, and numeric text; `None` for empty, text and missing values.
fn number(c: Option<&Data>) -> Option<f64> {
    let v = match c? {
        Data::Float(x) => *x,
        Data::Int(i) => *i as f64,
        Data::DateTime(d) => d.as_f64(),
        Data::String(s) => crate::cell::number(s, false).ok().flatten()?,
        _ => return None,
    };
    // NanoSuite writes DBL_MAX (1.797e308) for an invalid cell.
    (v.is_finite() && v.abs() < MISSING_ABOVE).then_some(v)
}

/// A cell as text (numbers in their shortest form).
fn text(c: Option<&Data>) -> String {
    match c {
        None | Some(Data::Empty) => String::new(),
        Some(Data::String(s)) => s.trim().to_owned(),
        Some(Data::Float(x)) => format!("{x}"),
        Some(Data::Int(i)) => format!("{i}"),
        Some(Data::Bool(b)) => format!("{b}"),
        Some(Data::DateTime(d)) => format!("{}", d.as_f64()),
        Some(Data::DateTimeIso(s)) | Some(Data::DurationIso(s)) => s.clone(),
        Some(Data::Error(e)) => format!("{e}"),
    }
}

fn is_text(c: Option<&Data>) -> bool {
    matches!(c, Some(Data::String(s)) if !s.trim().is_empty())
}

/// The cell at an absolute (row, column).
fn at(r: &Range<Data>, row: u32, col: u32) -> Option<&Data> {
    r.get_value((row, col))
}

fn last_col(r: &Range<Data>) -> u32 {
    r.end().map_or(0, |e| e.1)
}

fn last_row(r: &Range<Data>) -> u32 {
    r.end().map_or(0, |e| e.0)
}

fn err(sheet: &str, row: u32, message: impl std::fmt::Display) -> FormatError {
    FormatError::at(row as usize + 1, format!("sheet `{sheet}`: {message}"))
}

/// Reads the numeric columns `first_col..` of a sheet whose names are on `names_row`, units on
/// `names_row + 1` and data below. `segment_col`: a column of text markers, each starting a
/// new segment. Rows with no number at all are dropped.
fn table(
    sheet_name: &str,
    r: &Range<Data>,
    names_row: u32,
    first_col: u32,
    segment_col: Option<u32>,
) -> Result<Block, FormatError> {
    let units_row = names_row + 1;
    let cols: Vec<u32> = (first_col..=last_col(r))
        .filter(|&c| is_text(at(r, names_row, c)))
        .collect();
    if cols.is_empty() {
        return Err(err(sheet_name, names_row, "no row of channel names"));
    }
    // The units row holds text or nothing, never a number.
    if let Some(&c) = cols
        .iter()
        .find(|&&c| number(at(r, units_row, c)).is_some())
    {
        return Err(err(
            sheet_name,
            units_row,
            format!(
                "expected the units row below the channel names, found the number {} under `{}`",
                text(at(r, units_row, c)),
                text(at(r, names_row, c))
            ),
        ));
    }
    let mut block = Block {
        name: sheet_name.to_owned(),
        columns: cols
            .iter()
            .map(|&c| Column {
                name: text(at(r, names_row, c)),
                unit: text(at(r, units_row, c)),
                values: Vec::new(),
            })
            .collect(),
        ..Default::default()
    };
    let mut segment: Option<u32> = None;
    for row in units_row + 1..=last_row(r) {
        if let Some(sc) = segment_col
            && is_text(at(r, row, sc))
        {
            segment = Some(segment.map_or(0, |s| s + 1));
        }
        let values: Vec<Option<f64>> = cols.iter().map(|&c| number(at(r, row, c))).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        for (col, v) in block.columns.iter_mut().zip(values) {
            col.values.push(v);
        }
        block.segment.push(segment.unwrap_or(0));
        block.lines.push(row as usize + 1);
    }
    Ok(block)
}

/// The per-test values of a summary sheet (`Results`, `Required Inputs`): a names row, a units
/// row, then one row per test, kept as header entries `Test 1: Avg Modulus [100-200 nm] (GPa)`.
fn summary_entries(sheet_name: &str, r: &Range<Data>, out: &mut Vec<(String, String)>) {
    let Some((r0, c0)) = r.start() else { return };
    for row in r0 + 2..=last_row(r) {
        let test = text(at(r, row, c0));
        if test.is_empty() || !test.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            continue;
        }
        let test = test.trim_end_matches(".0");
        for c in c0 + 1..=last_col(r) {
            let (name, unit, value) = (
                text(at(r, r0, c)),
                text(at(r, r0 + 1, c)),
                text(at(r, row, c)),
            );
            if name.is_empty() || value.is_empty() {
                continue;
            }
            let key = if unit.is_empty() {
                format!("{sheet_name}: Test {test}: {name}")
            } else {
                format!("{sheet_name}: Test {test}: {name} ({unit})")
            };
            out.push((key, value));
        }
    }
}

/// Keysight/Agilent G200 NanoSuite: one block per `Test NNN` sheet (named after it, in test
/// order), column A's markers as segments; the `Results` and `Required Inputs` rows as header.
pub(crate) fn parse_keysight(bytes: &[u8]) -> Result<Contents, FormatError> {
    let mut book = open(bytes)?;
    let names = book.sheet_names();
    let mut tests: Vec<&String> = names.iter().filter(|n| is_test_sheet(n)).collect();
    if tests.is_empty() {
        return Err(FormatError::file(format!(
            "no `Test NNN` sheet: not a NanoSuite export (sheets: {})",
            names.join(", ")
        )));
    }
    tests.sort_by_key(|n| n[5..].parse::<u64>().unwrap_or(u64::MAX));
    let mut header = Vec::new();
    for s in ["Results", "Required Inputs", "Inputs Editable Post Test"] {
        if names.iter().any(|n| n == s) {
            summary_entries(s, &sheet(&mut book, s)?, &mut header);
        }
    }
    let mut blocks = Vec::new();
    for name in tests {
        let r = sheet(&mut book, name)?;
        let Some((r0, c0)) = r.start() else {
            return Err(FormatError::file(format!("sheet `{name}` is empty")));
        };
        let has_segment = cell_is(at(&r, r0, c0), "segment");
        let first = if has_segment { c0 + 1 } else { c0 };
        let block = table(name, &r, r0, first, has_segment.then_some(c0))?;
        if block.rows() == 0 {
            return Err(err(name, r0 + 2, "no data rows below the units row"));
        }
        blocks.push(block);
    }
    Ok((header, blocks))
}

fn cell_is(c: Option<&Data>, word: &str) -> bool {
    text(c).eq_ignore_ascii_case(word)
}

/// TRIOS "Export to Excel": the `Details` sheet's key/value rows as header, then per procedure
/// step a sheet with the step's name in A1, channel names, units and data.
pub(crate) fn parse_trios(bytes: &[u8]) -> Result<Contents, FormatError> {
    let mut book = open(bytes)?;
    let names = book.sheet_names();
    if !names.iter().any(|n| n == "Details") {
        return Err(FormatError::file(format!(
            "no `Details` sheet: not a TRIOS Excel export (sheets: {})",
            names.join(", ")
        )));
    }
    let mut header = Vec::new();
    let details = sheet(&mut book, "Details")?;
    if let Some((r0, c0)) = details.start() {
        for row in r0..=last_row(&details) {
            let k = text(at(&details, row, c0));
            if !k.is_empty() {
                header.push((k, text(at(&details, row, c0 + 1))));
            }
        }
    }
    let mut blocks = Vec::new();
    for name in names.iter().filter(|n| *n != "Details") {
        let r = sheet(&mut book, name)?;
        let Some((r0, c0)) = r.start() else { continue };
        // A1 holds the step name (with the `/` a sheet name cannot have); a sheet whose first
        // row is already the channel names has none.
        let (step, names_row) = if is_text(at(&r, r0, c0))
            && (c0 + 1..=last_col(&r)).all(|c| text(at(&r, r0, c)).is_empty())
        {
            (text(at(&r, r0, c0)), r0 + 1)
        } else {
            (name.clone(), r0)
        };
        let mut block = table(name, &r, names_row, c0, None)?;
        block.name = step;
        blocks.push(block);
    }
    if blocks.iter().all(|b| b.rows() == 0) {
        return Err(FormatError::file(format!(
            "no step sheet with data (sheets: {})",
            names.join(", ")
        )));
    }
    Ok((header, blocks))
}
