//! Matrix products on `matrixmultiply`, chosen by measuring it against the `gemm` crate at the
//! products of one training step of 784-128-10 at batch 128 (f32), side by side in one process:
//! `cargo bench --bench gemm_choice --features bench-gemm` (`DESCENT_BENCH_THREADS=2` for two
//! threads). On this project's 2-core machine, best of runs: one thread, 520 µs per step against
//! gemm's 486 (gemm is faster at X·W₁, 108 vs 95 GFLOP/s, and at the small H·W₂; equal at the
//! rest); two threads, 487 µs against gemm's 550 (matrixmultiply's Xᵀ·δ₁ reaches 148 GFLOP/s).
//! Neither wins both; matrixmultiply stays: it is faster where threads are used, a small pure-Rust
//! dependency instead of gemm's ten crates, and gives the same bits at every thread count (the
//! same history at `--threads 1` and `2`).
//!
//! One safe wrapper: shapes are checked against slice lengths before the unsafe call. The thread
//! count is an argument ([`matmul_on`]), not global state: the rows of C are cut into one band
//! per thread (scoped threads), and each band is one single-threaded product. Every element of C
//! is computed by the same arithmetic whatever the band it falls in, so the result is the same
//! bits at every thread count (tested).
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

/// C ← A·B + β·C, with C row-major `a.rows × b.cols`, on one thread.
///
/// # Panics
/// If the shapes do not match each other or the slices (a bug in the caller, never bad input).
pub fn matmul(a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32]) {
    matmul_on(1, a, b, beta, c)
}

/// [`matmul`] on `threads` threads: the rows of C (and of A) in one band per thread.
///
/// # Panics
/// As [`matmul`].
pub fn matmul_on(threads: usize, a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions differ");
    assert_eq!(a.data.len(), m * k, "A's data does not match its shape");
    assert_eq!(b.data.len(), k * n, "B's data does not match its shape");
    assert_eq!(c.len(), m * n, "C's data does not match its shape");
    if m == 0 || n == 0 {
        return;
    }
    // Bands of whole rows; below a few rows per thread the threads cost more than they save.
    let bands = threads.clamp(1, m.div_ceil(8).max(1));
    let rows = m.div_ceil(bands);
    if bands == 1 {
        return band(a, 0, m, b, beta, c);
    }
    std::thread::scope(|s| {
        for (i, cb) in c.chunks_mut(rows * n).enumerate() {
            let r0 = i * rows;
            s.spawn(move || band(a, r0, cb.len() / n, b, beta, cb));
        }
    });
}

/// Rows `r0..r0 + rows` of C ← A·B + β·C, `c` holding just those rows.
fn band(a: Mat<'_>, r0: usize, rows: usize, b: Mat<'_>, beta: f32, c: &mut [f32]) {
    let (k, n) = (a.cols, b.cols);
    let (rsa, csa) = a.strides();
    let (rsb, csb) = b.strides();
    debug_assert!(c.len() == rows * n && r0 + rows <= a.rows);
    // SAFETY: matmul_on checked that A is `a.rows × k`, B `k × n` and C `a.rows × n` against
    // their slices; this band's rows r0..r0+rows of A start at r0·rsa, every index computed from
    // (rows, k, n) and the strides lies inside the slices, and `c` holds exactly those rows of C,
    // a distinct &mut borrow that aliases neither A nor B.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            k,
            n,
            1.0,
            a.data.as_ptr().offset(r0 as isize * rsa),
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
        let (m, k, n) = (37, 7, 3);
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
            // The same bits on 2 and 3 threads (bands of rows).
            for threads in [2, 3] {
                let mut d = vec![0.0; m * n];
                matmul_on(threads, ma, mb, 0.0, &mut d);
                assert_eq!(c, d);
            }
        }
    }
}
