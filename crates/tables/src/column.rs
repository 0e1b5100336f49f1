//! How one Rust field type maps to one Arrow column: its data type, nullability, building and reading.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray,
    builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder},
};
use arrow_schema::DataType;

/// A Rust type that is stored as one Arrow column.
///
/// `Option<T>` is the nullable form of `T`. Floats compare with `total_cmp`, so NaN never breaks
/// sorting.
pub trait Col: Sized + Default {
    /// The Arrow array type of the column.
    type Array: Array + 'static;
    /// The Arrow data type of the column.
    const DATA_TYPE: DataType;
    /// Whether the column accepts nulls.
    const NULLABLE: bool;
    /// Builds a column from values.
    fn build<'a>(values: impl Iterator<Item = &'a Self>, len: usize) -> ArrayRef
    where
        Self: 'a;
    /// The value at row `i` (which the caller guarantees is in range).
    fn get(array: &Self::Array, i: usize) -> Self;
    /// Total order used to sort rows by key.
    fn key_cmp(&self, other: &Self) -> Ordering;
}

impl Col for String {
    type Array = StringArray;
    const DATA_TYPE: DataType = DataType::Utf8;
    const NULLABLE: bool = false;
    fn build<'a>(values: impl Iterator<Item = &'a Self>, len: usize) -> ArrayRef {
        let mut b = StringBuilder::with_capacity(len, len * 8);
        values.for_each(|v| b.append_value(v));
        Arc::new(b.finish())
    }
    fn get(array: &Self::Array, i: usize) -> Self {
        if array.is_null(i) {
            String::new()
        } else {
            array.value(i).to_owned()
        }
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl Col for Option<String> {
    type Array = StringArray;
    const DATA_TYPE: DataType = DataType::Utf8;
    const NULLABLE: bool = true;
    fn build<'a>(values: impl Iterator<Item = &'a Self>, len: usize) -> ArrayRef {
        let mut b = StringBuilder::with_capacity(len, len * 8);
        values.for_each(|v| b.append_option(v.as_deref()));
        Arc::new(b.finish())
    }
    fn get(array: &Self::Array, i: usize) -> Self {
        (!array.is_null(i)).then(|| array.value(i).to_owned())
    }
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

macro_rules! primitive_col {
    ($t:ty, $arr:ty, $builder:ty, $dt:expr, $cmp:expr) => {
        impl Col for $t {
            type Array = $arr;
            const DATA_TYPE: DataType = $dt;
            const NULLABLE: bool = false;
            fn build<'a>(values: impl Iterator<Item = &'a Self>, len: usize) -> ArrayRef {
                let mut b = <$builder>::with_capacity(len);
                values.for_each(|v| b.append_value(*v));
                Arc::new(b.finish())
            }
            fn get(array: &Self::Array, i: usize) -> Self {
                if array.is_null(i) {
                    Self::default()
                } else {
                    array.value(i)
                }
            }
            fn key_cmp(&self, other: &Self) -> Ordering {
                let f: fn(&$t, &$t) -> Ordering = $cmp;
                f(self, other)
            }
        }
        impl Col for Option<$t> {
            type Array = $arr;
            const DATA_TYPE: DataType = $dt;
            const NULLABLE: bool = true;
            fn build<'a>(values: impl Iterator<Item = &'a Self>, len: usize) -> ArrayRef {
                let mut b = <$builder>::with_capacity(len);
                values.for_each(|v| b.append_option(*v));
                Arc::new(b.finish())
            }
            fn get(array: &Self::Array, i: usize) -> Self {
                (!array.is_null(i)).then(|| array.value(i))
            }
            fn key_cmp(&self, other: &Self) -> Ordering {
                let f: fn(&$t, &$t) -> Ordering = $cmp;
                match (self, other) {
                    (Some(a), Some(b)) => f(a, b),
                    (a, b) => a.is_some().cmp(&b.is_some()),
                }
            }
        }
    };
}

primitive_col!(
    f64,
    Float64Array,
    Float64Builder,
    DataType::Float64,
    |a, b| a.total_cmp(b)
);
primitive_col!(i64, Int64Array, Int64Builder, DataType::Int64, |a, b| a
    .cmp(b));
primitive_col!(
    bool,
    BooleanArray,
    BooleanBuilder,
    DataType::Boolean,
    |a, b| a.cmp(b)
);

/// Builds a column holding `value` `len` times (the per-curve columns of a sample table).
pub fn repeat<T: Col>(value: &T, len: usize) -> ArrayRef {
    T::build(std::iter::repeat_n(value, len), len)
}
