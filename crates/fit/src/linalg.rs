//! The small dense linear algebra least squares needs: Householder QR for the damped
//! Gauss-Newton step (better conditioned than the normal equations) and a one-sided Jacobi SVD for
//! the covariance and the condition number. Row-major matrices, rows x cols.

/// Solves min ||A x - b|| for A (rows x cols, rows >= cols) by Householder QR; zero components
/// where a column is (numerically) dependent.
pub fn lstsq(a: &[f64], rows: usize, cols: usize, b: &[f64]) -> Vec<f64> {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    let mut diag = vec![0.0; cols];
    for k in 0..cols {
        let norm = (k..rows)
            .map(|i| a[i * cols + k].powi(2))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if a[k * cols + k] > 0.0 { -norm } else { norm };
        // v = a[k.., k] - alpha e_k, stored in place.
        a[k * cols + k] -= alpha;
        let vnorm2: f64 = (k..rows).map(|i| a[i * cols + k].powi(2)).sum();
        if vnorm2 > 0.0 {
            for j in k + 1..cols {
                let s: f64 = (k..rows)
                    .map(|i| a[i * cols + k] * a[i * cols + j])
                    .sum::<f64>()
                    * 2.0
                    / vnorm2;
                for i in k..rows {
                    a[i * cols + j] -= s * a[i * cols + k];
                }
            }
            let s: f64 = (k..rows).map(|i| a[i * cols + k] * b[i]).sum::<f64>() * 2.0 / vnorm2;
            for i in k..rows {
                b[i] -= s * a[i * cols + k];
            }
        }
        diag[k] = alpha;
    }
    // Back substitution with R (diagonal in `diag`, upper part in `a`).
    let scale = diag.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let mut x = vec![0.0; cols];
    for k in (0..cols).rev() {
        if diag[k].abs() <= scale * 1e-14 {
            continue;
        }
        let s: f64 = (k + 1..cols).map(|j| a[k * cols + j] * x[j]).sum();
        x[k] = (b[k] - s) / diag[k];
    }
    x
}

/// Singular values and right singular vectors of A (rows x cols) by one-sided Jacobi:
/// returns (s, v) with v column-major per singular value (v[j * cols + k] = V[j][k]).
pub fn svd(a: &[f64], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let mut u = a.to_vec();
    let mut v = vec![0.0; cols * cols];
    for k in 0..cols {
        v[k * cols + k] = 1.0;
    }
    for _sweep in 0..60 {
        let mut off = 0.0f64;
        for p in 0..cols {
            for q in p + 1..cols {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for i in 0..rows {
                    let (up, uq) = (u[i * cols + p], u[i * cols + q]);
                    alpha += up * up;
                    beta += uq * uq;
                    gamma += up * uq;
                }
                if gamma == 0.0 || alpha == 0.0 || beta == 0.0 {
                    continue;
                }
                off = off.max(gamma.abs() / (alpha * beta).sqrt());
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for i in 0..rows {
                    let (up, uq) = (u[i * cols + p], u[i * cols + q]);
                    u[i * cols + p] = c * up - s * uq;
                    u[i * cols + q] = s * up + c * uq;
                }
                for i in 0..cols {
                    let (vp, vq) = (v[i * cols + p], v[i * cols + q]);
                    v[i * cols + p] = c * vp - s * vq;
                    v[i * cols + q] = s * vp + c * vq;
                }
            }
        }
        if off < 1e-15 {
            break;
        }
    }
    let s = (0..cols)
        .map(|k| {
            (0..rows)
                .map(|i| u[i * cols + k].powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    (s, v)
}

/// (A^T A)^-1 from the SVD of A, with singular values below `rcond * s_max` treated as zero
/// (their directions get an infinite variance, reported as NaN). Also returns s_max / s_min.
pub fn inverse_normal(a: &[f64], rows: usize, cols: usize) -> (Vec<f64>, f64) {
    let (s, v) = svd(a, rows, cols);
    let smax = s.iter().fold(0.0f64, |m, x| m.max(*x));
    let smin = s.iter().fold(f64::INFINITY, |m, x| m.min(*x));
    let mut inv = vec![0.0; cols * cols];
    for k in 0..cols {
        let sk = s[k];
        let w = if sk > smax * 1e-15 {
            1.0 / (sk * sk)
        } else {
            f64::NAN
        };
        for i in 0..cols {
            for j in 0..cols {
                inv[i * cols + j] += v[i * cols + k] * w * v[j * cols + k];
            }
        }
    }
    (
        inv,
        if smin > 0.0 {
            smax / smin
        } else {
            f64::INFINITY
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_and_inverse() {
        // Fit y = 1 + 2x exactly.
        let a = [1.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0, 3.0];
        let b = [1.0, 3.0, 5.0, 7.0];
        let x = lstsq(&a, 4, 2, &b);
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
        // (A^T A)^-1 for A^T A = [[4, 6], [6, 14]]: 1/20 [[14, -6], [-6, 4]].
        let (inv, cond) = inverse_normal(&a, 4, 2);
        let want = [0.7, -0.3, -0.3, 0.2];
        for (g, w) in inv.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{inv:?}");
        }
        assert!(cond > 1.0);
    }
}
