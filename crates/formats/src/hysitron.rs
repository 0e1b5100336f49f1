//! Hysitron TriboScan text exports: classic (TI 950/980, blank lines between load-function
//! segments) and TI 990 / TriboScan 12 (bare CR line ends, negative depths at the start).

use crate::table_text::Columns;
use crate::{FormatError, cell, text};

pub(crate) fn parse(text: &str) -> Result<crate::Contents, FormatError> {
    let mut header = Vec::new();
    let mut declared: Option<(usize, usize)> = None;
    let mut lines = text::lines(text);
    let mut cols: Option<Columns> = None;
    let mut header_line = 0;
    for (no, line) in lines.by_ref() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Number of Points") {
            let v = v.trim_start_matches([' ', '=']).trim();
            let n = v.parse::<usize>().map_err(|_| {
                FormatError::at(
                    no,
                    format!("`Number of Points = {v}` is not a whole number"),
                )
            })?;
            declared = Some((n, no));
            header.push(("Number of Points".to_owned(), n.to_string()));
        } else if cell::norm(t).starts_with("depth (nm)")
            || (t.contains('\t') && cell::norm(t).contains("load ("))
        {
            let names: Vec<&str> = t.split('\t').collect();
            cols = Some(Columns::new(&names, true, false));
            header_line = no;
            break;
        } else if !t.is_empty() {
            header.push(if header.is_empty() {
                ("Date".to_owned(), t.to_owned())
            } else {
                (t.to_owned(), String::new())
            });
        }
    }
    let Some(mut cols) = cols else {
        return Err(FormatError::file(
            "no column header line (`Depth (nm)<TAB>Load (µN)<TAB>Time (s)`)",
        ));
    };
    if cols.width() < 2 {
        return Err(FormatError::at(
            header_line,
            "the column header names fewer than 2 columns",
        ));
    }
    for (no, line) in lines {
        if line.trim().is_empty() {
            cols.new_segment();
            continue;
        }
        cols.push(no, crate::table_text::cells(line, b'\t'))?;
    }
    if let Some((n, at)) = declared
        && n != cols.rows()
    {
        return Err(FormatError::at(
            at,
            format!(
                "the file declares {n} points but holds {} rows",
                cols.rows()
            ),
        ));
    }
    if cols.rows() == 0 {
        return Err(FormatError::at(
            header_line,
            "no data rows after the column header",
        ));
    }
    Ok((header, vec![cols.finish("data")]))
}
