//! Checks of command-line values before any work: counts in range, numbers finite (the command line
//! has no use for NaN or ±∞, which PyTorch's checks let through), hyperparameter refusals
//! attributed to the flag that carried them, and output paths that neither collide with each
//! other nor with an input.

use super::Failure;
use crate::registry::BuildError;
use descent_core::error::PyFloat;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Most threads for the matrix products (`--threads`).
pub const MAX_THREADS: usize = 1024;
/// Most epochs of any run.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Most steps of the analyses that record every step.
pub const MAX_STEPS: usize = 10_000_000;

/// `v` if `lo ≤ v ≤ hi`, else "`flag` must be at least `lo`" (or at most `hi`), naming the value.
pub fn count(flag: &str, v: usize, lo: usize, hi: usize) -> Result<usize, Failure> {
    if v < lo {
        Err(Failure(format!("{flag} must be at least {lo}, got {v}")))
    } else if v > hi {
        Err(Failure(format!("{flag} must be at most {hi}, got {v}")))
    } else {
        Ok(v)
    }
}

/// `v` if it is finite and `ok(v)`, else "`flag` must be `want`, got `v`".
pub fn number(flag: &str, v: f64, want: &str, ok: impl Fn(f64) -> bool) -> Result<f64, Failure> {
    if v.is_finite() && ok(v) {
        Ok(v)
    } else {
        Err(Failure(format!("{flag} must be {want}, got {}", PyFloat(v))))
    }
}

/// Every number of a list flag, as [`number`].
pub fn numbers(flag: &str, vs: &[f64], want: &str, ok: impl Fn(f64) -> bool) -> Result<(), Failure> {
    if vs.is_empty() {
        return Err(Failure(format!("{flag} needs at least one value")));
    }
    vs.iter().try_for_each(|&v| number(flag, v, want, &ok).map(|_| ()))
}

/// A hyperparameter flag: refuses NaN and ±∞ with PyTorch's message for the hyperparameter `name`
/// (`lr`: "Invalid learning rate: nan"); the rest is checked by the optimizer ([`attribute`]).
pub fn hyperparameter(flag: &str, name: &'static str, v: f64) -> Result<f64, Failure> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Failure(format!("{flag}: {}", descent_core::Error::InvalidHyperparameter { name, value: v })))
    }
}

/// Refuses NaN and ±∞ anywhere in keyword arguments given on the command line (`flag`), numbers
/// or the strings Python's json writes for them.
pub fn finite_kwargs(flag: &str, m: &Map<String, Value>) -> Result<(), Failure> {
    fn check(flag: &str, key: &str, v: &Value) -> Result<(), Failure> {
        match v {
            Value::Array(a) => a.iter().try_for_each(|x| check(flag, key, x)),
            Value::Object(m) => m.iter().try_for_each(|(k, x)| check(flag, k, x)),
            Value::String(_) | Value::Number(_) => match crate::registry::number(v) {
                Some(x) if !x.is_finite() => {
                    Err(Failure(format!("{flag}: '{key}' must be a finite number, got {}", PyFloat(x))))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
    m.iter().try_for_each(|(k, v)| check(flag, k, v))
}

/// An optimizer's refusal, attributed to the flag that set the refused value: `flags` maps
/// PyTorch's hyperparameter names (as the core reports them) to flags; anything else is blamed on
/// `rest` (the flag with the remaining keyword arguments).
pub fn attribute(e: BuildError, flags: &[(&str, &str)], rest: &str) -> Failure {
    let flag = match &e {
        BuildError::Invalid(descent_core::Error::InvalidHyperparameter { name, .. }) => {
            flags.iter().find(|(n, _)| n == name).map_or(rest, |(_, f)| f)
        }
        BuildError::Invalid(descent_core::Error::InvalidCombination { message })
            if message.contains("Nesterov") =>
        {
            flags.iter().find(|(n, _)| *n == "nesterov").map_or(rest, |(_, f)| f)
        }
        _ => rest,
    };
    Failure(format!("{flag}: {e}"))
}

/// Refuses an empty path (`flag ""`).
pub fn not_empty(flag: &str, path: &Path) -> Result<(), Failure> {
    if path.as_os_str().is_empty() { Err(Failure(format!("{flag}: the path is empty"))) } else { Ok(()) }
}

/// Where `path` points: the file itself when it exists, else its directory's real path joined
/// with its name (so `a/../b` and `./b` are the same file).
fn identity(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses two outputs that name the same file, and an output that names an input (writing it
/// would destroy what is being read). `outputs` and `inputs` are (flag, path) pairs.
pub fn distinct(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> Result<(), Failure> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let id = identity(out);
        for (other, p) in outputs[..i].iter().chain(inputs) {
            if identity(p) == id {
                return Err(Failure(format!("{other} and {flag} name the same file, {}", out.display())));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_numbers_name_the_flag_and_the_value() {
        assert_eq!(count("--epochs", 0, 1, 9).unwrap_err().0, "--epochs must be at least 1, got 0");
        assert_eq!(count("--threads", 10, 1, 9).unwrap_err().0, "--threads must be at most 9, got 10");
        assert_eq!(count("--epochs", 3, 1, 9).unwrap(), 3);
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            let e = number("--span", v, "a positive number", |x| x > 0.0).unwrap_err().0;
            assert!(e.starts_with("--span must be a positive number, got "), "{e}");
        }
        assert_eq!(hyperparameter("--lr", "lr", f64::NAN).unwrap_err().0, "--lr: Invalid learning rate: nan");
        assert_eq!(
            hyperparameter("--lr", "lr", f64::INFINITY).unwrap_err().0,
            "--lr: Invalid learning rate: inf"
        );
        assert!(numbers("--lrs", &[], "x", |_| true).is_err());
    }

    #[test]
    fn infinite_keyword_arguments_are_refused_wherever_they_are() {
        let m = crate::named::parse("--optimizer", "adam:lr=inf").unwrap();
        assert_eq!(
            finite_kwargs("--optimizer", &m).unwrap_err().0,
            "--optimizer: 'lr' must be a finite number, got inf"
        );
        let m = crate::named::parse("--run", r#"adam:betas=[0.9,"NaN"]"#).unwrap();
        assert!(finite_kwargs("--run", &m).unwrap_err().0.contains("'betas'"));
        assert!(
            finite_kwargs("--run", &crate::named::parse("--run", "adam:lr=0.1,amsgrad=true").unwrap())
                .is_ok()
        );
    }

    #[test]
    fn the_same_file_under_two_names_is_one_file() {
        let d = std::env::temp_dir().join(format!("descent-distinct-{}", std::process::id()));
        std::fs::create_dir_all(d.join("sub")).unwrap();
        let (a, b) = (d.join("a.json"), d.join("sub/../a.json"));
        let e = distinct(&[("--history", &a), ("--save", &b)], &[]).unwrap_err().0;
        assert!(e.starts_with("--history and --save name the same file"), "{e}");
        std::fs::write(&a, b"x").unwrap();
        assert!(distinct(&[("--out", &b)], &[("CHECKPOINT", &a)]).is_err());
        assert!(distinct(&[("--out", &d.join("b"))], &[("CHECKPOINT", &a)]).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
