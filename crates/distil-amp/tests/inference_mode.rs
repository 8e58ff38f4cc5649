//! The guard really switches libtorch's inference mode: tensors made inside it are inference
//! tensors with no grad, tensors made outside are not, and nested guards restore the outer
//! state.

#![allow(clippy::unwrap_used)] // tests fail loudly

use distil_amp::InferenceModeGuard;
use tch::{Device, Kind, Tensor};

fn fresh() -> Tensor {
    Tensor::ones([2, 3], (Kind::Float, Device::Cpu)) * 2.0
}

#[test]
fn tensors_made_inside_the_guard_are_inference_tensors() {
    assert!(!fresh().is_inference());
    let weight = Tensor::ones([3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    {
        let _guard = InferenceModeGuard::enter().unwrap();
        let made = fresh();
        assert!(made.is_inference());
        // Grad mode is off too: an op on a trainable weight records no graph.
        assert!(!(&made * &weight).requires_grad());
        {
            let _inner = InferenceModeGuard::enter().unwrap();
            assert!(fresh().is_inference());
        }
        assert!(
            fresh().is_inference(),
            "the inner guard left inference mode"
        );
    }
    assert!(!fresh().is_inference());
    assert!(
        (fresh() * &weight).requires_grad(),
        "grad mode was not restored"
    );
}
