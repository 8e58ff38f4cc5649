//! `distil env`: what libtorch sees on this machine, and a matmul on the chosen device.

use anyhow::Context;
use distil_experiments::environment::{bf16_works, gpu_name, libtorch_version, matmul_check};
use tch::{Cuda, Device};

use crate::cli::GlobalOpts;

pub fn run(global: &GlobalOpts) -> anyhow::Result<()> {
    let cuda = Cuda::is_available();
    let gpus = if cuda { Cuda::device_count() } else { 0 };
    println!("distil            {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch          {}", libtorch_version());
    println!("cuda available    {cuda}");
    println!("cudnn available   {}", Cuda::cudnn_is_available());
    println!("gpu count         {gpus}");
    for index in 0..gpus {
        let device = Device::Cuda(index as usize);
        println!(
            "gpu {index}             {} (bf16: {})",
            gpu_name(index as usize),
            bf16_works(device)
        );
    }
    println!("cpu bf16          {}", bf16_works(Device::Cpu));
    println!("threads           {}", tch::get_num_threads());
    let cuda_headers = distil_amp::CUDA_HEADER_DIRS;
    if cuda_headers.is_empty() {
        println!("cuda headers      none (this build has no CUDA path)");
    }
    for dir in cuda_headers.split(';').filter(|d| !d.is_empty()) {
        println!("cuda headers      {}", header_package(dir));
    }
    println!(
        "gloo headers      {}",
        std::path::Path::new(distil_distributed::GLOO_INCLUDE_DIR)
            .join("gloo")
            .display()
    );
    let device = global.device.resolve().context("resolving --device")?;
    let (seconds, check) = matmul_check(device)?;
    println!(
        "matmul 1024x1024  {device:?}: {:.2} ms, max |err| {check:.2e}",
        seconds * 1e3
    );
    Ok(())
}

/// A header folder as the package that installed it: `nvidia/cu13 (…/include)` for a wheel's
/// folder, which holds the runtime, crt and cccl headers of that CUDA release.
fn header_package(dir: &str) -> String {
    let path = std::path::Path::new(dir);
    let package = path
        .parent()
        .and_then(|p| Some((p.parent()?.file_name()?, p.file_name()?)))
        .filter(|(parent, _)| *parent == "nvidia")
        .map(|(_, name)| format!("nvidia/{}", name.to_string_lossy()));
    match package {
        Some(package) => {
            let parts: Vec<&str> = [("crt/host_config.h", "crt"), ("nv/target", "cccl")]
                .iter()
                .filter(|(header, _)| path.join(header).exists())
                .map(|(_, part)| *part)
                .collect();
            format!("{package} [runtime, {}] ({dir})", parts.join(", "))
        }
        None => dir.to_string(),
    }
}
