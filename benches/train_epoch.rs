//! One training epoch of the main job (784-128-10 ReLU, Adam lr 1e-3, batch 128) on the default
//! data set: what `descent train` reports as seconds per epoch (the batches; evaluation excluded).
//!
//! Run: `cargo bench --bench train_epoch` (one thread), `DESCENT_BENCH_THREADS=2 cargo bench
//! --bench train_epoch` (two threads for the matrix products), and
//! `DESCENT_DATA=/usr/share/datasets/fashion-mnist cargo bench --bench train_epoch` for
//! Fashion-MNIST's 60,000 images. `benches/torch_mnist.py` times PyTorch's version of the same
//! epoch (and, given `--descent target/release/descent`, both side by side).

use criterion::{BatchSize, Criterion, black_box};
use descent::std_ext::data::mnist::{Mnist, default_dir};
use descent::std_ext::train::{Data, Silent, Split, Start, TrainOptions, run};
use std::time::Duration;

fn main() {
    let threads: usize =
        std::env::var("DESCENT_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let dir = default_dir().expect("the default data set");
    let mnist = Mnist::load(&dir).expect("MNIST-format data");
    let train = Split { x: &mnist.train.images, y: &mnist.train.labels, values: &[], n: mnist.train.n };
    let test = Split { x: &mnist.test.images, y: &mnist.test.labels, values: &[], n: mnist.test.n };
    // Evaluation is not part of an epoch's time: test on a single image.
    let data = Data { train, validation: None, test: test.head(1) };
    let opts = TrainOptions { epochs: 1, threads, ..TrainOptions::default() };
    let inputs = mnist.train.rows * mnist.train.cols;
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if train.n > 10_000 { 20 } else { 5 }))
        .configure_from_args();
    let name = format!("train_epoch/{}_images/threads={threads}", train.n);
    c.bench_function(&name, |b| {
        b.iter_batched(
            || Start::fresh(inputs, 10, &opts).expect("a valid model"),
            |start| black_box(run(start, data, &opts, None, &mut Silent).expect("training runs")),
            BatchSize::PerIteration,
        )
    });
    c.final_summary();
    // The same epoch timed by hand: the batches alone (what `descent train` reports) and the
    // whole call (allocation, checkpoints, the one-image evaluation).
    let (mut batches, mut whole) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let start = Start::fresh(inputs, 10, &opts).expect("a valid model");
        let t = std::time::Instant::now();
        let r = run(start, data, &opts, None, &mut Silent).expect("training runs");
        whole.push(t.elapsed().as_secs_f64());
        batches.push(r.history.epochs[0].seconds);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{name}: median of 10 epochs, {:.4} s for the batches, {:.4} s for the whole call",
        median(&mut batches),
        median(&mut whole)
    );
}
