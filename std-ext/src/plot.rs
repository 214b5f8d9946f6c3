//! SVG plots with plotters: line charts (optionally log-scaled), bar charts, and contour maps of
//! 2-D functions with trajectories drawn over them.
//!
//! Built with plotters' SVG backend only (`default-features = false`): text is written as SVG
//! `<text>` elements and laid out by the viewer, so no font library is needed to build.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
                    .x_label_area_size(50)
                    .y_label_area_size(75)
                    .build_cartesian_2d($xr, $yr)
                    .map_err(&e)?;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .label_style(TICK_FONT)
                    .axis_desc_style(DESC_FONT)
                    .light_line_style(RGBColor(235, 235, 235))
                    .x_labels(10)
                    .y_labels(10)
                    .x_label_formatter(&|v: &f64| tick(*v, log_x))
                    .y_label_formatter(&|v: &f64| tick(*v, log_y))
                    .draw()
                    .map_err(&e)?;
                for c in &self.curves {
                    let colour = PALETTE[c.colour % PALETTE.len()];
                    let pts: Vec<(f64, f64)> = c.series.points.iter().filter(ok).copied().collect();
                    let style = c.style;
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
                    anno.label(c.series.name.clone()).legend(move |(x, y)| legend_key(style, colour, x, y));
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
                        .legend(move |(x, y)| legend_key(Style::Dashed, colour, x, y));
                }
                chart
                    .configure_series_labels()
                    .position(corner)
                    .label_font(LEGEND_FONT)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()
                    .map_err(&e)?;
            }};
        }
        let log_axis = |lo: f64, hi: f64| {
            let (labels, minor) = log_ticks(lo, hi, 8);
            (lo..hi).log_scale().with_key_points(labels).with_light_points(minor)
        };
        match (log_x, log_y) {
            (false, false) => draw!(x0..x1, y0..y1),
            (true, false) => draw!(log_axis(x0, x1), y0..y1),
            (false, true) => draw!(x0..x1, log_axis(y0, y1)),
            (true, true) => draw!(log_axis(x0, x1), log_axis(y0, y1)),
        }
        root.present().map_err(&e)
    }
}

/// A legend's key for a curve drawn in `style`: a dot for markers, a dashed stroke for dashed
/// curves, a solid one otherwise.
fn legend_key<DB: DrawingBackend>(
    style: Style,
    colour: RGBColor,
    x: i32,
    y: i32,
) -> DynElement<'static, DB, (i32, i32)> {
    match style {
        Style::Points => Circle::new((x + 10, y), 4, colour.filled()).into_dyn(),
        Style::Dashed => {
            DashedPathElement::new(vec![(x, y), (x + 22, y)], 6, 4, colour.stroke_width(2)).into_dyn()
        }
        Style::Line | Style::LinePoints => {
            PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(2)).into_dyn()
        }
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

/// The labelled ticks of a log axis over `[lo, hi]` (`0 < lo < hi`), and the unlabelled minor ones.
///
/// The labels are the densest of the series 1·10ᵏ, {1, 2, 5}·10ᵏ and {1, …, 9}·10ᵏ that gives
/// at most `max` of them inside the range (every m-th power of ten when even the first gives
/// more), so an axis is labelled below its first power of ten, and a range with no power of ten
/// in it still gets labels (down to evenly spaced ones when the range is narrower than a factor of
/// 2.5). The minor ticks are every {1, …, 9}·10ᵏ in range when the labels are powers of ten.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> (Vec<f64>, Vec<f64>) {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return (Vec::new(), Vec::new());
    }
    let series = |mantissas: &[f64]| -> Vec<f64> {
        let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let mut v: Vec<f64> = (k0..=k1)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= lo * (1.0 - 1e-12) && *v <= hi * (1.0 + 1e-12))
            .collect();
        v.dedup();
        v
    };
    let all = series(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    let decades = series(&[1.0]);
    if decades.len() > max {
        // Every m-th power of ten, m from 2, 5, 10, 20, … and the exponents multiples of m.
        let exponent = |v: &f64| v.log10().round() as i64;
        let pick =
            |m: i64| -> Vec<f64> { decades.iter().copied().filter(|v| exponent(v) % m == 0).collect() };
        let every =
            [2, 5, 10, 20, 50, 100, 200, 500].into_iter().find(|m| pick(*m).len() <= max).unwrap_or(1000);
        return (pick(every), decades);
    }
    if decades.len() >= 3 {
        return (decades, all);
    }
    let twos = series(&[1.0, 2.0, 5.0]);
    if twos.len() >= 3 && twos.len() <= max {
        return (twos, all);
    }
    if all.len() >= 3 && all.len() <= max {
        return (all, Vec::new());
    }
    // A narrow range: evenly spaced "nice" values.
    let step = nice_step((hi - lo) / 4.0);
    let first = (lo / step).ceil() * step;
    let labels = (0..).map(|i| first + i as f64 * step).take_while(|v| *v <= hi * (1.0 + 1e-12)).collect();
    (labels, Vec::new())
}

/// The 1, 2 or 5 times a power of ten nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|s| *s >= raw).unwrap_or(10.0 * p)
}

/// Font of tick labels and of axis descriptions.
const TICK_FONT: (&str, u32) = ("sans-serif", 15);
const DESC_FONT: (&str, u32) = ("sans-serif", 16);
const LEGEND_FONT: (&str, u32) = ("sans-serif", 14);

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

/// A bar chart of named values, each bar labelled with its value just above it (never over it).
/// One slot per bar, no empty one.
pub fn bar_chart(path: &Path, title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<(), PlotError> {
    let e = err(path);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let top = bars.iter().map(|b| b.1).filter(|v| v.is_finite()).fold(0.0, f64::max) * 1.15 + 1e-12;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let last = bars.len().max(1) - 1;
    // A discrete range is inclusive: 0..last has one segment per bar.
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((0..last).into_segmented(), 0.0..top)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .y_desc(y_label)
        .label_style(TICK_FONT)
        .axis_desc_style(DESC_FONT)
        .disable_x_mesh()
        .x_labels(bars.len().max(1))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i).cloned().unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .y_label_formatter(&|v: &f64| tick(*v, false))
        .draw()
        .map_err(&e)?;
    let edge = |i: usize| if i <= last { SegmentValue::Exact(i) } else { SegmentValue::Last };
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let c = PALETTE[i % PALETTE.len()];
            let mut r = Rectangle::new([(edge(i), 0.0), (edge(i + 1), *v)], c.filled());
            r.set_margin(0, 0, 14, 14);
            r
        }))
        .map_err(&e)?;
    let above = TextStyle::from(("sans-serif", 15).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            Text::new(format!("{v:.2}"), (SegmentValue::CenterOf(i), *v + top * 0.01), above.clone())
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

/// A map of a 2-D function: contour lines (or, with `fill`, a heat map) with a colour bar, and
/// trajectories, styled curves, labels and marked points drawn over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    /// Title above the map.
    pub title: String,
    /// Axis labels (x, y).
    pub labels: (String, String),
    /// The sampled values.
    pub grid: Grid,
    /// Log-spaced levels above the minimum (for large dynamic ranges).
    pub log_levels: bool,
    /// A heat map (every cell coloured by its value) instead of contour lines.
    pub fill: bool,
    /// Contour lines at these values (default: 14 levels spread over the range; with `fill`, none).
    pub levels: Option<Vec<f64>>,
    /// One unit of x as long as one unit of y on the page (true geometry of a 2-D surface).
    pub equal_aspect: bool,
    /// Label of the colour bar.
    pub colour_label: String,
    /// Paths drawn as lines with a dot at every point.
    pub overlays: Vec<Series>,
    /// Curves drawn in a style, without dots (boundaries of regions, predictions); a colour index
    /// past the palette draws in black.
    pub curves: Vec<Curve>,
    /// Text placed centred at a point (names of regions).
    pub texts: Vec<(String, (f64, f64))>,
    /// Points marked with a cross and a label (minima, start points).
    pub marks: Vec<(String, (f64, f64))>,
}

/// Cells per side of the grid a contour map is traced on.
const CELLS: usize = 100;
/// Contour levels of a map without explicit ones.
const LEVELS: usize = 14;
/// Width (pixels) of the area that holds the colour bar and its labels.
const BAR_AREA: u32 = 120;
/// Pixels left of a map (its y labels), below it (x labels) and above it (the title).
const MAP_LEFT: u32 = 75;
const MAP_BOTTOM: u32 = 55;
const MAP_TITLE: u32 = 44;

/// The viridis colour map at `t` in [0, 1] (dark purple, blue, green, yellow), linearly
/// interpolated between five of its colours.
pub fn viridis(t: f64) -> RGBColor {
    const C: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 1.0 } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let mix = |a: f64, b: f64| (a + f * (b - a)).round() as u8;
    RGBColor(mix(C[i].0, C[i + 1].0), mix(C[i].1, C[i + 1].1), mix(C[i].2, C[i + 1].2))
}

/// A point where a contour crosses a cell edge: (0 horizontal / 1 vertical, i, j) of the edge.
type EdgeKey = (u8, usize, usize);

/// The contour lines at `level` of values on an `nx × ny` lattice (`v[j * nx + i]`, y upwards),
/// by marching squares, joined into polylines of lattice coordinates (x = i, y = j, fractional
/// along the crossed edges). Cells with a non-finite corner are skipped; a saddle cell is
/// resolved by its centre value.
pub fn contour_lines(v: &[f64], nx: usize, ny: usize, level: f64) -> Vec<Vec<(f64, f64)>> {
    use std::collections::HashMap;
    if nx < 2 || ny < 2 || v.len() != nx * ny {
        return Vec::new();
    }
    let at = |i: usize, j: usize| v[j * nx + i];
    let point = |k: EdgeKey| -> (f64, f64) {
        let (a, b, (x0, y0), (dx, dy)) = match k {
            (0, i, j) => (at(i, j), at(i + 1, j), (i as f64, j as f64), (1.0, 0.0)),
            (_, i, j) => (at(i, j), at(i, j + 1), (i as f64, j as f64), (0.0, 1.0)),
        };
        let t = if b == a { 0.5 } else { ((level - a) / (b - a)).clamp(0.0, 1.0) };
        (x0 + t * dx, y0 + t * dy)
    };
    let mut segments: Vec<(EdgeKey, EdgeKey)> = Vec::new();
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let c = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
            if c.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let (bottom, right, top, left) = ((0, i, j), (1, i + 1, j), (0, i, j + 1), (1, i, j));
            let case = c.iter().enumerate().fold(0, |m, (k, x)| m | (usize::from(*x >= level) << k));
            let centre_above = c.iter().sum::<f64>() / 4.0 >= level;
            match case {
                1 | 14 => segments.push((left, bottom)),
                2 | 13 => segments.push((bottom, right)),
                3 | 12 => segments.push((left, right)),
                4 | 11 => segments.push((right, top)),
                6 | 9 => segments.push((bottom, top)),
                7 | 8 => segments.push((left, top)),
                5 if centre_above => segments.extend([(left, top), (bottom, right)]),
                5 => segments.extend([(left, bottom), (right, top)]),
                10 if centre_above => segments.extend([(left, bottom), (right, top)]),
                10 => segments.extend([(left, top), (bottom, right)]),
                _ => {}
            }
        }
    }
    // Join the segments that share an edge crossing into polylines.
    let mut by_key: HashMap<EdgeKey, Vec<usize>> = HashMap::new();
    for (n, (a, b)) in segments.iter().enumerate() {
        by_key.entry(*a).or_default().push(n);
        by_key.entry(*b).or_default().push(n);
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for first in 0..segments.len() {
        if used[first] {
            continue;
        }
        used[first] = true;
        let mut keys = std::collections::VecDeque::from([segments[first].0, segments[first].1]);
        for forward in [true, false] {
            loop {
                let end = if forward { keys[keys.len() - 1] } else { keys[0] };
                let next = by_key.get(&end).and_then(|ns| ns.iter().copied().find(|n| !used[*n]));
                let Some(n) = next else { break };
                used[n] = true;
                let (a, b) = segments[n];
                let other = if a == end { b } else { a };
                if forward {
                    keys.push_back(other);
                } else {
                    keys.push_front(other);
                }
            }
        }
        lines.push(keys.into_iter().map(point).collect());
    }
    lines
}

impl Contour {
    /// A map of `f` sampled on a 100 × 100 grid over the rectangle.
    pub fn of(title: &str, x: (f64, f64), y: (f64, f64), f: impl Fn(f64, f64) -> f64) -> Self {
        Contour::from_grid(title, Grid::sample(x, y, CELLS, CELLS, f))
    }
    /// A contour map of sampled values (interpolated to the tracing grid), in equal aspect.
    pub fn from_grid(title: &str, grid: Grid) -> Self {
        Contour {
            title: title.into(),
            labels: ("x".into(), "y".into()),
            grid,
            log_levels: false,
            fill: false,
            levels: None,
            equal_aspect: true,
            colour_label: String::new(),
            overlays: Vec::new(),
            curves: Vec::new(),
            texts: Vec::new(),
            marks: Vec::new(),
        }
    }
    /// A heat map of sampled values (not in equal aspect: its axes are different quantities).
    pub fn heat_map(title: &str, grid: Grid) -> Self {
        Contour { fill: true, equal_aspect: false, ..Contour::from_grid(title, grid) }
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
            let pts = self.overlays.iter().chain(self.curves.iter().map(|c| &c.series));
            let pts = pts.flat_map(|s| s.points.iter().copied());
            let marks = self.marks.iter().map(|m| m.1);
            pts.chain(marks)
                .filter(|p| (p.0 - c.0).abs() < 0.45 * (x.1 - x.0) && (p.1 - c.1).abs() < 0.35 * (y.1 - y.0))
                .count()
        };
        corners.into_iter().min_by_key(|(_, c)| near(*c)).map_or(SeriesLabelPosition::UpperRight, |c| c.0)
    }

    /// The plotting area in pixels: equal units on both axes when `equal_aspect`.
    fn plot_size(&self) -> (u32, u32) {
        let (w, h) = (self.grid.x.1 - self.grid.x.0, self.grid.y.1 - self.grid.y.0);
        if !(self.equal_aspect && w > 0.0 && h > 0.0) {
            return (560, 420);
        }
        let scale = (600.0 / w).min(480.0 / h);
        (((w * scale).round() as u32).max(120), ((h * scale).round() as u32).max(120))
    }

    /// Writes the map as SVG.
    pub fn write(&self, path: &Path) -> Result<(), PlotError> {
        let e = err(path);
        let grid = &self.grid;
        if grid.nx == 0 || grid.ny == 0 || grid.values.len() != grid.nx * grid.ny {
            return Err(PlotError(format!("{}: empty or inconsistent grid", path.display())));
        }
        let (x_range, y_range) = (grid.x, grid.y);
        // Resample on the tracing lattice, whose points are the centres of CELLS × CELLS cells.
        let (dx, dy) = ((x_range.1 - x_range.0) / CELLS as f64, (y_range.1 - y_range.0) / CELLS as f64);
        let cx = |i: f64| x_range.0 + (i + 0.5) * dx;
        let cy = |j: f64| y_range.0 + (j + 0.5) * dy;
        let values: Vec<f64> = (0..CELLS)
            .flat_map(|j| (0..CELLS).map(move |i| (i, j)))
            .map(|(i, j)| grid.at(cx(i as f64), cy(j as f64)))
            .collect();
        let floor = values.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
        let top = values.iter().copied().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        let log = self.log_levels;
        let offset = 1e-3 * (top - floor).max(1e-300);
        let tr = |v: f64| if log { (v - floor + offset).ln() } else { v };
        let (lo, hi) = (tr(floor), tr(top));
        let unit = |v: f64| ((tr(v) - lo) / (hi - lo + 1e-300)).clamp(0.0, 1.0);
        let levels: Vec<f64> = match &self.levels {
            Some(l) => l.clone(),
            None if self.fill => Vec::new(),
            None => (0..LEVELS)
                .map(|k| lo + (k as f64 + 0.5) / LEVELS as f64 * (hi - lo))
                .map(|t| if log { t.exp() + floor - offset } else { t })
                .collect(),
        };

        let (pw, ph) = self.plot_size();
        let (left, bottom, title_h) = (MAP_LEFT, MAP_BOTTOM, MAP_TITLE);
        let root =
            SVGBackend::new(path, (left + pw + 15 + BAR_AREA, title_h + ph + bottom)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let (head, body) = root.split_vertically(title_h);
        let centred =
            TextStyle::from(("sans-serif", 22).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
        head.draw_text(&self.title, &centred, ((left + pw + 15 + BAR_AREA) as i32 / 2, title_h as i32 / 2))
            .map_err(&e)?;
        let (plot_area, bar_area) = body.split_horizontally(left + pw + 15);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin_right(15)
            .x_label_area_size(bottom)
            .y_label_area_size(left)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(&self.labels.0)
            .y_desc(&self.labels.1)
            .label_style(TICK_FONT)
            .axis_desc_style(DESC_FONT)
            .disable_mesh()
            .x_label_formatter(&|v: &f64| tick(*v, false))
            .y_label_formatter(&|v: &f64| tick(*v, false))
            .draw()
            .map_err(&e)?;
        if self.fill {
            // Cells of one colour along a row are drawn as one rectangle.
            const SHADES: f64 = 64.0;
            let shade = |v: f64| (unit(v) * SHADES).floor().min(SHADES - 1.0) as u8;
            let mut cells = Vec::new();
            for j in 0..CELLS {
                let mut i = 0;
                while i < CELLS {
                    let l = shade(values[j * CELLS + i]);
                    let mut k = i + 1;
                    while k < CELLS && shade(values[j * CELLS + k]) == l {
                        k += 1;
                    }
                    let (x0, y0) = (x_range.0 + i as f64 * dx, y_range.0 + j as f64 * dy);
                    let colour = viridis((f64::from(l) + 0.5) / SHADES);
                    // Each row overlaps the next a little, so no seam shows between them.
                    let y1 = if j + 1 < CELLS { y0 + 1.5 * dy } else { y0 + dy };
                    cells.push(Rectangle::new([(x0, y0), (x_range.0 + k as f64 * dx, y1)], colour.filled()));
                    i = k;
                }
            }
            chart.draw_series(cells).map_err(&e)?;
        }
        for &level in &levels {
            let colour = if self.fill { RGBColor(30, 30, 30) } else { viridis(0.85 * unit(level)) };
            for line in contour_lines(&values, CELLS, CELLS, level) {
                let pts: Vec<(f64, f64)> = line.into_iter().map(|(i, j)| (cx(i), cy(j))).collect();
                chart
                    .draw_series(std::iter::once(PathElement::new(pts, colour.stroke_width(1))))
                    .map_err(&e)?;
            }
        }
        let inside = |p: &&(f64, f64)| {
            p.0.is_finite()
                && p.1.is_finite()
                && p.0 >= x_range.0
                && p.0 <= x_range.1
                && p.1 >= y_range.0
                && p.1 <= y_range.1
        };
        for c in &self.curves {
            // Past the palette: black (boundaries drawn over a heat map).
            let colour = PALETTE.get(c.colour).copied().unwrap_or(BLACK);
            let pts: Vec<(f64, f64)> = c.series.points.iter().filter(inside).copied().collect();
            let style = c.style;
            let anno = match c.style {
                Style::Dashed => {
                    chart.draw_series(DashedLineSeries::new(pts, 6, 4, colour.stroke_width(3))).map_err(&e)?
                }
                Style::Points => {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled()))).map_err(&e)?
                }
                Style::Line | Style::LinePoints => {
                    chart.draw_series(LineSeries::new(pts, colour.stroke_width(3))).map_err(&e)?
                }
            };
            if !c.series.name.is_empty() {
                anno.label(c.series.name.clone()).legend(move |(x, y)| legend_key(style, colour, x, y));
            }
        }
        for (i, s) in self.overlays.iter().enumerate() {
            let c = PALETTE[(self.curves.len() + i) % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().filter(inside).copied(), c.stroke_width(2)))
                .map_err(&e)?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(2)));
            chart
                .draw_series(s.points.iter().filter(inside).map(|&p| Circle::new(p, 2, c.filled())))
                .map_err(&e)?;
        }
        let label = TextStyle::from(("sans-serif", 16).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart
            .draw_series(self.texts.iter().map(|(t, p)| Text::new(t.clone(), *p, label.clone())))
            .map_err(&e)?;
        for (k, (label, p)) in self.marks.iter().enumerate() {
            let c = if k == 0 { BLACK } else { RGBColor(200, 0, 0) };
            chart
                .draw_series(std::iter::once(Cross::new(*p, 6, c.stroke_width(2))))
                .map_err(&e)?
                .label(label.clone())
                .legend(move |(x, y)| Cross::new((x + 10, y), 5, c.stroke_width(2)));
        }
        let labelled = self.curves.iter().any(|c| !c.series.name.is_empty());
        if !self.overlays.is_empty() || !self.marks.is_empty() || labelled {
            chart
                .configure_series_labels()
                .position(self.legend_corner())
                .label_font(LEGEND_FONT)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(&e)?;
        }
        self.colour_bar(&bar_area, ph, (floor, top), &unit, &levels).map_err(&e)?;
        root.present().map_err(&e)
    }

    /// Where a point of the map lands on the page, in pixels from the top left.
    pub fn pixel(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let (pw, ph) = self.plot_size();
        let (gx, gy) = (self.grid.x, self.grid.y);
        (
            f64::from(MAP_LEFT) + (x - gx.0) / (gx.1 - gx.0) * f64::from(pw),
            f64::from(MAP_TITLE) + (1.0 - (y - gy.0) / (gy.1 - gy.0)) * f64::from(ph),
        )
    }

    /// Writes the map with its overlays as [`Contour::write`] does, and over them one dot per
    /// overlay that moves through the overlay's points, one point per frame, `seconds` per pass,
    /// as an SVG (SMIL) animation that browsers play in an `<img>`; a step counter runs along.
    /// Points outside the map are held at its edge.
    pub fn write_animated(&self, path: &Path, seconds: f64) -> Result<(), PlotError> {
        self.write(path)?;
        let e = |x: std::io::Error| PlotError(format!("{}: {x}", path.display()));
        let svg = std::fs::read_to_string(path).map_err(e)?;
        let Some(end) = svg.rfind("</svg>") else {
            return Err(PlotError(format!("{}: no </svg> to append to", path.display())));
        };
        let frames = self.overlays.iter().map(|s| s.points.len()).max().unwrap_or(0);
        let mut anim = String::new();
        let (gx, gy) = (self.grid.x, self.grid.y);
        let clamp = |(x, y): (f64, f64)| (x.clamp(gx.0, gx.1), y.clamp(gy.0, gy.1));
        for (i, s) in self.overlays.iter().enumerate() {
            let c = PALETTE[(self.curves.len() + i) % PALETTE.len()];
            // Hold the last point once a shorter run has ended.
            let at =
                |k: usize| s.points.get(k).or(s.points.last()).copied().map(clamp).map(|p| self.pixel(p));
            let xs: Vec<String> = (0..frames).filter_map(at).map(|p| format!("{:.1}", p.0)).collect();
            let ys: Vec<String> = (0..frames).filter_map(at).map(|p| format!("{:.1}", p.1)).collect();
            anim.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"#{:02x}{:02x}{:02x}\" stroke=\"black\" stroke-width=\"1.5\">\
                 <animate attributeName=\"cx\" values=\"{}\" dur=\"{seconds}s\" calcMode=\"discrete\" repeatCount=\"indefinite\"/>\
                 <animate attributeName=\"cy\" values=\"{}\" dur=\"{seconds}s\" calcMode=\"discrete\" repeatCount=\"indefinite\"/>\
                 </circle>\n",
                xs.first().map_or("0", String::as_str),
                ys.first().map_or("0", String::as_str),
                c.0,
                c.1,
                c.2,
                xs.join(";"),
                ys.join(";"),
            ));
        }
        // The step counter: one text per frame, each visible during its own frame only.
        let (x, y) = self.pixel((self.grid.x.0, self.grid.y.0));
        for k in 0..frames {
            let key = |t: usize| format!("{:.5}", t as f64 / frames as f64);
            anim.push_str(&format!(
                "<text x=\"{:.0}\" y=\"{:.0}\" font-family=\"sans-serif\" font-size=\"16\" visibility=\"hidden\">step {k}\
                 <animate attributeName=\"visibility\" values=\"hidden;visible;hidden\" keyTimes=\"0;{};{}\" \
                 dur=\"{seconds}s\" calcMode=\"discrete\" repeatCount=\"indefinite\"/></text>\n",
                x + 8.0,
                y - 10.0,
                key(k),
                key(k + 1).replace("1.00000", "1"),
            ));
        }
        let out = format!("{}{anim}{}", &svg[..end], &svg[end..]);
        std::fs::write(path, out).map_err(e)
    }

    /// The colour bar beside the map: the colour of every value from the smallest to the largest
    /// (continuous for a heat map, one band per contour level otherwise), with value labels.
    fn colour_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        height: u32,
        (vmin, vmax): (f64, f64),
        unit: &dyn Fn(f64) -> f64,
        levels: &[f64],
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        if !(vmin.is_finite() && vmax.is_finite() && vmax > vmin) {
            return Ok(());
        }
        let (x0, x1, top) = (8i32, 30i32, 0i32);
        let y_of = |t: f64| top + ((1.0 - t) * f64::from(height)).round() as i32;
        const STEPS: usize = 96;
        for k in 0..STEPS {
            let (t0, t1) = (k as f64 / STEPS as f64, (k + 1) as f64 / STEPS as f64);
            let colour = if self.fill { viridis((t0 + t1) / 2.0) } else { viridis(0.85 * (t0 + t1) / 2.0) };
            area.draw(&Rectangle::new([(x0, y_of(t1)), (x1, y_of(t0))], colour.filled()))?;
        }
        area.draw(&Rectangle::new([(x0, y_of(1.0)), (x1, y_of(0.0))], BLACK.stroke_width(1)))?;
        // Lines of the contour levels on the bar.
        for &l in levels {
            let y = y_of(unit(l));
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], WHITE.stroke_width(1)))?;
        }
        let ticks = if self.log_levels {
            // Round values in the range (the levels themselves are spaced from its minimum).
            let (l, _) = log_ticks(vmin.max((vmax - vmin) * 1e-3).max(1e-300), vmax, 7);
            l
        } else {
            let step = nice_step((vmax - vmin) / 6.0);
            let first = (vmin / step).ceil() * step;
            (0..).map(|i| first + i as f64 * step).take_while(|v| *v <= vmax).collect()
        };
        let style = TextStyle::from(TICK_FONT.into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        for v in ticks {
            let y = y_of(unit(v));
            area.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], BLACK.stroke_width(1)))?;
            area.draw(&Text::new(tick(v, false), (x1 + 7, y), style.clone()))?;
        }
        if !self.colour_label.is_empty() {
            let style = TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
            area.draw(&Text::new(self.colour_label.clone(), (2, y_of(0.0) + 8), style))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_are_labelled_below_the_first_power_of_ten_and_without_one() {
        // 0.3 … 50: labels start below 1 (0.5), and powers of ten are all there.
        let (labels, _) = log_ticks(0.3, 50.0, 8);
        assert_eq!(labels, [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        // 0.12 … 0.8: no power of ten in range, still labelled.
        let (labels, _) = log_ticks(0.12, 0.8, 8);
        assert_eq!(labels.len(), 7); // 0.2, 0.3, …, 0.8
        assert!((labels[0] - 0.2).abs() < 1e-15 && (labels[6] - 0.8).abs() < 1e-15);
        let (labels, _) = log_ticks(0.21, 0.29, 8);
        assert!(labels.len() >= 3 && labels.iter().all(|v| (0.21..=0.29).contains(v)), "{labels:?}");
        // 1e-60 … 1e20: every 20th power.
        let (labels, minor) = log_ticks(1e-60, 1e20, 8);
        assert_eq!(labels.len(), 5);
        assert_eq!(minor.len(), 81);
    }

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
        // Contour lines, not cells: no filled raster in a contour map.
        let svg = std::fs::read_to_string(dir.join("c.svg")).unwrap();
        assert!(svg.contains("minimum") && svg.matches("<rect").count() < 200);
        for f in ["l.svg", "b.svg", "c.svg"] {
            std::fs::remove_file(dir.join(f)).ok();
        }
    }
}
