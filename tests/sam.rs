//! SAM (optax.contrib.sam with the paper's adversary): the two-gradient update through the token
//! API, the same update through the Optimizer trait, refusals, and resume. (Against optax itself:
//! tests/conformance.rs, `optax_sam_cases_match`.)

use descent::sam::{Sam, SamConfig};
use descent::sgd::{Sgd, SgdConfig};
use descent::{Error, Optimizer};

const N: usize = 3;

fn sam() -> Sam<Sgd<f64, N>, f64, [f64; N]> {
    let sgd = Sgd::<f64, N>::new(SgdConfig { lr: 0.1, ..SgdConfig::default() }).unwrap();
    Sam::new(sgd, SamConfig { rho: 0.5, sync_period: 2 }, [0.0; N]).unwrap()
}

/// f(θ) = Σ θᵢ⁴: the ascent goes to θ + ρ·g/‖g‖, and the outer step starts from θ with the
/// gradient taken there.
#[test]
fn the_update_is_an_outer_step_from_theta_with_the_gradient_at_the_perturbed_point() {
    let grad = |t: &[f64; N]| t.map(|x| 4.0 * x * x * x);
    let theta = [1.0, -0.5, 0.25];
    let mut s = sam();
    let mut p = theta;
    let g = grad(&p);
    let token = s.perturb(&mut p, &g).unwrap();
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    for i in 0..N {
        assert!((p[i] - (theta[i] + 0.5 * g[i] / norm)).abs() < 1e-15);
    }
    let g_tilde = grad(&p);
    s.finish(token, &mut p, &g_tilde).unwrap();
    let expected: Vec<f64> = (0..N).map(|i| theta[i] - 0.1 * g_tilde[i]).collect();
    println!("θ after one SAM update: {p:?}");
    assert_eq!(&p[..], &expected[..]);

    // The Optimizer trait alternates the same two calls.
    let mut t = sam();
    let mut q = theta;
    let g = grad(&q);
    t.step(&mut q, &g).unwrap();
    let g_tilde = grad(&q);
    t.step(&mut q, &g_tilde).unwrap();
    assert_eq!(q, p);
}

#[test]
fn refusals_change_nothing() {
    let mut s = sam();
    let mut p = [1.0, 2.0, 3.0];
    assert!(matches!(s.perturb(&mut p, &[1.0]), Err(Error::LengthMismatch { .. })));
    assert_eq!(p, [1.0, 2.0, 3.0]);
    // Through the trait, then a perturb in the middle of an update is refused.
    s.step(&mut p, &[1.0, 0.0, 0.0]).unwrap();
    let before = p;
    assert!(matches!(s.perturb(&mut p, &[1.0, 0.0, 0.0]), Err(Error::Unsupported { .. })));
    assert_eq!(p, before);
    let e = Sam::new(
        Sgd::<f64, N>::new(SgdConfig::default()).unwrap(),
        SamConfig { rho: -1.0, sync_period: 2 },
        [0.0; N],
    );
    assert!(e.is_err());
    let e = Sam::new(
        Sgd::<f64, N>::new(SgdConfig::default()).unwrap(),
        SamConfig { rho: 0.1, sync_period: 0 },
        [0.0; N],
    );
    assert_eq!(e.unwrap_err().to_string(), "Synchronization period must be >= 1.");
}

/// Saved between the ascent and the outer step and restored into a fresh SAM, the update ends as
/// the uninterrupted one; corrupt bytes are refused and change nothing.
#[test]
fn resume_between_the_two_gradients() {
    let g1 = [0.3, -0.2, 0.1];
    let g2 = [0.25, 0.5, -1.0];
    let (mut a, mut pa) = (sam(), [1.0, 2.0, 3.0]);
    a.step(&mut pa, &g1).unwrap();
    let mut bytes = vec![0u8; a.saved_len()];
    a.save(&mut bytes).unwrap();
    let mut b = sam();
    let mut flipped = bytes.clone();
    flipped[20] ^= 1;
    assert!(b.restore(&flipped).is_err());
    assert_eq!(b.steps_since_sync(), 0);
    b.restore(&bytes).unwrap();
    let mut pb = pa;
    a.step(&mut pa, &g2).unwrap();
    b.step(&mut pb, &g2).unwrap();
    assert_eq!(pa, pb);
}
