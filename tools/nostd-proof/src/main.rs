//! Freestanding: `#![no_std]`, `#![no_main]`, panic = "abort", entered at `_start` without libc's
//! start files. Runs Adam steps with owned and borrowed state and exits 0 if the results are the
//! ones the formula gives, 1 otherwise (x86-64 Linux; the exit is a raw syscall).
#![no_std]
#![no_main]

use descent_core::adam::{Adam, AdamConfig, AdamView};
use descent_core::Optimizer;

core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor rbp, rbp",
    "and rsp, -16",
    "call {main}",
    main = sym entry,
);

fn exit(code: i32) -> ! {
    // SAFETY: the exit_group system call (231) takes one integer argument and does not return.
    unsafe { core::arch::asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn, nostack)) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}

/// The memory functions the compiler may call; without libc, provide them (byte loops are
/// enough here).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees n valid bytes at both pointers, not overlapping.
        unsafe { *dst.add(i) = *src.add(i) };
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) < (src as usize) {
        for i in 0..n {
            // SAFETY: as memcpy, copying forwards is correct when dst precedes src.
            unsafe { *dst.add(i) = *src.add(i) };
        }
    } else {
        for i in (0..n).rev() {
            // SAFETY: copying backwards is correct when dst follows src.
            unsafe { *dst.add(i) = *src.add(i) };
        }
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees n writable bytes.
        unsafe { *dst.add(i) = c as u8 };
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller guarantees n readable bytes at both pointers.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

extern "C" fn entry() -> ! {
    // One Adam step from zero state moves each parameter by lr·sign(g) (m̂/√v̂ = g/|g|), and not at
    // all where g = 0.
    // black_box keeps the compiler from computing the steps at build time.
    let cfg = core::hint::black_box(AdamConfig { lr: 0.1, ..AdamConfig::default() });
    let g = core::hint::black_box([0.5f32, -0.25, 0.0, 4.0]);
    let expected = [0.9f32, -0.9, 0.5, 1.9];
    let mut p = core::hint::black_box([1.0f32, -1.0, 0.5, 2.0]);
    let ok_owned = match Adam::<f32, 4>::new(cfg) {
        Ok(mut opt) => opt.step(&mut p, &g).is_ok(),
        Err(_) => false,
    };
    let mut buf = [0.0f32; 8];
    let mut q = [1.0f32, -1.0, 0.5, 2.0];
    let ok_view = match AdamView::with_buffer(cfg, 4, &mut buf) {
        Ok(mut opt) => opt.step(&mut q, &g).is_ok(),
        Err(_) => false,
    };
    let close = |a: &[f32; 4]| a.iter().zip(&expected).all(|(x, e)| (x - e).abs() < 1e-6);
    exit(if ok_owned && ok_view && close(&p) && close(&q) && p == q { 0 } else { 1 })
}

/// The precompiled `core` refers to the unwinding personality routine even with panic = "abort";
/// nothing ever unwinds here, so an empty one satisfies the linker.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
