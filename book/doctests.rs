//! Every chapter of the book as a doctest module, so `cargo test` compiles and runs each Rust
//! snippet (the trick from jiff's book: one module per chapter, and the module's name says which
//! chapter failed).
#![allow(missing_docs)]

#[cfg(doctest)]
#[doc = include_str!("src/introduction.md")]
pub mod introduction {}

#[cfg(doctest)]
#[doc = include_str!("src/rust-primer.md")]
pub mod rust_primer {}

#[cfg(doctest)]
#[doc = include_str!("src/gradient-descent.md")]
pub mod gradient_descent {}

#[cfg(doctest)]
#[doc = include_str!("src/landscapes.md")]
pub mod landscapes {}

#[cfg(doctest)]
#[doc = include_str!("src/momentum.md")]
pub mod momentum {}

#[cfg(doctest)]
#[doc = include_str!("src/adaptive.md")]
pub mod adaptive {}

#[cfg(doctest)]
#[doc = include_str!("src/schedules.md")]
pub mod schedules {}

#[cfg(doctest)]
#[doc = include_str!("src/stochastic.md")]
pub mod stochastic {}

#[cfg(doctest)]
#[doc = include_str!("src/clipping.md")]
pub mod clipping {}

#[cfg(doctest)]
#[doc = include_str!("src/practice.md")]
pub mod practice {}

#[cfg(doctest)]
#[doc = include_str!("src/numerics.md")]
pub mod numerics {}

#[cfg(doctest)]
#[doc = include_str!("src/second-order.md")]
pub mod second_order {}

#[cfg(doctest)]
#[doc = include_str!("src/constraints.md")]
pub mod constraints {}

#[cfg(doctest)]
#[doc = include_str!("src/distributed.md")]
pub mod distributed {}

#[cfg(doctest)]
#[doc = include_str!("src/param-groups.md")]
pub mod param_groups {}

#[cfg(doctest)]
#[doc = include_str!("src/mnist.md")]
pub mod mnist {}

#[cfg(doctest)]
#[doc = include_str!("src/microcontroller.md")]
pub mod microcontroller {}

#[cfg(doctest)]
#[doc = include_str!("src/reference.md")]
pub mod reference {}

#[cfg(doctest)]
#[doc = include_str!("src/optimizers.md")]
pub mod optimizers {}
