//! The guard really switches libtorch's CPU autocast: inside it an fp32 matmul returns bf16,
//! outside fp32 again; guards nest and restore; fp16 on the CPU is refused. TF32 toggles.

#![allow(clippy::unwrap_used)] // tests fail loudly

use distil_amp::{set_tf32, tf32_enabled, AutocastDevice, AutocastDtype, AutocastGuard};
use tch::{Device, Kind, Tensor};

fn matmul_kind() -> Kind {
    let a = Tensor::ones([4, 8], (Kind::Float, Device::Cpu));
    let b = Tensor::ones([8, 3], (Kind::Float, Device::Cpu));
    a.matmul(&b).kind()
}

#[test]
fn cpu_matmul_runs_in_bf16_inside_the_guard_only() {
    assert_eq!(matmul_kind(), Kind::Float);
    {
        let _guard = AutocastGuard::enter(AutocastDevice::Cpu, AutocastDtype::BFloat16).unwrap();
        assert_eq!(matmul_kind(), Kind::BFloat16);
        // fp32-list ops stay fp32 and elementwise ops are untouched.
        let x = Tensor::ones([4], (Kind::Float, Device::Cpu));
        assert_eq!((&x + 1.0).kind(), Kind::Float);
        {
            let _inner =
                AutocastGuard::enter(AutocastDevice::Cpu, AutocastDtype::BFloat16).unwrap();
            assert_eq!(matmul_kind(), Kind::BFloat16);
        }
        assert_eq!(
            matmul_kind(),
            Kind::BFloat16,
            "the inner guard left autocast on"
        );
    }
    assert_eq!(matmul_kind(), Kind::Float);
}

#[test]
fn a_cuda_guard_leaves_cpu_ops_alone() {
    let _guard = AutocastGuard::enter(AutocastDevice::Cuda, AutocastDtype::BFloat16).unwrap();
    assert_eq!(matmul_kind(), Kind::Float);
}

#[test]
fn fp16_on_the_cpu_is_refused() {
    let err = AutocastGuard::enter(AutocastDevice::Cpu, AutocastDtype::Half)
        .err()
        .unwrap();
    assert!(err.to_string().contains("fp16"), "{err}");
    assert_eq!(matmul_kind(), Kind::Float);
}

#[test]
fn tf32_switches_on_and_off() {
    set_tf32(true).unwrap();
    assert_eq!(tf32_enabled().unwrap(), (true, true));
    set_tf32(false).unwrap();
    assert_eq!(tf32_enabled().unwrap(), (false, false));
}
