//! `exp`, `tanh` and `sin`/`cos` in f32 as straight-line code (range reduction, then a
//! polynomial; no calls and no branches), so that loops over the model's spectra vectorise.
//! The C library's versions are calls, one value at a time, and made the DSP cost a quarter
//! of the model run; numpy, which the reference uses, has vectorised ones too. Accuracy: a
//! few units in the last place, far below what the audio can show.

/// 1.5 · 2²³: adding it to an f32 of magnitude below 2²² rounds to an integer, kept in the
/// low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;

/// Rounds to the nearest integer, as (float, integer).
#[inline(always)]
fn round(x: f32) -> (f32, i32) {
    let shifted = x + ROUNDER;
    (
        shifted - ROUNDER,
        shifted.to_bits() as i32 - ROUNDER.to_bits() as i32,
    )
}

/// eˣ for x ≤ 88; below −87 the result is 0 (the true value is under 1.7e-38).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75; // few mantissa bits: n · LN2_HI is exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    let clamped = x.clamp(-87.0, 88.0);
    let (n, k) = round(clamped * std::f32::consts::LOG2_E);
    let r = clamped - n * LN2_HI - n * LN2_LO;
    // eʳ on |r| ≤ ln2/2: Taylor series to r⁷ (truncation below 2e-9).
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let scale = f32::from_bits(((k + 127).max(0) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        p * scale
    }
}

/// tanh x = 1 − 2 / (e²ˣ + 1), accurate to 2e-7 absolute.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-10.0, 10.0);
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// (sin x, cos x) for |x| < 1e4 (the model's phases stay within a few π).
#[inline(always)]
pub fn sin_cos(x: f32) -> (f32, f32) {
    // x = q·π/2 + r, π/2 in three parts so that q · PART1 and q · PART2 are exact.
    const PART1: f32 = 1.570_312_5;
    const PART2: f32 = 4.837_513e-4;
    const PART3: f32 = 7.549_79e-8;
    let (q, quadrant) = round(x * std::f32::consts::FRAC_2_PI);
    let r = x - q * PART1 - q * PART2 - q * PART3;
    let r2 = r * r;
    // Taylor series on |r| ≤ π/4 (truncation below 2e-9).
    let s = 1.0 / 362_880.0;
    let s = s * r2 - 1.0 / 5040.0;
    let s = s * r2 + 1.0 / 120.0;
    let s = s * r2 - 1.0 / 6.0;
    let s = s * r2 * r + r;
    let c = -1.0 / 3_628_800.0;
    let c = c * r2 + 1.0 / 40_320.0;
    let c = c * r2 - 1.0 / 720.0;
    let c = c * r2 + 1.0 / 24.0;
    let c = c * r2 - 0.5;
    let c = c * r2 + 1.0;
    let (sin, cos) = if quadrant & 1 == 0 { (s, c) } else { (c, s) };
    let sin = if quadrant & 2 == 0 { sin } else { -sin };
    let cos = if (quadrant + 1) & 2 == 0 { cos } else { -cos };
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest |f(x) − g(x)| / max(|g(x)|, floor) over evenly spaced x in [from, to].
    fn worst(
        from: f32,
        to: f32,
        floor: f64,
        f: impl Fn(f32) -> f64,
        g: impl Fn(f64) -> f64,
    ) -> f64 {
        let steps = 200_000;
        (0..=steps)
            .map(|i| {
                let x = from + (to - from) * i as f32 / steps as f32;
                let exact = g(f64::from(x));
                (f(x) - exact).abs() / exact.abs().max(floor)
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn exp_is_within_two_ulp() {
        let error = worst(-87.0, 7.0, 0.0, |x| f64::from(exp(x)), f64::exp);
        assert!(error < 2.5e-7, "{error:e}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn tanh_is_within_2e7_absolute() {
        let error = worst(-20.0, 20.0, 1.0, |x| f64::from(tanh(x)), f64::tanh);
        assert!(error < 2e-7, "{error:e}");
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(30.0), 1.0);
        assert_eq!(tanh(-30.0), -1.0);
    }

    #[test]
    fn sin_cos_are_within_1e7_absolute() {
        for (from, to) in [(-4.0, 4.0), (-100.0, 100.0)] {
            let sin = worst(from, to, 1.0, |x| f64::from(sin_cos(x).0), f64::sin);
            let cos = worst(from, to, 1.0, |x| f64::from(sin_cos(x).1), f64::cos);
            assert!(
                sin < 1.5e-7 && cos < 1.5e-7,
                "{sin:e} {cos:e} on {from}..{to}"
            );
        }
        assert_eq!(sin_cos(0.0), (0.0, 1.0));
    }
}
