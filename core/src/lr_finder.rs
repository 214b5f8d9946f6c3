//! The learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural
//! Networks", §3.3; the fastai `lr_find` procedure): raise the learning rate exponentially from
//! `start_lr` to `end_lr` over `num_steps` steps, smooth the loss with an exponential moving
//! average and bias correction, stop when the smoothed loss exceeds `diverge_factor` (4) times the
//! best seen, and suggest the learning rate where the smoothed loss falls fastest.
//!
//! ```text
//! lr_k = start · (end/start)^(k/(n−1))              k = 0 … n−1
//! a_k = β·a_{k−1} + (1 − β)·loss_k;  ℓ̂_k = a_k / (1 − β^(k+1))      (β = 0.98)
//! stop when ℓ̂_k > 4·min_{j≤k} ℓ̂_j (k > 0)
//! suggestion = lr at argmin of dℓ̂/d(log lr)  (central differences, one-sided at the ends)
//! ```
//! The record has a compile-time capacity `CAP`, so the test runs in `no_std`.

use crate::error::Error;
use crate::real::powf64;

/// Why the range test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeStatus {
    /// Keep going: train one more step at [`LrRangeTest::lr`].
    Continue,
    /// The smoothed loss exceeded `diverge_factor` × the best.
    Diverged,
    /// All `num_steps` steps were taken.
    Finished,
}

/// One point of the record: the lr used and the smoothed (bias-corrected) loss after that step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangePoint {
    /// Learning rate of the step.
    pub lr: f64,
    /// The loss as reported.
    pub loss: f64,
    /// The smoothed, bias-corrected loss; +∞ for a step whose loss was not finite.
    pub smoothed: f64,
}

/// The LR range test with room for `CAP` points.
#[derive(Debug, Clone)]
pub struct LrRangeTest<const CAP: usize> {
    start_lr: f64,
    end_lr: f64,
    num_steps: usize,
    beta: f64,
    diverge_factor: f64,
    avg: f64,
    best: f64,
    status: RangeStatus,
    record: heapless::Vec<RangePoint, CAP>,
}

impl<const CAP: usize> LrRangeTest<CAP> {
    /// A range test from `start_lr` to `end_lr` (0 < start < end) over `num_steps` ∈ [2, CAP]
    /// steps, smoothing β = 0.98 and divergence factor 4 (Smith; fastai).
    pub fn new(start_lr: f64, end_lr: f64, num_steps: usize) -> Result<Self, Error> {
        Self::with_smoothing(start_lr, end_lr, num_steps, 0.98, 4.0)
    }

    /// As [`LrRangeTest::new`] with smoothing `beta` ∈ [0, 1) and divergence factor > 1.
    pub fn with_smoothing(
        start_lr: f64,
        end_lr: f64,
        num_steps: usize,
        beta: f64,
        diverge_factor: f64,
    ) -> Result<Self, Error> {
        if !(start_lr > 0.0 && start_lr.is_finite()) {
            return Err(Error::InvalidHyperparameter { name: "start_lr", value: start_lr });
        }
        if !(end_lr > start_lr && end_lr.is_finite()) {
            return Err(Error::InvalidHyperparameter { name: "end_lr", value: end_lr });
        }
        if num_steps < 2 || num_steps > CAP {
            return Err(Error::InvalidHyperparameter { name: "num_steps", value: num_steps as f64 });
        }
        if !(0.0..1.0).contains(&beta) {
            return Err(Error::InvalidHyperparameter { name: "beta", value: beta });
        }
        if !(diverge_factor > 1.0) {
            return Err(Error::InvalidHyperparameter { name: "diverge_factor", value: diverge_factor });
        }
        Ok(LrRangeTest {
            start_lr,
            end_lr,
            num_steps,
            beta,
            diverge_factor,
            avg: 0.0,
            best: f64::INFINITY,
            status: RangeStatus::Continue,
            record: heapless::Vec::new(),
        })
    }

    /// The learning rate of step `k` (closed form).
    pub fn lr_at(&self, k: usize) -> f64 {
        self.start_lr * powf64(self.end_lr / self.start_lr, k as f64 / (self.num_steps - 1) as f64)
    }

    /// The learning rate for the next step.
    pub fn lr(&self) -> f64 {
        self.lr_at(self.record.len())
    }

    /// Where the test stands.
    pub fn status(&self) -> RangeStatus {
        self.status
    }

    /// Records the loss of the step just taken at [`LrRangeTest::lr`]. A non-finite loss counts as
    /// divergence: its point is recorded (smoothed loss +∞, the moving average left as it was),
    /// like the point of any other diverging step. Once the test has ended, further losses are
    /// refused.
    pub fn record(&mut self, loss: f64) -> Result<RangeStatus, Error> {
        if self.status != RangeStatus::Continue {
            return Err(Error::Unsupported { what: "the range test has ended" });
        }
        let k = self.record.len();
        let lr = self.lr();
        let smoothed = if loss.is_finite() {
            self.avg = self.beta * self.avg + (1.0 - self.beta) * loss;
            self.avg / (1.0 - powf64(self.beta, (k + 1) as f64))
        } else {
            f64::INFINITY
        };
        if self.record.push(RangePoint { lr, loss, smoothed }).is_err() {
            self.status = RangeStatus::Finished;
            return Ok(self.status);
        }
        if !loss.is_finite() || (k > 0 && smoothed > self.diverge_factor * self.best) {
            self.status = RangeStatus::Diverged;
        } else if k + 1 >= self.num_steps {
            self.status = RangeStatus::Finished;
        }
        self.best = self.best.min(smoothed);
        Ok(self.status)
    }

    /// The points recorded so far.
    pub fn points(&self) -> &[RangePoint] {
        &self.record
    }

    /// The suggested learning rate: where the smoothed loss decreases fastest with log lr. The
    /// point that triggered divergence (always the last one recorded) is left out. `None` with
    /// fewer than 3 usable points.
    pub fn suggestion(&self) -> Option<f64> {
        let pts = match self.status {
            RangeStatus::Diverged => self.record.split_last().map(|(_, rest)| rest)?,
            _ => &self.record[..],
        };
        if pts.len() < 3 {
            return None;
        }
        let x = |i: usize| pts.get(i).map(|p| libm::log(p.lr));
        let y = |i: usize| pts.get(i).map(|p| p.smoothed);
        let last = pts.len() - 1;
        let mut best: Option<(f64, f64)> = None;
        for i in 0..=last {
            let (a, b) = (i.saturating_sub(1), (i + 1).min(last));
            let slope = (y(b)? - y(a)?) / (x(b)? - x(a)?);
            if best.is_none_or(|(s, _)| slope < s) {
                best = Some((slope, pts.get(i)?.lr));
            }
        }
        best.map(|(_, lr)| lr)
    }
}
