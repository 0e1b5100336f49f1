//! Ticks fitted to a panel's length, the values a panel spans, and the legend with its swatches.

use super::*;

/// Ticks that fit: fewer labels until neighbours are at least a gap apart over `length` pt.
pub(super) fn fitted_ticks(
    sc: &Scale,
    length: f64,
    horizontal: bool,
) -> (Vec<(f64, String)>, Vec<f64>) {
    let mut target = 6;
    loop {
        let (major, minor) = sc.ticks(target);
        let fits = major.windows(2).all(|w| {
            let gap = (w[1].0 - w[0].0) * length;
            let need = if horizontal {
                0.5 * (text_width(&w[0].1, FS_TICK) + text_width(&w[1].1, FS_TICK)) + 4.0
            } else {
                FS_TICK * 1.6
            };
            gap >= need
        });
        if fits || target <= 2 {
            return (major, minor);
        }
        target -= 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Layout and drawing.

pub(super) fn panel_values(p: &Panel) -> (Vec<f64>, Vec<f64>) {
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
    (xs, ys)
}

/// A legend entry: label, style, colour.
pub(super) type Entry = (String, Style, String);

pub(super) fn legend_entries(fig: &Figure) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut push = |label: &str, style: Style, color: &str| {
        if !label.is_empty() && !out.iter().any(|e| e.0 == label) {
            out.push((label.to_owned(), style, color.to_owned()));
        }
    };
    for p in &fig.panels {
        for se in &p.series {
            push(&se.label, se.style, &se.color);
        }
        for (_, _, label) in &p.bands {
            push(label, Style::Line, "band");
        }
        for (_, label) in &p.vlines {
            push(label, Style::Dashed, "#333333");
        }
    }
    out
}

pub(super) fn swatch(s: &mut String, x: f64, y: f64, style: Style, color: &str) {
    if color == "band" {
        let _ = write!(
            s,
            r##"<rect x="{}" y="{}" width="14" height="6" fill="#999999" fill-opacity="0.3"/>"##,
            n(x),
            n(y - 3.0)
        );
        return;
    }
    if matches!(style, Style::Line | Style::LinePoints | Style::Dashed) {
        let dash = if style == Style::Dashed {
            r#" stroke-dasharray="3 2""#
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="1.2"{dash}/>"#,
            n(x),
            n(x + 14.0),
            y = n(y)
        );
    }
    if matches!(style, Style::Points | Style::LinePoints) {
        let _ = write!(
            s,
            r#"<circle cx="{}" cy="{}" r="1.8" fill="{color}"/>"#,
            n(x + 7.0),
            n(y)
        );
    }
    if style == Style::Ring {
        let _ = write!(
            s,
            r#"<circle cx="{}" cy="{}" r="2.4" fill="none" stroke="{color}" stroke-width="0.9"/>"#,
            n(x + 7.0),
            n(y)
        );
    }
}
