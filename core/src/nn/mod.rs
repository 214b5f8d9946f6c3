//! A minimal no_std training path: a dense layer with compile-time sizes, ReLU, and softmax
//! cross-entropy, forward and backward over fixed arrays, no heap, errors instead of panics.
//! Enough to fine-tune the last layer of a network, or a small MLP, on a device.

mod dense;
mod loss;

pub use dense::{Dense, DenseGrad, relu, relu_backward};
pub use loss::softmax_cross_entropy;
