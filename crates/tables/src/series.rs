//! The grouping key of per-series results (docs/tables.md): material, the manifest's
//! `series:` label, the nominal step strain and the temperature. Tests that differ in any of
//! them are never pooled into one law, one Arrhenius line or one model comparison.

/// (material, series, strain, temperature), ordered as the tables sort them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub material: String,
    pub series: Option<String>,
    /// Bits of the (positive) nominal strain: their order is the numbers' order.
    strain_bits: Option<u64>,
    temperature_bits: u64,
}

impl SeriesKey {
    pub fn new(
        material: &str,
        series: &Option<String>,
        strain: Option<f64>,
        temperature_k: f64,
    ) -> Self {
        SeriesKey {
            material: material.to_owned(),
            series: series.clone(),
            strain_bits: strain.map(f64::to_bits),
            temperature_bits: temperature_k.to_bits(),
        }
    }
    /// The same key without the temperature (what an Arrhenius line pools over).
    pub fn without_temperature(&self) -> Self {
        SeriesKey {
            temperature_bits: 0,
            ..self.clone()
        }
    }
    pub fn strain(&self) -> Option<f64> {
        self.strain_bits.map(f64::from_bits)
    }
    pub fn temperature_k(&self) -> f64 {
        f64::from_bits(self.temperature_bits)
    }
    /// `material`, then `series LABEL` and `strain 0.1 %` where they are set, for messages and
    /// headings.
    pub fn label(&self) -> String {
        let mut s = self.material.clone();
        if let Some(l) = &self.series {
            s.push_str(&format!(", series {l}"));
        }
        if let Some(e) = self.strain() {
            s.push_str(&format!(", strain {} %", round_sig(e * 100.0, 3)));
        }
        s
    }
}

fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Nominal strains: strains within 10 % of each other (after sorting, each group starting at its
/// smallest) are one group, whose nominal value is its median rounded to 3 significant digits.
/// Measured strains scatter by far less than 10 %; the strains labs compare (0.1 %, 0.3 %, 0.5 %)
/// differ by far more. None stays None.
pub fn nominal_strains(strains: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut sorted: Vec<f64> = strains
        .iter()
        .flatten()
        .copied()
        .filter(|e| e.is_finite())
        .collect();
    sorted.sort_by(f64::total_cmp);
    // (low, high, nominal) per group.
    let mut groups: Vec<(f64, f64, f64)> = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i] > sorted[start] * 1.1 {
            let g = &sorted[start..i];
            groups.push((g[0], g[g.len() - 1], round_sig(g[g.len() / 2], 3)));
            start = i;
        }
    }
    strains
        .iter()
        .map(|e| e.and_then(|e| groups.iter().find(|g| e >= g.0 && e <= g.1).map(|g| g.2)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strains_group_by_their_nominal_value() {
        let got = nominal_strains(&[
            Some(0.0010003),
            Some(0.0050001),
            None,
            Some(0.0009996),
            Some(0.004999),
            Some(0.001),
        ]);
        assert_eq!(
            got,
            vec![
                Some(0.001),
                Some(0.005),
                None,
                Some(0.001),
                Some(0.005),
                Some(0.001)
            ]
        );
        let k = SeriesKey::new("G", &Some("a".into()), Some(0.001), 633.0);
        assert_eq!(k.label(), "G, series a, strain 0.1 %");
        assert!(SeriesKey::new("G", &None, Some(0.001), 633.0) < k);
    }
}
