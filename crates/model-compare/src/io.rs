//! The disk side of model-compare.

use tables::items::{ItemCache, KeyBuilder};
use tables::{KwwFit, ModelCurve, ModelFit, Provenance, read_rows, write_rows};

use crate::{CompareError, Params, compare, measured};

/// Groups with fewer distinct aging times than this are not compared.
const MIN_AGING_TIMES: usize = 4;

/// Returns the number of (material, temperature) groups compared.
pub fn run(p: &Params) -> Result<usize, CompareError> {
    tables::start_stage(&[&p.model_curves, &p.model_fits])?;
    let (fits, _) = read_rows::<KwwFit>(&p.kww_fits)?;
    let groups = measured(&fits);
    let (mut curves, mut model_fits) = (Vec::new(), Vec::new());
    let mut compared = 0;
    // A series' result depends only on its measured points: the key of its item-cache entry.
    let cache = ItemCache::from_env();
    let mut reused = 0;
    for (key, m) in &groups {
        let (label, t) = (key.label(), key.temperature_k());
        let mut distinct = m.aging_time_s.clone();
        distinct.dedup();
        if distinct.len() < MIN_AGING_TIMES {
            tracing::warn!(
                "{label} at {t} K: {} aging times, fewer than {MIN_AGING_TIMES}: not compared",
                distinct.len()
            );
            continue;
        }
        let item = cache.enabled().then(|| {
            KeyBuilder::new("model-compare")
                .text(&format!("{MIN_AGING_TIMES} {key:?} {m:?}"))
                .finish()
        });
        let cached = item
            .as_deref()
            .and_then(|k| cache.get_rows2::<ModelCurve, ModelFit>(k));
        let (c, f) = match cached {
            Some(hit) => {
                reused += 1;
                hit
            }
            None => {
                let (c, f) = compare(key, m);
                if let Some(k) = &item {
                    cache.put_rows2(k, &c, &f);
                }
                (c, f)
            }
        };
        if let Some(best) = f.iter().find(|f| f.rank == 1) {
            tracing::info!(
                "{label} at {t} K: {} ranks first (AICc {:.1}, chi2/df {:.2}, p = {:.3})",
                best.scenario,
                best.aicc.unwrap_or(f64::NAN),
                best.chi2_reduced.unwrap_or(f64::NAN),
                best.chi2_p_value.unwrap_or(f64::NAN)
            );
        }
        curves.extend(c);
        model_fits.extend(f);
        compared += 1;
    }
    if cache.enabled() {
        tracing::info!("{reused} of {compared} series from the item cache");
    }
    let prov = Provenance::new(
        "model-compare",
        serde_json::json!({"min_aging_times": MIN_AGING_TIMES, "scenarios": ["transient", "broadening", "combined"]}),
    );
    write_rows(&p.model_curves, curves, &prov)?;
    write_rows(&p.model_fits, model_fits, &prov)?;
    Ok(compared)
}
