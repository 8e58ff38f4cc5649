//! What libtorch sees on this machine, for `distil env`: the libtorch actually loaded, GPU
//! names, bf16 support, and a matmul checked against the CPU.

use tch::{Cuda, Device, Kind, Tensor};

/// The version of the libtorch actually loaded: tch has no version call, so read the
/// `version.py` that the torch wheel keeps beside the `lib` folder this process mapped.
pub fn libtorch_version() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let lib = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .map(std::path::PathBuf::from);
    let version = lib.as_ref().and_then(|lib| {
        let py = lib.parent()?.parent()?.join("version.py");
        let text = std::fs::read_to_string(py).ok()?;
        let line = text.lines().find(|l| l.starts_with("__version__"))?;
        Some(line.split(['\'', '"']).nth(1)?.to_string())
    });
    match (version, lib) {
        (Some(v), Some(lib)) => format!("{v} ({})", lib.display()),
        (None, Some(lib)) => format!("unknown ({})", lib.display()),
        _ => "unknown".to_string(),
    }
}

/// The name of GPU `index`, as `nvidia-smi` reports it.
pub fn gpu_name(index: usize) -> String {
    // tch exposes no device-properties call; nvidia-smi is the reliable source when present.
    std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name",
            "--format=csv,noheader",
            &format!("--id={index}"),
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "(name unavailable: nvidia-smi not found)".to_string())
}

/// Whether a bf16 matmul on `device` runs and gives the exact result.
pub fn bf16_works(device: Device) -> bool {
    let a = Tensor::ones([8, 8], (Kind::BFloat16, device));
    a.f_matmul(&a)
        .and_then(|p| p.f_sum(Kind::Float))
        .and_then(|s| s.f_double_value(&[]))
        .map(|v| (v - 512.0).abs() < 1e-3)
        .unwrap_or(false)
}

/// Multiplies two random 1024 x 1024 matrices on `device` and compares with the CPU result:
/// the seconds of the timed product and the largest absolute difference.
pub fn matmul_check(device: Device) -> anyhow::Result<(f64, f64)> {
    let a = Tensor::randn([1024, 1024], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([1024, 1024], (Kind::Float, Device::Cpu));
    let reference = a.matmul(&b);
    let (da, db) = (a.to_device(device), b.to_device(device));
    let _warm = da.matmul(&db);
    if let Device::Cuda(_) = device {
        Cuda::synchronize(0);
    }
    let start = std::time::Instant::now();
    let product = da.matmul(&db);
    if let Device::Cuda(i) = device {
        Cuda::synchronize(i as i64);
    }
    let seconds = start.elapsed().as_secs_f64();
    let err = (product.to_device(Device::Cpu) - reference)
        .abs()
        .max()
        .f_double_value(&[])?;
    Ok((seconds, err))
}
