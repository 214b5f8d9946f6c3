//! # descent-std
//!
//! The `std` side of descent: building optimizers by name, replaying PyTorch conformance specs
//! (`descent replay`), and (as later chapters land) MNIST training and convergence analysis.
#![deny(missing_docs)]

pub mod analysis;
pub mod batches;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod dispatch;
pub mod export;
pub mod history;
pub mod memory;
pub mod model;
pub mod named;
pub mod param_groups;
pub mod plot;
pub mod registry;
pub mod replay;
pub mod schedule_spec;
pub mod split;
pub mod train;
