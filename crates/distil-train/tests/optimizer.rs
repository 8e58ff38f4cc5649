//! AdamW against torch.optim.AdamW (fixture from scripts/make_loss_fixtures.py), exact resume
//! of its state, the schedule, clipping, accumulation and the fp16 loss scale.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use common::reference_fixture;

use distil_train::optim::reference_total_steps;
use distil_train::{AdamW, AdamWConfig, GradAccumulation, LinearWarmupDecay, LossScaler};
use tch::{Device, Kind, Tensor};

fn leaf(t: &Tensor) -> Tensor {
    t.detach().copy().set_requires_grad(true)
}

/// Sets each parameter's gradient to exactly `grad` (d/dp sum(p * g) = g).
fn set_grads(pairs: &[(&Tensor, &Tensor)]) {
    let loss = pairs
        .iter()
        .map(|(p, g)| (*p * *g).sum(Kind::Float))
        .reduce(|a, b| a + b)
        .unwrap();
    loss.backward();
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn adamw_matches_torch_for_several_steps_with_decay_on_matrices_only() {
    let (t, s) = reference_fixture("losses");
    let cfg = AdamWConfig {
        betas: (
            s["adamw_betas"][0].as_f64().unwrap(),
            s["adamw_betas"][1].as_f64().unwrap(),
        ),
        eps: s["adamw_eps"].as_f64().unwrap(),
        weight_decay: s["adamw_weight_decay"].as_f64().unwrap(),
    };
    let weight = leaf(&t["adamw_init_weight"]);
    let bias = leaf(&t["adamw_init_bias"]);
    let mut opt = AdamW::from_named(
        vec![
            ("bias".into(), bias.shallow_clone()),
            ("weight".into(), weight.shallow_clone()),
        ],
        cfg,
    );
    let lrs = s["adamw_lrs"].as_array().unwrap();
    for (step, lr) in lrs.iter().enumerate() {
        set_grads(&[
            (&weight, &t[&format!("adamw_grad_weight_{step}")]),
            (&bias, &t[&format!("adamw_grad_bias_{step}")]),
        ]);
        opt.step(lr.as_f64().unwrap());
        opt.zero_grad();
        let dw = max_diff(&weight, &t[&format!("adamw_weight_{step}")]);
        let db = max_diff(&bias, &t[&format!("adamw_bias_{step}")]);
        assert!(
            dw <= 1e-6 && db <= 1e-6,
            "step {step}: weight {dw}, bias {db}"
        );
    }
    assert_eq!(opt.step_count(), lrs.len() as i64);
}

fn run_steps(opt: &mut AdamW, params: &[Tensor], grads: &[Vec<Tensor>], lr: f64) {
    for step_grads in grads {
        let pairs: Vec<(&Tensor, &Tensor)> = params.iter().zip(step_grads).collect();
        set_grads(&pairs);
        opt.step(lr);
        opt.zero_grad();
    }
}

#[test]
fn saved_optimizer_state_continues_bit_identically() {
    tch::manual_seed(7);
    let init = [
        Tensor::randn([5, 4], (Kind::Float, Device::Cpu)),
        Tensor::randn([4], (Kind::Float, Device::Cpu)),
    ];
    let grads: Vec<Vec<Tensor>> = (0..6)
        .map(|_| init.iter().map(Tensor::randn_like).collect())
        .collect();
    let cfg = AdamWConfig {
        betas: (0.9, 0.98),
        eps: 1e-6,
        weight_decay: 0.01,
    };
    let named = |params: &[Tensor]| {
        vec![
            ("a".to_string(), params[0].shallow_clone()),
            ("b".to_string(), params[1].shallow_clone()),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("optimizer.safetensors");

    let straight: Vec<Tensor> = init.iter().map(leaf).collect();
    let mut opt = AdamW::from_named(named(&straight), cfg);
    run_steps(&mut opt, &straight, &grads[..3], 1e-2);
    opt.save(&state_path).unwrap();
    let saved_params: Vec<Tensor> = straight.iter().map(|p| p.detach().copy()).collect();
    run_steps(&mut opt, &straight, &grads[3..], 1e-2);

    let resumed: Vec<Tensor> = saved_params.iter().map(leaf).collect();
    let mut opt2 = AdamW::from_named(named(&resumed), cfg);
    opt2.load(&state_path).unwrap();
    assert_eq!(opt2.step_count(), 3);
    run_steps(&mut opt2, &resumed, &grads[3..], 1e-2);
    for (a, b) in straight.iter().zip(&resumed) {
        assert!(a.equal(b), "resumed parameters differ");
    }

    // A state that does not fit the model names the missing variable.
    let other = vec![("c".to_string(), leaf(&init[1]))];
    let err = AdamW::from_named(other, cfg)
        .load(&state_path)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("exp_avg.c"), "{err}");
}

#[test]
fn schedule_warms_up_then_decays_linearly_to_zero() {
    let s = LinearWarmupDecay::new(5e-4, 100, 0.05);
    assert_eq!(s.warmup_steps, 5);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
    assert_eq!(s.lr(0), 0.0, "LambdaLR starts at factor 0");
    assert!(close(s.lr(1), 1e-4));
    assert!(close(s.lr(5), 5e-4));
    assert!(close(s.lr(50), 5e-4 * 50.0 / 95.0));
    assert_eq!(s.lr(100), 0.0);
    assert_eq!(s.lr(150), 0.0);
    // ceil: 0.05 * 30 = 1.5 -> 2 warmup steps.
    assert_eq!(LinearWarmupDecay::new(1.0, 30, 0.05).warmup_steps, 2);
    // No warmup: the first step runs at the peak.
    assert_eq!(LinearWarmupDecay::new(1.0, 10, 0.0).lr(0), 1.0);
    // train.py: int(len(dataloader) / accumulation * epochs) + 1.
    assert_eq!(reference_total_steps(1000, 50, 3), 61);
    assert_eq!(reference_total_steps(1001, 50, 3), 61);
}

#[test]
fn global_norm_clipping_matches_the_closed_form() {
    let a = Tensor::from_slice(&[3f32, 4.0]);
    let b = Tensor::from_slice(&[12f32]);
    let norm = distil_train::optim::clip_grad_norm(&[a.shallow_clone(), b.shallow_clone()], 6.5);
    assert!((norm.double_value(&[]) - 13.0).abs() < 1e-6);
    let coef = 6.5 / (13.0 + 1e-6);
    let want_a = [3.0 * coef, 4.0 * coef];
    for (i, w) in want_a.iter().enumerate() {
        assert!((a.double_value(&[i as i64]) - w).abs() < 1e-6);
    }
    assert!((b.double_value(&[0]) - 12.0 * coef).abs() < 1e-6);
    // Below the threshold nothing changes.
    let c = Tensor::from_slice(&[0.3f32, 0.4]);
    let norm = distil_train::optim::clip_grad_norm(&[c.shallow_clone()], 5.0);
    assert!((norm.double_value(&[]) - 0.5).abs() < 1e-7);
    assert!(c.equal(&Tensor::from_slice(&[0.3f32, 0.4])));
}

#[test]
fn accumulation_steps_every_n_micro_batches() {
    let mut acc = GradAccumulation::new(3);
    assert!((acc.loss_factor() - 1.0 / 3.0).abs() < 1e-15);
    let due: Vec<bool> = (0..7).map(|_| acc.micro_batch_done()).collect();
    assert_eq!(due, [false, false, true, false, false, true, false]);
    assert_eq!(acc.pending(), 1);
}

#[test]
fn loss_scaler_unscales_skips_overflow_and_backs_off() {
    let mut scaler = LossScaler::new(Device::Cpu);
    assert_eq!(scaler.state().scale, 65536.0);
    let loss = Tensor::from(2f32);
    assert_eq!(scaler.scale(&loss).double_value(&[]), 131072.0);

    let g = Tensor::from_slice(&[65536f32, -131072.0]);
    scaler.unscale(&[g.shallow_clone()]);
    assert!(scaler.grads_finite());
    assert!(g.equal(&Tensor::from_slice(&[1f32, -2.0])));
    scaler.update();
    assert_eq!(scaler.state().growth_tracker, 1);

    let bad = Tensor::from_slice(&[f32::INFINITY, 1.0]);
    scaler.unscale(&[bad]);
    assert!(!scaler.grads_finite());
    scaler.update();
    assert_eq!(scaler.state().scale, 32768.0);
    assert_eq!(scaler.state().growth_tracker, 0);
}
