//! Tables written elsewhere (pandas, polars, pyarrow, DuckDB, Spark): the column types they choose
//! that mean the same as agingflow's are converted on read, so a stage reads them as its own.
//!
//! Strings: `LargeUtf8`, `Utf8View` and dictionary-encoded strings become `Utf8`. Floats: `Float32`
//! and every integer type become `Float64` (pandas writes a float column whose values are whole as
//! int64). Integers: every narrower or unsigned integer becomes `Int64` (a `UInt64` above
//! `i64::MAX` is an error). Nothing else is guessed: a float where an integer belongs, or text
//! where a number belongs, stays a type error naming the column.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::TableError;
use crate::table::ColumnDef;

/// Whether a table read may lack the column: in a curve table (the per-sample tables a user may
/// make elsewhere, known by their `sample` column), every nullable column (read as nulls), the
/// `sample` index (numbered from the row order by its reader) and `n_samples` (1: each point one
/// recorded sample). A required column missing, or any column of a result table, is an error
/// naming it.
pub(crate) fn optional_on_input(col: &ColumnDef, columns: &[ColumnDef]) -> bool {
    columns.iter().any(|c| c.name == "sample")
        && (col.nullable || matches!(col.name, "sample" | "n_samples"))
}

/// The column a file without it reads as, for `n` rows (see [`optional_on_input`]).
fn default_column(col: &ColumnDef, n: usize) -> ArrayRef {
    match col.name {
        "n_samples" if !col.nullable => Arc::new(Int64Array::from(vec![1i64; n])),
        // Numbered by the curve reader.
        "sample" if !col.nullable => Arc::new(Int64Array::from(vec![0i64; n])),
        _ => arrow_array::new_null_array(&col.data_type, n),
    }
}

/// Whether a column of type `found` can be read as `want`.
pub(crate) fn accepts(found: &DataType, want: &DataType) -> bool {
    if found == want {
        return true;
    }
    match want {
        DataType::Utf8 => is_text(found),
        DataType::Float64 => found == &DataType::Float32 || found.is_integer(),
        DataType::Int64 => found.is_integer(),
        _ => false,
    }
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(**v, DataType::Utf8 | DataType::LargeUtf8),
        _ => false,
    }
}

/// The batch with exactly `columns`, in their order and with their types (the file's other
/// columns dropped). Nullability is checked later, where each column is read.
pub(crate) fn conform(
    batch: &RecordBatch,
    columns: &[ColumnDef],
    table: &str,
    path: &Path,
) -> Result<RecordBatch, TableError> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for col in columns {
        // A column the file may lack reads as its default (`optional_on_input`).
        let missing;
        let array = match batch.column_by_name(col.name) {
            Some(a) => a,
            None if optional_on_input(col, columns) => {
                missing = default_column(col, batch.num_rows());
                &missing
            }
            None => {
                return Err(TableError::MissingColumn {
                    path: path.to_owned(),
                    table: table.to_owned(),
                    column: col.name.to_owned(),
                });
            }
        };
        let wrong = |detail: &str| TableError::WrongType {
            path: path.to_owned(),
            table: table.to_owned(),
            column: col.name.to_owned(),
            expected: format!("{:?}", col.data_type),
            found: format!("{:?}{detail}", array.data_type()),
        };
        let converted = if array.data_type() == &col.data_type {
            array.clone()
        } else {
            match &col.data_type {
                DataType::Utf8 => to_utf8(array.as_ref()).ok_or_else(|| wrong(""))?,
                DataType::Float64 => to_f64(array.as_ref()).ok_or_else(|| wrong(""))?,
                DataType::Int64 => {
                    to_i64(array.as_ref()).ok_or_else(|| wrong(" (a value beyond i64)"))?
                }
                _ => return Err(wrong("")),
            }
        };
        fields.push(Field::new(col.name, col.data_type.clone(), true));
        arrays.push(converted);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| TableError::Parquet {
        path: path.to_owned(),
        source: e.into(),
    })
}

fn to_utf8(a: &dyn Array) -> Option<ArrayRef> {
    let out: StringArray = match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().clone(),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().collect(),
        DataType::Utf8View => a.as_string_view().iter().collect(),
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary_opt()?;
            let values = to_utf8(d.values().as_ref())?;
            let values = values.as_string::<i32>();
            let keys = d.normalized_keys();
            let nulls = d.keys().logical_nulls();
            (0..a.len())
                .map(|i| {
                    let k = keys[i];
                    let null = nulls.as_ref().is_some_and(|n| n.is_null(i))
                        || k >= values.len()
                        || values.is_null(k);
                    (!null).then(|| values.value(k))
                })
                .collect()
        }
        _ => return None,
    };
    Some(Arc::new(out))
}

macro_rules! convert {
    ($a:expr, $out:ty, $conv:expr, [$($dt:ident => $ty:ty),+ $(,)?]) => {
        match $a.data_type() {
            $(DataType::$dt => $a
                .as_primitive::<$ty>()
                .iter()
                .map(|v| match v {
                    None => Some(None),
                    Some(x) => ($conv)(x).map(Some),
                })
                .collect::<Option<$out>>(),)+
            _ => None,
        }
    };
}

fn to_f64(a: &dyn Array) -> Option<ArrayRef> {
    let out = convert!(a, Float64Array, |v| Some(v as f64), [
        Float32 => Float32Type,
        Int8 => Int8Type,
        Int16 => Int16Type,
        Int32 => Int32Type,
        Int64 => Int64Type,
        UInt8 => UInt8Type,
        UInt16 => UInt16Type,
        UInt32 => UInt32Type,
        UInt64 => UInt64Type,
    ])?;
    Some(Arc::new(out))
}

fn to_i64(a: &dyn Array) -> Option<ArrayRef> {
    let out = if a.data_type() == &DataType::UInt64 {
        convert!(a, Int64Array, |v| i64::try_from(v).ok(), [UInt64 => UInt64Type])?
    } else {
        convert!(a, Int64Array, |v| Some(i64::from(v)), [
            Int8 => Int8Type,
            Int16 => Int16Type,
            Int32 => Int32Type,
            UInt8 => UInt8Type,
            UInt16 => UInt16Type,
            UInt32 => UInt32Type,
        ])?
    };
    Some(Arc::new(out))
}
