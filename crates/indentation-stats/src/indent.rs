//! One indent: the loading segment, the first pop-in, the Hertz fit before it, tau_c.
//!
//! Loading segment ([`loading_segment`]): real protocols approach the surface, touch, lift off,
//! hold for drift, preload: the segment analysed starts at the **last contact before the
//! maximum load** (after the last sample below `contact_load_un`, walking back from the first
//! sample at 98 % of the maximum). Pop-ins and the Hertz fit use only that segment.
//!
//! Pop-in rule: along the loading segment, the depth increments are
//! detrended by their running median (21 samples); the noise level sigma is 1.4826 times the
//! median absolute detrended increment. A burst is a run of w = 1, 2 or 3 samples whose detrended
//! depth gain exceeds both k sigma and `min_burst_nm` (the sum of w increments is h[i+w] - h[i],
//! whose noise does not grow with w), while the load gained over it stays below half the usual
//! loading increment plus 3 load-noise sigmas (nearly constant load). The burst's start is then
//! moved past leading increments that are within 2 sigma of the trend or carry a normal loading
//! step, so P_popin is the load just before the first increment that belongs to the burst.
//!
//! Status (`ok` means a person may use the number): a pop-in at depth <= 0 or at a load not
//! above the contact load is `popin_implausible`; a Hertz fit with R^2 < 0.9 or whose residuals
//! run systematically (their smoothed part larger than 5 % of the fitted depth range) is
//! `poor_hertz_fit`; E_r more than 5 robust SDs off the other indents of its array (material,
//! temperature, aging time) is `modulus_outlier` (flag on a censored indent) — see
//! [`mark_modulus_outliers`].

use fit::{Bound, Model, Options, least_squares};
use physics::indentation::{hertz_depth_nm, tau_c_gpa};
use tables::{Indent, IndentationRaw};

/// Detection and fit settings.
#[derive(Debug, Clone, PartialEq)]
pub struct IndentOptions {
    /// Points below this load are not in contact (approach, noise).
    pub contact_load_un: f64,
    /// A burst must exceed this many noise sigmas (per sqrt(sample)).
    pub burst_sigmas: f64,
    /// And this size.
    pub min_burst_nm: f64,
    /// Fewer Hertz points than this flags the fit.
    pub min_hertz_points: usize,
}

impl Default for IndentOptions {
    fn default() -> Self {
        IndentOptions {
            contact_load_un: 10.0,
            burst_sigmas: 5.0,
            min_burst_nm: 1.0,
            min_hertz_points: 8,
        }
    }
}

/// The median of `x[i - half ..= i + half]` (clipped to the ends) for every `i`: the same values
/// as sorting each window, from one sorted window updated by one insertion and one removal a step.
fn running_median(x: &[f64], half: usize) -> Vec<f64> {
    let n = x.len();
    let mut window: Vec<f64> = Vec::with_capacity(2 * half + 1);
    let place = |w: &[f64], v: f64| w.partition_point(|u| u.total_cmp(&v).is_lt());
    let (mut a, mut b) = (0, 0);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        while b < (i + half + 1).min(n) {
            let at = place(&window, x[b]);
            window.insert(at, x[b]);
            b += 1;
        }
        while a < i.saturating_sub(half) {
            // The first element not below x[a] is x[a] itself (equal under total_cmp means the
            // same bits).
            let at = place(&window, x[a]);
            window.remove(at);
            a += 1;
        }
        let m = window.len();
        out.push(if m % 2 == 1 {
            window[m / 2]
        } else {
            0.5 * (window[m / 2 - 1] + window[m / 2])
        });
    }
    out
}

/// The first pop-in of a loading curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Popin {
    /// Index of the sample just before the burst.
    pub index: usize,
    pub load_un: f64,
    pub depth_nm: f64,
    pub burst_nm: f64,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The first pop-in on (depth, load) samples of a loading segment, or None.
pub fn first_popin(depth: &[f64], load: &[f64], opts: &IndentOptions) -> Option<Popin> {
    first_popin_above(depth, load, opts.contact_load_un, opts)
}

/// [`first_popin`] with the contact load found for this curve.
fn first_popin_above(
    depth: &[f64],
    load: &[f64],
    contact_un: f64,
    opts: &IndentOptions,
) -> Option<Popin> {
    let start = load.iter().position(|&p| p >= contact_un)?;
    let h = &depth[start..];
    let p = &load[start..];
    if h.len() < 8 {
        return None;
    }
    let dh: Vec<f64> = h.windows(2).map(|w| w[1] - w[0]).collect();
    let dp: Vec<f64> = p.windows(2).map(|w| w[1] - w[0]).collect();
    let n = dh.len();
    let baseline = running_median(&dh, 10);
    let e: Vec<f64> = dh.iter().zip(&baseline).map(|(d, b)| d - b).collect();
    let sigma = 1.4826 * median(&mut e.iter().map(|x| x.abs()).collect::<Vec<_>>());
    let dp_typ = median(&mut dp.clone());
    let sigma_p = 1.4826 * median(&mut dp.iter().map(|x| (x - dp_typ).abs()).collect::<Vec<_>>())
        / 2f64.sqrt();
    let threshold = (opts.burst_sigmas * sigma).max(opts.min_burst_nm);
    for i in 0..n {
        for w in 1..=3usize {
            let end = i + w;
            if end > n {
                break;
            }
            let gained: f64 = e[i..end].iter().sum();
            let load_gain = p[end] - p[i];
            if gained > threshold && load_gain < 0.5 * w as f64 * dp_typ.max(0.0) + 3.0 * sigma_p {
                // Move the start past leading increments that belong to the trend: small in depth,
                // or with a normal loading step in load (the burst itself is at constant load).
                let mut first = i;
                while first + 1 < end
                    && (e[first] < 2.0 * sigma || dp[first] > 0.5 * dp_typ + 2.0 * sigma_p)
                    && e[first + 1..end].iter().sum::<f64>() > threshold
                {
                    first += 1;
                }
                // The burst goes on while increments stay above the noise.
                let mut last = end;
                while last < n && e[last] > 3.0 * sigma {
                    last += 1;
                }
                let burst: f64 = e[first..last].iter().sum();
                return Some(Popin {
                    index: start + first,
                    load_un: p[first],
                    depth_nm: h[first],
                    burst_nm: burst,
                });
            }
        }
    }
    None
}

/// Depth as a function of load: h = h0 + (3 P / (4 E_r sqrt(R)))^(2/3); params [E_r GPa, h0 nm].
struct Hertz<'a> {
    load: &'a [f64],
    radius_nm: f64,
}

impl Model for Hertz<'_> {
    fn n_params(&self) -> usize {
        2
    }
    fn n_obs(&self) -> usize {
        self.load.len()
    }
    fn eval(&self, p: &[f64], out: &mut [f64]) {
        for (o, &l) in out.iter_mut().zip(self.load) {
            *o = p[1] + hertz_depth_nm(l, p[0], self.radius_nm);
        }
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        for (i, &l) in self.load.iter().enumerate() {
            jac[i * 2] = -2.0 / 3.0 * hertz_depth_nm(l, p[0], self.radius_nm) / p[0];
            jac[i * 2 + 1] = 1.0;
        }
        true
    }
}

/// The result of a Hertz fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HertzFit {
    pub er_gpa: f64,
    pub er_se_gpa: f64,
    pub h0_nm: f64,
    pub r_squared: f64,
    pub n_points: usize,
    /// The largest running mean of the residuals (over a tenth of the points) over the fitted
    /// depth range: a few per cent at most for a curve that is Hertzian.
    pub misfit: f64,
}

/// Fits Hertz to loading samples (load above contact) up to index `end` (exclusive).
pub fn hertz(
    depth: &[f64],
    load: &[f64],
    radius_nm: f64,
    opts: &IndentOptions,
) -> Option<HertzFit> {
    hertz_above(depth, load, radius_nm, opts.contact_load_un, opts)
}

/// [`hertz`] with the contact load found for this curve.
fn hertz_above(
    depth: &[f64],
    load: &[f64],
    radius_nm: f64,
    contact_un: f64,
    opts: &IndentOptions,
) -> Option<HertzFit> {
    let (h, p): (Vec<f64>, Vec<f64>) = depth
        .iter()
        .zip(load)
        .filter(|(_, l)| **l >= contact_un)
        .map(|(a, b)| (*a, *b))
        .unzip();
    if h.len() < opts.min_hertz_points.max(3) {
        return None;
    }
    let model = Hertz {
        load: &p,
        radius_nm,
    };
    let er0 = 100.0;
    let last = h.len() - 1;
    let h00 = h[last] - hertz_depth_nm(p[last], er0, radius_nm);
    let fopts = Options {
        bounds: vec![Bound::Both(0.1, 5000.0), Bound::Free],
        ..Options::default()
    };
    let f = least_squares(&model, &h, None, &[er0, h00], &fopts).ok()?;
    let mean = h.iter().sum::<f64>() / h.len() as f64;
    let sst: f64 = h.iter().map(|v| (v - mean).powi(2)).sum();
    // Systematic misfit: the residuals' running mean over a tenth of the points (at least 5),
    // its largest size against the fitted depth range.
    let fitted: Vec<f64> = p
        .iter()
        .map(|&l| f.params[1] + hertz_depth_nm(l, f.params[0], radius_nm))
        .collect();
    let resid: Vec<f64> = h.iter().zip(&fitted).map(|(a, b)| a - b).collect();
    let half = (h.len() / 20).max(2);
    let mut worst: f64 = 0.0;
    for i in 0..resid.len() {
        let (a, b) = (i.saturating_sub(half), (i + half + 1).min(resid.len()));
        let m = resid[a..b].iter().sum::<f64>() / (b - a) as f64;
        worst = worst.max(m.abs());
    }
    let range = fitted.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
        - fitted.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    Some(HertzFit {
        er_gpa: f.params[0],
        er_se_gpa: f.se[0],
        h0_nm: f.params[1],
        r_squared: 1.0 - f.rss / sst,
        n_points: h.len(),
        misfit: if range > 0.0 {
            worst / range
        } else {
            f64::INFINITY
        },
    })
}

/// The loading part: from the start to the first sample at 98 % of the maximum load.
pub fn loading_part(load: &[f64]) -> usize {
    let max = load
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    load.iter()
        .position(|&p| p >= 0.98 * max)
        .map(|i| i + 1)
        .unwrap_or(load.len())
}

/// The loading segment `[start, end)`: from the last contact before the maximum load (the
/// sample after the last one below `contact_load_un`) to the first sample at 98 % of the
/// maximum load.
pub fn loading_segment(load: &[f64], opts: &IndentOptions) -> (usize, usize) {
    let end = loading_part(load);
    let start = (0..end)
        .rev()
        .find(|&i| load[i] < opts.contact_load_un)
        .map_or(0, |i| i + 1);
    (start, end)
}

/// Analyses one indent into its `indents` row.
pub fn analyze(c: &IndentationRaw, opts: &IndentOptions) -> Indent {
    let mut row = Indent {
        indent_id: c.indent_id.clone(),
        material: c.material.clone(),
        temperature_k: c.temperature_k,
        aging_time_s: c.aging_time_s,
        tip_radius_nm: c.tip_radius_nm,
        status: tables::Status::Ok.into(),
        ..Default::default()
    };
    let mut flags: Vec<&str> = Vec::new();
    // The status the analysis reached, then what the flags say of it (tables::status: which
    // flags take `ok` away).
    let finish = |mut row: Indent, status: &str, flags: &mut Vec<&str>| {
        flags.sort_unstable();
        row.flags = flags.join(",");
        row.status = tables::status::settled(status, &row.flags);
        row
    };
    if c.depth_nm.iter().chain(&c.load_un).any(|v| !v.is_finite()) {
        return finish(row, "non_finite_values", &mut flags);
    }
    if !(c.tip_radius_nm.is_finite() && c.tip_radius_nm > 0.0) {
        return finish(row, "no_tip_radius", &mut flags);
    }
    let (start, end) = loading_segment(&c.load_un, opts);
    let contact = opts.contact_load_un;
    // An earlier contact that was left again (a touch and lift-off before the real loading).
    if c.load_un[..start].iter().any(|&l| l >= contact) {
        flags.push("contact_before_loading");
    }
    let (h, p) = (&c.depth_nm[start..end], &c.load_un[start..end]);
    if p.iter().filter(|&&l| l >= contact).count() < opts.min_hertz_points {
        return finish(row, "too_few_points", &mut flags);
    }
    let popin = first_popin_above(h, p, contact, opts);
    let hertz_end = popin.map(|q| q.index + 1).unwrap_or(h.len());
    let Some(hz) = hertz_above(
        &h[..hertz_end],
        &p[..hertz_end],
        c.tip_radius_nm,
        contact,
        opts,
    ) else {
        flags.push("too_few_hertz_points");
        return finish(row, "fit_failed", &mut flags);
    };
    row.er_gpa = Some(hz.er_gpa);
    row.er_se_gpa = Some(hz.er_se_gpa).filter(|v| v.is_finite());
    row.h0_nm = Some(hz.h0_nm);
    row.hertz_r_squared = Some(hz.r_squared);
    row.hertz_n_points = hz.n_points as i64;
    if hz.r_squared < 0.9 {
        flags.push("poor_hertz_fit");
    }
    if hz.misfit > 0.05 {
        flags.push("hertz_misfit");
    }
    match popin {
        Some(q) => {
            row.popin_load_un = Some(q.load_un);
            row.popin_depth_nm = Some(q.depth_nm);
            row.popin_burst_nm = Some(q.burst_nm);
            row.tau_c_gpa = Some(tau_c_gpa(hz.er_gpa, q.load_un, c.tip_radius_nm));
            if !(q.depth_nm > 0.0 && q.load_un > contact) {
                flags.push("popin_before_contact");
            }
            finish(row, tables::Status::Ok.as_str(), &mut flags)
        }
        None => finish(row, "censored", &mut flags),
    }
}

/// Marks indents whose E_r lies more than 5 robust SDs (1.4826 MAD) from the median of their
/// array (same material, temperature and aging time; at least 5 indents with an E_r): flag
/// `modulus_outlier`, and an `ok` row becomes `modulus_outlier` (its tau_c rests on that E_r).
pub fn mark_modulus_outliers(rows: &mut [Indent]) {
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len()
            && rows[j].material == rows[i].material
            && rows[j].temperature_k == rows[i].temperature_k
            && rows[j].aging_time_s == rows[i].aging_time_s
        {
            j += 1;
        }
        let mut er: Vec<f64> = rows[i..j].iter().filter_map(|r| r.er_gpa).collect();
        if er.len() >= 5 {
            let m = median(&mut er);
            let mut dev: Vec<f64> = er.iter().map(|x| (x - m).abs()).collect();
            let sd = 1.4826 * median(&mut dev);
            for r in &mut rows[i..j] {
                if let Some(e) = r.er_gpa
                    && sd > 0.0
                    && (e - m).abs() > 5.0 * sd
                {
                    tables::add_flag(&mut r.flags, "modulus_outlier");
                    tables::status::settle(&mut r.status, &r.flags);
                }
            }
        }
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_median_is_the_median_of_each_sorted_window() {
        // Rounded values so that windows hold ties, and both zeros.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state % 41) as f64 - 20.0) * 0.25
        };
        for n in [0usize, 1, 2, 5, 20, 21, 22, 200] {
            let mut x: Vec<f64> = (0..n).map(|_| next()).collect();
            if n > 3 {
                x[1] = -0.0;
                x[2] = 0.0;
            }
            for half in [0usize, 1, 10] {
                let fast = running_median(&x, half);
                assert_eq!(fast.len(), n);
                for (i, got) in fast.iter().enumerate() {
                    let (a, b) = (i.saturating_sub(half), (i + half + 1).min(n));
                    let want = median(&mut x[a..b].to_vec());
                    assert_eq!(got.to_bits(), want.to_bits(), "n {n} half {half} i {i}");
                }
            }
        }
    }
}
