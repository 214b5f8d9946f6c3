//! `Dense<T, IN, OUT>`: y = W·x + b with W stored `[OUT][IN]` (PyTorch's `nn.Linear` layout).

use crate::real::Real;

/// A fully connected layer with compile-time sizes. Memory: (IN + 1)·OUT values.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<T, const IN: usize, const OUT: usize> {
    /// Weights, one row per output.
    pub w: [[T; IN]; OUT],
    /// Biases.
    pub b: [T; OUT],
}

/// Gradients of a [`Dense`] layer, same shapes; [`Dense::backward`] adds into it.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseGrad<T, const IN: usize, const OUT: usize> {
    /// ∂L/∂W.
    pub w: [[T; IN]; OUT],
    /// ∂L/∂b.
    pub b: [T; OUT],
}

impl<T: Real, const IN: usize, const OUT: usize> DenseGrad<T, IN, OUT> {
    /// Zero gradients.
    pub const fn zeros() -> Self
    where
        T: Copy,
    {
        // `T::ZERO` is an associated const, usable in a const fn.
        DenseGrad { w: [[T::ZERO; IN]; OUT], b: [T::ZERO; OUT] }
    }
    /// Sets every gradient to zero.
    pub fn clear(&mut self) {
        self.w.iter_mut().for_each(|r| r.fill(T::ZERO));
        self.b.fill(T::ZERO);
    }
    /// The weight gradients as one slice (row-major, matching [`Dense::params_mut`]).
    pub fn w_flat(&self) -> &[T] {
        self.w.as_flattened()
    }
    /// Multiplies every gradient by `s` (e.g. 1/batch).
    pub fn scale(&mut self, s: T) {
        self.w.as_flattened_mut().iter_mut().for_each(|g| *g = *g * s);
        self.b.iter_mut().for_each(|g| *g = *g * s);
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Dense<T, IN, OUT> {
    /// A layer with all weights and biases zero.
    pub const fn zeros() -> Self {
        Dense { w: [[T::ZERO; IN]; OUT], b: [T::ZERO; OUT] }
    }

    /// y = W·x + b.
    pub fn forward(&self, x: &[T; IN], y: &mut [T; OUT]) {
        for ((yo, row), &bo) in y.iter_mut().zip(&self.w).zip(&self.b) {
            *yo = row.iter().zip(x).fold(bo, |acc, (&w, &xi)| acc + w * xi);
        }
    }

    /// Adds ∂L/∂W = dy·xᵀ and ∂L/∂b = dy into `grad`; writes ∂L/∂x = Wᵀ·dy into `dx` if given.
    pub fn backward(
        &self,
        x: &[T; IN],
        dy: &[T; OUT],
        grad: &mut DenseGrad<T, IN, OUT>,
        dx: Option<&mut [T; IN]>,
    ) {
        for ((grow, gb), &d) in grad.w.iter_mut().zip(grad.b.iter_mut()).zip(dy) {
            *gb = *gb + d;
            for (g, &xi) in grow.iter_mut().zip(x) {
                *g = *g + d * xi;
            }
        }
        if let Some(dx) = dx {
            dx.fill(T::ZERO);
            for (row, &d) in self.w.iter().zip(dy) {
                for (o, &w) in dx.iter_mut().zip(row) {
                    *o = *o + w * d;
                }
            }
        }
    }

    /// The weights (row-major) and biases as slices, for an optimizer step.
    pub fn params_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.w.as_flattened_mut(), &mut self.b)
    }
}

/// ReLU in place: x ← max(0, x) (NaN stays NaN).
pub fn relu<T: Real>(x: &mut [T]) {
    x.iter_mut().for_each(|v| {
        if *v < T::ZERO {
            *v = T::ZERO;
        }
    });
}

/// Backward of ReLU given its output `y`: dx = dy where y > 0, else 0.
pub fn relu_backward<T: Real>(y: &[T], dy: &mut [T]) {
    for (d, &v) in dy.iter_mut().zip(y) {
        if !(v > T::ZERO) {
            *d = T::ZERO;
        }
    }
}
