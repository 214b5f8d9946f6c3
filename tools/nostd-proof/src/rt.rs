//! The freestanding runtime shared by the no_std tool binaries: the entry point without libc's
//! start files, standard output and error, the exit code, RAM accounting, a fault handler, a panic
//! handler and the memory functions the compiler may call. The binary defines
//! `fn entry() -> i32` (its exit code).
//!
//! - x86-64 Linux: `_start`, and `exit`/`write` as raw system calls.
//! - Cortex-M (`thumbv7em-none-eabihf`, `thumbv8m.main-none-eabihf`, `thumbv6m-none-eabi`) and
//!   RISC-V (`riscv32imac-unknown-none-elf`), run under QEMU in CI: the reset handler enables the
//!   FPU (hard-float targets), paints the stack, initializes `.data` and `.bss` (layout in
//!   `boards/`), calls `entry`, reports the RAM used on standard error and exits with the code.
//!   Output and exit go through semihosting (`-semihosting-config enable=on,target=native`).
//!   Every exception and interrupt lands in one handler that reports which one and where, and
//!   exits with code 2.
//!
//! RAM reported: static (`.data` + `.bss`) and the peak stack, measured by painting the free RAM
//! with a pattern at reset and finding, at exit, the deepest word the stack overwrote.

use core::fmt;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor rbp, rbp",
    "and rsp, -16",
    "call {start}",
    start = sym start,
);

#[cfg(target_arch = "x86_64")]
extern "C" fn start() -> ! {
    exit(crate::entry())
}

/// Ends the process with `code`.
#[cfg(target_arch = "x86_64")]
pub fn exit(code: i32) -> ! {
    // SAFETY: the exit_group system call (231) takes one integer argument and does not return.
    unsafe { core::arch::asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn, nostack)) }
}

#[cfg(target_arch = "x86_64")]
fn write(fd: usize, bytes: &[u8]) -> fmt::Result {
    let mut rest = bytes;
    while !rest.is_empty() {
        let written: isize;
        // SAFETY: write(fd, ptr, len) reads `len` bytes at `ptr`, which `rest` owns; rcx and r11
        // are clobbered by the syscall instruction.
        unsafe {
            core::arch::asm!("syscall", inlateout("rax") 1isize => written, in("rdi") fd, in("rsi") rest.as_ptr(),
                in("rdx") rest.len(), lateout("rcx") _, lateout("r11") _, options(nostack))
        };
        let n = usize::try_from(written).map_err(|_| fmt::Error)?;
        rest = rest.get(n..).ok_or(fmt::Error)?;
    }
    Ok(())
}

/// Standard output, for `write!` (unused by the `one-step` build).
#[allow(dead_code)]
pub struct Stdout;
/// Standard error (the RAM report goes there, so that standard output is the same on every
/// target).
pub struct Stderr;

impl fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write(1, s.as_bytes())
    }
}

impl fmt::Write for Stderr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write(2, s.as_bytes())
    }
}

/// The word the free RAM is painted with at reset.
#[cfg(target_os = "none")]
const PAINT: u32 = 0x5AA5_C33C;

#[cfg(target_os = "none")]
unsafe extern "C" {
    static mut __sbss: u32;
    static mut __ebss: u32;
    static mut __sdata: u32;
    static mut __edata: u32;
    static __sidata: u32;
    static __ram_start: u32;
    static __stack_top: u32;
}

/// RAM in use, in bytes.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct Ram {
    /// `.data` + `.bss`.
    pub static_bytes: usize,
    /// The deepest the stack went (painted words overwritten, counted from the top of RAM).
    pub peak_stack: usize,
    /// The board's RAM.
    pub size: usize,
}

/// What the program has used so far.
#[cfg(target_os = "none")]
pub fn ram() -> Ram {
    let start = (&raw const __ram_start) as usize;
    let ebss = (&raw const __ebss) as usize;
    let top = (&raw const __stack_top) as usize;
    let mut p = ebss;
    // SAFETY: [__ebss, __stack_top) is RAM, word-aligned by the linker script; painted at reset.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    Ram { static_bytes: ebss - start, peak_stack: top - p, size: top - start }
}

/// Prints `n` in decimal without core::fmt (small code for the fault path).
#[cfg(target_os = "none")]
fn put_u32(out: &mut impl fmt::Write, label: &str, n: u32, hex: bool) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let (base, mut n) = (if hex { 16 } else { 10 }, n);
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n % base) as usize];
        n /= base;
        if n == 0 {
            break;
        }
    }
    let _ = out.write_str(label);
    let _ = out.write_str(if hex { "0x" } else { "" });
    let _ = out.write_str(core::str::from_utf8(&buf[i..]).unwrap_or("?"));
}

/// Reports the RAM used on standard error, `ram: static <bytes> stack <bytes> of <bytes>`, and
/// fails (code 4) if the stack reached the static data.
#[cfg(target_os = "none")]
fn report_ram(code: i32) -> i32 {
    let r = ram();
    let mut err = Stderr;
    put_u32(&mut err, "ram: static ", r.static_bytes as u32, false);
    put_u32(&mut err, " stack ", r.peak_stack as u32, false);
    put_u32(&mut err, " of ", r.size as u32, false);
    let _ = fmt::Write::write_str(&mut err, "\n");
    if r.static_bytes + r.peak_stack >= r.size {
        let _ = fmt::Write::write_str(&mut err, "stack overflow: the stack reached static RAM\n");
        return 4;
    }
    code
}

/// Zeroes `.bss`, copies `.data` from flash, runs the program, reports RAM and exits. Entered from
/// the reset code once the FPU is on and the free RAM painted.
#[cfg(target_os = "none")]
extern "C" fn start() -> ! {
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
    let code = crate::entry();
    exit(report_ram(code))
}

// The Cortex-M vector table: initial stack pointer, reset, and every exception and the first 64
// interrupts to `__fault`.
#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".section .vector_table, \"a\", %progbits",
    ".p2align 2",
    ".word __stack_top",
    ".word __reset",
    ".rept 13",
    ".word __fault",
    ".endr",
    ".word __systick",
    ".rept 64",
    ".word __fault",
    ".endr",
    // Reset: enable the FPU where there is one, paint [__ebss, sp) (thumb-1 code, for the M0 too),
    // then run `start`.
    ".section .text.start, \"ax\", %progbits",
    ".global __reset",
    ".type __reset, %function",
    ".thumb_func",
    "__reset:",
    "bl __fpu_on",
    "ldr r0, =__ebss",
    "mov r1, sp",
    "ldr r2, ={paint}",
    "1:",
    "cmp r0, r1",
    "bhs 2f",
    "str r2, [r0]",
    "adds r0, #4",
    "b 1b",
    "2:",
    "bl {start}",
    ".ltorg",
    // Any exception: r0 = its number (IPSR), r1 = the stacked frame (r0-r3, r12, lr, pc, xpsr).
    ".global __fault",
    ".type __fault, %function",
    ".thumb_func",
    "__fault:",
    "mrs r0, ipsr",
    "mrs r1, msp",
    "bl {fault}",
    paint = const PAINT,
    start = sym start,
    fault = sym fault,
);

// CPACR: full access to CP10 and CP11 (the FPU), before any floating-point instruction.
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
core::arch::global_asm!(
    ".section .text.start, \"ax\", %progbits",
    ".thumb_func",
    "__fpu_on:",
    "ldr r0, =0xE000ED88",
    "ldr r1, [r0]",
    "movs r2, #15",
    "lsls r2, r2, #20",
    "orrs r1, r2",
    "str r1, [r0]",
    "dsb",
    "isb",
    "bx lr",
    ".ltorg",
);

#[cfg(all(target_arch = "arm", not(target_abi = "eabihf")))]
core::arch::global_asm!(".section .text.start, \"ax\", %progbits", ".thumb_func", "__fpu_on:", "bx lr");

/// SysTick as a clock for measurements (ARM only): 24 bits counting down at the core's clock,
/// extended by counting wraps in its interrupt. Under QEMU with `-icount shift=0` every instruction
/// takes 1 ns of virtual time, so ticks are instructions times a constant ratio, which
/// [`clock::instructions_per_tick`] measures.
#[cfg(target_arch = "arm")]
#[allow(dead_code)]
pub mod clock {
    use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

    const CSR: *mut u32 = 0xE000_E010 as *mut u32;
    const RVR: *mut u32 = 0xE000_E014 as *mut u32;
    const CVR: *mut u32 = 0xE000_E018 as *mut u32;
    const MASK: u32 = 0x00FF_FFFF;

    static WRAPS: AtomicU32 = AtomicU32::new(0);

    /// The SysTick handler: one more wrap (load and store: ARMv6-M has no atomic add, and the
    /// handler does not interrupt itself).
    #[unsafe(no_mangle)]
    extern "C" fn __systick() {
        WRAPS.store(WRAPS.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// Starts the clock: processor clock, interrupt on wrap. Returns once the counter has
    /// loaded its first period.
    pub fn start() {
        // SAFETY: SysTick's registers (ARMv6-M and later); nothing else uses them.
        unsafe {
            core::ptr::write_volatile(RVR, MASK);
            core::ptr::write_volatile(CVR, 0);
            core::ptr::write_volatile(CSR, 0b111);
            while core::ptr::read_volatile(CVR) & MASK == 0 {}
        }
        WRAPS.store(0, Relaxed);
    }

    /// Ticks since [`start`].
    pub fn now() -> u64 {
        loop {
            let before = WRAPS.load(Relaxed);
            // SAFETY: reading SysTick's current value register.
            let count = unsafe { core::ptr::read_volatile(CVR) } & MASK;
            if WRAPS.load(Relaxed) == before {
                return (u64::from(before) << 24) + u64::from(MASK - count);
            }
        }
    }

    /// Ticks taken by `f`.
    pub fn ticks(f: impl FnOnce()) -> u64 {
        let t0 = now();
        f();
        now() - t0
    }

    /// `2·n` instructions: a loop of `subs` and `bne`.
    #[inline(never)]
    fn spin(n: u32) {
        // SAFETY: a register-only loop.
        unsafe {
            core::arch::asm!("1:", "subs {n}, #1", "bne 1b", n = inout(reg) n => _, options(nomem, nostack))
        };
    }

    /// Instructions per tick, from two loops of known length (their difference cancels the call
    /// and the reads of the clock).
    pub fn instructions_per_tick() -> f64 {
        let (short, long) = (ticks(|| spin(100_000)), ticks(|| spin(1_100_000)));
        2_000_000.0 / (long - short) as f64
    }
}

/// Reports an exception (number, stacked pc, and the fault status registers where the core has
/// them) on standard error and exits with code 2.
#[cfg(target_arch = "arm")]
extern "C" fn fault(exception: u32, frame: *const u32) -> ! {
    let mut err = Stderr;
    let name = match exception {
        2 => "NMI",
        3 => "HardFault",
        4 => "MemManage",
        5 => "BusFault",
        6 => "UsageFault",
        7 => "SecureFault",
        11 => "SVCall",
        14 => "PendSV",
        15 => "SysTick",
        _ => "interrupt",
    };
    let _ = fmt::Write::write_str(&mut err, "fault: ");
    let _ = fmt::Write::write_str(&mut err, name);
    put_u32(&mut err, " (exception ", exception, false);
    // SAFETY: on exception entry the core pushed 8 words at the stack pointer; the stacked pc is
    // the 7th.
    let pc = unsafe { core::ptr::read_volatile(frame.add(6)) };
    put_u32(&mut err, ") at pc ", pc, true);
    // ARMv7-M and ARMv8-M Mainline: the cores with compare-and-swap (ARMv6-M has neither).
    #[cfg(target_has_atomic = "32")]
    {
        // SAFETY: CFSR and HFSR are the System Control Block's fault status registers, which
        // ARMv6-M does not have (hence the cfg).
        let (cfsr, hfsr) = unsafe {
            (
                core::ptr::read_volatile(0xE000_ED28 as *const u32),
                core::ptr::read_volatile(0xE000_ED2C as *const u32),
            )
        };
        put_u32(&mut err, ", CFSR ", cfsr, true);
        put_u32(&mut err, ", HFSR ", hfsr, true);
    }
    let _ = fmt::Write::write_str(&mut err, "\n");
    exit(2)
}

// RISC-V: set the stack pointer and the trap vector, paint [__ebss, sp), run `start`. The trap
// handler reports mcause and mepc and exits with code 2.
#[cfg(target_arch = "riscv32")]
core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    ".option push",
    ".option norelax",
    "la sp, __stack_top",
    ".option pop",
    "la t0, {trap}",
    "csrw mtvec, t0",
    "la t0, __ebss",
    "li t1, {paint}",
    "1:",
    "bgeu t0, sp, 2f",
    "sw t1, 0(t0)",
    "addi t0, t0, 4",
    "j 1b",
    "2:",
    "call {start}",
    ".p2align 2",
    "__trap:",
    "csrr a0, mcause",
    "csrr a1, mepc",
    "call {fault}",
    trap = sym trap_vector,
    paint = const PAINT,
    start = sym start,
    fault = sym fault,
);

#[cfg(target_arch = "riscv32")]
unsafe extern "C" {
    #[link_name = "__trap"]
    fn trap_vector();
}

/// Reports a trap (mcause, mepc) on standard error and exits with code 2.
#[cfg(target_arch = "riscv32")]
extern "C" fn fault(mcause: u32, mepc: u32) -> ! {
    let mut err = Stderr;
    put_u32(&mut err, "fault: trap mcause ", mcause, true);
    put_u32(&mut err, " at pc ", mepc, true);
    let _ = fmt::Write::write_str(&mut err, "\n");
    exit(2)
}

/// Executes an undefined instruction (for checking the fault handler).
#[allow(dead_code)]
pub fn undefined_instruction() {
    // SAFETY: the instruction traps; the fault handler reports it and exits.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!("udf #0")
    };
    #[cfg(target_arch = "riscv32")]
    unsafe {
        core::arch::asm!("unimp")
    };
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::asm!("ud2")
    };
}

/// One semihosting call: operation `op` with argument `arg` (ARM: `bkpt 0xab`).
#[cfg(target_arch = "arm")]
fn semihost(op: usize, arg: *const usize) -> isize {
    let ret: isize;
    // SAFETY: the debugger (QEMU) reads the argument block and writes only r0.
    unsafe { core::arch::asm!("bkpt #0xab", inout("r0") op => ret, in("r1") arg, options(nostack)) };
    ret
}

/// One semihosting call (RISC-V: `ebreak` between the two marker instructions, uncompressed).
#[cfg(target_arch = "riscv32")]
fn semihost(op: usize, arg: *const usize) -> isize {
    let ret: isize;
    // SAFETY: the debugger (QEMU) reads the argument block and writes only a0.
    unsafe {
        core::arch::asm!(
            ".option push",
            ".option norvc",
            ".p2align 4",
            "slli zero, zero, 0x1f",
            "ebreak",
            "srai zero, zero, 7",
            ".option pop",
            inout("a0") op => ret,
            in("a1") arg,
            options(nostack),
        )
    };
    ret
}

/// Semihosting handles for standard output and error, opened on first use (0: not yet).
#[cfg(target_os = "none")]
static HANDLES: [core::sync::atomic::AtomicUsize; 2] =
    [core::sync::atomic::AtomicUsize::new(0), core::sync::atomic::AtomicUsize::new(0)];

#[cfg(target_os = "none")]
fn write(fd: usize, bytes: &[u8]) -> fmt::Result {
    use core::sync::atomic::Ordering::Relaxed;
    const SYS_OPEN: usize = 0x01;
    const SYS_WRITE: usize = 0x05;
    let slot = HANDLES.get(fd - 1).ok_or(fmt::Error)?;
    let mut handle = slot.load(Relaxed);
    if handle == 0 {
        // ":tt" opened for writing ("w", mode 4) is standard output, for appending ("a", 8) error.
        let args = [c":tt".as_ptr() as usize, if fd == 1 { 4 } else { 8 }, 3];
        handle = usize::try_from(semihost(SYS_OPEN, args.as_ptr())).map_err(|_| fmt::Error)? + 1;
        slot.store(handle, Relaxed);
    }
    let args = [handle - 1, bytes.as_ptr() as usize, bytes.len()];
    if semihost(SYS_WRITE, args.as_ptr()) == 0 { Ok(()) } else { Err(fmt::Error) }
}

/// Ends the run with `code`: semihosting's extended exit, which QEMU turns into its own exit
/// status.
#[cfg(target_os = "none")]
pub fn exit(code: i32) -> ! {
    const SYS_EXIT_EXTENDED: usize = 0x20;
    const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
    let args = [ADP_STOPPED_APPLICATION_EXIT, code as usize];
    semihost(SYS_EXIT_EXTENDED, args.as_ptr());
    // Without a debugger attached there is no one to exit to: stop here.
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = fmt::Write::write_str(&mut Stderr, "panic\n");
    exit(101)
}

/// The memory functions the compiler may call; without libc, provide them (byte loops are
/// enough here). On the bare-metal targets compiler-builtins provides them.
#[cfg(target_arch = "x86_64")]
mod mem {
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
}

/// The precompiled `core` refers to the unwinding personality routine even with panic = "abort";
/// nothing ever unwinds here, so an empty one satisfies the linker.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
