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
