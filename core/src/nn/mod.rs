//! A minimal no_std training path: a dense layer with compile-time sizes, ReLU, and softmax
//! cross-entropy, forward and backward over fixed arrays, no heap, errors instead of panics.
//! Enough to fine-tune the last layer of a network, or a small MLP, on a device. A model trained
//! on the host arrives as a [`ModelBlob`] (written by `descent export`).

mod blob;
mod dense;
mod loss;

pub use blob::{Activation, BLOB_MAGIC, BLOB_VERSION, FrozenDense, ModelBlob};
pub use dense::{Dense, DenseGrad, relu, relu_backward};
pub use loss::{argmax, softmax_cross_entropy};
