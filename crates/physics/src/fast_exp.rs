//! exp without a library call, in a form the compiler vectorises: the model-compare mode sums
//! (every fit keeps `f64::exp`; a KWW refit with this one took more iterations, not less time).

/// Below this, exp(v) is taken as 0 (e^-708.4 is the smallest normal number).
const ZERO_BELOW: f64 = -708.0;
/// Above this, exp(v) is taken as infinite (e^709 = 8.2e307, near the largest number).
const INFINITE_ABOVE: f64 = 709.0;

/// exp(v): v = k ln 2 + r with k the nearest integer (the 1.5 * 2^52 rounding trick, which also
/// leaves k in the low bits), ln 2 split in two so that k ln 2 is exact (Cody and Waite),
/// |r| <= ln 2 / 2, e^r by its Taylor polynomial of degree 13 (truncation 4e-18), 2^k put into
/// the exponent bits. Within 2 ulp of `f64::exp` on [-708, 709] (`exp_is_within_two_ulp`); 0
/// below (and for -inf), infinite above, NaN for NaN.
#[inline(always)]
pub fn exp(v: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with its last 32 bits 0 (k LN2_HI is exact for |k| < 2^20).
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let a = v.clamp(ZERO_BELOW, INFINITE_ABOVE);
    let t = a * LOG2E + ROUND;
    let k = t - ROUND;
    let r = (a - k * LN2_HI) - k * LN2_LO;
    // 1/n! for n = 13 down to 2.
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let mut p = C[0];
    for c in &C[1..] {
        p = p * r + c;
    }
    let p = (p * r + 1.0) * r + 1.0;
    // k sits in the low bits of t (two's complement): 2^k's exponent field is k + 1023.
    let k_bits = t.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    // v * 0 is 0 for finite v and NaN for NaN, which it carries.
    let e = p * scale + v * 0.0;
    if v < ZERO_BELOW {
        0.0
    } else if v > INFINITE_ABOVE {
        f64::INFINITY
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp() {
        let ulp = |v: f64| f64::from_bits(v.to_bits() + 1) - v;
        let mut worst = 0.0f64;
        // A dense sweep of [-708, 709] and every multiple of ln 2 / 2 (the reduction's edges),
        // against the library's exp.
        let mut vs: Vec<f64> = (0..3_000_000)
            .map(|k| -708.0 + 1417.0 * k as f64 / 2_999_999.0)
            .collect();
        vs.extend((-2044..2046).map(|k| k as f64 * std::f64::consts::LN_2 / 2.0));
        vs.extend([
            0.0, -0.0, 1e-300, -1e-17, 1e-9, 0.5, -1.0, -707.999, 708.999,
        ]);
        for v in vs
            .into_iter()
            .filter(|v| (ZERO_BELOW..=INFINITE_ABOVE).contains(v))
        {
            let (got, want) = (exp(v), v.exp());
            let err = (got - want).abs() / ulp(want);
            worst = worst.max(err);
            assert!(err <= 2.0, "v {v}: {got} vs {want} ({err} ulp)");
        }
        assert!(worst > 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-708.5), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(709.5), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
    }
}
