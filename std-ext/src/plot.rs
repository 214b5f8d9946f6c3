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

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A solid line.
    #[default]
    Line,
    /// A dashed line (predictions, references).
    Dashed,
    /// Markers only (measurements).
    Points,
    /// A solid line with a marker at every point.
    LinePoints,
}

/// A series with its drawing style.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The data and its legend label.
    pub series: Series,
    /// How to draw it.
    pub style: Style,
    /// Palette index (curves sharing a colour belong together, e.g. measured and predicted).
    pub colour: usize,
}

/// A chart: title, axis labels, log scales, curves, and vertical marker lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The curves, drawn in order.
    pub curves: Vec<Curve>,
    /// Vertical lines at these x values, with their legend labels (e.g. a suggested learning rate).
    pub markers: Vec<(f64, String)>,
    /// Fixed y range instead of the data's (e.g. to keep a diverging run from flattening the rest).
    pub y_range: Option<(f64, f64)>,
}

impl Chart {
    /// A chart with a title and axis labels and no curves yet.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Chart { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), ..Chart::default() }
    }
    /// Sets the log scales.
    pub fn log(mut self, log_x: bool, log_y: bool) -> Self {
        self.log_x = log_x;
        self.log_y = log_y;
        self
    }
    /// Adds a curve in the next palette colour.
    pub fn curve(mut self, series: Series, style: Style) -> Self {
        let colour = self.curves.len();
        self.curves.push(Curve { series, style, colour });
        self
    }
    /// Adds a curve in a chosen palette colour.
    pub fn curve_in(mut self, series: Series, style: Style, colour: usize) -> Self {
        self.curves.push(Curve { series, style, colour });
        self
    }
    /// The legend corner with the fewest data points near it (in the axes' own scales).
    fn legend_corner(&self, x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
        let unit = |v: f64, (lo, hi): (f64, f64), log: bool| {
            if log { (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) } else { (v - lo) / (hi - lo) }
        };
        let pts: Vec<(f64, f64)> = self
            .curves
            .iter()
            .flat_map(|c| c.series.points.iter())
            .map(|p| (unit(p.0, x, self.log_x), unit(p.1, y, self.log_y)))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let corners = [
            (SeriesLabelPosition::UpperRight, (1.0, 1.0)),
            (SeriesLabelPosition::UpperLeft, (0.0, 1.0)),
            (SeriesLabelPosition::LowerRight, (1.0, 0.0)),
            (SeriesLabelPosition::LowerLeft, (0.0, 0.0)),
        ];
        let near =
            |c: (f64, f64)| pts.iter().filter(|p| (p.0 - c.0).abs() < 0.5 && (p.1 - c.1).abs() < 0.4).count();
        corners.into_iter().min_by_key(|(_, c)| near(*c)).map_or(SeriesLabelPosition::UpperRight, |c| c.0)
    }

    /// Writes the chart as SVG. Non-finite points (and non-positive ones on a log axis) are left out.
    pub fn write(&self, path: &Path) -> Result<(), PlotError> {
        let e = err(path);
        let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let points = || self.curves.iter().flat_map(|c| c.series.points.iter());
        let (x0, x1) = range(points().map(|p| p.0).chain(self.markers.iter().map(|m| m.0)), self.log_x);
        let (y0, y1) = self.y_range.unwrap_or_else(|| range(points().map(|p| p.1), self.log_y));
        let (log_x, log_y) = (self.log_x, self.log_y);
        let corner = self.legend_corner((x0, x1), (y0, y1));
        let ok = move |p: &&(f64, f64)| {
            p.0.is_finite()
                && p.1.is_finite()
                && (!log_x || p.0 > 0.0)
                && (!log_y || p.1 > 0.0)
                && p.1 >= y0
                && p.1 <= y1
        };
        macro_rules! draw {
            ($xr:expr, $yr:expr) => {{
                let mut chart = ChartBuilder::on(&root)
                    .caption(&self.title, ("sans-serif", 22))
                    .margin(12)
                    .x_label_area_size(45)
                    .y_label_area_size(70)
                    .build_cartesian_2d($xr, $yr)
                    .map_err(&e)?;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .x_labels(if log_x { 14 } else { 10 })
                    .y_labels(if log_y { 14 } else { 10 })
                    .x_label_formatter(&|v: &f64| tick(*v, log_x))
                    .y_label_formatter(&|v: &f64| tick(*v, log_y))
                    .draw()
                    .map_err(&e)?;
                for c in &self.curves {
                    let colour = PALETTE[c.colour % PALETTE.len()];
                    let pts: Vec<(f64, f64)> = c.series.points.iter().filter(ok).copied().collect();
                    let points_only = c.style == Style::Points;
                    let legend = move |(x, y): (i32, i32)| -> DynElement<'static, SVGBackend, (i32, i32)> {
                        if points_only {
                            Circle::new((x + 10, y), 4, colour.filled()).into_dyn()
                        } else {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)).into_dyn()
                        }
                    };
                    let anno = match c.style {
                        Style::Line | Style::LinePoints => chart
                            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                            .map_err(&e)?,
                        Style::Dashed => chart
                            .draw_series(DashedLineSeries::new(pts.clone(), 6, 4, colour.stroke_width(2)))
                            .map_err(&e)?,
                        Style::Points => chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                            .map_err(&e)?,
                    };
                    anno.label(c.series.name.clone()).legend(legend);
                    if c.style == Style::LinePoints {
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                            .map_err(&e)?;
                    }
                }
                for (i, (x, label)) in self.markers.iter().enumerate() {
                    let colour = PALETTE[(self.curves.len() + i) % PALETTE.len()];
                    chart
                        .draw_series(DashedLineSeries::new(
                            vec![(*x, y0), (*x, y1)],
                            4,
                            4,
                            colour.stroke_width(2),
                        ))
                        .map_err(&e)?
                        .label(label.clone())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .position(corner)
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
}

/// A tick label: short decimals from 0.001 to 100 000, exponent form (`1e-40`) beyond.
fn tick(v: f64, _log: bool) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1e5 || a < 1e-3 {
        let s = format!("{v:.0e}");
        if (s.parse::<f64>().unwrap_or(v) - v).abs() <= 1e-9 * a { s } else { format!("{v:.1e}") }
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
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
    series
        .iter()
        .fold(Chart::new(title, x_label, y_label).log(log_x, log_y), |c, s| c.curve(s.clone(), Style::Line))
        .write(path)
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

/// Values of a function on a regular grid over a rectangle: `values[j * nx + i]` is the value at
/// the centre of cell (i, j), x to the right and y upwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// x range.
    pub x: (f64, f64),
    /// y range.
    pub y: (f64, f64),
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Row-major values, y rows of x cells.
    pub values: Vec<f64>,
}

impl Grid {
    /// Samples `f` at the centres of `nx × ny` cells.
    pub fn sample(x: (f64, f64), y: (f64, f64), nx: usize, ny: usize, f: impl Fn(f64, f64) -> f64) -> Grid {
        let (dx, dy) = ((x.1 - x.0) / nx as f64, (y.1 - y.0) / ny as f64);
        let values = (0..ny)
            .flat_map(|j| (0..nx).map(move |i| (i, j)))
            .map(|(i, j)| f(x.0 + (i as f64 + 0.5) * dx, y.0 + (j as f64 + 0.5) * dy))
            .collect();
        Grid { x, y, nx, ny, values }
    }

    /// Bilinear interpolation between cell centres (clamped at the edges).
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let fx =
            ((x - self.x.0) / (self.x.1 - self.x.0) * self.nx as f64 - 0.5).clamp(0.0, (self.nx - 1) as f64);
        let fy =
            ((y - self.y.0) / (self.y.1 - self.y.0) * self.ny as f64 - 0.5).clamp(0.0, (self.ny - 1) as f64);
        let (i, j) = (fx.floor() as usize, fy.floor() as usize);
        let (i1, j1) = ((i + 1).min(self.nx - 1), (j + 1).min(self.ny - 1));
        let (tx, ty) = (fx - i as f64, fy - j as f64);
        let v = |i: usize, j: usize| self.values[j * self.nx + i];
        (1.0 - ty) * ((1.0 - tx) * v(i, j) + tx * v(i1, j)) + ty * ((1.0 - tx) * v(i, j1) + tx * v(i1, j1))
    }
}

/// A filled contour map with trajectories and marked points drawn over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    /// Title above the map.
    pub title: String,
    /// Axis labels (x, y).
    pub labels: (String, String),
    /// The sampled values.
    pub grid: Grid,
    /// Log-spaced colour levels above the minimum (for large dynamic ranges).
    pub log_levels: bool,
    /// Paths drawn as lines with a dot at every point.
    pub overlays: Vec<Series>,
    /// Points marked with a cross and a label (minima, start points).
    pub marks: Vec<(String, (f64, f64))>,
}

/// Cells per side of a contour map.
const CELLS: usize = 80;
/// Colour levels of a contour map.
const LEVELS: f64 = 14.0;

impl Contour {
    /// A map of `f` sampled on an 80 × 80 grid over the rectangle.
    pub fn of(title: &str, x: (f64, f64), y: (f64, f64), f: impl Fn(f64, f64) -> f64) -> Self {
        Contour::from_grid(title, Grid::sample(x, y, CELLS, CELLS, f))
    }
    /// A map of sampled values (interpolated to the drawing resolution).
    pub fn from_grid(title: &str, grid: Grid) -> Self {
        Contour {
            title: title.into(),
            labels: ("x".into(), "y".into()),
            grid,
            log_levels: false,
            overlays: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The legend corner with the fewest overlay points near it.
    fn legend_corner(&self) -> SeriesLabelPosition {
        let (x, y) = (self.grid.x, self.grid.y);
        let corners = [
            (SeriesLabelPosition::UpperRight, (x.1, y.1)),
            (SeriesLabelPosition::UpperLeft, (x.0, y.1)),
            (SeriesLabelPosition::LowerRight, (x.1, y.0)),
            (SeriesLabelPosition::LowerLeft, (x.0, y.0)),
        ];
        let near = |c: (f64, f64)| {
            let pts = self.overlays.iter().flat_map(|s| s.points.iter().copied());
            let marks = self.marks.iter().map(|m| m.1);
            pts.chain(marks)
                .filter(|p| (p.0 - c.0).abs() < 0.45 * (x.1 - x.0) && (p.1 - c.1).abs() < 0.35 * (y.1 - y.0))
                .count()
        };
        corners.into_iter().min_by_key(|(_, c)| near(*c)).map_or(SeriesLabelPosition::UpperRight, |c| c.0)
    }

    /// Writes the map as SVG. Cells of one colour along a row are drawn as one rectangle.
    pub fn write(&self, path: &Path) -> Result<(), PlotError> {
        let e = err(path);
        let grid = &self.grid;
        if grid.nx == 0 || grid.ny == 0 || grid.values.len() != grid.nx * grid.ny {
            return Err(PlotError(format!("{}: empty or inconsistent grid", path.display())));
        }
        let (x_range, y_range) = (grid.x, grid.y);
        let root = SVGBackend::new(path, (720, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(&self.labels.0)
            .y_desc(&self.labels.1)
            .disable_mesh()
            .draw()
            .map_err(&e)?;
        let (dx, dy) = ((x_range.1 - x_range.0) / CELLS as f64, (y_range.1 - y_range.0) / CELLS as f64);
        let cx = |i: usize| x_range.0 + (i as f64 + 0.5) * dx;
        let cy = |j: usize| y_range.0 + (j as f64 + 0.5) * dy;
        let values: Vec<f64> = (0..CELLS)
            .flat_map(|j| (0..CELLS).map(move |i| (i, j)))
            .map(|(i, j)| grid.at(cx(i), cy(j)))
            .collect();
        let floor = values.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
        let log = self.log_levels;
        let tr = |v: f64| if log { (v - floor + 1e-3).ln() } else { v };
        let (lo, hi) = values
            .iter()
            .map(|&v| tr(v))
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let level = |v: f64| {
            let t = ((tr(v) - lo) / (hi - lo + 1e-300)).clamp(0.0, 1.0);
            if t.is_finite() { (t * LEVELS).floor().min(LEVELS - 1.0) as u8 } else { LEVELS as u8 - 1 }
        };
        // Low values dark, high values light (a sequential blue scale).
        let colour = |l: u8| {
            let t = 1.0 - f64::from(l) / (LEVELS - 1.0);
            RGBColor((250.0 - 210.0 * t) as u8, (250.0 - 150.0 * t) as u8, (252.0 - 80.0 * t) as u8)
        };
        let mut cells = Vec::new();
        for j in 0..CELLS {
            let mut i = 0;
            while i < CELLS {
                let l = level(values[j * CELLS + i]);
                let mut k = i + 1;
                while k < CELLS && level(values[j * CELLS + k]) == l {
                    k += 1;
                }
                let (x0, y0) = (x_range.0 + i as f64 * dx, y_range.0 + j as f64 * dy);
                cells.push(Rectangle::new(
                    [(x0, y0), (x_range.0 + k as f64 * dx, y0 + dy)],
                    colour(l).filled(),
                ));
                i = k;
            }
        }
        chart.draw_series(cells).map_err(&e)?;
        let inside = |p: &&(f64, f64)| {
            p.0.is_finite()
                && p.1.is_finite()
                && p.0 >= x_range.0
                && p.0 <= x_range.1
                && p.1 >= y_range.0
                && p.1 <= y_range.1
        };
        for (i, s) in self.overlays.iter().enumerate() {
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
        for (k, (label, p)) in self.marks.iter().enumerate() {
            let c = if k == 0 { BLACK } else { RGBColor(200, 0, 0) };
            chart
                .draw_series(std::iter::once(Cross::new(*p, 6, c.stroke_width(2))))
                .map_err(&e)?
                .label(label.clone())
                .legend(move |(x, y)| Cross::new((x + 10, y), 5, c.stroke_width(2)));
        }
        if !self.overlays.is_empty() || !self.marks.is_empty() {
            chart
                .configure_series_labels()
                .position(self.legend_corner())
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(&e)?;
        }
        root.present().map_err(&e)
    }
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
        let mut map = Contour::of("Rosenbrock", (-2.0, 2.0), (-1.0, 3.0), |x, y| {
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        });
        map.overlays = s.clone();
        map.log_levels = true;
        map.marks.push(("minimum".into(), (1.0, 1.0)));
        map.write(&dir.join("c.svg")).unwrap();
        for (f, t) in [("l.svg", "Loss curve"), ("b.svg", "Final accuracy"), ("c.svg", "Rosenbrock")] {
            let svg = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(svg.contains(t) && svg.contains("adam"), "{f}");
        }
        // The contour map's cells of one colour along a row are merged: far fewer than 80 × 80.
        let svg = std::fs::read_to_string(dir.join("c.svg")).unwrap();
        assert!(svg.contains("minimum") && svg.matches("<rect").count() < 80 * 80 / 2);
        for f in ["l.svg", "b.svg", "c.svg"] {
            std::fs::remove_file(dir.join(f)).ok();
        }
    }
}
