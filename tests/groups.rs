//! Parameter groups ([`descent::group::Grouped`]) against the flat optimizers: a grouped optimizer
//! over a layout gives, bit for bit, what one flat optimizer per tensor gives with that tensor's
//! group configuration (for every optimizer, random layouts, random per-group hyperparameters;
//! Adafactor factored by each tensor's shape). Frozen groups, per-tensor step counts,
//! save/restore and the refusals.

mod common;

use common::{ALL, AnyConfig, any_config, values};
use descent::group::{Group, Grouped, Reserve, Slot};
use descent::layout::{Layout, Tensor};
use descent::{Error, NonFinitePolicy, Optim, Optimizer, Real, StateBuffer, UpdateRule};
use proptest::prelude::*;

/// State on the heap.
#[derive(Debug, Clone)]
struct V<F>(Vec<F>);

impl<F> StateBuffer<F> for V<F> {
    fn values(&self) -> &[F] {
        &self.0
    }
    fn values_mut(&mut self) -> &mut [F] {
        &mut self.0
    }
}

type Heap<R, F> = Grouped<R, F, Vec<Tensor>, Vec<Group<R>>, Vec<Slot<<R as UpdateRule>::Scalars>>, V<F>>;

fn grouped<R: UpdateRule, F: Real>(
    tensors: Vec<Tensor>,
    n: usize,
    groups: Vec<Group<R>>,
    reserve: Reserve,
) -> Result<Heap<R, F>, Error> {
    let layout = Layout::new(tensors, n, groups.len())?;
    let len = Heap::<R, F>::state_len_for(&layout, &groups, reserve)?;
    let slots = vec![Slot::default(); layout.tensors().len()];
    Grouped::with_options(layout, groups, slots, V(vec![F::ZERO; len]), NonFinitePolicy::Propagate, reserve)
}

fn bits<F: Real>(x: &[F]) -> Vec<u64> {
    x.iter().map(|v| if v.is_nan() { u64::MAX } else { v.to_bits_u64() }).collect()
}

/// Shapes of random rank 1..=3 from `dims`, laid out in order, every other tensor in group 1.
fn layout_of(shapes: &[Vec<usize>], groups: usize) -> (Vec<Tensor>, usize) {
    let mut at = 0;
    let tensors = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let t = Tensor::new(at, s, i % groups);
            at += t.len;
            t
        })
        .collect();
    (tensors, at)
}

/// Steps a grouped optimizer and one flat optimizer per tensor side by side; the parameters and
/// every tensor's state must agree bit for bit after every step.
fn grouped_equals_per_tensor<R: UpdateRule + Send, F: Real>(
    configs: [R; 2],
    shapes: &[Vec<usize>],
    frozen: bool,
    steps: usize,
    seed: u64,
) -> Result<(), String> {
    let (tensors, n) = layout_of(shapes, 2);
    let groups = vec![Group::new(configs[0].clone()), Group { config: configs[1].clone(), frozen }];
    let mut opt = grouped::<R, F>(tensors.clone(), n, groups, Reserve::Exact).map_err(|e| e.to_string())?;
    // One flat optimizer per tensor, and whether its group is frozen.
    type Flat<R, F> = (Optim<R, F, V<F>>, bool);
    let mut flats: Vec<Flat<R, F>> = tensors
        .iter()
        .map(|t| {
            let c = configs[t.group].for_tensor(&t.shape);
            let len = c.state_len(t.len) + c.scratch_len(t.len);
            let o = Optim::from_storage(c, V(vec![F::ZERO; len]), t.len, NonFinitePolicy::Propagate).unwrap();
            (o, frozen && t.group == 1)
        })
        .collect();
    let mut p: Vec<F> = values(seed, n, 1.0).into_iter().map(F::from_f64).collect();
    let mut q = p.clone();
    for k in 0..steps {
        let g: Vec<F> = values(seed ^ (k as u64 + 1), n, 1.0).into_iter().map(F::from_f64).collect();
        // Sophia: a Hessian estimate every other step, each tensor's part to its flat optimizer.
        if configs[0].hessian_stream().is_some() && k % 2 == 0 {
            let estimate: Vec<F> = g.iter().map(|&x| x * x * F::from_f64(50.0)).collect();
            opt.update_hessian(&estimate).map_err(|e| e.to_string())?;
            for (t, (o, skip)) in tensors.iter().zip(&mut flats) {
                if !*skip {
                    o.update_hessian(&estimate[t.range()]).map_err(|e| e.to_string())?;
                }
            }
        }
        opt.step(&mut p, &g).map_err(|e| e.to_string())?;
        for (t, (o, skip)) in tensors.iter().zip(&mut flats) {
            if !*skip {
                o.step(&mut q[t.range()], &g[t.range()]).map_err(|e| e.to_string())?;
            }
        }
        if bits(&p) != bits(&q) {
            return Err(format!("{} step {k}: parameters differ", R::NAME));
        }
        // The evaluation parameters (schedule-free's x; the parameters for the others) too.
        let mut ep = vec![F::ZERO; n];
        opt.eval_params(&p, &mut ep).map_err(|e| e.to_string())?;
        let mut eq = q.clone();
        for (t, (o, skip)) in tensors.iter().zip(&flats) {
            if !*skip {
                o.eval_params(&q[t.range()], &mut eq[t.range()]).map_err(|e| e.to_string())?;
            }
        }
        if bits(&ep) != bits(&eq) {
            return Err(format!("{} step {k}: evaluation parameters differ", R::NAME));
        }
        for (i, (o, skip)) in flats.iter().enumerate() {
            let want: &[F] = if *skip { &[] } else { o.state() };
            if bits(opt.tensor_state(i)) != bits(want) {
                return Err(format!("{} step {k}: state of tensor {i} differs", R::NAME));
            }
            let steps = if *skip { 0 } else { k as u64 + 1 };
            if opt.slots()[i].steps() != steps {
                return Err(format!("tensor {i} took {} steps, not {steps}", opt.slots()[i].steps()));
            }
        }
    }
    Ok(())
}

/// Rules whose step size comes from sums over every parameter (Prodigy, D-Adaptation): over one
/// tensor the grouped optimizer is the flat one, bit for bit; over more it is refused, naming why
/// (each tensor would get an estimate of its own, where optax has one over the whole tree).
fn whole_set<R: UpdateRule + Send, F: Real>(
    configs: [R; 2],
    shapes: &[Vec<usize>],
    frozen: bool,
    seed: u64,
) -> Result<(), String> {
    assert!(R::WHOLE_SET);
    if shapes.len() == 1 {
        return grouped_equals_per_tensor::<R, F>(configs, shapes, frozen, 4, seed);
    }
    let (tensors, n) = layout_of(shapes, 2);
    let groups = vec![Group::new(configs[0].clone()), Group { config: configs[1].clone(), frozen }];
    match grouped::<R, F>(tensors, n, groups, Reserve::Exact).map(|_| ()) {
        Err(Error::Unsupported { what }) if what == descent::group::WHOLE_SET_REFUSED => Ok(()),
        other => Err(format!("{} over {} tensors: {other:?}", R::NAME, shapes.len())),
    }
}

fn shapes() -> impl Strategy<Value = Vec<Vec<usize>>> {
    prop::collection::vec(prop::collection::vec(1usize..7, 1..=3), 1..5)
}

proptest! {
    #![proptest_config(common::config(24))]

    #[test]
    fn grouped_equals_one_flat_optimizer_per_tensor(
        (a, b) in (0..ALL.len()).prop_flat_map(|w| (any_config(ALL[w]), any_config(ALL[w]))),
        seeds in any::<u64>(),
        shapes in shapes(),
        frozen in any::<bool>(),
        f64s in any::<bool>(),
    ) {
        let r = match (a, b) {
            (AnyConfig::Sgd(a), AnyConfig::Sgd(b)) if f64s => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Sgd(a), AnyConfig::Sgd(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adam(a), AnyConfig::Adam(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adagrad(a), AnyConfig::Adagrad(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Rmsprop(a), AnyConfig::Rmsprop(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adamax(a), AnyConfig::Adamax(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Nadam(a), AnyConfig::Nadam(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Radam(a), AnyConfig::Radam(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 8, seeds),
            (AnyConfig::Adadelta(a), AnyConfig::Adadelta(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Asgd(a), AnyConfig::Asgd(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Rprop(a), AnyConfig::Rprop(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adafactor(a), AnyConfig::Adafactor(b)) => {
                let unshaped = |c: descent::adafactor::AdafactorConfig| c.with_shape(&[]).unwrap();
                grouped_equals_per_tensor::<_, f32>([unshaped(a), unshaped(b)], &shapes, frozen, 4, seeds)
            }
            (AnyConfig::Lion(a), AnyConfig::Lion(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Muon(a), AnyConfig::Muon(b)) => {
                // Muon takes matrices only.
                let matrices: Vec<Vec<usize>> = shapes.iter().map(|s| vec![s[0], s[1..].iter().product()]).collect();
                grouped_equals_per_tensor::<_, f32>([a, b], &matrices, frozen, 4, seeds)
            }
            (AnyConfig::Lamb(a), AnyConfig::Lamb(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Lars(a), AnyConfig::Lars(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Yogi(a), AnyConfig::Yogi(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adabelief(a), AnyConfig::Adabelief(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adopt(a), AnyConfig::Adopt(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Ademamix(a), AnyConfig::Ademamix(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Adan(a), AnyConfig::Adan(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Novograd(a), AnyConfig::Novograd(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Sm3(a), AnyConfig::Sm3(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Prodigy(a), AnyConfig::Prodigy(b)) => whole_set::<_, f32>([a, b], &shapes, frozen, seeds),
            (AnyConfig::DadaptAdamw(a), AnyConfig::DadaptAdamw(b)) => whole_set::<_, f64>([a, b], &shapes, frozen, seeds),
            (AnyConfig::ScheduleFreeSgd(a), AnyConfig::ScheduleFreeSgd(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::ScheduleFreeAdamw(a), AnyConfig::ScheduleFreeAdamw(b)) => grouped_equals_per_tensor::<_, f64>([a, b], &shapes, frozen, 4, seeds),
            (AnyConfig::Sophia(a), AnyConfig::Sophia(b)) => grouped_equals_per_tensor::<_, f32>([a, b], &shapes, frozen, 4, seeds),
            _ => unreachable!(),
        };
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

#[test]
fn one_tensor_in_one_group_is_the_flat_optimizer() {
    let c = descent::adam::AdamConfig { amsgrad: true, ..descent::adam::AdamConfig::adamw() };
    let n = 37;
    let mut g =
        grouped::<_, f32>(vec![Tensor::new(0, &[n], 0)], n, vec![Group::new(c)], Reserve::Exact).unwrap();
    let mut buf = vec![0.0f32; 3 * n];
    let mut flat = Optim::with_buffer(c, n, &mut buf).unwrap();
    let mut p: Vec<f32> = values(3, n, 1.0).into_iter().map(|x| x as f32).collect();
    let mut q = p.clone();
    for k in 0..20 {
        let grad: Vec<f32> = values(k, n, 0.5).into_iter().map(|x| x as f32).collect();
        g.step(&mut p, &grad).unwrap();
        flat.step(&mut q, &grad).unwrap();
        assert_eq!(bits(&p), bits(&q));
    }
    assert_eq!(g.steps(), flat.steps());
    assert_eq!(bits(g.tensor_state(0)), bits(flat.state()));
}

fn two_groups() -> (Vec<Tensor>, usize, Vec<Group<descent::adam::AdamConfig>>) {
    let c = descent::adam::AdamConfig { lr: 0.05, ..descent::adam::AdamConfig::adamw() };
    let tensors = vec![Tensor::new(0, &[3, 4], 0), Tensor::new(12, &[4], 1), Tensor::new(16, &[2, 2], 0)];
    (tensors, 20, vec![Group::new(c), Group::new(descent::adam::AdamConfig { weight_decay: 0.0, ..c })])
}

#[test]
fn a_frozen_group_keeps_its_parameters_and_state_and_costs_no_state() {
    let (tensors, n, mut groups) = two_groups();
    let open = grouped::<_, f64>(tensors.clone(), n, groups.clone(), Reserve::Exact).unwrap();
    groups[0].frozen = true;
    let mut opt = grouped::<_, f64>(tensors, n, groups, Reserve::Exact).unwrap();
    assert_eq!(opt.state_len(), 2 * 4);
    assert_eq!(open.state_len(), 2 * 20);
    let mut p = values(1, n, 1.0);
    let before = p.clone();
    opt.step(&mut p, &values(2, n, 1.0)).unwrap();
    assert_eq!(&p[..12], &before[..12]);
    assert_eq!(&p[16..], &before[16..]);
    assert_ne!(&p[12..16], &before[12..16]);
    assert_eq!(opt.slots().iter().map(|s| s.steps()).collect::<Vec<_>>(), [0, 1, 0]);
    // A group frozen at construction has no state: unfreezing it is refused, changing nothing.
    assert!(matches!(opt.set_frozen(0, false), Err(Error::Unsupported { .. })));
    assert!(opt.groups_ref()[0].frozen);
    // Freezing the other group later keeps its state untouched.
    opt.set_frozen(1, true).unwrap();
    let state = opt.tensor_state(1).to_vec();
    let p1 = p.clone();
    opt.step(&mut p, &values(3, n, 1.0)).unwrap();
    assert_eq!(p, p1);
    assert_eq!(opt.tensor_state(1), &state[..]);
}

#[test]
fn group_learning_rates_and_momenta_are_separate() {
    let (tensors, n, groups) = two_groups();
    let mut opt = grouped::<_, f32>(tensors, n, groups, Reserve::Exact).unwrap();
    assert_eq!(opt.groups(), 2);
    opt.set_group_lr(1, 0.5).unwrap();
    opt.set_group_momentum(0, 0.8).unwrap();
    assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), (0.05, 0.5));
    assert_eq!(opt.group_momentum(0).unwrap(), Some(0.8));
    assert_eq!(opt.group_momentum(1).unwrap(), Some(0.9));
    // Refusals change nothing.
    assert_eq!(opt.set_group_lr(2, 0.1), Err(Error::NoSuchGroup { group: 2, groups: 2 }));
    assert!(opt.set_group_lr(1, f64::NAN).is_err());
    assert!(opt.set_lr(-1.0).is_err());
    assert_eq!(opt.group_lr(1).unwrap(), 0.5);
    opt.set_lr(0.01).unwrap();
    assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), (0.01, 0.01));
    // amsgrad needs a third stream this optimizer did not reserve.
    let c = descent::adam::AdamConfig { amsgrad: true, ..*opt.group_config(0).unwrap() };
    assert!(matches!(opt.set_group_config(0, c), Err(Error::BufferTooSmall { .. })));
}

#[test]
fn reserved_momentum_lets_a_schedule_turn_momentum_on() {
    let sgd = descent::sgd::SgdConfig { lr: 0.1, ..Default::default() };
    let tensors = vec![Tensor::new(0, &[5], 0), Tensor::new(5, &[3], 1)];
    let exact = grouped::<_, f32>(tensors.clone(), 8, vec![Group::new(sgd); 2], Reserve::Exact).unwrap();
    assert_eq!(exact.state_len(), 0);
    let mut exact = exact;
    assert!(exact.set_group_momentum(0, 0.9).is_err());
    let mut opt = grouped::<_, f32>(tensors, 8, vec![Group::new(sgd); 2], Reserve::Momentum).unwrap();
    opt.set_group_momentum(1, 0.9).unwrap();
    let mut p = vec![1.0f32; 8];
    opt.step(&mut p, &[1.0; 8]).unwrap();
    opt.step(&mut p, &[1.0; 8]).unwrap();
    // Group 0 without momentum moved 0.1 per step; group 1 with momentum 0.1 then 0.19.
    assert!((p[0] - 0.8).abs() < 1e-6 && (p[5] - 0.71).abs() < 1e-6, "{p:?}");
}

#[test]
fn save_and_restore_resume_bit_exactly_and_refuse_another_layout() {
    let (tensors, n, groups) = two_groups();
    let mut a = grouped::<_, f64>(tensors.clone(), n, groups.clone(), Reserve::Exact).unwrap();
    let mut p = values(5, n, 1.0);
    for k in 0..3 {
        a.step(&mut p, &values(10 + k, n, 1.0)).unwrap();
    }
    a.set_group_lr(1, 0.2).unwrap();
    let mut bytes = vec![0u8; a.saved_len()];
    a.save(&mut bytes).unwrap();
    let mut b = grouped::<_, f64>(tensors.clone(), n, groups.clone(), Reserve::Exact).unwrap();
    b.restore(&bytes).unwrap();
    assert_eq!(b.group_lr(1).unwrap(), 0.2);
    let mut q = p.clone();
    for k in 3..8 {
        let g = values(10 + k, n, 1.0);
        a.step(&mut p, &g).unwrap();
        b.step(&mut q, &g).unwrap();
    }
    assert_eq!(bits(&p), bits(&q));

    // Another layout: refused, naming the tensor and what differs; nothing changes.
    let mut other = tensors.clone();
    other[2] = Tensor::new(16, &[4], 0);
    let mut c = grouped::<_, f64>(other, n, groups.clone(), Reserve::Exact).unwrap();
    let e = c.restore(&bytes).unwrap_err();
    assert_eq!(e, Error::LayoutMismatch { tensor: 2, field: "shape" });
    assert_eq!(e.to_string(), "saved state does not fit: tensor 2 has another shape in this layout");
    assert_eq!(c.steps(), 0);
    let mut regrouped = tensors.clone();
    regrouped[1].group = 0;
    let mut d = grouped::<_, f64>(regrouped, n, groups.clone(), Reserve::Exact).unwrap();
    assert_eq!(d.restore(&bytes).unwrap_err(), Error::LayoutMismatch { tensor: 1, field: "group" });
    // Flat state is not grouped state.
    let mut buf = vec![0.0f64; 2 * n];
    let flat = Optim::with_buffer(groups[0].config, n, &mut buf).unwrap();
    let mut flat_bytes = vec![0u8; flat.saved_len()];
    flat.save(&mut flat_bytes).unwrap();
    assert!(matches!(b.restore(&flat_bytes), Err(Error::StateMismatch { field: "optimizer", .. })));
    // Every truncation is refused and changes nothing.
    let snapshot = b.tensor_state(0).to_vec();
    for cut in 0..bytes.len() {
        assert!(b.restore(&bytes[..cut]).is_err());
    }
    assert_eq!(b.tensor_state(0), &snapshot[..]);
}

#[test]
fn bad_layouts_and_groups_are_refused_by_name() {
    let (tensors, n, groups) = two_groups();
    let e = grouped::<_, f32>(tensors.clone(), n, groups[..1].to_vec(), Reserve::Exact).unwrap_err();
    assert_eq!(e.to_string(), "invalid layout: tensor 1 is in group 1, but there are 1 groups");
    let e = grouped::<_, f32>(tensors.clone(), n + 1, groups.clone(), Reserve::Exact).unwrap_err();
    assert_eq!(e.to_string(), "invalid layout: elements 20..21 belong to no tensor");
    let mut overlapping = tensors.clone();
    overlapping[2].offset = 15;
    let e = grouped::<_, f32>(overlapping, n, groups.clone(), Reserve::Exact).unwrap_err();
    assert_eq!(e.to_string(), "invalid layout: tensor 2 overlaps tensor 1");
    let mut bad = groups.clone();
    bad[1].config.betas.1 = 1.5;
    let e = grouped::<_, f32>(tensors.clone(), n, bad, Reserve::Exact).unwrap_err();
    assert_eq!(e.to_string(), "Invalid beta parameter at index 1: 1.5");
    let mut opt = grouped::<_, f32>(tensors, n, groups, Reserve::Exact).unwrap();
    let mut p = vec![0.0f32; n];
    assert!(matches!(opt.step(&mut p, &[0.0; 19]), Err(Error::LengthMismatch { what: "grads", .. })));
}

#[test]
fn the_non_finite_policy_looks_only_at_trained_tensors() {
    let (tensors, n, mut groups) = two_groups();
    groups[1].frozen = true;
    let layout = Layout::new(tensors, n, 2).unwrap();
    let len = Heap::<_, f32>::state_len_for(&layout, &groups, Reserve::Exact).unwrap();
    let mut opt: Heap<_, f32> = Grouped::with_options(
        layout,
        groups,
        vec![Slot::default(); 3],
        V(vec![0.0; len]),
        NonFinitePolicy::SkipStep,
        Reserve::Exact,
    )
    .unwrap();
    let mut p = vec![1.0f32; n];
    let mut g = vec![0.1f32; n];
    g[13] = f32::NAN; // in the frozen bias
    assert_eq!(opt.step(&mut p, &g).unwrap(), descent::StepOutcome::Stepped);
    g[17] = f32::INFINITY;
    let before = p.clone();
    assert_eq!(opt.step(&mut p, &g).unwrap(), descent::StepOutcome::Skipped { index: 17 });
    assert_eq!(p, before);
}
