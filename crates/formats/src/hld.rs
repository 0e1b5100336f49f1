//! Hysitron `.hld` (ASCII, HighLoad / FBControls): `Key: value unit` header lines, then blocks
//! each introduced by `<Name> Data Points: N` and a column-name line. The `Test` block is the
//! indentation curve; its rows get the segment whose `Segment Begin Time` they follow.

use crate::table_text::Columns;
use crate::{Block, FormatError, text};

pub(crate) fn parse(text: &str) -> Result<crate::Contents, FormatError> {
    let mut header: Vec<(String, String)> = Vec::new();
    let mut blocks = Vec::new();
    // (name, declared points, line of the count, columns)
    let mut current: Option<(String, usize, usize, Columns)> = None;
    let mut expect_names: Option<(String, usize, usize)> = None;
    for (no, line) in text::lines(text) {
        let t = line.trim();
        if let Some((name, n, at)) = expect_names.take() {
            let names: Vec<&str> = t.split('\t').collect();
            current = Some((name, n, at, Columns::new(&names, true, false)));
            continue;
        }
        if let Some((name, count)) = t.split_once(" Data Points:") {
            let n = count.trim().parse::<usize>().map_err(|_| {
                FormatError::at(no, format!("`{t}`: the count is not a whole number"))
            })?;
            if let Some(b) = current.take() {
                blocks.push(close(b)?);
            }
            expect_names = Some((name.trim().to_owned(), n, no));
            continue;
        }
        match &mut current {
            Some((_, _, _, cols)) => {
                if !t.is_empty() {
                    cols.push(no, crate::table_text::cells(line, b'\t'))?;
                }
            }
            None => {
                if let Some((k, v)) = t.split_once(": ") {
                    header.push((k.trim().to_owned(), v.trim().to_owned()));
                } else if let Some(k) = t.strip_suffix(':') {
                    header.push((k.trim().to_owned(), String::new()));
                }
            }
        }
    }
    if let Some((name, _, at)) = expect_names {
        return Err(FormatError::at(
            at,
            format!("block `{name}` has no column-name line (truncated file?)"),
        ));
    }
    if let Some(b) = current.take() {
        blocks.push(close(b)?);
    }
    if blocks.is_empty() {
        return Err(FormatError::file("no `... Data Points: N` block"));
    }
    // Segments of the test block from the header's segment begin times.
    let begins: Vec<f64> = header
        .iter()
        .filter(|(k, _)| k == "Segment Begin Time")
        .filter_map(|(_, v)| v.split_whitespace().next().and_then(|x| x.parse().ok()))
        .collect();
    if let Some(test) = blocks.iter_mut().find(|b| b.name == "Test")
        && let (false, Some(time)) = (begins.is_empty(), test.find(&["Time"]))
    {
        let seg: Vec<u32> = time
            .values
            .iter()
            .map(|t| {
                t.map(|t| {
                    begins
                        .iter()
                        .filter(|&&b| b <= t + 1e-9)
                        .count()
                        .saturating_sub(1) as u32
                })
                .unwrap_or(0)
            })
            .collect();
        test.segment = seg;
    }
    Ok((header, blocks))
}

fn close((name, n, at, cols): (String, usize, usize, Columns)) -> Result<Block, FormatError> {
    if cols.rows() != n {
        return Err(FormatError::at(
            at,
            format!(
                "block `{name}` declares {n} data points but holds {} rows",
                cols.rows()
            ),
        ));
    }
    Ok(cols.finish(&name))
}
