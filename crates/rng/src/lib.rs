//! A small seeded random number generator (xoshiro256**, seeded by SplitMix64) with normal
//! deviates: every synthetic file gets its own stream derived from (seed, file index), so a
//! campaign is byte-identical for a seed whatever the thread count. [`fuzz`] is what every fuzz
//! target shares: this generator and one budget of cases or seconds.

pub mod fuzz;

/// xoshiro256** (Blackman and Vigna).
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A stream for `seed` and `stream` (a file's index, a replicate's number).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Rng {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in 0..n (0 when n is 0); the tiny modulo bias does not matter for fuzzing.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A standard normal deviate (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

impl Rng {
    /// Standard normal deviates into `out` by Marsaglia's polar method: two a pair from one
    /// logarithm and one square root, no trigonometry (a third of [`Rng::normal`]'s cost a
    /// deviate), for bootstraps that draw many. Not the numbers `normal` would give.
    pub fn normals(&mut self, out: &mut [f64]) {
        for pair in out.chunks_mut(2) {
            let (u, v, s) = loop {
                let u = 2.0 * self.uniform() - 1.0;
                let v = 2.0 * self.uniform() - 1.0;
                let s = u * u + v * v;
                if s > 0.0 && s < 1.0 {
                    break (u, v, s);
                }
            };
            let f = (-2.0 * s.ln() / s).sqrt();
            pair[0] = u * f;
            if let Some(second) = pair.get_mut(1) {
                *second = v * f;
            }
        }
    }
}

/// The stream of an item keyed by its id (FNV-1a of the bytes): the same id gets the same
/// replicates in any order and on any thread count.
pub fn stream_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_normal() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(7, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(7, 3).next_u64(), Rng::new(7, 4).next_u64());
        let mut r = Rng::new(1, 0);
        let v: Vec<f64> = (0..200_000).map(|_| r.normal()).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
    }

    #[test]
    fn polar_normals_are_standard_normal_and_pairs_independent() {
        let mut r = Rng::new(2, 0);
        let mut v = vec![0.0; 400_001];
        r.normals(&mut v);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let kurt = v.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n / (var * var);
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
        assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
        // Tail shares of N(0, 1): P(|z| > 1.96) = 0.05, P(|z| > 3) = 0.0027.
        let tail = |c: f64| v.iter().filter(|x| x.abs() > c).count() as f64 / n;
        assert!((tail(1.96) - 0.05).abs() < 0.002, "{}", tail(1.96));
        assert!((tail(3.0) - 0.0027).abs() < 0.0004, "{}", tail(3.0));
        // The two of a pair are uncorrelated, and so are their squares.
        let pairs: Vec<(f64, f64)> = v.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        let m = pairs.len() as f64;
        let c = pairs.iter().map(|(a, b)| a * b).sum::<f64>() / m;
        let c2 = pairs
            .iter()
            .map(|(a, b)| (a * a - 1.0) * (b * b - 1.0))
            .sum::<f64>()
            / m;
        assert!(c.abs() < 0.01 && c2.abs() < 0.03, "{c} {c2}");
        // The same stream gives the same deviates.
        let mut again = vec![0.0; 7];
        Rng::new(2, 0).normals(&mut again);
        assert_eq!(again, v[..7]);
    }
}
