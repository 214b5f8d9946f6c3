//! Minimize the Rosenbrock function f(x, y) = (1 − x)² + 100(y − x²)² with every optimizer of
//! descent-core, from (−1.5, 2), and print where each ends. The minimum is (1, 1).
//!
//! Run: `cargo run --release --example rosenbrock`

use descent::adadelta::{Adadelta, AdadeltaConfig};
use descent::adafactor::{Adafactor, AdafactorConfig};
use descent::adagrad::{Adagrad, AdagradConfig};
use descent::adam::{Adam, AdamConfig};
use descent::adamax::{Adamax, AdamaxConfig};
use descent::asgd::{Asgd, AsgdConfig};
use descent::lion::{Lion, LionConfig};
use descent::nadam::{Nadam, NadamConfig};
use descent::radam::{Radam, RadamConfig};
use descent::rmsprop::{Rmsprop, RmspropConfig};
use descent::rprop::{Rprop, RpropConfig};
use descent::sgd::{SgdConfig, SgdMomentum};
use descent::{Error, Optimizer};

fn rosenbrock(p: &[f64; 2]) -> (f64, [f64; 2]) {
    let (x, y) = (p[0], p[1]);
    let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    (f, [-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)])
}

fn run(name: &str, opt: &mut dyn Optimizer<f64>, steps: usize) -> Result<(), Error> {
    let mut p = [-1.5, 2.0];
    for _ in 0..steps {
        let (_, g) = rosenbrock(&p);
        opt.step(&mut p, &g)?;
    }
    let (f, _) = rosenbrock(&p);
    let d = ((p[0] - 1.0).powi(2) + (p[1] - 1.0).powi(2)).sqrt();
    println!("{name:<10} ({:>8.5}, {:>8.5})  f = {f:<10.3e} distance to (1, 1) = {d:.2e}", p[0], p[1]);
    Ok(())
}

fn main() -> Result<(), Error> {
    let steps = 20_000;
    println!("Rosenbrock from (-1.5, 2), {steps} steps each:");
    run(
        "sgd",
        &mut SgdMomentum::<f64, 2>::new(SgdConfig { lr: 2e-4, momentum: 0.9, ..Default::default() })?,
        steps,
    )?;
    run(
        "nesterov",
        &mut SgdMomentum::<f64, 2>::new(SgdConfig {
            lr: 2e-4,
            momentum: 0.9,
            nesterov: true,
            ..Default::default()
        })?,
        steps,
    )?;
    run("adam", &mut Adam::<f64, 2>::new(AdamConfig { lr: 1e-2, ..Default::default() })?, steps)?;
    run(
        "adamw",
        &mut Adam::<f64, 2>::new(AdamConfig { lr: 1e-2, weight_decay: 1e-4, ..AdamConfig::adamw() })?,
        steps,
    )?;
    run("adagrad", &mut Adagrad::<f64, 2>::new(AdagradConfig { lr: 0.5, ..Default::default() })?, steps)?;
    run("rmsprop", &mut Rmsprop::<f64, 2>::new(RmspropConfig { lr: 1e-3, ..Default::default() })?, steps)?;
    run("adamax", &mut Adamax::<f64, 2>::new(AdamaxConfig { lr: 1e-2, ..Default::default() })?, steps)?;
    run("nadam", &mut Nadam::<f64, 2>::new(NadamConfig { lr: 1e-2, ..Default::default() })?, steps)?;
    run("radam", &mut Radam::<f64, 2>::new(RadamConfig { lr: 1e-2, ..Default::default() })?, steps)?;
    run("adadelta", &mut Adadelta::<f64, 2>::new(AdadeltaConfig { lr: 1.0, ..Default::default() })?, steps)?;
    run("asgd", &mut Asgd::<f64, 2>::new(AsgdConfig { lr: 2e-4, ..Default::default() })?, steps)?;
    run("rprop", &mut Rprop::<f64, 2>::new(RpropConfig { lr: 1e-3, ..Default::default() })?, steps)?;
    run(
        "adafactor",
        &mut Adafactor::<f64, 2>::new(AdafactorConfig { lr: 1e-2, ..Default::default() })?,
        steps,
    )?;
    run(
        "lion",
        &mut Lion::<f64, 2>::new(LionConfig { lr: 1e-3, weight_decay: 0.0, ..Default::default() })?,
        steps,
    )?;
    Ok(())
}
