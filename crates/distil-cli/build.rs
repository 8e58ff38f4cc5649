//! Link flags for the `distil` binary.
//!
//! `--no-as-needed` keeps `libtorch_cuda.so` linked although no symbol of it is referenced
//! directly; without it libtorch never registers its CUDA backend and
//! `tch::Cuda::is_available()` is false even on a GPU machine (tch-rs issue #980).
//! When the torch wheel is found, its `lib` folder is also recorded as a run path so the
//! binary starts without `LD_LIBRARY_PATH`; `LD_LIBRARY_PATH` still wins (for example on a
//! GPU machine whose image has its own torch).

use std::process::Command;

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch_cuda");
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=DISTIL_VENV");
    if let Some(lib) = torch_lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}

fn torch_lib_dir() -> Option<String> {
    if let Ok(root) = std::env::var("LIBTORCH") {
        return Some(format!("{root}/lib"));
    }
    let python = std::env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args([
            "-c",
            "import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
