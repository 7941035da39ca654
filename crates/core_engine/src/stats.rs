//! Where a render's time goes, stage by stage, so `storyflow bench` can show the renderer's
//! own cost beside the encoder's and the next regression is visible.
//!
//! Durations go into fixed-size histograms (10 µs buckets up to 100 ms, plus exact totals
//! and maxima), so the memory they take is the same for a 5-second and a 5-hour render.

use std::time::{Duration, Instant};

/// Width of a histogram bucket in microseconds.
const BUCKET_MICROS: u64 = 10;
/// Buckets: 0–100 ms; slower samples land in the last one (their exact time still counts in
/// the total and the maximum).
const BUCKETS: usize = 10_000;

/// The durations of one stage: how many, their sum, their maximum and their distribution.
#[derive(Clone, PartialEq, Eq)]
pub struct StageTimes {
    count: u64,
    total: Duration,
    max: Duration,
    buckets: Vec<u32>,
}

impl std::fmt::Debug for StageTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageTimes")
            .field("count", &self.count)
            .field("total", &self.total)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for StageTimes {
    fn default() -> Self {
        Self {
            count: 0,
            total: Duration::ZERO,
            max: Duration::ZERO,
            buckets: vec![0; BUCKETS],
        }
    }
}

impl StageTimes {
    pub fn record(&mut self, duration: Duration) {
        self.count += 1;
        self.total += duration;
        self.max = self.max.max(duration);
        let bucket = (duration.as_micros() / u128::from(BUCKET_MICROS)) as usize;
        self.buckets[bucket.min(BUCKETS - 1)] += 1;
    }

    /// Records the time since `started` and returns now, to time the next stage from.
    pub fn since(&mut self, started: Instant) -> Instant {
        let now = Instant::now();
        self.record(now - started);
        now
    }

    pub fn merge(&mut self, other: &StageTimes) {
        self.count += other.count;
        self.total += other.total;
        self.max = self.max.max(other.max);
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn total(&self) -> Duration {
        self.total
    }

    /// The mean duration (zero when nothing was recorded).
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(count) => self.total / count,
            Err(_) => self.total.div_f64(self.count as f64),
        }
    }

    pub fn max(&self) -> Duration {
        self.max
    }

    /// The duration below which a share `q` (0–1) of the samples fall, to the bucket: the
    /// upper edge of the bucket holding the sample of rank `ceil(q * count)`, capped by the
    /// maximum (and the maximum for samples beyond the last bucket). Zero when nothing was
    /// recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                if i == BUCKETS - 1 {
                    break; // the overflow bucket: only the maximum is known
                }
                let edge = Duration::from_micros((i as u64 + 1) * BUCKET_MICROS);
                return edge.min(self.max);
            }
        }
        self.max
    }
}

/// A render's time, stage by stage. Per frame: `frame` is the whole build (the picture and
/// the overlays); the picture is `shot` on frames showing one picture and `blend` on
/// crossfade frames (both pictures and their mix), the subtitle and logo are `overlays`.
/// `acquire` is the wait for a free output buffer, `push` the
/// hand-over to the encoder's queue (long when the encoder is the bottleneck, as it should
/// be), `picture_wait` the wait for the next segment's picture. Per segment: `picture` is
/// decoding and cover-fitting a picture, `narration` decoding a narration (its thread's waits
/// for the muxer excluded). Per render: `sound` is the splice's sound pass (mixing the music
/// in, measuring the loudness, gain and limiter, narration decoding included, the waits for
/// the muxer excluded); nothing is recorded when the track is pushed as decoded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RenderStats {
    pub frame: StageTimes,
    pub shot: StageTimes,
    pub blend: StageTimes,
    pub overlays: StageTimes,
    pub acquire: StageTimes,
    pub push: StageTimes,
    pub picture_wait: StageTimes,
    pub picture: StageTimes,
    pub narration: StageTimes,
    pub sound: StageTimes,
}

impl RenderStats {
    pub fn merge(&mut self, other: &RenderStats) {
        let pairs = [
            (&mut self.frame, &other.frame),
            (&mut self.shot, &other.shot),
            (&mut self.blend, &other.blend),
            (&mut self.overlays, &other.overlays),
            (&mut self.acquire, &other.acquire),
            (&mut self.push, &other.push),
            (&mut self.picture_wait, &other.picture_wait),
            (&mut self.picture, &other.picture),
            (&mut self.narration, &other.narration),
            (&mut self.sound, &other.sound),
        ];
        for (mine, theirs) in pairs {
            mine.merge(theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(us: u64) -> Duration {
        Duration::from_micros(us)
    }

    #[test]
    fn quantiles_are_bucket_edges_capped_by_the_maximum() {
        let mut times = StageTimes::default();
        assert_eq!(times.quantile(0.5), Duration::ZERO);
        // 98 samples of 1.234 ms, one of 5 ms, one of 250 ms (beyond the last bucket).
        for _ in 0..98 {
            times.record(micros(1_234));
        }
        times.record(micros(5_000));
        times.record(micros(250_000));
        assert_eq!(times.count(), 100);
        assert_eq!(times.total(), micros(98 * 1_234 + 5_000 + 250_000));
        assert_eq!(times.max(), micros(250_000));
        assert_eq!(times.mean(), micros(3_759) + Duration::from_nanos(320));
        assert_eq!(times.quantile(0.5), micros(1_240));
        assert_eq!(times.quantile(0.98), micros(1_240));
        assert_eq!(times.quantile(0.99), micros(5_010));
        assert_eq!(times.quantile(1.0), micros(250_000));
        let mut one = StageTimes::default();
        one.record(micros(3));
        assert_eq!(one.quantile(0.5), micros(3));
    }

    #[test]
    fn merging_adds_counts_totals_and_distributions() {
        let mut a = RenderStats::default();
        let mut b = RenderStats::default();
        a.frame.record(micros(100));
        b.frame.record(micros(300));
        b.frame.record(micros(500));
        a.merge(&b);
        assert_eq!(a.frame.count(), 3);
        assert_eq!(a.frame.total(), micros(900));
        assert_eq!(a.frame.quantile(0.5), micros(310));
        assert_eq!(a.frame.max(), micros(500));
    }
}
