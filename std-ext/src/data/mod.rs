//! Data sets: the IDX file format and MNIST-style directories.

pub mod idx;
pub mod mnist;

pub use idx::DataError;
