//! Every optimizer of descent-core by name, generated from its one list of rules
//! (`descent_core::for_each_rule!`): a [`DescentConfig`] holds any rule's configuration, set
//! keyword by keyword with the names of `descent replay` (PyTorch's, optax's for the optax rules),
//! checked as PyTorch checks them, with the reason in words when refused.
//!
//! ```c
//! DescentConfig cfg;
//! descent_config_defaults(&cfg, "yogi");
//! double lr = 1e-2, betas[2] = {0.9, 0.99};
//! descent_config_set(&cfg, "lr", &lr, 1);
//! if (descent_config_set(&cfg, "betas", betas, 2) != DESCENT_STATUS_OK)
//!     puts(descent_config_message(&cfg));        // e.g. "Invalid beta parameter at index 1: 1.5"
//! size_t shape[1] = {330}, len;
//! descent_config_state_len(&cfg, shape, 1, &len);
//! descent_config_init(&opt, &cfg, shape, 1, state, len);
//! ```

use core::ffi::c_char;
use core::fmt::Write;

use descent_core::layout::Shape;
use descent_core::optim::fields::{Field, Fields};
use descent_core::{Error, NonFinitePolicy, Optim, Optimizer, UpdateRule};

use crate::{put, slice, slice_mut, DescentOptimizer, DescentStatus, Status, MAGIC};

/// Bytes of a [`DescentConfig`]'s message, its terminating NUL included.
pub const DESCENT_MESSAGE_LEN: usize = 128;
/// Words of a [`DescentConfig`]'s storage (checked at compile time to hold any configuration).
pub const DESCENT_CONFIG_WORDS: usize = 24;

/// Implements the by-name types from the rows of `for_each_rule!`.
macro_rules! by_name {
    ($($name:ident: $ty:ty = $ctor:ident, $($rest:literal),*;)*) => {
        /// Any optimizer of descent-core over a caller's `float` state buffer.
        #[allow(non_camel_case_types)]
        pub(crate) enum Any {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name(Optim<$ty, f32, &'static mut [f32]>),
            )*
        }

        impl Any {
            pub(crate) fn get(&mut self) -> &mut dyn Optimizer<f32> {
                match self {
                    $(Any::$name(o) => o,)*
                }
            }
        }

        /// Any rule's configuration.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Debug)]
        enum AnyConfig {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name($ty),
            )*
        }

        impl AnyConfig {
            /// The defaults of the rule called `name`.
            fn defaults(name: &[u8]) -> Option<Self> {
                $(if name == stringify!($name).as_bytes() {
                    return Some(AnyConfig::$name(<$ty>::$ctor()));
                })*
                None
            }
            fn name(&self) -> &'static str {
                match self {
                    $(AnyConfig::$name(_) => stringify!($name),)*
                }
            }
            /// Sets keyword `key` to `values`, then checks the whole configuration.
            fn set(&mut self, key: &str, values: &[f64], choice: Option<&str>) -> Result<(), Refusal> {
                let name = self.name();
                match self {
                    $(AnyConfig::$name(c) => {
                        let mut next = c.clone();
                        set_field(&mut next, name, key, values, choice)?;
                        next.validate().map_err(Refusal::Core)?;
                        *c = next;
                        Ok(())
                    })*
                }
            }
            /// The values a flat optimizer over a tensor of `shape` needs (state, then scratch).
            fn buffer_len(&self, shape: &Shape) -> Result<usize, Refusal> {
                match self {
                    $(AnyConfig::$name(c) => {
                        let c = for_tensor(c, shape)?;
                        Ok(c.buffer_len(numel(shape)?))
                    })*
                }
            }
            /// The optimizer over a tensor of `shape` with its state in `buffer`.
            fn build(&self, shape: &Shape, buffer: &'static mut [f32]) -> Result<Any, Refusal> {
                let n = numel(shape)?;
                let policy = NonFinitePolicy::Propagate;
                match self {
                    $(AnyConfig::$name(c) => {
                        let c = for_tensor(c, shape)?;
                        Ok(Any::$name(
                            Optim::with_buffer_and_policy(c, n, buffer, policy).map_err(Refusal::Core)?,
                        ))
                    })*
                }
            }
        }

        /// The rules' names, in the order of the one list, NUL-terminated.
        static NAMES: &[&[u8]] = &[$(concat!(stringify!($name), "\0").as_bytes(),)*];
    };
}
descent_core::for_each_rule!(by_name);

const _: () = {
    assert!(core::mem::size_of::<AnyConfig>() <= 8 * DESCENT_CONFIG_WORDS);
    assert!(core::mem::align_of::<AnyConfig>() <= 8);
};

/// Why a by-name call refused: a status and the words for it.
enum Refusal {
    /// descent-core refused (its message says why).
    Core(Error),
    /// No rule has this name.
    UnknownOptimizer,
    /// The rule has no keyword argument of this name.
    UnknownKeyword { optimizer: &'static str },
    /// The keyword takes another number of values.
    Count { takes: usize, given: usize },
    /// A flag given something other than 0 or 1, a count something other than a whole number.
    NotA(&'static str),
    /// A choice keyword set with numbers, or a numeric one set by name, or an unknown name.
    Choice { names: &'static [&'static str] },
    /// A shape of rank 0, or one whose size overflows.
    Shape,
    /// A pointer or string that C got wrong.
    Status(Status),
}

impl Refusal {
    fn status(&self) -> Status {
        match self {
            Refusal::Core(e) => Status::from(*e),
            Refusal::UnknownOptimizer | Refusal::UnknownKeyword { .. } => Status::UnknownName,
            Refusal::Count { .. } | Refusal::Shape => Status::LengthMismatch,
            Refusal::NotA(_) | Refusal::Choice { .. } => Status::InvalidHyperparameter,
            Refusal::Status(s) => *s,
        }
    }

    /// The words, given the key and name the call was about.
    fn write(&self, out: &mut Message<'_>, name: &str, key: &str) -> core::fmt::Result {
        match self {
            Refusal::Core(e) => write!(out, "{e}"),
            Refusal::UnknownOptimizer => write!(out, "unknown optimizer '{name}'"),
            Refusal::UnknownKeyword { optimizer } => {
                write!(out, "{optimizer} has no hyperparameter '{key}'")
            }
            Refusal::Count { takes, given } => {
                write!(out, "'{key}' takes {takes} value(s), {given} given")
            }
            Refusal::NotA(what) => write!(out, "'{key}' must be {what}"),
            Refusal::Shape => out.write_str("a shape needs rank 1 to 8 and a size that fits in size_t"),
            Refusal::Choice { names } => {
                write!(out, "'{key}' is one of")?;
                for n in *names {
                    write!(out, " '{n}'")?;
                }
                Ok(())
            }
            Refusal::Status(s) => {
                let text = crate::status::message(*s as i32);
                out.write_str(core::str::from_utf8(text).unwrap_or("").trim_end_matches('\0'))
            }
        }
    }
}

impl From<Status> for Refusal {
    fn from(s: Status) -> Self {
        Refusal::Status(s)
    }
}

/// `c` for a tensor of `shape`, refused where the rule cannot take it (Muon: only matrices).
fn for_tensor<R: UpdateRule>(c: &R, shape: &Shape) -> Result<R, Refusal> {
    let c = c.for_tensor(shape);
    c.check_tensor(shape).map_err(|reason| Refusal::Core(Error::Unsupported { what: reason }))?;
    c.check_len(numel(shape)?).map_err(Refusal::Core)?;
    Ok(c)
}

/// The number of parameters of a tensor of `shape` (rank 0 and overflowing products refused).
fn numel(shape: &Shape) -> Result<usize, Refusal> {
    shape.numel().ok_or(Refusal::Shape)
}

/// Sets keyword `key` of `c` to `values` (numbers) or `choice` (a name).
fn set_field<C: Fields>(
    c: &mut C,
    optimizer: &'static str,
    key: &str,
    values: &[f64],
    choice: Option<&str>,
) -> Result<(), Refusal> {
    let count = |takes: usize| {
        if choice.is_some() {
            return Err(Refusal::NotA("set with numbers (descent_config_set)"));
        }
        if values.len() == takes {
            Ok(())
        } else {
            Err(Refusal::Count { takes, given: values.len() })
        }
    };
    let mut found = false;
    c.fields(&mut |name, field| -> Result<(), Refusal> {
        if name != key {
            return Ok(());
        }
        found = true;
        let v = |i: usize| values.get(i).copied().unwrap_or(f64::NAN);
        match field {
            Field::Real(x) => {
                count(1)?;
                *x = v(0);
            }
            Field::Flag(b) => {
                count(1)?;
                *b = match v(0) {
                    0.0 => false,
                    1.0 => true,
                    _ => return Err(Refusal::NotA("0 or 1")),
                };
            }
            Field::Pair(p) => {
                count(2)?;
                *p = (v(0), v(1));
            }
            Field::OptionalFirst(p) => {
                count(2)?;
                *p = (Some(v(0)).filter(|x| !x.is_nan()), v(1));
            }
            Field::OptionalReal(x) => {
                count(1)?;
                *x = Some(v(0)).filter(|x| !x.is_nan());
            }
            Field::OptionalCount(n) => {
                count(1)?;
                let x = v(0);
                if x.is_nan() {
                    *n = None;
                } else if !(0.0..=f64::from(u32::MAX)).contains(&x) || f64::from(x as u32) != x {
                    return Err(Refusal::NotA("a whole number or NaN (None)"));
                } else {
                    *n = Some(x as u32);
                }
            }
            Field::Triple(t) => {
                count(3)?;
                *t = (v(0), v(1), v(2));
            }
            Field::Count(n) => {
                count(1)?;
                let x = v(0);
                // In range, the cast truncates; a whole number survives it unchanged.
                if !(0.0..=f64::from(u32::MAX)).contains(&x) || f64::from(x as u32) != x {
                    return Err(Refusal::NotA("a whole number"));
                }
                *n = x as u32;
            }
            Field::Choice(ch) => {
                let names = ch.names();
                let Some(want) = choice else { return Err(Refusal::Choice { names }) };
                let i = names.iter().position(|n| *n == want).ok_or(Refusal::Choice { names })?;
                ch.set_index(i);
            }
        }
        Ok(())
    })?;
    if found {
        Ok(())
    } else {
        Err(Refusal::UnknownKeyword { optimizer })
    }
}

/// A rule's configuration by name, placed by the caller and set up by `descent_config_defaults`;
/// its last refusal in words in `descent_config_message`. Opaque.
#[repr(C)]
pub struct DescentConfig {
    magic: u64,
    storage: [u64; DESCENT_CONFIG_WORDS],
    message: [u8; DESCENT_MESSAGE_LEN],
}

/// Writes into a message buffer, cutting what does not fit and keeping a NUL at the end.
struct Message<'a> {
    buf: &'a mut [u8; DESCENT_MESSAGE_LEN],
    at: usize,
}

impl Write for Message<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.at + 1 >= DESCENT_MESSAGE_LEN {
                break;
            }
            if let Some(slot) = self.buf.get_mut(self.at) {
                *slot = b;
                self.at += 1;
            }
        }
        Ok(())
    }
}

impl DescentConfig {
    /// The configuration inside, if set up.
    fn config(&mut self) -> Result<&mut AnyConfig, Status> {
        if self.magic != MAGIC {
            return Err(Status::NotInitialized);
        }
        // SAFETY: `magic` is MAGIC only after `descent_config_defaults` wrote an `AnyConfig`
        // there; the storage is 8-aligned and large enough (const asserts).
        Ok(unsafe { &mut *self.storage.as_mut_ptr().cast::<AnyConfig>() })
    }

    /// Records `r` as the last refusal (about rule `name`, keyword `key`) and returns its status.
    fn refuse(&mut self, r: &Refusal, name: &str, key: &str) -> Status {
        self.message = [0; DESCENT_MESSAGE_LEN];
        let mut m = Message { buf: &mut self.message, at: 0 };
        let _ = r.write(&mut m, name, key);
        r.status()
    }

    /// The status of a call's result, its refusal recorded (about rule `name`, keyword `key`)
    /// or the message cleared.
    fn answer(&mut self, r: Result<(), Refusal>, name: &str, key: &str) -> Status {
        match r {
            Ok(()) => {
                self.message = [0; DESCENT_MESSAGE_LEN];
                Status::Ok
            }
            Err(r) => self.refuse(&r, name, key),
        }
    }
}

/// A NUL-terminated C string at `p` as UTF-8 (null, unterminated within 64 bytes or not UTF-8
/// refused).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
unsafe fn text<'a>(p: *const c_char) -> Result<&'a str, Status> {
    if p.is_null() {
        return Err(Status::NullPointer);
    }
    let mut n = 0;
    // SAFETY: the caller's contract: readable up to its NUL; we stop at 64 bytes.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
        if n > 64 {
            return Err(Status::UnknownName);
        }
    }
    // SAFETY: the `n` bytes before the NUL were just read.
    let bytes = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), n) };
    core::str::from_utf8(bytes).map_err(|_| Status::UnknownName)
}

/// The shape `dims` (`rank` sizes), refused above descent-core's rank limit.
///
/// # Safety
/// `dims` null or valid for `rank` values.
unsafe fn shape(dims: *const usize, rank: usize) -> Result<Shape, Refusal> {
    // SAFETY: the caller's contract.
    let dims = unsafe { slice(dims, rank)? };
    Shape::new(dims).map_err(Refusal::Core)
}

/// Sets `cfg` up as the defaults of the optimizer called `name` (`"adam"`, `"yogi"`, … as
/// `descent_optimizer_name` lists them): PyTorch's defaults, optax's for the optax rules.
/// `DESCENT_STATUS_UNKNOWN_NAME` for a name no rule has.
///
/// # Safety
/// `cfg` null or valid; `name` null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn descent_config_defaults(
    cfg: *mut DescentConfig,
    name: *const c_char,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let Some(cfg) = (unsafe { cfg.as_mut() }) else { return Status::NullPointer };
    // SAFETY: the caller's contract.
    let name = match unsafe { text(name) } {
        Ok(n) => n,
        Err(s) => return cfg.refuse(&Refusal::Status(s), "", ""),
    };
    let Some(config) = AnyConfig::defaults(name.as_bytes()) else {
        return cfg.refuse(&Refusal::UnknownOptimizer, name, "");
    };
    // SAFETY: the storage is large and aligned enough for `AnyConfig` (const asserts); the old
    // contents, if any, are plain data (no destructor to run).
    unsafe { core::ptr::write(cfg.storage.as_mut_ptr().cast::<AnyConfig>(), config) };
    cfg.magic = MAGIC;
    cfg.answer(Ok(()), name, "")
}

/// Sets keyword `key` to `values` (`count` numbers: 1 for a number, a flag (0 or 1) or a count
/// (NaN meaning None where the keyword may be None, as Prodigy's `beta3`), 2 for `betas`-like
/// pairs and for Adafactor's `eps` (NaN as the first meaning None), 3 for
/// Muon's `ns_coefficients`), then checks the whole configuration as PyTorch does. On a refusal
/// nothing changes and `descent_config_message` says why.
///
/// # Safety
/// `cfg` null or valid; `key` null or a NUL-terminated string; `values` null or valid for
/// `count` values.
#[no_mangle]
pub unsafe extern "C" fn descent_config_set(
    cfg: *mut DescentConfig,
    key: *const c_char,
    values: *const f64,
    count: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set(cfg, key, |_| slice(values, count), None) }
}

/// Sets keyword `key`, one of a few names (Muon's `adjust_lr_fn`: `"original"`,
/// `"match_rms_adamw"`), to `choice`; as `descent_config_set` otherwise.
///
/// # Safety
/// `cfg` null or valid; `key` and `choice` null or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn descent_config_set_choice(
    cfg: *mut DescentConfig,
    key: *const c_char,
    choice: *const c_char,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set(cfg, key, |_| Ok(&[]), Some(choice)) }
}

/// The shared body of the two setters.
///
/// # Safety
/// As theirs.
unsafe fn set<'v>(
    cfg: *mut DescentConfig,
    key: *const c_char,
    values: impl FnOnce(()) -> Result<&'v [f64], Status>,
    choice: Option<*const c_char>,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let Some(cfg) = (unsafe { cfg.as_mut() }) else { return Status::NullPointer };
    let (key, values, choice) = match (|| {
        // SAFETY: the caller's contract.
        let key = unsafe { text(key)? };
        let values = values(())?;
        // SAFETY: the caller's contract.
        let choice = choice.map(|c| unsafe { text(c) }).transpose()?;
        Ok::<_, Status>((key, values, choice))
    })() {
        Ok(x) => x,
        Err(s) => return cfg.refuse(&Refusal::Status(s), "", ""),
    };
    let (result, name) = match cfg.config() {
        Ok(c) => (c.set(key, values, choice), c.name()),
        Err(s) => return s,
    };
    cfg.answer(result, name, key)
}

/// Why the last call on `cfg` refused, in words (PyTorch's message for a hyperparameter out of
/// range); empty after a success. A static "a pointer argument is null" for a null `cfg`.
///
/// # Safety
/// `cfg` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_config_message(cfg: *const DescentConfig) -> *const c_char {
    // SAFETY: the caller's contract.
    match unsafe { cfg.as_ref() } {
        Some(c) => c.message.as_ptr().cast(),
        None => crate::status::message(Status::NullPointer as i32).as_ptr().cast(),
    }
}

/// Floats the state buffer of an optimizer with configuration `cfg` over a tensor of shape
/// `dims` (`rank` sizes; the parameters are their product) needs, into `*out` (state, then any
/// scratch such as Muon's). Rules defined per tensor use the shape (Adafactor and SM3 factor a
/// matrix, Muon needs one); the others only its size.
///
/// # Safety
/// `cfg` null or valid; `dims` null or valid for `rank` values; `out` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_config_state_len(
    cfg: *mut DescentConfig,
    dims: *const usize,
    rank: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let Some(cfg) = (unsafe { cfg.as_mut() }) else { return Status::NullPointer };
    let r = (|| {
        let c = cfg.config()?;
        // SAFETY: the caller's contract.
        let len = c.buffer_len(&unsafe { shape(dims, rank)? })?;
        // SAFETY: the caller's contract.
        unsafe { put(out, len) }?;
        Ok::<_, Refusal>(())
    })();
    cfg.answer(r, "", "")
}

/// Sets up `opt` as the optimizer `cfg` configures, over a tensor of shape `dims` (`rank`
/// sizes), its state in `state` (`state_len` floats, at least what `descent_config_state_len`
/// gives; initialized here), which must outlive `opt`. Then `descent_step` and the rest work on
/// it as on the typed optimizers.
///
/// # Safety
/// Pointers null or valid; `dims` valid for `rank` values; `state` valid for `state_len` floats
/// while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_config_init(
    opt: *mut DescentOptimizer,
    cfg: *mut DescentConfig,
    dims: *const usize,
    rank: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let Some(cfg) = (unsafe { cfg.as_mut() }) else { return Status::NullPointer };
    let r = (|| {
        // SAFETY: the caller's contract.
        let opt = unsafe { opt.as_mut() }.ok_or(Status::NullPointer)?;
        // SAFETY: the caller's contract.
        let shape = unsafe { shape(dims, rank)? };
        let c = cfg.config()?;
        // SAFETY: the caller's contract: valid for `state_len` floats, outliving `opt`.
        let buffer = unsafe { slice_mut(state, state_len)? };
        let built = c.build(&shape, buffer)?;
        // SAFETY: the storage is large and aligned enough for `Any` (const asserts in lib.rs).
        unsafe { core::ptr::write(opt.storage.as_mut_ptr().cast::<Any>(), built) };
        opt.magic = MAGIC;
        Ok::<_, Refusal>(())
    })();
    cfg.answer(r, "", "")
}

/// The number of optimizers `descent_config_defaults` knows.
#[no_mangle]
pub extern "C" fn descent_optimizer_count() -> usize {
    NAMES.len()
}

/// The name of optimizer `i` (0 ≤ i < `descent_optimizer_count()`), NUL-terminated and static;
/// null for `i` out of range.
#[no_mangle]
pub extern "C" fn descent_optimizer_name(i: usize) -> *const c_char {
    NAMES.get(i).map_or(core::ptr::null(), |n| n.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cstr(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    fn message(cfg: &DescentConfig) -> String {
        // SAFETY: a valid config.
        let p = unsafe { descent_config_message(cfg) };
        // SAFETY: NUL-terminated by construction.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap().to_owned()
    }

    fn blank() -> DescentConfig {
        DescentConfig { magic: 0, storage: [0; DESCENT_CONFIG_WORDS], message: [0; DESCENT_MESSAGE_LEN] }
    }

    #[test]
    fn every_rule_of_the_list_is_reachable_by_name() {
        assert_eq!(descent_optimizer_count(), descent_core::OPTIMIZERS.len());
        for (i, info) in descent_core::OPTIMIZERS.iter().enumerate() {
            // SAFETY: in range.
            let name = unsafe { std::ffi::CStr::from_ptr(descent_optimizer_name(i)) };
            assert_eq!(name.to_str().unwrap(), info.name);
            let mut cfg = blank();
            // SAFETY: valid pointers.
            assert_eq!(
                unsafe { descent_config_defaults(&mut cfg, name.as_ptr()) },
                Status::Ok,
                "{}",
                info.name
            );
        }
        assert!(descent_optimizer_name(descent_optimizer_count()).is_null());
    }

    #[test]
    fn refusals_name_what_was_wrong_and_change_nothing() {
        let mut cfg = blank();
        let v = [0.9, 1.5];
        // SAFETY: valid pointers throughout.
        unsafe {
            assert_eq!(
                descent_config_set(&mut cfg, cstr("lr").as_ptr(), v.as_ptr(), 1),
                Status::NotInitialized
            );
            assert_eq!(descent_config_defaults(&mut cfg, cstr("adamm").as_ptr()), Status::UnknownName);
            assert_eq!(message(&cfg), "unknown optimizer 'adamm'");
            assert_eq!(descent_config_defaults(&mut cfg, cstr("yogi").as_ptr()), Status::Ok);
            assert_eq!(message(&cfg), "");
            let s = descent_config_set(&mut cfg, cstr("betas").as_ptr(), v.as_ptr(), 2);
            assert_eq!(s, Status::InvalidHyperparameter);
            assert!(message(&cfg).contains("1.5"), "{}", message(&cfg));
            let s = descent_config_set(&mut cfg, cstr("betas").as_ptr(), v.as_ptr(), 1);
            assert_eq!(s, Status::LengthMismatch);
            assert_eq!(message(&cfg), "'betas' takes 2 value(s), 1 given");
            let s = descent_config_set(&mut cfg, cstr("momentum").as_ptr(), v.as_ptr(), 1);
            assert_eq!(s, Status::UnknownName);
            assert_eq!(message(&cfg), "yogi has no hyperparameter 'momentum'");
            // The refused betas left the defaults: (0.9, 0.999).
            let AnyConfig::yogi(c) = cfg.config().unwrap().clone() else { panic!("not yogi") };
            assert_eq!(c.betas, (0.9, 0.999));
            let ok = [0.8, 0.99];
            assert_eq!(descent_config_set(&mut cfg, cstr("betas").as_ptr(), ok.as_ptr(), 2), Status::Ok);
            let AnyConfig::yogi(c) = cfg.config().unwrap().clone() else { panic!("not yogi") };
            assert_eq!(c.betas, (0.8, 0.99));
            // Flags take 0 or 1 only; choices take names.
            assert_eq!(descent_config_defaults(&mut cfg, cstr("adam").as_ptr()), Status::Ok);
            let half = [0.5];
            let s = descent_config_set(&mut cfg, cstr("amsgrad").as_ptr(), half.as_ptr(), 1);
            assert_eq!(
                (s, message(&cfg).as_str()),
                (Status::InvalidHyperparameter, "'amsgrad' must be 0 or 1")
            );
            assert_eq!(descent_config_defaults(&mut cfg, cstr("muon").as_ptr()), Status::Ok);
            let s = descent_config_set_choice(&mut cfg, cstr("adjust_lr_fn").as_ptr(), cstr("nope").as_ptr());
            assert_eq!(s, Status::InvalidHyperparameter);
            assert!(message(&cfg).starts_with("'adjust_lr_fn' is one of"), "{}", message(&cfg));
            let s = descent_config_set_choice(
                &mut cfg,
                cstr("adjust_lr_fn").as_ptr(),
                cstr("match_rms_adamw").as_ptr(),
            );
            assert_eq!(s, Status::Ok);
            assert!(descent_config_set(&mut cfg, std::ptr::null(), v.as_ptr(), 1) == Status::NullPointer);
        }
    }

    #[test]
    fn by_name_steps_as_the_rule_itself() {
        use descent_core::yogi::YogiConfig;
        let mut cfg = blank();
        let lr = [0.05];
        let n = 37usize;
        // SAFETY: valid pointers; the state outlives the optimizer (leaked for 'static).
        unsafe {
            assert_eq!(descent_config_defaults(&mut cfg, cstr("yogi").as_ptr()), Status::Ok);
            assert_eq!(descent_config_set(&mut cfg, cstr("lr").as_ptr(), lr.as_ptr(), 1), Status::Ok);
            let mut len = 0usize;
            assert_eq!(descent_config_state_len(&mut cfg, &n, 1, &mut len), Status::Ok);
            assert_eq!(len, 2 * n);
            let state: &'static mut [f32] = Box::leak(vec![0.0f32; len].into_boxed_slice());
            let mut opt = core::mem::MaybeUninit::<DescentOptimizer>::zeroed().assume_init();
            let short = len - 1;
            let s = descent_config_init(&mut opt, &mut cfg, &n, 1, state.as_mut_ptr(), short);
            assert_eq!(s, Status::BufferTooSmall);
            assert!(message(&cfg).contains("optimizer state"), "{}", message(&cfg));
            assert_eq!(descent_config_init(&mut opt, &mut cfg, &n, 1, state.as_mut_ptr(), len), Status::Ok);
            let mut buf = vec![0.0f32; 2 * n];
            let mut reference = descent_core::Optim::with_buffer(
                YogiConfig { lr: 0.05, ..YogiConfig::default() },
                n,
                &mut buf,
            )
            .unwrap();
            let mut p: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut q = p.clone();
            for k in 0..5 {
                let g: Vec<f32> = (0..n).map(|i| ((i * 7 + k) as f32 * 0.11).cos()).collect();
                assert_eq!(crate::descent_step(&mut opt, p.as_mut_ptr(), g.as_ptr(), n), Status::Ok);
                reference.step(&mut q, &g).unwrap();
            }
            assert!(p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}
