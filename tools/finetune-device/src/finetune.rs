//! On-device fine-tuning, the way a microcontroller would do it: the MLP trained on the host
//! (`descent train`, 196-32-10 ReLU on 14×14 digits, never shown a 9) arrives as a model blob
//! (`descent export`); the device fine-tunes it on a few labelled examples that include the digit
//! it never saw, and measures accuracy before and after on held-out digits. With parameter groups
//! ([`run_adam`]): the last layer at lr [`LR`], the first layer's bias at [`HIDDEN_LR`], the first
//! layer's weights frozen in flash; or the last layer alone, one optimizer per tensor ([`run`]).
//!
//! No heap, no std: the first layer's weights run from the blob's bytes in place (flash, on a
//! device), and everything that changes lives in fixed arrays: one [`Trainer`] (the trained
//! values, their gradients, the activations of one example) and the optimizer state, both in
//! `static`s on the device. The freestanding binary (`main.rs`) and `tests/finetune.rs` run this
//! same code.

use descent_core::Error;
use descent_core::Optimizer;
use descent_core::adam::{AdamConfig, AdamView};
use descent_core::group::{Group, Grouped as GroupedOpt, Slot};
use descent_core::half_state::{HalfView, Rounding, bf16};
use descent_core::layout::{Layout, Tensor};
use descent_core::nn::{
    Activation, Dense, FrozenDense, ModelBlob, argmax, relu, relu_backward, softmax_cross_entropy,
};

/// Pixels per image (14×14: MNIST pooled 2×2 by `make_data.py`).
pub const PIXELS: usize = 14 * 14;
/// Hidden width of the host model.
pub const HIDDEN: usize = 32;
/// Classes (digits).
pub const CLASSES: usize = 10;
/// Weights of the last layer, the ones fine-tuned (W; b has [`CLASSES`] more).
pub const HEAD_W: usize = HIDDEN * CLASSES;
/// The digit the host model never saw.
pub const HELD_OUT: u8 = 9;

/// Epochs over the fine-tuning set.
pub const EPOCHS: usize = 20;
/// Examples per optimizer step (gradients averaged).
pub const BATCH: usize = 16;
/// Adam's learning rate for fine-tuning.
pub const LR: f64 = 3e-3;

/// Fine-tuning must reach this accuracy on the held-out digit (tenths of a percent).
pub const MIN_HELD_OUT_PERMILLE: u32 = 700;
/// ... raise overall accuracy by at least this much ...
pub const MIN_GAIN_PERMILLE: u32 = 30;
/// ... and lose at most this much on the digits the host model knew.
pub const MAX_FORGETTING_PERMILLE: u32 = 60;

/// `descent train`'s input normalization, (x/255 − mean)/std (PyTorch's MNIST constants, as
/// `descent_std::data::mnist`).
const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
const MNIST_STD: f32 = 0.3081;

/// The host model (`descent export` of `descent train --data <no 9s> --hidden 32 --save`).
pub static MODEL: &[u8] = include_bytes!("../data/host-model.blob");
/// The same network trained by PyTorch instead (`tools/torch_mlp.py` on the same data, saved as
/// `torch-model.safetensors`, turned into this blob by `descent export --from`).
pub static TORCH_MODEL: &[u8] = include_bytes!("../data/torch-model.blob");
/// Fine-tuning images, `n × PIXELS` bytes.
pub static FINETUNE_IMAGES: &[u8] = include_bytes!("../data/finetune-images.u8");
/// Fine-tuning labels.
pub static FINETUNE_LABELS: &[u8] = include_bytes!("../data/finetune-labels.u8");
/// Test images (held out: neither the host nor the device trains on them).
pub static TEST_IMAGES: &[u8] = include_bytes!("../data/test-images.u8");
/// Test labels.
pub static TEST_LABELS: &[u8] = include_bytes!("../data/test-labels.u8");

/// Labelled images, borrowed from embedded bytes.
#[derive(Debug, Clone, Copy)]
pub struct Examples<'a> {
    images: &'a [[u8; PIXELS]],
    labels: &'a [u8],
}

impl<'a> Examples<'a> {
    /// `images` (`n × PIXELS` bytes) with their `n` labels.
    pub fn new(images: &'a [u8], labels: &'a [u8]) -> Result<Self, Error> {
        let (images, rest) = images.as_chunks::<PIXELS>();
        if !rest.is_empty() || images.len() != labels.len() {
            return Err(Error::LengthMismatch {
                what: "images (bytes)",
                expected: labels.len() * PIXELS,
                found: images.len() * PIXELS + rest.len(),
            });
        }
        Ok(Examples { images, labels })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (&'a [u8; PIXELS], usize)> + 'a {
        self.images.iter().zip(self.labels.iter().map(|&l| usize::from(l)))
    }
}

/// Correct predictions, overall and on the held-out digit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accuracy {
    /// Correctly classified examples.
    pub correct: u32,
    /// Examples.
    pub total: u32,
    /// Correctly classified examples of the held-out digit.
    pub held_out_correct: u32,
    /// Examples of the held-out digit.
    pub held_out_total: u32,
}

impl Accuracy {
    /// Overall accuracy in tenths of a percent (no floats needed to print it).
    pub fn permille(&self) -> u32 {
        permille(self.correct, self.total)
    }
    /// Accuracy on the held-out digit, in tenths of a percent.
    pub fn held_out_permille(&self) -> u32 {
        permille(self.held_out_correct, self.held_out_total)
    }
    /// Accuracy on the digits the host model knew, in tenths of a percent.
    pub fn known_permille(&self) -> u32 {
        permille(
            self.correct.saturating_sub(self.held_out_correct),
            self.total.saturating_sub(self.held_out_total),
        )
    }
}

fn permille(a: u32, b: u32) -> u32 {
    a.saturating_mul(1000).saturating_add(b / 2).checked_div(b).unwrap_or(0)
}

/// The trained parameters, one flat buffer as a [`Layout`] describes it: the head's weights
/// `W` (`[CLASSES, HIDDEN]`, row-major) and bias `b`, then the hidden layer's bias. The hidden
/// layer's weights (196 × 32 = 6,272 values, 25 KB in `f32`, more than the 16 KiB of RAM of the
/// smallest board) stay in the model blob, in flash: frozen, in no group, costing no RAM.
pub const TRAINED: usize = HEAD_W + CLASSES + HIDDEN;
/// Where the head's bias starts in the trained parameters.
const HEAD_B: usize = HEAD_W;
/// Where the hidden layer's bias starts.
const HIDDEN_B: usize = HEAD_W + CLASSES;

/// Everything that changes while fine-tuning, besides the optimizer state: the trained
/// parameters ([`TRAINED`]), their gradients and the activations of one example.
/// `const`-constructible, so that firmware keeps it in a `static` (RAM known at link time,
/// nothing large on the stack); the optimizer state lives in caller buffers ([`run_adam`],
/// [`run_adam_bf16`]).
#[derive(Debug, Clone)]
pub struct Trainer {
    /// The head's W and b, then the hidden layer's bias (see [`TRAINED`]).
    pub params: [f32; TRAINED],
    /// Their gradients, summed over a batch.
    pub grads: [f32; TRAINED],
    /// The normalized input.
    pub x: [f32; PIXELS],
    /// Hidden activations (after ReLU).
    pub h: [f32; HIDDEN],
    /// Logits.
    pub z: [f32; CLASSES],
    /// ∂loss/∂logits.
    pub dz: [f32; CLASSES],
    /// ∂loss/∂hidden activations.
    pub dh: [f32; HIDDEN],
}

/// Optimizer state values for the head with Adam: m and v for W, then for b (one optimizer per
/// tensor, as `torch.optim` keeps state per parameter tensor).
pub const STATE_VALUES: usize = 2 * (HEAD_W + CLASSES);
/// Adam's state for the parameter groups of [`run_adam`]: m and v for every trained value.
pub const GROUPED_STATE_VALUES: usize = 2 * TRAINED;

/// Adam's configuration for fine-tuning (PyTorch's defaults but the learning rate).
pub fn adam_config() -> AdamConfig {
    AdamConfig { lr: LR, ..AdamConfig::default() }
}

/// The hidden layer's bias learns more slowly than the head: it shifts features that the frozen
/// weights compute for every digit.
pub const HIDDEN_LR: f64 = 1e-3;

/// The layout of the trained parameters: the head (W and b) in group 1, the hidden layer's bias
/// in group 0.
pub const TENSORS: [Tensor; 3] = [
    Tensor::new(0, &[CLASSES, HIDDEN], 1),
    Tensor::new(HEAD_B, &[CLASSES], 1),
    Tensor::new(HIDDEN_B, &[HIDDEN], 0),
];

/// The two parameter groups: the hidden bias at [`HIDDEN_LR`], the head at [`LR`].
pub fn groups() -> [Group<AdamConfig>; 2] {
    [Group::new(AdamConfig { lr: HIDDEN_LR, ..adam_config() }), Group::new(adam_config())]
}

impl Default for Trainer {
    fn default() -> Self {
        Self::new()
    }
}

impl Trainer {
    /// All zeros; [`Trainer::load`] fills the parameters.
    pub const fn new() -> Self {
        Trainer {
            params: [0.0; TRAINED],
            grads: [0.0; TRAINED],
            x: [0.0; PIXELS],
            h: [0.0; HIDDEN],
            z: [0.0; CLASSES],
            dz: [0.0; CLASSES],
            dh: [0.0; HIDDEN],
        }
    }

    /// Starts over from `blob`'s head and hidden bias, gradients zero.
    pub fn load(&mut self, blob: &ModelBlob<'_>) -> Result<(), Error> {
        let mut head = Dense::<f32, HIDDEN, CLASSES>::zeros();
        blob.layer::<HIDDEN, CLASSES>(1)?.load_into(&mut head);
        let (w, b) = head.params_mut();
        let (pw, rest) = self.params.split_at_mut(HEAD_B);
        let (pb, ph) = rest.split_at_mut(CLASSES);
        pw.copy_from_slice(w);
        pb.copy_from_slice(b);
        let mut bias = [0.0f32; HIDDEN];
        blob.layer::<PIXELS, HIDDEN>(0)?.bias_into(&mut bias);
        ph.copy_from_slice(&bias);
        self.grads = [0.0; TRAINED];
        Ok(())
    }

    /// The head's weights (one row of `HIDDEN` per class), its bias and the hidden bias.
    fn parts(p: &[f32; TRAINED]) -> (&[[f32; HIDDEN]], &[f32], &[f32]) {
        let (w, rest) = p.split_at(HEAD_B);
        let (b, hb) = rest.split_at(CLASSES);
        (w.as_chunks::<HIDDEN>().0, b, hb)
    }

    /// Logits of one image into `self.z` (hidden activations into `self.h`), summed in the order
    /// of `Dense::forward`.
    fn forward(&mut self, frozen: &FrozenDense<'_, PIXELS, HIDDEN>, image: &[u8; PIXELS]) {
        for (x, &p) in self.x.iter_mut().zip(image) {
            *x = (f32::from(p) / 255.0 - MNIST_MEAN) / MNIST_STD;
        }
        let (w, b, hb) = Self::parts(&self.params);
        let mut bias = [0.0f32; HIDDEN];
        bias.copy_from_slice(hb);
        frozen.forward_with_bias(&self.x, &bias, &mut self.h);
        relu(&mut self.h);
        for ((zo, row), &bo) in self.z.iter_mut().zip(w).zip(b) {
            *zo = row.iter().zip(&self.h).fold(bo, |acc, (&w, &hi)| acc + w * hi);
        }
    }

    /// Adds this example's gradients (from `self.dz`) into `self.grads`, as `Dense::backward`;
    /// the hidden bias's too if `hidden`.
    fn backward(&mut self, hidden: bool) {
        let (gw, rest) = self.grads.split_at_mut(HEAD_B);
        let (gb, gh) = rest.split_at_mut(CLASSES);
        for ((grow, gb), &d) in gw.as_chunks_mut::<HIDDEN>().0.iter_mut().zip(gb.iter_mut()).zip(&self.dz) {
            *gb += d;
            for (g, &hi) in grow.iter_mut().zip(&self.h) {
                *g += d * hi;
            }
        }
        if hidden {
            // ∂loss/∂h = Wᵀ·dz through the ReLU (zero where the unit was off), summed into the
            // hidden bias's gradient.
            let (w, _, _) = Self::parts(&self.params);
            self.dh.fill(0.0);
            for (row, &d) in w.iter().zip(&self.dz) {
                for (o, &wi) in self.dh.iter_mut().zip(row) {
                    *o += wi * d;
                }
            }
            relu_backward(&self.h, &mut self.dh);
            for (g, &d) in gh.iter_mut().zip(&self.dh) {
                *g += d;
            }
        }
    }

    /// Accuracy of the current model on `set`.
    pub fn evaluate(&mut self, frozen: &FrozenDense<'_, PIXELS, HIDDEN>, set: &Examples<'_>) -> Accuracy {
        let mut acc = Accuracy::default();
        for (image, label) in set.iter() {
            self.forward(frozen, image);
            let right = u32::from(argmax(&self.z) == label);
            let held_out = u32::from(label == usize::from(HELD_OUT));
            acc.correct += right;
            acc.total += 1;
            acc.held_out_correct += right * held_out;
            acc.held_out_total += held_out;
        }
        acc
    }

    /// `epochs` passes over `set` in order, one `step` per `batch` examples (the mean gradient of
    /// softmax cross-entropy) over the trained parameters and their gradients; the hidden bias's
    /// gradient is computed only if `hidden`. Returns the mean loss of the last epoch.
    pub fn fine_tune(
        &mut self,
        frozen: &FrozenDense<'_, PIXELS, HIDDEN>,
        set: &Examples<'_>,
        (epochs, batch): (usize, usize),
        hidden: bool,
        step: &mut impl Stepper,
    ) -> Result<f32, Error> {
        let batch = batch.max(1);
        let mut loss = 0.0f32;
        for _ in 0..epochs {
            let mut in_batch = 0;
            loss = 0.0;
            for (k, (image, label)) in set.iter().enumerate() {
                self.forward(frozen, image);
                loss += softmax_cross_entropy(&self.z, label, &mut self.dz)?;
                self.backward(hidden);
                in_batch += 1;
                if in_batch == batch || k + 1 == set.len() {
                    let s = 1.0 / in_batch as f32;
                    self.grads.iter_mut().for_each(|g| *g *= s);
                    step.step(&mut self.params, &self.grads)?;
                    self.grads = [0.0; TRAINED];
                    in_batch = 0;
                }
            }
        }
        Ok(loss / set.len().max(1) as f32)
    }

    /// CRC-32 of the head's weights and biases (their f32 bits, little-endian): one number that
    /// differs if any bit of the fine-tuned head does.
    pub fn head_crc(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        for v in &self.params[..HIDDEN_B] {
            h.update(&v.to_le_bytes());
        }
        h.finalize()
    }
}

/// One optimizer step over the trained parameters ([`Trainer::fine_tune`]).
pub trait Stepper {
    /// Updates `params` from `grads` (both [`TRAINED`] values).
    fn step(&mut self, params: &mut [f32; TRAINED], grads: &[f32; TRAINED]) -> Result<(), Error>;
    /// Whether the hidden layer's bias trains (and so needs its gradient).
    fn hidden(&self) -> bool;
}

/// The head only, one optimizer for W and one for b, as `torch.optim` keeps state per tensor
/// (the hidden bias stays as exported).
pub struct HeadOnly<OW, OB>(pub OW, pub OB);

impl<OW: Optimizer<f32>, OB: Optimizer<f32>> Stepper for HeadOnly<OW, OB> {
    fn step(&mut self, params: &mut [f32; TRAINED], grads: &[f32; TRAINED]) -> Result<(), Error> {
        let (pw, rest) = params.split_at_mut(HEAD_B);
        let (gw, grest) = grads.split_at(HEAD_B);
        self.0.step(pw, gw)?;
        self.1.step(&mut rest[..CLASSES], &grest[..CLASSES])?;
        Ok(())
    }
    fn hidden(&self) -> bool {
        false
    }
}

/// Every trained tensor, through one grouped optimizer ([`TENSORS`], [`groups`]).
pub struct Grouped<O>(pub O);

impl<O: Optimizer<f32>> Stepper for Grouped<O> {
    fn step(&mut self, params: &mut [f32; TRAINED], grads: &[f32; TRAINED]) -> Result<(), Error> {
        self.0.step(params, grads).map(|_| ())
    }
    fn hidden(&self) -> bool {
        true
    }
}

/// Accuracy on the test digits before and after fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    /// The host model as exported.
    pub before: Accuracy,
    /// After fine-tuning the last layer.
    pub after: Accuracy,
    /// Mean training loss of the last epoch.
    pub loss: f32,
    /// [`Trainer::head_crc`] after fine-tuning.
    pub head_crc: u32,
}

/// The whole example in `trainer` with the model blob `model` ([`MODEL`] or [`TORCH_MODEL`]) and
/// the optimizer step `step`: parse the model (refusing a damaged blob), measure, fine-tune for
/// [`EPOCHS`] epochs in batches of [`BATCH`], measure again.
pub fn run_with(trainer: &mut Trainer, model: &[u8], mut step: impl Stepper) -> Result<Report, Error> {
    let blob = ModelBlob::parse(model)?;
    if blob.activation() != Activation::Relu || blob.layers() != 2 {
        return Err(Error::Unsupported { what: "the example needs a two-layer ReLU model" });
    }
    let frozen = blob.layer::<PIXELS, HIDDEN>(0)?;
    let (train, test) =
        (Examples::new(FINETUNE_IMAGES, FINETUNE_LABELS)?, Examples::new(TEST_IMAGES, TEST_LABELS)?);
    trainer.load(&blob)?;
    let before = trainer.evaluate(&frozen, &test);
    let hidden = step.hidden();
    let loss = trainer.fine_tune(&frozen, &train, (EPOCHS, BATCH), hidden, &mut step)?;
    let after = trainer.evaluate(&frozen, &test);
    Ok(Report { before, after, loss, head_crc: trainer.head_crc() })
}

/// [`run_with`] for the head only: `opt_w` for W and `opt_b` for b.
pub fn run<OW: Optimizer<f32>, OB: Optimizer<f32>>(
    trainer: &mut Trainer,
    model: &[u8],
    opt_w: OW,
    opt_b: OB,
) -> Result<Report, Error> {
    run_with(trainer, model, HeadOnly(opt_w, opt_b))
}

/// Fine-tuning did its job: the held-out digit is recognized at least [`MIN_HELD_OUT_PERMILLE`]
/// of the time, overall accuracy rose by at least [`MIN_GAIN_PERMILLE`], and accuracy on the
/// digits the host knew fell by at most [`MAX_FORGETTING_PERMILLE`].
pub fn improved(r: &Report) -> bool {
    r.after.held_out_permille() >= MIN_HELD_OUT_PERMILLE
        && r.after.permille() >= r.before.permille() + MIN_GAIN_PERMILLE
        && r.after.known_permille() + MAX_FORGETTING_PERMILLE >= r.before.known_permille()
}

/// The weaker check for PyTorch's model: the held-out digit is recognized at least
/// [`MIN_HELD_OUT_PERMILLE`] of the time and overall accuracy rose.
pub fn taught(r: &Report) -> bool {
    r.after.held_out_permille() >= MIN_HELD_OUT_PERMILLE && r.after.permille() > r.before.permille()
}

/// The example with parameter groups: Adam over [`TENSORS`] in [`groups`] (the hidden bias at
/// [`HIDDEN_LR`], the head at [`LR`]; the hidden weights frozen in flash), f32 state in `state`
/// (at least [`GROUPED_STATE_VALUES`]).
pub fn run_adam(trainer: &mut Trainer, model: &[u8], state: &mut [f32]) -> Result<Report, Error> {
    let layout = Layout::new(TENSORS, TRAINED, 2)?;
    let slots = core::array::from_fn::<_, 3, _>(|_| Slot::default());
    run_with(trainer, model, Grouped(GroupedOpt::new(layout, groups(), slots, state)?))
}

/// [`run`] (the head only) with Adam, f32 state in `state` (at least [`STATE_VALUES`]).
pub fn run_adam_head(trainer: &mut Trainer, model: &[u8], state: &mut [f32]) -> Result<Report, Error> {
    let (w, b) = state.split_at_mut(2 * HEAD_W);
    run(
        trainer,
        model,
        AdamView::with_buffer(adam_config(), HEAD_W, w)?,
        AdamView::with_buffer(adam_config(), CLASSES, b)?,
    )
}

/// [`run`] (the head only) with Adam, bf16 state rounded to nearest in `state` (at least [`STATE_VALUES`]).
pub fn run_adam_bf16(trainer: &mut Trainer, model: &[u8], state: &mut [bf16]) -> Result<Report, Error> {
    let (w, b) = state.split_at_mut(2 * HEAD_W);
    run(
        trainer,
        model,
        HalfView::with_buffer(adam_config(), HEAD_W, w, Rounding::Nearest)?,
        HalfView::with_buffer(adam_config(), CLASSES, b, Rounding::Nearest)?,
    )
}
