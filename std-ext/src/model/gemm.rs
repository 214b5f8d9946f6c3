//! Matrix products on `matrixmultiply`, chosen by measuring it against the `gemm` crate at the
//! products of one training step of 784-128-10 at batch 128 (f32), side by side in one process:
//! `cargo bench --bench gemm_choice --features bench-gemm` (set `MATMUL_NUM_THREADS=2` for two
//! threads). On this project's 2-core machine, best of runs: one thread, 520 µs per step against
//! gemm's 486 (gemm is faster at X·W₁, 108 vs 95 GFLOP/s, and at the small H·W₂; equal at the
//! rest); two threads, 487 µs against gemm's 550 (matrixmultiply's Xᵀ·δ₁ reaches 148 GFLOP/s).
//! Neither wins both; matrixmultiply stays: it is faster where threads are used, a small pure-Rust
//! dependency instead of gemm's ten crates, and gives the same bits at every thread count (the
//! same history at `--threads 1` and `2`).
//!
//! One safe wrapper: shapes are checked against slice lengths before the unsafe call.
#![allow(unsafe_code)]

/// A row-major matrix operand, optionally transposed: `rows × cols` as the product sees it.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// `data` holds a row-major `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, transposed: false }
    }
    /// `data` holds a row-major `cols × rows` matrix, used transposed as `rows × cols`.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, transposed: true }
    }
    fn strides(&self) -> (isize, isize) {
        if self.transposed { (1, self.rows as isize) } else { (self.cols as isize, 1) }
    }
}

/// C ← A·B + β·C, with C row-major `a.rows × b.cols`.
///
/// # Panics
/// If the shapes do not match each other or the slices (a bug in the caller, never bad input).
pub fn matmul(a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions differ");
    assert_eq!(a.data.len(), m * k, "A's data does not match its shape");
    assert_eq!(b.data.len(), k * n, "B's data does not match its shape");
    assert_eq!(c.len(), m * n, "C's data does not match its shape");
    if m == 0 || n == 0 {
        return;
    }
    let (rsa, csa) = a.strides();
    let (rsb, csb) = b.strides();
    // SAFETY: the asserts above guarantee that every index matrixmultiply computes from
    // (m, k, n) and these strides lies inside the three slices; C does not alias A or B
    // (it is a distinct &mut borrow).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            rsa,
            csa,
            b.data.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], at: bool, b: &[f32], bt: bool, m: usize, k: usize, n: usize) -> Vec<f32> {
        let ga = |i: usize, j: usize| if at { a[j * m + i] } else { a[i * k + j] };
        let gb = |i: usize, j: usize| if bt { b[j * k + i] } else { b[i * n + j] };
        (0..m * n).map(|ij| (0..k).map(|l| ga(ij / n, l) * gb(l, ij % n)).sum()).collect()
    }

    #[test]
    fn matmul_matches_the_definition_with_and_without_transposes() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
            let ma = if at { Mat::transposed(&a, m, k) } else { Mat::new(&a, m, k) };
            let mb = if bt { Mat::transposed(&b, k, n) } else { Mat::new(&b, k, n) };
            let mut c = vec![0.0; m * n];
            matmul(ma, mb, 0.0, &mut c);
            for (x, y) in c.iter().zip(naive(&a, at, &b, bt, m, k, n)) {
                assert!((x - y).abs() < 1e-5);
            }
        }
    }
}
