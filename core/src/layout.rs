//! The tensors over one flat parameter buffer: each tensor's offset, shape and group.
//!
//! PyTorch's optimizers see a list of tensors in parameter groups; descent's see one flat buffer
//! of parameters (and one of gradients, and one of state), cut into tensors by a [`Layout`]. A
//! layout is validated once, when it is built: every tensor's length matches its shape, no two
//! tensors overlap, together they cover the buffer, and every tensor names a group that exists.
//!
//! ```
//! use descent_core::layout::{Layout, Tensor};
//!
//! // A 3×4 weight matrix and its bias, in groups 0 and 1: 16 parameters.
//! const MLP: [Tensor; 2] = [Tensor::new(0, &[3, 4], 0), Tensor::new(12, &[4], 1)];
//! let layout = Layout::new(MLP, 16, 2)?;
//! assert_eq!(layout.tensors()[1].range(), 12..16);
//! // A gap, an overlap or a wrong length is refused, naming the tensor.
//! let e = Layout::new([Tensor::new(0, &[3, 4], 0), Tensor::new(13, &[3], 0)], 16, 1).unwrap_err();
//! assert_eq!(e.to_string(), "invalid layout: elements 12..13 belong to no tensor");
//! # Ok::<(), descent_core::Error>(())
//! ```

use crate::error::Error;
use core::ops::Range;

/// Largest number of dimensions a shape may have.
pub const MAX_DIMS: usize = 8;

/// A tensor shape of at most [`MAX_DIMS`] dimensions, row-major. The default is "unshaped": a
/// vector of any length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Shape {
    dims: [usize; MAX_DIMS],
    ndim: usize,
}

impl Shape {
    /// The shape with dimensions `dims`; refuses more than [`MAX_DIMS`].
    pub const fn new(dims: &[usize]) -> Result<Self, Error> {
        if dims.len() > MAX_DIMS {
            return Err(Error::LengthMismatch {
                what: "shape (dimensions)",
                expected: MAX_DIMS,
                found: dims.len(),
            });
        }
        let mut s = Shape { dims: [0; MAX_DIMS], ndim: dims.len() };
        let mut i = 0;
        while i < dims.len() {
            s.dims[i] = dims[i];
            i += 1;
        }
        Ok(s)
    }
    /// A vector of `n` elements (shape `[n]`).
    pub const fn vector(n: usize) -> Self {
        let mut s = Shape { dims: [0; MAX_DIMS], ndim: 1 };
        s.dims[0] = n;
        s
    }
    /// The dimensions (empty when unshaped).
    pub fn dims(&self) -> &[usize] {
        self.dims.get(..self.ndim).unwrap_or(&[])
    }
    /// Number of dimensions (0 when unshaped).
    pub const fn rank(&self) -> usize {
        self.ndim
    }
    /// Number of elements (`None` when unshaped or when the product overflows).
    pub fn numel(&self) -> Option<usize> {
        if self.ndim == 0 {
            return None;
        }
        self.dims().iter().try_fold(1usize, |a, &d| a.checked_mul(d))
    }
    /// For a matrix (rank 2), its rows and columns.
    pub fn matrix(&self) -> Option<(usize, usize)> {
        match *self.dims() {
            [r, c] => Some((r, c)),
            _ => None,
        }
    }
    pub(crate) fn set_raw(&mut self, ndim: usize, dims: impl Iterator<Item = usize>) {
        self.ndim = ndim.min(MAX_DIMS);
        for (d, v) in self.dims.iter_mut().zip(dims).take(self.ndim) {
            *d = v;
        }
    }
    /// Writes the rank and the dimensions.
    pub(crate) fn write(&self, w: &mut crate::persist::Writer<'_>) -> Result<(), Error> {
        w.u8(self.ndim as u8)?;
        self.dims().iter().try_for_each(|&d| w.u64(d as u64))
    }
    /// Reads what [`Shape::write`] wrote.
    pub(crate) fn read(r: &mut crate::persist::Reader<'_>) -> Result<Self, Error> {
        let ndim = usize::from(r.u8()?);
        if ndim > MAX_DIMS {
            return Err(Error::CorruptState { reason: "shape has too many dimensions" });
        }
        let mut dims = [0usize; MAX_DIMS];
        for d in dims.iter_mut().take(ndim) {
            *d = usize::try_from(r.u64()?)
                .map_err(|_| Error::CorruptState { reason: "dimension too large" })?;
        }
        let mut s = Shape::default();
        s.set_raw(ndim, dims.into_iter());
        Ok(s)
    }
}

/// One tensor of a layout: where it starts in the flat buffer, how many elements it has, its
/// shape and its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tensor {
    /// First element in the flat buffer.
    pub offset: usize,
    /// Number of elements (the product of the shape's dimensions).
    pub len: usize,
    /// The shape, row-major (rank 0 means unshaped: a vector of `len` elements; write a scalar as
    /// `[1]`).
    pub shape: Shape,
    /// Index of its group.
    pub group: usize,
}

impl Tensor {
    /// A tensor of `dims` starting at `offset`, in group `group`; its length is the product of
    /// the dimensions. More than [`MAX_DIMS`] dimensions (or a product that overflows) make a
    /// tensor that [`Layout::new`] refuses.
    pub const fn new(offset: usize, dims: &[usize], group: usize) -> Tensor {
        let (shape, len) = match Shape::new(dims) {
            Ok(s) => {
                let mut len = 1usize;
                let mut ok = true;
                let mut i = 0;
                while i < dims.len() {
                    match len.checked_mul(dims[i]) {
                        Some(l) => len = l,
                        None => ok = false,
                    }
                    i += 1;
                }
                (s, if ok { len } else { usize::MAX })
            }
            // Too many dimensions: an impossible length, refused by validation.
            Err(_) => (Shape { dims: [0; MAX_DIMS], ndim: MAX_DIMS + 1 }, usize::MAX),
        };
        Tensor { offset, len, shape, group }
    }
    /// A tensor with an explicit length (checked against the shape by [`Layout::new`]).
    pub const fn with_len(offset: usize, len: usize, shape: Shape, group: usize) -> Tensor {
        Tensor { offset, len, shape, group }
    }
    /// The elements it covers in the flat buffer (empty when the end overflows).
    pub fn range(&self) -> Range<usize> {
        match self.offset.checked_add(self.len) {
            Some(end) => self.offset..end,
            None => self.offset..self.offset,
        }
    }
}

/// What is wrong with a layout (see [`Error::InvalidLayout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutProblem {
    /// The tensor's shape has `shape` elements but its length is `len`.
    ShapeLength {
        /// Elements of the shape (`usize::MAX` when the product overflows or the rank is too high).
        shape: usize,
        /// The tensor's length.
        len: usize,
    },
    /// The tensor overlaps tensor `other`.
    Overlap {
        /// The other tensor.
        other: usize,
    },
    /// The tensor ends past the buffer's end.
    PastEnd {
        /// Where it ends (`usize::MAX` on overflow).
        end: usize,
        /// The buffer's length.
        len: usize,
    },
    /// The tensor names a group that does not exist.
    NoGroup {
        /// The group it names.
        group: usize,
        /// How many groups there are.
        groups: usize,
    },
    /// Elements `start..end` belong to no tensor.
    Gap {
        /// First uncovered element.
        start: usize,
        /// One past the last.
        end: usize,
    },
    /// A layout needs at least one group.
    NoGroups,
}

/// Tensors over a flat buffer of `len` elements, in `groups` groups; validated at construction.
///
/// `T` holds the tensors: an array (`[Tensor; N]`, e.g. from a `const`), a slice
/// (`&[Tensor]`), or, in `std` code, a `Vec<Tensor>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout<T: AsRef<[Tensor]>> {
    tensors: T,
    len: usize,
    groups: usize,
}

/// The layout of one unshaped tensor over the whole buffer, in one group: the flat API.
pub type FlatLayout = Layout<[Tensor; 1]>;

impl FlatLayout {
    /// One vector of `len` elements in group 0.
    pub fn flat(len: usize) -> FlatLayout {
        Layout { tensors: [Tensor { offset: 0, len, shape: Shape::vector(len), group: 0 }], len, groups: 1 }
    }
}

impl<T: AsRef<[Tensor]>> Layout<T> {
    /// Checks and wraps `tensors` over a buffer of `len` elements with `groups` groups. Refuses
    /// (naming the tensor) a shape that does not match the length, a tensor past the end, two
    /// tensors that overlap, elements that belong to no tensor, and a group that does not exist.
    pub fn new(tensors: T, len: usize, groups: usize) -> Result<Self, Error> {
        check(tensors.as_ref(), len, groups)?;
        Ok(Layout { tensors, len, groups })
    }
    /// The tensors.
    pub fn tensors(&self) -> &[Tensor] {
        self.tensors.as_ref()
    }
    /// Elements of the flat buffer.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }
    /// The tensors of group `g`, with their indices.
    pub fn group_tensors(&self, g: usize) -> impl Iterator<Item = (usize, &Tensor)> {
        self.tensors().iter().enumerate().filter(move |(_, t)| t.group == g)
    }
    /// Whether `other` has the same tensors (offsets, lengths, shapes, groups) and group count.
    pub fn same_as<U: AsRef<[Tensor]>>(&self, other: &Layout<U>) -> bool {
        self.len == other.len && self.groups == other.groups && self.tensors() == other.tensors()
    }
    /// Writes the layout (tensor count, group count, each tensor's offset, shape and group).
    pub(crate) fn write(&self, w: &mut crate::persist::Writer<'_>) -> Result<(), Error> {
        w.u64(self.tensors().len() as u64)?;
        w.u64(self.groups as u64)?;
        for t in self.tensors() {
            w.u64(t.offset as u64)?;
            w.u64(t.len as u64)?;
            t.shape.write(w)?;
            w.u64(t.group as u64)?;
        }
        Ok(())
    }
    /// Reads a saved layout and compares it with this one without storing it: refuses another
    /// tensor count, group count, or any tensor that differs, naming the first difference.
    pub(crate) fn check_saved(&self, r: &mut crate::persist::Reader<'_>) -> Result<(), Error> {
        let mismatch = |field, expected: usize, found: u64| Error::StateMismatch {
            field,
            expected: expected as u64,
            found,
        };
        let count = r.u64()?;
        if count != self.tensors().len() as u64 {
            return Err(mismatch("tensor count", self.tensors().len(), count));
        }
        let groups = r.u64()?;
        if groups != self.groups as u64 {
            return Err(mismatch("group count", self.groups, groups));
        }
        for (i, t) in self.tensors().iter().enumerate() {
            let (offset, len) = (r.u64()?, r.u64()?);
            let shape = Shape::read(r)?;
            let group = r.u64()?;
            if offset != t.offset as u64 {
                return Err(Error::LayoutMismatch { tensor: i, field: "offset" });
            }
            if len != t.len as u64 {
                return Err(Error::LayoutMismatch { tensor: i, field: "length" });
            }
            if shape != t.shape {
                return Err(Error::LayoutMismatch { tensor: i, field: "shape" });
            }
            if group != t.group as u64 {
                return Err(Error::LayoutMismatch { tensor: i, field: "group" });
            }
        }
        Ok(())
    }
}

/// The usual convention "no weight decay on biases and norms", as one call: every tensor of rank
/// ≥ 2 (weight matrices, convolution kernels) goes into group `matrices`, every other (biases,
/// norm scales, scalars) into group `others`. Give the `others` group the same configuration
/// with `weight_decay: 0.0`.
///
/// ```
/// use descent_core::layout::{Tensor, group_by_rank};
/// let mut mlp = [Tensor::new(0, &[4, 3], 0), Tensor::new(12, &[3], 0), Tensor::new(15, &[3, 2], 0)];
/// group_by_rank(&mut mlp, 0, 1);
/// assert_eq!(mlp.map(|t| t.group), [0, 1, 0]);
/// ```
pub fn group_by_rank(tensors: &mut [Tensor], matrices: usize, others: usize) {
    for t in tensors {
        t.group = if t.shape.rank() >= 2 { matrices } else { others };
    }
}

fn check(tensors: &[Tensor], len: usize, groups: usize) -> Result<(), Error> {
    let bad = |tensor, problem| Err(Error::InvalidLayout { tensor, problem });
    if groups == 0 {
        return bad(0, LayoutProblem::NoGroups);
    }
    let mut covered = 0usize;
    for (i, t) in tensors.iter().enumerate() {
        let shape = if t.shape.rank() > MAX_DIMS { None } else { t.shape.numel() };
        match shape {
            Some(s) if s == t.len => {}
            // Unshaped tensors take their length as given.
            None if t.shape.rank() == 0 => {}
            s => return bad(i, LayoutProblem::ShapeLength { shape: s.unwrap_or(usize::MAX), len: t.len }),
        }
        let end = t.offset.checked_add(t.len);
        match end {
            Some(e) if e <= len => {}
            _ => return bad(i, LayoutProblem::PastEnd { end: end.unwrap_or(usize::MAX), len }),
        }
        if t.group >= groups {
            return bad(i, LayoutProblem::NoGroup { group: t.group, groups });
        }
        let r = t.range();
        if let Some(other) = tensors[..i]
            .iter()
            .position(|o| !r.is_empty() && r.start < o.range().end && o.range().start < r.end)
        {
            return bad(i, LayoutProblem::Overlap { other });
        }
        covered += t.len;
    }
    if covered != len {
        // No overlap and every tensor inside the buffer, so some element is uncovered: find the
        // first uncovered run.
        let mut start = 0usize;
        while let Some(t) = tensors.iter().find(|t| t.len > 0 && t.offset == start) {
            start += t.len;
        }
        let end = tensors.iter().map(|t| t.offset).filter(|&o| o > start).min().unwrap_or(len);
        return bad(usize::MAX, LayoutProblem::Gap { start, end });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named() {
        let ok = [Tensor::new(0, &[2, 3], 0), Tensor::new(6, &[3], 1)];
        assert!(Layout::new(ok, 9, 2).is_ok());
        let err = |t: &[Tensor], len, groups| Layout::new(t, len, groups).unwrap_err();
        assert_eq!(
            err(&ok, 9, 1),
            Error::InvalidLayout { tensor: 1, problem: LayoutProblem::NoGroup { group: 1, groups: 1 } }
        );
        assert_eq!(
            err(&ok, 8, 2),
            Error::InvalidLayout { tensor: 1, problem: LayoutProblem::PastEnd { end: 9, len: 8 } }
        );
        assert_eq!(
            err(&ok, 10, 2),
            Error::InvalidLayout { tensor: usize::MAX, problem: LayoutProblem::Gap { start: 9, end: 10 } }
        );
        let overlap = [Tensor::new(0, &[2, 3], 0), Tensor::new(5, &[3], 0)];
        assert_eq!(
            err(&overlap, 8, 1),
            Error::InvalidLayout { tensor: 1, problem: LayoutProblem::Overlap { other: 0 } }
        );
        let wrong_len = [Tensor::with_len(0, 5, Shape::new(&[2, 3]).unwrap(), 0)];
        assert_eq!(
            err(&wrong_len, 5, 1),
            Error::InvalidLayout { tensor: 0, problem: LayoutProblem::ShapeLength { shape: 6, len: 5 } }
        );
        let huge = [Tensor::new(0, &[1 << 40, 1 << 40], 0)];
        assert_eq!(
            err(&huge, 5, 1),
            Error::InvalidLayout {
                tensor: 0,
                problem: LayoutProblem::ShapeLength { shape: usize::MAX, len: usize::MAX }
            }
        );
        let too_many = [Tensor::new(0, &[1; 9], 0)];
        assert!(matches!(
            err(&too_many, 1, 1),
            Error::InvalidLayout { tensor: 0, problem: LayoutProblem::ShapeLength { .. } }
        ));
        assert!(matches!(err(&ok, 9, 0), Error::InvalidLayout { problem: LayoutProblem::NoGroups, .. }));
        // Out of order is fine, as long as it covers the buffer.
        let reversed = [Tensor::new(6, &[3], 0), Tensor::new(0, &[2, 3], 0)];
        assert!(Layout::new(reversed, 9, 1).is_ok());
        let gap_first = [Tensor::new(2, &[3], 0)];
        assert_eq!(
            err(&gap_first, 5, 1),
            Error::InvalidLayout { tensor: usize::MAX, problem: LayoutProblem::Gap { start: 0, end: 2 } }
        );
    }
}
