//! The two kinds of table (one row per item; one row per sample point, grouped by curve) and the macros that define them.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::TableError;
use crate::column::Col;

/// One column of a table: its name, Arrow type, nullability and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: &'static str,
    pub data_type: DataType,
    pub nullable: bool,
    /// The unit of the values (`s`, `K`, `MPa`, `1` for dimensionless, empty for text and counts).
    pub unit: &'static str,
}

impl ColumnDef {
    /// The column definition of a field of Rust type `T`.
    pub fn of<T: Col>(name: &'static str, unit: &'static str) -> Self {
        ColumnDef {
            name,
            data_type: T::DATA_TYPE,
            nullable: T::NULLABLE,
            unit,
        }
    }
}

/// The Arrow schema of a table: every float column carries its unit in the field metadata.
pub fn schema_of(columns: &[ColumnDef]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let field = Field::new(c.name, c.data_type.clone(), c.nullable);
            if c.data_type == DataType::Float64 {
                field.with_metadata(HashMap::from([("unit".to_owned(), c.unit.to_owned())]))
            } else {
                field
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A table with one row per item (test, fit, indent, statistic).
pub trait RowTable: Sized + Send + Sync {
    /// The table name of docs/tables.md, also the `agingflow.table` metadata.
    const NAME: &'static str;
    /// The columns rows are sorted by, in order.
    const KEYS: &'static [&'static str];
    /// Every column, in file order.
    fn columns() -> Vec<ColumnDef>;
    /// The rows as one record batch (in the order given).
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, TableError>;
    /// The rows of a batch whose schema was already checked.
    fn from_batch(batch: &RecordBatch, path: &Path) -> Result<Vec<Self>, TableError>;
    /// Compares two rows by the key columns.
    fn cmp_key(&self, other: &Self) -> Ordering;
}

/// A table with one row per sample point, handled as whole curves: the per-curve columns once,
/// the per-sample columns as vectors. Rows are sorted by the curve keys, then by `sample`, the
/// index of the point in its curve.
pub trait CurveTable: Sized + Send + Sync {
    const NAME: &'static str;
    /// The column holding the curve's id.
    const ID: &'static str;
    /// The per-curve key columns, in order (`sample` follows them).
    const KEYS: &'static [&'static str];
    fn columns() -> Vec<ColumnDef>;
    /// The curve's id (`test_id` or `indent_id`).
    fn id(&self) -> &str;
    /// The number of sample points; an error if the per-sample vectors differ in length.
    fn len(&self) -> Result<usize, TableError>;
    /// Whether the curve has no sample point.
    fn is_empty(&self) -> bool {
        self.len().map(|n| n == 0).unwrap_or(true)
    }
    /// A copy of the per-curve values with no sample (to remember a key cheaply).
    fn meta(&self) -> Self;
    fn to_batch(&self) -> Result<RecordBatch, TableError>;
    /// The curves of a batch whose schema was already checked; a curve cut by the batch's end
    /// comes out in two parts that [`CurveTable::extend`] joins.
    fn from_batch(batch: &RecordBatch, path: &Path) -> Result<Vec<Self>, TableError>;
    /// Appends another part of the same curve.
    fn extend(&mut self, other: Self);
    fn cmp_key(&self, other: &Self) -> Ordering;
}

/// The typed column `name` of a batch, or an error naming the file and column.
pub fn column<'a, T: Col>(
    batch: &'a RecordBatch,
    name: &str,
    table: &str,
    path: &Path,
) -> Result<&'a T::Array, TableError> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| TableError::MissingColumn {
            path: path.to_owned(),
            table: table.to_owned(),
            column: name.to_owned(),
        })?;
    if !T::NULLABLE && array.null_count() > 0 {
        return Err(TableError::NullInColumn {
            path: path.to_owned(),
            table: table.to_owned(),
            column: name.to_owned(),
        });
    }
    array
        .as_any()
        .downcast_ref::<T::Array>()
        .ok_or_else(|| TableError::WrongType {
            path: path.to_owned(),
            table: table.to_owned(),
            column: name.to_owned(),
            expected: format!("{:?}", T::DATA_TYPE),
            found: format!("{:?}", array.data_type()),
        })
}

/// Defines a [`RowTable`]: a struct with one public field per column.
macro_rules! row_table {
    (
        $(#[$doc:meta])*
        $name:ident = $table:literal, keys [$($key:ident),+] {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty [$unit:literal] ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )+
        }

        impl $name {
            /// The table's and each column's doc comments, as written (for docs/tables.md).
            pub const DOCS: (&'static str, &'static [&'static str]) = (
                concat!("" $(, stringify!($doc), "\n")*),
                &[$( concat!("" $(, stringify!($fdoc), "\n")*) ),+],
            );
        }

        impl $crate::RowTable for $name {
            const NAME: &'static str = $table;
            const KEYS: &'static [&'static str] = &[$(stringify!($key)),+];
            fn columns() -> Vec<$crate::ColumnDef> {
                vec![$( $crate::ColumnDef::of::<$ty>(stringify!($field), $unit) ),+]
            }
            fn to_batch(rows: &[Self]) -> Result<arrow_array::RecordBatch, $crate::TableError> {
                let n = rows.len();
                let arrays = vec![$( <$ty as $crate::Col>::build(rows.iter().map(|r| &r.$field), n) ),+];
                arrow_array::RecordBatch::try_new($crate::schema_of(&Self::columns()), arrays)
                    .map_err(|e| $crate::TableError::Internal(e.to_string()))
            }
            fn from_batch(
                batch: &arrow_array::RecordBatch,
                path: &std::path::Path,
            ) -> Result<Vec<Self>, $crate::TableError> {
                $( let $field = $crate::table::column::<$ty>(batch, stringify!($field), $table, path)?; )+
                Ok((0..batch.num_rows())
                    .map(|i| Self { $( $field: <$ty as $crate::Col>::get($field, i), )+ })
                    .collect())
            }
            fn cmp_key(&self, other: &Self) -> std::cmp::Ordering {
                std::cmp::Ordering::Equal
                    $( .then_with(|| $crate::Col::key_cmp(&self.$key, &other.$key)) )+
            }
        }
    };
}

/// Defines a [`CurveTable`]: per-curve fields as values, per-sample fields as vectors.
macro_rules! curve_table {
    (
        $(#[$doc:meta])*
        $name:ident = $table:literal, id $id:ident, keys [$($key:ident),+] {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty [$unit:literal] ),+ $(,)?
        } samples {
            $( $(#[$sdoc:meta])* $sfield:ident : $sty:ty [$sunit:literal] ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )+
            $( $(#[$sdoc])* pub $sfield: Vec<$sty>, )+
        }

        impl $name {
            /// The table's and each column's doc comments, as written (for docs/tables.md).
            pub const DOCS: (&'static str, &'static [&'static str]) = (
                concat!("" $(, stringify!($doc), "\n")*),
                &[
                    $( concat!("" $(, stringify!($fdoc), "\n")*), )+
                    "doc = r\"The index of the point within its curve: 0, 1, 2, ... in row order.\"",
                    $( concat!("" $(, stringify!($sdoc), "\n")*), )+
                ],
            );
        }

        impl $crate::CurveTable for $name {
            const NAME: &'static str = $table;
            const ID: &'static str = stringify!($id);
            const KEYS: &'static [&'static str] = &[$(stringify!($key)),+];
            fn columns() -> Vec<$crate::ColumnDef> {
                vec![
                    $( $crate::ColumnDef::of::<$ty>(stringify!($field), $unit), )+
                    $crate::ColumnDef::of::<i64>("sample", ""),
                    $( $crate::ColumnDef::of::<$sty>(stringify!($sfield), $sunit), )+
                ]
            }
            fn id(&self) -> &str {
                &self.$id
            }
            fn len(&self) -> Result<usize, $crate::TableError> {
                let lens = [$( (stringify!($sfield), self.$sfield.len()) ),+];
                let n = lens[0].1;
                match lens.iter().find(|(_, l)| *l != n) {
                    None => Ok(n),
                    Some((col, l)) => Err($crate::TableError::Ragged {
                        table: $table.to_owned(),
                        id: self.$id.clone(),
                        detail: format!("{} has {} samples, {} has {}", lens[0].0, n, col, l),
                    }),
                }
            }
            fn meta(&self) -> Self {
                Self { $( $field: self.$field.clone(), )+ $( $sfield: Vec::new(), )+ }
            }
            fn to_batch(&self) -> Result<arrow_array::RecordBatch, $crate::TableError> {
                let n = $crate::CurveTable::len(self)?;
                let sample: Vec<i64> = (0..n as i64).collect();
                let arrays = vec![
                    $( $crate::column::repeat(&self.$field, n), )+
                    <i64 as $crate::Col>::build(sample.iter(), n),
                    $( <$sty as $crate::Col>::build(self.$sfield.iter(), n), )+
                ];
                arrow_array::RecordBatch::try_new($crate::schema_of(&Self::columns()), arrays)
                    .map_err(|e| $crate::TableError::Internal(e.to_string()))
            }
            fn from_batch(
                batch: &arrow_array::RecordBatch,
                path: &std::path::Path,
            ) -> Result<Vec<Self>, $crate::TableError> {
                $( let $field = $crate::table::column::<$ty>(batch, stringify!($field), $table, path)?; )+
                $( let $sfield = $crate::table::column::<$sty>(batch, stringify!($sfield), $table, path)?; )+
                let ids = $crate::table::column::<String>(batch, stringify!($id), $table, path)?;
                let n = batch.num_rows();
                let mut curves = Vec::new();
                let mut start = 0;
                while start < n {
                    let mut end = start + 1;
                    while end < n && ids.value(end) == ids.value(start) {
                        end += 1;
                    }
                    curves.push(Self {
                        $( $field: <$ty as $crate::Col>::get($field, start), )+
                        $( $sfield: (start..end).map(|i| <$sty as $crate::Col>::get($sfield, i)).collect(), )+
                    });
                    start = end;
                }
                Ok(curves)
            }
            fn extend(&mut self, other: Self) {
                $( self.$sfield.extend(other.$sfield); )+
            }
            fn cmp_key(&self, other: &Self) -> std::cmp::Ordering {
                std::cmp::Ordering::Equal
                    $( .then_with(|| $crate::Col::key_cmp(&self.$key, &other.$key)) )+
            }
        }
    };
}

pub(crate) use curve_table;
pub(crate) use row_table;
