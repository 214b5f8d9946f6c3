//! Where an analysis writes: one directory, CSV and JSON for the numbers, SVG for the plots.
//! Every file goes through a temporary name and a rename, so a failed run leaves no half-written
//! file behind.

use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// An output directory.
#[derive(Debug, Clone)]
pub struct Output {
    dir: PathBuf,
    written: Vec<PathBuf>,
}

impl Output {
    /// Creates `dir` (and its parents) if needed.
    pub fn new(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Output { dir: dir.to_path_buf(), written: Vec::new() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files written so far, in order.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.written.push(path);
        Ok(())
    }

    /// Writes `rows` under `header` as CSV (numbers in full precision, `{}` formatting).
    pub fn csv(&mut self, name: &str, header: &[&str], rows: &[Vec<Cell>]) -> Result<(), String> {
        let mut s = header.join(",");
        s.push('\n');
        for r in rows {
            let line: Vec<String> = r.iter().map(Cell::to_string).collect();
            let _ = writeln!(s, "{}", line.join(","));
        }
        self.put(name, s.as_bytes())
    }

    /// Writes `value` as pretty JSON.
    pub fn json<T: Serialize>(&mut self, name: &str, value: &T) -> Result<(), String> {
        let s = serde_json::to_string_pretty(value).map_err(|e| format!("{name}: {e}"))?;
        self.put(name, s.as_bytes())
    }

    /// Draws an SVG through `draw(path)` into a temporary file, then renames it into place.
    pub fn svg(
        &mut self,
        name: &str,
        draw: impl FnOnce(&Path) -> Result<(), crate::plot::PlotError>,
    ) -> Result<(), String> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp.svg"));
        draw(&tmp).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.written.push(path);
        Ok(())
    }
}

/// One CSV cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number (written with Rust's shortest round-trip formatting).
    Num(f64),
    /// An integer.
    Int(i64),
    /// Text (must not contain commas or newlines).
    Text(String),
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Num(x) => write!(f, "{x}"),
            Cell::Int(x) => write!(f, "{x}"),
            Cell::Text(t) => f.write_str(t),
        }
    }
}

impl From<f64> for Cell {
    fn from(x: f64) -> Self {
        Cell::Num(x)
    }
}
impl From<usize> for Cell {
    fn from(x: usize) -> Self {
        Cell::Int(x as i64)
    }
}
impl From<&str> for Cell {
    fn from(x: &str) -> Self {
        Cell::Text(x.to_string())
    }
}
impl From<String> for Cell {
    fn from(x: String) -> Self {
        Cell::Text(x)
    }
}
impl From<bool> for Cell {
    fn from(x: bool) -> Self {
        Cell::Text(x.to_string())
    }
}

/// A CSV row from cells: `row![a, b, c]`.
#[macro_export]
macro_rules! row {
    ($($x:expr),* $(,)?) => { vec![$($crate::analysis::output::Cell::from($x)),*] };
}
