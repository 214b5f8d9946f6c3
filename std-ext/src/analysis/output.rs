//! Where an analysis writes: one directory, CSV and JSON for the numbers, SVG for the plots.
//! Files are written under temporary names and renamed into place together by
//! [`Output::commit`]; an output dropped without it (the analysis failed) removes what it wrote,
//! and the directories it created, so a failed run leaves nothing behind.

use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// An output directory.
#[derive(Debug)]
pub struct Output {
    dir: PathBuf,
    /// The directories this output created, outermost first.
    created: Vec<PathBuf>,
    /// (temporary, final) names of the files written.
    staged: Vec<(PathBuf, PathBuf)>,
    written: Vec<PathBuf>,
}

impl Output {
    /// An output into `dir`, created (with its parents) when the first file is written.
    pub fn new(dir: &Path) -> Result<Self, String> {
        Ok(Output { dir: dir.to_path_buf(), created: Vec::new(), staged: Vec::new(), written: Vec::new() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files written so far, in order (in place once [`Output::commit`]ted).
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Renames every file into place.
    pub fn commit(&mut self) -> Result<(), String> {
        while let Some((tmp, path)) = self.staged.first().cloned() {
            std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.staged.remove(0);
        }
        self.created.clear();
        Ok(())
    }

    /// A temporary name for `name` in the directory, which is created if needed.
    fn stage(&mut self, name: &str, suffix: &str) -> Result<PathBuf, String> {
        if !self.dir.is_dir() {
            let missing: Vec<PathBuf> = self
                .dir
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .map(Path::to_path_buf)
                .collect();
            std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
            self.created.extend(missing.into_iter().rev());
        }
        let (tmp, path) = (self.dir.join(format!(".{name}.tmp{suffix}")), self.dir.join(name));
        self.staged.push((tmp.clone(), path.clone()));
        self.written.push(path);
        Ok(tmp)
    }

    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let tmp = self.stage(name, "")?;
        std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))
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

    /// Draws an SVG through `draw(path)` into its temporary file.
    pub fn svg(
        &mut self,
        name: &str,
        draw: impl FnOnce(&Path) -> Result<(), crate::plot::PlotError>,
    ) -> Result<(), String> {
        let tmp = self.stage(name, ".svg")?;
        draw(&tmp).map_err(|e| e.to_string())
    }
}

impl Drop for Output {
    /// Without a commit: removes the temporary files and the directories this output created.
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
        for d in self.created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
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
