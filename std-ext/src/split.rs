//! Labelled data as the training loop sees it: a [`Split`] (a view of `n` examples) and the
//! [`Data`] of a run (training, validation, test).

/// A labelled data set for classification: `n` rows of `inputs` features and a class each.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// Features, `n × inputs`, row-major.
    pub x: &'a [f32],
    /// Classes (cross-entropy) — empty when `values` is used.
    pub y: &'a [u8],
    /// Regression targets, `n × outputs` (MSE) — empty for classification.
    pub values: &'a [f32],
    /// Number of examples.
    pub n: usize,
}

impl<'a> Split<'a> {
    /// The first `k` examples (all of them when `k ≥ n`).
    pub fn head(self, k: usize) -> Split<'a> {
        let k = k.min(self.n);
        let per_x = self.x.len() / self.n.max(1);
        let per_v = self.values.len() / self.n.max(1);
        Split {
            x: &self.x[..k * per_x],
            y: &self.y[..k.min(self.y.len())],
            values: &self.values[..k * per_v],
            n: k,
        }
    }

    /// Splits off the last `fraction` of the examples (rounded to the nearest count) as a
    /// validation set, as Keras's `validation_split` does (before any shuffling). Refuses a
    /// fraction outside [0, 1) or one that leaves either part empty; 0 gives no validation set.
    pub fn hold_out(self, fraction: f64) -> Result<(Split<'a>, Option<Split<'a>>), String> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(format!("the validation fraction must be in [0, 1), got {fraction}"));
        }
        if fraction == 0.0 {
            return Ok((self, None));
        }
        let k = (self.n as f64 * fraction).round() as usize;
        if k == 0 || k >= self.n {
            return Err(format!(
                "a validation fraction of {fraction} of {} examples leaves an empty split",
                self.n
            ));
        }
        let train = self.head(self.n - k);
        let per_x = self.x.len() / self.n;
        let per_v = self.values.len() / self.n;
        let m = train.n;
        let val = Split {
            x: &self.x[m * per_x..],
            y: if self.y.is_empty() { self.y } else { &self.y[m..] },
            values: &self.values[m * per_v..],
            n: k,
        };
        Ok((train, Some(val)))
    }
}

/// The splits of a run.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// Trained on.
    pub train: Split<'a>,
    /// Selects the best epoch (early stopping, best checkpoint, plateau metric) when given.
    pub validation: Option<Split<'a>>,
    /// Reported every epoch; selects the best epoch when there is no validation split.
    pub test: Split<'a>,
}

/// Owned features and targets: classes (`y`) or regression values (`values`); the synthetic data
/// sets of the analyses, or a reordered copy of a [`Split`] ([`Split::validation_last`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owned {
    /// `n × features`, row-major.
    pub x: Vec<f32>,
    /// Classes (classification), else empty.
    pub y: Vec<u8>,
    /// Targets (regression), else empty.
    pub values: Vec<f32>,
    /// Examples.
    pub n: usize,
}

impl Owned {
    /// A [`Split`] view of all of them.
    pub fn split(&self) -> Split<'_> {
        Split { x: &self.x, y: &self.y, values: &self.values, n: self.n }
    }
}

impl Split<'_> {
    /// The examples reordered so that a random `fraction` of them (as many as
    /// [`Split::hold_out`] holds out), chosen by `seed`, come last; each part keeps its order.
    /// [`Split::hold_out`] of the result then holds out a seeded random validation set rather
    /// than the last examples of the files (which may be sorted, e.g. by writer or class).
    pub fn validation_last(self, fraction: f64, seed: u64) -> Result<Owned, String> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let n = self.n;
        if n == 0 || !self.x.len().is_multiple_of(n) || !self.values.len().is_multiple_of(n) {
            return Err("no examples to hold out from".into());
        }
        let k = match self.hold_out(fraction)? {
            (_, Some(v)) => v.n,
            (_, None) => 0,
        };
        let mut order: Vec<usize> = (0..n).collect();
        // Its own stream of the seed: the batches' shuffles derive theirs from the epoch.
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_0F7A_11DA_7E00));
        let mut held = vec![false; n];
        order.iter().take(k).for_each(|&i| held[i] = true);
        let (px, pv) = (self.x.len() / n, self.values.len() / n);
        let mut out = Owned { n, ..Owned::default() };
        for last in [false, true] {
            for i in (0..n).filter(|&i| held[i] == last) {
                out.x.extend_from_slice(&self.x[i * px..(i + 1) * px]);
                out.values.extend_from_slice(&self.values[i * pv..(i + 1) * pv]);
                out.y.extend(self.y.get(i));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_random_validation_set_comes_last_and_the_seed_fixes_it() {
        let x: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let y: Vec<u8> = (0..20).collect();
        let s = Split { x: &x, y: &y, values: &[], n: 20 };
        let e = s.validation_last(0.25, 7).unwrap();
        let (train, val) = e.split().hold_out(0.25).unwrap();
        let (train, val) = (train.y.to_vec(), val.unwrap().y.to_vec());
        assert_eq!((train.len(), val.len()), (15, 5));
        // Not the last five of the files, each part in file order, features with their labels.
        assert_ne!(val, [15, 16, 17, 18, 19]);
        assert!(train.is_sorted() && val.is_sorted());
        let mut all = [train.clone(), val.clone()].concat();
        all.sort();
        assert_eq!(all, y);
        assert!(e.x.chunks(2).zip(&e.y).all(|(f, &c)| f[0] == 2.0 * f32::from(c)));
        assert_eq!(s.validation_last(0.25, 7).unwrap(), e);
        assert_ne!(s.validation_last(0.25, 8).unwrap(), e);
        assert!(s.validation_last(1.0, 7).is_err());
    }
}
