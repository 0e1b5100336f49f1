//! TA Instruments Universal Analysis "Export data to text" (DMA Q800, TGA/DSC Q-series).

use crate::table_text::Columns;
use crate::{FormatError, text};

/// Header lines `Key<TAB>Value[<TAB>Unit]`, `Nsig`, `SigN`, then `StartOfData` and rows of Nsig
/// numbers; a row with a negative time is a segment marker, not data.
pub(crate) fn parse(text: &str) -> Result<crate::Contents, FormatError> {
    let mut header = Vec::new();
    let mut nsig: Option<(usize, usize)> = None;
    let mut sigs: Vec<(usize, String)> = Vec::new();
    let mut lines = text::lines(text);
    let mut start = None;
    for (no, line) in lines.by_ref() {
        if line.trim() == "StartOfData" {
            start = Some(no);
            break;
        }
        let (key, value) = line.split_once('\t').unwrap_or((line, ""));
        let key = key.trim();
        if key == "Nsig" {
            let n = value.trim().parse::<usize>().map_err(|_| {
                FormatError::at(no, format!("Nsig `{}` is not a whole number", value.trim()))
            })?;
            if n == 0 || n > 1000 {
                return Err(FormatError::at(no, format!("Nsig {n} is out of range")));
            }
            nsig = Some((n, no));
        } else if let Some(i) = key
            .strip_prefix("Sig")
            .and_then(|i| i.parse::<usize>().ok())
        {
            sigs.push((i, value.split('\t').next().unwrap_or("").trim().to_owned()));
        }
        header.push((key.to_owned(), value.trim_end().to_owned()));
    }
    let Some(start) = start else {
        return Err(FormatError::file(
            "no `StartOfData` line: the header never ends (truncated export?)",
        ));
    };
    let Some((n, nsig_line)) = nsig else {
        return Err(FormatError::at(
            start,
            "no `Nsig` line before `StartOfData`",
        ));
    };
    if sigs.len() != n || sigs.iter().enumerate().any(|(k, (i, _))| *i != k + 1) {
        return Err(FormatError::at(
            nsig_line,
            format!(
                "Nsig says {n} signals but Sig1..Sig{} lines name {}",
                n,
                sigs.len()
            ),
        ));
    }
    let names: Vec<&str> = sigs.iter().map(|(_, s)| s.as_str()).collect();
    let mut cols = Columns::new(&names, true, false);
    for (no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let first = line.split('\t').next().unwrap_or("");
        if crate::cell::number(first, false)
            .ok()
            .flatten()
            .is_some_and(|t| t < 0.0)
        {
            cols.new_segment();
            continue;
        }
        cols.push(no, crate::table_text::cells(line, b'\t'))?;
    }
    if cols.rows() == 0 {
        return Err(FormatError::at(start, "no data rows after `StartOfData`"));
    }
    Ok((header, vec![cols.finish("data")]))
}
