//! The IDX format of MNIST (LeCun et al.): a big-endian header — two zero bytes, a type code
//! (0x08 = unsigned byte), the number of dimensions, one u32 per dimension — then the data.
//! Files may be gzip-compressed (detected by the gzip magic bytes 1f 8b, not by the name).
//!
//! Every check names the file and the problem: magic numbers, dimensions, counts, truncation
//! and trailing bytes.

use flate2::read::GzDecoder;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A problem with a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for DataError {}

/// Largest number of elements accepted (1 GiB of u8), to refuse absurd headers early.
const MAX_ELEMENTS: usize = 1 << 30;

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<u8>,
}

/// Reads a whole file, gunzipping it if it starts with the gzip magic bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let err = |problem: String| DataError { path: path.to_path_buf(), problem };
    let raw = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| err(format!("bad gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes with `expected_dims` dimensions (3 for images, 1 for labels); `path` names
/// the source in errors.
pub fn parse(bytes: &[u8], expected_dims: usize, path: &Path) -> Result<IdxArray, DataError> {
    let err = |problem: String| DataError { path: path.to_path_buf(), problem };
    if bytes.len() < 4 {
        return Err(err(format!("truncated header: {} bytes", bytes.len())));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let expected_magic = 0x0000_0800 | expected_dims as u32;
    if magic != expected_magic {
        return Err(err(format!(
            "bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, {expected_dims} dimensions)"
        )));
    }
    let header = 4 + 4 * expected_dims;
    if bytes.len() < header {
        return Err(err(format!("truncated header: {} bytes, need {header}", bytes.len())));
    }
    let dims: Vec<usize> = (0..expected_dims)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap_or([0; 4])) as usize)
        .collect();
    if expected_dims > 1 && dims[1..].contains(&0) {
        return Err(err(format!("zero-sized dimension in {dims:?}")));
    }
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| err(format!("dimensions {dims:?} are too large")))?;
    let body = &bytes[header..];
    if body.len() < count {
        return Err(err(format!("truncated data: {} bytes, the header announces {count}", body.len())));
    }
    if body.len() > count {
        return Err(err(format!(
            "{} trailing bytes after the {count} the header announces",
            body.len() - count
        )));
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

/// Reads an IDX file (raw or gzip) with `expected_dims` dimensions.
pub fn read(path: &Path, expected_dims: usize) -> Result<IdxArray, DataError> {
    parse(&read_bytes(path)?, expected_dims, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn problem(bytes: &[u8], dims: usize) -> String {
        parse(bytes, dims, Path::new("x.idx")).unwrap_err().to_string()
    }

    #[test]
    fn parses_images_and_labels_raw_and_gzipped() {
        let img = idx(0x803, &[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let a = parse(&img, 3, Path::new("i")).unwrap();
        assert_eq!((a.dims.clone(), a.data.len()), (vec![2, 2, 3], 12));
        let dir = std::env::temp_dir().join(format!("descent-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("imgs.gz");
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&img).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        assert_eq!(read(&p, 3).unwrap(), a);
        std::fs::write(&p, [0x1f, 0x8b, 0, 1, 2]).unwrap();
        assert!(read(&p, 3).unwrap_err().problem.contains("bad gzip"));
        assert!(read(&dir.join("missing"), 3).unwrap_err().problem.contains("cannot read"));
        let lab = idx(0x801, &[3], &[7, 0, 9]);
        assert_eq!(parse(&lab, 1, Path::new("l")).unwrap().data, vec![7, 0, 9]);
    }

    #[test]
    fn every_malformation_is_named() {
        assert!(problem(&[0, 0], 3).contains("truncated header"));
        assert!(problem(&idx(0x801, &[1], &[0]), 3).contains("bad magic"));
        assert!(problem(&idx(0x803, &[1, 2], &[]), 3).contains("truncated header"));
        assert!(problem(&idx(0x803, &[1, 0, 3], &[]), 3).contains("zero-sized"));
        assert!(problem(&idx(0x803, &[2, 2, 2], &[0; 7]), 3).contains("truncated data"));
        assert!(problem(&idx(0x803, &[1, 2, 2], &[0; 5]), 3).contains("trailing"));
        assert!(problem(&idx(0x803, &[65536, 65536, 65536], &[]), 3).contains("too large"));
        assert!(problem(&[0, 0, 8, 3, 0], 3).starts_with("x.idx: truncated header"));
    }
}
