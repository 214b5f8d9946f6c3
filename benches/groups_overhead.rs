//! What parameter groups cost: Adam f32 steps over the same buffers as one flat optimizer
//! ([`descent::Optim`], the flat API), as a grouped optimizer with one tensor in one group (the
//! flat API's case of [`descent::group::Grouped`]), and as a grouped optimizer over the tensors of
//! the default MLP (784-128-10: 4 tensors, weights decayed and biases not, 2 groups). All three
//! run descent-core's own step (no run-time dispatch), side by side in one run; the table gives
//! ns per element and the ratio to the flat step.
//!
//!     cargo bench --bench groups_overhead
//!
//! Sizes: the default MLP's 101,770 parameters, and 16.7 M (the MLP's shape scaled: 4 tensors).

mod common;

use common::{best_of, zeroed};
use descent::adam::AdamConfig;
use descent::group::{Group, Grouped, Slot};
use descent::layout::{Layout, Tensor};
use descent::power::BetaPowers;
use descent::{Optim, Optimizer};
use std::time::Duration;

type Heap<'a> =
    Grouped<AdamConfig, f32, Vec<Tensor>, Vec<Group<AdamConfig>>, Vec<Slot<BetaPowers>>, &'a mut [f32]>;

fn grouped(tensors: Vec<Tensor>, n: usize, groups: Vec<Group<AdamConfig>>, state: &mut [f32]) -> Heap<'_> {
    let layout = Layout::new(tensors, n, groups.len()).unwrap();
    let slots = vec![Slot::default(); layout.tensors().len()];
    Grouped::new(layout, groups, slots, state).unwrap()
}

/// The default MLP's tensors scaled to `n` parameters: W0 [h, 784], b0 [h], W1 [10, h], b1 [10].
fn mlp(n: usize) -> (Vec<Tensor>, usize) {
    let h = (n - 10) / (784 + 1 + 10);
    let tensors = vec![
        Tensor::new(0, &[h, 784], 0),
        Tensor::new(784 * h, &[h], 1),
        Tensor::new(785 * h, &[10, h], 0),
        Tensor::new(795 * h, &[10], 1),
    ];
    (tensors, 795 * h + 10)
}

fn main() {
    let c = AdamConfig::adamw();
    let budget = Duration::from_millis(if std::env::var("DESCENT_BENCH_QUICK").is_ok() { 200 } else { 1500 });
    println!("Adam f32 (AdamW settings), descent-core's own step, ns per element (ratio to flat)");
    println!("{:>12} {:>10} {:>22} {:>22}", "n", "flat", "1 tensor, 1 group", "MLP: 4 tensors, 2 groups");
    for target in [101_770usize, 16_777_216] {
        let (tensors, n) = mlp(target);
        let mut p = zeroed(n);
        let g: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 1e-3).collect();
        // One state buffer for all three, so that page placement cannot tell them apart;
        // interleaved rounds, best of each, so that the machine's load hits all three alike.
        let mut state = zeroed(2 * n);
        let decay = vec![Group::new(c), Group::new(AdamConfig { weight_decay: 0.0, ..c })];
        let mut best = [Duration::MAX; 3];
        for _ in 0..3 {
            let mut flat = Optim::with_buffer(c, n, &mut state[..]).unwrap();
            best[0] = best[0].min(best_of(|| flat.step(&mut p, &g).unwrap(), budget));
            let mut one = grouped(vec![Tensor::new(0, &[n], 0)], n, vec![Group::new(c)], &mut state);
            best[1] = best[1].min(best_of(|| one.step(&mut p, &g).unwrap(), budget));
            let mut two = grouped(tensors.clone(), n, decay.clone(), &mut state);
            best[2] = best[2].min(best_of(|| two.step(&mut p, &g).unwrap(), budget));
        }
        let ns = best.map(|d| d.as_secs_f64() * 1e9 / n as f64);
        println!(
            "{n:>12} {:>10.3} {:>14.3} ({:>5.3}) {:>14.3} ({:>5.3})",
            ns[0],
            ns[1],
            ns[1] / ns[0],
            ns[2],
            ns[2] / ns[0]
        );
    }
}
