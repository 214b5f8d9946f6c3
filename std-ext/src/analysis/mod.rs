//! The convergence-analysis toolkit: the seeds' experiments as library functions that return
//! their numbers, and `write_*` functions that put those numbers (CSV/JSON) and their plots (SVG)
//! into a directory. `descent analyze <topic>` calls them; the book's figures come from them.
//!
//! | topic | module | what it shows |
//! |---|---|---|
//! | trajectories | [`trajectories`] | every optimizer's path over the 2-D test functions |
//! | rates | [`rates`] | measured linear rates on quadratics against the theory |
//! | lr-demo | [`trajectories::lr_demo`] | gradient descent on x² for lr 0.01 … 1.1 |
//! | ravine | [`trajectories::ravine`] | gradient descent against momentum in x² + 10y² |
//! | schedules | [`schedules`] | every learning-rate schedule's curve |
//!
//! Everything here is deterministic: the same arguments give the same numbers.

pub mod functions;
pub mod gradient_flow;
pub mod landscape;
pub mod lr_find;
pub mod net;
pub mod output;
pub mod rates;
pub mod runner;
pub mod schedules;
pub mod sharpness;
pub mod sweep;
pub mod trajectories;

pub use functions::{Line, Objective, Quadratic, Surface};
pub use output::Output;
pub use runner::{Path as Trajectory, descend, kwargs};
