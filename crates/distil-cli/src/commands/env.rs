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
    let device = global.device.resolve().context("resolving --device")?;
    let (seconds, check) = matmul_check(device)?;
    println!(
        "matmul 1024x1024  {device:?}: {:.2} ms, max |err| {check:.2e}",
        seconds * 1e3
    );
    Ok(())
}
