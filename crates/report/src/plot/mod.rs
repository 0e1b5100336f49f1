//! A small, deterministic SVG plotter drawn to a journal's standard: a figure is a grid of panels
//! (small multiples with shared axes) at a column width in millimetres, text in points measured
//! with the bundled DejaVu Sans so that nothing overlaps, log axes with decade labels (10^3) and
//! minor ticks, one legend entry per series below the panels, labels with sub- and superscripts
//! (`t_{a} / s`, `E_{a} / kJ mol^{-1}`). Numbers are written with fixed decimals so the same data
//! give the same bytes.

use std::fmt::Write as _;
use std::sync::OnceLock;

mod legend;
mod text;
use legend::*;
use text::*;
pub use text::{font_data, plain};

/// Colours for categories, in order (Okabe-Ito, colour-blind-safe).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999",
];

/// Single-column and double-column widths of a journal page, mm.
pub const SINGLE_COLUMN_MM: f64 = 85.0;
pub const DOUBLE_COLUMN_MM: f64 = 175.0;

const PT_PER_MM: f64 = 72.0 / 25.4;
/// Font sizes, pt (legible at 85 mm: most journals ask for 6-8 pt at final size).
const FS_TICK: f64 = 7.0;
const FS_LABEL: f64 = 7.5;
const FS_TITLE: f64 = 7.5;

/// Anchors of viridis (0 = dark purple .. 1 = yellow), for the aging-time scale.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2c, 0x7a),
    (0x3b, 0x51, 0x8b),
    (0x2c, 0x71, 0x8e),
    (0x21, 0x90, 0x8d),
    (0x27, 0xad, 0x81),
    (0x5c, 0xc8, 0x63),
    (0xaa, 0xdc, 0x32),
    (0xfd, 0xe7, 0x25),
];

/// The sequential colour of position `rank` among `n` ordered values (aging times), from dark
/// purple to yellow-green (the last tenth of viridis is left out: too pale on white).
pub fn sequential(rank: usize, n: usize) -> String {
    let u = if n <= 1 {
        0.0
    } else {
        0.88 * rank as f64 / (n - 1) as f64
    };
    let x = u * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    Line,
    Points,
    LinePoints,
    Dashed,
    /// Open circles (a marked event, such as the first pop-in).
    Ring,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry; series with the same label share one entry, an empty label has none.
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Per point (low, high) of y.
    pub errors: Option<Vec<(f64, f64)>>,
    pub style: Style,
    pub color: String,
}

impl Series {
    pub fn new(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: impl Into<String>,
    ) -> Self {
        Series {
            label: label.into(),
            points,
            errors: None,
            style,
            color: color.into(),
        }
    }

    /// A legend entry alone (no data): explains a style shared by several series.
    pub fn key(label: impl Into<String>, style: Style, color: impl Into<String>) -> Self {
        Series::new(label, Vec::new(), style, color)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Axis {
    /// With `_{sub}` and `^{sup}` markup; dimensionless quantities carry no unit.
    pub label: String,
    pub log: bool,
    /// On a log axis, show x = 0 at the left edge with a `0` tick (aging time 0).
    pub zero_at_edge: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Drawn above the frame (a temperature, a series); may be empty.
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Horizontal bands (y low, y high, legend label).
    pub bands: Vec<(f64, f64, String)>,
    /// Vertical markers (x, legend label).
    pub vlines: Vec<(f64, String)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figure {
    /// File name stem (`beta_vs_aging_time`).
    pub name: String,
    pub title: String,
    pub panels: Vec<Panel>,
    /// Panels per row at double-column width (at most 2 at single-column width); 0 means 1.
    pub columns: usize,
    /// All panels share the x (y) range; inner panels then leave out their tick labels.
    pub share_x: bool,
    pub share_y: bool,
    /// Height over width of each panel's frame (0: 0.62).
    pub aspect: f64,
}

/// Maps data to [0, 1] along one axis.
#[derive(Debug, Clone)]
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
                0.05 * (hi - lo)
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

    /// Major ticks (position in [0, 1], label) with about `target` labels, and minor tick
    /// positions (log axes: 2..9 of each decade when the decades are few enough to show them).
    fn ticks(&self, target: usize) -> (Vec<(f64, String)>, Vec<f64>) {
        let target = target.max(2);
        let pos = |v: f64| (v - self.lo) / (self.hi - self.lo);
        if self.log {
            let mut major = Vec::new();
            let mut minor = Vec::new();
            if let Some(z) = self.zero_pos {
                major.push((pos(z), "0".to_owned()));
            }
            let start = self.zero_pos.map(|z| z + 0.5).unwrap_or(self.lo).round() as i32;
            let end = self.hi.round() as i32;
            let decades = (end - start).max(1);
            let step = ((decades as f64 / (target - 1) as f64).ceil() as i32).max(1);
            for e in start..=end {
                if (e - start) % step == 0 {
                    major.push((pos(e as f64), format!("10^{{{e}}}")));
                } else {
                    minor.push(pos(e as f64));
                }
                if step == 1 && decades <= 8 && e < end {
                    for m in 2..=9 {
                        minor.push(pos(e as f64 + (m as f64).log10()));
                    }
                }
            }
            (major, minor)
        } else {
            let span = self.hi - self.lo;
            let raw = span / (target - 1) as f64;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 2.5, 5.0, 10.0]
                .iter()
                .map(|m| m * mag)
                .find(|s| *s >= raw * 0.999)
                .unwrap_or(10.0 * mag);
            let mut major = Vec::new();
            let mut i = (self.lo / step).ceil() as i64;
            while (i as f64) * step <= self.hi + 1e-9 * step {
                let v = i as f64 * step;
                major.push((pos(v), fmt_tick(if i == 0 { 0.0 } else { v }, step)));
                i += 1;
            }
            let minor = major.windows(2).map(|w| 0.5 * (w[0].0 + w[1].0)).collect();
            (major, minor)
        }
    }
}

/// The figure as a standalone SVG document `width_mm` wide; user units are points.
pub fn svg(fig: &Figure, width_mm: f64) -> String {
    let width = width_mm * PT_PER_MM;
    let narrow = width_mm < 120.0;
    let count = fig.panels.len().max(1);
    let cols = fig
        .columns
        .max(1)
        .min(if narrow { 2 } else { 4 })
        .min(count);
    let rows = count.div_ceil(cols);
    let aspect = if fig.aspect > 0.0 { fig.aspect } else { 0.62 };

    // Scales: shared or per panel.
    let per: Vec<(Vec<f64>, Vec<f64>)> = fig.panels.iter().map(panel_values).collect();
    let all_x: Vec<f64> = per.iter().flat_map(|v| v.0.iter().copied()).collect();
    let all_y: Vec<f64> = per.iter().flat_map(|v| v.1.iter().copied()).collect();
    let scales: Vec<(Scale, Scale)> = fig
        .panels
        .iter()
        .zip(&per)
        .map(|(p, (xs, ys))| {
            (
                Scale::new(if fig.share_x { &all_x } else { xs }, &p.x),
                Scale::new(if fig.share_y { &all_y } else { ys }, &p.y),
            )
        })
        .collect();

    // Left margin: the widest y tick label (of any tick count the fit may choose) and the
    // rotated y label, whose box reaches from its superscripts to its subscripts.
    let y_label_w = (SUP_TOP + SUB_BOTTOM) * FS_LABEL;
    let ytick_w = scales
        .iter()
        .flat_map(|(_, sy)| (2..=6).map(move |target| sy.ticks(target).0))
        .flat_map(|ticks| ticks.into_iter().map(|t| text_width(&t.1, FS_TICK)))
        .fold(0.0, f64::max);
    let ml_full = TICK_PAD + ytick_w + Y_LABEL_PAD + y_label_w + 1.0;
    // Edge tick labels of neighbouring panels must not meet: the gap holds the widest x label.
    let xtick_w = scales
        .iter()
        .map(|(sx, _)| {
            sx.ticks(6)
                .0
                .iter()
                .map(|t| text_width(&t.1, FS_TICK))
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max);
    let ml_inner = if fig.share_y {
        (xtick_w + 4.0).max(8.0)
    } else {
        ml_full.max(xtick_w + 4.0)
    };
    let right = 0.5 * xtick_w + 3.0;
    let pw = ((width - ml_full - (cols - 1) as f64 * ml_inner - right) / cols as f64).max(40.0);
    let ph = (pw * aspect).min(0.52 * width);
    let title_h = if fig.panels.iter().any(|p| !p.title.is_empty()) {
        FS_TITLE + 4.0
    } else {
        3.0
    };
    let xlab_h = X_TICK_TOP
        + (SUP_TOP + DESCENT) * FS_TICK
        + X_LABEL_PAD
        + (SUP_TOP + SUB_BOTTOM) * FS_LABEL
        + 1.0;
    // A cell shows x labels when no panel is below it (or the axes are not shared).
    let shows_x = |k: usize| !fig.share_x || k + cols >= count;
    let row_bottom = |r: usize| {
        if (0..cols).any(|c| {
            let k = r * cols + c;
            k < count && shows_x(k)
        }) {
            xlab_h
        } else {
            7.0
        }
    };
    let mut row_top = Vec::with_capacity(rows);
    let mut y = 4.0;
    for r in 0..rows {
        row_top.push(y);
        y += title_h + ph + row_bottom(r);
    }

    // Legend rows below the grid.
    let entries = legend_entries(fig);
    let mut legend_rows: Vec<Vec<(f64, &Entry)>> = vec![Vec::new()];
    let mut lx = ml_full;
    for e in &entries {
        let w = 14.0 + 3.0 + text_width(&e.0, FS_TICK) + 9.0;
        if lx + w > width - right && lx > ml_full {
            legend_rows.push(Vec::new());
            lx = ml_full;
        }
        if let Some(row) = legend_rows.last_mut() {
            row.push((lx, e));
        }
        lx += w;
    }
    let legend_top = y + 2.0;
    let line_h = FS_TICK * 1.5;
    let height = if entries.is_empty() {
        y + 2.0
    } else {
        legend_top + legend_rows.len() as f64 * line_h + 4.0
    };

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{wmm}mm" height="{hmm}mm" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Verdana, sans-serif" role="img" aria-label="{t}" data-figure="{name}">"#,
        wmm = n(width_mm),
        hmm = n(height / PT_PER_MM),
        w = n(width),
        h = n(height),
        t = esc(&plain(&fig.title)),
        name = esc(&fig.name),
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (k, p) in fig.panels.iter().enumerate() {
        let (r, c) = (k / cols, k % cols);
        let x0 = ml_full + c as f64 * (pw + ml_inner);
        let y0 = row_top[r] + title_h;
        let show_y = !fig.share_y || c == 0;
        let clip = format!("{}-{k}", fig.name);
        panel(
            &mut s,
            p,
            &scales[k],
            (x0, y0, pw, ph),
            (shows_x(k), show_y),
            &clip,
        );
    }
    for (i, row) in legend_rows.iter().enumerate() {
        let ly = legend_top + i as f64 * line_h + line_h * 0.5;
        for (x, (label, style, color)) in row {
            swatch(&mut s, *x, ly, *style, color);
            text(
                &mut s,
                x + 17.0,
                ly + FS_TICK * 0.35,
                FS_TICK,
                Anchor::Start,
                false,
                label,
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A panel's frame in figure units.
struct Frame {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Frame {
    /// Whether a mark of half-extent `reach` at (x, y) lies wholly inside the frame.
    fn holds(&self, x: f64, y: f64, reach: f64) -> bool {
        x - reach >= self.x0 && x + reach <= self.x1 && y - reach >= self.y0 && y + reach <= self.y1
    }
}

fn panel(
    s: &mut String,
    p: &Panel,
    (sx, sy): &(Scale, Scale),
    (x0, y0, pw, ph): (f64, f64, f64, f64),
    (show_x, show_y): (bool, bool),
    clip: &str,
) {
    let px = |v: f64| sx.t(v).map(|t| x0 + t * pw);
    let py = |v: f64| sy.t(v).map(|t| y0 + ph - t * ph);
    s.push_str("<g>");
    if !p.title.is_empty() {
        // Shrunk to the frame's width where long, so that neighbouring titles never meet.
        let w = text_width(&p.title, FS_TITLE);
        let fs = if w > pw { FS_TITLE * pw / w } else { FS_TITLE };
        text(s, x0, y0 - 3.5, fs, Anchor::Start, false, &p.title);
    }
    for (lo, hi, _) in &p.bands {
        if let (Some(a), Some(b)) = (py(*hi), py(*lo)) {
            let (a, b) = (a.max(y0), b.min(y0 + ph));
            let _ = write!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#999999" fill-opacity="0.3"/>"##,
                n(x0),
                n(a),
                n(pw),
                n((b - a).max(0.0))
            );
        }
    }
    // Ticks: outward marks; labels where this cell shows them.
    let (xmaj, xmin) = fitted_ticks(sx, pw, true);
    let (ymaj, ymin) = fitted_ticks(sy, ph, false);
    let mut d = String::new();
    for (t, _) in &xmaj {
        let x = x0 + t * pw;
        let _ = write!(d, "M{} {}v3", n(x), n(y0 + ph));
    }
    for t in &xmin {
        let _ = write!(d, "M{} {}v1.6", n(x0 + t * pw), n(y0 + ph));
    }
    for (t, _) in &ymaj {
        let _ = write!(d, "M{} {}h-3", n(x0), n(y0 + ph - t * ph));
    }
    for t in &ymin {
        let _ = write!(d, "M{} {}h-1.6", n(x0), n(y0 + ph - t * ph));
    }
    let _ = write!(
        s,
        r##"<path d="{d}" stroke="#222222" stroke-width="0.5" fill="none"/>"##
    );
    if show_x {
        for (t, label) in &xmaj {
            text(
                s,
                x0 + t * pw,
                y0 + ph + X_TICK_TOP + SUP_TOP * FS_TICK,
                FS_TICK,
                Anchor::Middle,
                false,
                label,
            );
        }
        text(
            s,
            x0 + pw / 2.0,
            y0 + ph + X_TICK_TOP + (SUP_TOP + DESCENT) * FS_TICK + X_LABEL_PAD + SUP_TOP * FS_LABEL,
            FS_LABEL,
            Anchor::Middle,
            false,
            &p.x.label,
        );
    }
    if show_y {
        let mut widest: f64 = 0.0;
        for (t, label) in &ymaj {
            widest = widest.max(text_width(label, FS_TICK));
            text(
                s,
                x0 - TICK_PAD,
                y0 + ph - t * ph + FS_TICK * 0.35,
                FS_TICK,
                Anchor::End,
                false,
                label,
            );
        }
        let lx = x0 - TICK_PAD - widest - Y_LABEL_PAD - SUB_BOTTOM * FS_LABEL;
        text(
            s,
            lx,
            y0 + ph / 2.0,
            FS_LABEL,
            Anchor::Middle,
            true,
            &p.y.label,
        );
    }
    // The data, clipped to the frame only where something reaches beyond it (a rasteriser clips
    // through a mask as large as the figure: most of the time of rendering a PNG).
    let outer = std::mem::take(s);
    let frame = Frame {
        x0,
        y0,
        x1: x0 + pw,
        y1: y0 + ph,
    };
    let mut inside = true;
    for (x, _) in &p.vlines {
        if let Some(x) = px(*x) {
            // From the frame's top to its bottom (butt ends): only its width can reach out.
            inside &= frame.holds(x, y0 + ph / 2.0, 0.35);
            let _ = write!(
                s,
                r##"<line x1="{x}" y1="{a}" x2="{x}" y2="{b}" stroke="#333333" stroke-width="0.7" stroke-dasharray="3 2"/>"##,
                x = n(x),
                a = n(y0),
                b = n(y0 + ph)
            );
        }
    }
    for se in &p.series {
        let pts: Vec<(f64, f64)> = se
            .points
            .iter()
            .filter_map(|(x, y)| Some((px(*x)?, py(*y)?)))
            .collect();
        // Half the drawn extent around each point: marker radius plus half its stroke, or half
        // the line's width.
        let reach = match se.style {
            Style::Ring => 2.6 + 0.45,
            Style::Points | Style::LinePoints => 1.5,
            Style::Line | Style::Dashed => 0.5,
        };
        inside &= pts.iter().all(|(x, y)| frame.holds(*x, *y, reach));
        if let Some(errs) = &se.errors {
            let mut d = String::new();
            for ((x, _), (lo, hi)) in se.points.iter().zip(errs) {
                // A vertical bar is clipped here, exactly: cut at the frame's top and bottom.
                if let (Some(x), Some(a), Some(b)) = (px(*x), py(*lo), py(*hi)) {
                    let (a, b) = (a.min(b).max(frame.y0), a.max(b).min(frame.y1));
                    if a > b {
                        continue;
                    }
                    inside &= frame.holds(x, (a + b) / 2.0, 0.35);
                    let _ = write!(d, "M{} {}V{}", n(x), n(b), n(a));
                }
            }
            if !d.is_empty() {
                let _ = write!(
                    s,
                    r#"<path d="{d}" stroke="{}" stroke-width="0.7" fill="none"/>"#,
                    se.color
                );
            }
        }
        if matches!(se.style, Style::Line | Style::LinePoints | Style::Dashed) && pts.len() > 1 {
            let d: Vec<String> = pts
                .iter()
                .map(|(x, y)| format!("{},{}", n(*x), n(*y)))
                .collect();
            let dash = if se.style == Style::Dashed {
                r#" stroke-dasharray="3 2""#
            } else {
                ""
            };
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1"{dash}/>"#,
                d.join(" "),
                se.color
            );
        }
        if matches!(se.style, Style::Points | Style::LinePoints) {
            for (x, y) in &pts {
                let _ = write!(
                    s,
                    r#"<circle cx="{}" cy="{}" r="1.5" fill="{}"/>"#,
                    n(*x),
                    n(*y),
                    se.color
                );
            }
        }
        if se.style == Style::Ring {
            for (x, y) in &pts {
                let _ = write!(
                    s,
                    r#"<circle cx="{}" cy="{}" r="2.6" fill="none" stroke="{}" stroke-width="0.9"/>"#,
                    n(*x),
                    n(*y),
                    se.color
                );
            }
        }
    }
    let data = std::mem::replace(s, outer);
    if inside {
        let _ = write!(s, r#"<g class="data">{data}</g>"#);
    } else {
        let _ = write!(
            s,
            r#"<clipPath id="c-{clip}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath><g class="data" clip-path="url(#c-{clip})">{data}</g>"#,
            n(x0),
            n(y0),
            n(pw),
            n(ph)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#222222" stroke-width="0.6"/>"##,
        n(x0),
        n(y0),
        n(pw),
        n(ph)
    );
    s.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig() -> Figure {
        Figure {
            name: "t".into(),
            title: "A & B".into(),
            panels: vec![Panel {
                title: "633 K".into(),
                x: Axis {
                    label: "t_{a} / s".into(),
                    log: true,
                    zero_at_edge: true,
                },
                y: Axis {
                    label: "β".into(),
                    log: false,
                    zero_at_edge: false,
                },
                series: vec![Series::new(
                    "t_{a} = 1800 s",
                    vec![(0.0, 0.4), (1800.0, 0.45), (9000.0, 0.5)],
                    Style::LinePoints,
                    PALETTE[0],
                )],
                bands: vec![(0.42, 0.44, "band".into())],
                vlines: vec![(9000.0, "turning point".into())],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn ticks_and_determinism() {
        assert_eq!(fmt_tick(1800.0, 100.0), "1800");
        assert_eq!(fmt_tick(0.25, 0.05), "0.25");
        assert_eq!(fmt_tick(-0.5, 0.25), "\u{2212}0.50");
        let f = fig();
        let a = svg(&f, DOUBLE_COLUMN_MM);
        assert_eq!(a, svg(&f, DOUBLE_COLUMN_MM));
        assert!(a.contains("A &amp; B") && a.contains(">0<") && a.contains("circle"));
        // Decade labels with a superscript exponent, a subscript in the axis label.
        assert!(
            a.contains(r#"10<tspan dy="-2.66" font-size="5.04">3</tspan>"#),
            "{a}"
        );
        assert!(a.contains(">a</tspan>"));
        assert!(a.contains(r#"width="175.00mm""#));
        let b = svg(&f, SINGLE_COLUMN_MM);
        assert!(b.contains(r#"width="85.00mm""#));
    }

    /// The numbers of attribute `name` in each `<tag …/>` of `svg`.
    fn attrs(svg: &str, tag: &str, name: &str) -> Vec<f64> {
        svg.split(&format!("<{tag} "))
            .skip(1)
            .filter_map(|el| {
                let el = format!(" {el}");
                let v = el.split(&format!(" {name}=\"")).nth(1)?;
                v.split('"').next()?.parse().ok()
            })
            .collect()
    }

    #[test]
    fn data_is_clipped_only_where_it_reaches_beyond_the_frame() {
        // The frame of the one panel (the last rect with the frame's stroke).
        let frame = |svg: &str| -> (f64, f64, f64, f64) {
            let el = svg
                .split("<rect ")
                .filter(|e| e.contains(r##"stroke="#222222" stroke-width="0.6""##))
                .last()
                .unwrap();
            let num = |k: &str| -> f64 {
                el.split(&format!("{k}=\""))
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            (
                num("x"),
                num("y"),
                num("x") + num("width"),
                num("y") + num("height"),
            )
        };
        // A point at x = 0 drawn at the frame's edge (zero_at_edge): its marker reaches out, the
        // data is clipped as before.
        let edge = svg(&fig(), DOUBLE_COLUMN_MM);
        assert_eq!(edge.matches(r#"<g class="data""#).count(), 1);
        assert!(
            edge.contains(r#"<g class="data" clip-path="url(#c-"#),
            "{edge}"
        );
        // Points well inside the frame (a log axis snaps to decades: 200 to 5000 s lie within
        // 10^2..10^4), error bars setting the y range: no clip path, and every mark inside.
        let mut f = fig();
        f.panels[0].x.zero_at_edge = false;
        f.panels[0].bands.clear();
        f.panels[0].vlines.clear();
        let mut se = Series::new(
            "",
            vec![(200.0, 0.45), (1000.0, 0.46), (5000.0, 0.47)],
            Style::Points,
            PALETTE[1],
        );
        se.errors = Some(vec![(0.44, 0.46), (0.45, 0.47), (0.46, 0.48)]);
        f.panels[0].series = vec![se];
        let inside = svg(&f, DOUBLE_COLUMN_MM);
        assert_eq!(inside.matches(r#"<g class="data""#).count(), 1);
        assert!(!inside.contains("clip-path"), "{inside}");
        let (x0, y0, x1, y1) = frame(&inside);
        let data = inside.split(r#"<g class="data">"#).nth(1).unwrap();
        let data = data.split("</g>").next().unwrap();
        let (cx, cy) = (attrs(data, "circle", "cx"), attrs(data, "circle", "cy"));
        assert_eq!(cx.len(), 3);
        for (x, y) in cx.into_iter().zip(cy) {
            assert!(x - 1.5 >= x0 && x + 1.5 <= x1 && y - 1.5 >= y0 && y + 1.5 <= y1);
        }
        for seg in data
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .split('M')
            .skip(1)
        {
            let (a, b) = seg.split_once('V').unwrap();
            let ya: f64 = a.split(' ').nth(1).unwrap().parse().unwrap();
            let yb: f64 = b.parse().unwrap();
            assert!(ya >= y0 && ya <= y1 && yb >= y0 && yb <= y1, "{seg}");
        }
    }

    #[test]
    fn legend_has_one_entry_per_label() {
        let mut f = fig();
        let s = f.panels[0].series[0].clone();
        f.panels.push(Panel {
            series: vec![s],
            ..f.panels[0].clone()
        });
        let e = legend_entries(&f);
        let labels: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(labels, ["t_{a} = 1800 s", "band", "turning point"]);
    }

    #[test]
    fn markup_and_measure() {
        assert_eq!(plain("E_{a} / kJ mol^{-1}"), "Ea / kJ mol\u{2212}1");
        assert!(text_width("10^{4}", 7.0) < text_width("10000", 7.0));
        assert!(advance("W", 7.0) > advance("i", 7.0));
        assert_eq!(sequential(0, 5), "#440154");
        assert_ne!(sequential(4, 5), sequential(3, 5));
    }
}
