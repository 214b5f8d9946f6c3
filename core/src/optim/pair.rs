//! Two rules in one optimizer, group by group (optax's `multi_transform`): e.g. Muon for the
//! hidden matrices and AdamW for everything else, with one state buffer, one step call and one
//! save/restore.
//!
//! [`Pair<A, B>`] is itself a rule whose configuration is either an `A` or a `B`; a
//! [`crate::group::Grouped`] optimizer over `Pair<A, B>` gives each group one of the two. Each
//! tensor's state, scalars and scratch are those of its group's rule, so every tensor is updated
//! exactly as a one-rule optimizer would update it.
//!
//! ```
//! use descent_core::adam::AdamConfig;
//! use descent_core::group::{Group, GroupedArrays};
//! use descent_core::layout::{Layout, Tensor};
//! use descent_core::muon::{MuonConfig, scratch_len};
//! use descent_core::pair::Pair;
//! use descent_core::Optimizer;
//!
//! // A 4×6 hidden matrix (Muon) and its bias (AdamW without decay).
//! let layout = Layout::new([Tensor::new(0, &[4, 6], 0), Tensor::new(24, &[6], 1)], 30, 2)?;
//! let groups = [
//!     Group::new(Pair::A(MuonConfig { lr: 0.02, ..MuonConfig::default() })),
//!     Group::new(Pair::B(AdamConfig { weight_decay: 0.0, ..AdamConfig::adamw() })),
//! ];
//! // State: Muon's buffer (24) and Adam's m, v (12); then Muon's scratch.
//! const N: usize = 24 + 12 + scratch_len(4, 6);
//! let mut opt = GroupedArrays::<_, f32, 2, 2, N>::owned(layout, groups)?;
//! let mut x = [0.5f32; 30];
//! opt.step(&mut x, &[0.1; 30])?;
//! assert_eq!(opt.name(), "muon");
//! # Ok::<(), descent_core::Error>(())
//! ```

use super::UpdateRule;
use crate::error::Error;
use crate::layout::Shape;
use crate::persist::{Persist, Reader, Writer};
use crate::real::Real;

/// A configuration of rule `A` or rule `B`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pair<A, B> {
    /// The first rule.
    A(A),
    /// The second rule.
    B(B),
}

/// The scalar state of either rule (a tensor uses the one of its group's rule).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairScalars<A, B> {
    /// The first rule's.
    pub a: A,
    /// The second rule's.
    pub b: B,
}

impl<A: Persist, B: Persist> Persist for PairScalars<A, B> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        self.a.write(w)?;
        self.b.write(w)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(PairScalars { a: A::read(r)?, b: B::read(r)? })
    }
}

/// Each configuration is saved after its rule's id, so that state saved by a pair of other rules
/// is refused.
impl<A: UpdateRule, B: UpdateRule> Persist for Pair<A, B> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            Pair::A(a) => {
                w.u8(A::ID)?;
                a.write(w)
            }
            Pair::B(b) => {
                w.u8(B::ID)?;
                b.write(w)
            }
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let id = r.u8()?;
        if id == A::ID {
            Ok(Pair::A(A::read(r)?))
        } else if id == B::ID {
            Ok(Pair::B(B::read(r)?))
        } else {
            Err(Error::StateMismatch { field: "optimizer", expected: u64::from(A::ID), found: u64::from(id) })
        }
    }
}

/// Runs `$e` with `$c` bound to whichever rule the pair holds.
macro_rules! either {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Pair::A($c) => $e,
            Pair::B($c) => $e,
        }
    };
}

impl<A: UpdateRule, B: UpdateRule> UpdateRule for Pair<A, B> {
    type Scalars = PairScalars<A::Scalars, B::Scalars>;
    const NAME: &'static str = "pair";
    /// One id for every pair; each group's configuration is saved after its own rule's id.
    const ID: u8 = 0x1F;
    const ELEMENTWISE: bool = A::ELEMENTWISE && B::ELEMENTWISE;
    const WHOLE_SET: bool = A::WHOLE_SET || B::WHOLE_SET;

    fn name(&self) -> &'static str {
        either!(self, c => c.name())
    }
    fn validate(&self) -> Result<(), Error> {
        either!(self, c => c.validate())
    }
    fn check_len(&self, n: usize) -> Result<(), Error> {
        either!(self, c => c.check_len(n))
    }
    fn state_len(&self, n: usize) -> usize {
        either!(self, c => c.state_len(n))
    }
    fn init_state<F: Real>(&self, state: &mut [F]) {
        either!(self, c => c.init_state(state))
    }
    fn lr(&self) -> f64 {
        either!(self, c => c.lr())
    }
    fn put_lr(&mut self, lr: f64) {
        either!(self, c => c.put_lr(lr))
    }
    fn momentum(&self) -> Option<f64> {
        either!(self, c => c.momentum())
    }
    fn put_momentum(&mut self, m: f64) -> bool {
        either!(self, c => c.put_momentum(m))
    }
    fn for_tensor(&self, shape: &Shape) -> Self {
        match self {
            Pair::A(c) => Pair::A(c.for_tensor(shape)),
            Pair::B(c) => Pair::B(c.for_tensor(shape)),
        }
    }
    fn check_tensor(&self, shape: &Shape) -> Result<(), &'static str> {
        either!(self, c => c.check_tensor(shape))
    }
    fn scratch_len(&self, n: usize) -> usize {
        either!(self, c => c.scratch_len(n))
    }

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut Self::Scalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        scratch: &mut [F],
    ) {
        match self {
            Pair::A(c) => c.kernel::<F, L>(&mut sc.a, t, p, g, state, scratch),
            Pair::B(c) => c.kernel::<F, L>(&mut sc.b, t, p, g, state, scratch),
        }
    }

    fn reference<F: Real>(
        &self,
        sc: &mut Self::Scalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        scratch: &mut [F],
    ) {
        match self {
            Pair::A(c) => c.reference(&mut sc.a, t, p, g, state, scratch),
            Pair::B(c) => c.reference(&mut sc.b, t, p, g, state, scratch),
        }
    }
}
