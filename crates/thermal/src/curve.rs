//! A scan on a regular temperature grid (bin means), its smoothed value and slope (local
//! quadratic regression), straight-line fits with their covariance, and the tangent construction:
//! the inflection of a step or a peak's edge, the baselines either side, their intersections
//! with standard errors by the delta method.

/// Bin means of a scan on a regular temperature grid (empty bins left out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    pub t: Vec<f64>,
    pub y: Vec<f64>,
    /// Samples per bin.
    pub n: Vec<f64>,
}

/// Sorts finite (T, y) pairs by temperature. Flags: `cooling_scan` (the recorded temperature
/// mostly falls), `temperature_not_monotone` (more than 5 % of the steps go the other way).
pub fn prepare(t: &[f64], y: &[Option<f64>]) -> (Vec<(f64, f64)>, Vec<&'static str>) {
    let mut pts: Vec<(f64, f64)> = t
        .iter()
        .zip(y)
        .filter_map(|(&t, y)| match y {
            Some(y) if t.is_finite() && y.is_finite() => Some((t, *y)),
            _ => None,
        })
        .collect();
    let mut flags = Vec::new();
    let (up, down) = pts.windows(2).fold((0usize, 0usize), |(u, d), w| {
        if w[1].0 > w[0].0 {
            (u + 1, d)
        } else if w[1].0 < w[0].0 {
            (u, d + 1)
        } else {
            (u, d)
        }
    });
    if down > up {
        flags.push("cooling_scan");
    }
    if up.min(down) * 20 > up + down {
        flags.push("temperature_not_monotone");
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    (pts, flags)
}

/// Bin means on a grid of `step_k` starting at the lowest temperature.
pub fn bin(pts: &[(f64, f64)], step_k: f64) -> Grid {
    let mut g = Grid::default();
    let Some(&(t0, _)) = pts.first() else {
        return g;
    };
    let mut cur: Option<(i64, f64, f64, f64)> = None;
    for &(t, y) in pts {
        let k = ((t - t0) / step_k).floor() as i64;
        match &mut cur {
            Some((kk, st, sy, n)) if *kk == k => {
                *st += t;
                *sy += y;
                *n += 1.0;
            }
            _ => {
                if let Some((_, st, sy, n)) = cur {
                    g.t.push(st / n);
                    g.y.push(sy / n);
                    g.n.push(n);
                }
                cur = Some((k, t, y, 1.0));
            }
        }
    }
    if let Some((_, st, sy, n)) = cur {
        g.t.push(st / n);
        g.y.push(sy / n);
        g.n.push(n);
    }
    g
}

/// Smoothed value and slope at each grid point: weighted quadratic regression over the points
/// within `half_width_k`.
pub fn smooth(g: &Grid, half_width_k: f64) -> (Vec<f64>, Vec<f64>) {
    let m = g.t.len();
    let (mut val, mut slope) = (vec![f64::NAN; m], vec![f64::NAN; m]);
    let mut lo = 0;
    let mut hi = 0;
    for i in 0..m {
        let x0 = g.t[i];
        while g.t[lo] < x0 - half_width_k {
            lo += 1;
        }
        while hi < m && g.t[hi] <= x0 + half_width_k {
            hi += 1;
        }
        // Normal equations of y = a + b u + c u^2, u = x - x0.
        let mut s = [0.0; 5];
        let mut r = [0.0; 3];
        for j in lo..hi {
            let u = g.t[j] - x0;
            let w = g.n[j];
            let mut p = w;
            for sk in s.iter_mut() {
                *sk += p;
                p *= u;
            }
            r[0] += w * g.y[j];
            r[1] += w * g.y[j] * u;
            r[2] += w * g.y[j] * u * u;
        }
        if hi - lo < 4 {
            continue;
        }
        let a = [s[0], s[1], s[2], s[1], s[2], s[3], s[2], s[3], s[4]];
        if let Some(x) = solve3(a, r) {
            val[i] = x[0];
            slope[i] = x[1];
        }
    }
    (val, slope)
}

fn solve3(a: [f64; 9], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[f64; 9]| {
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6])
    };
    let d = det(&a);
    if !d.is_finite() || d.abs() < 1e-300 {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = a;
        for row in 0..3 {
            m[row * 3 + k] = b[row];
        }
        *o = det(&m) / d;
    }
    Some(out)
}

/// A fitted straight line y = a + b (x - x0), x0 the weighted mean of its points, with the
/// variances of a and b (uncorrelated at x0) from the residual scatter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub x0: f64,
    pub a: f64,
    pub b: f64,
    pub var_a: f64,
    pub var_b: f64,
    /// Points fitted and the temperature span they cover.
    pub n: usize,
    pub lo: f64,
    pub hi: f64,
}

impl Line {
    pub fn at(&self, x: f64) -> f64 {
        self.a + self.b * (x - self.x0)
    }
    pub fn var_at(&self, x: f64) -> f64 {
        self.var_a + (x - self.x0).powi(2) * self.var_b
    }
    /// (intercept at x = 0, slope).
    pub fn intercept_slope(&self) -> (f64, f64) {
        (self.a - self.b * self.x0, self.b)
    }
}

/// Weighted (by bin counts) least-squares line through the grid points in [lo, hi]; needs 4.
pub fn fit_line(g: &Grid, lo: f64, hi: f64) -> Option<Line> {
    let idx: Vec<usize> = (0..g.t.len())
        .filter(|&i| g.t[i] >= lo && g.t[i] <= hi)
        .collect();
    if idx.len() < 4 {
        return None;
    }
    let sw: f64 = idx.iter().map(|&i| g.n[i]).sum();
    let x0 = idx.iter().map(|&i| g.n[i] * g.t[i]).sum::<f64>() / sw;
    let y0 = idx.iter().map(|&i| g.n[i] * g.y[i]).sum::<f64>() / sw;
    let sxx: f64 = idx.iter().map(|&i| g.n[i] * (g.t[i] - x0).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = idx
        .iter()
        .map(|&i| g.n[i] * (g.t[i] - x0) * (g.y[i] - y0))
        .sum::<f64>()
        / sxx;
    let rss: f64 = idx
        .iter()
        .map(|&i| g.n[i] * (g.y[i] - y0 - b * (g.t[i] - x0)).powi(2))
        .sum();
    let s2 = rss / (idx.len() - 2) as f64;
    Some(Line {
        x0,
        a: y0,
        b,
        var_a: s2 / sw,
        var_b: s2 / sxx,
        n: idx.len(),
        lo: g.t[idx[0]],
        hi: g.t[idx[idx.len() - 1]],
    })
}

/// Where two independent lines cross, with its standard error (delta method).
pub fn intersect(l1: &Line, l2: &Line) -> Option<(f64, f64)> {
    let d = l1.b - l2.b;
    if d == 0.0 || !d.is_finite() {
        return None;
    }
    let x = (l2.a - l1.a + l1.b * l1.x0 - l2.b * l2.x0) / d;
    let var =
        (l1.var_a + l2.var_a + (l1.x0 - x).powi(2) * l1.var_b + (x - l2.x0).powi(2) * l2.var_b)
            / (d * d);
    x.is_finite().then_some((x, var.sqrt()))
}

/// The median of finite values.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut w: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if w.is_empty() {
        return None;
    }
    w.sort_by(f64::total_cmp);
    Some(w[w.len() / 2])
}

/// A derivative lobe: the inflection (grid index), where the lobe rises above 10 % of its height
/// each side, and its height over the median slope in SDs of the slope's scatter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lobe {
    pub at: usize,
    pub lo: usize,
    pub hi: usize,
    pub significance: f64,
}

impl Lobe {
    /// The SD of a Gaussian lobe with these 10 % points (at +-2.146 SD).
    pub fn sigma_k(&self, g: &Grid) -> f64 {
        ((g.t[self.hi] - g.t[self.lo]) / (2.0 * 2.146)).max(1e-9)
    }
}

/// The largest lobe of `sign * slope` within grid indices [from, to).
pub fn lobe(slope: &[f64], sign: f64, from: usize, to: usize) -> Option<Lobe> {
    lobe_with(slope, sign, from, to, None)
}

/// [`lobe`] whose scatter is measured about the slope's running median over +-`half` grid
/// points instead of its overall median: a real scan's baseline slope drifts over a few hundred
/// kelvin (the heat capacity's own rise, the instrument's curvature), which is not noise.
pub fn lobe_detrended(
    slope: &[f64],
    sign: f64,
    from: usize,
    to: usize,
    half: usize,
) -> Option<Lobe> {
    lobe_with(slope, sign, from, to, Some(half))
}

fn lobe_with(
    slope: &[f64],
    sign: f64,
    from: usize,
    to: usize,
    half: Option<usize>,
) -> Option<Lobe> {
    let to = to.min(slope.len());
    if to <= from + 8 {
        return None;
    }
    let s: Vec<f64> = slope[from..to].iter().map(|d| sign * d).collect();
    let base = median(&s)?;
    let dev: Vec<f64> = match half {
        None => s.iter().map(|d| (d - base).abs()).collect(),
        Some(h) => (0..s.len())
            .map(|i| {
                let w = &s[i.saturating_sub(h)..(i + h + 1).min(s.len())];
                median(w).map_or(f64::NAN, |m| (s[i] - m).abs())
            })
            .collect(),
    };
    let noise = 1.4826 * median(&dev)?;
    let (k, &peak) = s
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let height = peak - base;
    if height <= 0.0 {
        return None;
    }
    let (mut lo, mut hi) = (k, k);
    while lo > 0 && s[lo - 1].is_finite() && s[lo - 1] - base > 0.1 * height {
        lo -= 1;
    }
    while hi + 1 < s.len() && s[hi + 1].is_finite() && s[hi + 1] - base > 0.1 * height {
        hi += 1;
    }
    Some(Lobe {
        at: from + k,
        lo: from + lo,
        hi: from + hi,
        significance: if noise > 0.0 {
            height / noise
        } else {
            f64::INFINITY
        },
    })
}

/// The tangent construction at a lobe: the baseline before it (and after it), and the tangent at
/// the inflection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Construction {
    pub inflection_k: f64,
    pub tangent: Line,
    pub before: Option<Line>,
    pub after: Option<Line>,
}

/// Builds the construction: the tangent at the inflection of a cubic fitted over +-1 sigma of
/// the lobe's peak (a straight chord there would be flatter than the tangent by about
/// h^2/10 for a window of +-h sigma, biasing the onset low and the end high), the baselines over
/// up to `span_k` beginning one sigma outside the lobe, within [lo_k, hi_k].
pub fn construct(g: &Grid, l: &Lobe, span_k: f64, lo_k: f64, hi_k: f64) -> Option<Construction> {
    let sigma = l.sigma_k(g);
    let ti = g.t[l.at];
    let step = (g.t[g.t.len() - 1] - g.t[0]) / (g.t.len() - 1).max(1) as f64;
    let hw = sigma.max(4.5 * step);
    let tangent = cubic_tangent(g, ti, hw)?;
    let b_hi = g.t[l.lo] - sigma;
    let before = fit_line(g, (b_hi - span_k).max(lo_k), b_hi);
    let a_lo = g.t[l.hi] + sigma;
    let after = fit_line(g, a_lo, (a_lo + span_k).min(hi_k));
    Some(Construction {
        inflection_k: tangent.x0,
        tangent,
        before,
        after,
    })
}

/// The tangent at the inflection of a weighted cubic fitted to the points within `hw` of `x0`:
/// a line through the inflection with the cubic's slope there, and the variances of its value and
/// slope from the fit (at the window's centre).
pub fn cubic_tangent(g: &Grid, x0: f64, hw: f64) -> Option<Line> {
    let idx: Vec<usize> = (0..g.t.len())
        .filter(|&i| (g.t[i] - x0).abs() <= hw)
        .collect();
    if idx.len() < 8 {
        return None;
    }
    let rows: Vec<f64> = idx
        .iter()
        .flat_map(|&i| {
            let u = (g.t[i] - x0) / hw;
            let w = g.n[i].sqrt();
            [w, w * u, w * u * u, w * u * u * u]
        })
        .collect();
    let yw: Vec<f64> = idx.iter().map(|&i| g.y[i] * g.n[i].sqrt()).collect();
    let m = idx.len();
    let p = fit::linalg::lstsq(&rows, m, 4, &yw);
    if p.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let rss: f64 = rows
        .chunks(4)
        .zip(&yw)
        .map(|(r, y)| (y - r.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>()).powi(2))
        .sum();
    let s2 = rss / (m - 4) as f64;
    let mut ata = vec![0.0; 16];
    for r in rows.chunks(4) {
        for a in 0..4 {
            for b in 0..4 {
                ata[a * 4 + b] += r[a] * r[b];
            }
        }
    }
    let inv = invert(&ata, 4)?;
    // Inflection where the second derivative 2c + 6d u vanishes, kept inside the window.
    let ui = if p[3] != 0.0 {
        (-p[2] / (3.0 * p[3])).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let value = p[0] + p[1] * ui + p[2] * ui * ui + p[3] * ui.powi(3);
    let slope = (p[1] + 2.0 * p[2] * ui + 3.0 * p[3] * ui * ui) / hw;
    Some(Line {
        x0: x0 + ui * hw,
        a: value,
        b: slope,
        var_a: s2 * inv[0],
        var_b: s2 * inv[5] / (hw * hw),
        n: m,
        lo: g.t[idx[0]],
        hi: g.t[idx[m - 1]],
    })
}

/// Inverse of an n x n matrix (row-major) by Gauss-Jordan with partial pivoting.
pub(crate) fn invert(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for c in 0..n {
        let piv = (c..n).max_by(|&x, &y| m[x * n + c].abs().total_cmp(&m[y * n + c].abs()))?;
        if m[piv * n + c].abs() < 1e-300 {
            return None;
        }
        for k in 0..n {
            m.swap(c * n + k, piv * n + k);
            inv.swap(c * n + k, piv * n + k);
        }
        let d = m[c * n + c];
        for k in 0..n {
            m[c * n + k] /= d;
            inv[c * n + k] /= d;
        }
        for r in 0..n {
            if r != c {
                let f = m[r * n + c];
                if f != 0.0 {
                    for k in 0..n {
                        m[r * n + k] -= f * m[c * n + k];
                        inv[r * n + k] -= f * inv[c * n + k];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cross_where_they_should() {
        let g = Grid {
            t: (0..20).map(f64::from).collect(),
            y: (0..20).map(|i| 1.0 + 0.5 * f64::from(i)).collect(),
            n: vec![1.0; 20],
        };
        let l1 = fit_line(&g, 0.0, 19.0).unwrap();
        let l2 = Line {
            x0: 0.0,
            a: 3.0,
            b: 0.0,
            var_a: 0.0,
            var_b: 0.0,
            n: 2,
            lo: 0.0,
            hi: 1.0,
        };
        let (x, _) = intersect(&l1, &l2).unwrap();
        assert!((x - 4.0).abs() < 1e-9);
    }

    #[test]
    fn smoothing_recovers_a_quadratic_exactly() {
        let t: Vec<f64> = (0..50).map(|i| f64::from(i) * 0.5).collect();
        let g = Grid {
            y: t.iter().map(|x| 2.0 + 0.3 * x - 0.01 * x * x).collect(),
            n: vec![1.0; t.len()],
            t,
        };
        let (v, d) = smooth(&g, 2.0);
        for i in 0..g.t.len() {
            let x = g.t[i];
            assert!((v[i] - (2.0 + 0.3 * x - 0.01 * x * x)).abs() < 1e-9);
            assert!((d[i] - (0.3 - 0.02 * x)).abs() < 1e-9);
        }
    }

    #[test]
    fn cooling_and_shuffled_scans_are_flagged_and_sorted() {
        let t = [10.0, 9.0, 8.0, 7.0];
        let y = [Some(1.0), Some(2.0), None, Some(4.0)];
        let (p, f) = prepare(&t, &y);
        assert_eq!(p, vec![(7.0, 4.0), (9.0, 2.0), (10.0, 1.0)]);
        assert_eq!(f, vec!["cooling_scan"]);
        let (_, f) = prepare(&[1.0, 3.0, 2.0, 4.0, 3.0, 5.0], &[Some(0.0); 6]);
        assert!(f.contains(&"temperature_not_monotone"));
    }
}
