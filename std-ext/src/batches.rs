//! Seeded mini-batches: the order of an epoch (a ChaCha8 shuffle seeded by the run's seed and the
//! epoch number) and the gathering of a batch's rows into contiguous buffers for the matrix
//! products. The training loop and the analyses share it, so the same seed gives the same
//! batches everywhere.

use crate::model::{Loss, Targets};
use crate::split::Split;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The batches of one data set.
#[derive(Debug, Clone)]
pub struct Batches {
    n: usize,
    inputs: usize,
    outputs: usize,
    loss: Loss,
    batch: usize,
    order: Vec<usize>,
    x: Vec<f32>,
    y: Vec<u8>,
    v: Vec<f32>,
}

impl Batches {
    /// Batches of up to `batch` rows of `n` examples (`inputs` features, `outputs` targets for
    /// MSE), in the identity order until [`Batches::shuffle`]. A batch larger than `n` is all `n`.
    pub fn new(n: usize, inputs: usize, outputs: usize, loss: Loss, batch: usize) -> Self {
        let batch = batch.clamp(1, n.max(1));
        Batches {
            n,
            inputs,
            outputs,
            loss,
            batch,
            order: (0..n).collect(),
            x: vec![0.0; batch * inputs],
            y: vec![0; batch],
            v: vec![0.0; batch * outputs],
        }
    }

    /// Batches per epoch (the last one may be short).
    pub fn count(&self) -> usize {
        self.n.div_ceil(self.batch)
    }

    /// Shuffles the order for `epoch` of a run seeded with `seed`.
    pub fn shuffle(&mut self, seed: u64, epoch: usize) {
        self.order = (0..self.n).collect();
        self.order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
    }

    /// Gathers batch `k` of the current order from `data` (which must have the `n` examples of
    /// [`Batches::new`]): its size, its features (`size × inputs`) and its targets.
    pub fn gather(&mut self, data: Split<'_>, k: usize) -> (usize, &[f32], Targets<'_>) {
        let (inp, out) = (self.inputs, self.outputs);
        let rows = &self.order[(k * self.batch).min(self.n)..((k + 1) * self.batch).min(self.n)];
        let b = rows.len();
        for (r, &i) in rows.iter().enumerate() {
            self.x[r * inp..(r + 1) * inp].copy_from_slice(&data.x[i * inp..(i + 1) * inp]);
            match self.loss {
                Loss::CrossEntropy => self.y[r] = data.y[i],
                Loss::Mse => {
                    self.v[r * out..(r + 1) * out].copy_from_slice(&data.values[i * out..(i + 1) * out])
                }
            }
        }
        let t = match self.loss {
            Loss::CrossEntropy => Targets::Classes(&self.y[..b]),
            Loss::Mse => Targets::Values(&self.v[..b * out]),
        };
        (b, &self.x[..b * inp], t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_visits_every_example_once_and_the_seed_fixes_the_order() {
        let x: Vec<f32> = (0..10 * 2).map(|i| i as f32).collect();
        let y: Vec<u8> = (0..10).collect();
        let data = Split { x: &x, y: &y, values: &[], n: 10 };
        let mut b = Batches::new(10, 2, 10, Loss::CrossEntropy, 4);
        assert_eq!(b.count(), 3);
        b.shuffle(7, 1);
        let mut seen = Vec::new();
        for k in 0..b.count() {
            let (n, xs, t) = b.gather(data, k);
            let Targets::Classes(ys) = t else { panic!("classes") };
            assert_eq!(n, if k == 2 { 2 } else { 4 });
            for (r, &c) in ys.iter().enumerate() {
                // Features travel with their label.
                assert_eq!(xs[2 * r], f32::from(c) * 2.0);
                seen.push(c);
            }
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<u8>>());
        let mut again = Batches::new(10, 2, 10, Loss::CrossEntropy, 4);
        again.shuffle(7, 1);
        assert_eq!(again.order, b.order);
        again.shuffle(7, 2);
        assert_ne!(again.order, b.order);
    }
}
