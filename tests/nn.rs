//! The no_std training path: gradients of Dense + ReLU + softmax cross-entropy against finite
//! differences, and a small MLP trained with fixed buffers and a core optimizer.

use descent::Optimizer;
use descent::adam::{Adam, AdamConfig};
use descent::nn::{Dense, DenseGrad, relu, relu_backward, softmax_cross_entropy};

fn loss(l1: &Dense<f64, 3, 5>, l2: &Dense<f64, 5, 4>, x: &[f64; 3], label: usize) -> f64 {
    let mut h = [0.0; 5];
    l1.forward(x, &mut h);
    relu(&mut h);
    let mut z = [0.0; 4];
    l2.forward(&h, &mut z);
    softmax_cross_entropy(&z, label, &mut [0.0; 4]).unwrap()
}

#[test]
fn dense_relu_cross_entropy_gradients_match_finite_differences() {
    let mut l1 = Dense::<f64, 3, 5>::zeros();
    let mut l2 = Dense::<f64, 5, 4>::zeros();
    for (i, w) in l1.w.as_flattened_mut().iter_mut().enumerate() {
        *w = ((i as f64) * 0.77).sin();
    }
    for (i, w) in l2.w.as_flattened_mut().iter_mut().enumerate() {
        *w = ((i as f64) * 0.31).cos();
    }
    l1.b = [0.1, -0.2, 0.3, 0.05, 0.2];
    let x = [0.5, -1.0, 2.0];
    let label = 2;
    // Backward.
    let mut h = [0.0; 5];
    l1.forward(&x, &mut h);
    relu(&mut h);
    let mut z = [0.0; 4];
    l2.forward(&h, &mut z);
    let mut dz = [0.0; 4];
    softmax_cross_entropy(&z, label, &mut dz).unwrap();
    let (mut g1, mut g2) = (DenseGrad::<f64, 3, 5>::zeros(), DenseGrad::<f64, 5, 4>::zeros());
    let mut dh = [0.0; 5];
    l2.backward(&h, &dz, &mut g2, Some(&mut dh));
    relu_backward(&h, &mut dh);
    l1.backward(&x, &dh, &mut g1, None);
    // Finite differences on every parameter.
    let eps = 1e-6;
    for i in 0..15 {
        let orig = l1.w.as_flattened()[i];
        l1.w.as_flattened_mut()[i] = orig + eps;
        let up = loss(&l1, &l2, &x, label);
        l1.w.as_flattened_mut()[i] = orig - eps;
        let down = loss(&l1, &l2, &x, label);
        l1.w.as_flattened_mut()[i] = orig;
        let fd = (up - down) / (2.0 * eps);
        assert!((fd - g1.w_flat()[i]).abs() < 1e-6, "W1[{i}]: {fd} vs {}", g1.w_flat()[i]);
    }
    for i in 0..20 {
        let orig = l2.w.as_flattened()[i];
        l2.w.as_flattened_mut()[i] = orig + eps;
        let up = loss(&l1, &l2, &x, label);
        l2.w.as_flattened_mut()[i] = orig - eps;
        let down = loss(&l1, &l2, &x, label);
        l2.w.as_flattened_mut()[i] = orig;
        assert!(((up - down) / (2.0 * eps) - g2.w_flat()[i]).abs() < 1e-6);
    }
    for i in 0..4 {
        let orig = l2.b[i];
        l2.b[i] = orig + eps;
        let up = loss(&l1, &l2, &x, label);
        l2.b[i] = orig - eps;
        let down = loss(&l1, &l2, &x, label);
        l2.b[i] = orig;
        assert!(((up - down) / (2.0 * eps) - g2.b[i]).abs() < 1e-6);
    }
}

/// A 4-8-3 MLP on three separable blobs, trained example by example with Adam over fixed
/// arrays (the way a device would run it).
#[test]
fn a_small_mlp_trains_with_fixed_buffers() {
    let mut l1 = Dense::<f32, 4, 8>::zeros();
    let mut l2 = Dense::<f32, 8, 3>::zeros();
    let mut s: u32 = 12345;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        (s as f32 / u32::MAX as f32) - 0.5
    };
    l1.w.as_flattened_mut().iter_mut().for_each(|w| *w = rnd());
    l2.w.as_flattened_mut().iter_mut().for_each(|w| *w = rnd());
    let cfg = AdamConfig { lr: 1e-2, ..AdamConfig::default() };
    let (mut o1w, mut o1b) = (Adam::<f32, 32>::new(cfg).unwrap(), Adam::<f32, 8>::new(cfg).unwrap());
    let (mut o2w, mut o2b) = (Adam::<f32, 24>::new(cfg).unwrap(), Adam::<f32, 3>::new(cfg).unwrap());
    let example = |k: usize, noise: &mut dyn FnMut() -> f32| {
        let c = k % 3;
        let x: [f32; 4] = core::array::from_fn(|d| if d == c { 1.5 } else { 0.0 } + noise());
        (x, c)
    };
    let accuracy = |l1: &Dense<f32, 4, 8>, l2: &Dense<f32, 8, 3>, noise: &mut dyn FnMut() -> f32| {
        let mut right = 0;
        for k in 0..300 {
            let (x, c) = example(k, noise);
            let mut h = [0.0; 8];
            l1.forward(&x, &mut h);
            relu(&mut h);
            let mut z = [0.0; 3];
            l2.forward(&h, &mut z);
            let arg = (0..3).fold(0, |b, i| if z[i] > z[b] { i } else { b });
            right += usize::from(arg == c);
        }
        right as f32 / 300.0
    };
    let before = accuracy(&l1, &l2, &mut rnd);
    for epoch in 0..20 {
        for batch in 0..10 {
            let (mut g1, mut g2) = (DenseGrad::<f32, 4, 8>::zeros(), DenseGrad::<f32, 8, 3>::zeros());
            for k in 0..16 {
                let (x, c) = example(epoch * 1000 + batch * 16 + k, &mut rnd);
                let mut h = [0.0; 8];
                l1.forward(&x, &mut h);
                relu(&mut h);
                let mut z = [0.0; 3];
                l2.forward(&h, &mut z);
                let mut dz = [0.0; 3];
                softmax_cross_entropy(&z, c, &mut dz).unwrap();
                let mut dh = [0.0; 8];
                l2.backward(&h, &dz, &mut g2, Some(&mut dh));
                relu_backward(&h, &mut dh);
                l1.backward(&x, &dh, &mut g1, None);
            }
            g1.scale(1.0 / 16.0);
            g2.scale(1.0 / 16.0);
            let (w, b) = l1.params_mut();
            o1w.step(w, g1.w_flat()).unwrap();
            o1b.step(b, &g1.b).unwrap();
            let (w, b) = l2.params_mut();
            o2w.step(w, g2.w_flat()).unwrap();
            o2b.step(b, &g2.b).unwrap();
        }
    }
    let after = accuracy(&l1, &l2, &mut rnd);
    assert!(after > 0.95 && after > before, "accuracy {before} -> {after}");
}
