//! Replay specs (`descent_std::replay::parse`, `replay`) and expected files (`parse_expected`)
//! from arbitrary text, and from bundled conformance specs with values replaced (NaN, ±∞, negative,
//! zero, huge numbers, nulls, strings, lists, objects where numbers go), must be refused or replayed,
//! never panic. A replayed trace printed as JSON (`Trace::to_json`, NaN and infinities as Python's
//! tokens) must read back as the same trace. Specs larger than a few thousand values are skipped
//! (their allocation, not their parsing, is what would be tested).
#![no_main]

use arbitrary::{Result, Unstructured};
use descent_std::replay::{self, Expected, Spec};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Conformance specs covering the optimizers, schedules (plateau, sequential) and clipping.
const SPECS: [&str; 6] = [
    include_str!("../../tests/data/conformance/torch/case-7-0000.spec.json"),
    include_str!("../../tests/data/conformance/torch/case-7-0005.spec.json"),
    include_str!("../../tests/data/conformance/torch/case-7-0007.spec.json"),
    include_str!("../../tests/data/conformance/torch/case-7-0013.spec.json"),
    include_str!("../../tests/data/conformance/torch/case-7-0029-invalid.spec.json"),
    include_str!("../../tests/data/conformance/optax/lion-7-0000.spec.json"),
];

/// Most values (and any one dimension) of a spec replayed.
const MAX_VALUES: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    let _ = mutated(&mut Unstructured::new(data));
});

/// A bundled spec with a few leaves replaced.
fn mutated(u: &mut Unstructured<'_>) -> Result<()> {
    static PARSED: OnceLock<Vec<Value>> = OnceLock::new();
    let specs =
        PARSED.get_or_init(|| SPECS.iter().map(|s| serde_json::from_str(s).unwrap_or_default()).collect());
    let mut v = specs[u.choose_index(specs.len())?].clone();
    for _ in 0..u.int_in_range(1..=4)? {
        let mut leaves = Vec::new();
        pointers(&v, String::new(), &mut leaves);
        if leaves.is_empty() {
            break;
        }
        let at = &leaves[u.choose_index(leaves.len())?];
        let new = match u.int_in_range(0u8..=11)? {
            0 => json!("NaN"),
            1 => json!("Infinity"),
            2 => json!("-Infinity"),
            3 => json!(-1.0),
            4 => json!(0),
            5 => json!(1e308),
            6 => json!(u.arbitrary::<u64>()?),
            7 => Value::Null,
            8 => json!("x"),
            9 => json!([]),
            10 => json!({}),
            _ => json!(u.arbitrary::<i32>()? as f64 / 1000.0),
        };
        if let Some(leaf) = v.pointer_mut(at) {
            *leaf = new;
        }
    }
    check(&v.to_string());
    Ok(())
}

/// JSON pointers to every leaf (and to the objects and lists too: replacing them tests shapes).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| pointers(x, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| pointers(x, format!("{at}/{i}"), out)),
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

fn small(spec: &Spec) -> bool {
    let dims = spec.params.iter().flat_map(|t| &t.shape).all(|&d| d <= MAX_VALUES);
    let values: usize = spec.params.iter().map(|t| t.data.len()).sum();
    dims && values <= MAX_VALUES && spec.grads.len() <= 64 && spec.grads.len() * values <= 16 * MAX_VALUES
}

fn check(text: &str) {
    let _ = replay::parse_expected(text);
    let Ok(spec) = replay::parse(text) else { return };
    if !small(&spec) {
        return;
    }
    let Ok(trace) = replay::replay(&spec) else { return };
    let json = trace.to_json();
    match replay::parse_expected(&json) {
        Ok(Expected::Trace(back)) => {
            if let Err(m) = replay::compare("f64", &back, &trace) {
                panic!("a trace does not read back as itself: {m}\n{json}");
            }
            assert!(
                back.params
                    .iter()
                    .flatten()
                    .flatten()
                    .zip(trace.params.iter().flatten().flatten())
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
            );
        }
        other => panic!("a trace does not read back: {other:?}\n{json}"),
    }
}
