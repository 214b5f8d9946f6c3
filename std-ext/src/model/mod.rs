//! Models trained by descent-std: a multilayer perceptron with all parameters in one buffer.

pub mod gemm;
pub mod mlp;

pub use mlp::{Activation, BatchStats, Init, Layer, Loss, Mlp, Targets, Workspace};
