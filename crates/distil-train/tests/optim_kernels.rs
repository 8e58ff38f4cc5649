//! The multi-tensor AdamW kernels (foreach, the CPU default; fused, the CUDA default, whose
//! CPU kernel libtorch also ships) against the per-tensor update `AdamW` ran before them (kept
//! here as the reference), on random parameters and gradients with weight decay and bias
//! correction, and a resume across a change of kernel through the saved state.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::HashMap;
use std::path::Path;

use distil_train::optim::AdamWKernel;
use distil_train::{AdamW, AdamWConfig};
use tch::{Device, Kind, Tensor};

const CFG: AdamWConfig = AdamWConfig {
    betas: (0.9, 0.98),
    eps: 1e-6,
    weight_decay: 0.01,
};
const STEPS: usize = 12;
const TOLERANCE: f64 = 1e-6;

/// The per-tensor AdamW of `torch.optim.AdamW(foreach=False)`, as `AdamW::step` computed it
/// before the multi-tensor kernels.
struct Reference {
    params: Vec<Tensor>,
    exp_avgs: Vec<Tensor>,
    exp_avg_sqs: Vec<Tensor>,
    step: i32,
}

impl Reference {
    fn new(init: &[Tensor]) -> Self {
        Self {
            params: init.iter().map(|t| t.copy()).collect(),
            exp_avgs: init.iter().map(Tensor::zeros_like).collect(),
            exp_avg_sqs: init.iter().map(Tensor::zeros_like).collect(),
            step: 0,
        }
    }

    /// `grads[i]` is `None` where parameter `i` received no gradient this step.
    fn step(&mut self, grads: &[Option<Tensor>], lr: f64) {
        self.step += 1;
        let (beta1, beta2) = CFG.betas;
        let bias_correction1 = 1.0 - beta1.powi(self.step);
        let bias_correction2_sqrt = (1.0 - beta2.powi(self.step)).sqrt();
        let step_size = lr / bias_correction1;
        for (i, grad) in grads.iter().enumerate() {
            let Some(grad) = grad else { continue };
            let p = &mut self.params[i];
            if p.dim() >= 2 {
                let _ = p.g_mul_scalar_(1.0 - lr * CFG.weight_decay);
            }
            let _ = self.exp_avgs[i].lerp_(grad, 1.0 - beta1);
            let _ = self.exp_avg_sqs[i].g_mul_scalar_(beta2);
            let _ = self.exp_avg_sqs[i].addcmul_(&(grad * (1.0 - beta2)), grad);
            let denom = (self.exp_avg_sqs[i].sqrt() / bias_correction2_sqrt) + CFG.eps;
            let _ = p.addcdiv_(&(&self.exp_avgs[i] * -step_size), &denom);
        }
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("p{i}")).collect()
}

/// Matrices (decayed), vectors and a scalar-like vector (not decayed), as in a transformer.
fn random_init() -> Vec<Tensor> {
    let opts = (Kind::Float, Device::Cpu);
    vec![
        Tensor::randn([16, 8], opts),
        Tensor::randn([8], opts),
        Tensor::randn([3, 5, 7], opts),
        Tensor::randn([1], opts),
        Tensor::randn([33, 2], opts),
    ]
}

/// Per step, a gradient for every parameter, except that parameter 3 has none over the first
/// two steps (`zero_grad` zeroes a gradient once it exists, so only a never-reached variable
/// lacks one).
fn random_grads(init: &[Tensor]) -> Vec<Vec<Option<Tensor>>> {
    (0..STEPS)
        .map(|step| {
            init.iter()
                .enumerate()
                .map(|(i, p)| (i != 3 || step >= 2).then(|| p.randn_like() * 0.1))
                .collect()
        })
        .collect()
}

fn lr(step: usize) -> f64 {
    1e-3 * (1.0 + step as f64) / STEPS as f64
}

fn leaves(init: &[Tensor]) -> Vec<Tensor> {
    init.iter()
        .map(|t| t.detach().copy().set_requires_grad(true))
        .collect()
}

fn optimizer(params: &[Tensor], kernel: AdamWKernel) -> AdamW {
    let named = names(params.len())
        .into_iter()
        .zip(params.iter().map(Tensor::shallow_clone))
        .collect();
    AdamW::from_named(named, CFG).with_kernel(kernel)
}

/// Gives each parameter exactly its gradient (d/dp sum(p * g) = g) and takes one step.
fn step(opt: &mut AdamW, params: &[Tensor], grads: &[Option<Tensor>], lr: f64) {
    let loss = params
        .iter()
        .zip(grads)
        .filter_map(|(p, g)| g.as_ref().map(|g| (p * g).sum(Kind::Float)))
        .reduce(|a, b| a + b)
        .unwrap();
    loss.backward();
    opt.step(lr);
    opt.zero_grad();
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn saved_state(opt: &AdamW, path: &Path) -> HashMap<String, Tensor> {
    opt.save(path).unwrap();
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn assert_matches_reference(kernel: AdamWKernel) {
    tch::manual_seed(11);
    let init = random_init();
    let grads = random_grads(&init);
    let mut reference = Reference::new(&init);
    let params = leaves(&init);
    let mut opt = optimizer(&params, kernel);
    assert_eq!(opt.kernel(), kernel);
    for (i, step_grads) in grads.iter().enumerate() {
        reference.step(step_grads, lr(i));
        step(&mut opt, &params, step_grads, lr(i));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = saved_state(&opt, &dir.path().join("optimizer.safetensors"));
    assert_eq!(state["step"].int64_value(&[0]), STEPS as i64);
    for (i, name) in names(params.len()).iter().enumerate() {
        let checks = [
            ("param", &params[i], &reference.params[i]),
            (
                "exp_avg",
                &state[&format!("exp_avg.{name}")],
                &reference.exp_avgs[i],
            ),
            (
                "exp_avg_sq",
                &state[&format!("exp_avg_sq.{name}")],
                &reference.exp_avg_sqs[i],
            ),
        ];
        for (what, got, want) in checks {
            let diff = max_diff(got, want);
            assert!(diff <= TOLERANCE, "{kernel:?} {what} of {name}: {diff}");
        }
    }
    // The parameters really moved, decayed and undecayed alike.
    for (p, p0) in params.iter().zip(&init) {
        assert!(max_diff(p, p0) > 1e-4);
    }
}

#[test]
fn foreach_update_equals_the_per_tensor_update() {
    assert_matches_reference(AdamWKernel::Foreach);
}

#[test]
fn fused_update_equals_the_per_tensor_update() {
    assert_matches_reference(AdamWKernel::Fused);
}

#[test]
fn the_device_picks_fused_on_cuda_and_foreach_elsewhere() {
    assert_eq!(AdamWKernel::for_device(Device::Cuda(0)), AdamWKernel::Fused);
    assert_eq!(AdamWKernel::for_device(Device::Cpu), AdamWKernel::Foreach);
    let params = leaves(&random_init());
    let named = names(params.len()).into_iter().zip(params).collect();
    assert_eq!(AdamW::from_named(named, CFG).kernel(), AdamWKernel::Foreach);
}

#[test]
fn a_run_resumes_across_a_change_of_kernel() {
    tch::manual_seed(5);
    let init = random_init();
    let grads = random_grads(&init);
    let half = STEPS / 2;

    let straight = leaves(&init);
    let mut opt = optimizer(&straight, AdamWKernel::Foreach);
    for (i, g) in grads.iter().enumerate() {
        step(&mut opt, &straight, g, lr(i));
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optimizer.safetensors");
    let first = leaves(&init);
    let mut foreach = optimizer(&first, AdamWKernel::Foreach);
    for (i, g) in grads[..half].iter().enumerate() {
        step(&mut foreach, &first, g, lr(i));
    }
    foreach.save(&path).unwrap();
    let resumed = leaves(&first);
    let mut fused = optimizer(&resumed, AdamWKernel::Fused);
    fused.load(&path).unwrap();
    assert_eq!(fused.step_count(), half as i64);
    for (i, g) in grads.iter().enumerate().skip(half) {
        step(&mut fused, &resumed, g, lr(i));
    }
    for (a, b) in straight.iter().zip(&resumed) {
        let diff = max_diff(a, b);
        assert!(diff <= TOLERANCE, "resumed under the fused kernel: {diff}");
    }
}
