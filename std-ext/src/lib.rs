//! # descent-std
//!
//! The `std` side of descent: replaying PyTorch conformance specs, run-time CPU feature dispatch
//! for the core's kernels, and (as later chapters land) MNIST training and convergence analysis.
#![deny(missing_docs)]
