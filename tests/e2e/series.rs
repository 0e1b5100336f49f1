//! A campaign measured at two strains (the paper's Fig. S4: 0.1 % and 0.5 %) is two series in
//! every table from kww_fits on and in the report, never one pooled law.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use tests::agingflow;

#[test]
fn two_strains_give_two_series_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let camp = dir.path().join("campaign");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
    let mut spec = simulate::read_spec(&demo.join("truth-spec.yaml")).unwrap();
    let m = &mut spec.materials[0];
    let r = m.relaxation.as_mut().unwrap();
    r.series
        .retain(|s| s.temperature_k == 633.0 || s.temperature_k == 643.0);
    let mut second = r.series.clone();
    for s in &mut second {
        s.strain = Some(0.005);
        s.label = Some("fig-s4".into());
    }
    r.series.extend(second);
    for s in &mut r.series {
        s.aging_times_s
            .retain(|t| [1800.0, 5400.0, 9000.0, 36000.0, 77_400.0].contains(t));
    }
    let i = m.indentation.as_mut().unwrap();
    i.groups.truncate(2);
    i.indents_per_group = 45;
    simulate::simulate(&spec, &camp, 1, &|_| {}).unwrap();
    let pipeline = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/demo.yaml"),
    )
    .unwrap()
    .replace("../fixtures/demo/campaign.yaml", "campaign/campaign.yaml")
    .replace("outdir: ../build/demo", "outdir: out");
    std::fs::write(dir.path().join("demo.yaml"), pipeline).unwrap();
    let run = agingflow(dir.path(), &["run", "demo.yaml"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let out = dir.path().join("out");
    // (series, strain) pairs seen in a table.
    fn keys<T>(
        rows: &[T],
        f: impl Fn(&T) -> (Option<String>, Option<f64>),
    ) -> BTreeSet<(Option<String>, u64)> {
        rows.iter()
            .map(|r| {
                let (s, e) = f(r);
                (s, e.unwrap().to_bits())
            })
            .collect()
    }
    let want: BTreeSet<(Option<String>, u64)> = [
        (None, 0.001f64.to_bits()),
        (Some("fig-s4".to_owned()), 0.005f64.to_bits()),
    ]
    .into();
    let (fits, _) = tables::read_rows::<tables::KwwFit>(&out.join("kww_fits.parquet")).unwrap();
    assert_eq!(keys(&fits, |r| (r.series.clone(), r.strain)), want);
    let (law, _) = tables::read_rows::<tables::AgingLaw>(&out.join("aging_law.parquet")).unwrap();
    assert_eq!(keys(&law, |r| (r.series.clone(), r.strain)), want);
    // Each series at 633 K has its own two-stage law.
    for (s, _) in &want {
        let rows: Vec<_> = law
            .iter()
            .filter(|l| &l.series == s && l.temperature_k == 633.0)
            .collect();
        assert_eq!(rows.len(), 2, "{s:?}: {rows:?}");
    }
    let (ea, _) =
        tables::read_rows::<tables::ActivationEnergy>(&out.join("activation_energy.parquet"))
            .unwrap();
    assert_eq!(keys(&ea, |r| (r.series.clone(), r.strain)), want);
    let (mf, _) = tables::read_rows::<tables::ModelFit>(&out.join("model_fits.parquet")).unwrap();
    assert_eq!(keys(&mf, |r| (r.series.clone(), r.strain)), want);
    let (mc, _) =
        tables::read_rows::<tables::ModelCurve>(&out.join("model_curves.parquet")).unwrap();
    assert_eq!(keys(&mc, |r| (r.series.clone(), r.strain)), want);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report/summary.json")).unwrap())
            .unwrap();
    let groups: Vec<&serde_json::Value> = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["temperature_k"] == 633.0)
        .collect();
    assert_eq!(groups.len(), 2, "{summary}");
    assert!(
        groups
            .iter()
            .any(|g| g["series"] == "fig-s4" && g["strain"] == 0.005),
        "{summary}"
    );
    let page = std::fs::read_to_string(out.join("report/index.html")).unwrap();
    assert!(
        page.contains("series fig-s4, strain 0.5 %"),
        "the report names the series"
    );
    // The figures draw each series on its own: the beta and tau figures have a legend entry
    // per (series, strain) at 633 K, the E_a figure one per series.
    for fig in [
        "beta_vs_aging_time",
        "tau_vs_aging_time",
        "activation_energy",
    ] {
        let svg = std::fs::read_to_string(out.join(format!("report/figures/{fig}.svg"))).unwrap();
        for who in [
            "TiZrHfCuNiBe, strain 0.1 %",
            "TiZrHfCuNiBe, series fig-s4, strain 0.5 %",
        ] {
            assert!(svg.contains(who), "{fig}: no legend entry {who:?}");
        }
    }
}
