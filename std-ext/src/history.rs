//! The per-epoch history of a run, as `descent train --history` writes it and checkpoints keep it.

use serde::{Deserialize, Serialize};

/// One row of the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (as trained, before each step).
    pub train_loss: f64,
    /// Training accuracy in percent (as trained).
    pub train_accuracy: f64,
    /// Test loss after the epoch.
    pub test_loss: f64,
    /// Test accuracy in percent after the epoch.
    pub test_accuracy: f64,
    /// Validation loss after the epoch (only with a validation split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Validation accuracy in percent (only with a validation split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
    /// Learning rate the epoch's last optimizer step used.
    pub lr: f64,
    /// Mean global gradient 2-norm of the epoch's steps (before clipping).
    pub grad_norm: f64,
    /// Seconds of training (not evaluation) in the epoch.
    pub seconds: f64,
}

/// The history file: `{"epochs": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
}
