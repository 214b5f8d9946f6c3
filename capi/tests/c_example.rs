//! The C example (examples/example.c with examples/host.c), compiled with the system's C compiler
//! against this crate's static library, prints the bits the Rust API computes for the same run,
//! and the statuses the C API must give for null pointers, wrong lengths, an optimizer never set
//! up and corrupt saved bytes. (CI runs the same example on an emulated Cortex-M4F and compares
//! its output with this one's: tools/c-example.sh.)

use std::path::{Path, PathBuf};
use std::process::Command;

use descent_core::adam::{AdamAmsgrad, AdamConfig};
use descent_core::clip::{clip_grad_norm, NormType};
use descent_core::lamb::{LambConfig, LambView};
use descent_core::lars::{LarsConfig, LarsView};
use descent_core::schedule::{AnySchedule, Driver, WarmupCosine};
use descent_core::Optimizer;

const N: usize = 8;

/// The static library cargo built with this test: `cargo test` leaves it in target/<profile>/deps
/// as libdescent_capi-<hash>.a (the newest one is this build's); `cargo build` also copies it to
/// target/<profile>/libdescent_capi.a.
fn staticlib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let newest = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("libdescent_capi-") && name.ends_with(".a")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max();
    match newest {
        Some((_, path)) => path,
        None => deps.parent().unwrap().join("libdescent_capi.a"),
    }
}

/// Five steps of `opt` on Σ(x − target)² from x = 0.5, as the example's LAMB and LARS runs.
fn five_steps(opt: &mut impl Optimizer<f32>) -> [f32; N] {
    let mut x = [0.5f32; N];
    for _ in 0..5 {
        let g: [f32; N] = std::array::from_fn(|i| 2.0 * (x[i] - (i as f32 - 3.0)));
        opt.step(&mut x, &g).unwrap();
    }
    x
}

/// What the example computes, through the Rust API: Adam (AMSGrad, lr 0.1) on Σ(x − target)²,
/// gradients clipped to norm 4, warmup-cosine schedule, 12 steps; the parameters after 6 and 12;
/// then LAMB (lr 0.1, weight decay 0.01) and LARS (optax's defaults), 5 steps each; then every
/// rule by name and the by-name refusals in words.
fn expected() -> String {
    let cfg = AdamConfig { lr: 0.1, amsgrad: true, ..AdamConfig::default() };
    let mut opt = AdamAmsgrad::<f32, N>::new(cfg).unwrap();
    let mut driver =
        Driver::new(AnySchedule::WarmupCosine(WarmupCosine::new(0.1, 3, 12, 0.1, 0.001).unwrap()));
    driver.start(&mut opt).unwrap();
    let mut x = [0.0f32; N];
    let line = |label: &str, x: &[f32; N]| {
        let bits: String = x.iter().map(|v| format!("{:08x} ", v.to_bits())).collect();
        format!("{label}{bits}\n")
    };
    let mut out = String::new();
    for k in 0..12 {
        let mut g: [f32; N] = std::array::from_fn(|i| 2.0 * (x[i] - (i as f32 - 3.0)));
        clip_grad_norm(&mut [&mut g[..]], 4.0, NormType::L2, false).unwrap();
        opt.step(&mut x, &g).unwrap();
        driver.step(&mut opt).unwrap();
        if k == 5 {
            out += &line("after 6 steps  ", &x);
        }
    }
    out += &line("after 12 steps ", &x);
    out += &line("restored at 6  ", &x);
    let mut state = vec![0.0f32; 2 * N];
    let lamb = LambConfig { lr: 0.1, weight_decay: 0.01, ..LambConfig::default() };
    let lamb_x = five_steps(&mut LambView::with_buffer(lamb, N, &mut state).unwrap());
    let lars_x = five_steps(&mut LarsView::with_buffer(LarsConfig::default(), N, &mut state).unwrap());
    let tail = line("lamb, 5 steps  ", &lamb_x) + &line("lars, 5 steps  ", &lars_x);
    out + "null parameters: a pointer argument is null
null optimizer: a pointer argument is null
7 parameters for 8: a length does not match
overlapping buffers: the parameter and gradient buffers overlap
never set up: the optimizer or scheduler was never set up
beta1 = 1.5: a hyperparameter is out of range
state buffer too small: a buffer is too small
one bit flipped in saved state: saved bytes are truncated or corrupt
truncated saved state: saved bytes are truncated or corrupt
adagrad, lr = -1: a hyperparameter is out of range
momentum on adagrad: not supported by this optimizer
" + &tail
        + "lars, momentum = -1: a hyperparameter is out of range\n"
        + &by_name(&line)
        + "adamm: no optimizer or hyperparameter has this name
unknown optimizer 'adamm'
yogi, betas = (0.9, 1.5): a hyperparameter is out of range
Invalid beta parameter at index 1: 1.5
yogi, betas with 1 value: a length does not match
'betas' takes 2 value(s), 1 given
yogi, momentum: no optimizer or hyperparameter has this name
yogi has no hyperparameter 'momentum'
"
}

/// Every rule of the one list through the Rust API: its defaults with lr 0.01, one 2 × 4 tensor,
/// five steps from x = 0.5; one line per rule as the example prints it.
fn by_name(line: &dyn Fn(&str, &[f32; N]) -> String) -> String {
    use descent_core::layout::Shape;
    use descent_core::{Optim, UpdateRule};
    fn run<R: UpdateRule>(mut c: R) -> [f32; N] {
        let shape = Shape::new(&[2, 4]).unwrap();
        c.put_lr(0.01);
        let c = c.for_tensor(&shape);
        let mut buf = vec![0.0f32; c.buffer_len(N)];
        five_steps(&mut Optim::with_buffer(c, N, &mut buf).unwrap())
    }
    macro_rules! rows {
        ($($name:ident: $ty:ty = $ctor:ident, $($rest:literal),*;)*) => {{
            let mut out = String::new();
            $(out += &line(concat!(stringify!($name), ": "), &run(<$ty>::$ctor()));)*
            out
        }};
    }
    descent_core::for_each_rule!(rows)
}

#[test]
fn the_c_example_prints_the_bits_of_the_rust_api() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::temp_dir().join(format!("descent-c-example-{}", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .args(["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(dir.join("include"))
        .arg(dir.join("examples/example.c"))
        .arg(dir.join("examples/host.c"))
        .arg(staticlib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .status()
        .expect("a C compiler (cc)");
    assert!(built.success(), "{cc} failed");
    let run = Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_file(&exe);
    assert!(run.status.success(), "the C example exited with {}", run.status);
    assert_eq!(String::from_utf8(run.stdout).unwrap(), expected());
}
