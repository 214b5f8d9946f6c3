//! The convergence-analysis toolkit: experiments as library functions that return
//! their numbers, and `write_*` functions that put those numbers (CSV/JSON) and their plots (SVG)
//! into a directory. `descent analyze <topic>` calls them; the book's figures come from them.
//!
//! | topic | module | what it shows |
//! |---|---|---|
//! | trajectories | [`trajectories`] | every optimizer's path over the 2-D test functions |
//! | animation | [`animation`] | the same paths animated: one moving dot per optimizer |
//! | rates | [`rates`] | measured linear rates on quadratics against the theory |
//! | lr-demo | [`trajectories::write_lr_demo`] | gradient descent on x² for lr 0.01 … 1.1 |
//! | ravine | [`trajectories::write_ravine`] | gradient descent against momentum in x² + 10y² |
//! | momentum | [`momentum`] | each eigen-component under momentum, and the map of its rate |
//! | schedules | [`schedules`] | every learning-rate schedule's curve |
//! | family-tree | [`family`] | the optimizers' family tree, each edge the problem it fixed |
//! | sweep | [`sweep`] | final loss against lr: 2-D functions, Adam on MNIST |
//! | lr-find | [`lr_find`] | the LR range test on the MNIST MLP |
//! | gradient-flow | [`gradient_flow`] | per-layer gradient norms of a deep MLP |
//! | landscape | [`landscape`] | 1-D interpolation and a filter-normalized 2-D slice |
//! | sharpness | [`sharpness`] | the top Hessian eigenvalue by power iteration |
//! | second-order | [`second_order`] | Newton and L-BFGS against first-order methods |
//! | newton-1d | [`second_order::write_newton_1d`] | Newton against gradient descent on x⁴ − 4x² + x |
//! | moons | [`moons`] | two moons: optimizers compared, weight decay's effect |
//! | linear-regression | [`regression::write_linear`] | SGD, momentum, Adam, AdamW against least squares |
//! | synthetic | [`regression::write_synthetic`] | AdamW, warmup + cosine, clipping, early stopping |
//!
//! Everything here is deterministic: the same arguments give the same numbers.

pub mod animation;
pub mod datasets;
pub mod family;
pub mod functions;
pub mod gradient_flow;
pub mod landscape;
pub mod lr_find;
pub mod momentum;
pub mod moons;
pub mod net;
pub mod output;
pub mod rates;
pub mod regression;
pub mod runner;
pub mod schedules;
pub mod second_order;
pub mod sharpness;
pub mod sweep;
pub mod trajectories;

pub use functions::{Line, Objective, Quadratic, Surface};
pub use output::Output;
pub use runner::{Path as Trajectory, descend, kwargs};
