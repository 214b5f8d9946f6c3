//! Grouped optimizers: arbitrary layouts (tensors with arbitrary offsets, shapes and groups) over
//! arbitrary buffers, arbitrary group configurations of one rule (or Muon and AdamW paired),
//! frozen groups, then arbitrary steps, per-group lr and momentum changes, freezing, saving and
//! restoring own, mutated and resealed bytes. Nothing may panic; refused calls change nothing.
#![no_main]

mod common;

use arbitrary::{Result, Unstructured};
use common::{Hypers, calls, check_restore, hyper, reseal, snapshot};
use descent_core::adam::AdamConfig;
use descent_core::group::{Group, Grouped, Reserve, Slot};
use descent_core::layout::{Layout, Shape, Tensor};
use descent_core::pair::Pair;
use descent_core::{Optimizer, Real, UpdateRule};
use libfuzzer_sys::fuzz_target;

fn layout(u: &mut Unstructured<'_>, groups: usize) -> Result<(Vec<Tensor>, usize)> {
    let count = u.int_in_range(0usize..=5)?;
    let mut tensors = Vec::new();
    let mut at = 0usize;
    for _ in 0..count {
        let rank = u.int_in_range(0usize..=3)?;
        let dims: Vec<usize> = (0..rank).map(|_| u.int_in_range(0usize..=6)).collect::<Result<_>>()?;
        let shape = Shape::new(&dims).unwrap_or_default();
        let len = if u.ratio(1u8, 10)? { u.int_in_range(0usize..=40)? } else { shape.numel().unwrap_or(3) };
        // Mostly laid out in order; sometimes anywhere (overlaps, gaps).
        let offset = if u.ratio(1u8, 10)? { u.int_in_range(0usize..=60)? } else { at };
        let group =
            if u.ratio(1u8, 20)? { u.int_in_range(0usize..=5)? } else { u.int_in_range(0..=groups - 1)? };
        tensors.push(Tensor::with_len(offset, len, shape, group));
        at = offset.saturating_add(len);
    }
    let total = if u.ratio(1u8, 10)? { u.int_in_range(0usize..=80)? } else { at };
    Ok((tensors, total))
}

fn exercise<R: UpdateRule, F: Real>(u: &mut Unstructured<'_>, configs: Vec<R>) -> Result<()> {
    let (tensors, n) = layout(u, configs.len())?;
    let Ok(layout) = Layout::new(tensors.clone(), n, configs.len()) else { return Ok(()) };
    let mut groups = Vec::new();
    for c in configs {
        groups.push(Group { config: c, frozen: u.ratio(1u8, 5)? });
    }
    let reserve = if u.arbitrary()? { Reserve::Momentum } else { Reserve::Exact };
    let needed = Grouped::<R, F, Vec<Tensor>, Vec<Group<R>>, Vec<Slot<R::Scalars>>, &mut [F]>::state_len_for(
        &layout, &groups, reserve,
    );
    let cap = match needed {
        Ok(k) if k <= 4096 && !u.ratio(1u8, 8)? => k,
        _ => u.int_in_range(0usize..=200)?,
    };
    let mut buf = vec![F::ZERO; cap];
    let slots = vec![Slot::default(); tensors.len()];
    let policy = common::policy(u)?;
    let Ok(mut opt) = Grouped::with_options(layout, groups, slots, &mut buf[..], policy, reserve) else {
        return Ok(());
    };
    let g = opt.groups();
    calls(u, &mut opt, 8, 60, |u, opt| {
        match u.int_in_range(0u8..=3)? {
            0 => {
                let s0 = snapshot(opt);
                if opt.set_group_lr(u.int_in_range(0..=g)?, hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(opt), s0);
                }
            }
            1 => {
                let s0 = snapshot(opt);
                if opt.set_group_momentum(u.int_in_range(0..=g)?, hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(opt), s0);
                }
            }
            _ => {
                let mut out = vec![0u8; opt.saved_len()];
                if let Ok(len) = opt.save(&mut out) {
                    out.truncate(len);
                    let s0 = snapshot(opt);
                    assert!(opt.restore(&out).is_ok(), "own bytes refused");
                    assert_eq!(snapshot(opt), s0);
                    if !out.is_empty() {
                        let at = u.int_in_range(0..=out.len() - 1)?;
                        out[at] ^= u.int_in_range(1u8..=255)?;
                        if u.arbitrary()? {
                            reseal(&mut out);
                        }
                        check_restore(opt, &out);
                    }
                }
            }
        }
        Ok(())
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = (|| -> Result<()> {
        let groups = u.int_in_range(1usize..=3)?;
        let f64s: bool = u.arbitrary()?;
        let mut adam = Vec::new();
        let mut paired = Vec::new();
        for _ in 0..groups {
            let h = Hypers::draw(&mut u)?;
            adam.push(h.adam(u.arbitrary()?, u.arbitrary()?));
            paired.push(if u.arbitrary()? { Pair::A(h.muon(&mut u)?) } else { Pair::B(h.adam(false, true)) });
        }
        match (u.arbitrary::<bool>()?, f64s) {
            (true, true) => exercise::<AdamConfig, f64>(&mut u, adam),
            (true, false) => exercise::<AdamConfig, f32>(&mut u, adam),
            (false, true) => exercise::<_, f64>(&mut u, paired),
            (false, false) => exercise::<_, f32>(&mut u, paired),
        }
    })();
});
