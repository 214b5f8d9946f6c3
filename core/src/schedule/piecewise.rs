//! `optax.piecewise_interpolate_schedule`: the value starts at `init_value` and, at each boundary
//! b_i, has been multiplied by the scales s_1 … s_i, moving between boundaries linearly or along
//! a half cosine:
//!
//! v_0 = init_value, v_i = v_{i−1}·s_i;  η_t = interp(v_i, v_{i+1}, (t − b_i)/max(b_{i+1} − b_i, 1))
//! for b_i ≤ t < b_{i+1} (b_0 = 0), and η_t = v_k from the last boundary on, with
//! linear: (end − start)·p + start, cosine: end + (start − end)/2·(cos πp + 1), as optax writes them.
//!
//! (optax's `join_schedules` is [`super::Sequential`] over closed-form schedules: each one sees the
//! steps since its boundary.)

use super::{SavedSchedule, Schedule, check_base_lr, refuse};
use crate::error::Error;
use crate::persist::{Reader, Writer};

/// Most boundaries of a [`PiecewiseInterpolate`].
pub const MAX_BOUNDARIES: usize = 16;

/// How [`PiecewiseInterpolate`] moves between boundaries (`interpolate_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolate {
    /// A straight line.
    Linear,
    /// Half a cosine.
    Cosine,
}

/// `optax.piecewise_interpolate_schedule(interpolate_type, init_value, boundaries_and_scales)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PiecewiseInterpolate {
    interpolate: Interpolate,
    init_value: f64,
    boundaries: heapless::Vec<u64, MAX_BOUNDARIES>,
    scales: heapless::Vec<f64, MAX_BOUNDARIES>,
}

impl PiecewiseInterpolate {
    /// From `init_value` (the optimizer's lr), scaled by `scales[i]` at `boundaries[i]` (strictly
    /// increasing, as a Python dict's sorted keys; at most [`MAX_BOUNDARIES`]). Refuses negative
    /// scales (optax's message).
    pub fn new(
        interpolate: Interpolate,
        init_value: f64,
        boundaries: &[u64],
        scales: &[f64],
    ) -> Result<Self, Error> {
        check_base_lr(init_value)?;
        if boundaries.len() != scales.len() {
            return Err(refuse("piecewise_interpolate_schedule needs one scale per boundary"));
        }
        if boundaries.windows(2).any(|w| w[0] >= w[1]) {
            return Err(refuse("piecewise_interpolate_schedule's boundaries must be distinct and sorted"));
        }
        for &s in scales {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(refuse("`piecewise_interpolate_schedule` expects non-negative scale factors"));
            }
        }
        let boundaries = heapless::Vec::from_slice(boundaries).map_err(|_| Error::InvalidHyperparameter {
            name: "boundaries",
            value: boundaries.len() as f64,
        })?;
        let scales = heapless::Vec::from_slice(scales)
            .map_err(|_| Error::InvalidHyperparameter { name: "boundaries", value: scales.len() as f64 })?;
        Ok(PiecewiseInterpolate { interpolate, init_value, boundaries, scales })
    }
}

impl Schedule for PiecewiseInterpolate {
    fn lr_at(&self, t: u64) -> f64 {
        let (mut start, mut from) = (self.init_value, 0u64);
        for (&b, &s) in self.boundaries.iter().zip(&self.scales) {
            let end = start * s;
            if t < b {
                let p = (t - from) as f64 / (b - from).max(1) as f64;
                return match self.interpolate {
                    Interpolate::Linear => (end - start) * p + start,
                    Interpolate::Cosine => {
                        end + (start - end) / 2.0 * (libm::cos(core::f64::consts::PI * p) + 1.0)
                    }
                };
            }
            (start, from) = (end, b);
        }
        start
    }
}

impl SavedSchedule for PiecewiseInterpolate {
    const TAG: u8 = 16;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(match self.interpolate {
            Interpolate::Linear => 0,
            Interpolate::Cosine => 1,
        })?;
        w.f64(self.init_value)?;
        w.u64(self.boundaries.len() as u64)?;
        for (&b, &s) in self.boundaries.iter().zip(&self.scales) {
            w.u64(b)?;
            w.f64(s)?;
        }
        Ok(())
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let interpolate = match r.u8()? {
            0 => Interpolate::Linear,
            1 => Interpolate::Cosine,
            _ => return Err(Error::CorruptState { reason: "interpolate_type" }),
        };
        let init_value = r.f64()?;
        let k = r.u64()?;
        if k > MAX_BOUNDARIES as u64 {
            return Err(Error::CorruptState { reason: "too many boundaries" });
        }
        let mut boundaries = [0u64; MAX_BOUNDARIES];
        let mut scales = [0.0f64; MAX_BOUNDARIES];
        for i in 0..k as usize {
            if let (Some(b), Some(s)) = (boundaries.get_mut(i), scales.get_mut(i)) {
                *b = r.u64()?;
                *s = r.f64()?;
            }
        }
        let k = k as usize;
        PiecewiseInterpolate::new(
            interpolate,
            init_value,
            boundaries.get(..k).unwrap_or(&[]),
            scales.get(..k).unwrap_or(&[]),
        )
    }
}
