//! Allocation that fails with an error instead of aborting the process: sizes come from the
//! command line and from files, and a size too large for this machine is bad input like any other.

/// `n` default values (zeros), or an error naming `what` when they cannot be allocated. (Checked
/// with a fallible reservation first, then allocated as `vec!` does, which for zeros takes fresh
/// zeroed pages instead of writing them.)
pub fn zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>, String> {
    check::<T>(n, what)?;
    Ok(vec![T::default(); n])
}

/// Checks that `n` values of `T` can be allocated now (then frees them), for buffers that other
/// code allocates.
pub fn check<T: Clone + Default>(n: usize, what: &str) -> Result<(), String> {
    Vec::<T>::new().try_reserve_exact(n).map_err(|_| {
        let bytes = n as f64 * std::mem::size_of::<T>() as f64;
        format!("{what}: cannot allocate {n} values ({:.1} GB)", bytes / 1e9)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_impossible_size_is_an_error_not_an_abort() {
        let e = super::zeroed::<f64>(usize::MAX / 4, "state").unwrap_err();
        assert!(e.starts_with("state: cannot allocate"), "{e}");
        assert!(super::check::<f32>(1 << 60, "params").is_err());
        assert_eq!(super::zeroed::<f32>(3, "x").unwrap(), [0.0; 3]);
    }
}
