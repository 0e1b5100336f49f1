//! TA Instruments TRIOS text exports: the text export (`[step]`, step name, a names row, a units
//! row, data rows) and the LIMS export (`[Step]` with `Variables`, `Units`, `Data point` rows).
//! Data cells may be text or empty: they become missing values, never errors.

use crate::table_text::Columns;
use crate::{Block, FormatError, text};

pub(crate) fn parse(text: &str, decimal_comma: bool) -> Result<crate::Contents, FormatError> {
    let mut header: Vec<(String, String)> = Vec::new();
    let mut blocks = Vec::new();
    let all: Vec<(usize, &str)> = text::lines(text).collect();
    let lims = all
        .iter()
        .any(|(_, l)| l.starts_with("TA Instruments LIMS export format version"));
    let mut i = 0;
    let mut section = String::new();
    while i < all.len() {
        let (no, line) = all[i];
        let t = line.trim();
        if t.eq_ignore_ascii_case("[step]") {
            let (block, next) = if lims {
                lims_step(&all, i + 1, no, decimal_comma)?
            } else {
                text_step(&all, i + 1, no, decimal_comma)?
            };
            blocks.push(block);
            i = next;
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            section = t.to_owned();
            header.push((t.to_owned(), String::new()));
        } else if !t.is_empty() {
            let (k, v) = line.split_once('\t').unwrap_or((line, ""));
            let key = if section.is_empty() {
                k.trim().to_owned()
            } else {
                format!("{section}{}", k.trim())
            };
            header.push((key, v.trim().to_owned()));
        }
        i += 1;
    }
    if blocks.is_empty() {
        return Err(FormatError::file("no `[step]` block with data"));
    }
    Ok((header, blocks))
}

fn is_section(l: &str) -> bool {
    let t = l.trim();
    t.starts_with('[') && t.ends_with(']')
}

/// `[step]`, step name, names row, units row, data rows until the next section.
fn text_step(
    all: &[(usize, &str)],
    mut i: usize,
    at: usize,
    decimal_comma: bool,
) -> Result<(Block, usize), FormatError> {
    let next_line = |i: &mut usize| -> Option<(usize, &str)> {
        while *i < all.len() && all[*i].1.trim().is_empty() {
            *i += 1;
        }
        let r = all.get(*i).copied();
        *i += 1;
        r
    };
    let (_, name) =
        next_line(&mut i).ok_or_else(|| FormatError::at(at, "`[step]` without a step name"))?;
    let (names_no, names) = next_line(&mut i)
        .ok_or_else(|| FormatError::at(at, "`[step]` without a row of column names"))?;
    let (_, units) = next_line(&mut i)
        .ok_or_else(|| FormatError::at(names_no, "no row of units after the column names"))?;
    let names: Vec<&str> = names.split('\t').collect();
    let units: Vec<&str> = units.split('\t').collect();
    let mut cols = Columns::with_units(&names, &units, false, decimal_comma);
    while i < all.len() && !is_section(all[i].1) {
        let (no, line) = all[i];
        if !line.trim().is_empty() {
            cols.push(no, crate::table_text::cells(line, b'\t'))?;
        }
        i += 1;
    }
    Ok((cols.finish(name.trim()), i))
}

/// LIMS: `Step name`, `Number of points`, `Variables`, `Units`, `Data point` rows.
fn lims_step(
    all: &[(usize, &str)],
    mut i: usize,
    at: usize,
    decimal_comma: bool,
) -> Result<(Block, usize), FormatError> {
    let mut name = String::new();
    let mut declared: Option<(usize, usize)> = None;
    let mut names: Vec<&str> = Vec::new();
    let mut units: Vec<&str> = Vec::new();
    let mut cols: Option<Columns> = None;
    while i < all.len() && !is_section(all[i].1) {
        let (no, line) = all[i];
        let (key, rest) = line.split_once('\t').unwrap_or((line, ""));
        match key.trim() {
            "Step name" => name = rest.trim().to_owned(),
            "Number of points" => {
                let n = rest.trim().parse().map_err(|_| {
                    FormatError::at(
                        no,
                        format!("`Number of points` `{}` is not a whole number", rest.trim()),
                    )
                })?;
                declared = Some((n, no));
            }
            "Variables" => names = rest.split('\t').collect(),
            "Units" => units = rest.split('\t').collect(),
            "Data point" => {
                if cols.is_none() {
                    if names.is_empty() {
                        return Err(FormatError::at(
                            no,
                            "`Data point` row before the `Variables` row",
                        ));
                    }
                    cols = Some(Columns::with_units(&names, &units, false, decimal_comma));
                }
                if let Some(c) = cols.as_mut() {
                    c.push(no, crate::table_text::cells(rest, b'\t'))?;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let cols = cols.unwrap_or_else(|| Columns::with_units(&names, &units, false, decimal_comma));
    if let Some((n, no)) = declared {
        if n != cols.rows() {
            return Err(FormatError::at(
                no,
                format!(
                    "step `{name}` declares {n} points but holds {} rows",
                    cols.rows()
                ),
            ));
        }
    } else if cols.rows() == 0 {
        return Err(FormatError::at(at, "a `[Step]` with no data points"));
    }
    Ok((cols.finish(&name), i))
}
