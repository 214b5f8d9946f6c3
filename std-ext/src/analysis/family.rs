//! The optimizer family tree: every optimizer of descent (and the ideas between them) as a node,
//! and on every edge the problem the child fixed in its parent. `write_family_tree` draws it.

use super::output::Output;
use crate::plot::PlotError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;
use std::path::Path;

/// One method in the tree.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Node {
    /// Its name in the figure.
    pub label: &'static str,
    /// Year of its publication (the lecture, for RMSprop).
    pub year: u16,
    /// Its name in `descent::OPTIMIZERS`, when descent has it.
    pub descent: Option<&'static str>,
    /// Column (generation) and row of the layout.
    pub at: (u8, u8),
}

/// An edge: parent, child (indices into [`NODES`]) and the problem the child fixed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Edge {
    /// The parent's index.
    pub from: usize,
    /// The child's index.
    pub to: usize,
    /// What went wrong with the parent that the child repairs.
    pub fixed: &'static str,
}

/// The methods.
pub const NODES: [Node; 34] = [
    Node { label: "gradient descent", year: 1847, descent: None, at: (0, 4) },
    Node { label: "SGD", year: 1951, descent: Some("sgd"), at: (1, 3) },
    Node { label: "Rprop", year: 1993, descent: Some("rprop"), at: (1, 6) },
    Node { label: "Newton", year: 1669, descent: None, at: (1, 7) },
    Node { label: "heavy ball", year: 1964, descent: Some("sgd"), at: (2, 1) },
    Node { label: "ASGD", year: 1992, descent: Some("asgd"), at: (2, 3) },
    Node { label: "AdaGrad", year: 2011, descent: Some("adagrad"), at: (2, 5) },
    Node { label: "L-BFGS", year: 1989, descent: Some("lbfgs"), at: (2, 7) },
    Node { label: "Nesterov", year: 1983, descent: Some("sgd"), at: (3, 0) },
    Node { label: "RMSprop", year: 2012, descent: Some("rmsprop"), at: (3, 4) },
    Node { label: "Adadelta", year: 2012, descent: Some("adadelta"), at: (3, 6) },
    Node { label: "Adam", year: 2015, descent: Some("adam"), at: (4, 3) },
    Node { label: "AdaMax", year: 2015, descent: Some("adamax"), at: (5, 0) },
    Node { label: "NAdam", year: 2016, descent: Some("nadam"), at: (5, 1) },
    Node { label: "AMSGrad", year: 2018, descent: Some("adam"), at: (5, 2) },
    Node { label: "AdamW", year: 2019, descent: Some("adamw"), at: (5, 3) },
    Node { label: "RAdam", year: 2020, descent: Some("radam"), at: (5, 4) },
    Node { label: "Adafactor", year: 2018, descent: Some("adafactor"), at: (5, 5) },
    Node { label: "Lion", year: 2023, descent: Some("lion"), at: (5, 6) },
    Node { label: "LARS", year: 2017, descent: Some("lars"), at: (4, 0) },
    Node { label: "Muon", year: 2024, descent: Some("muon"), at: (4, 1) },
    Node { label: "LAMB", year: 2020, descent: Some("lamb"), at: (5, 7) },
    Node { label: "Adan", year: 2022, descent: Some("adan"), at: (6, 0) },
    Node { label: "Yogi", year: 2018, descent: Some("yogi"), at: (6, 1) },
    Node { label: "ADOPT", year: 2024, descent: Some("adopt"), at: (6, 2) },
    Node { label: "AdEMAMix", year: 2024, descent: Some("ademamix"), at: (6, 3) },
    Node { label: "AdaBelief", year: 2020, descent: Some("adabelief"), at: (6, 4) },
    Node { label: "SM3", year: 2019, descent: Some("sm3"), at: (6, 5) },
    Node { label: "NovoGrad", year: 2019, descent: Some("novograd"), at: (6, 7) },
    Node { label: "D-Adaptation", year: 2023, descent: Some("dadapt_adamw"), at: (6, 6) },
    Node { label: "Prodigy", year: 2023, descent: Some("prodigy"), at: (7, 6) },
    Node { label: "Schedule-Free SGD", year: 2024, descent: Some("schedule_free_sgd"), at: (3, 2) },
    Node { label: "Schedule-Free AdamW", year: 2024, descent: Some("schedule_free_adamw"), at: (7, 4) },
    Node { label: "Sophia", year: 2023, descent: Some("sophia"), at: (7, 2) },
];

/// The edges, each labelled with the problem the child fixed.
pub const EDGES: [Edge; 37] = [
    Edge { from: 0, to: 1, fixed: "a full gradient costs\nall N examples" },
    Edge { from: 0, to: 2, fixed: "one step size, but\ngradient scales vary" },
    Edge { from: 0, to: 3, fixed: "how far to step:\nuse the curvature" },
    Edge { from: 1, to: 4, fixed: "zigzags in ravines,\nrate set by κ" },
    Edge { from: 1, to: 5, fixed: "noise floor of\nconstant steps" },
    Edge { from: 1, to: 6, fixed: "one rate for\nevery coordinate" },
    Edge { from: 3, to: 7, fixed: "Hessian costs\nn² memory, n³ time" },
    Edge { from: 4, to: 8, fixed: "overshoots; fast only\non quadratics" },
    Edge { from: 6, to: 9, fixed: "its rate decays\nto zero" },
    Edge { from: 6, to: 10, fixed: "decaying rate;\nstep in wrong units" },
    Edge { from: 9, to: 11, fixed: "no momentum,\nbiased start" },
    Edge { from: 4, to: 11, fixed: "one step size for steep\nand flat coordinates" },
    Edge { from: 11, to: 12, fixed: "spikes: ∞-norm\ninstead of RMS" },
    Edge { from: 11, to: 13, fixed: "momentum looks\nbehind: Nesterov" },
    Edge { from: 11, to: 14, fixed: "may not converge:\nv forgets spikes" },
    Edge { from: 11, to: 15, fixed: "L2 penalty is not\nweight decay" },
    Edge { from: 11, to: 16, fixed: "wild first steps:\nneeds a warmup" },
    Edge { from: 11, to: 17, fixed: "memory: two values\nper parameter" },
    Edge { from: 11, to: 18, fixed: "memory; a sign step\n(found by search)" },
    Edge { from: 8, to: 13, fixed: "" },
    Edge { from: 4, to: 19, fixed: "large batches: one rate\nfor layers of all scales" },
    Edge { from: 4, to: 20, fixed: "update dominated by\na few directions" },
    Edge { from: 11, to: 21, fixed: "large batches: trust\nratio per layer" },
    Edge { from: 13, to: 22, fixed: "Nesterov from gradient\ndifferences" },
    Edge { from: 14, to: 23, fixed: "v only grows:\nadditive v" },
    Edge { from: 14, to: 24, fixed: "β2 must suit the\nproblem: v before g" },
    Edge { from: 15, to: 25, fixed: "one EMA forgets\nold gradients" },
    Edge { from: 11, to: 26, fixed: "large steps where\ngradients disagree" },
    Edge { from: 17, to: 27, fixed: "matrices only,\nno regret bound" },
    Edge { from: 21, to: 28, fixed: "v per weight:\nnorms per layer" },
    Edge { from: 15, to: 29, fixed: "the rate must be tuned:\nestimate the distance D" },
    Edge { from: 29, to: 30, fixed: "d grows slowly:\nweight steps by d" },
    Edge { from: 5, to: 31, fixed: "the average lags;\nschedules need T" },
    Edge { from: 4, to: 31, fixed: "" },
    Edge { from: 15, to: 32, fixed: "a decay schedule\nneeds the run's length" },
    Edge { from: 3, to: 33, fixed: "Hessian n²; unsafe\nwhere curvature is off" },
    Edge { from: 18, to: 33, fixed: "sign steps ignore\nthe curvature" },
];

/// Draws the tree as SVG: boxes for the methods (descent's own in blue), arrows from parent to
/// child with the problem fixed written along each.
pub fn draw(path: &Path) -> Result<(), PlotError> {
    let e = |x: DrawingAreaErrorKind<std::io::Error>| PlotError(format!("{}: {x}", path.display()));
    let (w, h) = (2350u32, 760u32);
    let root = SVGBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let title = TextStyle::from(("sans-serif", 22).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new("The optimizer family tree: what each one fixed", (w as i32 / 2, 10), title))
        .map_err(e)?;
    let (box_w, box_h) = (160i32, 42i32);
    // The last column (the optax rules) stands further off, so that its edges' labels clear the
    // labels of Adam's children.
    let column = |c: u8| 90 + i32::from(c) * 280 + if c >= 6 { 140 } else { 0 };
    let centre = |n: &Node| (column(n.at.0), 80 + i32::from(n.at.1) * 88);
    let blue = RGBColor(0, 114, 178);
    let label = TextStyle::from(("sans-serif", 13).into_font())
        .color(&RGBColor(90, 60, 0))
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for edge in &EDGES {
        let (a, b) = (centre(&NODES[edge.from]), centre(&NODES[edge.to]));
        let start = (a.0 + box_w / 2, a.1);
        let end = (b.0 - box_w / 2, b.1);
        let grey = RGBColor(110, 110, 110);
        root.draw(&PathElement::new(vec![start, end], grey.stroke_width(2))).map_err(e)?;
        // The arrow head, along the edge's direction.
        let (dx, dy) = (f64::from(end.0 - start.0), f64::from(end.1 - start.1));
        let len = dx.hypot(dy).max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let at = |along: f64, across: f64| {
            (
                (f64::from(end.0) - ux * along - uy * across) as i32,
                (f64::from(end.1) - uy * along + ux * across) as i32,
            )
        };
        root.draw(&Polygon::new(vec![end, at(11.0, 5.0), at(11.0, -5.0)], grey.filled())).map_err(e)?;
        let lines: Vec<&str> = edge.fixed.lines().collect();
        if edge.from == 11 {
            // Adam's children fan out: their labels go to the right of the child's box.
            let side = label.clone().pos(Pos::new(HPos::Left, VPos::Center));
            for (k, line) in lines.iter().enumerate() {
                let y = b.1 - 8 + 16 * k as i32;
                root.draw(&Text::new(*line, (b.0 + box_w / 2 + 10, y), side.clone())).map_err(e)?;
            }
        } else if !lines.is_empty() {
            // Above the edge, at a fraction of its length that keeps neighbouring labels apart.
            // (fraction of the length, below the edge instead of above)
            let (t, below) = match edge.to {
                2 => (0.3, false),
                3 => (0.58, false),
                19 => (0.5, true),
                20 => (0.75, true),
                // AdamW → D-Adaptation: between Adam → AdaBelief's edge and SM3's label.
                29 => (0.5, false),
                // The last column: near the child, clear of the labels of Adam's children.
                22.. => (0.72, false),
                _ => (0.5, false),
            };
            let p = (start.0 + (dx * t) as i32, start.1 + (dy * t) as i32);
            let n = lines.len() as i32;
            for (k, line) in lines.iter().enumerate() {
                let y = if below { p.1 + 18 + 15 * k as i32 } else { p.1 - 3 - 15 * (n - 1 - k as i32) };
                root.draw(&Text::new(*line, (p.0, y), label.clone())).map_err(e)?;
            }
        }
    }
    let name = TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    for n in &NODES {
        let (x, y) = centre(n);
        let colour = if n.descent.is_some() { blue } else { RGBColor(120, 120, 120) };
        let corners = [(x - box_w / 2, y - box_h / 2), (x + box_w / 2, y + box_h / 2)];
        root.draw(&Rectangle::new(corners, WHITE.filled())).map_err(e)?;
        root.draw(&Rectangle::new(corners, colour.stroke_width(2))).map_err(e)?;
        root.draw(&Text::new(format!("{} ({})", n.label, n.year), (x, y), name.clone().color(&colour)))
            .map_err(e)?;
    }
    let note = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    root.draw(&Text::new(
        "blue: in descent (heavy ball and Nesterov are SGD's momentum and nesterov, AMSGrad is Adam's amsgrad, L-BFGS is descent::lbfgs)",
        (20, h as i32 - 10),
        note,
    ))
    .map_err(e)?;
    root.present().map_err(e)
}

/// Writes `family_tree.svg` and `family_tree.json` (the nodes and edges).
pub fn write_family_tree(out: &mut Output) -> Result<(), String> {
    out.svg("family_tree.svg", draw)?;
    out.json("family_tree.json", &(&NODES[..], &EDGES[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optimizer_of_descent_is_in_the_tree_and_every_edge_goes_forward() {
        for info in descent_core::OPTIMIZERS {
            assert!(NODES.iter().any(|n| n.descent == Some(info.name)), "{} is missing", info.name);
        }
        for edge in &EDGES {
            let (a, b) = (NODES[edge.from], NODES[edge.to]);
            assert!(a.at.0 < b.at.0, "{} → {} must go right", a.label, b.label);
        }
        // Every node but the root has a parent, and no two nodes share a place.
        for (i, n) in NODES.iter().enumerate().skip(1) {
            assert!(EDGES.iter().any(|e| e.to == i), "{} has no parent", n.label);
            assert!(NODES.iter().filter(|m| m.at == n.at).count() == 1, "{} overlaps", n.label);
        }
    }
}
