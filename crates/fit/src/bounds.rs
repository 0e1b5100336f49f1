//! Bounds by transformation (as MINUIT does): the solver moves freely in an internal variable u
//! and the model sees p(u) inside its bounds.

/// A parameter's allowed range.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Bound {
    #[default]
    Free,
    Lower(f64),
    Upper(f64),
    Both(f64, f64),
}

impl Bound {
    /// External value of an internal one.
    pub fn to_external(self, u: f64) -> f64 {
        match self {
            Bound::Free => u,
            Bound::Lower(a) => a - 1.0 + (u * u + 1.0).sqrt(),
            Bound::Upper(b) => b + 1.0 - (u * u + 1.0).sqrt(),
            Bound::Both(a, b) => a + (b - a) * (u.sin() + 1.0) / 2.0,
        }
    }

    /// Internal value of an external one (clamped into the range first).
    pub fn to_internal(self, p: f64) -> f64 {
        match self {
            Bound::Free => p,
            Bound::Lower(a) => {
                let x = (p.max(a) - a + 1.0).powi(2) - 1.0;
                x.max(0.0).sqrt()
            }
            Bound::Upper(b) => {
                let x = (b - p.min(b) + 1.0).powi(2) - 1.0;
                x.max(0.0).sqrt()
            }
            Bound::Both(a, b) => (2.0 * (p.clamp(a, b) - a) / (b - a) - 1.0)
                .clamp(-1.0, 1.0)
                .asin(),
        }
    }

    /// dp/du.
    pub fn derivative(self, u: f64) -> f64 {
        match self {
            Bound::Free => 1.0,
            Bound::Lower(_) => u / (u * u + 1.0).sqrt(),
            Bound::Upper(_) => -u / (u * u + 1.0).sqrt(),
            Bound::Both(a, b) => (b - a) * u.cos() / 2.0,
        }
    }

    /// Whether `p` sits on a bound (within a relative 1e-6 of the range, or 1e-9 absolute).
    pub fn at_bound(self, p: f64) -> bool {
        let near = |x: f64, edge: f64, scale: f64| (x - edge).abs() <= 1e-6 * scale.max(1e-3);
        match self {
            Bound::Free => false,
            Bound::Lower(a) => near(p, a, a.abs()),
            Bound::Upper(b) => near(p, b, b.abs()),
            Bound::Both(a, b) => near(p, a, b - a) || near(p, b, b - a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_invert_and_differentiate() {
        for b in [
            Bound::Free,
            Bound::Lower(0.1),
            Bound::Upper(2.0),
            Bound::Both(0.05, 1.5),
        ] {
            for p in [0.2, 0.5, 1.2] {
                let u = b.to_internal(p);
                assert!((b.to_external(u) - p).abs() < 1e-12, "{b:?} {p}");
                let h = 1e-6;
                let num = (b.to_external(u + h) - b.to_external(u - h)) / (2.0 * h);
                assert!((num - b.derivative(u)).abs() < 1e-6, "{b:?}");
            }
        }
        assert!(Bound::Both(0.0, 1.0).at_bound(1.0));
        assert!(!Bound::Both(0.0, 1.0).at_bound(0.5));
    }
}
