//! docs/tables.md, generated from the table definitions: every table, its keys and each column's
//! type, unit and meaning. A test keeps the file in the repository equal to what this writes.

use arrow_schema::DataType;

use crate::defs::*;
use crate::{ColumnDef, CurveTable, RowTable};

/// One table as the reference lists it.
struct Entry {
    name: &'static str,
    /// `item` (one row per item) or `sample` (one row per sample point, grouped by curve).
    per_sample: bool,
    keys: &'static [&'static str],
    columns: Vec<ColumnDef>,
    docs: (&'static str, &'static [&'static str]),
}

fn row<T: RowTable>(docs: (&'static str, &'static [&'static str])) -> Entry {
    Entry {
        name: T::NAME,
        per_sample: false,
        keys: T::KEYS,
        columns: T::columns(),
        docs,
    }
}

fn curve<T: CurveTable>(docs: (&'static str, &'static [&'static str])) -> Entry {
    Entry {
        name: T::NAME,
        per_sample: true,
        keys: T::KEYS,
        columns: T::columns(),
        docs,
    }
}

fn entries() -> Vec<Entry> {
    vec![
        curve::<RelaxationRaw>(RelaxationRaw::DOCS),
        curve::<RelaxationClean>(RelaxationClean::DOCS),
        row::<RelaxationTest>(RelaxationTest::DOCS),
        row::<KwwFit>(KwwFit::DOCS),
        row::<AgingLaw>(AgingLaw::DOCS),
        curve::<IndentationRaw>(IndentationRaw::DOCS),
        row::<Indent>(Indent::DOCS),
        row::<TauCStats>(TauCStats::DOCS),
        row::<ActivationEnergy>(ActivationEnergy::DOCS),
        row::<ModelCurve>(ModelCurve::DOCS),
        row::<ModelFit>(ModelFit::DOCS),
        curve::<DscRaw>(DscRaw::DOCS),
        curve::<DmaSweepRaw>(DmaSweepRaw::DOCS),
        curve::<DmaSweep>(DmaSweep::DOCS),
        row::<Transition>(Transition::DOCS),
        curve::<Spectrum>(Spectrum::DOCS),
        row::<SpectrumMoments>(SpectrumMoments::DOCS),
        row::<SpectrumSeries>(SpectrumSeries::DOCS),
        row::<SpectrumTrend>(SpectrumTrend::DOCS),
    ]
}

/// The text of `doc = "..."` attributes as `stringify!` wrote them (one after another, a literal
/// perhaps on the next line), as one run of sentences.
fn doc_text(raw: &str) -> String {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        rest = rest.trim_start();
        let Some(after) = rest.strip_prefix("doc") else {
            break;
        };
        let Some(after) = after.trim_start().strip_prefix('=') else {
            break;
        };
        let lit = after.trim_start();
        // A doc comment reaches a macro as a raw string (`r"..."`, `r#"..."#`); a written
        // `#[doc = "..."]` as an ordinary one with escapes.
        let (text, next) = if let Some(raw) = lit.strip_prefix('r') {
            let hashes = raw.len() - raw.trim_start_matches('#').len();
            let Some(inner) = raw[hashes..].strip_prefix('"') else {
                break;
            };
            let close = format!("\"{}", "#".repeat(hashes));
            let Some(end) = inner.find(&close) else {
                break;
            };
            (inner[..end].to_owned(), &inner[end + close.len()..])
        } else {
            let Some(inner) = lit.strip_prefix('"') else {
                break;
            };
            let mut text = String::new();
            let mut chars = inner.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            text.push(if e == 'n' { ' ' } else { e });
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => text.push(c),
                }
            }
            let Some(end) = end else {
                break;
            };
            (text, &inner[end + 1..])
        };
        let text = text.trim();
        if !text.is_empty() {
            out.push(text.to_owned());
        }
        rest = next;
    }
    out.join(" ").replace('|', "\\|")
}

/// What a column means where its definition has no doc comment: the names every table shares
/// and the self-describing ones (a name carries its unit as suffix).
fn common_meaning(name: &str) -> &'static str {
    match name {
        "material" => "The material, as the manifest names it.",
        "temperature_k" => "Aging (and test) temperature T_a.",
        "aging_time_s" => "Aging time t_a.",
        "series" => {
            "The manifest's `series:` label (null when none): rows of different labels are never pooled."
        }
        "strain" => "Applied step strain (fraction).",
        "flags" => "Comma-separated warnings about the row (docs/status.md).",
        "status" => "`ok`, or the first reason the row's numbers may not be used (docs/status.md).",
        "test_id" => {
            "The relaxation test: its file's path relative to the manifest without extension, or the manifest's `id:`."
        }
        "indent_id" => {
            "The indent: its file's path relative to the manifest without extension (a G200 workbook: `FILE/test-NNN`)."
        }
        "scan_id" => {
            "The thermal scan: its file's path relative to the manifest without extension."
        }
        "tg_k" => "Glass transition temperature T_g of the material.",
        "time_s" => "Time.",
        "source_file" => "The raw file, relative to the manifest.",
        "n_points" => "Points the fit used.",
        "tip_radius_nm" => "Effective tip radius R.",
        "time_min_s" | "aging_time_min_s" => "Smallest time of the fitted range.",
        "time_max_s" | "aging_time_max_s" => "Largest time of the fitted range.",
        "tan_delta" => "Loss factor tan delta = E''/E'.",
        "stress_mpa" => "Stress.",
        "storage_modulus_mpa" => "Storage modulus E'.",
        "loss_modulus_mpa" => "Loss modulus E''.",
        "rss" => "Residual sum of squares of the fit.",
        "r_squared" => "Coefficient of determination of the fit.",
        "aic" => "Akaike information criterion of the fit.",
        "aicc" => "AIC with the small-sample correction.",
        "bic" => "Bayesian information criterion of the fit.",
        "heating_rate_k_min" => "Heating rate of the scan.",
        "frequency_hz" => "Oscillation frequency.",
        "aging_temperature_k" => "Annealing temperature before the scan (null: as-cast).",
        "temperature_meas_k" => "Temperature as measured.",
        "beta" => "KWW stretching exponent beta (0 < beta <= 1).",
        "beta_se" => "Standard error of beta.",
        "beta_ci_low" | "beta_ci_high" => "95 % interval of beta.",
        "tau_s" => "KWW relaxation time tau.",
        "tau_se_s" => "Standard error of tau.",
        "tau_ci_low_s" | "tau_ci_high_s" => "95 % interval of tau.",
        "corr_ln_tau_beta" => "Correlation of the estimates of ln tau and beta.",
        "amplitude" => "Fitted amplitude A of phi.",
        "offset" => "Fitted residual-stress offset c of phi (null for the model without one).",
        "n_iterations" => "Iterations of the optimiser.",
        "sigma0_mpa" => "Stress at the end of the strain step.",
        "n_raw" => "Samples recorded.",
        "n_kept" => "Points kept after the step (bin means).",
        "mu" => "Exponent of the aging law tau = A t_a^mu in this segment.",
        "mu_se" => "Standard error of mu.",
        "breakpoint_s" => "Aging time where the two segments of the aging law meet.",
        "breakpoint_ci_low_s" | "breakpoint_ci_high_s" => {
            "95 % profile interval of the breakpoint."
        }
        "beta_turning_point_ci_low_s" | "beta_turning_point_ci_high_s" => {
            "95 % interval of the aging time where beta peaks."
        }
        "beta_max" => "The largest beta of the fitted trend.",
        "er_gpa" => "Reduced modulus E_r from the Hertz fit.",
        "er_se_gpa" => "Standard error of E_r.",
        "h0_nm" => "Contact offset h0 of the Hertz fit.",
        "hertz_r_squared" => "R^2 of the Hertz fit.",
        "hertz_n_points" => "Loading points of the Hertz fit.",
        "popin_load_un" => "Load just before the first pop-in.",
        "popin_depth_nm" => "Depth just before the first pop-in.",
        "popin_burst_nm" => "Depth burst of the first pop-in.",
        "tau_c_gpa" => "Critical shear stress at the first pop-in.",
        "depth_nm" => "Indenter depth.",
        "load_un" => "Indenter load.",
        "n_indents" => "Indents of the group.",
        "n_popins" => "Indents with a pop-in.",
        "n_censored" => "Indents without a pop-in (censored, kept out of the statistics).",
        "tau_c_mean_gpa" => "Mean tau_c of the group.",
        "tau_c_std_gpa" => "Standard deviation of tau_c in the group.",
        "tau_c_fwhm_se" => "Standard error of the FWHM of tau_c/mean.",
        "weibull_modulus" => "Weibull modulus of tau_c by maximum likelihood.",
        "weibull_scale_gpa" => "Weibull scale of tau_c by maximum likelihood.",
        "ea_kj_mol" => "Activation energy E_a.",
        "ea_se_kj_mol" => "Standard error of E_a.",
        "ea_ci_low_kj_mol" | "ea_ci_high_kj_mol" => {
            "95 % t-interval of E_a (n - 2 degrees of freedom)."
        }
        "ea_over_rtg" => "E_a / (R T_g).",
        "n_temperatures" => "Temperatures of the Arrhenius fit.",
        "scenario" => "The model scenario: transient, broadening or combined.",
        "beta_model" => "beta of KWW refitted to the scenario's curve.",
        "tau_model_s" => "tau of KWW refitted to the scenario's curve.",
        "beta_measured" => "beta measured (kww_fits) at this aging time.",
        "tau_measured_s" => "tau measured (kww_fits) at this aging time.",
        "mass_mg" => "Sample mass.",
        "temperature_se_k" => "Standard error of the temperature.",
        "intensity_se" => "Standard error of the intensity.",
        "energy_se_kj_mol" => "Standard error of the activation energy.",
        "tangent_slope_per_k" => "Slope of the inflection tangent.",
        "tangent_intercept" => "Intercept of the inflection tangent.",
        "baseline_slope_per_k" => "Slope of the baseline.",
        "source" => "Where the values come from: spectra, kww or a model scenario.",
        "slope_se" => "Standard error of the slope.",
        "slope_ci_low" | "slope_ci_high" => "95 % interval of the slope.",
        "skewness" => "Skewness of ln tau under D.",
        "sd_ln_tau_se" => "Standard error of the SD of ln tau.",
        "kww_sd_ln_tau" => "SD of ln tau of the distribution the fitted KWW implies.",
        "centre_se" => "Standard error of the centre.",
        "width_se" => "Standard error of the width.",
        "n_grid" => "Points of the ln tau grid.",
        "n_curves" => "Curves at this aging time.",
        "n_aging_times" => "Aging times of the series.",
        "h_high" => "Upper end of the 95 % band of h.",
        _ => "",
    }
}

fn type_name(c: &ColumnDef) -> String {
    let t = match c.data_type {
        DataType::Float64 => "float",
        DataType::Int64 => "integer",
        DataType::Boolean => "boolean",
        _ => "text",
    };
    if c.nullable {
        format!("{t}, nullable")
    } else {
        t.to_owned()
    }
}

/// docs/tables.md.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Tables\n\n\
         <!-- Generated from crates/tables/src/defs.rs by `tables::reference::markdown`; a test \
         (`docs_tables_md_is_generated_from_the_definitions`) fails when this file differs. \
         Regenerate: AGINGFLOW_BLESS=1 cargo test -p tables docs_tables_md -->\n\n\
         Stages exchange Parquet files, one per table, compressed with zstd; text columns are \
         dictionary-encoded. In a curve table (one row per sample), of the text columns only the id \
         (`test_id`, `indent_id`) carries min/max statistics: a stage finds a curve's row groups by them, and \
         computing them for `material` or `source_file` on every sample row cost 4 % of ingest \
         for statistics nothing read (a reader filtering on those columns still gets the right \
         rows; it reads every row group). Names are snake_case \
         with the unit as suffix; every float column also carries its unit in the Arrow field \
         metadata (`unit`; `1` marks a dimensionless float, text and counts have none). Each \
         file's key-value metadata holds `agingflow.table`, `agingflow.schema_version`, \
         `agingflow.stage`, `agingflow.version` and `agingflow.params` (JSON of the options that \
         produced it): nothing that depends on the time or the machine. Rows are sorted by the \
         table's keys, so the same inputs give byte-identical files. `status` is `ok` or the \
         first reason a row's numbers may not be used ([status.md](status.md)); `flags` is a \
         comma-separated list of every warning.\n\n\
         A table read from elsewhere (pandas, polars, pyarrow) is read by column name: extra \
         columns are ignored, any compression is read, integer and narrower float types are \
         widened where the schema needs it. In a curve table, columns marked nullable may be left out (they read \
         as nulls), as may a curve table's `sample` (numbered from the row order) and \
         `n_samples` (1: each point one recorded sample); a required column left out is an \
         error naming it. Row groups may fall anywhere: where one cuts a curve, the row groups \
         are read together. What a curve table needs is its order: each curve's rows together \
         and in time order, curves sorted by the keys below. The code: `crates/tables/`.\n\n",
    );
    s.push_str(&format!("Schema version: {}.\n\n", crate::SCHEMA_VERSION));
    let all = entries();
    s.push_str("| table | one row per | keys |\n|---|---|---|\n");
    for e in &all {
        s.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            e.name,
            e.name,
            if e.per_sample { "sample point" } else { "item" },
            e.keys.join(", ")
        ));
    }
    for e in &all {
        s.push_str(&format!("\n## {}\n\n{}\n\n", e.name, doc_text(e.docs.0)));
        s.push_str(&format!(
            "One row per {}; sorted by {}.\n\n",
            if e.per_sample {
                "sample point, each curve's rows together in `sample` order"
            } else {
                "item"
            },
            e.keys.join(", ")
        ));
        s.push_str("| column | type | unit | meaning |\n|---|---|---|---|\n");
        for (c, d) in e.columns.iter().zip(e.docs.1.iter()) {
            let mut meaning = doc_text(d);
            if meaning.is_empty() {
                meaning = common_meaning(c.name).replace('|', "\\|");
            }
            s.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.name,
                type_name(c),
                c.unit,
                meaning
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_its_doc_slot_and_every_table_is_listed() {
        let all = entries();
        for e in &all {
            assert_eq!(e.columns.len(), e.docs.1.len(), "{}", e.name);
            assert!(!doc_text(e.docs.0).is_empty(), "{} has no doc", e.name);
            assert!(crate::columns_of(e.name).is_some(), "{}", e.name);
        }
        // Every column says what it is, by its doc comment or as a name every table shares.
        for e in &all {
            for (c, d) in e.columns.iter().zip(e.docs.1.iter()) {
                assert!(
                    !doc_text(d).is_empty() || !common_meaning(c.name).is_empty(),
                    "{}.{} has no meaning: give it a doc comment in defs.rs",
                    e.name,
                    c.name
                );
            }
        }
        let names: std::collections::BTreeSet<_> = all.iter().map(|e| e.name).collect();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn doc_attributes_read_back_as_text() {
        assert_eq!(
            doc_text(
                "doc = \" A \\\"quoted\\\" | word.\"\ndoc =\nr\" Next.\"\ndoc = r#\" \"Raw\".\"#\n"
            ),
            "A \"quoted\" \\| word. Next. \"Raw\"."
        );
    }

    #[test]
    fn docs_tables_md_is_generated_from_the_definitions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tables.md");
        let want = markdown();
        if std::env::var_os("AGINGFLOW_BLESS").is_some() {
            guard::write_file(&path, want.as_bytes()).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/tables.md differs from the table definitions; regenerate it with \
             AGINGFLOW_BLESS=1 cargo test -p tables docs_tables_md"
        );
    }
}
