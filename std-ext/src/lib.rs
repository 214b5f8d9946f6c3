//! # descent-std
//!
//! The `std` side of descent: optimizers built by name from keyword arguments ([`registry`]) and
//! run through the CPU's fastest kernels ([`dispatch`]), PyTorch conformance replay
//! ([`replay`]), MLP training on MNIST over parameter groups ([`train`], [`param_groups`],
//! [`checkpoint`]), the convergence-analysis toolkit ([`analysis`]), plots ([`plot`]) and the
//! `descent` command-line tool ([`cli`]).
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
