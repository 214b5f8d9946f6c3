//! The fine-tuning example's library: see [`finetune`]. `#![no_std]`, no heap; the freestanding
//! binary (`main.rs`) and `tests/finetune.rs` run the same code.
#![no_std]
#![deny(missing_docs)]

pub mod finetune;
