//! One field list per configuration: each rule names its keyword arguments once
//! (`fields!(SgdConfig { lr, momentum, … })`), and every reader of keyword arguments (std-ext's
//! builder by name, `descent replay`, the CLI) visits them through [`Fields`] instead of
//! restating them. The names are PyTorch's (optax's for the rules that follow optax).

/// One hyperparameter as a visitor sees it: a mutable view of its value, by shape.
pub enum Field<'a> {
    /// A number (`lr`, `eps`, …).
    Real(&'a mut f64),
    /// A flag (`maximize`, `nesterov`, …).
    Flag(&'a mut bool),
    /// Two numbers (`betas`, `etas`, …).
    Pair(&'a mut (f64, f64)),
    /// Two numbers, the first of which may be absent (Adafactor's `eps = (None, 1e-3)`).
    OptionalFirst(&'a mut (Option<f64>, f64)),
    /// Three numbers (Muon's `ns_coefficients`).
    Triple(&'a mut (f64, f64, f64)),
    /// A count (Muon's `ns_steps`).
    Count(&'a mut u32),
    /// A number that may be absent, `None` (schedule-free SGD's `weight_decay`, Prodigy's
    /// `beta3`).
    OptionalReal(&'a mut Option<f64>),
    /// A count that may be absent, `None` (schedule-free's `warmup_steps`).
    OptionalCount(&'a mut Option<u32>),
    /// One of a few named choices (Muon's `adjust_lr_fn`).
    Choice(&'a mut dyn Choice),
}

/// A hyperparameter that takes one of a few names.
pub trait Choice {
    /// Every name it can take, in order.
    fn names(&self) -> &'static [&'static str];
    /// The index of its current name.
    fn index(&self) -> usize;
    /// Sets it to the name at `index` (ignored when out of range).
    fn set_index(&mut self, index: usize);
    /// What PyTorch's message calls it when the name is unknown (`"Adjust learning rate
    /// function"` gives "Adjust learning rate function x is not supported").
    fn what(&self) -> &'static str;
}

/// A configuration whose keyword arguments can be visited by name.
pub trait Fields {
    /// Calls `visit` with every keyword argument's name and value, in the order PyTorch's
    /// signature lists them; stops at the first error.
    fn fields<E>(&mut self, visit: &mut dyn FnMut(&'static str, Field<'_>) -> Result<(), E>)
    -> Result<(), E>;
}

/// How a field's type shows itself to a visitor.
pub trait FieldValue {
    /// This value as a [`Field`].
    fn field(&mut self) -> Field<'_>;
}

impl FieldValue for f64 {
    fn field(&mut self) -> Field<'_> {
        Field::Real(self)
    }
}
impl FieldValue for bool {
    fn field(&mut self) -> Field<'_> {
        Field::Flag(self)
    }
}
impl FieldValue for (f64, f64) {
    fn field(&mut self) -> Field<'_> {
        Field::Pair(self)
    }
}
impl FieldValue for (Option<f64>, f64) {
    fn field(&mut self) -> Field<'_> {
        Field::OptionalFirst(self)
    }
}
impl FieldValue for (f64, f64, f64) {
    fn field(&mut self) -> Field<'_> {
        Field::Triple(self)
    }
}
impl FieldValue for Option<f64> {
    fn field(&mut self) -> Field<'_> {
        Field::OptionalReal(self)
    }
}
impl FieldValue for Option<u32> {
    fn field(&mut self) -> Field<'_> {
        Field::OptionalCount(self)
    }
}
impl FieldValue for u32 {
    fn field(&mut self) -> Field<'_> {
        Field::Count(self)
    }
}

/// Implements [`Fields`] for a configuration from the list of its keyword arguments, which are
/// its fields of the same names: `fields!(SgdConfig { lr, momentum, dampening })`.
#[macro_export]
macro_rules! fields {
    ($config:ty { $($field:ident),* $(,)? }) => {
        impl $crate::optim::fields::Fields for $config {
            fn fields<E>(
                &mut self,
                visit: &mut dyn FnMut(&'static str, $crate::optim::fields::Field<'_>) -> Result<(), E>,
            ) -> Result<(), E> {
                $( visit(stringify!($field), $crate::optim::fields::FieldValue::field(&mut self.$field))?; )*
                Ok(())
            }
        }
    };
}
