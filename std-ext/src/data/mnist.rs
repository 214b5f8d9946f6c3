//! MNIST-style directories: the four standard files (each raw or `.gz`), normalized as the
//! seeds and PyTorch's MNIST example do, (x/255 − 0.1307)/0.3081.

use super::idx::{self, DataError};
use std::path::{Path, PathBuf};

/// Mean of MNIST's training pixels scaled to [0, 1] (the constant of PyTorch's MNIST example).
pub const MNIST_MEAN: f32 = 0.1307;
/// Their standard deviation (same source).
pub const MNIST_STD: f32 = 0.3081;

/// One split: images normalized to f32, labels 0–9.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `n × rows·cols` normalized pixels, row-major.
    pub images: Vec<f32>,
    /// `n` labels.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Number of images.
    pub n: usize,
}

/// Training and test splits.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// `train-*` files.
    pub train: Dataset,
    /// `t10k-*` files.
    pub test: Dataset,
}

/// The bundled subset's place in a source checkout, as it was when this crate was built.
pub fn built_in_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist-10k")
}

/// The default data set: `$DESCENT_DATA` when set (and then only there), else `data/mnist-10k`
/// under the current directory (a checkout, or wherever an installed binary's data was copied),
/// else the bundled subset where this crate was built. The error names every path tried.
pub fn default_dir() -> Result<PathBuf, DataError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    find_default(std::env::var_os("DESCENT_DATA").map(PathBuf::from), &cwd, &built_in_dir())
}

/// [`default_dir`]'s search, given the variable, the current directory and the build-time path.
pub fn find_default(env: Option<PathBuf>, cwd: &Path, built: &Path) -> Result<PathBuf, DataError> {
    if env.as_ref().is_some_and(|d| d.as_os_str().is_empty()) {
        return Err(DataError {
            path: PathBuf::new(),
            problem: "DESCENT_DATA is set but empty: set it to an MNIST directory, or unset it".into(),
        });
    }
    let tried = match env {
        Some(d) => vec![d],
        None => vec![cwd.join("data/mnist-10k"), built.to_path_buf()],
    };
    let holds_data = |d: &Path| {
        ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"].iter().any(|f| d.join(f).is_file())
    };
    match tried.iter().find(|d| holds_data(d)) {
        Some(d) => Ok(d.clone()),
        None => {
            let list: Vec<String> = tried.iter().map(|d| d.display().to_string()).collect();
            Err(DataError {
                path: tried[0].clone(),
                problem: format!(
                    "no MNIST data found (tried {}); pass --data DIR or set DESCENT_DATA",
                    list.join(", ")
                ),
            })
        }
    }
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(stem);
    let gz = dir.join(format!("{stem}.gz"));
    if plain.is_file() {
        Ok(plain)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(DataError { path: gz, problem: format!("missing (neither {stem} nor {stem}.gz exists)") })
    }
}

fn load_split(dir: &Path, images: &str, labels: &str) -> Result<Dataset, DataError> {
    let ip = find(dir, images)?;
    let lp = find(dir, labels)?;
    let img = idx::read(&ip, 3)?;
    let lab = idx::read(&lp, 1)?;
    let (n, rows, cols) = (img.dims[0], img.dims[1], img.dims[2]);
    if lab.dims[0] != n {
        return Err(DataError {
            path: lp,
            problem: format!("{} labels for {n} images in {}", lab.dims[0], ip.display()),
        });
    }
    if let Some(i) = lab.data.iter().position(|&l| l > 9) {
        return Err(DataError {
            path: lp,
            problem: format!("label {} at index {i} is not a digit 0-9", lab.data[i]),
        });
    }
    let images = img.data.iter().map(|&p| (f32::from(p) / 255.0 - MNIST_MEAN) / MNIST_STD).collect();
    Ok(Dataset { images, labels: lab.data, rows, cols, n })
}

impl Mnist {
    /// Loads `dir`: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
    /// `t10k-labels-idx1-ubyte`, each optionally `.gz` (full MNIST, the bundled subset, or
    /// Fashion-MNIST).
    pub fn load(dir: &Path) -> Result<Mnist, DataError> {
        if !dir.is_dir() {
            return Err(DataError { path: dir.to_path_buf(), problem: "not a directory".into() });
        }
        let train = load_split(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?;
        let test = load_split(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(DataError {
                path: dir.to_path_buf(),
                problem: format!(
                    "train images are {}×{}, test images {}×{}",
                    train.rows, train.cols, test.rows, test.cols
                ),
            });
        }
        Ok(Mnist { train, test })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_bundled_subset() {
        let m = Mnist::load(&default_dir().unwrap()).unwrap();
        assert_eq!((m.train.n, m.test.n, m.train.rows, m.train.cols), (8000, 2000, 28, 28));
        assert_eq!(m.train.images.len(), 8000 * 784);
        let mut counts = [0usize; 10];
        for &l in m.train.labels.iter().chain(&m.test.labels) {
            counts[l as usize] += 1;
        }
        // Class counts from data/mnist-10k/README.md.
        assert_eq!(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
        let mean = m.train.images.iter().map(|&v| f64::from(v)).sum::<f64>() / m.train.images.len() as f64;
        // Normalized with MNIST's global mean; this subset's own mean is close to it.
        assert!(mean.abs() < 0.05, "{mean}");
    }

    #[test]
    fn reads_fashion_mnist_when_installed() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.is_dir() {
            eprintln!("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist); skipped");
            return;
        }
        let m = Mnist::load(dir).unwrap();
        assert_eq!((m.train.n, m.test.n), (60000, 10000));
    }

    #[test]
    fn the_default_data_is_searched_in_order_and_the_error_names_every_place() {
        let built = built_in_dir();
        let nowhere = Path::new("/nonexistent-descent");
        assert_eq!(find_default(None, nowhere, &built).unwrap(), built);
        let repo = built.join("../..");
        assert_eq!(find_default(None, &repo, nowhere).unwrap(), repo.join("data/mnist-10k"));
        let e = find_default(None, nowhere, nowhere).unwrap_err().to_string();
        assert!(e.contains("/nonexistent-descent/data/mnist-10k, /nonexistent-descent)"), "{e}");
        // An explicit DESCENT_DATA is the only place looked at.
        let e = find_default(Some(nowhere.into()), &repo, &built).unwrap_err().to_string();
        assert!(e.contains("tried /nonexistent-descent)"), "{e}");
        assert_eq!(find_default(Some(built.clone()), nowhere, nowhere).unwrap(), built);
        let e = find_default(Some(PathBuf::new()), &repo, &built).unwrap_err().to_string();
        assert!(e.contains("DESCENT_DATA is set but empty"), "{e}");
    }

    #[test]
    fn missing_files_are_named() {
        let e = Mnist::load(Path::new("/nonexistent-descent")).unwrap_err();
        assert_eq!(e.problem, "not a directory");
        let e = Mnist::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_err();
        assert!(e.to_string().contains("train-images-idx3-ubyte.gz: missing"), "{e}");
    }
}
