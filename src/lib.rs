//! # descent
//!
//! The facade crate: re-exports [`descent_core`] (no_std optimizers, schedules, clipping) and,
//! with the `std` feature (on by default), [`descent_std`] as `descent::std_ext` (data, models,
//! analysis and the `descent` command-line tool).
//!
//! The book (`book/`) walks through the mathematics with tested snippets.
#![no_std]
#![deny(missing_docs)]

pub use descent_core::*;

#[cfg(feature = "std")]
pub use descent_std as std_ext;

/// The README's Rust snippets, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
