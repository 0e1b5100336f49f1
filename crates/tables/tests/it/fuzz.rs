//! Property test: tables changed outside agingflow (rows shuffled, rows duplicated, the file cut
//! short, bytes flipped) are never read as if nothing happened, and never make a reader panic.
//! AGINGFLOW_FUZZ_INPUTS sets how many cases (default 300); AGINGFLOW_FUZZ_SECONDS (`make fuzz`)
//! runs for a set time instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rng::Rng;
use std::path::Path;
use std::time::Instant;

use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use tables::*;

/// The shared fuzz budget (`rng::fuzz`) as (cases, deadline).
fn budget(default: usize) -> (usize, Option<Instant>) {
    let b = rng::fuzz::Budget::from_env(default);
    (b.cases, b.deadline)
}

/// Rewrites `from` into `to` with the rows in `order` (global row indices), metadata kept.
fn rewrite(from: &Path, to: &Path, order: &[usize]) {
    let t = read_any(from).unwrap();
    let mut at = Vec::new();
    for (b, batch) in t.batches.iter().enumerate() {
        at.extend((0..batch.num_rows()).map(|i| (b, i)));
    }
    let kv = t
        .meta
        .entries
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(to).unwrap(),
        t.schema.clone(),
        Some(props),
    )
    .unwrap();
    for &i in order {
        let (b, off) = at[i];
        w.write(&t.batches[b].slice(off, 1)).unwrap();
    }
    w.close().unwrap();
}

fn curves() -> Vec<RelaxationRaw> {
    (0..4)
        .map(|c| RelaxationRaw {
            step_s: None,
            test_id: format!("dma/t{c}"),
            material: "G".into(),
            tg_k: Some(680.0),
            temperature_k: 633.0,
            aging_time_s: 1800.0 * (c + 1) as f64,
            source_file: format!("dma/t{c}.txt"),
            time_s: (0..6).map(|k| k as f64).collect(),
            stress_mpa: (0..6).map(|k| Some(90.0 - k as f64)).collect(),
            temperature_meas_k: vec![Some(633.0); 6],
            strain_meas: vec![None; 6],
            ..Default::default()
        })
        .collect()
}

fn fits() -> Vec<KwwFit> {
    (0..6)
        .map(|i| KwwFit {
            test_id: format!("dma/t{i}"),
            material: "G".into(),
            temperature_k: 633.0,
            aging_time_s: 1800.0 * (i + 1) as f64,
            status: "ok".into(),
            ..Default::default()
        })
        .collect()
}

/// A random order of `n` rows that is not the identity: a shuffle, a duplicated row, or a row
/// moved.
fn disorder(g: &mut Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    match g.below(3) {
        0 => loop {
            for i in (1..n).rev() {
                order.swap(i, g.below(i + 1));
            }
            if order.iter().enumerate().any(|(i, &o)| i != o) {
                break order;
            }
        },
        1 => {
            let i = g.below(n);
            order.insert(g.below(n + 1), i);
            order
        }
        _ => {
            let (a, b) = (g.below(n), g.below(n));
            if a == b {
                order.swap(0, n - 1);
            } else {
                order.swap(a, b);
            }
            order
        }
    }
}

#[test]
fn changed_tables_are_refused_and_never_panic() {
    let (n, deadline) = budget(300);
    let mut g = Rng::new(0x7AB1_E5ED, 0);
    let d = tempfile::tempdir().unwrap();
    let prov = Provenance::new("fuzz", serde_json::json!({}));
    let (cpath, rpath) = (d.path().join("c.parquet"), d.path().join("r.parquet"));
    write_curves(&cpath, curves(), &prov).unwrap();
    write_rows(&rpath, fits(), &prov).unwrap();
    let (cbytes, rbytes) = (
        std::fs::read(&cpath).unwrap(),
        std::fs::read(&rpath).unwrap(),
    );
    let crow = curves().iter().map(|c| c.time_s.len()).sum::<usize>();
    let rrow = fits().len();
    let bad = d.path().join("bad.parquet");
    let (mut refused, mut done, mut byte_cases_read) = (0usize, 0usize, 0usize);
    for _ in 0..n {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        done += 1;
        let curve = g.below(2) == 0;
        let (path, bytes, rows) = if curve {
            (&cpath, &cbytes, crow)
        } else {
            (&rpath, &rbytes, rrow)
        };
        match g.below(3) {
            // Rows out of order or duplicated: must be refused, naming the file.
            0 => {
                rewrite(path, &bad, &disorder(&mut g, rows));
                let e = if curve {
                    read_curves::<RelaxationRaw>(&bad).err()
                } else {
                    read_rows::<KwwFit>(&bad).err()
                };
                let e = e.expect("a reordered or duplicated table was read as valid");
                assert!(e.to_string().contains("bad.parquet"), "{e}");
                refused += 1;
            }
            // Cut short: refused (a Parquet file ends with its footer).
            1 => {
                std::fs::write(&bad, &bytes[..g.below(bytes.len())]).unwrap();
                let ok = if curve {
                    read_curves::<RelaxationRaw>(&bad).is_ok()
                } else {
                    read_rows::<KwwFit>(&bad).is_ok()
                };
                assert!(!ok, "a truncated table was read");
                refused += 1;
            }
            // Bytes flipped: anything but a panic (a flip in padding may go unnoticed).
            _ => {
                let mut b = bytes.clone();
                for _ in 0..1 + g.below(8) {
                    let i = g.below(b.len());
                    b[i] ^= 1 << g.below(8);
                }
                std::fs::write(&bad, &b).unwrap();
                let ok = if curve {
                    read_curves::<RelaxationRaw>(&bad).is_ok()
                } else {
                    read_rows::<KwwFit>(&bad).is_ok()
                };
                byte_cases_read += usize::from(ok);
            }
        }
    }
    eprintln!(
        "fuzz: {done} changed tables: {refused} reordered, duplicated or truncated all refused; {byte_cases_read} with flipped bytes still readable; 0 panics"
    );
    assert!(refused > 0);
}
