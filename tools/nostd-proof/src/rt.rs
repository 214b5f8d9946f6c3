//! The freestanding runtime shared by the no_std tool binaries: the entry point without libc's
//! start files, `exit`, standard output, the memory functions the compiler may call, a panic
//! handler and the personality symbol. The binary defines `entry`.
//!
//! - x86-64 Linux (run by CI): `_start`, and `exit`/`write` as raw system calls.
//! - Cortex-M (`thumbv7em-none-eabihf`, built for its code size): a vector table whose reset
//!   handler initializes `.data` and `.bss` (layout in `cortex-m.ld`) and calls `entry`; with no
//!   host to report to, output is discarded and `exit` parks the core (`wfi`).

use core::fmt;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor rbp, rbp",
    "and rsp, -16",
    "call {main}",
    main = sym crate::entry,
);

/// Ends the process with `code`.
#[cfg(target_arch = "x86_64")]
pub fn exit(code: i32) -> ! {
    // SAFETY: the exit_group system call (231) takes one integer argument and does not return.
    unsafe { core::arch::asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn, nostack)) }
}

/// Standard output through the write system call (1), for `write!` (the proof binary prints
/// nothing, so its code size stays that of the Adam step).
#[allow(dead_code)]
pub struct Stdout;

#[cfg(target_arch = "x86_64")]
impl fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            let written: isize;
            // SAFETY: write(1, ptr, len) reads `len` bytes at `ptr`, which `rest` owns; rcx and
            // r11 are clobbered by the syscall instruction.
            unsafe {
                core::arch::asm!("syscall", inlateout("rax") 1isize => written, in("rdi") 1, in("rsi") rest.as_ptr(),
                    in("rdx") rest.len(), lateout("rcx") _, lateout("r11") _, options(nostack))
            };
            let n = usize::try_from(written).map_err(|_| fmt::Error)?;
            rest = rest.get(n..).ok_or(fmt::Error)?;
        }
        Ok(())
    }
}

#[cfg(target_arch = "arm")]
mod cortex_m {
    unsafe extern "C" {
        static mut __sbss: u32;
        static mut __ebss: u32;
        static mut __sdata: u32;
        static mut __edata: u32;
        static __sidata: u32;
    }

    /// The reset vector (the initial stack pointer is the word before it, from the linker script).
    #[unsafe(link_section = ".vector_table.reset")]
    #[unsafe(no_mangle)]
    pub static RESET_VECTOR: unsafe extern "C" fn() -> ! = reset;

    /// Zeroes `.bss`, copies `.data` from flash, then runs the program.
    unsafe extern "C" fn reset() -> ! {
        // SAFETY: the linker script defines these symbols word-aligned, with start <= end, and
        // nothing has read or written `.bss` or `.data` yet.
        unsafe {
            let mut p = &raw mut __sbss;
            while p < &raw mut __ebss {
                core::ptr::write_volatile(p, 0);
                p = p.add(1);
            }
            let (mut d, mut s) = (&raw mut __sdata, &raw const __sidata);
            while d < &raw mut __edata {
                core::ptr::write_volatile(d, core::ptr::read(s));
                d = d.add(1);
                s = s.add(1);
            }
        }
        crate::entry()
    }
}

/// Parks the core: there is no process to end. The code stays observable (a debugger reads it
/// in r0), so the work that computed it is not optimized away.
#[cfg(target_arch = "arm")]
pub fn exit(code: i32) -> ! {
    core::hint::black_box(code);
    loop {
        // SAFETY: wait-for-interrupt has no memory effects.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) }
    }
}

#[cfg(target_arch = "arm")]
impl fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // No host to print to: keep the bytes observable so formatting is not optimized away.
        core::hint::black_box(s);
        Ok(())
    }
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

/// The precompiled `core` refers to the unwinding personality routine even with panic = "abort";
/// nothing ever unwinds here, so an empty one satisfies the linker.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
