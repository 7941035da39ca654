//! The camera's sampler: which source samples, with which weights, make each output sample,
//! and the row kernels that apply them. Pure arithmetic on byte slices, no I/O.
//!
//! The filter is the tent (bilinear) filter, widened to the scale when the camera shows
//! more source pixels than the output has (as a convolution resampler does), so a slow zoom
//! out of a detailed picture does not shimmer; at unit scale or when enlarging it is plain
//! bilinear interpolation. Positions are never rounded: a sample at a fractional position
//! mixes its neighbours by the fraction, to 1/256 of a pixel.
//!
//! Weights are 8-bit fixed point summing to exactly 256, so a weighted sum of bytes fits in
//! 16 bits and the row loops compile to plain SIMD (SSE2 `pmullw`) without `unsafe`. A
//! picture is resampled in two passes per output row, vertical then horizontal, rounding to
//! a byte in between.

/// Weights sum to this (8 bits of fraction).
pub(crate) const ONE: u16 = 256;
const HALF: u16 = ONE / 2;

/// Scales within this of 1 are treated as 1 (plain bilinear): cover-fitted pictures are
/// rounded up to even sizes, so a pan's camera is a fraction of a pixel wider than the
/// output, and widening the tent by 0.1 % would only add a third tap of weight zero.
const UNIT_SCALE_SLACK: f64 = 0.01;

/// Bytes a row given to [`Axis::apply`] must hold beyond the axis's span: outputs with up to
/// four taps read four bytes (the extra ones with weight zero).
pub(crate) const ROW_PADDING: usize = 3;

/// One axis of a resampling: output sample `i` is the weighted sum of `taps` consecutive
/// source samples from `starts[i]`, with weights summing to [`ONE`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Axis {
    taps: usize,
    starts: Vec<u32>,
    /// Interleaved, `stride` a sample: the weights of output 0, then those of output 1...
    /// With up to four taps the stride is four (padded with zeros), so each output's weights
    /// load as one array.
    weights: Vec<u16>,
    stride: usize,
    /// With two taps: stretches of outputs that read consecutive sources, and the weights of
    /// each tap apart, so those stretches are plain vector loops.
    runs: Vec<Run>,
    first_weights: Vec<u16>,
    second_weights: Vec<u16>,
}

/// Outputs `outputs` read sources from `source` on (relative to the axis's span).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    outputs: std::ops::Range<usize>,
    source: usize,
}

/// Runs shorter than this on average are not worth their loop set-up: the per-sample loop
/// is used instead (a zoom's scale makes runs of 3 or 4 samples).
const MIN_MEAN_RUN: usize = 16;

impl Axis {
    /// The taps for `outputs` samples showing the source span `offset .. offset + length`
    /// (in source samples; sample `j` covers `j .. j + 1`) of a source of `sources` samples.
    /// Reuses this axis's memory.
    pub fn plan(&mut self, offset: f64, length: f64, outputs: usize, sources: usize) {
        self.starts.clear();
        self.weights.clear();
        self.runs.clear();
        self.first_weights.clear();
        self.second_weights.clear();
        if outputs == 0 || sources == 0 {
            self.taps = 0;
            return;
        }
        let scale = length / outputs as f64;
        let radius = if scale <= 1.0 + UNIT_SCALE_SLACK {
            1.0
        } else {
            scale
        };
        // The tent is positive on an open interval 2 * radius long.
        self.taps = ((2.0 * radius).ceil() as usize).clamp(1, sources);
        self.stride = self.taps.max(4);
        let last_start = (sources - self.taps) as f64;
        let mut tent = vec![0.0; self.taps];
        for i in 0..outputs {
            let centre = offset + (i as f64 + 0.5) * scale;
            // The first source sample whose centre (j + 0.5) is within the radius, moved
            // inside the picture: samples beyond its edges are not used.
            let start = (centre - 0.5 - radius).floor() + 1.0;
            let start = start.clamp(0.0, last_start);
            let mut total = 0.0;
            for (k, w) in tent.iter_mut().enumerate() {
                let distance = (start + k as f64 + 0.5 - centre).abs();
                *w = (1.0 - distance / radius).max(0.0);
                total += *w;
            }
            if total <= 0.0 {
                // Only when the span lies entirely outside the picture: nearest sample.
                tent.fill(0.0);
                let nearest = (centre - 0.5 - start).round().clamp(0.0, last_start) as usize;
                tent[nearest.min(self.taps - 1)] = 1.0;
                total = 1.0;
            }
            // Cumulative rounding: the fixed-point weights sum to exactly ONE and each is
            // within 1/256 of its exact value.
            let mut cumulative = 0.0;
            let mut given = 0u16;
            for w in &tent {
                cumulative += w / total;
                let upto = ((cumulative * f64::from(ONE)).round() as u16).min(ONE);
                self.weights.push(upto - given);
                given = upto;
            }
            if let Some(last) = self.weights.last_mut() {
                *last += ONE - given;
            }
            self.weights
                .resize(self.weights.len() + self.stride - self.taps, 0);
            self.starts.push(start as u32);
        }
        if self.taps == 2 {
            self.plan_runs();
        }
    }

    /// Splits the outputs into runs reading consecutive sources; keeps them only when they
    /// are long enough to pay off.
    fn plan_runs(&mut self) {
        let base = self.span().start;
        let n = self.starts.len();
        let mut i = 0;
        while i < n {
            // Source index minus output index: constant along a run.
            let shift = |i: usize| self.starts[i] as isize - i as isize;
            let mut end = i + 1;
            while end < n && shift(end) == shift(i) {
                end += 1;
            }
            self.runs.push(Run {
                outputs: i..end,
                source: self.starts[i] as usize - base,
            });
            i = end;
        }
        if self.runs.len() * MIN_MEAN_RUN > n {
            self.runs.clear();
            return;
        }
        for weights in self.weights.chunks_exact(self.stride) {
            self.first_weights.push(weights[0]);
            self.second_weights.push(weights[1]);
        }
    }

    pub fn taps(&self) -> usize {
        self.taps
    }

    pub fn start(&self, i: usize) -> usize {
        self.starts[i] as usize
    }

    /// The weight of tap `k` of output sample `i`.
    pub fn weight(&self, k: usize, i: usize) -> u16 {
        self.weights[i * self.stride + k]
    }

    /// The source samples the axis reads: from the first tap of the first output to the last
    /// tap of the last.
    pub fn span(&self) -> std::ops::Range<usize> {
        match (self.starts.first(), self.starts.last()) {
            (Some(&first), Some(&last)) => first as usize..last as usize + self.taps,
            _ => 0..0,
        }
    }

    /// Samples `row` (the source samples of `span()`, then [`ROW_PADDING`] more) into
    /// `out`, one per output.
    pub fn apply(&self, row: &[u8], out: &mut [u8]) {
        if !self.runs.is_empty() {
            return self.apply_runs(row, out);
        }
        let base = self.span().start;
        let outputs = out.iter_mut().zip(&self.starts);
        if self.stride == 4 {
            // One output at a time: its four bytes and four weights as arrays, the sum
            // unrolled (a gather: consecutive outputs read irregularly spaced sources).
            for ((o, &s), w) in outputs.zip(self.weights.chunks_exact(4)) {
                let s = s as usize - base;
                let (Some(px), Some(w)) = (row.get(s..s + 4), w.get(..4)) else {
                    return;
                };
                let acc = u32::from(w[0]) * u32::from(px[0])
                    + u32::from(w[1]) * u32::from(px[1])
                    + u32::from(w[2]) * u32::from(px[2])
                    + u32::from(w[3]) * u32::from(px[3]);
                *o = ((acc + u32::from(HALF)) >> 8) as u8;
            }
            return;
        }
        for ((o, &s), w) in outputs.zip(self.weights.chunks_exact(self.stride)) {
            let s = s as usize - base;
            let mut acc = HALF;
            for (&px, &w) in row[s..s + self.taps].iter().zip(w) {
                acc += w * u16::from(px);
            }
            *o = (acc >> 8) as u8;
        }
    }

    /// Two taps along runs of consecutive sources: contiguous loops that vectorise.
    fn apply_runs(&self, row: &[u8], out: &mut [u8]) {
        for run in &self.runs {
            let len = run.outputs.len();
            let (a, b) = (
                &row[run.source..run.source + len],
                &row[run.source + 1..run.source + 1 + len],
            );
            let weights = self.first_weights[run.outputs.clone()]
                .iter()
                .zip(&self.second_weights[run.outputs.clone()]);
            for ((o, (&a, &b)), (&wa, &wb)) in out[run.outputs.clone()]
                .iter_mut()
                .zip(a.iter().zip(b))
                .zip(weights)
            {
                *o = ((u16::from(a) * wa + u16::from(b) * wb + HALF) >> 8) as u8;
            }
        }
    }
}

/// The vertical pass for output row `i` of `axis`: mixes the rows of `plane` (rows of
/// `stride` bytes) that the row's taps name, over the columns `columns`, into `out`.
/// `sums` holds 16-bit sums when there are more than four taps.
pub(crate) fn mix_rows(
    axis: &Axis,
    i: usize,
    plane: &[u8],
    stride: usize,
    columns: std::ops::Range<usize>,
    out: &mut [u8],
    sums: &mut Vec<u16>,
) {
    let first = axis.start(i);
    let row = |k: usize| &plane[(first + k) * stride + columns.start..][..columns.len()];
    let weight = |k: usize| axis.weight(k, i);
    // A tap of full weight (the camera on a whole row) is a copy.
    if let Some(k) = (0..axis.taps()).find(|&k| weight(k) == ONE) {
        out.copy_from_slice(row(k));
        return;
    }
    let mix = |x: u16| (x >> 8) as u8;
    match axis.taps() {
        2 => {
            let (wa, wb) = (weight(0), weight(1));
            for (o, (&a, &b)) in out.iter_mut().zip(row(0).iter().zip(row(1))) {
                *o = mix(u16::from(a) * wa + u16::from(b) * wb + HALF);
            }
        }
        3 => {
            let (wa, wb, wc) = (weight(0), weight(1), weight(2));
            let abc = row(0).iter().zip(row(1)).zip(row(2));
            for (o, ((&a, &b), &c)) in out.iter_mut().zip(abc) {
                *o = mix(u16::from(a) * wa + u16::from(b) * wb + u16::from(c) * wc + HALF);
            }
        }
        4 => {
            let (wa, wb, wc, wd) = (weight(0), weight(1), weight(2), weight(3));
            let abcd = row(0).iter().zip(row(1)).zip(row(2)).zip(row(3));
            for (o, (((&a, &b), &c), &d)) in out.iter_mut().zip(abcd) {
                *o = mix(u16::from(a) * wa
                    + u16::from(b) * wb
                    + u16::from(c) * wc
                    + u16::from(d) * wd
                    + HALF);
            }
        }
        taps => {
            sums.clear();
            sums.resize(out.len(), HALF);
            for k in 0..taps {
                let w = weight(k);
                for (sum, &px) in sums.iter_mut().zip(row(k)) {
                    *sum += u16::from(px) * w;
                }
            }
            for (o, &sum) in out.iter_mut().zip(sums.iter()) {
                *o = mix(sum);
            }
        }
    }
}

/// Crossfades `incoming` into `out` in place: `out = (incoming * w + out * (255 - w)) / 255`,
/// rounded to nearest, with `w` in 0–255.
pub(crate) fn crossfade_row(out: &mut [u8], incoming: &[u8], w: u16) {
    let keep = 255 - w;
    for (o, &new) in out.iter_mut().zip(incoming) {
        // x / 255 rounded, as `overlay::div255`, in 16 bits: x + 128 <= 65153 and adding
        // its high byte stays below 65536.
        let x = u16::from(new) * w + u16::from(*o) * keep + 128;
        *o = ((x + (x >> 8)) >> 8) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(offset: f64, length: f64, outputs: usize, sources: usize) -> Axis {
        let mut axis = Axis::default();
        axis.plan(offset, length, outputs, sources);
        axis
    }

    /// `a` applied to the whole source row `row`.
    fn sample(a: &Axis, row: &[u8]) -> Vec<u8> {
        let mut padded = row[a.span()].to_vec();
        padded.extend_from_slice(&[0; ROW_PADDING]);
        let mut out = vec![0; a.starts.len()];
        a.apply(&padded, &mut out);
        out
    }

    /// (start, weights) of output `i`.
    fn taps(axis: &Axis, i: usize) -> (usize, Vec<u16>) {
        (
            axis.start(i),
            (0..axis.taps()).map(|k| axis.weight(k, i)).collect(),
        )
    }

    #[test]
    fn unit_scale_at_whole_pixels_copies() {
        let a = axis(3.0, 4.0, 4, 10);
        assert_eq!(a.taps(), 2);
        assert_eq!(taps(&a, 0), (3, vec![256, 0]));
        assert_eq!(taps(&a, 3), (6, vec![256, 0]));
        assert_eq!(a.span(), 3..8);
        let row: Vec<u8> = (0..10).map(|x| x * 10).collect();
        assert_eq!(sample(&a, &row), [30, 40, 50, 60]);
    }

    #[test]
    fn fractional_offsets_mix_neighbours_by_the_fraction() {
        // A quarter pixel right: 3/4 of sample j and 1/4 of j + 1.
        let a = axis(3.25, 4.0, 4, 10);
        assert_eq!(taps(&a, 0), (3, vec![192, 64]));
        let half = axis(0.5, 4.0, 4, 10);
        assert_eq!(taps(&half, 1), (1, vec![128, 128]));
        // 1/256 of a pixel still moves the weights.
        let tiny = axis(2.0 + 1.0 / 256.0, 4.0, 4, 10);
        assert_eq!(taps(&tiny, 0), (2, vec![255, 1]));
        let row: Vec<u8> = (0..10).map(|x| x * 10).collect();
        // 30 * 0.75 + 40 * 0.25 = 32.5, rounded half up.
        assert_eq!(sample(&a, &row), [33, 43, 53, 63]);
    }

    #[test]
    fn shrinking_widens_the_tent() {
        // 6 sources into 4 outputs (scale 1.5): three taps, weights of 1 - d / 1.5.
        let a = axis(0.0, 6.0, 4, 6);
        assert_eq!(a.taps(), 3);
        // Output 1 is centred on 2.25: sources 1, 2, 3 at distances 0.75, 0.25, 1.25,
        // weights 0.5, 5/6, 1/6 of 1.5 in total: 85.3, 142.2, 28.4 -> 85, 143, 28.
        assert_eq!(taps(&a, 1), (1, vec![85, 143, 28]));
        // Output 0 is centred on 0.75: its window starts at the edge, sources 0, 1, 2 at
        // distances 0.25, 0.75, 1.75: weights 5/6 and 1/2 of 4/3, i.e. 0.625 and 0.375.
        assert_eq!(taps(&a, 0), (0, vec![160, 96, 0]));
        for i in 0..4 {
            assert_eq!(taps(&a, i).1.iter().sum::<u16>(), 256);
        }
        let out = sample(&a, &[10, 20, 30, 40, 50, 60]);
        // Output 1: (20 * 85 + 30 * 143 + 40 * 28 + 128) >> 8 = 28 (exactly 27.8).
        assert_eq!(out[1], 28);
    }

    #[test]
    fn pan_scales_a_hair_above_one_stay_bilinear() {
        let a = axis(0.25, 1921.0, 1920, 2000);
        assert_eq!(a.taps(), 2);
        // The last output is centred on 0.25 + 1919.5 * 1921 / 1920 = 1920.75.
        assert_eq!(taps(&a, 1919).0, 1920);
        assert_eq!(a.span(), 0..1922);
    }

    /// The run loops (unit scale) and the per-sample loop give the same bytes.
    #[test]
    fn runs_and_single_samples_agree() {
        let row: Vec<u8> = (0..3000u32).map(|x| (x * 37 % 256) as u8).collect();
        let pan = axis(10.8, 1920.4, 1920, 3000);
        assert_eq!(pan.runs.len(), 2);
        let mut single = pan.clone();
        single.runs.clear();
        assert_eq!(sample(&pan, &row), sample(&single, &row));
        // A zoom's scale makes runs too short to be used.
        assert!(axis(10.3, 2400.0, 1920, 3000).runs.is_empty());
    }

    #[test]
    fn the_edges_are_clamped_inside_the_picture() {
        let a = axis(0.0, 4.0, 4, 4);
        assert_eq!(taps(&a, 3), (2, vec![0, 256]));
        assert_eq!(sample(&a, &[77; 4]), [77; 4]);
    }

    #[test]
    fn rows_mix_with_their_weights() {
        // A 4x4 plane (stride 4) whose rows are 0.., 100.., 200.., 250..
        let plane: Vec<u8> = [0u8, 100, 200, 250]
            .iter()
            .flat_map(|&v| (0..4).map(move |c| v + c))
            .collect();
        let mut sums = Vec::new();
        let mut out = [0u8; 2];
        // Halfway between rows 0 and 1, columns 1..3.
        let half = axis(0.5, 2.0, 2, 4);
        mix_rows(&half, 0, &plane, 4, 1..3, &mut out, &mut sums);
        assert_eq!(out, [51, 52]);
        // On row 2 exactly: a copy.
        let whole = axis(2.0, 2.0, 2, 4);
        mix_rows(&whole, 0, &plane, 4, 0..2, &mut out, &mut sums);
        assert_eq!(out, [200, 201]);
        // Three taps (85, 143, 28) on rows 1, 2, 3 of a 6-row plane.
        let wide = axis(0.0, 6.0, 4, 6);
        let column = [0u8, 20, 30, 40, 0, 0];
        let mut one = [0u8];
        mix_rows(&wide, 1, &column, 1, 0..1, &mut one, &mut sums);
        assert_eq!(one, [28]);
    }

    #[test]
    fn crossfades_round_to_nearest() {
        let mut out = [16u8, 100, 255, 0];
        crossfade_row(&mut out, &[235, 200, 0, 255], 64);
        // 16 + (235 - 16) * 64 / 255 = 70.97; 100 + 100 * 64 / 255 = 125.1; 255 * 191 / 255;
        // 255 * 64 / 255.
        assert_eq!(out, [71, 125, 191, 64]);
        for (a, b, w) in [(0u8, 255u8, 255u16), (255, 0, 0), (13, 200, 128)] {
            let mut out = [a];
            crossfade_row(&mut out, &[b], w);
            let exact = (f64::from(b) * f64::from(w) + f64::from(a) * f64::from(255 - w)) / 255.0;
            assert_eq!(out[0], exact.round() as u8);
        }
    }
}
