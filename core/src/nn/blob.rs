//! A trained MLP as one little-endian byte blob (what `descent export` writes), read in place:
//! frozen layers run straight from the bytes (from flash, on a device), trainable ones are copied
//! into a [`Dense`].
//!
//! # Format (version 1)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `b"DSMB"` |
//! | 4 | 2 | format version, `u16` (1) |
//! | 6 | 1 | hidden activation: 0 ReLU, 1 tanh, 2 sigmoid (the output layer is linear) |
//! | 7 | 1 | number of layers L (at least 1) |
//! | 8 | 4·(L+1) | layer widths, `u32` each: inputs, hidden…, outputs |
//! | … | … | per layer: W as `f32`, `[OUT][IN]` row-major (PyTorch's `nn.Linear` and [`Dense`]'s layout), then b, `OUT` × `f32` |
//! | end − 4 | 4 | CRC-32 (IEEE) of every preceding byte |

use super::dense::Dense;
use crate::error::{Error, MODEL_VERSION};
use crate::real::Real;

/// The magic bytes that open a model blob.
pub const BLOB_MAGIC: [u8; 4] = *b"DSMB";
/// The current blob format version.
pub const BLOB_VERSION: u16 = 1;
/// Bytes before the layer widths.
const FIXED_HEADER: usize = 8;
/// Bytes of the checksum trailer.
const TRAILER: usize = 4;

/// The hidden-layer activation recorded in a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// max(0, z): [`super::relu`].
    Relu,
    /// tanh z.
    Tanh,
    /// 1/(1 + e^(−z)).
    Sigmoid,
}

impl Activation {
    /// The id stored in a blob.
    pub const fn id(self) -> u8 {
        match self {
            Activation::Relu => 0,
            Activation::Tanh => 1,
            Activation::Sigmoid => 2,
        }
    }
    /// The activation with blob id `id`.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Activation::Relu),
            1 => Some(Activation::Tanh),
            2 => Some(Activation::Sigmoid),
            _ => None,
        }
    }
}

/// A parsed, checked model blob borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct ModelBlob<'a> {
    widths: &'a [[u8; 4]],
    body: &'a [u8],
    activation: Activation,
}

fn corrupt(reason: &'static str) -> Error {
    Error::CorruptModel { reason }
}

fn read_u32(b: &[u8; 4]) -> usize {
    u32::from_le_bytes(*b) as usize
}

impl<'a> ModelBlob<'a> {
    /// Checks `bytes` (length, magic, version, checksum, activation, widths, then that the layers
    /// fill the blob exactly) and returns the blob, or an error naming what is wrong:
    /// [`Error::CorruptModel`] for damaged bytes, [`Error::StateMismatch`] (field
    /// `"model blob version"`) for another format version, [`Error::LengthMismatch`] when the
    /// widths and the parameter bytes disagree.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let body_len = bytes.len().checked_sub(TRAILER).ok_or(corrupt("truncated"))?;
        let (body, crc) = bytes.split_at(body_len);
        let (header, rest) = body.split_at_checked(FIXED_HEADER).ok_or(corrupt("truncated"))?;
        let [m0, m1, m2, m3, v0, v1, activation, layers] =
            <[u8; FIXED_HEADER]>::try_from(header).map_err(|_| corrupt("truncated"))?;
        if [m0, m1, m2, m3] != BLOB_MAGIC {
            return Err(corrupt("bad magic (not a model blob)"));
        }
        let version = u16::from_le_bytes([v0, v1]);
        if version != BLOB_VERSION {
            return Err(Error::StateMismatch {
                field: MODEL_VERSION,
                expected: u64::from(BLOB_VERSION),
                found: u64::from(version),
            });
        }
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let activation = Activation::from_id(activation).ok_or(corrupt("unknown activation id"))?;
        let layers = usize::from(layers);
        if layers == 0 {
            return Err(corrupt("no layers"));
        }
        let (widths, body) =
            rest.split_at_checked(4 * (layers + 1)).ok_or(corrupt("truncated in the layer widths"))?;
        let (widths, _) = widths.as_chunks::<4>();
        let mut needed = 0usize;
        for pair in widths.windows(2) {
            let (i, o) = (read_u32(&pair[0]), read_u32(&pair[1]));
            if i == 0 || o == 0 {
                return Err(corrupt("a layer width is zero"));
            }
            let values = i.checked_add(1).and_then(|v| v.checked_mul(o)).and_then(|v| v.checked_mul(4));
            needed = values.and_then(|v| needed.checked_add(v)).ok_or(corrupt("layer widths overflow"))?;
        }
        if needed != body.len() {
            return Err(Error::LengthMismatch {
                what: "model blob parameters (bytes)",
                expected: needed,
                found: body.len(),
            });
        }
        Ok(ModelBlob { widths, body, activation })
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Width `i`: 0 is the input width, [`ModelBlob::layers`] the output width.
    pub fn width(&self, i: usize) -> Option<usize> {
        self.widths.get(i).map(read_u32)
    }

    /// The hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Layer `index`, which must map `IN` inputs to `OUT` outputs.
    pub fn layer<const IN: usize, const OUT: usize>(
        &self,
        index: usize,
    ) -> Result<FrozenDense<'a, IN, OUT>, Error> {
        let mut at = 0usize;
        for (l, pair) in self.widths.windows(2).enumerate() {
            let (i, o) = (read_u32(&pair[0]), read_u32(&pair[1]));
            // `parse` proved these products fit and sum to the body length.
            let (wlen, blen) = (4 * i * o, 4 * o);
            if l == index {
                if i != IN {
                    return Err(Error::LengthMismatch {
                        what: "model blob layer inputs",
                        expected: IN,
                        found: i,
                    });
                }
                if o != OUT {
                    return Err(Error::LengthMismatch {
                        what: "model blob layer outputs",
                        expected: OUT,
                        found: o,
                    });
                }
                let w = self.body.get(at..at + wlen).ok_or(corrupt("truncated"))?;
                let b = self.body.get(at + wlen..at + wlen + blen).ok_or(corrupt("truncated"))?;
                return Ok(FrozenDense { w: w.as_chunks::<4>().0, b: b.as_chunks::<4>().0 });
            }
            at += wlen + blen;
        }
        Err(Error::LengthMismatch { what: "model blob layer index", expected: self.layers(), found: index })
    }
}

/// A layer read in place from a blob: y = W·x + b without copying W out of the bytes.
#[derive(Debug, Clone, Copy)]
pub struct FrozenDense<'a, const IN: usize, const OUT: usize> {
    w: &'a [[u8; 4]],
    b: &'a [[u8; 4]],
}

impl<const IN: usize, const OUT: usize> FrozenDense<'_, IN, OUT> {
    /// y = W·x + b, summed in the same order as [`Dense::forward`] (so the same bits).
    pub fn forward(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        let mut b = [0.0f32; OUT];
        self.bias_into(&mut b);
        self.forward_with_bias(x, &b, y);
    }

    /// y = W·x + `bias`: the frozen weights with a bias that is trained (fine-tuning a layer's
    /// bias while its weights stay in flash). The same bits as [`FrozenDense::forward`] when
    /// `bias` is the layer's own.
    pub fn forward_with_bias(&self, x: &[f32; IN], bias: &[f32; OUT], y: &mut [f32; OUT]) {
        let f = |w: &[u8; 4]| f32::from_le_bytes(*w);
        let (x4, x_rest) = x.as_chunks::<4>();
        for ((yo, row), &b) in y.iter_mut().zip(self.w.chunks_exact(IN.max(1))).zip(bias) {
            // Four products per iteration, added one after the other: the same sum, in the same
            // order, as one at a time, with a quarter of the loop overhead (on a Cortex-M4F the
            // frozen layer is most of the fine-tuning example's instructions).
            let (w4, w_rest) = row.as_chunks::<4>();
            let mut acc = b;
            for (w, x) in w4.iter().zip(x4) {
                acc += f(&w[0]) * x[0];
                acc += f(&w[1]) * x[1];
                acc += f(&w[2]) * x[2];
                acc += f(&w[3]) * x[3];
            }
            *yo = w_rest.iter().zip(x_rest).fold(acc, |acc, (w, &xi)| acc + f(w) * xi);
        }
    }

    /// The layer's bias.
    pub fn bias_into(&self, bias: &mut [f32; OUT]) {
        for (o, b) in bias.iter_mut().zip(self.b) {
            *o = f32::from_le_bytes(*b);
        }
    }

    /// Copies the layer into `dense` (converted to `T`), e.g. to fine-tune it.
    pub fn load_into<T: Real>(&self, dense: &mut Dense<T, IN, OUT>) {
        let f = |b: &[u8; 4]| T::from_f64(f64::from(f32::from_le_bytes(*b)));
        for (w, b) in dense.w.as_flattened_mut().iter_mut().zip(self.w) {
            *w = f(b);
        }
        for (d, b) in dense.b.iter_mut().zip(self.b) {
            *d = f(b);
        }
    }
}
