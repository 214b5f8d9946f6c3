//! Status codes and their messages.

use core::ffi::c_char;

use descent_core::Error;

/// What a call did: `DESCENT_STATUS_OK`, or why it refused (and then changed nothing).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescentStatus {
    /// Done.
    Ok = 0,
    /// A pointer argument was null.
    NullPointer = 1,
    /// The optimizer or scheduler was never set up.
    NotInitialized = 2,
    /// A length does not match (parameters, gradients, a model's widths).
    LengthMismatch = 3,
    /// A buffer is too small (state, saved bytes).
    BufferTooSmall = 4,
    /// A hyperparameter is outside its range (PyTorch refuses it too).
    InvalidHyperparameter = 5,
    /// A combination of hyperparameters PyTorch refuses (e.g. Nesterov without momentum).
    InvalidCombination = 6,
    /// A gradient or norm is NaN or infinite and the call was asked to refuse that.
    NonFinite = 7,
    /// Saved bytes that are truncated or corrupt.
    CorruptState = 8,
    /// Saved bytes of another optimizer, float width or parameter count.
    StateMismatch = 9,
    /// Not possible for this optimizer (e.g. momentum on Adagrad).
    Unsupported = 10,
    /// A model blob that is damaged.
    CorruptModel = 11,
    /// The parameter and gradient buffers overlap.
    Overlap = 12,
    /// The step was skipped (a non-finite gradient under the skip policy).
    Skipped = 13,
    /// A parameter layout or group that does not fit (descent-core's parameter groups).
    InvalidLayout = 14,
    /// No optimizer, or no hyperparameter of the optimizer, has this name.
    UnknownName = 15,
}

impl From<Error> for DescentStatus {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidHyperparameter { .. } | Error::InvalidPair { .. } => {
                DescentStatus::InvalidHyperparameter
            }
            Error::InvalidCombination { .. } => DescentStatus::InvalidCombination,
            // A sparse gradient's index past the table: its lengths do not fit the table.
            Error::LengthMismatch { .. } | Error::IndexOutOfRange { .. } => DescentStatus::LengthMismatch,
            Error::NonFinite { .. } => DescentStatus::NonFinite,
            Error::BufferTooSmall { .. } => DescentStatus::BufferTooSmall,
            Error::CorruptState { .. } => DescentStatus::CorruptState,
            Error::CorruptModel { .. } => DescentStatus::CorruptModel,
            Error::StateMismatch { .. } => DescentStatus::StateMismatch,
            Error::Unsupported { .. } => DescentStatus::Unsupported,
            Error::InvalidLayout { .. }
            | Error::LayoutMismatch { .. }
            | Error::NoSuchGroup { .. }
            | Error::TensorRefused { .. } => DescentStatus::InvalidLayout,
        }
    }
}

/// What `status` (a `DescentStatus` value) means, as a static NUL-terminated string; an unknown
/// value gives "unknown status".
#[no_mangle]
pub extern "C" fn descent_status_message(status: i32) -> *const c_char {
    message(status).as_ptr().cast()
}

/// The words of [`descent_status_message`], NUL-terminated.
pub(crate) fn message(status: i32) -> &'static [u8] {
    match status {
        0 => b"ok\0",
        1 => b"a pointer argument is null\0",
        2 => b"the optimizer or scheduler was never set up\0",
        3 => b"a length does not match\0",
        4 => b"a buffer is too small\0",
        5 => b"a hyperparameter is out of range\0",
        6 => b"a combination of hyperparameters is refused\0",
        7 => b"a value is NaN or infinite\0",
        8 => b"saved bytes are truncated or corrupt\0",
        9 => b"saved bytes belong to another optimizer, float width or parameter count\0",
        10 => b"not supported by this optimizer\0",
        11 => b"the model blob is damaged\0",
        12 => b"the parameter and gradient buffers overlap\0",
        13 => b"the step was skipped\0",
        14 => b"the parameter layout does not fit\0",
        15 => b"no optimizer or hyperparameter has this name\0",
        _ => b"unknown status\0",
    }
}
