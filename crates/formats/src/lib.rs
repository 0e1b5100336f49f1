//! Instrument exports agingflow reads (docs/formats.md): TA Universal Analysis text, TRIOS text and its
//! LIMS variant, TRIOS Excel and JSON, Hysitron TriboScan text (classic and TI 990), Hysitron
//! `.hld`, Keysight/Agilent G200 NanoSuite Excel, and CSV/TSV.
//!
//! Sans-IO: every reader takes the file's bytes and returns a [`Parsed`] file or a
//! [`FormatError`] with the line it concerns; the caller adds the file name. Readers never panic on
//! any input (a property test feeds them millions of generated files). [`write`] holds the writers
//! the simulator uses, so every format is tested by a round trip too.

pub mod cell;
mod excel;
mod hld;
mod hysitron;
mod table_text;
pub mod text;
mod trios;
mod trios_json;
mod universal;
pub mod write;

pub use text::Encoding;

/// The formats agingflow knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TaUniversal,
    TriosText,
    TriosLims,
    HysitronTxt,
    HysitronHld,
    /// Keysight/Agilent G200 NanoSuite Excel workbook: one `Test NNN` sheet per indent.
    KeysightXls,
    /// TRIOS "Export to Excel": a `Details` sheet and one sheet per procedure step.
    TriosExcel,
    /// TRIOS JSON export (`TRIOSJSONExportSchema`).
    TriosJson,
    Csv,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::TaUniversal => "TA Universal Analysis text",
            Format::TriosText => "TRIOS text",
            Format::TriosLims => "TRIOS LIMS text",
            Format::HysitronTxt => "Hysitron TriboScan text",
            Format::HysitronHld => "Hysitron .hld",
            Format::KeysightXls => "Keysight G200 NanoSuite Excel",
            Format::TriosExcel => "TRIOS Excel",
            Format::TriosJson => "TRIOS JSON",
            Format::Csv => "CSV",
        }
    }
}

/// One numeric column: its name and unit as written, and a value per row (`None`: empty, text or
/// a missing-value marker).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub unit: String,
    pub values: Vec<Option<f64>>,
}

/// A block of rows: the whole table of most formats, a step of TRIOS, a block of `.hld`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub name: String,
    pub columns: Vec<Column>,
    /// The load-function or marker segment of each row (0-based).
    pub segment: Vec<u32>,
    /// The line each row came from (1-based), for messages downstream.
    pub lines: Vec<usize>,
}

impl Block {
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The column whose name (without unit) matches one of `names`, compared with
    /// [`cell::norm`]; the first name that matches wins.
    pub fn find(&self, names: &[&str]) -> Option<&Column> {
        names.iter().find_map(|n| {
            let want = cell::norm(n);
            self.columns.iter().find(|c| cell::norm(&c.name) == want)
        })
    }
}

/// A parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub format: Format,
    pub encoding: Encoding,
    /// Header key/values in file order (repeated keys kept).
    pub header: Vec<(String, String)>,
    pub blocks: Vec<Block>,
}

/// Why a file could not be read; `line` is 1-based where there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct FormatError {
    pub line: Option<usize>,
    pub message: String,
}

impl FormatError {
    pub fn at(line: usize, message: impl Into<String>) -> Self {
        FormatError {
            line: Some(line),
            message: message.into(),
        }
    }
    pub fn file(message: impl Into<String>) -> Self {
        FormatError {
            line: None,
            message: message.into(),
        }
    }
}

/// What a reader returns: header key/values and blocks.
pub(crate) type Contents = (Vec<(String, String)>, Vec<Block>);

/// Options a manifest may set for reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Accept `1,5` as 1.5 (CSV only: a decimal comma excludes the comma separator).
    pub decimal_comma: bool,
}

/// What a file that is no known format looks like, without echoing its content (it may be any
/// file on the machine).
fn describe(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(4096)];
    let binary = head
        .iter()
        .filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b))
        .count()
        * 20
        > head.len();
    if binary {
        format!("binary data ({} bytes), not a text export", bytes.len())
    } else {
        format!(
            "text of {} bytes in no layout agingflow knows (TA Universal Analysis, TRIOS text, LIMS or JSON, Hysitron text or .hld, or CSV with `format: csv` and `columns:`)",
            bytes.len()
        )
    }
}

/// Decodes bytes, naming the problem as a file-level error.
pub fn decode(bytes: &[u8]) -> Result<(std::borrow::Cow<'_, str>, Encoding), FormatError> {
    text::decode(bytes)
        .map_err(|_| FormatError::file("invalid UTF-16 text (odd length or unpaired surrogate)"))
}

/// Finds the format of a file from its bytes; CSV is never guessed (the manifest declares it).
pub fn sniff(bytes: &[u8]) -> Result<Format, FormatError> {
    refuse_unsupported(bytes)?;
    if excel::is_workbook(bytes) {
        return sniff_workbook(bytes);
    }
    let head = &bytes[..bytes.len().min(1 << 14)];
    let text = decode(&head[..head.len() & !1])
        .or_else(|_| decode(head))
        .map(|(t, _)| t)
        .unwrap_or_default();
    sniff_text(bytes, &text)
}

/// Sniffs from decoded text (its first 400 non-empty lines).
fn sniff_text(bytes: &[u8], text: &str) -> Result<Format, FormatError> {
    if text.trim().is_empty() {
        return Err(FormatError::file("the file is empty"));
    }
    let mut lines = text::lines(text)
        .map(|(_, l)| l.trim())
        .filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let head: Vec<&str> = std::iter::once(first).chain(lines.take(400)).collect();
    let has = |p: &dyn Fn(&str) -> bool| head.iter().any(|l| p(l));
    if trios_json::looks_like(text) {
        return Ok(Format::TriosJson);
    }
    if first == "CLOSED" || has(&|l| l == "StartOfData" || l.starts_with("Nsig\t")) {
        return Ok(Format::TaUniversal);
    }
    if first == "[Version]" || has(&|l| l.starts_with("TA Instruments LIMS export format version"))
    {
        return Ok(Format::TriosLims);
    }
    if has(&|l| l.eq_ignore_ascii_case("[step]")) || first.starts_with("Filename\t") {
        return Ok(Format::TriosText);
    }
    if first.starts_with("File Version: Hysitron") || has(&|l| l.contains(" Data Points: ")) {
        return Ok(Format::HysitronHld);
    }
    if has(&|l| l.starts_with("Number of Points ="))
        || has(&|l| cell::norm(l).starts_with("depth (nm)"))
    {
        return Ok(Format::HysitronTxt);
    }
    Err(FormatError::file(format!(
        "unknown format: {}",
        describe(bytes)
    )))
}

/// Whether bytes start like an Excel workbook (OLE2 .xls, or ZIP .xlsx/.ods).
pub fn is_workbook(bytes: &[u8]) -> bool {
    excel::is_workbook(bytes)
}

/// An Excel workbook's layout, from its sheet names.
fn sniff_workbook(bytes: &[u8]) -> Result<Format, FormatError> {
    let names = excel::sheet_names(bytes)?;
    excel::layout(&names).ok_or_else(|| {
        FormatError::file(format!(
            "unknown format: an Excel workbook with neither NanoSuite `Test NNN` sheets nor a TRIOS `Details` sheet (sheets: {})",
            names.join(", ")
        ))
    })
}

/// Known formats agingflow refuses by name.
fn refuse_unsupported(bytes: &[u8]) -> Result<(), FormatError> {
    if bytes.starts_with(&[0x37, 0x56, 0x49, 0x33])
        || contains(&bytes[..bytes.len().min(256)], b"Hysitron Raw Data File")
    {
        return Err(FormatError::file(
            "Hysitron .hys binary raw data is not supported: export the curve from TriboScan as text and list that file",
        ));
    }
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every instrument export ends its last line with a line end; text after the last one is
/// either a complete last row whose line end the writer left out (many CSV writers do), or a
/// line cut off by an interrupted copy, export or transfer, whose last number may be cut too
/// (`35.61` read as `3`). The last line is accepted when it is complete ([`complete_last_line`]);
/// a cut one is refused rather than read wrong.
fn refuse_cut_off(text: &str) -> Result<(), FormatError> {
    let tail_start = text.rfind(['\n', '\r']).map(|i| i + 1).unwrap_or(0);
    if text[tail_start..].trim().is_empty() || complete_last_line(text, tail_start) {
        return Ok(());
    }
    let line = text::lines(text).count();
    Err(FormatError::at(
        line,
        "the last line has no line end and is not a complete row like the ones above it: the file was cut off (an interrupted copy or export?); its last row is not trusted, so the file is refused",
    ))
}

/// The fields of a data row: split at tabs, commas, semicolons and spaces.
fn fields(line: &str) -> Vec<&str> {
    line.split(['\t', ',', ';', ' '])
        .filter(|f| !f.is_empty())
        .collect()
}

/// How a number is written: its digits after the decimal point and its significant digits.
fn shape(field: &str) -> Option<(usize, usize)> {
    cell::number(field, false).ok()??;
    let mantissa = field
        .split(['e', 'E'])
        .next()
        .unwrap_or(field)
        .trim_start_matches(['-', '+']);
    let decimals = mantissa.split_once('.').map_or(0, |(_, d)| d.len());
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    Some((decimals, digits))
}

/// Whether the last line (from `tail_start`, no line end) is a complete data row: every field a
/// number, as many fields as each of the (up to 50) data rows above it, and every number written
/// with at least as many decimals and digits as the same column's shortest above it (a number
/// cut short loses digits). Rows above it that are not all numbers end the comparison; with no
/// such row the last line is not trusted.
fn complete_last_line(text: &str, tail_start: usize) -> bool {
    let last = fields(text[tail_start..].trim());
    let Some(last_shapes) = last.iter().map(|f| shape(f)).collect::<Option<Vec<_>>>() else {
        return false;
    };
    let mut least: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX); last.len()];
    let mut rows = 0;
    for line in text[..tail_start].rsplit(['\n', '\r']).map(str::trim) {
        if line.is_empty() {
            continue;
        }
        let f = fields(line);
        let Some(shapes) = f.iter().map(|f| shape(f)).collect::<Option<Vec<_>>>() else {
            break;
        };
        if shapes.len() != last.len() {
            return false;
        }
        for (l, s) in least.iter_mut().zip(shapes) {
            *l = (l.0.min(s.0), l.1.min(s.1));
        }
        rows += 1;
        if rows == 50 {
            break;
        }
    }
    rows > 0
        && last_shapes
            .iter()
            .zip(&least)
            .all(|(s, l)| s.0 >= l.0 && s.1 >= l.1)
}

/// Reads a file in the given format.
pub fn parse(bytes: &[u8], format: Format, opts: ReadOptions) -> Result<Parsed, FormatError> {
    refuse_unsupported(bytes)?;
    if let Some(p) = parse_workbook(bytes, format)? {
        return Ok(p);
    }
    let (text, encoding) = decode(bytes)?;
    parse_text(&text, encoding, format, opts)
}

fn parse_text(
    text: &str,
    encoding: Encoding,
    format: Format,
    opts: ReadOptions,
) -> Result<Parsed, FormatError> {
    if text.trim().is_empty() {
        return Err(FormatError::file("the file is empty"));
    }
    // JSON needs no line-end check: a cut-off export is not valid JSON.
    if format != Format::TriosJson {
        refuse_cut_off(text)?;
    }
    let (header, blocks) = match format {
        Format::TaUniversal => universal::parse(text)?,
        Format::TriosText | Format::TriosLims => trios::parse(text, opts.decimal_comma)?,
        Format::HysitronTxt => hysitron::parse(text)?,
        Format::HysitronHld => hld::parse(text)?,
        Format::TriosJson => trios_json::parse(text)?,
        Format::Csv => table_text::parse_csv(text, opts.decimal_comma)?,
        Format::KeysightXls | Format::TriosExcel => {
            return Err(FormatError::file(format!(
                "not an Excel workbook, which `{}` needs (the file is text)",
                format.name()
            )));
        }
    };
    let format =
        if format == Format::TriosText && header.first().is_some_and(|(k, _)| k == "[Version]") {
            Format::TriosLims
        } else {
            format
        };
    Ok(Parsed {
        format,
        encoding,
        header,
        blocks,
    })
}

/// Reads an Excel workbook in an Excel format; `None` for the text formats. A workbook given a
/// text format is refused by name rather than decoded as text.
fn parse_workbook(bytes: &[u8], format: Format) -> Result<Option<Parsed>, FormatError> {
    let (header, blocks) = match format {
        Format::KeysightXls => excel::parse_keysight(bytes)?,
        Format::TriosExcel => excel::parse_trios(bytes)?,
        _ if excel::is_workbook(bytes) => {
            return Err(FormatError::file(format!(
                "an Excel workbook, not {}: declare `format: keysight-xls` or `trios-excel`, or `auto`",
                format.name()
            )));
        }
        _ => return Ok(None),
    };
    Ok(Some(Parsed {
        format,
        encoding: Encoding::Binary,
        header,
        blocks,
    }))
}

/// Sniffs and reads, decoding the bytes once.
pub fn parse_auto(bytes: &[u8], opts: ReadOptions) -> Result<Parsed, FormatError> {
    refuse_unsupported(bytes)?;
    if excel::is_workbook(bytes) {
        let format = sniff_workbook(bytes)?;
        return parse(bytes, format, opts);
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FormatError::file("the file is empty"));
    }
    let (text, encoding) = decode(bytes)?;
    let format = sniff_text(bytes, &text)?;
    parse_text(&text, encoding, format, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_last_row_needs_no_line_end_and_a_cut_one_is_refused() {
        let rows = "Time,Temp,Heat Flow\n[s],[k],[mW/mg]\n8760,195.7,-0.0805571\n8766,195.201,-0.0783248\n";
        // As published: the last row complete, no line end.
        assert!(refuse_cut_off(&format!("{rows}8772,194.703,-0.0762253")).is_ok());
        // Cut inside the last number, or a field short.
        for cut in [
            "8772,194.703,-0.07",
            "8772,194.703,-0",
            "8772,194.703",
            "8772,19",
        ] {
            let e = refuse_cut_off(&format!("{rows}{cut}")).unwrap_err();
            assert!(e.message.contains("cut off"), "{cut}: {e}");
            assert_eq!(e.line, Some(5), "{cut}");
        }
        // Bare CR line ends (TI 990) and tabs.
        let cr = "Depth (nm)\tLoad (uN)\r1.25\t20.5\r1.5\t21.75\r";
        assert!(refuse_cut_off(&format!("{cr}1.75\t22.25")).is_ok());
        assert!(refuse_cut_off(&format!("{cr}1.7")).is_err());
        // Text after the last line end that is not a row.
        assert!(refuse_cut_off(&format!("{rows}end of data")).is_err());
        assert!(refuse_cut_off("only one line").is_err());
    }
}
