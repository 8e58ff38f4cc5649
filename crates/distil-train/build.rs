//! Compiles the optimizer shim (libtorch's `_foreach_*` and `_fused_adamw_` kernels, which tch
//! 0.24 does not bind) against the headers of the libtorch that torch-sys links. The kernels
//! are registered by libtorch itself, so the shim needs no CUDA headers: the same object
//! dispatches to the CPU or CUDA implementation at run time.

use std::env;
use std::path::Path;

const SHIM: &str = "shim/optim_shim.cpp";

fn main() {
    println!("cargo:rerun-if-changed={SHIM}");
    let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report its libtorch directory (DEP_TCH_LIBTORCH_LIB)");
    };
    let include = Path::new(&lib).join("..").join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .include(&include)
        .file(SHIM)
        .compile("distil_optim_shim");
}
