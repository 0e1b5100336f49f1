//! Nonnegative least squares in Gram form: min 1/2 x^T G x - q^T x subject to x >= 0, for a
//! symmetric positive definite G (the normal matrix of a regularised problem, A^T A + lambda
//! L^T L, with q = A^T b). The algorithm is Lawson and Hanson's active set method in the form of
//! Bro and de Jong (J. Chemometrics 11, 1997, "FNNLS"), which works on G and q only: every step
//! is a Cholesky solve on the passive (free) set. It can start from a previous passive set, which
//! makes a scan over lambda or a bootstrap cost a few solves per problem.
//!
//! Why not a crate: the spectrum stage needs the exact final passive set (its degrees of freedom
//! for GCV are a trace over it), a warm start, and ~10^3 solves of a 100-variable problem per
//! curve. A general QP solver (an interior point method such as clarabel) would solve a
//! 200-row KKT system some 20 times per problem and return an approximately interior point; the
//! Rust `nnls` crate works on the design matrix (not G) and pulls in ndarray. This file is about
//! a hundred lines, and its result is checked by the KKT conditions in its tests, which certify
//! the optimum of a convex problem.

use crate::linalg::dot;

/// The solution, its passive set and how many passive-set changes it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Nnls {
    pub x: Vec<f64>,
    pub passive: Vec<bool>,
    pub iterations: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NnlsError {
    #[error("the Gram matrix is not positive definite on the free variables")]
    NotPositiveDefinite,
    #[error("no convergence in {0} passive-set changes")]
    NoConvergence(usize),
    #[error("non-finite input")]
    NonFinite,
}

/// Cholesky factor (lower, row-major k x k) of the submatrix of `g` (n x n) on `idx`.
pub fn cholesky_sub(g: &[f64], n: usize, idx: &[usize]) -> Option<Vec<f64>> {
    let k = idx.len();
    cholesky_profile(|i, j| g[idx[i] * n + idx[j]], k, &vec![0; k])
}

/// The Cholesky factor L (lower, k x k) of a positive definite `a` (k x k) whose rows start late
/// (a band, as a second-difference penalty: row i from column i - 2), and the first column of
/// each row that is not 0. A factor has no entries left of its matrix's envelope, so its sums
/// skip what is exactly 0 there: the same numbers as the dense factorisation, in O(k) for a
/// band. None if `a` is not positive definite.
pub fn cholesky_envelope(a: &[f64], k: usize) -> Option<(Vec<f64>, Vec<usize>)> {
    let first: Vec<usize> = (0..k)
        .map(|i| (0..i).find(|&p| a[i * k + p] != 0.0).unwrap_or(i))
        .collect();
    cholesky_profile(|i, j| a[i * k + j], k, &first).map(|l| (l, first))
}

/// Cholesky by rows of the k x k matrix `a(i, j)`, row i's entries starting at `first[i]`.
fn cholesky_profile(
    a: impl Fn(usize, usize) -> f64,
    k: usize,
    first: &[usize],
) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in first[i]..=i {
            let mut s = a(i, j);
            for p in first[i].max(first[j])..j {
                s -= l[i * k + p] * l[j * k + p];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// The Cholesky factor of G on the passive set, in the order the variables entered: a variable
/// that enters appends a row (O(k^2)); one that leaves is deleted by Givens rotations (O(k^2)).
struct Factor {
    idx: Vec<usize>,
    /// Lower factor, row-major with stride n.
    l: Vec<f64>,
    n: usize,
}

impl Factor {
    fn new(n: usize) -> Factor {
        Factor {
            idx: Vec::with_capacity(n),
            l: vec![0.0; n * n],
            n,
        }
    }

    /// Appends variable j; false when G is not positive definite on the enlarged set.
    fn add(&mut self, g: &[f64], j: usize) -> bool {
        let (n, k) = (self.n, self.idx.len());
        let mut d = g[j * n + j];
        // Row k of the factor by forward substitution, each entry one dot product with the row
        // before it (rows r < k are complete).
        for r in 0..k {
            let (done, new) = self.l.split_at_mut(k * n);
            let v = (g[self.idx[r] * n + j] - dot(&done[r * n..r * n + r], &new[..r]))
                / done[r * n + r];
            new[r] = v;
            d -= v * v;
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        self.l[k * n + k] = d.sqrt();
        self.idx.push(j);
        true
    }

    /// Removes variable j (when present) by deleting its row and restoring the triangle with
    /// Givens rotations on the columns after it: O((k - r)^2) for position r, where a rebuild
    /// is O(k^3).
    fn remove(&mut self, j: usize) {
        let n = self.n;
        let Some(r) = self.idx.iter().position(|&v| v == j) else {
            return;
        };
        let k = self.idx.len();
        for i in r + 1..k {
            self.l.copy_within(i * n..i * n + i + 1, (i - 1) * n);
        }
        for i in 0..k {
            self.l[(k - 1) * n + i] = 0.0;
        }
        // Row s (s >= r) now reaches column s + 1: rotate columns s and s + 1 to zero it.
        for s in r..k - 1 {
            let (a, b) = (self.l[s * n + s], self.l[s * n + s + 1]);
            let h = a.hypot(b);
            let (c, sn) = (a / h, b / h);
            for i in s..k - 1 {
                let (x, y) = (self.l[i * n + s], self.l[i * n + s + 1]);
                self.l[i * n + s] = c * x + sn * y;
                self.l[i * n + s + 1] = c * y - sn * x;
            }
            self.l[s * n + s + 1] = 0.0;
        }
        self.idx.remove(r);
    }

    fn rebuild(&mut self, g: &[f64], passive: &[bool]) -> bool {
        self.idx.clear();
        (0..self.n).filter(|&j| passive[j]).all(|j| self.add(g, j))
    }

    /// The unconstrained solution on the passive set (zero elsewhere).
    fn solve(&self, q: &[f64]) -> Vec<f64> {
        let (n, k) = (self.n, self.idx.len());
        let mut b: Vec<f64> = self.idx.iter().map(|&j| q[j]).collect();
        // L y = b by rows (a dot product each), then L^T x = y by columns of L^T, i.e. rows of
        // L: x_i known, it is subtracted from every earlier entry at once (no reduction).
        for i in 0..k {
            let (head, tail) = b.split_at_mut(i);
            tail[0] = (tail[0] - dot(&self.l[i * n..i * n + i], head)) / self.l[i * n + i];
        }
        for i in (0..k).rev() {
            let xi = b[i] / self.l[i * n + i];
            b[i] = xi;
            for (bp, lp) in b[..i].iter_mut().zip(&self.l[i * n..i * n + i]) {
                *bp -= lp * xi;
            }
        }
        let mut out = vec![0.0; n];
        for (p, &j) in self.idx.iter().enumerate() {
            out[j] = b[p];
        }
        out
    }
}

/// The active-set method's scales for a right-hand side q of n entries.
#[derive(Debug, Clone, Copy)]
pub struct Tolerances {
    /// max |q_i| (at least the smallest positive double).
    pub scale: f64,
    /// A variable enters when its negative gradient exceeds this: 1e-12 n scale.
    pub tol: f64,
    /// Passive-set changes allowed: 3 n + 10.
    pub max_iter: usize,
}

impl Tolerances {
    pub fn of(q: &[f64]) -> Tolerances {
        let n = q.len();
        let scale = q
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        Tolerances {
            scale,
            tol: 1e-12 * scale * n as f64,
            max_iter: 3 * n + 10,
        }
    }
}

/// Solves min 1/2 x^T G x - q^T x, x >= 0 (G n x n row-major, symmetric positive definite),
/// optionally starting from the passive set `start`.
pub fn nnls_gram(
    g: &[f64],
    n: usize,
    q: &[f64],
    start: Option<&[bool]>,
) -> Result<Nnls, NnlsError> {
    if g.len() != n * n || q.len() != n {
        return Err(NnlsError::NonFinite);
    }
    if g.iter().chain(q).any(|v| !v.is_finite()) {
        return Err(NnlsError::NonFinite);
    }
    let Tolerances { tol, max_iter, .. } = Tolerances::of(q);
    let mut passive = vec![false; n];
    let mut x = vec![0.0; n];
    // A warm start: keep the previous passive set, dropping variables until the solution on it
    // is strictly positive (a feasible point that is optimal on its own passive set).
    let mut factor = Factor::new(n);
    if let Some(p0) = start.filter(|p| p.len() == n) {
        passive.copy_from_slice(p0);
        if !factor.rebuild(g, &passive) {
            return Err(NnlsError::NotPositiveDefinite);
        }
        loop {
            let s = factor.solve(q);
            let mut dropped = false;
            for j in 0..n {
                if passive[j] && s[j] <= 0.0 {
                    passive[j] = false;
                    factor.remove(j);
                    dropped = true;
                }
            }
            if !dropped {
                x = s;
                break;
            }
        }
    }
    let mut iterations = 0;
    loop {
        // The negative gradient where the variable is held at 0 (a passive one's is 0 at the
        // optimum on its set and never read); a variable that would decrease the objective
        // enters.
        let w: Vec<f64> = (0..n)
            .map(|i| {
                if passive[i] {
                    0.0
                } else {
                    q[i] - dot(&g[i * n..(i + 1) * n], &x)
                }
            })
            .collect();
        let enter = (0..n)
            .filter(|&j| !passive[j] && w[j] > tol)
            .max_by(|&a, &b| w[a].total_cmp(&w[b]).then(b.cmp(&a)));
        let Some(j) = enter else { break };
        iterations += 1;
        if iterations > max_iter {
            return Err(NnlsError::NoConvergence(max_iter));
        }
        passive[j] = true;
        if !factor.add(g, j) && !factor.rebuild(g, &passive) {
            return Err(NnlsError::NotPositiveDefinite);
        }
        loop {
            let s = factor.solve(q);
            if (0..n).all(|i| !passive[i] || s[i] > 0.0) {
                x = s;
                break;
            }
            // Step from x towards s as far as feasibility allows, then free the variables that
            // reached zero.
            let (mut alpha, mut block) = (1.0f64, usize::MAX);
            for i in (0..n).filter(|&i| passive[i] && s[i] <= 0.0) {
                let a = x[i] / (x[i] - s[i]);
                if a < alpha || block == usize::MAX {
                    (alpha, block) = (a.min(1.0), i);
                }
            }
            for i in 0..n {
                x[i] += alpha * (s[i] - x[i]);
                if passive[i] && (i == block || x[i] <= 0.0) {
                    passive[i] = false;
                    x[i] = 0.0;
                    factor.remove(i);
                }
            }
            iterations += 1;
            if iterations > max_iter {
                return Err(NnlsError::NoConvergence(max_iter));
            }
        }
    }
    Ok(Nnls {
        x,
        passive,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random well-posed problem: G = A^T A + ridge, q = A^T b.
    fn problem(seed: u64, rows: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut r = rng::Rng::new(seed, 1);
        let a: Vec<f64> = (0..rows * n).map(|_| r.normal()).collect();
        let b: Vec<f64> = (0..rows).map(|_| r.normal()).collect();
        let mut g = vec![0.0; n * n];
        let mut q = vec![0.0; n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = (0..rows).map(|k| a[k * n + i] * a[k * n + j]).sum();
            }
            g[i * n + i] += 1e-3;
            q[i] = (0..rows).map(|k| a[k * n + i] * b[k]).sum();
        }
        (g, q)
    }

    /// The KKT conditions of a convex QP: x >= 0, gradient >= 0 where x = 0, = 0 where x > 0.
    fn assert_kkt(g: &[f64], q: &[f64], n: usize, x: &[f64]) {
        let scale = q.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..n {
            let grad = (0..n).map(|j| g[i * n + j] * x[j]).sum::<f64>() - q[i];
            assert!(x[i] >= 0.0, "x[{i}] = {}", x[i]);
            if x[i] > 0.0 {
                assert!(
                    grad.abs() < 1e-9 * scale,
                    "grad[{i}] = {grad} on a free variable"
                );
            } else {
                assert!(
                    grad > -1e-9 * scale,
                    "grad[{i}] = {grad} < 0 on a bound variable"
                );
            }
        }
    }

    #[test]
    fn random_problems_satisfy_the_kkt_conditions_cold_and_warm() {
        for seed in 0..200 {
            let n = 5 + (seed as usize % 30);
            let (g, q) = problem(seed, n + 10, n);
            let cold = nnls_gram(&g, n, &q, None).unwrap();
            assert_kkt(&g, &q, n, &cold.x);
            // Warm starts from an unrelated set and from every variable free.
            let other: Vec<bool> = (0..n).map(|j| j % 3 == 0).collect();
            for start in [other, vec![true; n]] {
                let warm = nnls_gram(&g, n, &q, Some(&start)).unwrap();
                assert_kkt(&g, &q, n, &warm.x);
                for (a, b) in cold.x.iter().zip(&warm.x) {
                    assert!((a - b).abs() < 1e-8 * (1.0 + a.abs()), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn removing_a_variable_from_the_factor_matches_a_rebuild() {
        let (g, q) = problem(11, 60, 25);
        let n = 25;
        let mut f = Factor::new(n);
        let order = [3usize, 17, 0, 9, 24, 5, 12, 20, 1, 8];
        for &j in &order {
            assert!(f.add(&g, j));
        }
        for gone in [9usize, 3, 8, 20] {
            f.remove(gone);
            let mut passive = vec![false; n];
            for &j in &f.idx {
                passive[j] = true;
            }
            let mut fresh = Factor::new(n);
            assert!(fresh.rebuild(&g, &passive));
            let (a, b) = (f.solve(&q), fresh.solve(&q));
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-10 * y.abs().max(1.0), "{x} vs {y}");
            }
            assert_eq!(a[gone], 0.0);
        }
        assert_eq!(f.idx.len(), order.len() - 4);
    }

    #[test]
    fn an_interior_solution_is_the_unconstrained_one() {
        // G = diag(2, 4), q = (2, 8): x = (1, 2), both positive.
        let r = nnls_gram(&[2.0, 0.0, 0.0, 4.0], 2, &[2.0, 8.0], None).unwrap();
        assert!((r.x[0] - 1.0).abs() < 1e-14 && (r.x[1] - 2.0).abs() < 1e-14);
        // q = (-2, 8): the first is held at zero.
        let r = nnls_gram(&[2.0, 0.0, 0.0, 4.0], 2, &[-2.0, 8.0], None).unwrap();
        assert_eq!(r.x[0], 0.0);
        assert!(!r.passive[0] && r.passive[1]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(
            nnls_gram(&[f64::NAN], 1, &[1.0], None),
            Err(NnlsError::NonFinite)
        );
        assert_eq!(
            nnls_gram(&[-1.0], 1, &[1.0], None),
            Err(NnlsError::NotPositiveDefinite)
        );
        assert_eq!(
            nnls_gram(&[1.0], 2, &[1.0], None),
            Err(NnlsError::NonFinite)
        );
    }
}
