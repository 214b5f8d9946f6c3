/* The C API in use, as firmware would use it: no malloc, everything in static buffers.
 *
 * Adam over 8 parameters minimizing sum((x - target)^2), with a warmup-cosine schedule and
 * gradient clipping; a save half way and a restore into a second optimizer, which must continue
 * bit for bit; then the refusals: null pointers, wrong lengths, an optimizer never set up,
 * corrupt saved bytes; then LAMB and LARS (optax's, the parameters as one tensor), 5 steps each;
 * then every optimizer by name (lr 0.01, the parameters as one 2 x 4 tensor), 5 steps each, and
 * the by-name refusals in words.
 * Prints the parameters' bits and every status. The same file runs on
 * x86-64 (host.c; capi/tests/c_example.rs checks it prints what the Rust API computes) and on an
 * emulated Cortex-M4F (device.c; tools/c-example.sh checks it prints what x86-64 printed). */
#include "descent.h"

#define N 8
#define STEPS 12

void out(const char *s); /* host.c or device.c */

static void out_hex(uint32_t v) {
  char buf[10];
  const char *digits = "0123456789abcdef";
  for (int i = 0; i < 8; i++) buf[i] = digits[(v >> (28 - 4 * i)) & 15];
  buf[8] = ' ';
  buf[9] = 0;
  out(buf);
}

static void out_params(const char *label, const float *p) {
  out(label);
  for (int i = 0; i < N; i++) {
    union { float f; uint32_t u; } bits = { p[i] };
    out_hex(bits.u);
  }
  out("\n");
}

static void out_status(const char *what, DescentStatus s) {
  out(what);
  out(": ");
  out(descent_status_message((int32_t)s));
  out("\n");
}

static float state[3 * N], state2[3 * N], params[N], params2[N], grads[N], state3[2 * N], params3[N];
static float state_any[256];
static uint8_t saved[512];
static DescentConfig any;
static DescentOptimizer opt, opt2, never_set_up;
static DescentScheduler sched;

static void gradient(const float *x, float *g) {
  for (int i = 0; i < N; i++) g[i] = 2.0f * (x[i] - (float)(i - 3));
}

/* One step: gradient, clipping to norm 4, the optimizer, the schedule. */
static DescentStatus step(DescentOptimizer *o, float *x) {
  float norm;
  DescentStatus s;
  gradient(x, grads);
  if ((s = descent_clip_grad_norm(grads, N, 4.0, 2.0, false, &norm)) != DESCENT_STATUS_OK) return s;
  if ((s = descent_step(o, x, grads, N)) != DESCENT_STATUS_OK) return s;
  return descent_scheduler_step(&sched, o);
}

int example(void) {
  DescentAdamConfig cfg = descent_adam_defaults();
  size_t len = 0, written = 0;
  cfg.lr = 0.1;
  cfg.amsgrad = true;
  if (descent_adam_state_len(&cfg, N, &len) != DESCENT_STATUS_OK || len != 3 * N) return 1;
  if (descent_adam_init(&opt, &cfg, N, state, len) != DESCENT_STATUS_OK) return 1;
  if (descent_schedule_warmup_cosine(&sched, 0.1, 3, STEPS, 0.1, 0.001) != DESCENT_STATUS_OK) return 1;
  if (descent_scheduler_start(&sched, &opt) != DESCENT_STATUS_OK) return 1;
  for (int k = 0; k < STEPS / 2; k++)
    if (step(&opt, params) != DESCENT_STATUS_OK) return 1;
  out_params("after 6 steps  ", params);

  /* Save, restore into a second optimizer over its own state, continue both. */
  if (descent_save(&opt, saved, sizeof saved, &written) != DESCENT_STATUS_OK) return 1;
  if (descent_adam_init(&opt2, &cfg, N, state2, len) != DESCENT_STATUS_OK) return 1;
  if (descent_restore(&opt2, saved, written) != DESCENT_STATUS_OK) return 1;
  for (int i = 0; i < N; i++) params2[i] = params[i];
  DescentScheduler at_half = sched;
  for (int k = STEPS / 2; k < STEPS; k++)
    if (step(&opt, params) != DESCENT_STATUS_OK) return 1;
  sched = at_half;
  for (int k = STEPS / 2; k < STEPS; k++)
    if (step(&opt2, params2) != DESCENT_STATUS_OK) return 1;
  out_params("after 12 steps ", params);
  out_params("restored at 6  ", params2);
  for (int i = 0; i < N; i++)
    if (params[i] != params2[i]) return 1;

  /* Refusals. */
  out_status("null parameters", descent_step(&opt, NULL, grads, N));
  out_status("null optimizer", descent_step(NULL, params, grads, N));
  out_status("7 parameters for 8", descent_step(&opt, params, grads, N - 1));
  out_status("overlapping buffers", descent_step(&opt, params, params + 1, N));
  out_status("never set up", descent_step(&never_set_up, params, grads, N));
  cfg.beta1 = 1.5;
  out_status("beta1 = 1.5", descent_adam_init(&opt2, &cfg, N, state2, len));
  cfg.beta1 = 0.9;
  out_status("state buffer too small", descent_adam_init(&opt2, &cfg, N, state2, len - 1));
  saved[written / 2] ^= 1;
  out_status("one bit flipped in saved state", descent_restore(&opt2, saved, written));
  out_status("truncated saved state", descent_restore(&opt2, saved, written - 1));
  DescentAdagradConfig ada = descent_adagrad_defaults();
  ada.lr = -1.0;
  out_status("adagrad, lr = -1", descent_adagrad_init(&opt2, &ada, N, state2, len));
  ada.lr = 0.01;
  if (descent_adagrad_init(&opt2, &ada, N, state2, len) != DESCENT_STATUS_OK) return 1;
  out_status("momentum on adagrad", descent_set_momentum(&opt2, 0.9));

  /* LAMB and LARS from x = 0, 5 steps each, no clipping or schedule. */
  DescentLambConfig lamb = descent_lamb_defaults();
  lamb.lr = 0.1;
  lamb.weight_decay = 0.01;
  if (descent_lamb_state_len(&lamb, N, &len) != DESCENT_STATUS_OK || len != 2 * N) return 1;
  if (descent_lamb_init(&opt2, &lamb, N, state3, len) != DESCENT_STATUS_OK) return 1;
  for (int i = 0; i < N; i++) params3[i] = 0.5f;
  for (int k = 0; k < 5; k++) {
    gradient(params3, grads);
    if (descent_step(&opt2, params3, grads, N) != DESCENT_STATUS_OK) return 1;
  }
  out_params("lamb, 5 steps  ", params3);
  DescentLarsConfig lars = descent_lars_defaults();
  if (descent_lars_state_len(&lars, N, &len) != DESCENT_STATUS_OK || len != N) return 1;
  if (descent_lars_init(&opt2, &lars, N, state3, len) != DESCENT_STATUS_OK) return 1;
  for (int i = 0; i < N; i++) params3[i] = 0.5f;
  for (int k = 0; k < 5; k++) {
    gradient(params3, grads);
    if (descent_step(&opt2, params3, grads, N) != DESCENT_STATUS_OK) return 1;
  }
  out_params("lars, 5 steps  ", params3);
  lars.momentum = -1.0;
  out_status("lars, momentum = -1", descent_lars_init(&opt2, &lars, N, state3, len));

  /* Every optimizer by name: lr 0.01, one 2 x 4 tensor, 5 steps from x = 0.5. */
  const size_t shape[2] = {2, 4};
  const double lr = 0.01;
  for (size_t i = 0; i < descent_optimizer_count(); i++) {
    const char *name = descent_optimizer_name(i);
    if (descent_config_defaults(&any, name) != DESCENT_STATUS_OK) return 1;
    if (descent_config_set(&any, "lr", &lr, 1) != DESCENT_STATUS_OK) return 1;
    if (descent_config_state_len(&any, shape, 2, &len) != DESCENT_STATUS_OK || len > 256) return 1;
    if (descent_config_init(&opt2, &any, shape, 2, state_any, len) != DESCENT_STATUS_OK) return 1;
    for (int j = 0; j < N; j++) params3[j] = 0.5f;
    for (int k = 0; k < 5; k++) {
      gradient(params3, grads);
      if (descent_step(&opt2, params3, grads, N) != DESCENT_STATUS_OK) return 1;
    }
    out(name);
    out_params(": ", params3);
  }
  const double bad_betas[2] = {0.9, 1.5};
  out_status("adamm", descent_config_defaults(&any, "adamm"));
  out(descent_config_message(&any));
  out("\n");
  if (descent_config_defaults(&any, "yogi") != DESCENT_STATUS_OK) return 1;
  out_status("yogi, betas = (0.9, 1.5)", descent_config_set(&any, "betas", bad_betas, 2));
  out(descent_config_message(&any));
  out("\n");
  out_status("yogi, betas with 1 value", descent_config_set(&any, "betas", bad_betas, 1));
  out(descent_config_message(&any));
  out("\n");
  out_status("yogi, momentum", descent_config_set(&any, "momentum", &lr, 1));
  out(descent_config_message(&any));
  out("\n");
  return 0;
}
