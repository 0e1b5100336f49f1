//! TRIOS JSON export (schema `TRIOSJSONExportSchema`, the format of TA's tadatakit):
//! `Results.Processed.ColumnHeaders` names each column `<DisplayName>_<unit>` with its unit,
//! `Rows` holds one object per data point keyed by those names, and `ResultsSteps` names the
//! procedure steps each row's `Results Step Id` points to. One block per step, in file order.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;

use crate::{Block, Column, Contents, FormatError};

/// Whether decoded text looks like a TRIOS JSON export.
pub(crate) fn looks_like(text: &str) -> bool {
    text.trim_start().starts_with('{') && text.contains("TRIOSJSONExportSchema")
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Export {
    #[serde(default)]
    sample: Option<Value>,
    #[serde(default)]
    procedure: Option<Value>,
    results: Results,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Results {
    processed: Processed,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Processed {
    column_headers: Ordered<Header>,
    rows: Vec<Ordered<Value>>,
    #[serde(default)]
    results_steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Header {
    display_name: Option<String>,
    #[serde(default)]
    unit: Option<Unit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Unit {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Step {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// A JSON object read as its entries in file order (the column order of the export).
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

const STEP_KEY: &str = "Results Step Id";

pub(crate) fn parse(text: &str) -> Result<Contents, FormatError> {
    let export: Export = serde_json::from_str(text).map_err(|e| {
        // serde_json names the line and a missing field (`missing field \`Rows\``).
        FormatError::at(e.line().max(1), format!("not a TRIOS JSON export: {e}"))
    })?;
    let mut header = Vec::new();
    if let Some(Value::Object(s)) = &export.sample
        && let Some(Value::String(n)) = s.get("Name")
    {
        header.push(("Sample name".to_owned(), n.clone()));
    }
    if let Some(Value::Object(p)) = &export.procedure
        && let Some(Value::String(n)) = p.get("Name")
    {
        header.push(("Procedure name".to_owned(), n.clone()));
    }
    let processed = export.results.processed;
    for s in &processed.results_steps {
        header.push((format!("Step {}", s.id), s.name.clone().unwrap_or_default()));
    }
    // The numeric columns: those whose headers say Number (or give no type) and a unit or not.
    let cols: Vec<(String, String, String)> = processed
        .column_headers
        .0
        .iter()
        .filter(|(k, _)| k != STEP_KEY)
        .map(|(k, h)| {
            let unit = h
                .unit
                .as_ref()
                .and_then(|u| u.name.clone())
                .unwrap_or_default();
            let name = h
                .display_name
                .clone()
                .unwrap_or_else(|| k.strip_suffix(&format!("_{unit}")).unwrap_or(k).to_owned());
            (k.clone(), name, unit)
        })
        .collect();
    // Steps in file order; rows without a step id go to one unnamed step.
    let mut order: Vec<String> = processed
        .results_steps
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let mut blocks: Vec<Block> = Vec::new();
    let block_of = |blocks: &mut Vec<Block>, order: &mut Vec<String>, id: &str| -> usize {
        let name = processed
            .results_steps
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| id.to_owned());
        if !order.iter().any(|o| o == id) {
            order.push(id.to_owned());
        }
        let k = order.iter().position(|o| o == id).unwrap_or(0);
        while blocks.len() <= k {
            blocks.push(Block::default());
        }
        if blocks[k].columns.is_empty() {
            blocks[k].name = name;
            blocks[k].columns = cols
                .iter()
                .map(|(_, n, u)| Column {
                    name: n.clone(),
                    unit: u.clone(),
                    values: Vec::new(),
                })
                .collect();
        }
        k
    };
    for (i, row) in processed.rows.iter().enumerate() {
        let step = row
            .0
            .iter()
            .find(|(k, _)| k == STEP_KEY)
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("");
        let k = block_of(&mut blocks, &mut order, step);
        let b = &mut blocks[k];
        for ((key, _, _), col) in cols.iter().zip(b.columns.iter_mut()) {
            let v = row
                .0
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.as_f64())
                .filter(|v| v.is_finite() && v.abs() < crate::cell::MISSING_ABOVE);
            col.values.push(v);
        }
        b.segment.push(0);
        // A row's index (1-based) in `Rows` stands for its line.
        b.lines.push(i + 1);
    }
    blocks.retain(|b| b.rows() > 0);
    if blocks.is_empty() {
        return Err(FormatError::file(
            "the TRIOS JSON export has no rows under Results.Processed.Rows",
        ));
    }
    Ok((header, blocks))
}
