//! AdamW (Loshchilov & Hutter) over the student's trainable variables with the arithmetic of
//! `torch.optim.AdamW`, run by libtorch's multi-tensor kernels ([`AdamWKernel`]), and moments
//! kept in tensors so the whole state can be saved and restored for a bit-exact resume. The
//! state on disk does not depend on the kernel, so a run resumes across a change of kernel.

use std::collections::HashMap;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::adamw_kernel::AdamWKernel;
use super::ffi::{self, AdamWScalars, AdamWTensors};
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
    kernel: AdamWKernel,
    /// `step` as the 0-dim float32 tensor on the parameters' device that the fused kernel
    /// reads (written from the host each step, which needs no synchronisation).
    device_step: Tensor,
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

    /// AdamW over explicit `(name, variable)` pairs, all on one device, with the kernel
    /// [`AdamWKernel::for_device`] picks for it.
    pub fn from_named(vars: Vec<(String, Tensor)>, cfg: AdamWConfig) -> Self {
        let device = vars.first().map_or(Device::Cpu, |(_, t)| t.device());
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
            kernel: AdamWKernel::for_device(device),
            device_step: Tensor::zeros([], (Kind::Float, device)),
        }
    }

    /// The same optimizer run by `kernel` instead of the device's default.
    pub fn with_kernel(mut self, kernel: AdamWKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The kernel that runs the update.
    pub fn kernel(&self) -> AdamWKernel {
        self.kernel
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

    /// One update at learning rate `lr`; variables without a gradient are left alone. Weight
    /// decay goes to the variables with two or more dimensions, as a second parameter group
    /// would in torch. Nothing is read back from the device.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        if self.kernel == AdamWKernel::Fused {
            tch::no_grad(|| {
                let _ = self.device_step.fill_(self.step as f64);
            });
        }
        for decay in [true, false] {
            let group = Group::collect(self.params.iter().filter(|p| p.decay == decay));
            if group.params.is_empty() {
                continue;
            }
            let scalars = AdamWScalars {
                lr,
                beta1: self.cfg.betas.0,
                beta2: self.cfg.betas.1,
                weight_decay: if decay { self.cfg.weight_decay } else { 0.0 },
                eps: self.cfg.eps,
            };
            let tensors = group.tensors();
            match self.kernel {
                AdamWKernel::Fused => ffi::fused_adamw(&tensors, scalars, &self.device_step),
                AdamWKernel::Foreach => ffi::foreach_adamw(&tensors, scalars, self.step),
            }
        }
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

/// The variables of one parameter group that received a gradient, with their moments.
#[derive(Default)]
struct Group {
    params: Vec<Tensor>,
    grads: Vec<Tensor>,
    exp_avgs: Vec<Tensor>,
    exp_avg_sqs: Vec<Tensor>,
}

impl Group {
    fn collect<'a>(states: impl Iterator<Item = &'a ParamState>) -> Self {
        let mut group = Self::default();
        for p in states {
            let grad = p.param.grad();
            if !grad.defined() {
                continue;
            }
            // Detached handles share storage, so the kernels update the variables themselves
            // without autograd recording the in-place ops on leaves.
            group.params.push(p.param.detach());
            group.grads.push(grad);
            group.exp_avgs.push(p.exp_avg.shallow_clone());
            group.exp_avg_sqs.push(p.exp_avg_sq.shallow_clone());
        }
        group
    }

    fn tensors(&self) -> AdamWTensors<'_> {
        AdamWTensors {
            params: &self.params,
            grads: &self.grads,
            exp_avgs: &self.exp_avgs,
            exp_avg_sqs: &self.exp_avg_sqs,
        }
    }
}
