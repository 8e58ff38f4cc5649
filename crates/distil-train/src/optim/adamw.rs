//! AdamW (Loshchilov & Hutter) written over the student's trainable variables, with the same
//! arithmetic as `torch.optim.AdamW` (single-tensor path), and moments kept in tensors so the
//! whole state can be saved and restored for a bit-exact resume.

use std::collections::HashMap;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::config::OptimizerConfig;
use crate::error::TrainError;

/// Hyper-parameters of one AdamW instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub betas: (f64, f64),
    pub eps: f64,
    /// Applied to parameters with two or more dimensions only (not to biases or norms).
    pub weight_decay: f64,
}

impl From<&OptimizerConfig> for AdamWConfig {
    fn from(cfg: &OptimizerConfig) -> Self {
        Self {
            betas: (cfg.betas[0], cfg.betas[1]),
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
        }
    }
}

struct ParamState {
    name: String,
    param: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    decay: bool,
}

/// AdamW over a fixed, name-sorted list of trainable variables.
pub struct AdamW {
    cfg: AdamWConfig,
    params: Vec<ParamState>,
    /// Optimizer steps taken (torch's per-parameter `step`, shared here).
    step: i64,
}

const STEP_KEY: &str = "step";

impl AdamW {
    /// Takes every variable of `vs` that requires a gradient (frozen ones, such as frozen
    /// position embeddings, are left out), in name order.
    pub fn new(vs: &VarStore, cfg: AdamWConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Self::from_named(vars, cfg)
    }

    /// AdamW over explicit `(name, variable)` pairs.
    pub fn from_named(vars: Vec<(String, Tensor)>, cfg: AdamWConfig) -> Self {
        let params = vars
            .into_iter()
            .map(|(name, param)| ParamState {
                decay: param.dim() >= 2,
                exp_avg: param.zeros_like().detach(),
                exp_avg_sq: param.zeros_like().detach(),
                name,
                param,
            })
            .collect();
        Self {
            cfg,
            params,
            step: 0,
        }
    }

    /// Optimizer steps taken so far.
    pub fn step_count(&self) -> i64 {
        self.step
    }

    /// The variables being optimised.
    pub fn params(&self) -> impl Iterator<Item = &Tensor> {
        self.params.iter().map(|p| &p.param)
    }

    /// Gradients of the variables that received one.
    pub fn grads(&self) -> Vec<Tensor> {
        self.params
            .iter()
            .map(|p| p.param.grad())
            .filter(Tensor::defined)
            .collect()
    }

    /// One update at learning rate `lr`; variables without a gradient are left alone.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let (beta1, beta2) = self.cfg.betas;
        let bias_correction1 = 1.0 - beta1.powi(self.step as i32);
        let bias_correction2_sqrt = (1.0 - beta2.powi(self.step as i32)).sqrt();
        let step_size = lr / bias_correction1;
        let decay_factor = 1.0 - lr * self.cfg.weight_decay;
        tch::no_grad(|| {
            for p in &mut self.params {
                let grad = p.param.grad();
                if !grad.defined() {
                    continue;
                }
                if p.decay && self.cfg.weight_decay != 0.0 {
                    let _ = p.param.g_mul_scalar_(decay_factor);
                }
                let _ = p.exp_avg.lerp_(&grad, 1.0 - beta1);
                let _ = p.exp_avg_sq.g_mul_scalar_(beta2);
                let _ = p
                    .exp_avg_sq
                    .addcmul_(&(&grad * (1.0 - beta2)), &grad.shallow_clone());
                let denom = (p.exp_avg_sq.sqrt() / bias_correction2_sqrt) + self.cfg.eps;
                let _ = p.param.addcdiv_(&(&p.exp_avg * -step_size), &denom);
            }
        });
    }

    /// Clears every gradient before the next accumulation window.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.param.zero_grad();
        }
    }

    /// Writes both moments of every variable and the step count to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let step = Tensor::from_slice(&[self.step]);
        let mut named: Vec<(String, &Tensor)> = Vec::with_capacity(2 * self.params.len() + 1);
        for p in &self.params {
            named.push((format!("exp_avg.{}", p.name), &p.exp_avg));
            named.push((format!("exp_avg_sq.{}", p.name), &p.exp_avg_sq));
        }
        named.push((STEP_KEY.to_string(), &step));
        Tensor::write_safetensors(&named, path).map_err(|e| TrainError::tch(path, e))
    }

    /// Restores the state written by [`AdamW::save`] into this optimizer's tensors; every
    /// variable must be present with its shape.
    pub fn load(&mut self, path: &Path) -> Result<(), TrainError> {
        let mut stored: HashMap<String, Tensor> = Tensor::read_safetensors(path)
            .map_err(|e| TrainError::tch(path, e))?
            .into_iter()
            .collect();
        let bad = |message: String| TrainError::OptimizerState {
            path: path.to_path_buf(),
            message,
        };
        let step = stored
            .remove(STEP_KEY)
            .ok_or_else(|| bad(format!("no `{STEP_KEY}` entry")))?;
        if step.numel() != 1 || step.kind() != Kind::Int64 {
            return Err(bad(format!("`{STEP_KEY}` must be one int64")));
        }
        tch::no_grad(|| -> Result<(), TrainError> {
            for p in &mut self.params {
                for (prefix, moment) in [
                    ("exp_avg", &mut p.exp_avg),
                    ("exp_avg_sq", &mut p.exp_avg_sq),
                ] {
                    let key = format!("{prefix}.{}", p.name);
                    let value = stored
                        .remove(&key)
                        .ok_or_else(|| bad(format!("missing `{key}`")))?;
                    if value.size() != moment.size() {
                        return Err(bad(format!(
                            "`{key}` has shape {:?}, the model needs {:?}",
                            value.size(),
                            moment.size()
                        )));
                    }
                    moment.copy_(&value.to_kind(moment.kind()));
                }
            }
            Ok(())
        })?;
        if let Some(extra) = stored.keys().next() {
            return Err(bad(format!(
                "holds `{extra}`, which is not a trainable variable of this model"
            )));
        }
        self.step = step.int64_value(&[0]);
        Ok(())
    }
}
