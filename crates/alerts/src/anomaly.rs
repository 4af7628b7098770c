//! Anomaly detection: does a value leave its series' own recent band (an exponentially weighted mean ± k standard deviations)?
//!
//! An anomaly rule keeps one [`Band`] per subject and feeds it one sample
//! per rule window (the series' value over that window), so consecutive
//! samples do not overlap. Each sample is judged against the band as it was
//! *before* the sample, then folded in: a lasting shift becomes the new
//! normal after a while, a spike stands out. The standard deviation has a
//! floor (1% of the mean, at least 10⁻⁶) so a perfectly flat series does not
//! call every tiny wobble an anomaly.

/// How much each new sample weighs in the mean and variance.
pub const ALPHA: f64 = 0.1;

/// What a sample was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Judgement {
    /// Too few samples yet to know the series' band.
    Learning,
    /// Inside the band; `sigmas` from the mean.
    Normal {
        /// Distance from the mean in standard deviations.
        sigmas: f64,
    },
    /// Outside the band.
    Outside {
        /// Distance from the mean in standard deviations (signed: above is positive).
        sigmas: f64,
    },
}

/// A series' recent band.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Band {
    mean: f64,
    variance: f64,
    samples: u64,
}

impl Band {
    /// The band's mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The band's standard deviation (with its floor).
    pub fn deviation(&self) -> f64 {
        self.variance.sqrt().max(self.mean.abs() * 0.01).max(1e-6)
    }

    /// Judges `value` against the band (outside past `k` deviations, once
    /// `warmup` samples were seen), then folds it in.
    pub fn observe(&mut self, value: f64, k: f64, warmup: u64) -> Judgement {
        let judgement = if self.samples < warmup.max(2) {
            Judgement::Learning
        } else {
            let sigmas = (value - self.mean) / self.deviation();
            if sigmas.abs() > k {
                Judgement::Outside { sigmas }
            } else {
                Judgement::Normal { sigmas }
            }
        };
        if self.samples == 0 {
            self.mean = value;
        } else {
            let difference = value - self.mean;
            let increment = ALPHA * difference;
            self.mean += increment;
            self.variance = (1.0 - ALPHA) * (self.variance + difference * increment);
        }
        self.samples += 1;
        judgement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noise in [-1, 1].
    fn noise(step: u64) -> f64 {
        let mixed = step
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((mixed >> 33) as f64 / f64::from(u32::MAX >> 1)) * 2.0 - 1.0
    }

    fn outside(band: &mut Band, series: impl IntoIterator<Item = f64>) -> Vec<usize> {
        series
            .into_iter()
            .enumerate()
            .filter(|(_, value)| matches!(band.observe(*value, 3.0, 10), Judgement::Outside { .. }))
            .map(|(index, _)| index)
            .collect()
    }

    #[test]
    fn a_noisy_steady_series_never_fires() {
        let mut band = Band::default();
        let series = (0..1000).map(|step| 100.0 + 5.0 * noise(step));
        assert_eq!(outside(&mut band, series), Vec::<usize>::new());
        assert!((band.mean() - 100.0).abs() < 2.0, "{}", band.mean());
    }

    #[test]
    fn a_daily_wave_with_noise_never_fires() {
        let mut band = Band::default();
        let series = (0..2000).map(|step| {
            let phase = step as f64 / 288.0 * std::f64::consts::TAU;
            200.0 + 50.0 * phase.sin() + 4.0 * noise(step)
        });
        assert_eq!(outside(&mut band, series), Vec::<usize>::new());
    }

    #[test]
    fn a_spike_fires_once_and_the_series_settles() {
        let mut band = Band::default();
        let series = (0..200).map(|step| {
            if step == 120 {
                160.0
            } else {
                100.0 + 5.0 * noise(step)
            }
        });
        assert_eq!(outside(&mut band, series), vec![120]);
    }

    #[test]
    fn a_lasting_step_fires_then_becomes_the_new_normal() {
        let mut band = Band::default();
        let series = (0..300).map(|step| {
            let level = if step < 100 { 100.0 } else { 400.0 };
            level + 5.0 * noise(step)
        });
        let fired = outside(&mut band, series);
        assert_eq!(fired.first(), Some(&100), "{fired:?}");
        // It keeps firing while the band catches up, then stops.
        assert!(fired.iter().all(|step| (100..160).contains(step)), "{fired:?}");
        assert!((band.mean() - 400.0).abs() < 5.0, "{}", band.mean());
    }

    #[test]
    fn a_slow_drift_does_not_fire() {
        let mut band = Band::default();
        let series = (0..1000).map(|step| 100.0 + step as f64 * 0.2 + 3.0 * noise(step));
        assert_eq!(outside(&mut band, series), Vec::<usize>::new());
    }

    #[test]
    fn nothing_fires_while_learning_and_a_drop_fires_below() {
        let mut band = Band::default();
        let early = [100.0, 900.0, 5.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0];
        assert_eq!(outside(&mut band, early), Vec::<usize>::new());
        let mut band = Band::default();
        for step in 0..50 {
            band.observe(100.0 + 2.0 * noise(step), 3.0, 10);
        }
        match band.observe(0.0, 3.0, 10) {
            Judgement::Outside { sigmas } => assert!(sigmas < -3.0, "{sigmas}"),
            other => panic!("a drop to zero should be outside the band, got {other:?}"),
        }
    }

    #[test]
    fn a_flat_series_tolerates_a_one_percent_wobble() {
        let mut band = Band::default();
        for _ in 0..20 {
            band.observe(50.0, 3.0, 10);
        }
        assert!(matches!(band.observe(50.5, 3.0, 10), Judgement::Normal { .. }));
        assert!(matches!(band.observe(60.0, 3.0, 10), Judgement::Outside { .. }));
    }
}
