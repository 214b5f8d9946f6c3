//! Checkpoints: model structure, parameters, the optimizer's whole state (through the core's
//! versioned serialization), the schedule's state and the history so far in one file, so a run
//! resumes from it bit-identically.
//!
//! Format: `b"DSCKPT03"`, a little-endian `u32` header length, a JSON header (`sizes`,
//! `activation`, `optimizer` keyword arguments, `groups` (the parameter groups,
//! [`crate::param_groups::GroupsPlan`]), `epoch`, `params`, `state_bytes`, `schedule_bytes`,
//! `best_metric`, `history`, `settings`), the parameters as little-endian f32 (each layer's W
//! `[outputs][inputs]`, then b), the optimizer's saved state, the schedule's saved state, and a
//! CRC-32 of everything before it. Files are written to a temporary name and renamed, so a crash
//! never leaves half a checkpoint. Version 02 (weights `[inputs][outputs]`, one flat optimizer)
//! is refused with a message that says so.

use crate::history::History;
use crate::model::{Activation, Mlp};
use crate::param_groups::{GroupsPlan, build_for_mlp};
use crate::registry::DynOptimizer;
use descent_core::{NonFinitePolicy, Optimizer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

const MAGIC: &[u8; 8] = b"DSCKPT03";

#[derive(Serialize, Deserialize)]
struct Header {
    sizes: Vec<usize>,
    activation: String,
    optimizer: Map<String, Value>,
    #[serde(default)]
    groups: GroupsPlan,
    epoch: usize,
    params: usize,
    state_bytes: usize,
    schedule_bytes: usize,
    /// `null` for infinity (a checkpoint taken before any epoch).
    best_metric: Option<f64>,
    history: History,
    settings: Map<String, Value>,
}

/// A saved model and optimizer.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Layer widths.
    pub sizes: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// The optimizer's keyword arguments (to rebuild it).
    pub optimizer: Map<String, Value>,
    /// Its parameter groups.
    pub groups: GroupsPlan,
    /// Epochs completed.
    pub epoch: usize,
    /// Parameters.
    pub params: Vec<f32>,
    /// The optimizer's saved state ([`Optimizer::save`]).
    pub state: Vec<u8>,
    /// The schedule's saved state ([`crate::train::LrControl::save`]; empty without one).
    pub schedule: Vec<u8>,
    /// The selection loss of `epoch` (infinity before the first epoch).
    pub best_metric: f64,
    /// The history up to `epoch`.
    pub history: History,
    /// Whatever the writer needs to resume (the CLI stores its training flags here).
    pub settings: Map<String, Value>,
}

impl Checkpoint {
    /// Captures a model, its parameters and its optimizer.
    pub fn new(
        model: &Mlp,
        params: &[f32],
        opt: &dyn Optimizer<f32>,
        optimizer: &Map<String, Value>,
        epoch: usize,
    ) -> Result<Self, descent_core::Error> {
        let mut state = vec![0u8; opt.saved_len()];
        opt.save(&mut state)?;
        Ok(Checkpoint {
            sizes: model.sizes().to_vec(),
            activation: model.activation(),
            optimizer: optimizer.clone(),
            groups: GroupsPlan::default(),
            epoch,
            params: params.to_vec(),
            state,
            schedule: Vec::new(),
            best_metric: f64::INFINITY,
            history: History::default(),
            settings: Map::new(),
        })
    }

    /// The checkpoint as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            sizes: self.sizes.clone(),
            activation: self.activation.name().into(),
            optimizer: self.optimizer.clone(),
            groups: self.groups.clone(),
            epoch: self.epoch,
            params: self.params.len(),
            state_bytes: self.state.len(),
            schedule_bytes: self.schedule.len(),
            best_metric: Some(self.best_metric).filter(|m| m.is_finite()),
            history: self.history.clone(),
            settings: self.settings.clone(),
        };
        let h = serde_json::to_vec(&header).unwrap_or_default();
        let mut out =
            Vec::with_capacity(16 + h.len() + 4 * self.params.len() + self.state.len() + self.schedule.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        for p in &self.params {
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&self.state);
        out.extend_from_slice(&self.schedule);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses bytes written by [`Checkpoint::to_bytes`], refusing anything truncated or corrupt.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let body_len = bytes.len().checked_sub(4).ok_or("truncated checkpoint")?;
        let (body, crc) = bytes.split_at(body_len);
        if body.get(..8) == Some(&b"DSCKPT02"[..]) {
            return Err("a checkpoint of an older descent (format 02: weights stored [inputs][outputs], \
                        one flat optimizer); this version reads format 03: train again"
                .into());
        }
        if body.get(..8) != Some(&MAGIC[..]) {
            return Err("not a descent checkpoint (bad magic)".into());
        }
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err("checkpoint checksum mismatch (corrupt file)".into());
        }
        let hl = u32::from_le_bytes(
            body.get(8..12).ok_or("truncated checkpoint")?.try_into().map_err(|_| "truncated")?,
        ) as usize;
        let h: Header = serde_json::from_slice(body.get(12..12 + hl).ok_or("truncated checkpoint header")?)
            .map_err(|e| format!("bad checkpoint header: {e}"))?;
        let mut at = 12 + hl;
        let pbytes = h.params.checked_mul(4).ok_or("bad parameter count")?;
        let mut take = |len: usize, what: &str| {
            let part =
                at.checked_add(len).and_then(|end| body.get(at..end)).ok_or(format!("truncated {what}"));
            at = at.saturating_add(len);
            part
        };
        let praw = take(pbytes, "parameters")?;
        let state = take(h.state_bytes, "optimizer state")?.to_vec();
        let schedule = take(h.schedule_bytes, "schedule state")?.to_vec();
        if at != body.len() {
            return Err("trailing bytes in checkpoint".into());
        }
        let params = praw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let activation = h.activation.parse()?;
        Ok(Checkpoint {
            sizes: h.sizes,
            activation,
            optimizer: h.optimizer,
            groups: h.groups,
            epoch: h.epoch,
            params,
            state,
            schedule,
            best_metric: h.best_metric.unwrap_or(f64::INFINITY),
            history: h.history,
            settings: h.settings,
        })
    }

    /// Writes the checkpoint to `path` (via a temporary file and a rename; on failure the
    /// temporary file is removed and `path` is left as it was).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension("tmp-checkpoint");
        let written = std::fs::write(&tmp, self.to_bytes())
            .map_err(|e| format!("{}: {e}", tmp.display()))
            .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display())));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Rebuilds the model, parameters and optimizer (with its restored state).
    pub fn restore(&self) -> Result<(Mlp, Vec<f32>, DynOptimizer<f32>), String> {
        let model = Mlp::new(&self.sizes, self.activation)?;
        if model.num_params() != self.params.len() {
            return Err(format!(
                "checkpoint has {} parameters, its layer sizes need {}",
                self.params.len(),
                model.num_params()
            ));
        }
        let mut opt = build_for_mlp(&model, &self.optimizer, &self.groups, NonFinitePolicy::Error)
            .map_err(|e| e.to_string())?;
        opt.restore(&self.state).map_err(|e| format!("optimizer state: {e}"))?;
        Ok((model, self.params.clone(), opt))
    }

    /// The parameters to evaluate or ship the model with: for schedule-free SGD and AdamW the
    /// average x computed from the saved parameters and optimizer state
    /// ([`Optimizer::eval_params`]), for every other optimizer the saved parameters.
    pub fn eval_params(&self) -> Result<Vec<f32>, String> {
        let model = Mlp::new(&self.sizes, self.activation)?;
        let opt = build_for_mlp(&model, &self.optimizer, &self.groups, NonFinitePolicy::Error);
        if !opt.as_ref().is_ok_and(|o| o.has_eval_params()) {
            return Ok(self.params.clone());
        }
        let (_, params, opt) = self.restore()?;
        let mut x = vec![0.0f32; params.len()];
        opt.eval_params(&params, &mut x).map_err(|e| format!("evaluation parameters: {e}"))?;
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_save_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("descent-ckpt-save-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("taken")).unwrap();
        let model = Mlp::new(&[2, 2], Activation::Relu).unwrap();
        let kwargs: Map<String, Value> = serde_json::from_str(r#"{"name": "sgd", "lr": 0.1}"#).unwrap();
        let opt = crate::registry::build::<f32>(&kwargs, &[6], 6, NonFinitePolicy::Error).unwrap();
        let c = Checkpoint::new(&model, &[0.0; 6], opt.as_ref(), &kwargs, 0).unwrap();
        // A directory where the file should go: the rename fails.
        assert!(c.save(&dir.join("taken")).is_err());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["taken"]);
        c.save(&dir.join("ok.ckpt")).unwrap();
        assert_eq!(Checkpoint::load(&dir.join("ok.ckpt")).unwrap(), c);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
