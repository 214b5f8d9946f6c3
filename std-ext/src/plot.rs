//! SVG plots with plotters: line charts (optionally log-scaled), bar charts, and contour maps of
//! 2-D functions with trajectories drawn over them.
//!
//! Built with plotters' SVG backend only (`default-features = false`): text is written as SVG
//! `<text>` elements and laid out by the viewer, so no font library is needed to build.

use plotters::prelude::*;
use std::path::Path;

/// A named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A plotting failure, with the file it concerns.
#[derive(Debug)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError(format!("{}: {e}", path.display()))
}

/// The palette, colour-blind friendly (Okabe–Ito).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.2, hi * 1.2)
    } else if hi == lo {
        (lo - 1.0, hi + 1.0)
    } else {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

/// A line chart of `series` with a title, axis labels, a legend, and optional log scales.
/// Non-finite points (and non-positive ones on a log axis) are left out.
#[allow(clippy::too_many_arguments)]
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
) -> Result<(), PlotError> {
    let e = err(path);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let (x0, x1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), log_x);
    let (y0, y1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), log_y);
    let ok = |p: &&(f64, f64)| {
        p.0.is_finite() && p.1.is_finite() && (!log_x || p.0 > 0.0) && (!log_y || p.1 > 0.0)
    };
    macro_rules! draw {
        ($xr:expr, $yr:expr) => {{
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(65)
                .build_cartesian_2d($xr, $yr)
                .map_err(&e)?;
            chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(&e)?;
            for (i, s) in series.iter().enumerate() {
                let c = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(s.points.iter().filter(ok).copied(), c.stroke_width(2)))
                    .map_err(&e)?
                    .label(s.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(&e)?;
        }};
    }
    match (log_x, log_y) {
        (false, false) => draw!(x0..x1, y0..y1),
        (true, false) => draw!((x0..x1).log_scale(), y0..y1),
        (false, true) => draw!(x0..x1, (y0..y1).log_scale()),
        (true, true) => draw!((x0..x1).log_scale(), (y0..y1).log_scale()),
    }
    root.present().map_err(&e)
}

/// A bar chart of named values, each bar labelled with its value.
pub fn bar_chart(path: &Path, title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<(), PlotError> {
    let e = err(path);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let top = bars.iter().map(|b| b.1).filter(|v| v.is_finite()).fold(0.0, f64::max) * 1.12 + 1e-12;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((0..bars.len()).into_segmented(), 0.0..top)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .y_desc(y_label)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i).cloned().unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .draw()
        .map_err(&e)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let c = PALETTE[i % PALETTE.len()];
            let mut r =
                Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)], c.filled());
            r.set_margin(0, 0, 12, 12);
            r
        }))
        .map_err(&e)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            Text::new(
                format!("{v:.2}"),
                (SegmentValue::CenterOf(i), *v + top * 0.02),
                ("sans-serif", 14).into_font().color(&BLACK),
            )
        }))
        .map_err(&e)?;
    root.present().map_err(&e)
}

/// A filled contour map of `f` over the rectangle (log-spaced colour levels when `log_levels`),
/// with `overlays` drawn as trajectories (lines with a dot at each point) and a legend.
#[allow(clippy::too_many_arguments)]
pub fn contour(
    path: &Path,
    title: &str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    f: impl Fn(f64, f64) -> f64,
    overlays: &[Series],
    log_levels: bool,
) -> Result<(), PlotError> {
    let e = err(path);
    let root = SVGBackend::new(path, (720, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(&e)?;
    chart.configure_mesh().x_desc("x").y_desc("y").disable_mesh().draw().map_err(&e)?;
    const CELLS: usize = 80;
    let (dx, dy) = ((x_range.1 - x_range.0) / CELLS as f64, (y_range.1 - y_range.0) / CELLS as f64);
    let mut values = Vec::with_capacity(CELLS * CELLS);
    for i in 0..CELLS {
        for j in 0..CELLS {
            values.push(f(x_range.0 + (i as f64 + 0.5) * dx, y_range.0 + (j as f64 + 0.5) * dy));
        }
    }
    let tr = |v: f64| {
        if log_levels { (v - values.iter().copied().fold(f64::INFINITY, f64::min) + 1e-3).ln() } else { v }
    };
    let (lo, hi) = values
        .iter()
        .map(|&v| tr(v))
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let levels = 14.0;
    chart
        .draw_series((0..CELLS * CELLS).map(|k| {
            let (i, j) = (k / CELLS, k % CELLS);
            let t = ((tr(values[k]) - lo) / (hi - lo + 1e-300)).clamp(0.0, 1.0);
            let t = (t * levels).floor() / levels;
            let c = RGBColor((255.0 - 200.0 * t) as u8, (255.0 - 120.0 * t) as u8, (255.0 - 40.0 * t) as u8);
            let x = x_range.0 + i as f64 * dx;
            let y = y_range.0 + j as f64 * dy;
            Rectangle::new([(x, y), (x + dx, y + dy)], c.filled())
        }))
        .map_err(&e)?;
    let inside = |p: &&(f64, f64)| {
        p.0.is_finite()
            && p.1.is_finite()
            && p.0 >= x_range.0
            && p.0 <= x_range.1
            && p.1 >= y_range.0
            && p.1 <= y_range.1
    };
    for (i, s) in overlays.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().filter(inside).copied(), c.stroke_width(2)))
            .map_err(&e)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(s.points.iter().filter(inside).map(|&p| Circle::new(p, 2, c.filled())))
            .map_err(&e)?;
    }
    if !overlays.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(&e)?;
    }
    root.present().map_err(&e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_write_svg_with_their_titles() {
        let dir = std::env::temp_dir().join(format!("descent-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = vec![
            Series { name: "adam".into(), points: vec![(1.0, 1.0), (2.0, 0.5), (3.0, 0.2)] },
            Series { name: "sgd".into(), points: vec![(1.0, 2.0), (2.0, f64::NAN), (3.0, 1.0)] },
        ];
        line_chart(&dir.join("l.svg"), "Loss curve", "epoch", "loss", &s, false, true).unwrap();
        bar_chart(&dir.join("b.svg"), "Final accuracy", "%", &[("adam".into(), 92.5), ("sgd".into(), 88.0)])
            .unwrap();
        contour(
            &dir.join("c.svg"),
            "Rosenbrock",
            (-2.0, 2.0),
            (-1.0, 3.0),
            |x, y| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            &s,
            true,
        )
        .unwrap();
        for (f, t) in [("l.svg", "Loss curve"), ("b.svg", "Final accuracy"), ("c.svg", "Rosenbrock")] {
            let svg = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(svg.contains(t) && svg.contains("adam"), "{f}");
        }
    }
}
