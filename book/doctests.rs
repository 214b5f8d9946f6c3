//! Every chapter of the book as a doctest module, so `cargo test` compiles and runs each Rust
//! snippet (the trick from jiff's book: one module per chapter, and the module's name says which
//! chapter failed).
#![allow(missing_docs)]

#[cfg(doctest)]
#[doc = include_str!("src/introduction.md")]
pub mod introduction {}

#[cfg(doctest)]
#[doc = include_str!("src/optimizers.md")]
pub mod optimizers {}
