//! The small dense linear algebra least squares needs: Householder QR for the damped
//! Gauss-Newton step (better conditioned than the normal equations), a one-sided Jacobi SVD and, where
//! the matrix is well conditioned, the eigen-decomposition of A^T A for
//! the covariance and the condition number, and a dot product the compiler vectorises. Row-major
//! matrices, rows x cols.

/// The dot product of two equal-length slices with eight independent partial sums, so that the
/// compiler vectorises it and the additions do not wait on each other (a single running sum is
/// bound by the latency of one addition per element). Its rounding differs from the left-to-right
/// sum's by a few units in the last place; it is the same for every call with the same inputs.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0f64; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Solves min ||A x - b|| for A (rows x cols, rows >= cols) by Householder QR; zero components
/// where a column is (numerically) dependent.
pub fn lstsq(a: &[f64], rows: usize, cols: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; cols];
    lstsq_in_place(
        &mut a.to_vec(),
        rows,
        cols,
        &mut b.to_vec(),
        &mut vec![0.0; cols],
        &mut x,
    );
    x
}

/// [`lstsq`] without allocating, for callers that solve many small problems (a profile over a
/// grid): `a` and `b` are overwritten by the factorisation, `diag` (length `cols`) is scratch,
/// the solution goes to `x` (length `cols`). The same arithmetic, so the same numbers.
pub fn lstsq_in_place(
    a: &mut [f64],
    rows: usize,
    cols: usize,
    b: &mut [f64],
    diag: &mut [f64],
    x: &mut [f64],
) {
    diag[..cols].fill(0.0);
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
    let scale = diag[..cols].iter().fold(0.0f64, |m, d| m.max(d.abs()));
    x[..cols].fill(0.0);
    for k in (0..cols).rev() {
        if diag[k].abs() <= scale * 1e-14 {
            continue;
        }
        let s: f64 = (k + 1..cols).map(|j| a[k * cols + j] * x[j]).sum();
        x[k] = (b[k] - s) / diag[k];
    }
}

/// Solves M x = b for a symmetric positive definite M (n x n, row-major) by Cholesky; `None`
/// when a pivot falls below `1e-10` of its diagonal entry (M numerically singular or so badly
/// conditioned that the normal equations would lose the step: the caller then uses QR).
pub fn spd_solve(m: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = m[i * n + i] - s;
                if d.is_nan() || d <= 1e-10 * m[i * n + i].abs() || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (m[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
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

/// (A^T A)^-1 and s_max / s_min of A. Where A is well conditioned (s_max / s_min below
/// [`WELL_CONDITIONED`]) from the eigen-decomposition of A^T A (one pass over A; its relative
/// error is of order (s_max / s_min)^2 times the machine epsilon, below 1e-8); otherwise from the
/// SVD of A, with singular values below `1e-15 s_max` treated as zero (their directions get an
/// infinite variance, reported as NaN).
pub fn inverse_normal(a: &[f64], rows: usize, cols: usize) -> (Vec<f64>, f64) {
    if let Some(done) = inverse_normal_by_eigen(a, rows, cols) {
        return done;
    }
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

/// A^T A (cols x cols, row-major) of A (rows x cols, row-major): the upper triangle accumulated
/// row by row of A (an exact zero in A skips its row's work), then mirrored.
pub fn gram(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut g = vec![0.0; cols * cols];
    for row in a.chunks_exact(cols).take(rows) {
        for (p, &v) in row.iter().enumerate() {
            if v == 0.0 {
                continue;
            }
            for (gq, rq) in g[p * cols + p..(p + 1) * cols].iter_mut().zip(&row[p..]) {
                *gq += v * rq;
            }
        }
    }
    for p in 0..cols {
        for q in 0..p {
            g[p * cols + q] = g[q * cols + p];
        }
    }
    g
}

/// The condition number (s_max / s_min) below which [`inverse_normal`] works on A^T A.
pub const WELL_CONDITIONED: f64 = 1e4;

/// [`inverse_normal`] from the eigen-decomposition of A^T A; None where A is not finite, has
/// fewer rows than columns or is not well conditioned.
fn inverse_normal_by_eigen(a: &[f64], rows: usize, cols: usize) -> Option<(Vec<f64>, f64)> {
    if rows < cols || cols == 0 || a.len() != rows * cols || a.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let (lam, v) = symmetric_eigen(&gram(a, rows, cols), cols)?;
    let lmax = lam.iter().fold(0.0f64, |m, x| m.max(*x));
    let lmin = lam.iter().fold(f64::INFINITY, |m, x| m.min(*x));
    if lmin.is_nan() || lmin <= 0.0 || lmax > WELL_CONDITIONED * WELL_CONDITIONED * lmin {
        return None;
    }
    let mut inv = vec![0.0; cols * cols];
    for (k, lk) in lam.iter().enumerate() {
        let w = 1.0 / lk;
        for i in 0..cols {
            for j in 0..cols {
                inv[i * cols + j] += v[i * cols + k] * w * v[j * cols + k];
            }
        }
    }
    Some((inv, (lmax / lmin).sqrt()))
}

/// Eigenvalues and eigenvectors of a symmetric matrix (n x n, row-major): Householder reduction
/// to tridiagonal form and the implicit QL method (the EISPACK tred2/tql2 pair as JAMA gives
/// them), O(n^3) with a small constant. Returns (values, vectors) with eigenvector j in column j
/// of the row-major `vectors`; None when the QL iteration does not converge (non-finite input).
pub fn symmetric_eigen(a: &[f64], n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    if a.len() != n * n || a.iter().any(|x| !x.is_finite()) {
        return None;
    }
    if n == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    // Worked on column-major (v[c n + r] is row r, column c): the inner loops of both passes run
    // down columns, contiguous here. The same arithmetic in the same order as row-major storage.
    let mut v = vec![0.0; n * n];
    for r in 0..n {
        for c in 0..n {
            v[c * n + r] = a[r * n + c];
        }
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    let ix = |r: usize, c: usize| c * n + r;
    // tred2: Householder reduction to tridiagonal form.
    for j in 0..n {
        d[j] = v[ix(n - 1, j)];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[ix(i - 1, j)];
                v[ix(i, j)] = 0.0;
                v[ix(j, i)] = 0.0;
            }
        } else {
            for k in 0..i {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            let f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for x in e[..i].iter_mut() {
                *x = 0.0;
            }
            for j in 0..i {
                let f = d[j];
                v[ix(j, i)] = f;
                // Column j, rows j..i (contiguous): the sum in order, then the update.
                let col = &v[ix(j, j)..ix(i, j)];
                let mut g = e[j] + col[0] * f;
                for (x, dk) in col[1..].iter().zip(&d[j + 1..i]) {
                    g += x * dk;
                }
                for (ek, x) in e[j + 1..i].iter_mut().zip(&col[1..]) {
                    *ek += x * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for ((x, ek), dk) in v[ix(j, j)..ix(i, j)].iter_mut().zip(&e[j..i]).zip(&d[j..i]) {
                    *x -= f * ek + g * dk;
                }
                d[j] = v[ix(i - 1, j)];
                v[ix(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    for i in 0..n - 1 {
        v[ix(n - 1, i)] = v[ix(i, i)];
        v[ix(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[ix(k, i + 1)] / h;
            }
            for j in 0..=i {
                let (cols, next) = v.split_at_mut(ix(0, i + 1));
                let col = &mut cols[ix(0, j)..=ix(i, j)];
                let mut g = 0.0;
                for (a, b) in next[..=i].iter().zip(col.iter()) {
                    g += a * b;
                }
                for (x, dk) in col.iter_mut().zip(&d[..=i]) {
                    *x -= g * dk;
                }
            }
        }
        for k in 0..=i {
            v[ix(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[ix(n - 1, j)];
        v[ix(n - 1, j)] = 0.0;
    }
    v[ix(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
    // tql2: the implicit QL method on the tridiagonal matrix.
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let (mut f, mut tst1) = (0.0f64, 0.0f64);
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                if iter > 60 {
                    return None;
                }
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in d[l + 2..].iter_mut() {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (left, right) = v.split_at_mut((i + 1) * n);
                    for (vi, vi1) in left[i * n..].iter_mut().zip(&mut right[..n]) {
                        let h = *vi1;
                        *vi1 = s * *vi + c * h;
                        *vi = c * *vi - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 || e[l].is_nan() {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    if d.iter().chain(&v).any(|x| !x.is_finite()) {
        return None;
    }
    // Back to row-major: eigenvector j in column j.
    let mut out = vec![0.0; n * n];
    for c in 0..n {
        for r in 0..n {
            out[r * n + c] = v[c * n + r];
        }
    }
    Some((d, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spd_solve_agrees_with_least_squares_and_refuses_singular() {
        // The normal equations of a 6 x 3 problem, damped by D = diag(0.3, 0.1, 2).
        let a = [
            1.0, 2.0, 0.5, 0.3, -1.0, 2.0, 4.0, 0.1, 0.0, -2.0, 3.0, 1.0, 0.5, 0.5, 0.5, 1.0, 0.0,
            -1.0,
        ];
        let b = [1.0, -2.0, 0.5, 3.0, 0.0, 1.5];
        let d = [0.3, 0.1, 2.0];
        let mut m = vec![0.0; 9];
        let mut atb = vec![0.0; 3];
        for i in 0..6 {
            for j in 0..3 {
                atb[j] += a[i * 3 + j] * b[i];
                for k in 0..3 {
                    m[j * 3 + k] += a[i * 3 + j] * a[i * 3 + k];
                }
            }
        }
        let mut full = a.to_vec();
        let mut rhs = b.to_vec();
        for j in 0..3 {
            m[j * 3 + j] += d[j] * d[j];
            let mut row = vec![0.0; 3];
            row[j] = d[j];
            full.extend(&row);
            rhs.push(0.0);
        }
        let x = lstsq(&full, 9, 3, &rhs);
        let y = spd_solve(&m, 3, &atb).unwrap();
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-12 * (1.0 + p.abs()), "{x:?} vs {y:?}");
        }
        assert!(spd_solve(&[1.0, 1.0, 1.0, 1.0], 2, &[1.0, 1.0]).is_none());
    }

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

    #[test]
    fn the_normal_inverse_by_eigen_matches_the_svds_where_well_conditioned() {
        let mut r = rng::Rng::new(9, 2);
        let (mut by_eigen, mut by_svd) = (0, 0);
        for case in 0..60 {
            let (rows, cols) = (20 + case, 1 + case % 6);
            // Columns of scales spread over up to nine decades: conditions from 1 to ~1e9.
            let spread = (case % 7) as f64 * 1.5;
            let a: Vec<f64> = (0..rows * cols)
                .map(|p| r.normal() * 10f64.powf(spread * (p % cols) as f64 / cols as f64))
                .collect();
            let (inv, cond) = inverse_normal(&a, rows, cols);
            let (s, v) = svd(&a, rows, cols);
            let want_cond = s.iter().fold(0.0f64, |m, x| m.max(*x))
                / s.iter().fold(f64::INFINITY, |m, x| m.min(*x));
            assert!(
                (cond / want_cond - 1.0).abs() < 1e-8,
                "{cond} vs {want_cond}"
            );
            if cond < WELL_CONDITIONED {
                by_eigen += 1;
            } else {
                by_svd += 1;
            }
            for i in 0..cols {
                for j in 0..cols {
                    let want: f64 = (0..cols)
                        .map(|k| v[i * cols + k] * v[j * cols + k] / (s[k] * s[k]))
                        .sum();
                    let scale = (inv[i * cols + i] * inv[j * cols + j]).sqrt();
                    assert!(
                        (inv[i * cols + j] - want).abs() <= 1e-8 * scale,
                        "case {case} ({i}, {j}): {} vs {want}",
                        inv[i * cols + j]
                    );
                }
            }
        }
        assert!(
            by_eigen > 10 && by_svd > 5,
            "{by_eigen} by eigen, {by_svd} by SVD"
        );
    }

    #[test]
    fn symmetric_eigen_diagonalises_random_matrices() {
        let mut r = rng::Rng::new(5, 5);
        for n in [1usize, 2, 3, 7, 30, 100] {
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..=i {
                    let x = r.normal() * 10f64.powf(3.0 * r.normal().tanh());
                    a[i * n + j] = x;
                    a[j * n + i] = x;
                }
            }
            let (d, v) = symmetric_eigen(&a, n).unwrap();
            let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for j in 0..n {
                for i in 0..n {
                    let av: f64 = (0..n).map(|k| a[i * n + k] * v[k * n + j]).sum();
                    assert!((av - d[j] * v[i * n + j]).abs() < 1e-10 * scale * n as f64);
                }
                for k in 0..n {
                    let dot: f64 = (0..n).map(|i| v[i * n + j] * v[i * n + k]).sum();
                    let want = if j == k { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-10, "n {n}: v{j} . v{k} = {dot}");
                }
            }
        }
        assert!(symmetric_eigen(&[f64::NAN], 1).is_none());
    }
}
