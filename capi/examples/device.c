/* The C example as Cortex-M firmware with no C library: vector table, reset handler (FPU on,
 * .data and .bss initialized), output and exit through semihosting. Linked with
 * tools/nostd-proof/boards/<board>.ld (the layout the Rust binaries use). */
#include <stdint.h>

int example(void);

extern uint32_t __stack_top, __sdata, __edata, __sidata, __sbss, __ebss;

static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt #0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void out(const char *s) {
  static int handle = -1;
  if (handle < 0) {
    const uintptr_t open[3] = {(uintptr_t)":tt", 4, 3}; /* standard output */
    handle = semihost(0x01, open);
  }
  uintptr_t n = 0;
  while (s[n]) n++;
  const uintptr_t write[3] = {(uintptr_t)handle, (uintptr_t)s, n};
  semihost(0x05, write);
}

static void __attribute__((noreturn)) exit_with(int code) {
  const uintptr_t args[2] = {0x20026, (uintptr_t)code}; /* ADP_Stopped_ApplicationExit */
  semihost(0x20, args);                                /* SYS_EXIT_EXTENDED */
  for (;;) {}
}

static void fault(void) {
  out("fault\n");
  exit_with(2);
}

void __reset(void) {
  *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20; /* CPACR: CP10 and CP11 (the FPU) */
  __asm__ volatile("dsb\n isb");
  for (uint32_t *d = &__sdata, *s = &__sidata; d < &__edata;) *d++ = *s++;
  for (uint32_t *b = &__sbss; b < &__ebss;) *b++ = 0;
  exit_with(example());
}

__attribute__((section(".vector_table"), used)) static const void *const vectors[16] = {
    &__stack_top, __reset, fault, fault, fault, fault, fault, 0, 0, 0, 0, fault, fault, 0, fault, fault,
};
