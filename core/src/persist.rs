//! Saving and restoring state as bytes: a documented, versioned, little-endian format with a
//! CRC-32 checksum, written into a caller-provided `&mut [u8]` (no allocation).
//!
//! # Format (version 1)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `b"DSNT"` |
//! | 4 | 2 | format version, `u16` (1) |
//! | 6 | 1 | kind: what was saved, one byte from the table of [`Kind`] |
//! | 7 | 1 | float width in bytes (4 = f32, 8 = f64; 0 where no floats are stored) |
//! | 8 | 8 | number of parameters `n`, `u64` (sequential: number of segments; other schedules: 0) |
//! | 16 | 8 | step count, `u64` (schedules: their t, or the plateau's `last_epoch`) |
//! | 24 | … | body: hyperparameters and scalar state (each `f64`, `u64` or `u8` in a fixed order per kind), then `u64` count of state values and the values; schedules: their configuration, each schedule led by its tag ([`crate::schedule::SavedSchedule`]) |
//! | end − 4 | 4 | CRC-32 (IEEE) of every preceding byte |
//!
//! Restoring checks, in this order, before anything is modified: length, magic, version, checksum,
//! kind, float width, `n`, then the body (hyperparameters are validated as at construction).

use crate::error::Error;
use crate::real::Real;

/// The magic bytes that open every saved state.
pub const MAGIC: [u8; 4] = *b"DSNT";
/// The current format version.
pub const VERSION: u16 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 24;
/// Size of the checksum trailer.
pub const TRAILER_LEN: usize = 4;

/// Every kind of saved state, and the byte that names it at offset 6 of the header: the one
/// table of kinds. Optimizer rules take ids in [`Kind::RULE_IDS`]; the half- and 8-bit-state
/// wrappers set one bit above them, so no two kinds can share a byte (`Kind::all` and a test
/// check it for every rule).
///
/// | byte | kind |
/// |---|---|
/// | `id` (0x01–0x1F) | an optimizer over one flat slice, f32/f64 state ([`crate::optim::Optim`]) |
/// | `0x20 \| id` | the same, half-precision state ([`crate::half_state`]) |
/// | `0x40` | the dynamic loss scaler ([`crate::grad_scaler`]) |
/// | `0x40 \| id` | the same optimizer, 8-bit state ([`crate::quant_state`]) |
/// | `0x60` | an optimizer over parameter groups ([`crate::optim::group`]; its rule id follows in the body) |
/// | `0x61` | Lookahead around an optimizer ([`crate::optim::lookahead`]; the inner optimizer's saved bytes follow) |
/// | `0x62` | an average of the parameters, SWA or EMA ([`crate::optim::averaged`]) |
/// | `0x63` | SAM around an optimizer ([`crate::optim::sam`]; the outer optimizer's saved bytes follow) |
/// | `0x64` | SparseAdam over a table ([`crate::optim::sparse_adam`]; rows and cols in the body) |
/// | `0x81` | `ReduceLROnPlateau` ([`crate::schedule::ReduceLrOnPlateau`]) |
/// | `0x82` | `SequentialLR` ([`crate::schedule::Sequential`]) |
/// | `0x83` | a schedule driver over one group ([`crate::schedule::Driver`]) |
/// | `0x84` | a schedule driver over several groups |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An optimizer over one flat slice; its rule's id.
    Rule(u8),
    /// An optimizer with half-precision state; its rule's id.
    HalfState(u8),
    /// An optimizer with 8-bit state; its rule's id.
    QuantState(u8),
    /// The dynamic loss scaler.
    GradScaler,
    /// An optimizer over parameter groups.
    Grouped,
    /// Lookahead around an optimizer.
    Lookahead,
    /// An average of the parameters (SWA, EMA).
    Averaged,
    /// SAM around an optimizer.
    Sam,
    /// SparseAdam over a table.
    SparseAdam,
    /// `ReduceLROnPlateau`.
    Plateau,
    /// `SequentialLR`.
    Sequential,
    /// A schedule driver over one group.
    Driver,
    /// A schedule driver over several groups.
    DriverGroups,
}

impl Kind {
    /// The ids a rule may take ([`crate::optim::UpdateRule::ID`]).
    pub const RULE_IDS: core::ops::RangeInclusive<u8> = 1..=0x1F;
    /// The kinds that are not tied to a rule.
    pub const FIXED: [Kind; 10] = [
        Kind::Sam,
        Kind::SparseAdam,
        Kind::GradScaler,
        Kind::Grouped,
        Kind::Lookahead,
        Kind::Averaged,
        Kind::Plateau,
        Kind::Sequential,
        Kind::Driver,
        Kind::DriverGroups,
    ];

    /// The byte in the header.
    pub const fn byte(self) -> u8 {
        match self {
            Kind::Rule(id) => id,
            Kind::HalfState(id) => 0x20 | id,
            Kind::GradScaler => 0x40,
            Kind::QuantState(id) => 0x40 | id,
            Kind::Grouped => 0x60,
            Kind::Lookahead => 0x61,
            Kind::Averaged => 0x62,
            Kind::Sam => 0x63,
            Kind::SparseAdam => 0x64,
            Kind::Plateau => 0x81,
            Kind::Sequential => 0x82,
            Kind::Driver => 0x83,
            Kind::DriverGroups => 0x84,
        }
    }

    /// The kind a header byte names, if any (rule ids are not checked against the rules).
    pub const fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            0x01..=0x1F => Kind::Rule(b),
            0x21..=0x3F => Kind::HalfState(b & 0x1F),
            0x40 => Kind::GradScaler,
            0x41..=0x5F => Kind::QuantState(b & 0x1F),
            0x60 => Kind::Grouped,
            0x61 => Kind::Lookahead,
            0x62 => Kind::Averaged,
            0x63 => Kind::Sam,
            0x64 => Kind::SparseAdam,
            0x81 => Kind::Plateau,
            0x82 => Kind::Sequential,
            0x83 => Kind::Driver,
            0x84 => Kind::DriverGroups,
            _ => return None,
        })
    }
}

/// The fixed header of a saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Optimizer or schedule id.
    pub kind: u8,
    /// Float width in bytes.
    pub float_bytes: u8,
    /// Number of parameters.
    pub n: u64,
    /// Step count.
    pub steps: u64,
}

/// Writes values in order into a byte buffer, or only counts them (`Writer::counting`).
pub struct Writer<'a> {
    out: Option<&'a mut [u8]>,
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer into `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        Writer { out: Some(out), pos: 0 }
    }
    /// A writer that only counts bytes (to compute a saved length).
    pub fn counting() -> Writer<'static> {
        Writer { out: None, pos: 0 }
    }
    /// Bytes written (or counted) so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Writes raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        let end = self.pos + b.len();
        if let Some(out) = self.out.as_deref_mut() {
            let available = out.len();
            let dst = out.get_mut(self.pos..end).ok_or(Error::BufferTooSmall {
                what: "saved state",
                needed: end,
                available,
            })?;
            dst.copy_from_slice(b);
        }
        self.pos = end;
        Ok(())
    }
    /// Bytes the output holds in all (`usize::MAX` when only counting).
    pub fn capacity(&self) -> usize {
        self.out.as_deref().map_or(usize::MAX, <[u8]>::len)
    }
    /// The output not yet written (empty when only counting), for a nested saved state.
    pub fn rest(&mut self) -> &mut [u8] {
        let pos = self.pos;
        self.out.as_deref_mut().and_then(|o| o.get_mut(pos..)).unwrap_or(&mut [])
    }
    /// Counts `k` bytes written directly into [`Writer::rest`].
    pub fn skip(&mut self, k: usize) -> Result<(), Error> {
        let end = self.pos.saturating_add(k);
        let available = self.capacity();
        if end > available {
            return Err(Error::BufferTooSmall { what: "saved state", needed: end, available });
        }
        self.pos = end;
        Ok(())
    }
    /// Writes a `u8`.
    pub fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }
    /// Writes a `bool` as one byte.
    pub fn bool(&mut self, v: bool) -> Result<(), Error> {
        self.u8(u8::from(v))
    }
    /// Writes a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }
    /// Writes a little-endian `f64`.
    pub fn f64(&mut self, v: f64) -> Result<(), Error> {
        self.bytes(&v.to_le_bytes())
    }
    /// Writes a count followed by the values, each little-endian.
    pub fn floats<F: Real>(&mut self, v: &[F]) -> Result<(), Error> {
        self.u64(v.len() as u64)?;
        let mut tmp = [0u8; 8];
        for &x in v {
            x.write_le(&mut tmp);
            self.bytes(tmp.get(..F::BYTES).unwrap_or(&[]))?;
        }
        Ok(())
    }
    /// Writes the header.
    pub fn header(&mut self, h: &Header) -> Result<(), Error> {
        self.bytes(&MAGIC)?;
        self.bytes(&VERSION.to_le_bytes())?;
        self.u8(h.kind)?;
        self.u8(h.float_bytes)?;
        self.u64(h.n)?;
        self.u64(h.steps)
    }
    /// Appends the CRC-32 of everything written so far and returns the total length.
    pub fn finish(mut self) -> Result<usize, Error> {
        let crc = match self.out.as_deref() {
            Some(out) => crc32fast::hash(out.get(..self.pos).unwrap_or(&[])),
            None => 0,
        };
        self.bytes(&crc.to_le_bytes())?;
        Ok(self.pos)
    }
}

/// Bytes a saved state takes whose header and body `write` writes: counted, plus the checksum.
pub(crate) fn saved_len(write: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>) -> usize {
    let mut w = Writer::counting();
    // Counting never fails.
    let _ = write(&mut w);
    w.position() + TRAILER_LEN
}

/// Writes a saved state into `out`: header and body with `write`, then the checksum. Returns the
/// number of bytes written.
pub(crate) fn save(
    out: &mut [u8],
    write: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>,
) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    write(&mut w)?;
    w.finish()
}

/// Opens saved bytes (see [`Reader::open`]), refuses another `kind` ([`Error::StateMismatch`] on
/// field `"kind"`), reads the body with `read` and refuses bytes left over.
pub(crate) fn read_kind<T>(
    bytes: &[u8],
    kind: u8,
    read: impl FnOnce(&Header, &mut Reader<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let (h, mut r) = Reader::open(bytes)?;
    if h.kind != kind {
        return Err(Error::StateMismatch {
            field: "kind",
            expected: u64::from(kind),
            found: u64::from(h.kind),
        });
    }
    let value = read(&h, &mut r)?;
    r.finish()?;
    Ok(value)
}

/// Reads values in order from saved bytes; every read is bounds-checked.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

const TRUNCATED: Error = Error::CorruptState { reason: "truncated" };

impl<'a> Reader<'a> {
    /// Checks length, magic, version and checksum, and returns the header and a reader over the
    /// body (the checksum trailer excluded).
    pub fn open(bytes: &'a [u8]) -> Result<(Header, Reader<'a>), Error> {
        if bytes.len() < HEADER_LEN + TRAILER_LEN {
            return Err(TRUNCATED);
        }
        if bytes.get(..4) != Some(&MAGIC[..]) {
            return Err(Error::CorruptState { reason: "bad magic (not descent state)" });
        }
        let body_end = bytes.len() - TRAILER_LEN;
        let (body, trailer) = bytes.split_at(body_end);
        let stored = u32::from_le_bytes(trailer.try_into().map_err(|_| TRUNCATED)?);
        let mut r = Reader { bytes: body, pos: 4 };
        let version = u16::from_le_bytes([r.u8()?, r.u8()?]);
        if version != VERSION {
            return Err(Error::StateMismatch {
                field: "format version",
                expected: u64::from(VERSION),
                found: u64::from(version),
            });
        }
        if crc32fast::hash(body) != stored {
            return Err(Error::CorruptState { reason: "checksum mismatch" });
        }
        let kind = r.u8()?;
        let float_bytes = r.u8()?;
        let n = r.u64()?;
        let steps = r.u64()?;
        Ok((Header { kind, float_bytes, n, steps }, r))
    }
    /// Bytes read so far (from the start of the saved state).
    pub fn position(&self) -> usize {
        self.pos
    }
    /// A reader over the body of already-validated `bytes`, starting at `pos`.
    pub(crate) fn at(bytes: &'a [u8], pos: usize) -> Reader<'a> {
        let body = bytes.get(..bytes.len().saturating_sub(TRAILER_LEN)).unwrap_or(&[]);
        Reader { bytes: body, pos }
    }
    /// The next `k` raw bytes.
    pub fn take_bytes(&mut self, k: usize) -> Result<&'a [u8], Error> {
        self.take(k)
    }
    fn take(&mut self, k: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(k).ok_or(TRUNCATED)?;
        let s = self.bytes.get(self.pos..end).ok_or(TRUNCATED)?;
        self.pos = end;
        Ok(s)
    }
    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, Error> {
        self.take(1)?.first().copied().ok_or(TRUNCATED)
    }
    /// Reads a `bool` (0 or 1; anything else is corrupt).
    pub fn bool(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::CorruptState { reason: "invalid boolean" }),
        }
    }
    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| TRUNCATED)?))
    }
    /// Reads a little-endian `f64`.
    pub fn f64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().map_err(|_| TRUNCATED)?))
    }
    /// Reads a float count, checks it equals `expected` and that the values are all there, and
    /// returns their raw bytes (copy them with [`copy_floats`] once everything else is checked).
    pub fn floats<F: Real>(&mut self, expected: usize) -> Result<&'a [u8], Error> {
        let count = self.u64()?;
        if count != expected as u64 {
            return Err(Error::StateMismatch {
                field: "state length",
                expected: expected as u64,
                found: count,
            });
        }
        let len = expected.checked_mul(F::BYTES).ok_or(TRUNCATED)?;
        self.take(len)
    }
    /// Fails unless every byte of the body was read.
    pub fn finish(&self) -> Result<(), Error> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(Error::CorruptState { reason: "trailing bytes" })
        }
    }
}

/// Copies little-endian floats (as returned by [`Reader::floats`]) into `dst`.
pub fn copy_floats<F: Real>(raw: &[u8], dst: &mut [F]) {
    for (d, chunk) in dst.iter_mut().zip(raw.chunks_exact(F::BYTES.max(1))) {
        if let Some(v) = F::read_le(chunk) {
            *d = v;
        }
    }
}

/// A value that saves itself into a [`Writer`] and reads itself back from a [`Reader`].
pub trait Persist: Sized {
    /// Writes `self`.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error>;
    /// Reads a value written by [`Persist::write`].
    fn read(r: &mut Reader<'_>) -> Result<Self, Error>;
}

impl Persist for () {
    fn write(&self, _: &mut Writer<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn read(_: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(())
    }
}

/// Implements [`Persist`] for a struct with a `Default` by writing the listed fields in order
/// (`betas.0` reaches into a tuple). Field types: `f64`, `u64`, `bool`, `u8`.
#[macro_export]
#[doc(hidden)]
macro_rules! persist_fields {
    ($t:ty { $($f:ident $(. $i:tt)? : $kind:ident),* $(,)? }) => {
        impl $crate::persist::Persist for $t {
            fn write(&self, w: &mut $crate::persist::Writer<'_>) -> Result<(), $crate::Error> {
                $(w.$kind(self.$f $(.$i)?)?;)*
                Ok(())
            }
            fn read(r: &mut $crate::persist::Reader<'_>) -> Result<Self, $crate::Error> {
                let mut s = <$t as Default>::default();
                $(s.$f $(.$i)? = r.$kind()?;)*
                Ok(s)
            }
        }
    };
}

#[cfg(test)]
mod kind_tests {
    use super::Kind;

    /// Every kind any rule id can make, and the fixed ones, have distinct bytes, and each byte
    /// reads back as its kind.
    #[test]
    fn kinds_never_share_a_byte() {
        let mut seen = [None::<Kind>; 256];
        let rules = Kind::RULE_IDS.flat_map(|id| [Kind::Rule(id), Kind::HalfState(id), Kind::QuantState(id)]);
        for kind in rules.chain(Kind::FIXED) {
            let b = kind.byte();
            assert!(seen[b as usize].is_none(), "{kind:?} and {:?} share byte {b:#04x}", seen[b as usize]);
            seen[b as usize] = Some(kind);
            assert_eq!(Kind::from_byte(b), Some(kind));
        }
        assert_eq!(Kind::from_byte(0), None);
    }
}
