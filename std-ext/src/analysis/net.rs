//! What the MLP analyses share: a model with its parameters over a data set, seeded mini-batches,
//! the gradient of one batch or of a whole (sub)set, and the loss at any parameters.

use crate::batches::Batches;
use crate::model::{Activation, Init, Loss, Mlp, Targets, Workspace};
use crate::train::Split;

/// The model and batching every MLP analysis is told: layer widths, batch size, seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// Layer widths, input to output.
    pub sizes: Vec<usize>,
    /// Examples per mini-batch.
    pub batch: usize,
    /// Seed for initialization and shuffling.
    pub seed: u64,
    /// Threads for the matrix products (the same bits at every count).
    pub threads: usize,
}

/// An MLP, its parameters and the training data it sees.
pub struct Net<'a> {
    /// The model.
    pub model: Mlp,
    /// Its parameters.
    pub params: Vec<f32>,
    /// The gradient of the last [`Net::batch_gradient`] or [`Net::gradient_at`].
    pub grad: Vec<f32>,
    data: Split<'a>,
    loss: Loss,
    /// Rows the workspace holds: a batch, or a chunk of up to 1000 examples for full losses.
    rows: usize,
    batches: Batches,
    ws: Workspace,
}

impl<'a> Net<'a> {
    /// This net, its matrix products on `threads` threads.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.ws = std::mem::take(&mut self.ws).with_threads(threads);
        self
    }

    /// The model of `setup` with `activation`, over `data`.
    pub fn from_setup(
        data: Split<'a>,
        setup: &Setup,
        activation: Activation,
        loss: Loss,
    ) -> Result<Self, String> {
        Ok(Net::new(data, &setup.sizes, activation, loss, setup.seed, setup.batch)?
            .with_threads(setup.threads))
    }

    /// A model of layer widths `sizes`, initialized from `seed`, over `data` in batches of `batch`.
    pub fn new(
        data: Split<'a>,
        sizes: &[usize],
        activation: Activation,
        loss: Loss,
        seed: u64,
        batch: usize,
    ) -> Result<Self, String> {
        let model = Mlp::new(sizes, activation)?;
        if batch == 0 || data.n == 0 {
            return Err("the batch size and the data set must not be empty".into());
        }
        if data.x.len() != data.n * model.inputs() {
            return Err(format!(
                "the data has {} features per example, the model expects {}",
                data.x.len() / data.n,
                model.inputs()
            ));
        }
        let init = if activation == Activation::Relu { Init::He } else { Init::Xavier };
        let params = model.init_params(init, seed);
        let (inp, out) = (model.inputs(), model.outputs());
        // A batch larger than the data set is the whole data set.
        let rows = batch.min(data.n).max(data.n.min(1000));
        Ok(Net {
            grad: vec![0.0; params.len()],
            params,
            ws: model.workspace(rows),
            model,
            data,
            loss,
            rows,
            batches: Batches::new(data.n, inp, out, loss, batch),
        })
    }

    /// Batches per epoch.
    pub fn batches(&self) -> usize {
        self.batches.count()
    }

    /// Reshuffles the examples for `epoch` (the training loop's order: [`Batches::shuffle`]).
    pub fn shuffle(&mut self, seed: u64, epoch: usize) {
        self.batches.shuffle(seed, epoch);
    }

    /// The mean loss of batch `k` of the current order at the current parameters, and its
    /// gradient into [`Net::grad`].
    pub fn batch_gradient(&mut self, k: usize) -> f64 {
        let (b, x, t) = self.batches.gather(self.data, k);
        let s = self.model.loss_and_grad(&self.params, x, t, b, self.loss, &mut self.ws, &mut self.grad);
        s.loss_sum / b.max(1) as f64
    }

    /// The mean loss over the first `n` examples at `params` (in order, chunks of up to 1000),
    /// and its gradient into [`Net::grad`].
    pub fn gradient_at(&mut self, params: &[f32], n: usize) -> f64 {
        let n = n.min(self.data.n);
        let (inp, out) = (self.model.inputs(), self.model.outputs());
        let chunk = self.rows;
        let mut total = vec![0.0f64; self.grad.len()];
        let mut loss = 0.0;
        for start in (0..n).step_by(chunk) {
            let b = chunk.min(n - start);
            let t = match self.loss {
                Loss::CrossEntropy => Targets::Classes(&self.data.y[start..start + b]),
                Loss::Mse => Targets::Values(&self.data.values[start * out..(start + b) * out]),
            };
            let x = &self.data.x[start * inp..(start + b) * inp];
            let s = self.model.loss_and_grad(params, x, t, b, self.loss, &mut self.ws, &mut self.grad);
            loss += s.loss_sum;
            // Each chunk's gradient is of its mean loss: weight by its size.
            total.iter_mut().zip(&self.grad).for_each(|(t, g)| *t += f64::from(*g) * b as f64);
        }
        self.grad.iter_mut().zip(&total).for_each(|(g, t)| *g = (*t / n as f64) as f32);
        loss / n as f64
    }

    /// The mean loss over the first `n` examples of `data` at `params`.
    pub fn loss_at(&mut self, params: &[f32], data: Split<'_>, n: usize) -> f64 {
        crate::train::evaluate(&self.model, params, data.head(n), self.loss, self.rows).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<f32>, Vec<u8>) {
        let x: Vec<f32> = (0..300 * 4).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        let y: Vec<u8> = (0..300).map(|i| u8::from(x[i * 4] + x[i * 4 + 1] > 0.0)).collect();
        (x, y)
    }

    #[test]
    fn the_full_gradient_is_the_size_weighted_mean_of_batch_gradients() {
        let (x, y) = toy();
        let data = Split { x: &x, y: &y, values: &[], n: 300 };
        let mut net = Net::new(data, &[4, 6, 2], Activation::Tanh, Loss::CrossEntropy, 1, 128).unwrap();
        let p = net.params.clone();
        let full_loss = net.gradient_at(&p, 300);
        let full = net.grad.clone();
        // Batches of 128, 128, 44 in the identity order.
        let mut acc = vec![0.0f64; full.len()];
        let mut loss = 0.0;
        for k in 0..net.batches() {
            let b = (300 - k * 128).min(128) as f64;
            loss += net.batch_gradient(k) * b;
            acc.iter_mut().zip(&net.grad).for_each(|(a, g)| *a += f64::from(*g) * b);
        }
        assert!((loss / 300.0 - full_loss).abs() < 1e-6);
        for (a, f) in acc.iter().zip(&full) {
            assert!((a / 300.0 - f64::from(*f)).abs() < 1e-5);
        }
        assert!((net.loss_at(&p, data, 300) - full_loss).abs() < 1e-6);
    }
}
