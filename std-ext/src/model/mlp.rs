//! A multilayer perceptron: any list of layer sizes, one activation for the hidden layers, a
//! linear output layer, softmax cross-entropy (classification) or mean squared error
//! (regression). All weights and biases live in one contiguous `Vec<f32>` (layer by layer, W then
//! b), so one optimizer call updates the whole model and its state lines up with it.
//!
//! Layout: layer l maps `inputs → outputs` with W stored row-major as `[inputs, outputs]` (so a
//! batch X `[batch, inputs]` gives Z = X·W + b without transposes) and b `[outputs]`. PyTorch's
//! `nn.Linear` stores Wᵀ (`[out, in]`); the function computed is the same.

use super::gemm::{Mat, matmul_on};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use std::ops::Range;
use std::str::FromStr;

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// max(0, z).
    Relu,
    /// tanh z.
    Tanh,
    /// 1/(1 + e^(−z)).
    Sigmoid,
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(format!("unknown activation '{s}' (relu, tanh, sigmoid)")),
        }
    }
}

impl Activation {
    /// The name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }
    #[inline]
    fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        }
    }
    /// The derivative expressed through the activation's output a.
    #[inline]
    fn derivative_from_output(self, a: f32) -> f32 {
        match self {
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - a * a,
            Activation::Sigmoid => a * (1.0 - a),
        }
    }
}

/// Weight initialization (biases start at zero, except with [`Init::Torch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// He et al. 2015: W ~ N(0, 2/fan_in) (PyTorch `kaiming_normal_`, fan_in, relu). For ReLU.
    He,
    /// Glorot & Bengio 2010: W ~ U(±√(6/(fan_in + fan_out))) (PyTorch `xavier_uniform_`). For tanh/sigmoid.
    Xavier,
    /// PyTorch's `nn.Linear` default: W and b ~ U(±1/√fan_in) (`kaiming_uniform_` with a = √5),
    /// for comparing with a PyTorch model built with no explicit initialization.
    Torch,
}

impl FromStr for Init {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "he" => Ok(Init::He),
            "xavier" => Ok(Init::Xavier),
            "torch" => Ok(Init::Torch),
            _ => Err(format!("unknown initialization '{s}' (he, xavier, torch)")),
        }
    }
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy with integer class targets, mean over the batch, computed with
    /// log-sum-exp so large logits do not overflow.
    CrossEntropy,
    /// Mean squared error over all outputs of the batch (PyTorch `MSELoss`, reduction mean).
    Mse,
}

/// Targets of a batch.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// One class index per example (cross-entropy).
    Classes(&'a [u8]),
    /// `outputs` values per example (MSE).
    Values(&'a [f32]),
}

/// Where one layer's parameters sit in the flat buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Range of W (`outputs × inputs`, row-major: PyTorch's `nn.Linear.weight` layout, so `W[o][i]`
    /// is the weight from input i to output o).
    pub w: Range<usize>,
    /// Range of b (`outputs`).
    pub b: Range<usize>,
}

/// Loss and accuracy of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    /// Sum of per-example losses (cross-entropy), or of squared errors / outputs (MSE).
    pub loss_sum: f64,
    /// Correctly classified examples (cross-entropy only).
    pub correct: usize,
    /// Examples.
    pub count: usize,
}

/// The model's structure (the parameters live in a separate buffer).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    activation: Activation,
    layers: Vec<Layer>,
}

/// Buffers reused across batches: activations per layer and two gradient scratch buffers; and
/// the threads the matrix products run on (1 unless [`Workspace::with_threads`]; the results are
/// the same bits at every count).
#[derive(Debug, Default)]
pub struct Workspace {
    batch: usize,
    threads: usize,
    acts: Vec<Vec<f32>>,
    delta: Vec<f32>,
    delta_prev: Vec<f32>,
}

impl Workspace {
    /// This workspace, its matrix products on `threads` threads (at least 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }
}

impl Mlp {
    /// An MLP with layer widths `sizes` (input, hidden…, output; at least two, all positive).
    pub fn new(sizes: &[usize], activation: Activation) -> Result<Self, String> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(format!("layer sizes must be at least two positive numbers, got {sizes:?}"));
        }
        let mut layers = Vec::new();
        let mut at = 0usize;
        for w in sizes.windows(2) {
            let (i, o) = (w[0], w[1]);
            let ends =
                i.checked_mul(o).and_then(|n| at.checked_add(n)).and_then(|w| Some((w, w.checked_add(o)?)));
            let Some((w_end, b_end)) = ends else {
                return Err(format!("layer sizes {sizes:?} have more parameters than a machine can address"));
            };
            layers.push(Layer { inputs: i, outputs: o, w: at..w_end, b: w_end..b_end });
            at = b_end;
        }
        Ok(Mlp { sizes: sizes.to_vec(), activation, layers })
    }

    /// Layer widths.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// Hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// The layers and their parameter ranges.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    /// Total number of parameters.
    pub fn num_params(&self) -> usize {
        self.layers.last().map_or(0, |l| l.b.end)
    }
    /// Input width.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }
    /// Output width.
    pub fn outputs(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// Fresh parameters: weights by `init`, biases zero, from a ChaCha8 generator seeded with `seed`.
    pub fn init_params(&self, init: Init, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = vec![0.0f32; self.num_params()];
        for l in &self.layers {
            // Drawn input by input (the order of the values does not depend on the layout), stored
            // at W[o][i].
            let (inputs, outputs) = (l.inputs, l.outputs);
            let fill = |p: &mut [f32], mut draw: Box<dyn FnMut() -> f32 + '_>| {
                for i in 0..inputs {
                    for o in 0..outputs {
                        p[o * inputs + i] = draw();
                    }
                }
            };
            let w = &mut p[l.w.clone()];
            match init {
                Init::He => {
                    let d = Normal::new(0.0f64, (2.0 / l.inputs as f64).sqrt()).expect("positive std");
                    fill(w, Box::new(|| d.sample(&mut rng) as f32));
                }
                Init::Xavier => {
                    let a = (6.0 / (l.inputs + l.outputs) as f64).sqrt();
                    let d = Uniform::new_inclusive(-a, a);
                    fill(w, Box::new(|| d.sample(&mut rng) as f32));
                }
                Init::Torch => {
                    let a = 1.0 / (l.inputs as f64).sqrt();
                    let d = Uniform::new(-a, a);
                    fill(w, Box::new(|| d.sample(&mut rng) as f32));
                    p[l.b.clone()].iter_mut().for_each(|x| *x = d.sample(&mut rng) as f32);
                }
            }
        }
        p
    }

    /// A workspace for batches of up to `batch` examples.
    pub fn workspace(&self, batch: usize) -> Workspace {
        let widest = self.sizes.iter().copied().max().unwrap_or(0);
        Workspace {
            batch,
            threads: 1,
            acts: self.layers.iter().map(|l| vec![0.0; batch * l.outputs]).collect(),
            delta: vec![0.0; batch * widest],
            delta_prev: vec![0.0; batch * widest],
        }
    }

    fn check(&self, params: &[f32], x: &[f32], batch: usize, ws: &Workspace) {
        debug_assert!(ws.threads >= 1);
        assert_eq!(params.len(), self.num_params(), "parameter buffer has the wrong length");
        assert_eq!(x.len(), batch * self.inputs(), "input batch has the wrong length");
        assert!(batch <= ws.batch, "batch larger than the workspace");
    }

    /// The forward pass: returns the output layer's values (logits) for the batch, `batch × outputs`.
    pub fn forward<'w>(&self, params: &[f32], x: &[f32], batch: usize, ws: &'w mut Workspace) -> &'w [f32] {
        self.check(params, x, batch, ws);
        let last = self.layers.len() - 1;
        for (li, l) in self.layers.iter().enumerate() {
            let (before, rest) = ws.acts.split_at_mut(li);
            let out = &mut rest[0][..batch * l.outputs];
            let input: &[f32] = if li == 0 { x } else { &before[li - 1][..batch * l.inputs] };
            let b = &params[l.b.clone()];
            for row in out.chunks_exact_mut(l.outputs) {
                row.copy_from_slice(b);
            }
            matmul_on(
                ws.threads,
                Mat::new(input, batch, l.inputs),
                Mat::transposed(&params[l.w.clone()], l.inputs, l.outputs),
                1.0,
                out,
            );
            if li != last {
                let act = self.activation;
                out.iter_mut().for_each(|z| *z = act.apply(*z));
            }
        }
        &ws.acts[last][..batch * self.outputs()]
    }

    /// Loss statistics of the batch whose forward pass is in `ws`, and the gradient of the mean
    /// loss with respect to the outputs written into `ws` (for [`Mlp::backward`]).
    fn loss_and_output_delta(
        &self,
        targets: Targets<'_>,
        batch: usize,
        ws: &mut Workspace,
        loss: Loss,
    ) -> BatchStats {
        let out_w = self.outputs();
        let z = &ws.acts[self.layers.len() - 1][..batch * out_w];
        let delta = &mut ws.delta[..batch * out_w];
        let mut stats = BatchStats { count: batch, ..Default::default() };
        match (loss, targets) {
            (Loss::CrossEntropy, Targets::Classes(y)) => {
                assert_eq!(y.len(), batch, "one class per example");
                let inv_b = 1.0 / batch as f32;
                for ((zr, dr), &yi) in z.chunks_exact(out_w).zip(delta.chunks_exact_mut(out_w)).zip(y) {
                    let max = zr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = zr.iter().map(|&v| (v - max).exp()).sum();
                    let lse = max + sum.ln();
                    let yi = yi as usize;
                    stats.loss_sum += f64::from(lse - zr[yi]);
                    let argmax =
                        zr.iter().enumerate().fold(0, |best, (i, &v)| if v > zr[best] { i } else { best });
                    stats.correct += usize::from(argmax == yi);
                    for (i, (d, &v)) in dr.iter_mut().zip(zr).enumerate() {
                        let p = (v - lse).exp();
                        *d = (p - if i == yi { 1.0 } else { 0.0 }) * inv_b;
                    }
                }
            }
            (Loss::Mse, Targets::Values(t)) => {
                assert_eq!(t.len(), batch * out_w, "one target per output");
                let scale = 2.0 / (batch * out_w) as f32;
                for ((d, &v), &ti) in delta.iter_mut().zip(z).zip(t) {
                    let e = v - ti;
                    stats.loss_sum += f64::from(e * e) / out_w as f64;
                    *d = e * scale;
                }
            }
            _ => panic!("targets do not match the loss"),
        }
        stats
    }

    /// Backward pass after [`Mlp::forward`] and the output delta: writes the gradient of the mean
    /// loss into `grad` (same layout as the parameters). The input gradient of the first layer is
    /// not computed (nothing needs it).
    fn backward(&self, params: &[f32], x: &[f32], batch: usize, ws: &mut Workspace, grad: &mut [f32]) {
        for li in (0..self.layers.len()).rev() {
            let l = &self.layers[li];
            let input: &[f32] = if li == 0 { x } else { &ws.acts[li - 1][..batch * l.inputs] };
            let delta = &ws.delta[..batch * l.outputs];
            // dW = δᵀ · input (outputs × inputs) ; db = column sums of δ.
            matmul_on(
                ws.threads,
                Mat::transposed(delta, l.outputs, batch),
                Mat::new(input, batch, l.inputs),
                0.0,
                &mut grad[l.w.clone()],
            );
            let db = &mut grad[l.b.clone()];
            db.fill(0.0);
            for row in delta.chunks_exact(l.outputs) {
                db.iter_mut().zip(row).for_each(|(d, &v)| *d += v);
            }
            if li > 0 {
                let prev = &mut ws.delta_prev[..batch * l.inputs];
                matmul_on(
                    ws.threads,
                    Mat::new(delta, batch, l.outputs),
                    Mat::new(&params[l.w.clone()], l.outputs, l.inputs),
                    0.0,
                    prev,
                );
                let act = self.activation;
                prev.iter_mut()
                    .zip(&ws.acts[li - 1][..batch * l.inputs])
                    .for_each(|(d, &a)| *d *= act.derivative_from_output(a));
                std::mem::swap(&mut ws.delta, &mut ws.delta_prev);
            }
        }
    }

    /// Forward, loss and backward for one batch: the gradient of the mean loss goes into `grad`.
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_grad(
        &self,
        params: &[f32],
        x: &[f32],
        targets: Targets<'_>,
        batch: usize,
        loss: Loss,
        ws: &mut Workspace,
        grad: &mut [f32],
    ) -> BatchStats {
        assert_eq!(grad.len(), self.num_params(), "gradient buffer has the wrong length");
        self.forward(params, x, batch, ws);
        let stats = self.loss_and_output_delta(targets, batch, ws, loss);
        self.backward(params, x, batch, ws, grad);
        stats
    }

    /// Sophia-G's Gauss–Newton–Bartlett estimate of the Hessian's diagonal on one batch (Liu et
    /// al. 2023, Algorithm 2): labels ŷ sampled from the model's own predictive distribution
    /// (cross-entropy: the softmax of the logits; MSE: ŷ ~ N(f(x), outputs/2), the Gaussian whose
    /// negative log-likelihood is this loss up to a constant), ĝ the gradient of the mean loss
    /// on the batch with those labels, and `estimate` = B·ĝ⊙ĝ (B = `batch`). Every draw comes
    /// from `rng`, so a fixed seed gives the same estimate. `grad` is scratch of the parameters'
    /// length.
    #[allow(clippy::too_many_arguments)]
    pub fn gnb_hessian(
        &self,
        params: &[f32],
        x: &[f32],
        batch: usize,
        loss: Loss,
        ws: &mut Workspace,
        rng: &mut impl rand::Rng,
        grad: &mut [f32],
        estimate: &mut [f32],
    ) {
        assert_eq!(estimate.len(), self.num_params(), "estimate buffer has the wrong length");
        let out_w = self.outputs();
        let logits = self.forward(params, x, batch, ws).to_vec();
        match loss {
            Loss::CrossEntropy => {
                let uniform = Uniform::new(0.0f32, 1.0);
                let sampled: Vec<u8> = logits
                    .chunks_exact(out_w)
                    .map(|z| {
                        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let probs: Vec<f32> = z.iter().map(|&v| (v - max).exp()).collect();
                        let u = uniform.sample(rng) * probs.iter().sum::<f32>();
                        let mut acc = 0.0;
                        let last = probs.len().saturating_sub(1);
                        let class = probs
                            .iter()
                            .position(|&p| {
                                acc += p;
                                u < acc
                            })
                            .unwrap_or(last);
                        u8::try_from(class).unwrap_or(u8::MAX)
                    })
                    .collect();
                self.loss_and_grad(params, x, Targets::Classes(&sampled), batch, loss, ws, grad);
            }
            Loss::Mse => {
                let normal = Normal::new(0.0f32, (out_w as f32 / 2.0).sqrt()).expect("a valid deviation");
                let sampled: Vec<f32> = logits.iter().map(|&f| f + normal.sample(rng)).collect();
                self.loss_and_grad(params, x, Targets::Values(&sampled), batch, loss, ws, grad);
            }
        }
        let b = batch as f32;
        for (e, &g) in estimate.iter_mut().zip(grad.iter()) {
            *e = b * g * g;
        }
    }

    /// Loss statistics only (evaluation).
    pub fn evaluate(
        &self,
        params: &[f32],
        x: &[f32],
        targets: Targets<'_>,
        batch: usize,
        loss: Loss,
        ws: &mut Workspace,
    ) -> BatchStats {
        self.forward(params, x, batch, ws);
        self.loss_and_output_delta(targets, batch, ws, loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_sizes_whose_parameter_count_overflows_are_refused() {
        let e = Mlp::new(&[784, 1 << 40, 1 << 40, 10], Activation::Relu).unwrap_err();
        assert!(e.contains("more parameters than a machine can address"), "{e}");
    }

    fn mean_loss(m: &Mlp, p: &[f32], x: &[f32], t: Targets<'_>, batch: usize, loss: Loss) -> f64 {
        let mut ws = m.workspace(batch);
        m.evaluate(p, x, t, batch, loss, &mut ws).loss_sum / batch as f64
    }

    fn check_gradient(act: Activation, loss: Loss) {
        let m = Mlp::new(&[5, 7, 4, 3], act).unwrap();
        let mut p = m.init_params(Init::Xavier, 3);
        // Non-zero biases so every path is exercised.
        for (i, v) in p.iter_mut().enumerate() {
            *v += 0.05 * ((i as f32) * 0.7).sin();
        }
        let batch = 6;
        let x: Vec<f32> = (0..batch * 5).map(|i| ((i as f32) * 0.37).cos()).collect();
        let classes = [0u8, 2, 1, 1, 0, 2];
        let values: Vec<f32> = (0..batch * 3).map(|i| ((i as f32) * 0.2).sin()).collect();
        let t = match loss {
            Loss::CrossEntropy => Targets::Classes(&classes),
            Loss::Mse => Targets::Values(&values),
        };
        let mut ws = m.workspace(batch);
        let mut g = vec![0.0f32; m.num_params()];
        m.loss_and_grad(&p, &x, t, batch, loss, &mut ws, &mut g);
        let h = 1e-2f32;
        let centre = mean_loss(&m, &p, &x, t, batch, loss);
        let mut kinks = 0;
        for i in 0..p.len() {
            let orig = p[i];
            p[i] = orig + h;
            let up = mean_loss(&m, &p, &x, t, batch, loss);
            p[i] = orig - h;
            let down = mean_loss(&m, &p, &x, t, batch, loss);
            p[i] = orig;
            let (fwd, bwd) = ((up - centre) / f64::from(h), (centre - down) / f64::from(h));
            // A ReLU kink between θ − h and θ + h makes the one-sided slopes disagree; the
            // central difference means nothing there.
            if act == Activation::Relu && (fwd - bwd).abs() > 0.1 * fwd.abs().max(bwd.abs()) + 1e-3 {
                kinks += 1;
                continue;
            }
            let fd = (up - down) / (2.0 * f64::from(h));
            let an = f64::from(g[i]);
            assert!(
                (fd - an).abs() <= 2e-3 + 2e-2 * an.abs(),
                "{act:?} {loss:?} param {i}: analytic {an:e}, finite difference {fd:e}"
            );
        }
        assert!(kinks * 5 < p.len(), "{kinks} of {} parameters sat on a kink", p.len());
    }

    /// For a linear model under MSE the Gauss–Newton matrix is the Hessian, whose diagonal for
    /// weight (o, i) is 2/(B·outputs)·Σ_b x_bi² (bias: 2/outputs): the average of many GNB
    /// estimates comes within 5 % of it, and a fixed seed repeats an estimate exactly.
    #[test]
    fn gnb_estimates_average_to_the_gauss_newton_diagonal() {
        let m = Mlp::new(&[3, 2], Activation::Tanh).unwrap();
        let p = m.init_params(Init::Xavier, 1);
        let batch = 4;
        let x: Vec<f32> = (0..batch * 3).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.5).collect();
        let mut ws = m.workspace(batch);
        let (mut g, mut e, mut sum) = (vec![0.0; p.len()], vec![0.0; p.len()], vec![0.0f64; p.len()]);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let draws = 20000;
        for _ in 0..draws {
            m.gnb_hessian(&p, &x, batch, Loss::Mse, &mut ws, &mut rng, &mut g, &mut e);
            sum.iter_mut().zip(&e).for_each(|(s, &v)| *s += f64::from(v));
        }
        let l = &m.layers()[0];
        for o in 0..2 {
            for i in 0..3 {
                let sq: f64 = (0..batch).map(|b| f64::from(x[b * 3 + i]).powi(2)).sum();
                let want = 2.0 / (batch as f64 * 2.0) * sq;
                let got = sum[l.w.start + o * 3 + i] / draws as f64;
                assert!((got - want).abs() <= 0.05 * want, "w[{o}][{i}]: {got} vs {want}");
            }
            let got = sum[l.b.start + o] / draws as f64;
            assert!((got - 1.0).abs() <= 0.05, "b[{o}]: {got}");
        }
        let mut again = vec![0.0; p.len()];
        let mut e1 = vec![0.0; p.len()];
        m.gnb_hessian(
            &p,
            &x,
            batch,
            Loss::CrossEntropy,
            &mut ws,
            &mut ChaCha8Rng::seed_from_u64(9),
            &mut g,
            &mut e1,
        );
        m.gnb_hessian(
            &p,
            &x,
            batch,
            Loss::CrossEntropy,
            &mut ws,
            &mut ChaCha8Rng::seed_from_u64(9),
            &mut g,
            &mut again,
        );
        assert_eq!(e1, again);
        assert!(e1.iter().all(|&v| v >= 0.0) && e1.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn gradients_match_finite_differences() {
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Relu] {
            check_gradient(act, Loss::CrossEntropy);
            check_gradient(act, Loss::Mse);
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let m = Mlp::new(&[1, 2], Activation::Relu).unwrap();
        // W = [1000, −1000], b = 0: logits ±1000·x.
        let p = vec![1000.0, -1000.0, 0.0, 0.0];
        let mut ws = m.workspace(1);
        let s = m.evaluate(&p, &[1.0], Targets::Classes(&[1]), 1, Loss::CrossEntropy, &mut ws);
        assert!((s.loss_sum - 2000.0).abs() < 1e-3, "{}", s.loss_sum);
        let s = m.evaluate(&p, &[1.0], Targets::Classes(&[0]), 1, Loss::CrossEntropy, &mut ws);
        assert_eq!((s.loss_sum, s.correct), (0.0, 1));
    }

    #[test]
    fn parameters_are_contiguous_layer_by_layer() {
        let m = Mlp::new(&[784, 128, 10], Activation::Relu).unwrap();
        assert_eq!(m.num_params(), 784 * 128 + 128 + 128 * 10 + 10);
        assert_eq!(m.layers()[1].w.start, m.layers()[0].b.end);
        let a = m.init_params(Init::He, 7);
        assert_eq!(a, m.init_params(Init::He, 7));
        assert_ne!(a, m.init_params(Init::He, 8));
        let std = (a[..784 * 128].iter().map(|v| f64::from(v * v)).sum::<f64>() / (784.0 * 128.0)).sqrt();
        assert!((std - (2.0f64 / 784.0).sqrt()).abs() < 0.002, "{std}");
        let t = m.init_params(Init::Torch, 7);
        let bound = 1.0 / 784f32.sqrt();
        assert!(t[..784 * 128 + 128].iter().all(|v| v.abs() < bound));
        assert!(t[784 * 128..784 * 128 + 128].iter().any(|&v| v != 0.0), "biases are drawn too");
        let max = t[..784 * 128].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(max > 0.99 * bound, "{max}");
    }
}
