//! One error type for the whole core. Every variant names what was wrong; an operation that
//! returns an error has modified nothing.

use core::fmt;

/// Everything that can go wrong in descent-core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Error {
    /// A hyperparameter outside its valid range, refused at construction or when changed.
    /// The message follows PyTorch's wording for the same hyperparameter (see its `Display` implementation).
    InvalidHyperparameter {
        /// The hyperparameter, spelled as PyTorch spells it (`lr`, `betas[0]`, `weight_decay`, …).
        name: &'static str,
        /// The refused value.
        value: f64,
    },
    /// A pair of hyperparameters outside its valid range (Rprop's `etas`: 0 < η− < 1 < η+).
    InvalidPair {
        /// The pair's name (`etas`).
        name: &'static str,
        /// The refused values.
        values: (f64, f64),
    },
    /// A combination of hyperparameters that PyTorch refuses, with its message.
    InvalidCombination {
        /// The message, e.g. "Nesterov momentum requires a momentum and zero dampening".
        message: &'static str,
    },
    /// Two slices that must have the same length do not.
    LengthMismatch {
        /// What was measured (`"grads"`, `"state"`, …).
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A gradient is NaN or infinite and the optimizer's policy is [`crate::NonFinitePolicy::Error`]
    /// (or clipping was asked to refuse non-finite norms).
    NonFinite {
        /// What held the value (`"grads"`, `"total norm"`).
        what: &'static str,
        /// Index of the first non-finite value.
        index: usize,
    },
    /// A caller-provided output buffer is too small.
    BufferTooSmall {
        /// What was being written.
        what: &'static str,
        /// Bytes (or elements) needed.
        needed: usize,
        /// Bytes (or elements) available.
        available: usize,
    },
    /// Saved state that cannot be restored: truncated, corrupt, or made by something else.
    CorruptState {
        /// What was found wrong.
        reason: &'static str,
    },
    /// A model blob ([`crate::nn::ModelBlob`]) that cannot be read: truncated, damaged, or not a
    /// model blob at all.
    CorruptModel {
        /// What was found wrong.
        reason: &'static str,
    },
    /// Saved state that is intact but does not fit this optimizer (another optimizer, dtype, size),
    /// or a model blob of a format version this build does not read (field `"model blob version"`).
    StateMismatch {
        /// Which field disagrees.
        field: &'static str,
        /// The value this optimizer has.
        expected: u64,
        /// The value in the bytes.
        found: u64,
    },
    /// A [`crate::layout::Layout`] that cannot be: the tensor (`usize::MAX` for a gap, which
    /// belongs to no tensor) and what is wrong with it.
    InvalidLayout {
        /// Index of the tensor.
        tensor: usize,
        /// The problem.
        problem: crate::layout::LayoutProblem,
    },
    /// Saved state was made for another layout: the first tensor that differs and how.
    LayoutMismatch {
        /// Index of the tensor.
        tensor: usize,
        /// What differs: `"offset"`, `"length"`, `"shape"` or `"group"`.
        field: &'static str,
    },
    /// A parameter group index past the optimizer's groups.
    NoSuchGroup {
        /// The index given.
        group: usize,
        /// How many groups there are.
        groups: usize,
    },
    /// A configuration that this tensor cannot take (Muon on a tensor that is not 2-D, …).
    TensorRefused {
        /// Index of the tensor in its layout.
        tensor: usize,
        /// Why.
        reason: &'static str,
    },
    /// An index past the end of what it indexes (a sparse gradient's row index past the table's
    /// last row).
    IndexOutOfRange {
        /// What held the index (`"indices"`).
        what: &'static str,
        /// Its position in `what`.
        position: usize,
        /// The index.
        index: usize,
        /// How many there are (rows of the table).
        len: usize,
    },
    /// The operation makes no sense for this object (e.g. setting momentum on Adagrad).
    Unsupported {
        /// What was asked.
        what: &'static str,
    },
}

/// The [`Error::StateMismatch`] field of a model blob whose format version this build does not read.
pub(crate) const MODEL_VERSION: &str = "model blob version";

/// Formats an `f64` the way Python's `repr(float)` does, so messages read like PyTorch's:
/// `1.0`, `-0.5`, `1e-05`, `1e+16`, `nan`, `inf`.
#[derive(Clone, Copy)]
pub struct PyFloat(pub f64);

impl fmt::Display for PyFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("nan");
        }
        if v.is_infinite() {
            return f.write_str(if v > 0.0 { "inf" } else { "-inf" });
        }
        let a = v.abs();
        if a != 0.0 && !(1e-4..1e16).contains(&a) {
            // Rust's `{:e}` is the shortest round-trip mantissa, as Python's repr; only the
            // exponent is spelled differently (Python: sign always, at least two digits).
            let mut buf = ExpBuf::default();
            // Writing into a fixed buffer cannot fail for an f64 (at most 24 bytes).
            if fmt::write(&mut buf, format_args!("{v:e}")).is_err() {
                return fmt::Debug::fmt(&v, f);
            }
            let s = buf.as_str();
            let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            if digits.len() < 2 {
                write!(f, "{mant}e{sign}0{digits}")
            } else {
                write!(f, "{mant}e{sign}{digits}")
            }
        } else {
            // Debug prints `1.0` for integral values, like Python, and never uses an exponent here.
            fmt::Debug::fmt(&v, f)
        }
    }
}

#[derive(Default)]
struct ExpBuf {
    buf: [u8; 32],
    len: usize,
}

impl ExpBuf {
    fn as_str(&self) -> &str {
        self.buf.get(..self.len).and_then(|b| core::str::from_utf8(b).ok()).unwrap_or("")
    }
}

impl fmt::Write for ExpBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl fmt::Display for Error {
    /// PyTorch's wording where PyTorch has a message for the same problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidHyperparameter { name, value } => {
                let v = PyFloat(value);
                match name {
                    "lr" => write!(f, "Invalid learning rate: {v}"),
                    "decay" => {
                        write!(f, "Invalid decay value {v} provided. Please provide a value in [0,1] range.")
                    }
                    // optax.lookahead's message.
                    "sync_period" => write!(f, "Synchronization period must be >= 1."),
                    "eps" => write!(f, "Invalid epsilon value: {v}"),
                    // The Sophia authors' message (github.com/Liuhong99/Sophia, `SophiaG`).
                    "sophia.rho" => write!(f, "Invalid rho parameter at index 1: {v}"),
                    "betas[0]" => write!(f, "Invalid beta parameter at index 0: {v}"),
                    "betas[1]" => write!(f, "Invalid beta parameter at index 1: {v}"),
                    // Adafactor's messages (torch/optim/_adafactor.py).
                    "adafactor.lr" | "muon.lr" => write!(f, "Learning rate should be >= 0 but is: {v}"),
                    "muon.momentum" => write!(f, "momentum should be >= 0 but is: {v}"),
                    "muon.weight_decay" => write!(f, "weight decay should be >= 0 but is: {v}"),
                    "beta2_decay" => write!(f, "beta2_decay should be <= 0 but is: {v}"),
                    "eps[0]" => write!(f, "epsilon1 should be >= 0 but is: {v}"),
                    "eps[1]" => write!(f, "epsilon2 should be >= 0 but is: {v}"),
                    "d" => write!(f, "Clipping threshold d should be >= 1 but is: {v}"),
                    "adafactor.weight_decay" => {
                        write!(f, "weight_decay should be >= 0 but is: {v}")
                    }
                    _ => write!(f, "Invalid {name} value: {v}"),
                }
            }
            Error::InvalidPair { name, values: (a, b) } => {
                let name = if name == "etas" { "eta" } else { name };
                write!(f, "Invalid {name} values: {}, {}", PyFloat(a), PyFloat(b))
            }
            Error::InvalidCombination { message } => f.write_str(message),
            Error::LengthMismatch { what, expected, found } => {
                write!(f, "{what} has length {found}, expected {expected}")
            }
            Error::NonFinite { what, index } => {
                write!(f, "non-finite value in {what} at index {index}")
            }
            Error::BufferTooSmall { what, needed, available } => {
                write!(f, "buffer for {what} too small: need {needed}, have {available}")
            }
            Error::CorruptState { reason } => write!(f, "corrupt optimizer state: {reason}"),
            Error::CorruptModel { reason } => write!(f, "corrupt model blob: {reason}"),
            Error::StateMismatch { field: MODEL_VERSION, expected, found } => {
                write!(f, "model blob format version {found}, this build reads version {expected}")
            }
            Error::StateMismatch { field, expected, found } => {
                write!(f, "saved state does not fit: {field} is {found}, this optimizer has {expected}")
            }
            Error::InvalidLayout { tensor, problem } => {
                use crate::layout::LayoutProblem as P;
                f.write_str("invalid layout: ")?;
                match problem {
                    P::ShapeLength { shape: usize::MAX, len } => {
                        write!(
                            f,
                            "tensor {tensor}'s shape has too many elements or dimensions (length {len})"
                        )
                    }
                    P::ShapeLength { shape, len } => {
                        write!(f, "tensor {tensor}'s shape has {shape} elements, its length is {len}")
                    }
                    P::Overlap { other } => write!(f, "tensor {tensor} overlaps tensor {other}"),
                    P::PastEnd { end: usize::MAX, len } => {
                        write!(f, "tensor {tensor} ends past the buffer's {len} elements")
                    }
                    P::PastEnd { end, len } => {
                        write!(f, "tensor {tensor} ends at {end}, past the buffer's {len} elements")
                    }
                    P::NoGroup { group, groups } => {
                        write!(f, "tensor {tensor} is in group {group}, but there are {groups} groups")
                    }
                    P::Gap { start, end } => write!(f, "elements {start}..{end} belong to no tensor"),
                    P::NoGroups => f.write_str("there must be at least one group"),
                }
            }
            Error::LayoutMismatch { tensor, field } => {
                write!(f, "saved state does not fit: tensor {tensor} has another {field} in this layout")
            }
            Error::NoSuchGroup { group, groups } => {
                write!(f, "no parameter group {group}: the optimizer has {groups}")
            }
            Error::TensorRefused { tensor, reason } => write!(f, "tensor {tensor}: {reason}"),
            Error::IndexOutOfRange { what, position, index, len } => write!(
                f,
                "{what}[{position}] is {index}: index {index} is out of bounds for dimension 0 with size {len}"
            ),
            Error::Unsupported { what } => write!(f, "unsupported: {what}"),
        }
    }
}

impl core::error::Error for Error {}

/// Checks `lo <= value` (NaN fails), returning PyTorch's error for `name` otherwise.
#[inline]
pub(crate) fn check_ge(name: &'static str, value: f64, lo: f64) -> Result<(), Error> {
    if value >= lo { Ok(()) } else { Err(Error::InvalidHyperparameter { name, value }) }
}

/// Checks `lo <= value < hi` (NaN fails).
#[inline]
pub(crate) fn check_range_open(name: &'static str, value: f64, lo: f64, hi: f64) -> Result<(), Error> {
    if value >= lo && value < hi { Ok(()) } else { Err(Error::InvalidHyperparameter { name, value }) }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn floats_print_like_python_repr() {
        for (v, s) in [
            (1.0, "1.0"),
            (-0.5, "-0.5"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.001, "-0.001"),
            (1.5e16, "1.5e+16"),
            (1e100, "1e+100"),
            (-0.0003105954327158978, "-0.0003105954327158978"),
            (0.0, "0.0"),
        ] {
            assert_eq!(format!("{}", PyFloat(v)), s);
        }
    }

    #[test]
    fn messages_follow_pytorch() {
        let e = Error::InvalidHyperparameter { name: "betas[0]", value: 1.5 };
        assert_eq!(format!("{e}"), "Invalid beta parameter at index 0: 1.5");
        let e = Error::InvalidHyperparameter { name: "momentum", value: -0.5 };
        assert_eq!(format!("{e}"), "Invalid momentum value: -0.5");
    }

    #[test]
    fn model_blob_errors_say_model_blob() {
        let e = Error::CorruptModel { reason: "checksum mismatch" };
        assert_eq!(format!("{e}"), "corrupt model blob: checksum mismatch");
        let e = Error::StateMismatch { field: MODEL_VERSION, expected: 1, found: 2 };
        assert_eq!(format!("{e}"), "model blob format version 2, this build reads version 1");
    }
}
