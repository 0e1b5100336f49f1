//! Monotone piecewise-cubic (PCHIP, Fritsch-Carlson) interpolation: smooth, no overshoot, and a
//! local extremum at a knot stays exactly there.

/// Interpolates knots `(x, y)` (x strictly increasing) at `x`; constant outside the knots.
pub fn pchip(knots: &[(f64, f64)], x: f64) -> f64 {
    let n = knots.len();
    match n {
        0 => return f64::NAN,
        1 => return knots[0].1,
        _ => {}
    }
    if x <= knots[0].0 {
        return knots[0].1;
    }
    if x >= knots[n - 1].0 {
        return knots[n - 1].1;
    }
    let h: Vec<f64> = knots.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let d: Vec<f64> = knots
        .windows(2)
        .zip(&h)
        .map(|(w, h)| (w[1].1 - w[0].1) / h)
        .collect();
    let mut m = vec![0.0; n];
    m[0] = d[0];
    m[n - 1] = d[n - 2];
    for k in 1..n - 1 {
        if d[k - 1] * d[k] > 0.0 {
            let w1 = 2.0 * h[k] + h[k - 1];
            let w2 = h[k] + 2.0 * h[k - 1];
            m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k]);
        }
    }
    if n == 2 {
        m = vec![d[0], d[0]];
    }
    let k = knots.windows(2).position(|w| x < w[1].0).unwrap_or(n - 2);
    let t = (x - knots[k].0) / h[k];
    let (y0, y1) = (knots[k].1, knots[k + 1].1);
    let h00 = (1.0 + 2.0 * t) * (1.0 - t) * (1.0 - t);
    let h10 = t * (1.0 - t) * (1.0 - t);
    let h01 = t * t * (3.0 - 2.0 * t);
    let h11 = t * t * (t - 1.0);
    h00 * y0 + h10 * h[k] * m[k] + h01 * y1 + h11 * h[k] * m[k + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_through_knots_and_keeps_the_peak() {
        let k = [(1.0, 0.4), (2.0, 0.5), (4.0, 0.42)];
        for (x, y) in k {
            assert!((pchip(&k, x) - y).abs() < 1e-12);
        }
        for i in 0..400 {
            let x = 1.0 + 3.0 * i as f64 / 399.0;
            assert!(pchip(&k, x) <= 0.5 + 1e-12, "overshoot at {x}");
        }
        assert!(pchip(&k, 1.9) < 0.5 && pchip(&k, 2.1) < 0.5);
        assert_eq!(pchip(&k, 0.0), 0.4);
    }
}
