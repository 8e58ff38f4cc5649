//! Global-norm clipping on the device against the closed form and against the per-tensor
//! computation of `torch.nn.utils.clip_grad_norm_` (norms, their norm, one clamped factor).

#![allow(clippy::unwrap_used)] // tests fail loudly

use distil_train::optim::clip_grad_norm;
use tch::{Device, Kind, Tensor};

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn above_the_threshold_every_gradient_is_scaled_by_max_norm_over_the_norm() {
    // |(3, 4, 12)| = 13.
    let a = Tensor::from_slice(&[3f32, 4.0]);
    let b = Tensor::from_slice(&[12f32]).reshape([1, 1]);
    let norm = clip_grad_norm(&[a.shallow_clone(), b.shallow_clone()], 6.5);
    assert_eq!(norm.size(), Vec::<i64>::new(), "a 0-dim tensor");
    assert_eq!(norm.kind(), Kind::Float);
    assert_eq!(norm.device(), Device::Cpu);
    assert!((norm.double_value(&[]) - 13.0).abs() < 1e-6);
    let coef = 6.5 / (13.0 + 1e-6);
    for (got, want) in values(&a).iter().zip([3.0 * coef, 4.0 * coef]) {
        assert!((f64::from(*got) - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert!((f64::from(values(&b)[0]) - 12.0 * coef).abs() < 1e-6);
    assert_eq!(b.size(), [1, 1], "shapes are kept");
}

#[test]
fn below_the_threshold_nothing_changes() {
    let c = Tensor::from_slice(&[0.3f32, 0.4]);
    let norm = clip_grad_norm(&[c.shallow_clone()], 5.0);
    assert!((norm.double_value(&[]) - 0.5).abs() < 1e-7);
    assert!(c.equal(&Tensor::from_slice(&[0.3f32, 0.4])));
}

#[test]
fn no_gradients_give_a_zero_norm() {
    assert_eq!(clip_grad_norm(&[], 1.0).double_value(&[]), 0.0);
}

#[test]
fn random_gradients_match_clip_grad_norm_computed_tensor_by_tensor() {
    tch::manual_seed(3);
    let opts = (Kind::Float, Device::Cpu);
    let grads = [
        Tensor::randn([64, 32], opts),
        Tensor::randn([32], opts),
        Tensor::randn([4, 5, 6], opts) * 10.0,
    ];
    let want: Vec<Tensor> = grads.iter().map(Tensor::copy).collect();
    // clip_grad_norm_: stack the per-tensor norms, take their norm, clamp the factor at 1.
    let norms: Vec<Tensor> = want
        .iter()
        .map(|g| g.norm_scalaropt_dtype(2.0, Kind::Float))
        .collect();
    let total = Tensor::stack(&norms, 0).norm_scalaropt_dtype(2.0, Kind::Float);
    let max_norm = 1.0;
    let coef = ((&total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
    let want: Vec<Tensor> = want.iter().map(|g| g * &coef).collect();

    let got_norm = clip_grad_norm(&grads, max_norm);
    assert!((got_norm.double_value(&[]) - total.double_value(&[])).abs() < 1e-4);
    assert!(got_norm.double_value(&[]) > max_norm, "this case clips");
    for (got, want) in grads.iter().zip(&want) {
        let diff = (got - want).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
    }
    // The clipped gradients now have the global norm max_norm (up to the 1e-6 guard).
    let after: f64 = grads
        .iter()
        .map(|g| g.square().sum(Kind::Double).double_value(&[]))
        .sum::<f64>()
        .sqrt();
    assert!((after - max_norm).abs() < 1e-5, "{after}");
}
