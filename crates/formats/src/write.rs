//! Writers of the instrument formats, byte-compatible with the real exports, for the simulator
//! (and for round-trip tests of the readers). Deterministic: the same values give the same bytes.

use std::fmt::Write as _;

use crate::text::{to_utf16le_bom, to_windows_1252};

/// A number with `sig` significant digits, as TA and Hysitron software print them
/// (`129.7958`, `0.01250000`, `6.66667E-4`).
pub fn sig(x: f64, sig: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{:.*}", sig.saturating_sub(1), 0.0);
    }
    let mag = x.abs().log10().floor() as i32;
    if (-3..7).contains(&mag) {
        let decimals = (sig as i32 - 1 - mag).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.*E}", sig.saturating_sub(1))
    }
}

/// A Universal Analysis export: `signals` are the `SigN` names (`Time (min)` first); `segments`
/// are runs of rows, each preceded by a marker row with a negative time, as the instrument writes.
pub fn ta_universal(
    instrument: &str,
    sample: &str,
    signals: &[&str],
    segments: &[Vec<Vec<f64>>],
) -> Vec<u8> {
    ta_universal_module(
        instrument,
        "DMA Stress Relaxation",
        &[
            "1: Equilibrate at aging temperature",
            "2: Isothermal (aging)",
            "3: Strain step, then data storage on",
        ],
        sample,
        signals,
        segments,
    )
}

/// [`ta_universal`] with the module and method lines of another experiment (a DSC or a DMA
/// temperature ramp).
pub fn ta_universal_module(
    instrument: &str,
    module: &str,
    methods: &[&str],
    sample: &str,
    signals: &[&str],
    segments: &[Vec<Vec<f64>>],
) -> Vec<u8> {
    let mut t = String::new();
    let _ = writeln!(t, "CLOSED");
    let _ = writeln!(t, "Version\t2.0");
    let _ = writeln!(t, "Language\tEnglish");
    let _ = writeln!(t, "Instrument\t{instrument}");
    let _ = writeln!(t, "Module\t{module}");
    let _ = writeln!(t, "Sample\t{sample}");
    let _ = writeln!(t, "Size\t10.000\t0.549\t0.043\tmm");
    let _ = writeln!(t, "Nsig\t{}", signals.len());
    for (i, s) in signals.iter().enumerate() {
        let _ = writeln!(t, "Sig{}\t{s}", i + 1);
    }
    let _ = writeln!(t, "Date\t2026-01-15");
    let _ = writeln!(t, "Time\t09:00:00");
    for m in methods {
        let _ = writeln!(t, "OrgMethod\t{m}");
    }
    let _ = writeln!(t, "OrgFile\tC:\\TA\\Data\\DMA\\{sample}.001");
    let _ = writeln!(t, "StartOfData");
    for (k, seg) in segments.iter().enumerate() {
        let mut marker = vec![-3.0 + k as f64 * 0.0; signals.len()];
        if let Some(m) = marker.get_mut(1) {
            *m = (k + 1) as f64;
        }
        t.push_str(
            &marker
                .iter()
                .map(|v| format!("{v:.6}"))
                .collect::<Vec<_>>()
                .join("\t"),
        );
        t.push('\n');
        for row in seg {
            t.push_str(
                &row.iter()
                    .map(|v| sig(*v, 7))
                    .collect::<Vec<_>>()
                    .join("\t"),
            );
            t.push('\n');
        }
    }
    to_utf16le_bom(&t)
}

/// One TRIOS procedure step and its data, as the TRIOS writers (text, Excel, JSON) take it.
#[derive(Debug, Clone, Copy)]
pub struct TriosStep<'a> {
    pub instrument: &'a str,
    pub sample: &'a str,
    pub step: &'a str,
    pub names: &'a [&'a str],
    /// One per name; empty for a column without a unit.
    pub units: &'a [&'a str],
    pub rows: &'a [Vec<f64>],
}

/// A TRIOS text export with one step.
pub fn trios_text(s: &TriosStep) -> Vec<u8> {
    let TriosStep {
        instrument,
        sample,
        step,
        names,
        units,
        rows,
    } = *s;
    let mut t = String::new();
    let _ = writeln!(t, "Filename\t{sample}.tri");
    let _ = writeln!(t, "Instrument name\t{instrument}");
    let _ = writeln!(t, "Operator\tagingflow-simulate");
    let _ = writeln!(t, "rundate\t1/15/2026");
    let _ = writeln!(t, "Sample name\t{sample}");
    let _ = writeln!(t, "proceduresegments\t{step}#End of test");
    let _ = writeln!(t, "[File Parameters]");
    let _ = writeln!(t, "Instrument type\tDMA 850");
    let _ = writeln!(t, "[step]");
    let _ = writeln!(t, "{step} - 1");
    let _ = writeln!(t, "{}", names.join("\t"));
    let _ = writeln!(t, "{}", units.join("\t"));
    for row in rows {
        t.push_str(
            &row.iter()
                .map(|v| sig(*v, 10))
                .collect::<Vec<_>>()
                .join("\t"),
        );
        t.push('\n');
    }
    t.into_bytes()
}

/// A classic TriboScan text export (Windows-1252, LF, a blank line between load-function
/// segments); each row is depth (nm), load (µN), time (s), depth (V), load (V).
pub fn hysitron_classic(date: &str, segments: &[Vec<[f64; 5]>]) -> Vec<u8> {
    let n: usize = segments.iter().map(Vec::len).sum();
    let mut t = format!(
        "{date}\n\nNumber of Points = {n}\nDepth (nm)\tLoad (µN)\tTime (s)\tDepth (V)\tLoad (V)\n"
    );
    for (k, seg) in segments.iter().enumerate() {
        if k > 0 {
            t.push('\n');
        }
        for r in seg {
            let _ = writeln!(
                t,
                "{:.6}\t{:.6}\t{:.6}\t{:.6}\t{:.6}",
                r[0], r[1], r[2], r[3], r[4]
            );
        }
    }
    to_windows_1252(&t)
}

/// A TI 990 / TriboScan 12 text export: mixed line ends as the instrument writes them, every data
/// row ended by a bare CR; rows are depth (nm), load (µN), time (s).
pub fn hysitron_ti990(date: &str, rows: &[[f64; 3]]) -> Vec<u8> {
    let mut t = format!(
        "{date}\n\n\rNumber of Points = {}\n\rDepth (nm)\tLoad (µN)\tTime (s)\r",
        rows.len()
    );
    for r in rows {
        let _ = write!(t, "{:.6}\t{:.6}\t{:.6}\r", r[0], r[1], r[2]);
    }
    to_windows_1252(&t)
}

/// A cell of a workbook the writers below make.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(f64),
    Text(String),
    Empty,
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// `A`, `B`, ..., `Z`, `AA`, ... for a 0-based column.
fn column_letters(mut c: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A minimal Office Open XML workbook (.xlsx): the named sheets with numbers and inline
/// strings, stored uncompressed with fixed timestamps, so the same cells give the same bytes.
/// Sheet names longer than Excel's 31 characters are the caller's business.
pub fn xlsx(sheets: &[(String, Vec<Vec<Cell>>)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut parts: Vec<(String, String)> = Vec::new();
    let overrides: String = (1..=sheets.len())
        .map(|i| format!(r#"<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#))
        .collect();
    parts.push(("[Content_Types].xml".into(), format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{overrides}</Types>"#)));
    parts.push(("_rels/.rels".into(), r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into()));
    let listed: String = sheets
        .iter()
        .enumerate()
        .map(|(i, (n, _))| {
            format!(
                r#"<sheet name="{}" sheetId="{}" r:id="rId{}"/>"#,
                xml_escape(n),
                i + 1,
                i + 1
            )
        })
        .collect();
    parts.push(("xl/workbook.xml".into(), format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{listed}</sheets></workbook>"#)));
    let rels: String = (1..=sheets.len())
        .map(|i| format!(r#"<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>"#))
        .collect();
    parts.push(("xl/_rels/workbook.xml.rels".into(), format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#)));
    for (i, (_, rows)) in sheets.iter().enumerate() {
        let mut x = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, row) in rows.iter().enumerate() {
            let _ = write!(x, r#"<row r="{}">"#, r + 1);
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{}", column_letters(c), r + 1);
                match cell {
                    Cell::Num(v) => {
                        let _ = write!(x, r#"<c r="{at}"><v>{v:?}</v></c>"#);
                    }
                    Cell::Text(t) => {
                        let _ = write!(
                            x,
                            r#"<c r="{at}" t="inlineStr"><is><t>{}</t></is></c>"#,
                            xml_escape(t)
                        );
                    }
                    Cell::Empty => {}
                }
            }
            x.push_str("</row>");
        }
        x.push_str("</sheetData></worksheet>");
        parts.push((format!("xl/worksheets/sheet{}.xml", i + 1), x));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, body) in &parts {
        // Writing into memory cannot fail.
        if zip.start_file(name.as_str(), opts).is_ok() {
            let _ = zip.write_all(body.as_bytes());
        }
    }
    zip.finish().map(|c| c.into_inner()).unwrap_or_default()
}

/// A TRIOS "Export to Excel" workbook with one step: a `Details` sheet, then the step's sheet
/// (its name in A1, channel names, units, data), as TRIOS lays it out.
pub fn trios_excel(s: &TriosStep) -> Vec<u8> {
    let TriosStep {
        instrument,
        sample,
        step,
        names,
        units,
        rows,
    } = *s;
    let details = vec![
        vec![text("Filename"), text(&format!("{sample}.xls"))],
        vec![text("Instrument name"), text(instrument)],
        vec![text("Operator"), text("agingflow-simulate")],
        vec![text("rundate"), Cell::Num(46037.0)],
        vec![text("Sample name"), text(sample)],
        vec![text("proceduresegments"), text(step)],
        vec![text("[File Parameters]"), Cell::Empty],
        vec![text("Trios version"), text("5.5.1.5")],
    ];
    let mut sheet = vec![vec![text(step)]];
    sheet.push(names.iter().map(|n| text(n)).collect());
    sheet.push(
        units
            .iter()
            .map(|u| if u.is_empty() { Cell::Empty } else { text(u) })
            .collect(),
    );
    for row in rows {
        sheet.push(row.iter().map(|v| Cell::Num(*v)).collect());
    }
    xlsx(&[("Details".into(), details), (step.replace('/', ""), sheet)])
}

/// A TRIOS JSON export (`TRIOSJSONExportSchema`) with one step: columns keyed `<name>_<unit>`.
pub fn trios_json(s: &TriosStep) -> Vec<u8> {
    let TriosStep {
        sample,
        step,
        names,
        units,
        rows,
        ..
    } = *s;
    let key = |k: usize| {
        if units[k].is_empty() {
            names[k].to_owned()
        } else {
            format!("{}_{}", names[k], units[k])
        }
    };
    let headers: Vec<String> = (0..names.len())
        .map(|k| {
            let unit = if units[k].is_empty() {
                String::new()
            } else {
                format!(r#","Unit":{{"Name":{}}}"#, json_str(units[k]))
            };
            format!(
                r#"{}:{{"DisplayName":{},"ValueType":"Number"{unit}}}"#,
                json_str(&key(k)),
                json_str(names[k])
            )
        })
        .collect();
    let step_id = "00000000-0000-0000-0000-000000000001";
    let body: Vec<String> = rows
        .iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(k, v)| format!("{}:{v:?}", json_str(&key(k))))
                .collect();
            format!(r#"{{{},"Results Step Id":"{step_id}"}}"#, cells.join(","))
        })
        .collect();
    format!(
        "{{\n\"Schema\":{{\"Url\":\"https://software.tainstruments.com/schemas/TRIOSJSONExportSchema\"}},\n\"Sample\":{{\"Name\":{}}},\n\"Procedure\":{{\"Name\":{}}},\n\"Results\":{{\"Processed\":{{\"ResultsSteps\":[{{\"Id\":\"{step_id}\",\"Name\":{}}}],\n\"ColumnHeaders\":{{{}}},\n\"Rows\":[\n{}\n]}}}}\n}}\n",
        json_str(sample),
        json_str(step),
        json_str(&format!("{step} - 1")),
        headers.join(","),
        body.join(",\n")
    )
    .into_bytes()
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A Keysight G200 NanoSuite workbook: a `Results` sheet and one `Test NNN` sheet per test
/// (channel names, units, a `Surface Marker` in column A, data in mN and nm), the tests in
/// descending order as NanoSuite writes them. Each test's rows are depth (nm), load (mN),
/// time (s).
pub fn keysight_xlsx(tests: &[Vec<[f64; 3]>]) -> Vec<u8> {
    let mut results = vec![
        vec![text("Test"), text("Tip Name")],
        vec![Cell::Empty, Cell::Empty],
    ];
    let mut sheets = Vec::new();
    for (i, rows) in tests.iter().enumerate().rev() {
        let mut sheet = vec![
            vec![
                text("Segment"),
                text("Displacement Into Surface"),
                text("Load On Sample"),
                text("Time On Sample"),
            ],
            vec![Cell::Empty, text("nm"), text("mN"), text("s")],
        ];
        for (k, r) in rows.iter().enumerate() {
            let marker = if k == 0 {
                text("Surface Marker")
            } else {
                Cell::Empty
            };
            sheet.push(vec![
                marker,
                Cell::Num(r[0]),
                Cell::Num(r[1]),
                Cell::Num(r[2]),
            ]);
        }
        sheet.push(vec![text("END")]);
        sheets.push((format!("Test {:03}", i + 1), sheet));
    }
    for i in 0..tests.len() {
        results.push(vec![text(&format!("{}", i + 1)), text("agingflow")]);
    }
    let mut all = vec![("Results".to_owned(), results)];
    all.extend(sheets);
    xlsx(&all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, ReadOptions, parse_auto};

    #[test]
    fn significant_digits() {
        assert_eq!(sig(129.79581, 7), "129.7958");
        assert_eq!(sig(0.0125, 7), "0.01250000");
        assert_eq!(sig(6.66667e-4, 6), "6.66667E-4");
        assert_eq!(sig(-3.0, 7), "-3.000000");
        assert_eq!(sig(0.0, 7), "0.000000");
    }

    #[test]
    fn every_writer_round_trips_through_its_reader() {
        let seg = vec![
            vec![0.5, 633.0 - 273.15, 90.0, 0.1, 90000.0],
            vec![1.0, 359.85, 80.0, 0.1, 80000.0],
        ];
        let ua = ta_universal(
            "DMA Q800 V21.3 Build 96",
            "s1",
            &[
                "Time (min)",
                "Temperature (°C)",
                "Stress (MPa)",
                "Strain (%)",
                "Relaxation Modulus (MPa)",
            ],
            &[seg.clone(), seg],
        );
        let p = parse_auto(&ua, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::TaUniversal);
        let b = &p.blocks[0];
        assert_eq!(b.rows(), 4);
        assert_eq!(b.segment, vec![0, 0, 1, 1]);
        assert_eq!(b.find(&["Stress"]).unwrap().values[1], Some(80.0));
        assert_eq!(b.find(&["temperature"]).unwrap().unit, "°C");

        fn step<'a>(
            sample: &'a str,
            names: &'a [&'a str],
            units: &'a [&'a str],
            rows: &'a [Vec<f64>],
        ) -> TriosStep<'a> {
            TriosStep {
                instrument: "DMA 850",
                sample,
                step: "Stress Relaxation",
                names,
                units,
                rows,
            }
        }
        let tr = trios_text(&step(
            "s2",
            &["Step time", "Stress"],
            &["s", "MPa"],
            &[vec![1.0, 2.0], vec![3.5, 4.25]],
        ));
        let p = parse_auto(&tr, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::TriosText);
        assert_eq!(
            p.blocks[0].find(&["stress"]).unwrap().values,
            vec![Some(2.0), Some(4.25)]
        );

        let cl = hysitron_classic(
            "Mon Apr 29 10:41:06 2019",
            &[
                vec![[1.0, 2.0, 0.0, 0.1, 0.2]],
                vec![[3.0, 4.0, 0.005, 0.1, 0.2], [5.0, 6.0, 0.01, 0.1, 0.2]],
            ],
        );
        let p = parse_auto(&cl, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::HysitronTxt);
        assert_eq!(p.blocks[0].segment, vec![0, 1, 1]);
        assert_eq!(p.blocks[0].find(&["Load"]).unwrap().unit, "µN");

        let rows = [vec![1.0, 2.0, 0.0], vec![3.5, 4.25, 1.0]];
        let s3 = step(
            "s3",
            &["Step time", "Stress", "Note"],
            &["s", "MPa", ""],
            &rows,
        );
        let tx = trios_excel(&s3);
        let p = parse_auto(&tx, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::TriosExcel);
        assert_eq!(p.blocks[0].name, "Stress Relaxation");
        assert_eq!(
            p.blocks[0].find(&["stress"]).unwrap().values,
            vec![Some(2.0), Some(4.25)]
        );
        assert_eq!(p.blocks[0].find(&["note"]).unwrap().unit, "");
        assert_eq!(tx, trios_excel(&s3), "not deterministic");

        let tj = trios_json(&step(
            "s4",
            &["Step time", "Stress"],
            &["s", "MPa"],
            &[vec![1.0, 2.0], vec![3.5, 0.1 + 0.2]],
        ));
        let p = parse_auto(&tj, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::TriosJson);
        assert_eq!(
            p.blocks[0].find(&["stress"]).unwrap().values,
            vec![Some(2.0), Some(0.1 + 0.2)]
        );

        let ks = keysight_xlsx(&[
            vec![[1.0, 0.001, 0.0], [2.0, 0.002, 0.1]],
            vec![[1.5, 0.003, 0.0]],
        ]);
        let p = parse_auto(&ks, ReadOptions::default()).unwrap();
        assert_eq!(p.format, Format::KeysightXls);
        let names: Vec<&str> = p.blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["Test 001", "Test 002"]);
        assert_eq!(
            p.blocks[0].find(&["Load On Sample"]).unwrap().values,
            vec![Some(0.001), Some(0.002)]
        );
        assert_eq!(p.blocks[0].find(&["Load On Sample"]).unwrap().unit, "mN");
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(27), "AB");

        let ti = hysitron_ti990(
            "Mon Apr 14 16:00:13 2025",
            &[[-4.5, 2000.0, 0.0], [-4.4, 2001.0, 0.005]],
        );
        let p = parse_auto(&ti, ReadOptions::default()).unwrap();
        assert_eq!(
            p.blocks[0].find(&["depth"]).unwrap().values,
            vec![Some(-4.5), Some(-4.4)]
        );
    }
}
