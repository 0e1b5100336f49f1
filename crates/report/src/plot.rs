//! A small, deterministic SVG plotter for the report's figures: linear or log axes with units,
//! lines, points with error bars, shaded bands, vertical markers, a legend; one or more panels per
//! figure. Numbers are written with fixed decimals so the same data give the same bytes.

use std::fmt::Write as _;

/// Colours for series, in order (colour-blind-safe palette).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    Line,
    Points,
    LinePoints,
    Dashed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Per point (low, high) of y.
    pub errors: Option<Vec<(f64, f64)>>,
    pub style: Style,
    pub color: &'static str,
}

impl Series {
    pub fn new(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: &'static str,
    ) -> Self {
        Series {
            label: label.into(),
            points,
            errors: None,
            style,
            color,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Axis {
    pub label: String,
    pub log: bool,
    /// On a log axis, show x = 0 at the left edge with a `0` tick (aging time 0).
    pub zero_at_edge: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Horizontal bands (y low, y high, label).
    pub bands: Vec<(f64, f64, String)>,
    /// Vertical markers (x, label).
    pub vlines: Vec<(f64, String)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figure {
    /// File name stem (`beta_vs_aging_time`).
    pub name: String,
    pub title: String,
    pub panels: Vec<Panel>,
}

const W: f64 = 640.0;
const PH: f64 = 360.0;
const L: f64 = 78.0;
const R: f64 = 170.0;
const T: f64 = 34.0;
const B: f64 = 52.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        if (m - m.round()).abs() < 1e-9 {
            format!("{}e{e}", m.round())
        } else {
            format!("{m:.1}e{e}")
        }
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Maps data to pixels along one axis.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    zero_pos: Option<f64>,
}

impl Scale {
    fn new(values: &[f64], axis: &Axis) -> Scale {
        let vals: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && (!axis.log || *v > 0.0))
            .collect();
        let (mut lo, mut hi) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if !lo.is_finite() {
            (lo, hi) = if axis.log { (1.0, 10.0) } else { (0.0, 1.0) };
        }
        if axis.log {
            let (a, b) = (lo.log10().floor(), hi.log10().ceil());
            let b = if b <= a { a + 1.0 } else { b };
            let zero_pos = (axis.zero_at_edge && values.contains(&0.0)).then_some(a - 0.5);
            Scale {
                lo: zero_pos.unwrap_or(a),
                hi: b,
                log: true,
                zero_pos,
            }
        } else {
            let pad = if hi > lo {
                0.06 * (hi - lo)
            } else {
                0.5 * lo.abs().max(1.0)
            };
            Scale {
                lo: lo - pad,
                hi: hi + pad,
                log: false,
                zero_pos: None,
            }
        }
    }

    fn t(&self, v: f64) -> Option<f64> {
        let x = if self.log {
            if v > 0.0 {
                v.log10()
            } else if v == 0.0 {
                self.zero_pos?
            } else {
                return None;
            }
        } else {
            v
        };
        x.is_finite().then_some((x - self.lo) / (self.hi - self.lo))
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            let mut out = Vec::new();
            if let Some(z) = self.zero_pos {
                out.push(((z - self.lo) / (self.hi - self.lo), "0".to_owned()));
            }
            let start = self.zero_pos.map(|z| z + 0.5).unwrap_or(self.lo) as i32;
            let step = (((self.hi - start as f64) / 6.0).ceil() as i32).max(1);
            let mut e = start;
            while (e as f64) <= self.hi + 1e-9 {
                out.push((
                    (e as f64 - self.lo) / (self.hi - self.lo),
                    fmt_tick(10f64.powi(e)),
                ));
                e += step;
            }
            out
        } else {
            let span = self.hi - self.lo;
            let raw = span / 6.0;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 2.5, 5.0, 10.0]
                .iter()
                .map(|m| m * mag)
                .find(|s| *s >= raw)
                .unwrap_or(10.0 * mag);
            let mut v = (self.lo / step).ceil() * step;
            let mut out = Vec::new();
            while v <= self.hi + 1e-9 * step {
                out.push((
                    (v - self.lo) / span,
                    fmt_tick(if v.abs() < 1e-12 * step { 0.0 } else { v }),
                ));
                v += step;
            }
            out
        }
    }
}

fn n(v: f64) -> String {
    format!("{v:.2}")
}

/// The figure as a standalone SVG document.
pub fn svg(fig: &Figure) -> String {
    let height = T + fig.panels.len() as f64 * (PH + B) + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12" role="img" aria-label="{t}">"#,
        w = n(W),
        h = n(height),
        t = esc(&fig.title)
    );
    let _ = write!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        n(L),
        esc(&fig.title)
    );
    for (k, p) in fig.panels.iter().enumerate() {
        let top = T + k as f64 * (PH + B);
        panel(&mut s, p, top);
    }
    s.push_str("</svg>\n");
    s
}

fn panel(s: &mut String, p: &Panel, top: f64) {
    let (pw, ph) = (W - L - R, PH - 20.0);
    let xs: Vec<f64> = p
        .series
        .iter()
        .flat_map(|se| se.points.iter().map(|q| q.0))
        .chain(p.vlines.iter().map(|v| v.0))
        .collect();
    let mut ys: Vec<f64> = p
        .series
        .iter()
        .flat_map(|se| se.points.iter().map(|q| q.1))
        .collect();
    for se in &p.series {
        if let Some(e) = &se.errors {
            ys.extend(e.iter().flat_map(|(a, b)| [*a, *b]));
        }
    }
    ys.extend(p.bands.iter().flat_map(|b| [b.0, b.1]));
    let (sx, sy) = (Scale::new(&xs, &p.x), Scale::new(&ys, &p.y));
    let px = |v: f64| sx.t(v).map(|t| L + t * pw);
    let py = |v: f64| sy.t(v).map(|t| top + ph - t * ph);
    let _ = write!(
        s,
        r##"<g><rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        n(L),
        n(top),
        n(pw),
        n(ph)
    );
    for (lo, hi, label) in &p.bands {
        if let (Some(a), Some(b)) = (py(*hi), py(*lo)) {
            let (a, b) = (a.max(top), b.min(top + ph));
            let _ = write!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#999" fill-opacity="0.25"/><text x="{}" y="{}" fill="#555">{}</text>"##,
                n(L),
                n(a),
                n(pw),
                n((b - a).max(0.0)),
                n(L + 4.0),
                n(a + 13.0),
                esc(label)
            );
        }
    }
    for (t, label) in sx.ticks() {
        let x = L + t * pw;
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="#ddd"/><text x="{x}" y="{ty}" text-anchor="middle">{l}</text>"##,
            x = n(x),
            y0 = n(top),
            y1 = n(top + ph),
            ty = n(top + ph + 16.0),
            l = esc(&label)
        );
    }
    for (t, label) in sy.ticks() {
        let y = top + ph - t * ph;
        let _ = write!(
            s,
            r##"<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#ddd"/><text x="{tx}" y="{ty}" text-anchor="end">{l}</text>"##,
            x0 = n(L),
            x1 = n(L + pw),
            y = n(y),
            tx = n(L - 6.0),
            ty = n(y + 4.0),
            l = esc(&label)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        n(L + pw / 2.0),
        n(top + ph + 36.0),
        esc(&p.x.label)
    );
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" text-anchor="middle" transform="rotate(-90 {x} {y})">{l}</text>"#,
        x = n(18.0),
        y = n(top + ph / 2.0),
        l = esc(&p.y.label)
    );
    for (x, label) in &p.vlines {
        if let Some(x) = px(*x) {
            let _ = write!(
                s,
                r##"<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="#333" stroke-dasharray="4 3"/><text x="{tx}" y="{ty}" fill="#333">{l}</text>"##,
                x = n(x),
                y0 = n(top),
                y1 = n(top + ph),
                tx = n(x + 3.0),
                ty = n(top + 12.0),
                l = esc(label)
            );
        }
    }
    // Series without a label (a band's edges) draw no legend entry.
    let mut k = 0usize;
    for se in &p.series {
        let pts: Vec<(f64, f64)> = se
            .points
            .iter()
            .filter_map(|(x, y)| Some((px(*x)?, py(*y)?)))
            .collect();
        if matches!(se.style, Style::Line | Style::LinePoints | Style::Dashed) && pts.len() > 1 {
            let d: Vec<String> = pts
                .iter()
                .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
                .collect();
            let dash = if se.style == Style::Dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"{dash}/>"#,
                d.join(" "),
                se.color
            );
        }
        if matches!(se.style, Style::Points | Style::LinePoints) {
            for (x, y) in &pts {
                let _ = write!(
                    s,
                    r#"<circle cx="{}" cy="{}" r="3" fill="{}"/>"#,
                    n(*x),
                    n(*y),
                    se.color
                );
            }
        }
        if let Some(errs) = &se.errors {
            for ((x, _), (lo, hi)) in se.points.iter().zip(errs) {
                if let (Some(x), Some(a), Some(b)) = (px(*x), py(*lo), py(*hi)) {
                    let _ = write!(
                        s,
                        r#"<line x1="{x}" y1="{a}" x2="{x}" y2="{b}" stroke="{c}"/>"#,
                        x = n(x),
                        a = n(a),
                        b = n(b),
                        c = se.color
                    );
                }
            }
        }
        // Legend.
        if se.label.is_empty() {
            continue;
        }
        let ly = top + 14.0 + 18.0 * k as f64;
        k += 1;
        let lx = L + pw + 12.0;
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            n(lx),
            n(ly - 4.0),
            n(lx + 18.0),
            n(ly - 4.0),
            se.color,
            n(lx + 24.0),
            n(ly),
            esc(&se.label)
        );
    }
    s.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_determinism() {
        assert_eq!(fmt_tick(1800.0), "1800");
        assert_eq!(fmt_tick(1e6), "1e6");
        assert_eq!(fmt_tick(0.25), "0.25");
        let fig = Figure {
            name: "t".into(),
            title: "A & B".into(),
            panels: vec![Panel {
                x: Axis {
                    label: "aging time t_a (s)".into(),
                    log: true,
                    zero_at_edge: true,
                },
                y: Axis {
                    label: "beta (1)".into(),
                    log: false,
                    zero_at_edge: false,
                },
                series: vec![Series::new(
                    "633 K",
                    vec![(0.0, 0.4), (1800.0, 0.45), (9000.0, 0.5)],
                    Style::LinePoints,
                    PALETTE[0],
                )],
                bands: vec![(0.42, 0.44, "band".into())],
                vlines: vec![(9000.0, "t_b".into())],
            }],
        };
        let a = svg(&fig);
        assert_eq!(a, svg(&fig));
        assert!(a.contains("A &amp; B") && a.contains(">0<") && a.contains("circle"));
    }
}
