//! Text in a figure: escaping, widths from the font's own advances, sub- and superscript runs, tick labels.

use super::*;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn n(v: f64) -> String {
    format!("{v:.2}")
}

// ---------------------------------------------------------------------------------------------
// Text: markup, measuring, drawing.

/// The regular face of the bundled DejaVu Sans.
pub fn font_data() -> &'static [u8] {
    dejavu::sans::regular()
}

pub(super) fn face() -> Option<&'static ttf_parser::Face<'static>> {
    static FACE: OnceLock<Option<ttf_parser::Face<'static>>> = OnceLock::new();
    FACE.get_or_init(|| ttf_parser::Face::parse(font_data(), 0).ok())
        .as_ref()
}

/// Advance width of `s` at `size` pt in DejaVu Sans (kerning ignored: at most a few per cent).
pub(super) fn advance(s: &str, size: f64) -> f64 {
    let Some(f) = face() else {
        return 0.62 * size * s.chars().count() as f64;
    };
    let em = f.units_per_em() as f64;
    s.chars()
        .map(|c| {
            f.glyph_index(c)
                .and_then(|g| f.glyph_hor_advance(g))
                .map(|a| a as f64 / em)
                .unwrap_or(0.6)
        })
        .sum::<f64>()
        * size
}

/// A run of a label: text and its shift (-1 sub, 0 base, 1 sup).
pub(super) fn runs(label: &str) -> Vec<(String, i8)> {
    let mut out: Vec<(String, i8)> = Vec::new();
    let mut cur = String::new();
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if (c == '_' || c == '^') && chars.peek() == Some(&'{') {
            chars.next();
            if !cur.is_empty() {
                out.push((std::mem::take(&mut cur), 0));
            }
            let mut inner = String::new();
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
                inner.push(d);
            }
            out.push((
                inner.replace('-', "\u{2212}"),
                if c == '_' { -1 } else { 1 },
            ));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push((cur, 0));
    }
    out
}

/// The label as plain text (for titles, aria labels and search): `t_{a}` becomes `ta`.
pub fn plain(label: &str) -> String {
    runs(label).into_iter().map(|r| r.0).collect()
}

pub(super) const SCRIPT: f64 = 0.72;
/// Gap between the frame and the y tick labels' right edge, pt.
pub(super) const TICK_PAD: f64 = 4.5;
/// Gap between the frame and the top of the x tick labels' box, pt: below the bottom y tick
/// label's box (0.35 em + descender) so the two never meet at the corner.
pub(super) const X_TICK_TOP: f64 = 4.5;
/// Gaps between tick labels and axis labels, pt.
pub(super) const X_LABEL_PAD: f64 = 1.5;
pub(super) const Y_LABEL_PAD: f64 = 2.0;
/// DejaVu Sans' ascender and descender, in em: the box a browser gives a line of text.
pub(super) const ASCENT: f64 = 0.93;
pub(super) const DESCENT: f64 = 0.24;
/// Top of a superscript and bottom of a subscript below and above the baseline, in em.
pub(super) const SUP_TOP: f64 = 0.38 + ASCENT * SCRIPT;
pub(super) const SUB_BOTTOM: f64 = 0.22 + DESCENT * SCRIPT;

pub(super) fn text_width(label: &str, size: f64) -> f64 {
    runs(label)
        .iter()
        .map(|(t, k)| advance(t, if *k == 0 { size } else { size * SCRIPT }))
        .sum()
}

#[derive(Clone, Copy)]
pub(super) enum Anchor {
    Start,
    Middle,
    End,
}

/// A text element with sub/superscripts as tspans; `rotate` turns it -90 degrees about (x, y).
pub(super) fn text(
    s: &mut String,
    x: f64,
    y: f64,
    size: f64,
    anchor: Anchor,
    rotate: bool,
    label: &str,
) {
    let a = match anchor {
        Anchor::Start => "start",
        Anchor::Middle => "middle",
        Anchor::End => "end",
    };
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" font-size="{f}" text-anchor="{a}"{r}>"#,
        x = n(x),
        y = n(y),
        f = n(size),
        r = if rotate {
            format!(r#" transform="rotate(-90 {} {})""#, n(x), n(y))
        } else {
            String::new()
        }
    );
    let mut shift = 0.0;
    for (t, k) in runs(label) {
        let target = match k {
            -1 => 0.22 * size,
            1 => -0.38 * size,
            _ => 0.0,
        };
        let dy = target - shift;
        shift = target;
        let fs = if k == 0 { size } else { size * SCRIPT };
        if dy == 0.0 && k == 0 {
            s.push_str(&esc(&t));
        } else {
            let _ = write!(
                s,
                r#"<tspan dy="{}" font-size="{}">{}</tspan>"#,
                n(dy),
                n(fs),
                esc(&t)
            );
        }
    }
    s.push_str("</text>");
}

// ---------------------------------------------------------------------------------------------
// Scales and ticks.

pub(super) fn fmt_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        return format!("{m:.1}\u{00d7}10^{{{e}}}");
    }
    let decimals = (0..6usize)
        .find(|d| {
            let x = step * 10f64.powi(*d as i32);
            (x - x.round()).abs() < 1e-6 * x.max(1.0)
        })
        .unwrap_or(6);
    let s = format!("{v:.decimals$}");
    s.replace('-', "\u{2212}")
}
