//! The IDX format of MNIST (LeCun et al.): a big-endian header — two zero bytes, a type code
//! (0x08 = unsigned byte), the number of dimensions, one u32 per dimension — then the data.
//! Files may be gzip-compressed, in one member or several (detected by the gzip magic bytes 1f 8b,
//! not by the name).
//!
//! Every check names the file and the problem: magic numbers, dimensions, counts, truncation
//! and trailing bytes.

use flate2::read::MultiGzDecoder;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
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
        if self.path.as_os_str().is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path.display(), self.problem)
        }
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

/// Parses IDX bytes with `expected_dims` dimensions (3 for images, 1 for labels); `path` names
/// the source in errors.
pub fn parse(bytes: &[u8], expected_dims: usize, path: &Path) -> Result<IdxArray, DataError> {
    from_reader(bytes, expected_dims, path, false)
}

/// Reads an IDX file (raw or gzip: one or more gzip members, as `gzip` and `cat a.gz b.gz` make)
/// with `expected_dims` dimensions. The header is read first and the data only up to the size it
/// announces, so a small compressed file that expands to gigabytes is refused after reading at
/// most 1 GiB of data (and 1 MiB past it), not decompressed whole.
pub fn read(path: &Path, expected_dims: usize) -> Result<IdxArray, DataError> {
    let err = |problem: String| DataError { path: path.to_path_buf(), problem };
    let mut file = BufReader::new(File::open(path).map_err(|e| err(format!("cannot read: {e}")))?);
    let gzip = file.fill_buf().map_err(|e| err(format!("cannot read: {e}")))?.starts_with(&[0x1f, 0x8b]);
    if gzip {
        from_reader(MultiGzDecoder::new(file), expected_dims, path, true)
    } else {
        from_reader(file, expected_dims, path, false)
    }
}

/// How far past the announced data trailing bytes are counted.
const TRAILING_LIMIT: u64 = 1 << 20;

/// The header, then exactly the data it announces, then nothing (`gzip`: `r` inflates).
fn from_reader(
    mut r: impl Read,
    expected_dims: usize,
    path: &Path,
    gzip: bool,
) -> Result<IdxArray, DataError> {
    let err = |problem: String| DataError { path: path.to_path_buf(), problem };
    let io = |e: std::io::Error| err(format!("{}: {e}", if gzip { "bad gzip data" } else { "cannot read" }));
    let mut header = Vec::new();
    (&mut r).take(4).read_to_end(&mut header).map_err(io)?;
    if header.len() < 4 {
        return Err(err(format!("truncated header: {} bytes", header.len())));
    }
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let expected_magic = 0x0000_0800 | expected_dims as u32;
    if magic != expected_magic {
        return Err(err(format!(
            "bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, {expected_dims} dimensions)"
        )));
    }
    let header_len = 4 + 4 * expected_dims;
    (&mut r).take(4 * expected_dims as u64).read_to_end(&mut header).map_err(io)?;
    if header.len() < header_len {
        return Err(err(format!("truncated header: {} bytes, need {header_len}", header.len())));
    }
    let dims: Vec<usize> =
        header[4..].chunks_exact(4).map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize).collect();
    if expected_dims > 1 && dims[1..].contains(&0) {
        return Err(err(format!("zero-sized dimension in {dims:?}")));
    }
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| err(format!("dimensions {dims:?} are too large")))?;
    let mut data = Vec::new();
    data.try_reserve_exact(count)
        .map_err(|_| err(format!("cannot allocate the {count} bytes the header announces")))?;
    (&mut r).take(count as u64).read_to_end(&mut data).map_err(io)?;
    if data.len() < count {
        return Err(err(format!("truncated data: {} bytes, the header announces {count}", data.len())));
    }
    // Count what follows, up to a limit (a crafted file may go on for gigabytes).
    let extra = std::io::copy(&mut r.take(TRAILING_LIMIT), &mut std::io::sink()).map_err(io)?;
    if extra > 0 {
        let more = if extra == TRAILING_LIMIT { "at least " } else { "" };
        return Err(err(format!("{more}{extra} trailing bytes after the {count} the header announces")));
    }
    Ok(IdxArray { dims, data })
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

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn multi_member_gzip_is_read_whole_and_a_bomb_is_not_inflated() {
        let dir = std::env::temp_dir().join(format!("descent-idx-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("two-members.gz");
        // `cat a.gz b.gz`: one file, two gzip members (valid; `gzip -t` passes).
        let img = idx(0x803, &[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let mut two = gz(&img[..10]);
        two.extend(gz(&img[10..]));
        std::fs::write(&p, &two).unwrap();
        assert_eq!(read(&p, 3).unwrap().data, img[16..]);
        // 4 announced bytes, then 64 MiB of zeros compressed to ~64 KiB: refused after reading
        // 1 MiB past the data, not after inflating all of it.
        let mut bomb = idx(0x803, &[1, 2, 2], &[0; 4]);
        bomb.resize(bomb.len() + (64 << 20), 0);
        std::fs::write(&p, gz(&bomb)).unwrap();
        let e = read(&p, 3).unwrap_err().problem;
        assert_eq!(e, "at least 1048576 trailing bytes after the 4 the header announces");
        // A header announcing more than the file holds.
        std::fs::write(&p, gz(&idx(0x803, &[1000, 28, 28], &[0; 10]))).unwrap();
        assert!(read(&p, 3).unwrap_err().problem.starts_with("truncated data: 10 bytes"));
        std::fs::remove_dir_all(&dir).unwrap();
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
