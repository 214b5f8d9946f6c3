//! What the throughput benches share: the best-of timing loop and the memory the streams live in.

#![allow(dead_code)]

use criterion::black_box;
use std::time::{Duration, Instant};

/// Best time of several runs of `f` after one warm-up run: at least 5 runs, then more until the
/// time budget, at most 10,000.
pub fn best_of<T>(mut f: impl FnMut() -> T, budget: Duration) -> Duration {
    black_box(f());
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 5 || (start.elapsed() < budget && runs < 10_000) {
        let t = Instant::now();
        black_box(f());
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}

/// Whether the benches ask for 2 MiB pages: yes unless `DESCENT_BENCH_PAGES=small`.
pub fn want_huge_pages() -> bool {
    std::env::var("DESCENT_BENCH_PAGES").map_or(true, |v| v != "small")
}

/// `len` zeros, in memory the kernel is asked to back with 2 MiB pages (Linux transparent huge
/// pages, `madvise(MADV_HUGEPAGE)`) unless `DESCENT_BENCH_PAGES=small`.
///
/// Why: on 4 KiB pages a stream's physical pages land wherever the kernel finds them, and at 16.7 M
/// values the time of the same streaming loop then changes from one allocation to the next by up
/// to ±15 % (Adam and its roof alike, measured on the 2-core development machine: 0.61–0.84 ns per
/// element), which swamps the differences the benches are after. On 2 MiB pages that spread falls
/// to a few per cent and every streaming loop runs faster. Elsewhere (no THP, other systems) this
/// is a plain zeroed vector; [`huge_pages_kib`] tells which one a run got.
pub fn zeroed(len: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    if want_huge_pages() {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let (lo, hi) = ((start + HUGE - 1) & !(HUGE - 1), (start + len * size_of::<f32>()) & !(HUGE - 1));
        if hi > lo {
            // SAFETY: [lo, hi) lies inside the vector's allocation (page-aligned, whole 2 MiB
            // pages); MADV_HUGEPAGE only advises the kernel, it never changes the memory's contents.
            #[allow(unsafe_code)]
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    v.resize(len, 0.0);
    v
}

/// KiB of this process's memory on transparent huge pages (Linux), `None` where unknown.
pub fn huge_pages_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = text.lines().find(|l| l.starts_with("AnonHugePages:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One line saying which pages the streams got.
pub fn pages_note() -> String {
    match (want_huge_pages(), huge_pages_kib()) {
        (true, Some(k)) if k > 0 => format!("streams on 2 MiB pages ({} MiB of huge pages in use)", k / 1024),
        (true, _) => "streams on 4 KiB pages (2 MiB pages asked for, none granted)".to_string(),
        (false, _) => "streams on 4 KiB pages (DESCENT_BENCH_PAGES=small)".to_string(),
    }
}
