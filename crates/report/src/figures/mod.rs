//! The paper's figures, drawn from whichever tables are present; a figure without its data is a
//! sentence saying what is missing.

use std::collections::{BTreeMap, BTreeSet};

use physics::GAS_CONSTANT_J_MOL_K;
use physics::kww::KwwParams;

use tables::SeriesKey;

use crate::Inputs;
use crate::plot::{Axis, Figure, PALETTE, Panel, Series, Style, sequential};

mod energy;
mod indentation;
mod relaxation;
mod spectrum;
mod thermal;
use energy::*;
use indentation::*;
pub use relaxation::relaxation_tests_shown;
use relaxation::*;
pub use spectrum::spectra_shown;
use spectrum::*;
use thermal::*;

/// One figure of the report, or why it is not there.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: &'static str,
    pub title: &'static str,
    pub caption: String,
    pub figure: Option<Figure>,
    pub missing: Option<String>,
}

fn axis(label: &str, log: bool) -> Axis {
    Axis {
        label: label.into(),
        log,
        zero_at_edge: log,
    }
}

fn color(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

fn missing(name: &'static str, title: &'static str, why: String) -> Entry {
    Entry {
        name,
        title,
        caption: String::new(),
        figure: None,
        missing: Some(why),
    }
}

fn drawn(name: &'static str, title: &'static str, caption: String, panels: Vec<Panel>) -> Entry {
    grid(name, title, caption, panels, Layout::default())
}

/// How a figure's panels are laid out: columns at double width, shared axes, panel aspect.
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    columns: usize,
    share_x: bool,
    share_y: bool,
    aspect: f64,
}

/// Small multiples: one panel per series (temperature, strain), shared axes.
const MULTIPLES: Layout = Layout {
    columns: 3,
    share_x: true,
    share_y: true,
    aspect: 0.75,
};

fn grid(
    name: &'static str,
    title: &'static str,
    caption: String,
    panels: Vec<Panel>,
    layout: Layout,
) -> Entry {
    Entry {
        name,
        title,
        caption,
        figure: Some(Figure {
            name: name.into(),
            title: title.into(),
            panels,
            columns: layout.columns,
            share_x: layout.share_x,
            share_y: layout.share_y,
            aspect: layout.aspect,
        }),
        missing: None,
    }
}

/// Every aging time of the campaign, sorted: one sequential colour scale for all figures.
fn aging_times(inp: &Inputs) -> Vec<u64> {
    let mut v: Vec<f64> = Vec::new();
    v.extend(inp.kww_fits.iter().flatten().map(|f| f.aging_time_s));
    v.extend(inp.indents.iter().flatten().map(|f| f.aging_time_s));
    match &inp.spectra_aging_times {
        Some(ages) => v.extend(ages),
        None => v.extend(inp.spectra.iter().flatten().map(|f| f.aging_time_s)),
    }
    v.extend(
        inp.dma_sweeps
            .iter()
            .flatten()
            .map(|f| f.aging_time_s.unwrap_or(0.0)),
    );
    v.extend(
        inp.dsc_raw
            .iter()
            .flatten()
            .map(|f| f.aging_time_s.unwrap_or(0.0)),
    );
    v.retain(|t| t.is_finite());
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.into_iter().map(f64::to_bits).collect()
}

/// The colour of aging time `t` on the campaign's sequential scale.
fn age_color(ages: &[u64], t: f64) -> String {
    let rank = ages.iter().position(|a| *a == t.to_bits()).unwrap_or(0);
    sequential(rank, ages.len())
}

/// Legend keys for the aging times `present`, in order: one entry per aging time whatever the
/// number of panels (the data series themselves carry no label).
fn age_keys(present: &[f64], ages: &[u64], style: Style) -> Vec<Series> {
    let mut v: Vec<f64> = present.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.into_iter()
        .map(|t| Series::key(age_label(t), style, age_color(ages, t)))
        .collect()
}

/// An aging time as a legend reads it: `t_{a} = 1800 s`, `as cast` for 0.
fn age_label(t: f64) -> String {
    if t == 0.0 {
        "t_{a} = 0 (as cast)".to_owned()
    } else {
        format!("t_{{a}} = {} s", fmt_num(t))
    }
}

/// A number without trailing zeros: 1800, 0.5, 3.6e5 as 360000.
fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{}", (v * 1e6).round() / 1e6)
    }
}

/// Axis labels in the SI style: quantity / unit.
const T_A: &str = "t_{a} / s";

fn key(m: &str, t: f64) -> (String, u64) {
    (m.to_owned(), t.to_bits())
}

/// Every figure, in the paper's order.
pub fn all(inp: &Inputs) -> Vec<Entry> {
    vec![
        relaxation(inp),
        beta(inp),
        tau(inp),
        indentation_curves(inp),
        tau_c_distributions(inp),
        tau_c_gaussians(inp),
        tau_c_trend(inp),
        activation_energy(inp),
        model(inp),
        spectra(inp),
        spectrum_trends(inp),
        dma_beta(inp),
        dsc_tg(inp),
    ]
}

/// The series (material, series, strain, temperature) with the most ok fits: the reference.
fn reference(inp: &Inputs) -> Option<SeriesKey> {
    let fits = inp.kww_fits.as_ref()?;
    let mut count: BTreeMap<SeriesKey, usize> = BTreeMap::new();
    for f in fits.iter().filter(|f| f.status == tables::Status::Ok) {
        *count.entry(fit_key(f)).or_default() += 1;
    }
    count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

fn fit_key(f: &tables::KwwFit) -> SeriesKey {
    SeriesKey::new(&f.material, &f.series, f.strain, f.temperature_k)
}

/// The material, with the series and strain only where the material has more than one.
fn who(all: &[SeriesKey], k: &SeriesKey) -> String {
    let split = all
        .iter()
        .any(|o| o.material == k.material && (o.series != k.series || o.strain() != k.strain()));
    if split { k.label() } else { k.material.clone() }
}

/// A legend entry: `who`, then the temperature.
fn legend(all: &[SeriesKey], k: &SeriesKey) -> String {
    format!("{}, {} K", who(all, k), k.temperature_k())
}
