//! Averages of the parameters along a run, as `torch.optim.swa_utils.AveragedModel` keeps them:
//! stochastic weight averaging (SWA, Izmailov et al. 2018), the running mean of every set of
//! parameters it is given, and the exponential moving average (EMA, `get_ema_multi_avg_fn`):
//!
//! - first update: φ ← θ (PyTorch copies the parameters when nothing is averaged yet);
//! - SWA, n sets averaged so far: φ ← φ + (θ − φ)/(n + 1) (PyTorch's CPU `get_swa_avg_fn`);
//! - EMA with decay β: φ ← lerp(φ, θ, 1 − β) = β·φ + (1 − β)·θ (ATen's `lerp`).
//!
//! The average lives in a buffer the caller owns (or a const array): no heap. Call
//! [`Averaged::update`] after the optimizer steps (every step for EMA; for SWA, typically once per
//! epoch after the SWA phase starts).

use core::marker::PhantomData;

use super::StateBuffer;
use super::ops::Lerp;
use crate::error::{Error, check_ge};
use crate::persist::{self, Header, Kind, Writer};
use crate::real::Real;

/// Which average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Average {
    /// The running mean (SWA).
    Swa,
    /// The exponential moving average with this decay β ∈ [0, 1].
    Ema {
        /// β.
        decay: f64,
    },
}

impl Average {
    /// Checks the decay (PyTorch's message).
    pub fn validate(&self) -> Result<(), Error> {
        match *self {
            Average::Swa => Ok(()),
            Average::Ema { decay } => {
                check_ge("decay", decay, 0.0)?;
                if decay > 1.0 {
                    return Err(Error::InvalidHyperparameter { name: "decay", value: decay });
                }
                Ok(())
            }
        }
    }
}

/// An average of `len` parameters in `B`.
#[derive(Debug, Clone)]
pub struct Averaged<F, B> {
    average: Average,
    buf: B,
    len: usize,
    n_averaged: u64,
    _float: PhantomData<F>,
}

impl<F: Real, B: StateBuffer<F>> Averaged<F, B> {
    /// An empty average of `len` parameters in `buf` (at least `len` values). Refuses an invalid
    /// decay and a buffer too small.
    pub fn new(average: Average, buf: B, len: usize) -> Result<Self, Error> {
        average.validate()?;
        let available = buf.values().len();
        if available < len {
            return Err(Error::BufferTooSmall { what: "averaged parameters", needed: len, available });
        }
        Ok(Averaged { average, buf, len, n_averaged: 0, _float: PhantomData })
    }

    /// Folds `params` into the average (PyTorch's `update_parameters`).
    pub fn update(&mut self, params: &[F]) -> Result<(), Error> {
        if params.len() != self.len {
            return Err(Error::LengthMismatch { what: "params", expected: self.len, found: params.len() });
        }
        let n = self.n_averaged;
        let avg = self.buf.values_mut().get_mut(..params.len()).unwrap_or(&mut []);
        match (n, self.average) {
            (0, _) => avg.iter_mut().zip(params).for_each(|(a, &p)| *a = p),
            (_, Average::Swa) => {
                let count = F::from_f64(n as f64 + 1.0);
                for (a, &p) in avg.iter_mut().zip(params) {
                    *a = *a + (p - *a) / count;
                }
            }
            (_, Average::Ema { decay }) => {
                let l = Lerp::<F>::new(1.0 - decay);
                for (a, &p) in avg.iter_mut().zip(params) {
                    *a = l.apply(*a, p);
                }
            }
        }
        self.n_averaged = n.saturating_add(1);
        Ok(())
    }

    /// The averaged parameters (all zero before the first update).
    pub fn params(&self) -> &[F] {
        self.buf.values().get(..self.len).unwrap_or(&[])
    }
    /// How many sets of parameters were averaged.
    pub fn n_averaged(&self) -> u64 {
        self.n_averaged
    }
    /// Which average.
    pub fn average(&self) -> Average {
        self.average
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let h = Header {
            kind: Kind::Averaged.byte(),
            float_bytes: F::BYTES as u8,
            n: self.len as u64,
            steps: self.n_averaged,
        };
        w.header(&h)?;
        match self.average {
            Average::Swa => w.u8(0)?,
            Average::Ema { decay } => {
                w.u8(1)?;
                w.f64(decay)?;
            }
        }
        w.floats(self.params())
    }
    /// Bytes [`Averaged::save`] writes.
    pub fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w))
    }
    /// Saves the kind of average, the count and the average (kind [`Kind::Averaged`]).
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        persist::save(out, |w| self.write(w))
    }
    /// Restores what [`Averaged::save`] wrote; refuses anything else and then changes nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (h, mut r) = super::open_saved(bytes, Kind::Averaged.byte(), Some(F::BYTES as u8), self.len)?;
        let average = match r.u8()? {
            0 => Average::Swa,
            1 => Average::Ema { decay: r.f64()? },
            _ => return Err(Error::CorruptState { reason: "average kind" }),
        };
        average.validate()?;
        let raw = r.floats::<F>(self.len)?;
        r.finish()?;
        if let Some(dst) = self.buf.values_mut().get_mut(..self.len) {
            persist::copy_floats(raw, dst);
        }
        self.average = average;
        self.n_averaged = h.steps;
        Ok(())
    }
}
