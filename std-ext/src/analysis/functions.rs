//! Test functions for the convergence analyses, each with its gradient and Hessian in closed form.
//!
//! | function | formula | minimum |
//! |---|---|---|
//! | quadratic (κ) | ½ (x − x*)ᵀ A (x − x*), A = Q diag(λ) Qᵀ, λ from 1 to κ | x*, f = 0 |
//! | quadratic, rotated_quadratic (2-D) | the above with κ = 10, axis-aligned and rotated | (1, 1) |
//! | ravine | x² + 10y² | (0, 0) |
//! | ravine3 | x² + 3y² | (0, 0) |
//! | rosenbrock | (1 − x)² + 100 (y − x²)² | (1, 1) |
//! | multimodal | sin x · cos y + 0.1 (x² + y²) | many local minima |
//! | saddle | x² − y² | none (a saddle at the origin) |
//! | himmelblau | (x² + y − 11)² + (x + y² − 7)² | four minima, f = 0 |
//! | square (1-D) | x² | 0 |
//! | quartic (1-D) | x⁴ − 4x² + x | x ≈ −1.473 (global), x ≈ 1.347 (local) |
//!
//! Hessians are row-major `dim × dim`. The tests check every gradient and Hessian against central
//! finite differences.

/// A twice-differentiable function of `dim()` variables.
pub trait Objective {
    /// Short name, used in file names and legends.
    fn name(&self) -> String;
    /// Number of variables.
    fn dim(&self) -> usize;
    /// f(x).
    fn value(&self, x: &[f64]) -> f64;
    /// ∇f(x) into `g`.
    fn gradient(&self, x: &[f64], g: &mut [f64]);
    /// ∇²f(x) into `h` (row-major, `dim × dim`).
    fn hessian(&self, x: &[f64], h: &mut [f64]);
    /// The global minimizer, where it is known and unique.
    fn minimizer(&self) -> Option<Vec<f64>> {
        None
    }
    /// The minimum value, where known.
    fn min_value(&self) -> Option<f64> {
        self.minimizer().map(|m| self.value(&m))
    }
    /// The conventional starting point.
    fn start(&self) -> Vec<f64>;
    /// The plotting window `((x0, x1), (y0, y1))` for 2-D functions.
    fn window(&self) -> ((f64, f64), (f64, f64)) {
        ((-2.0, 2.0), (-2.0, 2.0))
    }
    /// Whether a contour plot should use log-spaced levels (large dynamic range).
    fn log_levels(&self) -> bool {
        false
    }
}

/// A quadratic ½ (x − x*)ᵀ A (x − x*) with A = Q diag(λ) Qᵀ symmetric positive definite.
///
/// `Quadratic::conditioned(n, κ, rotated)` spaces the eigenvalues geometrically from μ = 1 to
/// L = κ (so the condition number is exactly κ); rotated, Q is a Householder reflection
/// I − 2uuᵀ/uᵀu with u = (1, 2, …, n), which mixes every coordinate; otherwise Q = I.
#[derive(Debug, Clone, PartialEq)]
pub struct Quadratic {
    /// The matrix A, row-major `n × n`.
    pub a: Vec<f64>,
    /// Its eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    /// The minimizer x*.
    pub center: Vec<f64>,
    rotated: bool,
}

impl Quadratic {
    /// `n` variables, condition number `kappa` (μ = 1, L = κ), minimizer at (1, 1, …, 1).
    pub fn conditioned(n: usize, kappa: f64, rotated: bool) -> Self {
        let eigenvalues: Vec<f64> =
            (0..n).map(|i| if n == 1 { 1.0 } else { kappa.powf(i as f64 / (n - 1) as f64) }).collect();
        let q = if rotated { householder(n) } else { identity(n) };
        // A = Q Λ Qᵀ.
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| q[i * n + k] * eigenvalues[k] * q[j * n + k]).sum();
            }
        }
        Quadratic { a, eigenvalues, center: vec![1.0; n], rotated }
    }

    /// The same quadratic with its minimizer at the origin, where floating point keeps full
    /// relative precision as the error shrinks (for measuring rates down to 1e-100).
    pub fn centered_at_origin(mut self) -> Self {
        self.center.iter_mut().for_each(|c| *c = 0.0);
        self
    }

    /// The smallest eigenvalue μ.
    pub fn mu(&self) -> f64 {
        self.eigenvalues[0]
    }
    /// The largest eigenvalue L.
    pub fn l(&self) -> f64 {
        self.eigenvalues[self.eigenvalues.len() - 1]
    }
    /// The condition number L/μ.
    pub fn kappa(&self) -> f64 {
        self.l() / self.mu()
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    q
}

fn householder(n: usize) -> Vec<f64> {
    let u: Vec<f64> = (1..=n).map(|i| i as f64).collect();
    let uu: f64 = u.iter().map(|x| x * x).sum();
    let mut q = identity(n);
    for i in 0..n {
        for j in 0..n {
            q[i * n + j] -= 2.0 * u[i] * u[j] / uu;
        }
    }
    q
}

impl Objective for Quadratic {
    fn name(&self) -> String {
        if self.rotated { "rotated_quadratic".into() } else { "quadratic".into() }
    }
    fn dim(&self) -> usize {
        self.center.len()
    }
    fn value(&self, x: &[f64]) -> f64 {
        let n = self.dim();
        let d: Vec<f64> = x.iter().zip(&self.center).map(|(a, b)| a - b).collect();
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                s += d[i] * self.a[i * n + j] * d[j];
            }
        }
        0.5 * s
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let n = self.dim();
        for (i, gi) in g.iter_mut().enumerate().take(n) {
            *gi = (0..n).map(|j| self.a[i * n + j] * (x[j] - self.center[j])).sum();
        }
    }
    fn hessian(&self, _x: &[f64], h: &mut [f64]) {
        h.copy_from_slice(&self.a);
    }
    fn minimizer(&self) -> Option<Vec<f64>> {
        Some(self.center.clone())
    }
    fn start(&self) -> Vec<f64> {
        // Away from x* along every eigenvector (for the rotated form too).
        (0..self.dim()).map(|i| self.center[i] - 2.0 + 0.5 * (i as f64 * 1.3).sin()).collect()
    }
    fn window(&self) -> ((f64, f64), (f64, f64)) {
        ((-1.5, 2.5), (-1.5, 2.5))
    }
}

/// The named 2-D test functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// ½ (x − x*)ᵀ diag(1, 10) (x − x*), x* = (1, 1): an axis-aligned quadratic, κ = 10.
    Quadratic,
    /// The same eigenvalues in a rotated basis ([`Quadratic::conditioned`]`(2, 10, true)`).
    RotatedQuadratic,
    /// x² + 10y²: a ravine, condition number 10.
    Ravine,
    /// x² + 3y²: a milder ravine, condition number 3.
    Ravine3,
    /// (1 − x)² + 100 (y − x²)²: the banana valley.
    Rosenbrock,
    /// sin x · cos y + 0.1 (x² + y²): many local minima.
    Multimodal,
    /// x² − y²: a saddle at the origin.
    Saddle,
    /// (x² + y − 11)² + (x + y² − 7)²: four global minima.
    Himmelblau,
}

impl Surface {
    /// Every surface.
    pub const ALL: [Surface; 8] = [
        Surface::Quadratic,
        Surface::RotatedQuadratic,
        Surface::Ravine,
        Surface::Ravine3,
        Surface::Rosenbrock,
        Surface::Multimodal,
        Surface::Saddle,
        Surface::Himmelblau,
    ];

    /// The surface called `name`.
    pub fn by_name(name: &str) -> Option<Surface> {
        Surface::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The quadratic behind the two quadratic surfaces (κ = 10, rotated for the second).
    fn quadratic(self) -> Quadratic {
        Quadratic::conditioned(2, 10.0, self == Surface::RotatedQuadratic)
    }
}

impl Objective for Surface {
    fn name(&self) -> String {
        match self {
            Surface::Quadratic => "quadratic",
            Surface::RotatedQuadratic => "rotated_quadratic",
            Surface::Ravine => "ravine",
            Surface::Ravine3 => "ravine3",
            Surface::Rosenbrock => "rosenbrock",
            Surface::Multimodal => "multimodal",
            Surface::Saddle => "saddle",
            Surface::Himmelblau => "himmelblau",
        }
        .into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, p: &[f64]) -> f64 {
        let (x, y) = (p[0], p[1]);
        match self {
            Surface::Quadratic | Surface::RotatedQuadratic => self.quadratic().value(p),
            Surface::Ravine => x * x + 10.0 * y * y,
            Surface::Ravine3 => x * x + 3.0 * y * y,
            Surface::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            Surface::Multimodal => x.sin() * y.cos() + 0.1 * (x * x + y * y),
            Surface::Saddle => x * x - y * y,
            Surface::Himmelblau => (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2),
        }
    }
    fn gradient(&self, p: &[f64], g: &mut [f64]) {
        let (x, y) = (p[0], p[1]);
        let (gx, gy) = match self {
            Surface::Quadratic | Surface::RotatedQuadratic => return self.quadratic().gradient(p, g),
            Surface::Ravine => (2.0 * x, 20.0 * y),
            Surface::Ravine3 => (2.0 * x, 6.0 * y),
            Surface::Rosenbrock => (-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)),
            Surface::Multimodal => (x.cos() * y.cos() + 0.2 * x, -x.sin() * y.sin() + 0.2 * y),
            Surface::Saddle => (2.0 * x, -2.0 * y),
            Surface::Himmelblau => {
                let (a, b) = (x * x + y - 11.0, x + y * y - 7.0);
                (4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b)
            }
        };
        g[0] = gx;
        g[1] = gy;
    }
    fn hessian(&self, p: &[f64], h: &mut [f64]) {
        let (x, y) = (p[0], p[1]);
        let (xx, xy, yy) = match self {
            Surface::Quadratic | Surface::RotatedQuadratic => return self.quadratic().hessian(p, h),
            Surface::Ravine => (2.0, 0.0, 20.0),
            Surface::Ravine3 => (2.0, 0.0, 6.0),
            Surface::Rosenbrock => (2.0 - 400.0 * (y - x * x) + 800.0 * x * x, -400.0 * x, 200.0),
            Surface::Multimodal => {
                let c = -x.sin() * y.cos() + 0.2;
                (c, -x.cos() * y.sin(), c)
            }
            Surface::Saddle => (2.0, 0.0, -2.0),
            Surface::Himmelblau => {
                (12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y), 4.0 * x + 12.0 * y * y - 26.0)
            }
        };
        h.copy_from_slice(&[xx, xy, xy, yy]);
    }
    fn minimizer(&self) -> Option<Vec<f64>> {
        match self {
            Surface::Quadratic | Surface::RotatedQuadratic => Some(vec![1.0, 1.0]),
            Surface::Ravine | Surface::Ravine3 => Some(vec![0.0, 0.0]),
            Surface::Rosenbrock => Some(vec![1.0, 1.0]),
            Surface::Multimodal | Surface::Saddle | Surface::Himmelblau => None,
        }
    }
    fn min_value(&self) -> Option<f64> {
        match self {
            Surface::Himmelblau => Some(0.0),
            _ => self.minimizer().map(|m| self.value(&m)),
        }
    }
    fn start(&self) -> Vec<f64> {
        match self {
            Surface::Quadratic | Surface::RotatedQuadratic => vec![-1.0, 2.5],
            Surface::Ravine | Surface::Ravine3 => vec![-4.0, 1.5],
            Surface::Rosenbrock => vec![-1.5, 2.0],
            Surface::Multimodal => vec![4.0, -4.0],
            Surface::Saddle => vec![-2.0, 1e-3],
            Surface::Himmelblau => vec![0.0, 0.0],
        }
    }
    fn window(&self) -> ((f64, f64), (f64, f64)) {
        match self {
            Surface::Quadratic | Surface::RotatedQuadratic => ((-1.5, 3.0), (-0.5, 3.0)),
            Surface::Ravine | Surface::Ravine3 => ((-4.5, 4.5), (-2.0, 2.0)),
            Surface::Rosenbrock => ((-2.0, 2.0), (-1.0, 3.0)),
            Surface::Multimodal => ((-5.0, 5.0), (-5.0, 5.0)),
            Surface::Saddle => ((-2.5, 2.5), (-2.5, 2.5)),
            Surface::Himmelblau => ((-5.0, 5.0), (-5.0, 5.0)),
        }
    }
    fn log_levels(&self) -> bool {
        matches!(self, Surface::Rosenbrock | Surface::Himmelblau)
    }
}

/// The 1-D functions of the demonstrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// x²: L = 2, so gradient descent diverges for lr > 1.
    Square,
    /// x⁴ − 4x² + x: two minima and a maximum, where Newton's method can be led astray.
    Quartic,
}

impl Objective for Line {
    fn name(&self) -> String {
        match self {
            Line::Square => "square".into(),
            Line::Quartic => "quartic".into(),
        }
    }
    fn dim(&self) -> usize {
        1
    }
    fn value(&self, x: &[f64]) -> f64 {
        let x = x[0];
        match self {
            Line::Square => x * x,
            Line::Quartic => x.powi(4) - 4.0 * x * x + x,
        }
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let x = x[0];
        g[0] = match self {
            Line::Square => 2.0 * x,
            Line::Quartic => 4.0 * x.powi(3) - 8.0 * x + 1.0,
        };
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let x = x[0];
        h[0] = match self {
            Line::Square => 2.0,
            Line::Quartic => 12.0 * x * x - 8.0,
        };
    }
    fn minimizer(&self) -> Option<Vec<f64>> {
        match self {
            Line::Square => Some(vec![0.0]),
            // The global minimum, the most negative root of 4x³ − 8x + 1 (by Newton from −1.5).
            Line::Quartic => {
                let mut x: f64 = -1.5;
                for _ in 0..50 {
                    x -= (4.0 * x.powi(3) - 8.0 * x + 1.0) / (12.0 * x * x - 8.0);
                }
                Some(vec![x])
            }
        }
    }
    fn start(&self) -> Vec<f64> {
        match self {
            Line::Square => vec![1.0],
            Line::Quartic => vec![2.0],
        }
    }
    fn window(&self) -> ((f64, f64), (f64, f64)) {
        ((-2.5, 2.5), (-6.0, 12.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd_check(f: &dyn Objective, x: &[f64]) {
        let n = f.dim();
        let h = 1e-5;
        let mut g = vec![0.0; n];
        f.gradient(x, &mut g);
        let mut hess = vec![0.0; n * n];
        f.hessian(x, &mut hess);
        for i in 0..n {
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            xp[i] += h;
            xm[i] -= h;
            let fd = (f.value(&xp) - f.value(&xm)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() <= 1e-5 * (1.0 + g[i].abs()),
                "{} ∂{i} at {x:?}: {fd} vs {}",
                f.name(),
                g[i]
            );
            let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
            f.gradient(&xp, &mut gp);
            f.gradient(&xm, &mut gm);
            for j in 0..n {
                let fd = (gp[j] - gm[j]) / (2.0 * h);
                let an = hess[j * n + i];
                assert!(
                    (fd - an).abs() <= 1e-5 * (1.0 + an.abs()),
                    "{} ∂²{j}{i} at {x:?}: {fd} vs {an}",
                    f.name()
                );
            }
        }
    }

    #[test]
    fn gradients_and_hessians_match_finite_differences() {
        let points = [[0.3, -0.7], [-1.2, 1.9], [2.2, 0.4], [-0.5, -2.5]];
        for s in Surface::ALL {
            for p in points {
                fd_check(&s, &p);
            }
        }
        for l in [Line::Square, Line::Quartic] {
            for x in [-1.7, 0.2, 1.3] {
                fd_check(&l, &[x]);
            }
        }
        for rotated in [false, true] {
            let q = Quadratic::conditioned(5, 50.0, rotated);
            fd_check(&q, &[0.1, -0.4, 2.0, 0.7, -1.1]);
        }
    }

    #[test]
    fn quadratics_have_the_chosen_condition_number_and_a_symmetric_matrix() {
        for rotated in [false, true] {
            let q = Quadratic::conditioned(6, 1000.0, rotated);
            assert!((q.kappa() - 1000.0).abs() < 1e-9);
            for i in 0..6 {
                for j in 0..6 {
                    assert!((q.a[i * 6 + j] - q.a[j * 6 + i]).abs() < 1e-12);
                }
            }
            // Trace and Frobenius norm are rotation-invariant: they equal Σλ and √Σλ².
            let trace: f64 = (0..6).map(|i| q.a[i * 6 + i]).sum();
            assert!((trace - q.eigenvalues.iter().sum::<f64>()).abs() < 1e-9 * trace);
            let fro: f64 = q.a.iter().map(|x| x * x).sum();
            assert!((fro - q.eigenvalues.iter().map(|x| x * x).sum::<f64>()).abs() < 1e-9 * fro);
            assert_eq!(q.value(&q.center), 0.0);
        }
        // The rotated form really mixes coordinates.
        let r = Quadratic::conditioned(3, 10.0, true);
        assert!(r.a[1].abs() > 0.1);
    }

    #[test]
    fn known_minima_are_stationary() {
        let all: Vec<Box<dyn Objective>> = vec![
            Box::new(Surface::Ravine),
            Box::new(Surface::Ravine3),
            Box::new(Surface::Rosenbrock),
            Box::new(Line::Square),
            Box::new(Line::Quartic),
            Box::new(Quadratic::conditioned(4, 20.0, true)),
        ];
        for f in &all {
            let m = f.minimizer().unwrap();
            let mut g = vec![0.0; f.dim()];
            f.gradient(&m, &mut g);
            assert!(g.iter().all(|v| v.abs() < 1e-9), "{}: {g:?}", f.name());
        }
        // Himmelblau's four minima all have value 0; (3, 2) is one.
        assert_eq!(Surface::Himmelblau.value(&[3.0, 2.0]), 0.0);
        // The quartic's global minimum is near −1.473.
        assert!((Line::Quartic.minimizer().unwrap()[0] + 1.4730).abs() < 1e-3);
    }
}
