//! `experiments/<run>/`: the resolved config, `metrics.jsonl`, TensorBoard events and
//! checkpoints of one run.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::TrainError;

/// What to do when the run folder already holds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingRun {
    /// Fail, so a finished run is never overwritten by accident.
    Refuse,
    /// Continue it (or start it when it does not exist yet).
    Resume,
}

/// The folder of one training run.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    pub fn open(root: impl Into<PathBuf>, existing: ExistingRun) -> Result<Self, TrainError> {
        let root = root.into();
        let occupied = std::fs::read_dir(&root).is_ok_and(|mut d| d.next().is_some());
        if occupied && existing == ExistingRun::Refuse {
            return Err(TrainError::RunExists { path: root });
        }
        std::fs::create_dir_all(&root).map_err(|e| TrainError::io(&root, e))?;
        Ok(Self { root })
    }

    /// The folder at `root`, left untouched: a data-parallel rank other than 0, which only
    /// reads what rank 0 writes there.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The config the run actually used, after overrides.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    pub fn tensorboard_dir(&self) -> PathBuf {
        self.root.join("tensorboard")
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// Saves the resolved config as `config.yaml`.
    pub fn save_config<T: Serialize>(&self, config: &T) -> Result<(), TrainError> {
        distil_core::config::save_config(config, &self.config_path())?;
        Ok(())
    }
}
