//! Half-size (bf16/f16) optimizer state: how far a trajectory drifts from f32 state, that the same
//! minimum is reached, that stochastic rounding is unbiased, and that save/restore resumes exactly.

use descent::adam::{Adam, AdamConfig};
use descent::half_state::{HalfFloat, HalfOptim, Rounding, SplitMix64, bf16, f16, round_stochastic};
use descent::sgd::{SgdConfig, SgdMomentum};
use descent::{Optimizer, UpdateRule};

const N: usize = 32;

fn problem() -> (Vec<f32>, Vec<f32>) {
    let a = (0..N).map(|i| 0.5 + 1.5 * i as f32 / N as f32).collect();
    let c = (0..N).map(|i| (i as f32 * 0.37).sin() * 2.0).collect();
    (a, c)
}

fn trajectory(opt: &mut dyn Optimizer<f32>, steps: usize) -> Vec<Vec<f32>> {
    let (a, c) = problem();
    let mut x = vec![0.0f32; N];
    let mut out = Vec::new();
    for _ in 0..steps {
        let g: Vec<f32> = (0..N).map(|i| a[i] * (x[i] - c[i])).collect();
        opt.step(&mut x, &g).unwrap();
        out.push(x.clone());
    }
    out
}

fn half<R: UpdateRule + 'static, H: HalfFloat>(cfg: R, rounding: Rounding) -> Box<dyn Optimizer<f32>> {
    let k = cfg.state_len(1);
    Box::new(
        HalfOptim::from_storage(cfg, vec_state::<H>(k * N), N, rounding, descent::NonFinitePolicy::Propagate)
            .unwrap(),
    )
}

/// Heap storage for the test (the core itself never allocates).
struct VecState<H>(Vec<H>);
impl<H> descent::StateBuffer<H> for VecState<H> {
    fn values(&self) -> &[H] {
        &self.0
    }
    fn values_mut(&mut self) -> &mut [H] {
        &mut self.0
    }
}
fn vec_state<H: HalfFloat>(n: usize) -> VecState<H> {
    VecState(vec![H::default(); n])
}

type MakeFull = Box<dyn Fn() -> Box<dyn Optimizer<f32>>>;
type MakeHalf = Box<dyn Fn(bool, Rounding) -> Box<dyn Optimizer<f32>>>;

/// Drift bound over 100 steps, relative to the total distance the f32 trajectory moved:
/// |x_half − x_f32| ≤ c_H · Σ_t |Δx_f32|, with c = 2⁻⁵ for bf16 (8-bit significand) and 2⁻⁸ for
/// f16 (11-bit). Each stored moment carries a relative error of at most 2^−p; the update direction
/// m̂/√v̂ then errs by about 1.5·2^−p per step, and errors in m persist for ~1/(1−β1) steps, so a
/// factor 2^−p·16 covers the accumulation; the measured values are printed.
#[test]
fn half_state_trajectories_stay_within_the_stated_bound_of_f32_state() {
    let configs: [(&str, MakeFull, MakeHalf); 3] = [
        (
            "adam",
            Box::new(|| {
                Box::new(Adam::<f32, N>::new(AdamConfig { lr: 1e-2, ..Default::default() }).unwrap())
            }),
            Box::new(|b, r| {
                if b {
                    half::<_, bf16>(AdamConfig { lr: 1e-2, ..Default::default() }, r)
                } else {
                    half::<_, f16>(AdamConfig { lr: 1e-2, ..Default::default() }, r)
                }
            }),
        ),
        (
            "adamw",
            Box::new(|| {
                Box::new(Adam::<f32, N>::new(AdamConfig { lr: 1e-2, ..AdamConfig::adamw() }).unwrap())
            }),
            Box::new(|b, r| {
                if b {
                    half::<_, bf16>(AdamConfig { lr: 1e-2, ..AdamConfig::adamw() }, r)
                } else {
                    half::<_, f16>(AdamConfig { lr: 1e-2, ..AdamConfig::adamw() }, r)
                }
            }),
        ),
        (
            "sgd-momentum",
            Box::new(|| {
                Box::new(
                    SgdMomentum::<f32, N>::new(SgdConfig { lr: 1e-2, momentum: 0.9, ..Default::default() })
                        .unwrap(),
                )
            }),
            Box::new(|b, r| {
                if b {
                    half::<_, bf16>(SgdConfig { lr: 1e-2, momentum: 0.9, ..Default::default() }, r)
                } else {
                    half::<_, f16>(SgdConfig { lr: 1e-2, momentum: 0.9, ..Default::default() }, r)
                }
            }),
        ),
    ];
    for (name, full, halfed) in &configs {
        let reference = trajectory(full().as_mut(), 100);
        let moved: f32 = reference
            .windows(2)
            .map(|w| w[1].iter().zip(&w[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max))
            .sum::<f32>()
            + reference[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (is_bf16, c) in [(true, 2f32.powi(-5)), (false, 2f32.powi(-8))] {
            for rounding in [Rounding::Nearest, Rounding::Stochastic(7)] {
                let got = trajectory(halfed(is_bf16, rounding).as_mut(), 100);
                let drift = got
                    .iter()
                    .zip(&reference)
                    .map(|(g, r)| g.iter().zip(r).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max))
                    .fold(0.0, f32::max);
                println!(
                    "{name} {} {rounding:?}: max drift {drift:.3e}, bound {:.3e}",
                    if is_bf16 { "bf16" } else { "f16" },
                    c * moved
                );
                assert!(drift <= c * moved, "{name}: drift {drift} > {}", c * moved);
            }
        }
    }
}

#[test]
fn half_state_reaches_the_same_minimum() {
    let (_, c) = problem();
    for rounding in [Rounding::Nearest, Rounding::Stochastic(3)] {
        let mut opt = half::<_, bf16>(AdamConfig { lr: 1e-2, ..Default::default() }, rounding);
        let x = trajectory(opt.as_mut(), 3000).pop().unwrap();
        let worst = x.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        let mut full = Adam::<f32, N>::new(AdamConfig { lr: 1e-2, ..Default::default() }).unwrap();
        let xf = trajectory(&mut full, 3000).pop().unwrap();
        let worst_f32 = xf.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        println!("bf16 {rounding:?}: distance {worst:.2e} (f32 state: {worst_f32:.2e})");
        assert!(worst < 2e-2 && worst_f32 < 2e-2, "{worst} {worst_f32}");
    }
}

#[test]
fn stochastic_rounding_is_unbiased() {
    let mut rng = SplitMix64(42);
    for &x in &[1.0f32 + 1.0 / 300.0, -3.1, 1e-3, 123.456, 7e-6] {
        let draws = 20_000;
        let mean_bf: f64 =
            (0..draws).map(|_| f64::from(round_stochastic::<bf16>(x, &mut rng).widen())).sum::<f64>()
                / draws as f64;
        let mean_f16: f64 =
            (0..draws).map(|_| f64::from(round_stochastic::<f16>(x, &mut rng).widen())).sum::<f64>()
                / draws as f64;
        // The spacing between neighbours bounds the per-draw deviation; 5σ of the mean.
        let ulp_bf = f64::from(x.abs()) * 2f64.powi(-7);
        assert!(
            (mean_bf - f64::from(x)).abs() <= 5.0 * ulp_bf / (draws as f64).sqrt(),
            "bf16 {x}: {mean_bf}"
        );
        let ulp_f16 = f64::from(x.abs()).max(6.1e-5) * 2f64.powi(-10);
        assert!(
            (mean_f16 - f64::from(x)).abs() <= 5.0 * ulp_f16 / (draws as f64).sqrt(),
            "f16 {x}: {mean_f16}"
        );
        // Every draw is one of the two neighbours.
        let near = bf16::from_f32(x).to_f32();
        let d = round_stochastic::<bf16>(x, &mut rng).widen();
        assert!((d - x).abs() <= (near - x).abs() + ulp_bf as f32 * 1.01);
    }
}

#[test]
fn half_state_resumes_bit_identically_and_costs_half_the_bytes() {
    use descent::half_state::AdamBf16;
    let cfg = AdamConfig { lr: 1e-2, ..Default::default() };
    let mut a = AdamBf16::<N>::new(cfg, Rounding::Stochastic(9)).unwrap();
    let (aa, c) = problem();
    let mut x = vec![0.0f32; N];
    let grad = |x: &[f32]| (0..N).map(|i| aa[i] * (x[i] - c[i])).collect::<Vec<f32>>();
    for _ in 0..10 {
        let g = grad(&x);
        a.step(&mut x, &g).unwrap();
    }
    let mut bytes = vec![0u8; a.saved_len()];
    a.save(&mut bytes).unwrap();
    let mut b = AdamBf16::<N>::new(cfg, Rounding::Nearest).unwrap();
    b.restore(&bytes).unwrap();
    let mut y = x.clone();
    for _ in 0..10 {
        let (g1, g2) = (grad(&x), grad(&y));
        a.step(&mut x, &g1).unwrap();
        b.step(&mut y, &g2).unwrap();
    }
    assert_eq!(x, y);
    bytes[40] ^= 4;
    assert!(b.restore(&bytes).is_err());
    assert_eq!(std::mem::size_of::<AdamBf16<64>>() - std::mem::size_of::<AdamBf16<0>>(), 64 * 4);
    assert!(
        HalfOptim::<descent::adafactor::AdafactorConfig, bf16, [[bf16; 4]; 1]>::new(
            Default::default(),
            Rounding::Nearest
        )
        .is_err()
    );
}
