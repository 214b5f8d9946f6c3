//! Seeded synthetic data sets for the small experiments.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StandardNormal};

pub use crate::split::Owned;

/// Two interleaving half circles (scikit-learn's `make_moons`): class 0 on (cos t, sin t), class 1
/// on (1 − cos t, ½ − sin t), t evenly spaced in [0, π], plus Gaussian noise of deviation
/// `noise`; `n` points, alternating classes.
pub fn two_moons(n: usize, noise: f64, seed: u64) -> Owned {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let jitter =
        Normal::new(0.0, noise.max(0.0)).unwrap_or_else(|_| Normal::new(0.0, 0.0).expect("zero deviation"));
    let half = n.div_ceil(2).max(2);
    let mut o = Owned { x: Vec::with_capacity(2 * n), y: Vec::with_capacity(n), values: Vec::new(), n };
    for i in 0..n {
        let class = (i % 2) as u8;
        let t = std::f64::consts::PI * (i / 2) as f64 / (half - 1) as f64;
        let (px, py) = if class == 0 { (t.cos(), t.sin()) } else { (1.0 - t.cos(), 0.5 - t.sin()) };
        o.x.push((px + jitter.sample(&mut rng)) as f32);
        o.x.push((py + jitter.sample(&mut rng)) as f32);
        o.y.push(class);
    }
    o
}

/// Linear regression data: x ~ N(0, I) in `d` dimensions, y = w*·x + b* + ε with ε ~ N(0, σ²);
/// returns the data and (w*, b*).
pub fn linear(n: usize, d: usize, sigma: f64, seed: u64) -> (Owned, Vec<f64>, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
    let b = 0.5;
    let mut o = Owned { x: Vec::with_capacity(n * d), y: Vec::new(), values: Vec::with_capacity(n), n };
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let e: f64 = StandardNormal.sample(&mut rng);
        o.values.push((row.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + b + sigma * e) as f32);
        o.x.extend(row.iter().map(|v| *v as f32));
    }
    (o, w, b)
}

/// The synthetic regression: x ~ N(0, I) in `d` dimensions, y = x₀² + x₁² + ε with
/// ε ~ N(0, σ²); the other d − 2 features are noise the model must learn to ignore.
pub fn squares(n: usize, d: usize, sigma: f64, seed: u64) -> Owned {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut o = Owned { x: Vec::with_capacity(n * d), y: Vec::new(), values: Vec::with_capacity(n), n };
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let e: f64 = StandardNormal.sample(&mut rng);
        o.values.push((row[0] * row[0] + row.get(1).map_or(0.0, |v| v * v) + sigma * e) as f32);
        o.x.extend(row.iter().map(|v| *v as f32));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moons_without_noise_lie_on_their_half_circles() {
        let m = two_moons(100, 0.0, 1);
        for i in 0..100 {
            let (x, y) = (f64::from(m.x[2 * i]), f64::from(m.x[2 * i + 1]));
            let r = if m.y[i] == 0 { x.hypot(y) } else { (1.0 - x).hypot(0.5 - y) };
            assert!((r - 1.0).abs() < 1e-6, "point {i}");
        }
        assert_eq!(m.y.iter().filter(|c| **c == 1).count(), 50);
        assert_eq!(two_moons(100, 0.2, 7), two_moons(100, 0.2, 7));
        assert_ne!(two_moons(100, 0.2, 7), two_moons(100, 0.2, 8));
    }

    #[test]
    fn regression_targets_follow_their_formulas() {
        let (o, w, b) = linear(50, 3, 0.0, 2);
        for i in 0..50 {
            let want: f64 = (0..3).map(|j| f64::from(o.x[i * 3 + j]) * w[j]).sum::<f64>() + b;
            assert!((f64::from(o.values[i]) - want).abs() < 1e-5);
        }
        let s = squares(50, 20, 0.0, 3);
        for i in 0..50 {
            let want = f64::from(s.x[i * 20]).powi(2) + f64::from(s.x[i * 20 + 1]).powi(2);
            assert!((f64::from(s.values[i]) - want).abs() < 1e-5);
        }
    }
}
